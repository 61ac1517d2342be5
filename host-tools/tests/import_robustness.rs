//! Mutated model configs must give a model or a clean error, never a panic: every number,
//! string, boolean and list in each fixture's config is replaced in turn with hostile
//! values, and the result is imported, summarised, planned and (when it plans) run.

use kiln::SummaryOptions;
use kiln_host::import::import;
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Paths (as JSON pointers) of every scalar or list in `v`.
fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            out.push(here.clone());
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{here}/{i}"), out);
            }
        }
        _ => out.push(here),
    }
}

fn hostile() -> Vec<Value> {
    vec![
        json!(null),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(4294967295u64),
        json!("same"),
        json!([0, 0]),
        json!({}),
    ]
}

/// Imports, summarises, plans and runs one config; `Err` only for a panic.
fn exercise(config: &Value) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| {
        let Ok(model) = import(config, None) else {
            return;
        };
        let graph = model.structure();
        for line_length in [None, Some(40)] {
            let options = SummaryOptions {
                line_length,
                show_trainable: true,
                ..Default::default()
            };
            let _ = graph.summary(&options, &mut |line| {
                let _ = line.to_string();
            });
        }
        let _ = graph.get_layer(Some("dense"), None);
        let _ = graph.get_layer(None, Some(-100));
        if let Ok(plan) = graph.plan(None) {
            // Only run models small enough to run here.
            if plan.arena_bytes() < 1 << 24 && graph.count_params() < 1 << 22 {
                let weights = vec![0.5f32; graph.count_params()];
                let mut g = graph.clone();
                if g.set_weights(&weights).is_ok() {
                    let shapes = g.sample_shapes(None).unwrap();
                    let x = vec![
                        0.25f32;
                        shapes[g.input_nodes()[0] as usize]
                            .sample_elements()
                            .unwrap()
                    ];
                    let mut y = vec![
                        0.0f32;
                        shapes[g.output_nodes()[0] as usize]
                            .sample_elements()
                            .unwrap()
                    ];
                    let mut arena = vec![0u8; plan.arena_bytes()];
                    let _ = g.predict(&[&x], &mut [&mut y], &mut arena);
                }
            }
        }
    }))
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn mutated_configs_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sequential");
    let mut panics = Vec::new();
    let mut runs = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path().join("model.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let config: Value = serde_json::from_str(&text).unwrap();
        let mut paths = Vec::new();
        pointers(&config, String::new(), &mut paths);
        // What kiln reads: the model's name and build shape, each layer's class and the
        // fields of its config (not the initializer/regularizer/constraint sub-configs,
        // which kiln ignores).
        let read_by_kiln = |p: &String| {
            let parts: Vec<&str> = p.split('/').collect();
            match parts.as_slice() {
                ["", "config", "name" | "build_input_shape" | "layers", ..] if parts.len() <= 4 => {
                    true
                }
                ["", "config", "layers", _, "class_name"] => true,
                ["", "config", "layers", _, "config", field] => {
                    !["initializer", "regularizer", "constraint"]
                        .iter()
                        .any(|w| field.contains(w))
                }
                ["", "config", "layers", _, "config", field, _] => [
                    "batch_shape",
                    "kernel_size",
                    "strides",
                    "pool_size",
                    "dilation_rate",
                    "target_shape",
                ]
                .contains(field),
                _ => false,
            }
        };
        for pointer in paths.into_iter().filter(read_by_kiln) {
            for value in hostile() {
                let mut mutated = config.clone();
                *mutated.pointer_mut(&pointer).unwrap() = value.clone();
                runs += 1;
                if let Err(message) = exercise(&mutated) {
                    panics.push(format!("{} {pointer} = {value}: {message}", path.display()));
                }
            }
        }
    }
    eprintln!("{runs} mutations");
    assert!(runs > 1000, "only {runs} mutations: fixtures missing?");
    assert!(
        panics.is_empty(),
        "{} of {runs} mutations panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

/// Found by fuzzing `import_config`: a Sequential whose first layer is named like the
/// InputLayer its build adds. Keras refuses it with this message; kiln used to import it
/// and write a blob it then refused to load.
#[test]
fn a_layer_named_like_the_automatic_input_layer_is_refused_as_keras_does() {
    let config = json!({
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [{
                "class_name": "Activation",
                "config": {"name": "input_layer", "activation": "relu"}
            }],
            "build_input_shape": [null, 3]
        }
    });
    let Err(err) = import(&config, None) else {
        panic!("imported a model Keras refuses");
    };
    assert!(
        err.to_string()
            .contains("The name \"input_layer\" is used 2 times in the model."),
        "{err}"
    );
}
