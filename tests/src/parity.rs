//! Parity checks against a fixture suite made by real Keras (see tests/fixtures): layer
//! names, classes, shapes and counts; summary text for every captured argument set and
//! terminal width; get_layer results and errors; predict within tolerance.

use crate::{allclose, json, model_dirs, model_file, Failures};
use kiln::SummaryOptions;
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use kiln_host::HostGraph;
use serde_json::Value;
use std::path::Path;

/// Loads a fixture's model; a failure is recorded and `None` returned.
fn load(dir: &Path, failures: &mut Failures) -> Option<HostGraph> {
    match load_model(model_file(dir)) {
        Ok(m) => Some(m),
        Err(e) => {
            failures.push(format!("{}: {e}", dir.display()));
            None
        }
    }
}

fn shape_json(shape: &kiln::Shape) -> Value {
    Value::Array(
        shape
            .dims()
            .iter()
            .map(|d| d.map_or(Value::Null, Value::from))
            .collect(),
    )
}

/// Compares kiln's layers (and nested layers) with `layers.json`.
fn compare_layers(
    dir: &Path,
    graph: &kiln_host::HostModel<'_>,
    ids: &[u16],
    expected: &[Value],
    failures: &mut Failures,
    checked: &mut usize,
) {
    if ids.len() != expected.len() {
        let names: Vec<&str> = ids
            .iter()
            .map(|&i| graph.layer(i).unwrap().name.as_str())
            .collect();
        failures.push(format!(
            "{}: layers {names:?}, Keras has {} layers",
            dir.display(),
            expected.len()
        ));
        return;
    }
    for (&id, want) in ids.iter().zip(expected) {
        *checked += 1;
        let layer = graph.layer(id).unwrap();
        let shape = if graph.kind() == kiln::ModelKind::Subclassed && !layer.kind.has_build() {
            Value::Null
        } else {
            graph
                .last_node(id)
                .map_or(Value::Null, |n| shape_json(&n.shape))
        };
        let got = (
            layer.name.as_str(),
            layer.class_name(),
            shape,
            graph.layer_param_count(id).map_or(Value::Null, Value::from),
            layer.trainable,
        );
        let want_t = (
            want["name"].as_str().unwrap(),
            want["class_name"].as_str().unwrap(),
            want["output_shape"].clone(),
            want["count_params"].clone(),
            want["trainable"].as_bool().unwrap(),
        );
        if got != want_t {
            failures.push(format!(
                "{}: layer {id}: got {got:?}, Keras {want_t:?}",
                dir.display()
            ));
        }
        if let Some(inner) = want.get("layers").and_then(Value::as_array) {
            let nested: Vec<u16> = graph.nested_layers(id).collect();
            compare_layers(dir, graph, &nested, inner, failures, checked);
        }
    }
}

pub fn layers_match_keras(suite: &str) {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(suite) {
        let Some(model) = load(&dir, &mut failures) else {
            continue;
        };
        let graph = model.structure();
        let expected = json(&dir.join("layers.json"));
        let ids: Vec<u16> = graph.visible_layers().collect();
        compare_layers(
            &dir,
            graph,
            &ids,
            expected.as_array().expect("layers.json is a list"),
            &mut failures,
            &mut checked,
        );
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

/// Runs every summary case of a model directory against `graph`.
pub fn check_summary_cases<S: kiln::Storage>(
    dir: &Path,
    graph: &kiln::Graph<'_, S>,
    failures: &mut Failures,
    checked: &mut usize,
) {
    let cases = json(&dir.join("summary/cases.json"));
    for case in cases.as_array().unwrap() {
        for columns in case["columns"].as_array().unwrap() {
            let columns = columns.as_u64().unwrap() as usize;
            let mut positions = Vec::new();
            let Some(opts) = options(&case["args"], &mut positions, columns) else {
                continue;
            };
            *checked += 1;
            let mut text = String::new();
            let result = graph.summary(&opts, &mut |line| {
                text.push_str(&line.to_string());
                text.push('\n');
            });
            let label = format!("{} {} COLUMNS={columns}", dir.display(), case["args"]);
            match (result, case.get("file"), case.get("error")) {
                (Ok(()), Some(file), _) => {
                    let path = dir.join("summary").join(file.as_str().unwrap());
                    let want = std::fs::read_to_string(&path).unwrap();
                    if text != want {
                        failures.push(format!(
                            "{label}: summary differs from {}\n--- kiln\n{text}--- keras\n{want}",
                            path.display()
                        ));
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

pub fn summary_matches_keras_text(suite: &str) {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(suite) {
        let Some(model) = load(&dir, &mut failures) else {
            continue;
        };
        check_summary_cases(&dir, model.structure(), &mut failures, &mut checked);
    }
    failures.check(checked);
}

pub fn get_layer_matches_keras(suite: &str) {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(suite) {
        let Some(model) = load(&dir, &mut failures) else {
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

/// `x.npy`/`y.npy` for one input and output, else `x0.npy, x1.npy…` / `y0.npy…`.
pub fn arrays(dir: &Path, prefix: &str) -> Vec<npy::NpyArray> {
    let single = dir.join(format!("{prefix}.npy"));
    if single.exists() {
        return vec![npy::read_f32(single).unwrap()];
    }
    (0..)
        .map(|i| dir.join(format!("{prefix}{i}.npy")))
        .take_while(|p| p.exists())
        .map(|p| npy::read_f32(p).unwrap())
        .collect()
}

pub fn predict_matches_keras(suite: &str) {
    let mut failures = Failures::default();
    let mut checked = 0;
    for dir in model_dirs(suite) {
        let xs = arrays(&dir, "x");
        let ys = arrays(&dir, "y");
        if ys.is_empty() {
            continue;
        }
        checked += 1;
        let Some(model) = load(&dir, &mut failures) else {
            continue;
        };
        let graph = model.graph().unwrap();
        let shapes: Vec<kiln::Shape> = xs
            .iter()
            .map(|x| {
                kiln::Shape::new(&x.shape.iter().map(|&d| Some(d as u32)).collect::<Vec<_>>())
                    .unwrap()
            })
            .collect();
        let plan = match graph.plan(Some(&shapes)) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: plan failed: {e}", dir.display()));
                continue;
            }
        };
        let mut arena = vec![0u8; plan.arena_bytes()];
        let mut outs: Vec<Vec<f32>> = ys.iter().map(|y| vec![f32::NAN; y.data.len()]).collect();
        let inputs: Vec<&[f32]> = xs.iter().map(|x| x.data.as_slice()).collect();
        let mut out_slices: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        if let Err(e) =
            graph.predict_with_shapes(Some(&shapes), &inputs, &mut out_slices, &mut arena)
        {
            failures.push(format!("{}: predict failed: {e}", dir.display()));
            continue;
        }
        for (j, (out, y)) in outs.iter().zip(&ys).enumerate() {
            let row = y.shape.iter().skip(1).product();
            if let Err(e) = allclose(out, &y.data, row) {
                failures.push(format!("{}: output {j}: {e}", dir.display()));
            }
        }
    }
    failures.check(checked);
}
