//! The Functional API: call layers on symbolic tensors, then make models from any inputs
//! and outputs, as `keras.Model(inputs, outputs)` does.
//!
//! [`Functional`] is the workspace where tensors live (Keras keeps them in the session):
//! layers are created and applied there, and [`Functional::model`] cuts a model out of it.
//! Models cut from one workspace share its layers and its weight buffer layout, so
//! `backbone = model(processed, conv)` and `full = model(inputs, feature)` read the same
//! weights: change a value through one and the other sees it.

use crate::error::Error;
use crate::graph::storage::{self, List};
use crate::graph::{
    Fixed, Graph, Layer, LayerId, LayerKind, LayerSpec, ModelKind, NodeId, Storage,
};
use crate::name::for_error;
use crate::shape::Shape;
use core::fmt::Write;

/// How a model lists its layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LayerOrder {
    /// A Functional model: by depth from the outputs, as Keras's `_build_map`.
    Keras,
    /// A subclassed model: in the order its layers were created (attribute order).
    Creation,
}

/// A symbolic tensor: the output of one layer call in a [`Functional`] workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tensor(pub(crate) NodeId);

impl Tensor {
    /// The node that makes this tensor.
    pub fn node(&self) -> NodeId {
        self.0
    }
}

/// A workspace of layers and symbolic tensors kept in storage `S` ([`Fixed<N>`](Fixed): at
/// most `N` layers and `N` nodes, no heap).
///
/// ```
/// use kiln::layers::{Conv2D, Dense, GlobalAveragePooling2D, Input};
/// use kiln::{Fixed, Functional};
/// let mut ws = Functional::<Fixed<8>>::new();
/// let inputs = ws.input(Input::new(&[32, 32, 3]))?;
/// let conv = ws.call(Conv2D::new(8, [3, 3]), &[inputs])?;
/// let pooled = ws.call(GlobalAveragePooling2D::new(), &[conv])?;
/// let feature = ws.call(Dense::new(10), &[pooled])?;
/// let full = ws.model(&[inputs], &[feature])?; // keras.Model(inputs, feature)
/// let backbone = ws.model(&[inputs], &[conv])?; // the same Conv2D as full's
/// assert_eq!(full.count_params(), (3 * 3 * 3 * 8 + 8) + (8 * 10 + 10));
/// assert_eq!(backbone.count_params(), 3 * 3 * 3 * 8 + 8);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Functional<'w, S: Storage = Fixed<32>> {
    pub(crate) graph: Graph<'w, S>,
}

impl<'w, S: Storage> Default for Functional<'w, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'w, S: Storage> Functional<'w, S> {
    /// An empty workspace.
    pub fn new() -> Self {
        Functional {
            graph: Graph::new_unnamed(ModelKind::Functional, ""),
        }
    }

    /// `keras.Input(...)`: a new model input.
    pub fn input<'n>(&mut self, input: impl Into<LayerSpec<'n>>) -> Result<Tensor, Error> {
        let spec = input.into();
        if spec.kind.input_shape().is_none() {
            return Err(Error::InvalidConfig {
                layer: for_error(spec.name.unwrap_or_default()),
                reason: "Functional::input takes an Input",
            });
        }
        let id = self.graph.add_layer(spec)?;
        Ok(Tensor(self.graph.add_node(id, &[])?))
    }

    /// Creates a layer without calling it, to call it several times (a shared layer).
    pub fn layer<'n>(&mut self, layer: impl Into<LayerSpec<'n>>) -> Result<LayerId, Error> {
        let spec = layer.into();
        if spec.kind.input_shape().is_some() || spec.kind.nested_model().is_some() {
            return Err(Error::InvalidConfig {
                layer: for_error(spec.name.unwrap_or_default()),
                reason: "use Functional::input for inputs and Functional::call_model for models",
            });
        }
        self.graph.add_layer(spec)
    }

    /// Calls an existing layer on tensors: `layer(x)` or `layer([a, b])`.
    pub fn apply(&mut self, layer: LayerId, inputs: &[Tensor]) -> Result<Tensor, Error> {
        let nodes: S::Few<NodeId> =
            storage::collect(inputs.iter().map(|t| t.0), "inputs of one node")?;
        Ok(Tensor(self.graph.add_node(layer, &nodes)?))
    }

    /// Calls a layer with Keras's `training=` argument: `Dropout(0.5)(x, training=True)`.
    pub fn apply_training(
        &mut self,
        layer: LayerId,
        inputs: &[Tensor],
        training: Option<bool>,
    ) -> Result<Tensor, Error> {
        let t = self.apply(layer, inputs)?;
        if let Some(node) = self.graph.nodes.get_mut(t.0 as usize) {
            node.training = training;
        }
        Ok(t)
    }

    /// Creates a layer and calls it: `Dense(8)(x)`.
    pub fn call<'n>(
        &mut self,
        layer: impl Into<LayerSpec<'n>>,
        inputs: &[Tensor],
    ) -> Result<Tensor, Error> {
        let id = self.layer(layer)?;
        match self.apply(id, inputs) {
            Ok(t) => Ok(t),
            Err(e) => {
                self.graph.pop_unapplied_layer();
                Err(e)
            }
        }
    }

    /// Uses a whole model as a layer: `inner(x)`. Its layers are copied in as the nested
    /// model's children, with weights of their own in this workspace's buffer.
    pub fn call_model<T: Storage>(
        &mut self,
        model: &Graph<'_, T>,
        inputs: &[Tensor],
    ) -> Result<Tensor, Error> {
        let nodes: S::Few<NodeId> =
            storage::collect(inputs.iter().map(|t| t.0), "inputs of the nested model")?;
        self.graph.nest(model, &nodes).map(Tensor)
    }

    /// Sets how a symbolic tensor's values are quantized (an int8 model's scales and zero
    /// points; the host's quantizer and `.tflite` importer set them).
    pub fn set_quant(&mut self, tensor: Tensor, quant: crate::graph::Quant) -> Result<(), Error> {
        self.graph.set_quant(tensor.0, quant)
    }

    /// How a symbolic tensor's values are quantized.
    pub fn quant(&self, tensor: Tensor) -> crate::graph::Quant {
        self.graph
            .nodes
            .get(tensor.0 as usize)
            .map_or(crate::graph::Quant::None, |n| n.quant)
    }

    /// The name of a layer of this workspace (`""` for no such layer).
    pub fn layer_name(&self, layer: LayerId) -> &str {
        self.graph.layer(layer).map_or("", |l| &l.name)
    }

    /// The dtype of a symbolic tensor.
    pub fn dtype(&self, tensor: Tensor) -> crate::graph::DType {
        self.graph
            .nodes
            .get(tensor.0 as usize)
            .map_or(crate::graph::DType::F32, |n| n.dtype)
    }

    /// The shape of a symbolic tensor.
    pub fn shape(&self, tensor: Tensor) -> Shape {
        self.graph
            .nodes
            .get(tensor.0 as usize)
            .map_or(Shape::SCALAR, |n| n.shape)
    }

    /// The layer with this name in the workspace (for `trainable`, weights, …).
    pub fn layer_id(&self, name: &str) -> Option<LayerId> {
        self.graph
            .layers
            .iter()
            .position(|l| l.parent.is_none() && *l.name == *name)
            .map(|i| i as LayerId)
    }

    /// Keras's `layer.trainable = …` on a workspace layer.
    pub fn set_trainable(&mut self, layer: LayerId, trainable: bool) {
        self.graph.set_trainable(layer, trainable);
    }

    /// `keras.Model(inputs, outputs)`, named `functional`, `functional_1`, ….
    pub fn model(&mut self, inputs: &[Tensor], outputs: &[Tensor]) -> Result<Graph<'w, S>, Error> {
        let name = self.graph.auto_names.next("functional")?;
        self.build_model(name, inputs, outputs, LayerOrder::Keras)
    }

    /// `keras.Model(inputs, outputs, name=…)`.
    pub fn model_named(
        &mut self,
        name: &str,
        inputs: &[Tensor],
        outputs: &[Tensor],
    ) -> Result<Graph<'w, S>, Error> {
        let name = crate::name::stored(name)?;
        self.build_model(name, inputs, outputs, LayerOrder::Keras)
    }

    /// Bytes of the weight buffer every model of this workspace indexes.
    pub fn weight_bytes(&self) -> usize {
        self.graph.weight_len
    }

    pub(crate) fn build_model(
        &self,
        name: S::Name,
        inputs: &[Tensor],
        outputs: &[Tensor],
        layer_order: LayerOrder,
    ) -> Result<Graph<'w, S>, Error> {
        let g = &self.graph;
        let count = g.nodes.len();
        let layer_count = g.layers.len();
        if outputs.is_empty() {
            return Err(Error::InvalidConfig {
                layer: for_error(&name),
                reason: "a model needs at least one output",
            });
        }
        for t in inputs.iter().chain(outputs) {
            if t.0 as usize >= count {
                return Err(Error::InvalidConfig {
                    layer: for_error(&name),
                    reason: "an input or output is not a tensor of this workspace",
                });
            }
        }
        let is_input = |n: usize| inputs.iter().any(|t| t.0 as usize == n);
        // Nodes the outputs need, walking back to the inputs (through nested calls). A node
        // is marked when it is pushed, so each is pushed once and the stack fits the nodes.
        let mut needed: S::List<bool> = storage::filled(count, false, "nodes")?;
        let mut stack: S::List<usize> = Default::default();
        for t in outputs {
            if !core::mem::replace(&mut needed[t.0 as usize], true) {
                storage::push(&mut stack, t.0 as usize, "nodes")?;
            }
        }
        while let Some(n) = stack.pop() {
            if is_input(n) {
                continue;
            }
            let node = &g.nodes[n];
            if node.inputs.is_empty()
                && node.view_of.is_none()
                && g.layers[node.layer as usize].kind.input_shape().is_some()
                && g.layers[node.layer as usize].parent.is_none()
            {
                // Keras: "Graph disconnected".
                return Err(Error::IncompatibleInput {
                    layer: for_error(&g.layers[node.layer as usize].name),
                    found: node.shape,
                    expected: "to be one of the model's inputs (the graph is disconnected)",
                });
            }
            for &i in node.inputs.iter().chain(node.view_of.iter()) {
                if !core::mem::replace(&mut needed[i as usize], true) {
                    storage::push(&mut stack, i as usize, "nodes")?;
                }
            }
        }

        // Keras's layer order (Function._build_map): depth from the outputs, deepest first;
        // within a depth, the order a depth-first walk from the outputs first met the layer.
        let (depth, first_met) = keras_layer_order(g, inputs, outputs)?;
        let mut order: S::List<LayerId> = Default::default();
        for (id, layer) in g.layers.iter().enumerate() {
            if layer.parent.is_none() && depth[id] != usize::MAX {
                storage::push(&mut order, id as LayerId, "layers")?;
            }
        }
        if layer_order == LayerOrder::Keras {
            order.sort_unstable_by_key(|&id| {
                (
                    core::cmp::Reverse(depth[id as usize]),
                    first_met[id as usize],
                )
            });
        }

        let mut model: Graph<'w, S> = Graph::new_unnamed(ModelKind::Functional, "");
        model.name = name;
        model.weight_len = g.weight_len;
        let mut layer_map: S::List<LayerId> = storage::filled(layer_count, LayerId::MAX, "layers")?;
        let mut node_map: S::List<NodeId> = storage::filled(count, NodeId::MAX, "nodes")?;
        let mut clone_layer: S::Few<LayerId> =
            storage::filled(inputs.len(), LayerId::MAX, "model inputs")?;
        // A tensor that is not an InputLayer's becomes a new InputLayer named after it,
        // `keras_tensor_<n>CLONE`, as Keras names it; it sits at the deepest level.
        for (k, t) in inputs.iter().enumerate() {
            let n = t.0 as usize;
            let node = &g.nodes[n];
            let source = &g.layers[node.layer as usize];
            let is_input_layer = source.kind.input_shape().is_some()
                && node.inputs.is_empty()
                && source.parent.is_none();
            if !is_input_layer {
                let mut clone = S::Name::default();
                let _ = if n == 0 {
                    write!(clone, "keras_tensorCLONE")
                } else {
                    write!(clone, "keras_tensor_{n}CLONE")
                };
                clone_layer[k] = model.push_layer(Layer {
                    name: clone,
                    kind: LayerKind::InputLayer(crate::ops::InputLayer {
                        shape: node.shape,
                        dtype: node.dtype,
                    }),
                    trainable: true,
                    parent: None,
                    weights_at: None,
                })?;
            }
        }
        // The model's own layers in Keras's order, each followed by what it contains.
        for &id in order.iter() {
            if g.layers[id as usize].parent.is_none() {
                copy_layer_tree(g, &mut model, id, &mut layer_map)?;
            }
        }
        // Input nodes first, then the needed nodes in workspace (topological) order.
        for (k, t) in inputs.iter().enumerate() {
            let n = t.0 as usize;
            let node = &g.nodes[n];
            let layer = if clone_layer[k] != LayerId::MAX {
                clone_layer[k]
            } else {
                layer_map[node.layer as usize]
            };
            node_map[n] = model.push_node(layer, &[], node.shape, None)?;
            let copy = &mut model.nodes[node_map[n] as usize];
            (copy.dtype, copy.quant) = (node.dtype, node.quant);
            storage::push(&mut model.inputs, node_map[n], "model inputs")?;
        }
        for n in 0..count {
            if !needed[n] || is_input(n) {
                continue;
            }
            let node = &g.nodes[n];
            let mapped: S::Few<NodeId> = storage::collect(
                node.inputs.iter().map(|&i| node_map[i as usize]),
                "inputs of one node",
            )?;
            let view = node.view_of.map(|v| node_map[v as usize]);
            node_map[n] =
                model.push_node(layer_map[node.layer as usize], &mapped, node.shape, view)?;
            let copy = &mut model.nodes[node_map[n] as usize];
            copy.training = node.training;
            (copy.dtype, copy.quant) = (node.dtype, node.quant);
        }
        for t in outputs {
            storage::push(&mut model.outputs, node_map[t.0 as usize], "model outputs")?;
        }
        Ok(model)
    }
}

impl<'w, S: Storage> Graph<'w, S> {
    /// Calls model `inner` on `inputs` as a layer: a container layer named after the
    /// model, its layers copied in as children, its nodes replayed on the new inputs.
    pub(crate) fn nest<T: Storage>(
        &mut self,
        inner: &Graph<'_, T>,
        inputs: &[NodeId],
    ) -> Result<NodeId, Error> {
        let existing = self
            .layers
            .iter()
            .position(|l| l.parent.is_none() && *l.name == *inner.name)
            .map(|i| i as LayerId);
        // Calling the same model again shares it (one layer, two nodes), as in Keras; any
        // other layer of that name is a clash.
        let shared = match existing {
            None => None,
            Some(id)
                if self.layers[id as usize].kind.nested_model() == Some(inner.kind)
                    && self.same_layers(id, inner) =>
            {
                Some(id)
            }
            Some(_) => {
                return Err(Error::DuplicateName {
                    name: for_error(&inner.name),
                    count: 2,
                })
            }
        };
        let expected_inputs = if inner.inputs.is_empty() {
            1
        } else {
            inner.inputs.len()
        };
        if inputs.len() != expected_inputs || inner.outputs.len() > 1 {
            return Err(Error::BufferCount {
                what: "input of the nested model",
                expected: expected_inputs,
                found: inputs.len(),
            });
        }
        let layers_before = self.layers.len();
        let nodes_before = self.nodes.len();
        let weight_len_before = self.weight_len;
        let result = self.nest_inner(inner, inputs, shared);
        if result.is_err() {
            self.layers.truncate(layers_before);
            self.nodes.truncate(nodes_before);
            self.weight_len = weight_len_before;
        }
        result
    }

    /// True when nested model `container` holds layers named as `inner`'s, in order.
    fn same_layers<T: Storage>(&self, container: LayerId, inner: &Graph<'_, T>) -> bool {
        let mine = (0..self.layers.len() as LayerId)
            .filter(|&l| l != container && self.is_within(l, container));
        mine.map(|l| &*self.layers[l as usize].name)
            .eq(inner.layers.iter().map(|l| &*l.name))
    }

    fn nest_inner<T: Storage>(
        &mut self,
        inner: &Graph<'_, T>,
        inputs: &[NodeId],
        shared: Option<LayerId>,
    ) -> Result<NodeId, Error> {
        let mut layer_map: S::List<LayerId> =
            storage::filled(inner.layers.len(), LayerId::MAX, "layers")?;
        let container = match shared {
            Some(container) => {
                let mine = (0..self.layers.len() as LayerId)
                    .filter(|&l| l != container && self.is_within(l, container));
                for (slot, l) in layer_map.iter_mut().zip(mine) {
                    *slot = l;
                }
                container
            }
            None => {
                let container = self.push_layer(Layer {
                    name: crate::name::stored(&inner.name)?,
                    kind: LayerKind::Model(inner.kind),
                    trainable: true,
                    parent: None,
                    weights_at: None,
                })?;
                for (id, layer) in inner.layers.iter().enumerate() {
                    let parent = layer.parent.map_or(container, |p| layer_map[p as usize]);
                    layer_map[id] = self.push_layer(Layer {
                        name: crate::name::stored(&layer.name)?,
                        kind: layer.kind,
                        trainable: layer.trainable,
                        parent: Some(parent),
                        weights_at: None,
                    })?;
                }
                container
            }
        };
        let output = if inner.nodes.is_empty() {
            // An unbuilt Sequential: build it on these inputs, layer after layer.
            let mut last = inputs.first().copied().ok_or(Error::BufferCount {
                what: "input of the nested model",
                expected: 1,
                found: 0,
            })?;
            for (id, layer) in inner.layers.iter().enumerate() {
                if layer.kind.input_shape().is_none() {
                    last = self.add_node(layer_map[id], &[last])?;
                }
            }
            last
        } else {
            let mut node_map: S::List<NodeId> =
                storage::filled(inner.nodes.len(), NodeId::MAX, "nodes")?;
            for (n, node) in inner.nodes.iter().enumerate() {
                node_map[n] = match inner.inputs.iter().position(|&i| i as usize == n) {
                    // The inner InputLayer: a view of the tensor the model is called on.
                    Some(k) => {
                        let outer = inputs[k];
                        let shape = self
                            .nodes
                            .get(outer as usize)
                            .map_or(node.shape, |o| o.shape);
                        self.push_node(layer_map[node.layer as usize], &[], shape, Some(outer))?
                    }
                    None => {
                        let mapped: S::Few<NodeId> = storage::collect(
                            node.inputs.iter().map(|&i| node_map[i as usize]),
                            "inputs of one node",
                        )?;
                        match node.view_of {
                            Some(v) => {
                                let target = node_map[v as usize];
                                let shape = self
                                    .nodes
                                    .get(target as usize)
                                    .map_or(node.shape, |t| t.shape);
                                self.push_node(
                                    layer_map[node.layer as usize],
                                    &mapped,
                                    shape,
                                    Some(target),
                                )?
                            }
                            None => {
                                let n = self.add_node(layer_map[node.layer as usize], &mapped)?;
                                // An int8 model's tensors keep their quantization.
                                if node.quant != crate::graph::Quant::None {
                                    self.set_quant(n, node.quant)?;
                                }
                                n
                            }
                        }
                    }
                };
            }
            let out = inner.outputs.first().copied().unwrap_or(0);
            node_map[out as usize]
        };
        let shape = self
            .nodes
            .get(output as usize)
            .map_or(Shape::SCALAR, |n| n.shape);
        self.push_node(container, inputs, shape, Some(output))
    }
}

/// Copies layer `id` of `g` and, for a nested model, everything inside it. A nested model's
/// layers were copied into the workspace right after it, in order (`nest`), so they are
/// the layers that follow it while they are within it.
fn copy_layer_tree<S: Storage>(
    g: &Graph<'_, S>,
    model: &mut Graph<'_, S>,
    id: LayerId,
    layer_map: &mut [LayerId],
) -> Result<(), Error> {
    if layer_map[id as usize] != LayerId::MAX {
        return Ok(());
    }
    let mut copy = g.layers[id as usize].clone();
    copy.parent = None;
    layer_map[id as usize] = model.push_layer(copy)?;
    for inside in (id as usize + 1)..g.layers.len() {
        if !g.is_within(inside as LayerId, id) {
            break;
        }
        let mut copy = g.layers[inside].clone();
        copy.parent = g.layers[inside].parent.map(|p| layer_map[p as usize]);
        layer_map[inside] = model.push_layer(copy)?;
    }
    Ok(())
}

/// Keras's `_build_map` over the model's own nodes: per layer, its depth (max over its
/// nodes; `usize::MAX` if the model does not use it) and when the walk first met it.
/// One `usize` per layer of a workspace.
type PerLayer<S> = <S as Storage>::List<usize>;

fn keras_layer_order<S: Storage>(
    g: &Graph<'_, S>,
    inputs: &[Tensor],
    outputs: &[Tensor],
) -> Result<(PerLayer<S>, PerLayer<S>), Error> {
    let nodes = g.nodes.len();
    let layers = g.layers.len();
    let is_input = |n: usize| inputs.iter().any(|t| t.0 as usize == n);
    // An input that is not an InputLayer's tensor is replaced by a clone InputLayer: the
    // layer that made it is not part of the model.
    let cloned =
        |n: usize| is_input(n) && !(g.nodes[n].inputs.is_empty() && g.nodes[n].view_of.is_none());
    let mut first_met: S::List<usize> = storage::filled(layers, usize::MAX, "layers")?;
    let mut met = 0;
    // Post-order of the walk: nodes in decreasing depth.
    let mut finished: S::List<bool> = storage::filled(nodes, false, "nodes")?;
    let mut on_stack: S::List<bool> = storage::filled(nodes, false, "nodes")?;
    let mut post: S::List<usize> = Default::default();
    // (node, next input to visit) — an explicit stack instead of recursion.
    let mut stack: S::List<(usize, usize)> = Default::default();
    for t in outputs {
        let start = t.0 as usize;
        if start >= nodes || finished[start] {
            continue;
        }
        storage::push(&mut stack, (start, 0), "nodes")?;
        on_stack[start] = true;
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            let layer = g.nodes[n].layer as usize;
            if *next == 0 && first_met[layer] == usize::MAX && !cloned(n) {
                first_met[layer] = met;
                met += 1;
            }
            let ins: &[NodeId] = if is_input(n) { &[] } else { &g.nodes[n].inputs };
            if let Some(&child) = ins.get(*next) {
                *next += 1;
                let child = child as usize;
                if !finished[child] && !on_stack[child] {
                    storage::push(&mut stack, (child, 0), "nodes")?;
                    on_stack[child] = true;
                }
            } else {
                finished[n] = true;
                on_stack[n] = false;
                storage::push(&mut post, n, "nodes")?;
                stack.pop();
            }
        }
    }
    let mut node_depth: S::List<usize> = storage::filled(nodes, 0, "nodes")?;
    let mut layer_depth: S::List<usize> = storage::filled(layers, usize::MAX, "layers")?;
    for &n in post.iter().rev() {
        if cloned(n) {
            continue;
        }
        let layer = g.nodes[n].layer as usize;
        let previous = if layer_depth[layer] == usize::MAX {
            0
        } else {
            layer_depth[layer]
        };
        let depth = node_depth[n].max(previous);
        layer_depth[layer] = depth;
        node_depth[n] = depth;
        if !is_input(n) {
            for &parent in g.nodes[n].inputs.iter() {
                node_depth[parent as usize] = node_depth[parent as usize].max(depth + 1);
            }
        }
    }
    Ok((layer_depth, first_met))
}
