//! Whole models: Sequential and Functional configs, nesting, inbound nodes.

use super::layers::{layer_name, layer_spec, shape_from_json};
use super::weights::{read_weights, WeightSource};
use super::ImportError;
use crate::model::{HostGraph, HostModel};
use kiln::graph::LayerKind;
use kiln::{Heap, Sequential};
use serde_json::{Map, Value};

pub(super) type Model = HostModel<'static>;

fn kiln_err(layer: &str) -> impl FnOnce(kiln::Error) -> ImportError + '_ {
    move |error| ImportError::Kiln {
        layer: layer.to_string(),
        error: Box::new(error),
    }
}

/// Imports a model config; weights are read from `weights` when given.
pub fn import(
    config: &Value,
    weights: Option<&(dyn WeightSource + Sync)>,
) -> Result<HostGraph, ImportError> {
    import_graph_and_weights(config, weights)
}

fn import_graph_and_weights(
    config: &Value,
    weights: Option<&(dyn WeightSource + Sync)>,
) -> Result<HostGraph, ImportError> {
    let graph = import_graph(config)?;
    let flat = match weights {
        Some(source) => read_weights(&graph, source)?,
        None => Vec::new(),
    };
    Ok(HostGraph::new(graph, flat))
}

/// A model config (`{"class_name": …, "config": …}`) to a graph without weights.
fn import_graph(config: &Value) -> Result<Model, ImportError> {
    let class = config
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::NotAModel("no 'class_name'".into()))?;
    let body = config
        .get("config")
        .and_then(Value::as_object)
        .ok_or_else(|| ImportError::NotAModel("no 'config' object".into()))?;
    let mut graph = match class {
        "Sequential" => import_sequential(body)?,
        "Functional" | "Model" if body.contains_key("input_layers") => import_functional(body)?,
        other => {
            return Err(ImportError::UnsupportedModel {
                class: other.to_string(),
            })
        }
    };
    if body.get("trainable").and_then(Value::as_bool) == Some(false) {
        for id in 0..graph.all_layers().len() as u16 {
            graph.set_trainable(id, false);
        }
    }
    Ok(graph)
}

fn is_model_class(class: &str) -> bool {
    matches!(class, "Sequential" | "Functional" | "Model")
}

fn model_layers<'a>(
    body: &'a Map<String, Value>,
    model_name: &str,
) -> Result<&'a Vec<Value>, ImportError> {
    body.get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::Config {
            layer: model_name.to_string(),
            field: "layers".into(),
            reason: "missing or not a list".into(),
        })
}

fn import_sequential(body: &Map<String, Value>) -> Result<Model, ImportError> {
    let model_name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("sequential");
    let mut model = Sequential::<'static, Heap>::named(model_name).map_err(kiln_err(model_name))?;
    let mut has_input = false;
    for (i, layer) in model_layers(body, model_name)?.iter().enumerate() {
        let name = layer_name(layer, i);
        let class = layer
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if is_model_class(class) {
            let inner = import_graph(layer)?;
            model.add_model(&inner).map_err(kiln_err(&name))?;
            continue;
        }
        let spec = layer_spec(layer, i)?;
        has_input |= matches!(spec.kind, LayerKind::InputLayer(_));
        model.add(spec).map_err(kiln_err(&name))?;
    }
    // A Sequential saved without an Input but built: Keras stores the build shape.
    if !has_input {
        let build = body
            .get("build_input_shape")
            .or_else(|| body.get("build_config").and_then(|b| b.get("input_shape")));
        if let Some(shape) = build.filter(|v| !v.is_null()) {
            let shape = shape_from_json(shape, model_name, "build_input_shape")?;
            model.build(shape).map_err(kiln_err(model_name))?;
        }
    }
    Ok(model.into_graph())
}

/// A tensor as Keras records it: `["dense", 0, 0]`, a layer, which of its calls, which of
/// that call's outputs.
type History = (String, usize, u64);

/// `["dense", 0, 0]` → `("dense", 0, 0)`.
fn history(v: &Value) -> Option<History> {
    let a = v.as_array()?;
    Some((
        a.first()?.as_str()?.to_string(),
        a.get(1)?.as_u64()? as usize,
        a.get(2).map_or(Some(0), Value::as_u64)?,
    ))
}

/// The `(layer, call)` of a tensor: every layer kiln imports makes one tensor per call, so
/// any other tensor index names nothing.
fn only_output(
    (layer, call, tensor): History,
    reader: &str,
    field: &str,
) -> Result<(String, usize), ImportError> {
    if tensor != 0 {
        return Err(ImportError::Config {
            layer: reader.to_string(),
            field: field.to_string(),
            reason: format!(
                "reads tensor {tensor} of layer '{layer}', but each call of it makes one tensor (0)"
            ),
        });
    }
    Ok((layer, call))
}

/// Every `keras_history` in a node's call arguments, in order.
fn collect_histories(v: &Value, out: &mut Vec<History>) {
    match v {
        Value::Object(m) => {
            if let Some(h) = m
                .get("config")
                .and_then(|c| c.get("keras_history"))
                .and_then(history)
            {
                out.push(h);
            } else {
                m.values().for_each(|c| collect_histories(c, out));
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_histories(c, out)),
        _ => {}
    }
}

/// `input_layers` / `output_layers`: one `[name, node, tensor]`, a list of them, or a dict.
fn io_tensors(v: Option<&Value>, model: &str, field: &str) -> Result<Vec<History>, ImportError> {
    let bad = || ImportError::Config {
        layer: model.to_string(),
        field: field.to_string(),
        reason: "expected [name, node, tensor] entries".into(),
    };
    let v = v.ok_or_else(bad)?;
    if let Some(one) = history(v) {
        return Ok(vec![one]);
    }
    match v {
        Value::Array(items) => items.iter().map(|i| history(i).ok_or_else(bad)).collect(),
        Value::Object(m) => m.values().map(|i| history(i).ok_or_else(bad)).collect(),
        _ => Err(bad()),
    }
}

fn import_functional(body: &Map<String, Value>) -> Result<Model, ImportError> {
    use kiln::{Functional, Tensor};
    use std::collections::HashMap;
    let model_name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("functional");
    let layers = model_layers(body, model_name)?;
    let mut ws = Functional::<'static, Heap>::new();
    // (layer name, node index) → tensor.
    let mut tensors: HashMap<(String, usize), Tensor> = HashMap::new();
    enum Callable {
        Layer(u16),
        Model(Box<Model>),
    }
    let mut callables: Vec<(String, Callable, Vec<&Value>)> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let name = layer_name(layer, i);
        let class = layer
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let nodes: Vec<&Value> = layer
            .get("inbound_nodes")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if class == "InputLayer" {
            let t = ws.input(layer_spec(layer, i)?).map_err(kiln_err(&name))?;
            tensors.insert((name, 0), t);
        } else if is_model_class(class) {
            callables.push((name, Callable::Model(Box::new(import_graph(layer)?)), nodes));
        } else {
            let id = ws.layer(layer_spec(layer, i)?).map_err(kiln_err(&name))?;
            callables.push((name, Callable::Layer(id), nodes));
        }
    }
    // Apply every inbound node once its inputs exist (a shared layer's later node may
    // read a layer listed after it, so go round until nothing is left).
    let mut done: Vec<usize> = vec![0; callables.len()];
    loop {
        let mut progress = false;
        for (c, (name, callable, nodes)) in callables.iter().enumerate() {
            while done[c] < nodes.len() {
                let node = nodes[done[c]];
                let mut histories = Vec::new();
                collect_histories(node.get("args").unwrap_or(&Value::Null), &mut histories);
                let field = format!("inbound_nodes[{}]", done[c]);
                let wanted = histories
                    .into_iter()
                    .map(|h| only_output(h, name, &field))
                    .collect::<Result<Vec<_>, _>>()?;
                let Some(inputs) = wanted
                    .iter()
                    .map(|k| tensors.get(k).copied())
                    .collect::<Option<Vec<Tensor>>>()
                else {
                    break;
                };
                let training = match node.get("kwargs").and_then(Value::as_object) {
                    None => None,
                    Some(kwargs) => {
                        if let Some(other) = kwargs
                            .keys()
                            .find(|k| k.as_str() != "training" && k.as_str() != "mask")
                        {
                            return Err(ImportError::Config {
                                layer: name.clone(),
                                field: format!("inbound_nodes[{}].kwargs", done[c]),
                                reason: format!("call argument '{other}' is not supported"),
                            });
                        }
                        kwargs.get("training").and_then(Value::as_bool)
                    }
                };
                let t = match callable {
                    Callable::Layer(id) => ws.apply_training(*id, &inputs, training),
                    Callable::Model(inner) => ws.call_model(inner, &inputs),
                }
                .map_err(kiln_err(name))?;
                tensors.insert((name.clone(), done[c]), t);
                done[c] += 1;
                progress = true;
            }
        }
        if done.iter().zip(&callables).all(|(d, c)| *d == c.2.len()) {
            break;
        }
        if !progress {
            let (name, _, _) = callables
                .iter()
                .zip(&done)
                .find(|(c, d)| **d < c.2.len())
                .map(|(c, _)| c)
                .ok_or_else(|| ImportError::NotAModel("inconsistent inbound nodes".into()))?;
            return Err(ImportError::Config {
                layer: name.clone(),
                field: "inbound_nodes".into(),
                reason: "refers to a tensor no layer of the model makes".into(),
            });
        }
    }
    let lookup = |field: &str| -> Result<Vec<Tensor>, ImportError> {
        io_tensors(body.get(field), model_name, field)?
            .into_iter()
            .map(|h| {
                let k = only_output(h, model_name, field)?;
                tensors.get(&k).copied().ok_or_else(|| ImportError::Config {
                    layer: model_name.to_string(),
                    field: field.to_string(),
                    reason: format!("no tensor {}[{}]", k.0, k.1),
                })
            })
            .collect()
    };
    let inputs = lookup("input_layers")?;
    let outputs = lookup("output_layers")?;
    let mut model = ws
        .model_named(model_name, &inputs, &outputs)
        .map_err(kiln_err(model_name))?;
    // A frozen nested model keeps its flag.
    for (i, layer) in layers.iter().enumerate() {
        let frozen = layer
            .get("config")
            .and_then(|c| c.get("trainable"))
            .and_then(Value::as_bool)
            == Some(false);
        let class = layer
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if frozen && is_model_class(class) {
            let name = layer_name(layer, i);
            if let Ok((id, _)) = model.get_layer(Some(&name), None) {
                model.set_trainable(id, false);
            }
        }
    }
    Ok(model)
}
