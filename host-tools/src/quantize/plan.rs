//! The float graph rewritten as TensorFlow Lite's converter rewrites it before quantizing:
//! one [`Op`] per int8 layer to be, each with the float weights it will be quantized from.
//!
//! | float layer(s) | becomes |
//! |---|---|
//! | Conv2D / DepthwiseConv2D / Dense → BatchNormalization | the layer with the normalization folded into its kernel and bias |
//! | Conv2D / DepthwiseConv2D / Dense / MaxPooling2D / AveragePooling2D / Add → ReLU, ReLU(6), Activation('relu'\|'relu6') | the layer with the activation fused (a clamp of its int8 output) |
//! | Dense / convolution with activation softmax, sigmoid or tanh | the layer, linear, then a Softmax or Activation layer |
//! | Dropout, RandomCrop, Activation('linear'); a relu after a relu, a relu6 after a relu6 | nothing (the identity) |
//! | linear Dense or convolution → (Flatten/Reshape keeping the last axis) → Dense with bias, no fused activation | the first without bias, the Dense with `b1·W2 + b2` (from the model's end, as the converter's rewriter goes) |
//!
//! A fold or fusion changes the tensor of the layer before it, so it happens only when
//! that tensor has no other reader and is not a model output; otherwise the layer stays
//! as it is (a BatchNormalization then has no int8 kernel).

use super::fold::{fold_batch_norm, BatchNorm};
use super::{QuantizeError, Result};
use crate::model::{HostGraph, HostModel};
use kiln::graph::{DType, LayerKind, NodeId};
use kiln::Activation;
use std::collections::HashSet;

/// One change the rewrite made to the float graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// BatchNormalization `batch_norm` folded into the kernel and bias of `into`.
    Folded { batch_norm: String, into: String },
    /// Layer `layer`'s `activation` (relu or relu6) fused into `into`.
    Fused {
        layer: String,
        activation: &'static str,
        into: String,
    },
    /// Layer `layer` (`class`) computes nothing at inference and is gone.
    Removed { layer: String, class: &'static str },
    /// Layer `layer` (`activation`) is the identity on the output of `after`, which is
    /// clamped so already.
    Redundant {
        layer: String,
        activation: &'static str,
        after: String,
    },
    /// The bias of linear layer `from` moved into the bias of the Dense `into` that reads
    /// its output: `(x·W1 + b1)·W2 + b2 = (x·W1)·W2 + (b1·W2 + b2)`.
    BiasMoved { from: String, into: String },
    /// Layer `layer`'s `activation` became the layer `into` of its own.
    Split {
        layer: String,
        activation: &'static str,
        into: String,
    },
}

impl std::fmt::Display for Rewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rewrite::Folded { batch_norm, into } => {
                write!(f, "{batch_norm} (BatchNormalization) folded into {into}")
            }
            Rewrite::Fused {
                layer,
                activation,
                into,
            } if layer == into => write!(f, "{activation} of {layer} fused into its int8 output"),
            Rewrite::Fused {
                layer,
                activation,
                into,
            } => write!(f, "{layer} ({activation}) fused into {into}"),
            Rewrite::Removed { layer, class } => write!(f, "{layer} ({class}) removed"),
            Rewrite::BiasMoved { from, into } => write!(f, "bias of {from} moved into {into}"),
            Rewrite::Redundant {
                layer,
                activation,
                after,
            } => write!(
                f,
                "{layer} ({activation}) removed: the output of {after} is clamped so already"
            ),
            Rewrite::Split {
                layer,
                activation,
                into,
            } => write!(f, "{activation} of {layer} made a layer of its own, {into}"),
        }
    }
}

/// The float layer an [`Op`] comes from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub layer: String,
    pub class: &'static str,
}

/// A Dense's or convolution's float weights, in Keras's layout (output channel fastest).
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub kernel: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub channels: usize,
}

/// One layer of the rewritten graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Its name in the graphs made from the plan (unique).
    pub name: String,
    pub origin: Origin,
    /// The float configuration; a Dense's or convolution's activation is linear here
    /// (`post` holds what is fused).
    pub kind: LayerKind,
    /// The activation fused into the layer's output: linear, relu or relu6.
    pub post: Activation,
    /// The ops whose outputs it reads.
    pub inputs: Vec<usize>,
    pub kernel: Option<Kernel>,
    /// The output's declared shape (batch axis first).
    pub shape: kiln::Shape,
}

impl Op {
    pub fn is_input(&self) -> bool {
        matches!(self.kind, LayerKind::InputLayer(_))
    }

    /// True for a Dense or convolution (a layer with a kernel).
    pub fn has_kernel(&self) -> bool {
        self.kernel.is_some()
    }

    /// The configuration with `post` set where the configuration holds an activation
    /// (Dense, the convolutions); for the others `post` is a clamp of the int8 output
    /// only, and a float run applies it as a layer after this one.
    pub fn kind_with_post(&self) -> (LayerKind, bool) {
        let post = self.post;
        let use_bias = self.kernel.as_ref().is_some_and(|k| k.bias.is_some());
        match self.kind {
            LayerKind::Dense(d) => (
                LayerKind::Dense(d.activation(post).use_bias(use_bias)),
                false,
            ),
            LayerKind::Conv2D(c) => (
                LayerKind::Conv2D(c.activation(post).use_bias(use_bias)),
                false,
            ),
            LayerKind::DepthwiseConv2D(c) => (
                LayerKind::DepthwiseConv2D(c.activation(post).use_bias(use_bias)),
                false,
            ),
            kind => (kind, post != Activation::Linear),
        }
    }
}

/// The rewritten model.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    /// The ops of the model inputs, in `model.inputs` order.
    pub inputs: Vec<usize>,
    /// The ops of the model outputs, in `model.outputs` order.
    pub outputs: Vec<usize>,
    /// In a topological order, inputs first.
    pub ops: Vec<Op>,
    pub rewrites: Vec<Rewrite>,
}

/// Keras's name of an activation kiln's int8 engine has, for messages.
fn activation_name(a: Activation) -> &'static str {
    match a {
        Activation::Linear => "linear",
        Activation::Relu => "relu",
        Activation::Relu6 => "relu6",
        Activation::Sigmoid => "sigmoid",
        Activation::Tanh => "tanh",
        Activation::Softmax => "softmax",
        Activation::LogSoftmax => "log_softmax",
        Activation::LeakyRelu { .. } => "leaky_relu",
        Activation::Elu { .. } => "elu",
        Activation::Selu => "selu",
        Activation::Gelu { .. } => "gelu",
        Activation::Silu => "silu",
        Activation::HardSigmoid => "hard_sigmoid",
        Activation::HardSilu => "hard_silu",
        Activation::Softplus => "softplus",
        Activation::Softsign => "softsign",
        Activation::Exponential => "exponential",
        Activation::Mish => "mish",
    }
}

/// The clamp a ReLU layer is, if it is one TensorFlow Lite has (RELU, RELU6).
fn relu_clamp(r: &kiln::layers::ReLU) -> Option<Activation> {
    if r.negative_slope != 0.0 || r.threshold != 0.0 {
        return None;
    }
    match r.max_value {
        None => Some(Activation::Relu),
        Some(6.0) => Some(Activation::Relu6),
        Some(_) => None,
    }
}

/// The activation of a Dense or convolution, if `kind` is one.
fn kernel_activation(kind: &LayerKind) -> Option<Activation> {
    match kind {
        LayerKind::Dense(d) => Some(d.activation),
        LayerKind::Conv2D(c) => Some(c.activation),
        LayerKind::DepthwiseConv2D(c) => Some(c.activation),
        _ => None,
    }
}

/// `kind` with a linear activation (a Dense or convolution).
fn linear(kind: LayerKind) -> LayerKind {
    match kind {
        LayerKind::Dense(d) => LayerKind::Dense(d.activation(Activation::Linear)),
        LayerKind::Conv2D(c) => LayerKind::Conv2D(c.activation(Activation::Linear)),
        LayerKind::DepthwiseConv2D(c) => {
            LayerKind::DepthwiseConv2D(c.activation(Activation::Linear))
        }
        kind => kind,
    }
}

/// True for the layers a relu or relu6 fuses into.
fn takes_fused_relu(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::Dense(_)
            | LayerKind::Conv2D(_)
            | LayerKind::DepthwiseConv2D(_)
            | LayerKind::MaxPooling2D(_)
            | LayerKind::AveragePooling2D(_)
            | LayerKind::Merge(kiln::MergeOp::Add)
    )
}

/// Where the walk over the float graph is.
struct Walk<'g> {
    g: &'g HostModel<'g>,
    /// Readers of each (resolved) node's tensor; a model output counts as one.
    readers: Vec<usize>,
    is_output: Vec<bool>,
    /// The op each resolved node's tensor is.
    value: Vec<Option<usize>>,
    /// Per op: true while every float tensor mapped onto it (before the last) was read by
    /// the next one only, so that changing the op's output changes nothing else.
    exclusive: Vec<bool>,
    /// The float node whose tensor each op's output currently is.
    head: Vec<NodeId>,
    ops: Vec<Op>,
    rewrites: Vec<Rewrite>,
    names: HashSet<String>,
}

impl Walk<'_> {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn push(&mut self, op: Op, node: NodeId) -> usize {
        self.ops.push(op);
        self.exclusive.push(true);
        self.head.push(node);
        let id = self.ops.len() - 1;
        self.value[node as usize] = Some(id);
        id
    }

    /// The op whose output node `n`'s tensor is.
    fn value_of(&self, n: NodeId) -> Option<usize> {
        self.value
            .get(self.g.resolve(n) as usize)
            .copied()
            .flatten()
    }

    /// True when op `v`'s output may change: only node `reader` reads it.
    fn sole_reader(&self, v: usize) -> bool {
        let head = self.head[v] as usize;
        self.exclusive[v] && self.readers[head] == 1 && !self.is_output[head]
    }

    /// Node `node` computes op `v`'s output again (an identity, a fold, a fusion).
    fn map_onto(&mut self, node: NodeId, v: usize) {
        let head = self.head[v] as usize;
        self.exclusive[v] = self.exclusive[v] && self.readers[head] == 1 && !self.is_output[head];
        self.head[v] = node;
        self.value[node as usize] = Some(v);
    }
}

/// The rewritten graph of float model `model`.
pub fn plan(model: &HostGraph) -> Result<Plan> {
    if !model.has_weights() {
        return Err(QuantizeError::NoWeights);
    }
    let g = model
        .graph()
        .map_err(|e| QuantizeError::kiln("the model's weights", e))?;
    let nodes = g.nodes();
    let inputs: Vec<NodeId> = g.input_nodes().iter().map(|&n| g.resolve(n)).collect();
    let outputs: Vec<NodeId> = g.output_nodes().iter().map(|&n| g.resolve(n)).collect();
    if inputs.is_empty() || outputs.is_empty() {
        return Err(QuantizeError::NoInput);
    }
    if inputs
        .iter()
        .any(|&n| nodes[n as usize].dtype != DType::F32)
    {
        return Err(QuantizeError::NotFloat);
    }
    let mut readers = vec![0usize; nodes.len()];
    let mut is_output = vec![false; nodes.len()];
    let mut needed = vec![false; nodes.len()];
    for n in nodes.iter().filter(|n| n.view_of.is_none()) {
        for &input in n.inputs.iter() {
            readers[g.resolve(input) as usize] += 1;
        }
    }
    let mut stack: Vec<NodeId> = Vec::new();
    for &o in &outputs {
        readers[o as usize] += 1;
        is_output[o as usize] = true;
        stack.push(o);
    }
    while let Some(n) = stack.pop() {
        let n = g.resolve(n) as usize;
        if std::mem::replace(&mut needed[n], true) {
            continue;
        }
        stack.extend(nodes[n].inputs.iter().copied());
    }
    let mut walk = Walk {
        g: &g,
        readers,
        is_output,
        value: vec![None; nodes.len()],
        exclusive: Vec::new(),
        head: Vec::new(),
        ops: Vec::new(),
        rewrites: Vec::new(),
        names: HashSet::new(),
    };
    let mut input_ops = Vec::new();
    for &n in &inputs {
        let layer = &g.all_layers()[nodes[n as usize].layer as usize];
        let name = walk.unique(&layer.name);
        let op = Op {
            name,
            origin: origin(&layer.name, layer.class_name()),
            kind: layer.kind,
            post: Activation::Linear,
            inputs: Vec::new(),
            kernel: None,
            shape: nodes[n as usize].shape,
        };
        input_ops.push(walk.push(op, n));
    }
    for i in 0..nodes.len() {
        let node = &nodes[i];
        if node.view_of.is_some() || !needed[i] || walk.value[i].is_some() {
            continue;
        }
        walk_node(&mut walk, i as NodeId)?;
    }
    move_dense_biases(&mut walk);
    let mut output_ops = Vec::new();
    for &o in &outputs {
        let v = walk.value_of(o).ok_or_else(|| QuantizeError::Layer {
            layer: g.node_layer_name(o as usize).to_string(),
            class: class_of(&g, o),
            reason: "a model output the rewrite did not reach".into(),
        })?;
        output_ops.push(v);
    }
    let plan = Plan {
        name: g.name().to_string(),
        inputs: input_ops,
        outputs: output_ops,
        ops: walk.ops,
        rewrites: walk.rewrites,
    };
    check_int8_kernels(&plan)?;
    Ok(plan)
}

fn origin(layer: &str, class: &'static str) -> Origin {
    Origin {
        layer: layer.to_string(),
        class,
    }
}

fn class_of(g: &HostModel<'_>, n: NodeId) -> &'static str {
    g.nodes()
        .get(n as usize)
        .and_then(|node| g.layer(node.layer))
        .map_or("", |l| l.class_name())
}

/// The error for a layer kiln's int8 engine has no kernel for.
fn no_kernel(layer: &str, class: &'static str, detail: impl Into<String>) -> QuantizeError {
    QuantizeError::NoInt8Kernel {
        layer: layer.to_string(),
        class,
        detail: detail.into(),
    }
}

fn walk_node(w: &mut Walk<'_>, n: NodeId) -> Result<()> {
    let g = w.g;
    let node = &g.nodes()[n as usize];
    let layer = &g.all_layers()[node.layer as usize];
    let (name, class) = (layer.name.to_string(), layer.class_name());
    let mut inputs = Vec::new();
    for &input in node.inputs.iter() {
        inputs.push(w.value_of(input).ok_or_else(|| QuantizeError::Layer {
            layer: name.clone(),
            class,
            reason: "reads a tensor that no earlier layer computes".into(),
        })?);
    }
    let first = inputs.first().copied();
    let remove = |w: &mut Walk<'_>, rewrite: bool| -> Result<()> {
        let v = first.ok_or_else(|| no_kernel(&name, class, ""))?;
        w.map_onto(n, v);
        if rewrite {
            w.rewrites.push(Rewrite::Removed {
                layer: name.clone(),
                class,
            });
        }
        Ok(())
    };
    match layer.kind {
        LayerKind::Dropout(_) | LayerKind::RandomCrop(_) => remove(w, true),
        LayerKind::Activation(a) if a.0 == Activation::Linear => remove(w, true),
        LayerKind::BatchNormalization(bn) => {
            let v = first.ok_or_else(|| no_kernel(&name, class, ""))?;
            let target = &w.ops[v];
            let why = if !target.has_kernel() {
                Some(format!(
                    ": it normalizes the output of '{}' ({}); only a BatchNormalization right after a Conv2D, DepthwiseConv2D or Dense folds into that layer",
                    target.origin.layer, target.origin.class
                ))
            } else if target.post != Activation::Linear {
                Some(format!(
                    ": it normalizes the {} output of '{}'; only one right after a linear Conv2D, DepthwiseConv2D or Dense folds into it",
                    activation_name(target.post),
                    target.origin.layer
                ))
            } else if !w.sole_reader(v) {
                Some(format!(
                    ": the output of '{}' is read by other layers too (or is a model output), so it cannot fold into it",
                    target.origin.layer
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(no_kernel(&name, class, why));
            }
            let var = |v: &str| g.layer_weight(node.layer, v);
            let stats = BatchNorm {
                gamma: if bn.scale { var("gamma") } else { None },
                beta: if bn.center { var("beta") } else { None },
                mean: var("moving_mean").unwrap_or(&[]),
                variance: var("moving_variance").unwrap_or(&[]),
                epsilon: bn.epsilon,
            };
            let missing =
                (bn.scale && stats.gamma.is_none()) || (bn.center && stats.beta.is_none());
            let kernel = w.ops[v].kernel.as_ref().expect("a layer with a kernel");
            let folded = (!missing)
                .then(|| fold_batch_norm(&kernel.kernel, kernel.bias.as_deref(), &stats))
                .flatten()
                .filter(|_| stats.channels() == kernel.channels)
                .ok_or_else(|| QuantizeError::Layer {
                    layer: name.clone(),
                    class,
                    reason: format!(
                        "{} channels of statistics for the {} output channels of {}",
                        stats.channels(),
                        kernel.channels,
                        w.ops[v].name
                    ),
                })?;
            let into = w.ops[v].name.clone();
            let kernel = w.ops[v].kernel.as_mut().expect("a layer with a kernel");
            (kernel.kernel, kernel.bias) = (folded.0, Some(folded.1));
            w.map_onto(n, v);
            w.rewrites.push(Rewrite::Folded {
                batch_norm: name,
                into,
            });
            Ok(())
        }
        LayerKind::ReLU(r) => {
            let clamp = relu_clamp(&r).ok_or_else(|| {
                no_kernel(
                    &name,
                    class,
                    ": TensorFlow Lite has int8 ReLU and ReLU6 only (no slope, no threshold, max_value none or 6)",
                )
            })?;
            fuse_or_keep(w, n, &name, class, clamp, inputs)
        }
        LayerKind::Activation(a) => match a.0 {
            Activation::Relu | Activation::Relu6 => fuse_or_keep(w, n, &name, class, a.0, inputs),
            Activation::Softmax | Activation::Sigmoid | Activation::Tanh => {
                keep(w, n, &name, class, layer.kind, inputs, None);
                Ok(())
            }
            other => Err(no_kernel(
                &name,
                class,
                format!(": activation '{}' has no int8 form", activation_name(other)),
            )),
        },
        LayerKind::Dense(_) | LayerKind::Conv2D(_) | LayerKind::DepthwiseConv2D(_) => {
            let activation = kernel_activation(&layer.kind).unwrap_or_default();
            let (post, split) = match activation {
                Activation::Linear | Activation::Relu | Activation::Relu6 => (activation, None),
                Activation::Softmax => (
                    Activation::Linear,
                    Some(LayerKind::Softmax(kiln::layers::Softmax)),
                ),
                Activation::Sigmoid | Activation::Tanh => (
                    Activation::Linear,
                    Some(LayerKind::Activation(kiln::layers::Activation(activation))),
                ),
                other => {
                    return Err(no_kernel(
                        &name,
                        class,
                        format!(": activation '{}' has no int8 form", activation_name(other)),
                    ))
                }
            };
            let kernel = kernel_weights(g, node.layer, &layer.kind, &name, class)?;
            let v = keep(w, n, &name, class, linear(layer.kind), inputs, Some(kernel));
            w.ops[v].post = post;
            if let Some(kind) = split {
                let act = activation_name(activation);
                let into = w.unique(&format!("{name}_{act}"));
                let op = Op {
                    name: into.clone(),
                    origin: origin(&name, class),
                    kind,
                    post: Activation::Linear,
                    inputs: vec![v],
                    kernel: None,
                    shape: node.shape,
                };
                // The split layer's output is the Keras layer's: it takes over the node.
                w.push(op, n);
                w.rewrites.push(Rewrite::Split {
                    layer: name,
                    activation: act,
                    into,
                });
            }
            Ok(())
        }
        kind => {
            keep(w, n, &name, class, kind, inputs, None);
            Ok(())
        }
    }
}

/// TensorFlow Lite's converter moves the bias of a linear Dense, Conv2D or
/// DepthwiseConv2D into the Dense that reads its output (when nothing else does, and that
/// Dense has a bias and no fused activation; through a Flatten or Reshape that keeps the
/// last axis, as a convolution's 1×1 output has), so that the first layer's output
/// carries no bias. Its rewriter works from the model's end, so that in a chain of
/// linear Dense layers every other one keeps its bias. Done here the same way, so that
/// the tensors are the converter's.
fn move_dense_biases(w: &mut Walk<'_>) {
    let linear = |op: &Op| op.post == Activation::Linear;
    let has_bias = |op: &Op| op.kernel.as_ref().is_some_and(|k| k.bias.is_some());
    for b in (0..w.ops.len()).rev() {
        let op_b = &w.ops[b];
        if !(matches!(op_b.kind, LayerKind::Dense(_)) && linear(op_b) && has_bias(op_b)) {
            continue;
        }
        let &[mut a] = &op_b.inputs[..] else { continue };
        // Back through reshapes that keep the last axis and that only this path reads.
        while matches!(w.ops[a].kind, LayerKind::Flatten(_) | LayerKind::Reshape(_))
            && w.sole_reader(a)
        {
            let from = w.ops[a].inputs[0];
            let last = w.ops[a].shape.last();
            if last.is_none() || w.ops[from].shape.last() != last {
                break;
            }
            a = from;
        }
        let op_a = &w.ops[a];
        if !(op_a.has_kernel() && linear(op_a) && has_bias(op_a) && w.sole_reader(a)) {
            continue;
        }
        let (Some(ka), Some(kb)) = (&op_a.kernel, &w.ops[b].kernel) else {
            continue;
        };
        let (bias_a, bias_b) = (
            ka.bias.as_deref().unwrap_or(&[]),
            kb.bias.as_deref().unwrap_or(&[]),
        );
        let units = kb.channels;
        if bias_a.is_empty() || kb.kernel.len() != bias_a.len() * units {
            continue;
        }
        let moved: Vec<f32> = (0..units)
            .map(|j| {
                let through: f64 = bias_a
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| f64::from(x) * f64::from(kb.kernel[i * units + j]))
                    .sum();
                (f64::from(bias_b[j]) + through) as f32
            })
            .collect();
        let (from, into) = (op_a.name.clone(), w.ops[b].name.clone());
        if let Some(k) = w.ops[b].kernel.as_mut() {
            k.bias = Some(moved);
        }
        if let Some(k) = w.ops[a].kernel.as_mut() {
            k.bias = None;
        }
        w.rewrites.push(Rewrite::BiasMoved { from, into });
    }
}

/// A relu or relu6 layer (`clamp`): fused into the layer before it when that layer takes
/// one and nothing else reads its output; otherwise a ReLU layer of its own.
fn fuse_or_keep(
    w: &mut Walk<'_>,
    n: NodeId,
    name: &str,
    class: &'static str,
    clamp: Activation,
    inputs: Vec<usize>,
) -> Result<()> {
    let v = inputs[0];
    let target = &w.ops[v];
    // A relu after a relu (or a relu6 after a relu6) is the identity: TensorFlow folds
    // such repeats before converting. (It keeps a relu after a relu6 as a layer.)
    let already = match target.kind {
        LayerKind::ReLU(r) => relu_clamp(&r).unwrap_or(Activation::Linear),
        _ => target.post,
    };
    if already == clamp {
        let after = target.name.clone();
        w.map_onto(n, v);
        w.rewrites.push(Rewrite::Redundant {
            layer: name.to_string(),
            activation: activation_name(clamp),
            after,
        });
        return Ok(());
    }
    let fusable = target.post == Activation::Linear;
    if takes_fused_relu(&target.kind) && fusable && w.sole_reader(v) {
        w.ops[v].post = clamp;
        let into = w.ops[v].name.clone();
        w.map_onto(n, v);
        w.rewrites.push(Rewrite::Fused {
            layer: name.to_string(),
            activation: activation_name(clamp),
            into,
        });
        return Ok(());
    }
    let relu = match clamp {
        Activation::Relu6 => kiln::layers::ReLU::new().max_value(6.0),
        _ => kiln::layers::ReLU::new(),
    };
    keep(w, n, name, class, LayerKind::ReLU(relu), inputs, None);
    Ok(())
}

/// Layer `name` as it is: a new op for node `n`.
fn keep(
    w: &mut Walk<'_>,
    n: NodeId,
    name: &str,
    class: &'static str,
    kind: LayerKind,
    inputs: Vec<usize>,
    kernel: Option<Kernel>,
) -> usize {
    let unique = w.unique(name);
    let op = Op {
        name: unique,
        origin: origin(name, class),
        kind,
        post: Activation::Linear,
        inputs,
        kernel,
        shape: w.g.nodes()[n as usize].shape,
    };
    w.push(op, n)
}

/// The float kernel and bias of a Dense or convolution, and its output channels.
fn kernel_weights(
    g: &HostModel<'_>,
    layer: kiln::graph::LayerId,
    kind: &LayerKind,
    name: &str,
    class: &'static str,
) -> Result<Kernel> {
    let specs = g.layer_weights(layer);
    let missing = |what: &str| QuantizeError::Layer {
        layer: name.to_string(),
        class,
        reason: format!("has no float32 {what}"),
    };
    let kernel = g
        .layer_weight(layer, "kernel")
        .ok_or_else(|| missing("kernel"))?;
    let spec = specs
        .iter()
        .find(|s| s.name == "kernel")
        .ok_or_else(|| missing("kernel"))?;
    let dims: Vec<usize> = spec
        .shape
        .dims()
        .iter()
        .map(|d| d.unwrap_or(0) as usize)
        .collect();
    let channels = match kind {
        // (kh, kw, in, multiplier): output channel in·multiplier + k.
        LayerKind::DepthwiseConv2D(_) => dims.iter().rev().take(2).product(),
        _ => dims.last().copied().unwrap_or(0),
    };
    let use_bias = match kind {
        LayerKind::Dense(d) => d.use_bias,
        LayerKind::Conv2D(c) => c.use_bias,
        LayerKind::DepthwiseConv2D(c) => c.use_bias,
        _ => false,
    };
    let bias = if use_bias {
        Some(
            g.layer_weight(layer, "bias")
                .ok_or_else(|| missing("bias"))?
                .to_vec(),
        )
    } else {
        None
    };
    if channels == 0 || kernel.len() % channels != 0 {
        return Err(missing("kernel of a known shape"));
    }
    Ok(Kernel {
        kernel: kernel.to_vec(),
        bias,
        channels,
    })
}

/// Checks that kiln's int8 engine runs every op of `plan`: the error names the float
/// layer an op comes from.
pub fn check_int8_kernels(plan: &Plan) -> Result<()> {
    for op in plan.ops.iter().filter(|op| !op.is_input()) {
        if !op.kind.op().runs(DType::I8) {
            let activation = match op.kind {
                LayerKind::Softmax(_) => Some("softmax"),
                LayerKind::Activation(a) => Some(activation_name(a.0)),
                _ => None,
            };
            let detail = match activation {
                Some(a) if op.origin.class != op.kind.class_name() => {
                    format!(": its activation '{a}' has none")
                }
                _ => String::new(),
            };
            return Err(no_kernel(&op.origin.layer, op.origin.class, detail));
        }
        if !super::build::makes_params(&op.kind) {
            return Err(QuantizeError::NotHandled {
                layer: op.origin.layer.clone(),
                class: op.origin.class,
            });
        }
    }
    Ok(())
}
