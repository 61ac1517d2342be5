//! Keras 3 model configs (`config.json` in a `.keras`, or `model.to_json()`) to kiln graphs.
//!
//! Every layer config is read field by field with Keras's defaults; a field kiln cannot
//! honour (channels_first, groups, an unknown activation) is an error that names the
//! layer, never silently ignored.

use crate::formats::keras_archive::{Tensor, WeightTree};
use crate::model::{HostGraph, MAX_LAYERS};
use kiln::graph::layer::{
    BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Pool2D, ReLU, Reshape,
};
use kiln::graph::{LayerKind, LayerSpec};
use kiln::{Activation, Padding, Sequential, Shape};
use serde_json::{Map, Value};
use std::fmt;

/// Why a model config cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "layer '{name}' has class '{class}', which kiln does not support (supported: {supported})"
    )]
    UnsupportedLayer {
        name: String,
        class: String,
        supported: &'static str,
    },
    #[error("model class '{class}' cannot be imported (supported: Sequential, Functional; a subclassed model's config holds no layer graph: rebuild it with kiln::model::Subclassed)")]
    UnsupportedModel { class: String },
    #[error("layer '{layer}': {field}: {reason}")]
    Config {
        layer: String,
        field: String,
        reason: String,
    },
    #[error("layer '{layer}': {source}")]
    Kiln {
        layer: String,
        source: Box<kiln::Error>,
    },
    #[error("layer '{layer}': no weights found in model.weights.h5 (looked for group '{path}')")]
    MissingWeights { layer: String, path: String },
    #[error("layer '{layer}': weight {index} ({var}) in model.weights.h5 has shape {found:?}, expected {expected:?}")]
    WeightShape {
        layer: String,
        index: usize,
        var: &'static str,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("layer '{layer}': model.weights.h5 has {found} variables, expected {expected}")]
    WeightCount {
        layer: String,
        found: usize,
        expected: usize,
    },
    #[error("the model config is not a Keras model: {0}")]
    NotAModel(String),
}

/// The layer classes kiln imports.
pub const SUPPORTED_LAYERS: &str = "InputLayer, Dense, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Reshape, Dropout, Activation, ReLU, LeakyReLU, Softmax, BatchNormalization, Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, RandomCrop, Sequential, Functional";

/// Where weights come from: the tree of `model.weights.h5`.
pub trait WeightSource {
    /// Variables of the layer stored at container path `path` (`…/vars/0`, `…/vars/1`).
    fn vars(&self, path: &str) -> Option<&[Tensor]>;
    /// The child groups of `path` (e.g. the groups under `layers`).
    fn children(&self, path: &str) -> Vec<String>;
    /// The `name` attribute of the `vars` group at `path`: the real layer name.
    fn name_of(&self, path: &str) -> Option<String>;
}

impl WeightSource for WeightTree {
    fn vars(&self, path: &str) -> Option<&[Tensor]> {
        self.var_group(path).map(|g| g.vars.as_slice())
    }
    fn children(&self, path: &str) -> Vec<String> {
        WeightTree::children(self, path)
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    }
    fn name_of(&self, path: &str) -> Option<String> {
        self.var_group(path).and_then(|g| g.name_attr.clone())
    }
}

type Model = kiln::Graph<'static, MAX_LAYERS>;

fn kiln_err(layer: &str) -> impl FnOnce(kiln::Error) -> ImportError + '_ {
    move |source| ImportError::Kiln {
        layer: layer.to_string(),
        source: Box::new(source),
    }
}

/// Imports a model config; weights are read from `weights` when given.
pub fn import(
    config: &Value,
    weights: Option<&(dyn WeightSource + Sync)>,
) -> Result<HostGraph, ImportError> {
    // A host graph is ~60 KB held by value, nested models recurse, and debug builds copy
    // such values freely: build on a thread whose stack is sized for that, not on the
    // caller's (a test thread has 2 MB).
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kiln-import".into())
            .stack_size(256 << 20)
            .spawn_scoped(scope, || import_on_this_thread(config, weights))
            .map_err(|e| ImportError::NotAModel(format!("cannot start the import thread: {e}")))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn import_on_this_thread(
    config: &Value,
    weights: Option<&(dyn WeightSource + Sync)>,
) -> Result<HostGraph, ImportError> {
    let graph = import_graph(config)?;
    let flat = match weights {
        Some(source) => read_weights(&graph, source)?,
        None => Vec::new(),
    };
    Ok(HostGraph::new(Box::new(graph), flat))
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
    let mut model =
        Sequential::<'static, MAX_LAYERS>::named(model_name).map_err(kiln_err(model_name))?;
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

/// `["dense", 0, 0]` → `("dense", 0)`.
fn history(v: &Value) -> Option<(String, usize)> {
    let a = v.as_array()?;
    Some((
        a.first()?.as_str()?.to_string(),
        a.get(1)?.as_u64()? as usize,
    ))
}

/// Every `keras_history` in a node's call arguments, in order.
fn collect_histories(v: &Value, out: &mut Vec<(String, usize)>) {
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
fn io_tensors(
    v: Option<&Value>,
    model: &str,
    field: &str,
) -> Result<Vec<(String, usize)>, ImportError> {
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
    let mut ws = Functional::<'static, MAX_LAYERS>::new();
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
                let mut wanted = Vec::new();
                collect_histories(node.get("args").unwrap_or(&Value::Null), &mut wanted);
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
            .map(|k| {
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

/// Reads every layer's variables from `model.weights.h5` into the buffer the graph
/// indexes. Groups are found by their `name` attribute (the layer name), falling back to
/// Keras's path rule: `layers/<snake_case(class)>[_k]`, counted per class in
/// `model.layers` order, nested models one level of `layers/` deeper.
fn read_weights(graph: &Model, source: &dyn WeightSource) -> Result<Vec<f32>, ImportError> {
    let mut flat = vec![0.0f32; 0];
    let top: Vec<u16> = graph.visible_layers().collect();
    read_container(graph, source, "", &top, &mut flat)?;
    if flat.len() < graph.weight_len() {
        flat.resize(graph.weight_len(), 0.0);
    }
    Ok(flat)
}

fn read_container(
    graph: &Model,
    source: &dyn WeightSource,
    base: &str,
    layers: &[u16],
    flat: &mut Vec<f32>,
) -> Result<(), ImportError> {
    let container = if base.is_empty() {
        "layers".to_string()
    } else {
        format!("{base}/layers")
    };
    let by_name: std::collections::HashMap<String, String> = source
        .children(&container)
        .into_iter()
        .filter_map(|child| {
            let path = format!("{container}/{child}");
            source.name_of(&path).map(|n| (n, path))
        })
        .collect();
    let mut per_class: std::collections::HashMap<&str, usize> = Default::default();
    for &id in layers {
        let Some(layer) = graph.layer(id) else {
            continue;
        };
        let prefix = layer.kind.auto_name_prefix();
        let k = per_class.entry(prefix).or_insert(0);
        let by_rule = if *k == 0 {
            format!("{container}/{prefix}")
        } else {
            format!("{container}/{prefix}_{k}")
        };
        *k += 1;
        let path = by_name.get(layer.name.as_str()).cloned().unwrap_or(by_rule);
        if matches!(layer.kind, LayerKind::Model(_)) {
            let children: Vec<u16> = graph.nested_layers(id).collect();
            read_container(graph, source, &path, &children, flat)?;
            continue;
        }
        let specs = graph.layer_weights(id);
        if specs.is_empty() {
            continue;
        }
        let vars = source
            .vars(&path)
            .ok_or_else(|| ImportError::MissingWeights {
                layer: layer.name.to_string(),
                path: path.clone(),
            })?;
        if vars.len() != specs.len() {
            return Err(ImportError::WeightCount {
                layer: layer.name.to_string(),
                found: vars.len(),
                expected: specs.len(),
            });
        }
        let mut at = graph.weight_offset(id).unwrap_or(0);
        for (index, (var, spec)) in vars.iter().zip(specs.iter()).enumerate() {
            let expected: Vec<usize> = spec
                .shape
                .dims()
                .iter()
                .map(|d| d.unwrap_or(0) as usize)
                .collect();
            if var.shape != expected || var.data.len() != spec.elements() {
                return Err(ImportError::WeightShape {
                    layer: layer.name.to_string(),
                    index,
                    var: spec.name,
                    found: var.shape.clone(),
                    expected,
                });
            }
            if flat.len() < at + var.data.len() {
                flat.resize(at + var.data.len(), 0.0);
            }
            flat[at..at + var.data.len()].copy_from_slice(&var.data);
            at += var.data.len();
        }
    }
    Ok(())
}

fn layer_name(layer: &Value, index: usize) -> String {
    layer
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("<layer {index}>"))
}

/// Reads the fields of one layer's config.
struct Fields<'a> {
    layer: String,
    config: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, reason: impl fmt::Display) -> ImportError {
        ImportError::Config {
            layer: self.layer.clone(),
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.config.get(field).filter(|v| !v.is_null())
    }

    fn u32_or(&self, field: &str, default: u32) -> Result<u32, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    self.err(field, format!("expected a non-negative integer, found {v}"))
                }),
        }
    }

    fn f32_or(&self, field: &str, default: f32) -> Result<f32, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| self.err(field, format!("expected a number, found {v}"))),
        }
    }

    fn bool_or(&self, field: &str, default: bool) -> Result<bool, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(field, format!("expected true or false, found {v}"))),
        }
    }

    /// `kernel_size=3` or `(3, 3)` → `[3, 3]`.
    fn pair_or(&self, field: &str, default: Option<[u16; 2]>) -> Result<[u16; 2], ImportError> {
        let bad = |v: &Value| {
            self.err(
                field,
                format!("expected an integer or a pair of integers, found {v}"),
            )
        };
        let small = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok());
        match self.get(field) {
            None => default.ok_or_else(|| self.err(field, "missing")),
            Some(v) => match v {
                Value::Array(items) if items.len() == 2 => Ok([
                    small(&items[0]).ok_or_else(|| bad(v))?,
                    small(&items[1]).ok_or_else(|| bad(v))?,
                ]),
                Value::Array(items) if items.len() == 1 => {
                    let n = small(&items[0]).ok_or_else(|| bad(v))?;
                    Ok([n, n])
                }
                other => {
                    let n = small(other).ok_or_else(|| bad(v))?;
                    Ok([n, n])
                }
            },
        }
    }

    fn padding(&self) -> Result<Padding, ImportError> {
        let name = self
            .get("padding")
            .and_then(Value::as_str)
            .unwrap_or("valid");
        Padding::from_keras_name(&name.to_ascii_lowercase()).ok_or_else(|| {
            self.err(
                "padding",
                format!("'{name}' is not supported (use 'valid' or 'same')"),
            )
        })
    }

    fn activation(&self, field: &str) -> Result<Activation, ImportError> {
        match self.get(field) {
            None => Ok(Activation::Linear),
            Some(Value::String(name)) => Activation::from_keras_name(name)
                .ok_or_else(|| self.err(field, format!("activation '{name}' is not supported"))),
            Some(Value::Object(obj)) => {
                // A serialized function: {"class_name": "function", "config": "relu", ...}.
                let name = obj
                    .get("config")
                    .and_then(Value::as_str)
                    .or_else(|| obj.get("class_name").and_then(Value::as_str))
                    .unwrap_or("?");
                Activation::from_keras_name(name).ok_or_else(|| {
                    self.err(
                        field,
                        format!("activation {} is not supported", Value::Object(obj.clone())),
                    )
                })
            }
            Some(other) => {
                Err(self.err(field, format!("expected an activation name, found {other}")))
            }
        }
    }

    fn channels_last(&self) -> Result<(), ImportError> {
        match self.get("data_format").and_then(Value::as_str) {
            None | Some("channels_last") => Ok(()),
            Some(other) => Err(self.err(
                "data_format",
                format!("'{other}' is not supported (kiln runs channels_last)"),
            )),
        }
    }

    fn float32(&self) -> Result<(), ImportError> {
        let dtype = match self.get("dtype") {
            None => return Ok(()),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("float32")
                .to_string(),
            Some(other) => other.to_string(),
        };
        if dtype == "float32" {
            Ok(())
        } else {
            Err(self.err("dtype", format!("'{dtype}' is not supported (kiln runs float32 models; quantize with kiln export --int8)")))
        }
    }
}

fn layer_spec(layer: &Value, index: usize) -> Result<LayerSpec, ImportError> {
    let name = layer_name(layer, index);
    let class = layer
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::Config {
            layer: name.clone(),
            field: "class_name".into(),
            reason: "missing".into(),
        })?;
    let empty = Map::new();
    let config = layer
        .get("config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let f = Fields {
        layer: name.clone(),
        config,
    };
    f.float32()?;
    let kind =
        match class {
            "InputLayer" => {
                let shape = f
                    .get("batch_shape")
                    .or_else(|| f.get("batch_input_shape"))
                    .ok_or_else(|| f.err("batch_shape", "missing"))?;
                LayerKind::InputLayer(shape_from_json(shape, &name, "batch_shape")?)
            }
            "Dense" => LayerKind::Dense(Dense {
                units: f.u32_or("units", 0)?,
                activation: f.activation("activation")?,
                use_bias: f.bool_or("use_bias", true)?,
            }),
            "Conv2D" => {
                f.channels_last()?;
                if f.u32_or("groups", 1)? != 1 {
                    return Err(f.err("groups", "only groups=1 is supported"));
                }
                LayerKind::Conv2D(Conv2D {
                    filters: f.u32_or("filters", 0)?,
                    kernel_size: f.pair_or("kernel_size", None)?,
                    strides: f.pair_or("strides", Some([1, 1]))?,
                    dilation_rate: f.pair_or("dilation_rate", Some([1, 1]))?,
                    padding: f.padding()?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "DepthwiseConv2D" => {
                f.channels_last()?;
                LayerKind::DepthwiseConv2D(DepthwiseConv2D {
                    kernel_size: f.pair_or("kernel_size", None)?,
                    strides: f.pair_or("strides", Some([1, 1]))?,
                    dilation_rate: f.pair_or("dilation_rate", Some([1, 1]))?,
                    padding: f.padding()?,
                    depth_multiplier: f.u32_or("depth_multiplier", 1)?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "MaxPooling2D" | "AveragePooling2D" => {
                f.channels_last()?;
                let pool_size = f.pair_or("pool_size", Some([2, 2]))?;
                let pool = Pool2D {
                    pool_size,
                    strides: f.pair_or("strides", Some(pool_size))?,
                    padding: f.padding()?,
                };
                if class == "MaxPooling2D" {
                    LayerKind::MaxPooling2D(pool)
                } else {
                    LayerKind::AveragePooling2D(pool)
                }
            }
            "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => {
                f.channels_last()?;
                let keepdims = f.bool_or("keepdims", false)?;
                if class == "GlobalAveragePooling2D" {
                    LayerKind::GlobalAveragePooling2D { keepdims }
                } else {
                    LayerKind::GlobalMaxPooling2D { keepdims }
                }
            }
            "Flatten" => {
                f.channels_last()?;
                LayerKind::Flatten
            }
            "Reshape" => {
                let target = f
                    .get("target_shape")
                    .and_then(Value::as_array)
                    .ok_or_else(|| f.err("target_shape", "missing or not a list"))?;
                let dims: Option<Vec<i32>> = target
                    .iter()
                    .map(|d| d.as_i64().and_then(|n| i32::try_from(n).ok()))
                    .collect();
                let dims = dims.ok_or_else(|| f.err("target_shape", "expected integers"))?;
                LayerKind::Reshape(Reshape::new(&dims).ok_or_else(|| {
                    f.err(
                        "target_shape",
                        format!("rank {} is above kiln's limit", dims.len()),
                    )
                })?)
            }
            "Dropout" => LayerKind::Dropout {
                rate: f.f32_or("rate", 0.0)?,
            },
            "Activation" => LayerKind::Activation(f.activation("activation")?),
            "ReLU" => LayerKind::ReLU(ReLU {
                max_value: match f.get("max_value") {
                    None => None,
                    Some(v) => Some(v.as_f64().ok_or_else(|| {
                        f.err("max_value", format!("expected a number, found {v}"))
                    })? as f32),
                },
                negative_slope: f.f32_or("negative_slope", 0.0)?,
                threshold: f.f32_or("threshold", 0.0)?,
            }),
            "LeakyReLU" => {
                let slope = match f.get("negative_slope") {
                    Some(_) => f.f32_or("negative_slope", 0.3)?,
                    None => f.f32_or("alpha", 0.3)?,
                };
                LayerKind::LeakyReLU {
                    negative_slope: slope,
                }
            }
            "Softmax" => {
                match f.get("axis") {
                    None => {}
                    Some(v) if v.as_i64() == Some(-1) => {}
                    Some(v) => {
                        return Err(f.err("axis", format!("only axis=-1 is supported, found {v}")))
                    }
                }
                LayerKind::Softmax
            }
            "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" => {
                use kiln::kernels::merge::MergeOp;
                LayerKind::Merge(match class {
                    "Add" => MergeOp::Add,
                    "Subtract" => MergeOp::Subtract,
                    "Multiply" => MergeOp::Multiply,
                    "Average" => MergeOp::Average,
                    "Maximum" => MergeOp::Maximum,
                    _ => MergeOp::Minimum,
                })
            }
            "Concatenate" => {
                let axis = match f.get("axis") {
                    None => -1,
                    Some(v) => v
                        .as_i64()
                        .and_then(|a| i8::try_from(a).ok())
                        .ok_or_else(|| {
                            f.err("axis", format!("expected an integer axis, found {v}"))
                        })?,
                };
                LayerKind::Concatenate { axis }
            }
            "RandomCrop" => {
                f.channels_last()?;
                LayerKind::RandomCrop {
                    height: f.u32_or("height", 0)?,
                    width: f.u32_or("width", 0)?,
                    seed: match f.get("seed") {
                        None => None,
                        Some(v) => {
                            Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                                || f.err("seed", format!("expected an integer, found {v}")),
                            )?)
                        }
                    },
                }
            }
            "BatchNormalization" => {
                match f.get("axis") {
                    None => {}
                    Some(v) if v.as_i64() == Some(-1) => {}
                    Some(Value::Array(a)) if a.len() == 1 && a[0].as_i64() == Some(-1) => {}
                    Some(v) => {
                        return Err(f.err(
                            "axis",
                            format!("only the last axis is supported, found {v}"),
                        ))
                    }
                }
                LayerKind::BatchNormalization(BatchNormalization {
                    epsilon: f.f32_or("epsilon", 1e-3)?,
                    momentum: f.f32_or("momentum", 0.99)?,
                    center: f.bool_or("center", true)?,
                    scale: f.bool_or("scale", true)?,
                })
            }
            other => {
                return Err(ImportError::UnsupportedLayer {
                    name,
                    class: other.to_string(),
                    supported: SUPPORTED_LAYERS,
                })
            }
        };
    let spec = LayerSpec::new(kind).trainable(f.bool_or("trainable", true)?);
    Ok(match class {
        // Keras always writes the name; a config without one gets kiln's automatic name.
        _ if f.get("name").is_some() => spec.name(&name),
        _ => spec,
    })
}

/// `[null, 28, 28, 1]` → `(None, 28, 28, 1)`.
fn shape_from_json(value: &Value, layer: &str, field: &str) -> Result<Shape, ImportError> {
    let err = |reason: String| ImportError::Config {
        layer: layer.to_string(),
        field: field.to_string(),
        reason,
    };
    let dims = value
        .as_array()
        .ok_or_else(|| err(format!("expected a list, found {value}")))?;
    let dims: Vec<Option<u32>> = dims
        .iter()
        .map(|d| match d {
            Value::Null => Ok(None),
            other => other
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n > 0)
                .map(Some)
                .ok_or_else(|| err(format!("expected positive integers or null, found {other}"))),
        })
        .collect::<Result<_, _>>()?;
    if dims.is_empty() {
        return Err(err("the shape has no batch axis".into()));
    }
    Shape::new(&dims).ok_or_else(|| {
        err(format!(
            "rank {} is above kiln's limit of {}",
            dims.len(),
            kiln::shape::MAX_RANK
        ))
    })
}
