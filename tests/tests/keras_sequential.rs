//! Parity with real Keras 3 on the Sequential fixtures (tests/fixtures/generate.py):
//! layer names and shapes, summary text for every captured argument set, get_layer results
//! and errors, and predict within rtol 1e-5 / atol 1e-6.

use kiln::SummaryOptions;
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use kiln_tests::{allclose, json, model_dirs, model_file, Failures};
use serde_json::Value;

const SUITE: &str = "sequential";

#[test]
fn layers_match_keras() {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(SUITE) {
        let model = match load_model(model_file(&dir)) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let graph = model.structure();
        let expected = json(&dir.join("layers.json"));
        let layers: Vec<_> = graph.visible_layers().collect();
        let expected = expected.as_array().expect("layers.json is a list");
        if layers.len() != expected.len() {
            failures.push(format!(
                "{}: {} layers, Keras has {}",
                dir.display(),
                layers.len(),
                expected.len()
            ));
            continue;
        }
        for (&id, want) in layers.iter().zip(expected) {
            checked += 1;
            let layer = graph.layer(id).unwrap();
            let shape = graph.last_node(id).map(|n| {
                Value::Array(
                    n.shape
                        .dims()
                        .iter()
                        .map(|d| d.map_or(Value::Null, Value::from))
                        .collect(),
                )
            });
            let got = (
                layer.name.as_str(),
                layer.class_name(),
                shape.unwrap_or(Value::Null),
                graph.layer_param_count(id).map_or(Value::Null, Value::from),
                layer.trainable,
            );
            let want = (
                want["name"].as_str().unwrap(),
                want["class_name"].as_str().unwrap(),
                want["output_shape"].clone(),
                want["count_params"].clone(),
                want["trainable"].as_bool().unwrap(),
            );
            if got != want {
                failures.push(format!(
                    "{}: layer {id}: got {got:?}, Keras {want:?}",
                    dir.display()
                ));
            }
        }
    }
    failures.check(checked);
}

/// The summary options a fixture case asks for, or `None` when the case passes arguments
/// Rust's types rule out (a layer_range that is not two strings).
fn options<'a>(
    args: &'a Value,
    positions: &'a mut Vec<f64>,
    columns: usize,
) -> Option<SummaryOptions<'a>> {
    let mut o = SummaryOptions {
        terminal_columns: columns,
        ..Default::default()
    };
    if let Some(l) = args.get("line_length") {
        o.line_length = Some(l.as_u64()? as usize);
    }
    if let Some(p) = args.get("positions") {
        *positions = p
            .as_array()?
            .iter()
            .map(|v| v.as_f64())
            .collect::<Option<_>>()?;
        o.positions = Some(positions.as_slice());
    }
    o.show_trainable = args
        .get("show_trainable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    o.expand_nested = args
        .get("expand_nested")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(r) = args.get("layer_range") {
        match r.as_array()?.as_slice() {
            [Value::String(a), Value::String(b)] => o.layer_range = Some([a.as_str(), b.as_str()]),
            _ => return None,
        }
    }
    Some(o)
}

#[test]
fn summary_matches_keras_text() {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(SUITE) {
        let Ok(model) = load_model(model_file(&dir)) else {
            continue;
        };
        let cases = json(&dir.join("summary/cases.json"));
        for case in cases.as_array().unwrap() {
            for columns in case["columns"].as_array().unwrap() {
                let columns = columns.as_u64().unwrap() as usize;
                let mut positions = Vec::new();
                let Some(opts) = options(&case["args"], &mut positions, columns) else {
                    continue;
                };
                checked += 1;
                let mut text = String::new();
                let result = model.structure().summary(&opts, &mut |line| {
                    text.push_str(&line.to_string());
                    text.push('\n');
                });
                let label = format!("{} {} COLUMNS={columns}", dir.display(), case["args"]);
                match (result, case.get("file"), case.get("error")) {
                    (Ok(()), Some(file), _) => {
                        let path = dir.join("summary").join(file.as_str().unwrap());
                        let want = std::fs::read_to_string(&path).unwrap();
                        if text != want {
                            failures.push(format!("{label}: summary differs from {}\n--- kiln\n{text}--- keras\n{want}", path.display()));
                        }
                    }
                    (Err(e), None, Some(error)) => {
                        let want = error.as_str().unwrap();
                        let got = format!("ValueError: {e}");
                        if got != want {
                            failures.push(format!("{label}: error {got:?}, Keras {want:?}"));
                        }
                    }
                    (Ok(()), None, Some(error)) => {
                        failures.push(format!("{label}: printed a table, Keras raised {error}"))
                    }
                    (Err(e), _, _) => failures.push(format!("{label}: kiln error {e}")),
                    (Ok(()), None, None) => {
                        failures.push(format!("{label}: case has neither file nor error"))
                    }
                }
            }
        }
    }
    failures.check(checked);
}

#[test]
fn get_layer_matches_keras() {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(SUITE) {
        let Ok(model) = load_model(model_file(&dir)) else {
            continue;
        };
        let graph = model.structure();
        for case in json(&dir.join("get_layer.json")).as_array().unwrap() {
            checked += 1;
            let name = case["name"].as_str();
            let index = case["index"].as_i64().map(|i| i as isize);
            let got = match graph.get_layer(name, index) {
                Ok((_, layer)) => Ok(layer.name.to_string()),
                Err(e) => Err(format!("{}: {e}", e.python_type())),
            };
            let want = match (case.get("result"), case.get("error")) {
                (Some(r), _) => Ok(r.as_str().unwrap().to_string()),
                (_, Some(e)) => Err(e.as_str().unwrap().to_string()),
                _ => panic!("bad case {case}"),
            };
            if got != want {
                failures.push(format!(
                    "{}: get_layer(name={name:?}, index={index:?}): got {got:?}, Keras {want:?}",
                    dir.display()
                ));
            }
        }
    }
    failures.check(checked);
}

#[test]
fn predict_matches_keras() {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(SUITE) {
        if !dir.join("y.npy").exists() {
            continue;
        }
        checked += 1;
        let model = load_model(model_file(&dir)).unwrap_or_else(|e| panic!("{e}"));
        let graph = model.graph().unwrap();
        let x = npy::read_f32(dir.join("x.npy")).unwrap();
        let y = npy::read_f32(dir.join("y.npy")).unwrap();
        let shape =
            kiln::Shape::new(&x.shape.iter().map(|&d| Some(d as u32)).collect::<Vec<_>>()).unwrap();
        let plan = graph.plan(Some(&[shape])).unwrap();
        let mut arena = vec![0u8; plan.arena_bytes()];
        let mut out = vec![f32::NAN; y.data.len()];
        if let Err(e) =
            graph.predict_with_shapes(Some(&[shape]), &[&x.data], &mut [&mut out], &mut arena)
        {
            failures.push(format!("{}: predict failed: {e}", dir.display()));
            continue;
        }
        let row = y.shape.iter().skip(1).product();
        if let Err(e) = allclose(&out, &y.data, row) {
            failures.push(format!("{}: {e}", dir.display()));
        }
    }
    failures.check(checked);
}
