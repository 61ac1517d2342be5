//! The Functional API: call layers on symbolic tensors, then make models from any inputs
//! and outputs, as `keras.Model(inputs, outputs)` does.
//!
//! [`Functional`] is the workspace where tensors live (Keras keeps them in the session):
//! layers are created and applied there, and [`Functional::model`] cuts a model out of it.
//! Models cut from one workspace share its layers and its weight buffer layout, so
//! `backbone = model(processed, conv)` and `full = model(inputs, feature)` read the same
//! weights: change a value through one and the other sees it.

use crate::error::Error;
use crate::graph::{Graph, Layer, LayerId, LayerKind, LayerSpec, ModelKind, NodeId, MAX_IO};
use crate::name::{self, Name};
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

/// A workspace of layers and symbolic tensors holding at most `N` layers and `N` nodes.
#[derive(Clone, Debug)]
pub struct Functional<'w, const N: usize = 32> {
    pub(crate) graph: Graph<'w, N>,
}

impl<'w, const N: usize> Default for Functional<'w, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'w, const N: usize> Functional<'w, N> {
    pub fn new() -> Self {
        Functional {
            graph: Graph::new(Name::new(), ModelKind::Functional),
        }
    }

    /// `keras.Input(...)`: a new model input.
    pub fn input(&mut self, input: impl Into<LayerSpec>) -> Result<Tensor, Error> {
        let spec = input.into();
        if !matches!(spec.kind, LayerKind::InputLayer(_)) {
            return Err(Error::InvalidConfig {
                layer: spec.name_choice()?.unwrap_or_default(),
                reason: "Functional::input takes an Input",
            });
        }
        let id = self.graph.add_layer(spec)?;
        Ok(Tensor(self.graph.add_node(id, &[])?))
    }

    /// Creates a layer without calling it, to call it several times (a shared layer).
    pub fn layer(&mut self, layer: impl Into<LayerSpec>) -> Result<LayerId, Error> {
        let spec = layer.into();
        if matches!(spec.kind, LayerKind::InputLayer(_) | LayerKind::Model(_)) {
            return Err(Error::InvalidConfig {
                layer: spec.name_choice()?.unwrap_or_default(),
                reason: "use Functional::input for inputs and Functional::call_model for models",
            });
        }
        self.graph.add_layer(spec)
    }

    /// Calls an existing layer on tensors: `layer(x)` or `layer([a, b])`.
    pub fn apply(&mut self, layer: LayerId, inputs: &[Tensor]) -> Result<Tensor, Error> {
        let nodes: heapless::Vec<NodeId, { crate::graph::MAX_NODE_INPUTS }> =
            inputs.iter().map(|t| t.0).collect();
        if nodes.len() != inputs.len() {
            return Err(Error::Capacity {
                what: "inputs of one node",
                capacity: crate::graph::MAX_NODE_INPUTS,
            });
        }
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
    pub fn call(
        &mut self,
        layer: impl Into<LayerSpec>,
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
    pub fn call_model<const M: usize>(
        &mut self,
        model: &Graph<'_, M>,
        inputs: &[Tensor],
    ) -> Result<Tensor, Error> {
        let nodes: heapless::Vec<NodeId, MAX_IO> = inputs.iter().map(|t| t.0).collect();
        self.graph.nest(model, &nodes).map(Tensor)
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
            .position(|l| l.parent.is_none() && l.name == name)
            .map(|i| i as LayerId)
    }

    /// Keras's `layer.trainable = …` on a workspace layer.
    pub fn set_trainable(&mut self, layer: LayerId, trainable: bool) {
        self.graph.set_trainable(layer, trainable);
    }

    /// `keras.Model(inputs, outputs)`, named `functional`, `functional_1`, ….
    pub fn model(&mut self, inputs: &[Tensor], outputs: &[Tensor]) -> Result<Graph<'w, N>, Error> {
        let name = self.graph.auto_names.next("functional")?;
        self.build_model(name, inputs, outputs, LayerOrder::Keras)
    }

    /// `keras.Model(inputs, outputs, name=…)`.
    pub fn model_named(
        &mut self,
        name: &str,
        inputs: &[Tensor],
        outputs: &[Tensor],
    ) -> Result<Graph<'w, N>, Error> {
        let name = name::name(name)?;
        self.build_model(name, inputs, outputs, LayerOrder::Keras)
    }

    /// The weight buffer length every model of this workspace indexes.
    pub fn weight_len(&self) -> usize {
        self.graph.weight_len
    }

    pub(crate) fn build_model(
        &self,
        name: Name,
        inputs: &[Tensor],
        outputs: &[Tensor],
        layer_order: LayerOrder,
    ) -> Result<Graph<'w, N>, Error> {
        let g = &self.graph;
        let count = g.nodes.len();
        let is_input = |n: usize| inputs.iter().any(|t| t.0 as usize == n);
        // Nodes the outputs need, walking back to the inputs (through nested calls).
        let mut needed = [false; N];
        let mut stack: heapless::Vec<usize, N> = heapless::Vec::new();
        for t in outputs {
            if t.0 as usize >= count {
                return Err(Error::InvalidConfig {
                    layer: name,
                    reason: "an output is not a tensor of this workspace",
                });
            }
            let _ = stack.push(t.0 as usize);
        }
        while let Some(n) = stack.pop() {
            if core::mem::replace(&mut needed[n], true) || is_input(n) {
                continue;
            }
            let node = &g.nodes[n];
            if node.inputs.is_empty()
                && node.view_of.is_none()
                && matches!(g.layers[node.layer as usize].kind, LayerKind::InputLayer(_))
                && g.layers[node.layer as usize].parent.is_none()
            {
                // Keras: "Graph disconnected".
                return Err(Error::IncompatibleInput {
                    layer: g.layers[node.layer as usize].name.clone(),
                    found: node.shape,
                    expected: "to be one of the model's inputs (the graph is disconnected)",
                });
            }
            for &i in node.inputs.iter().chain(node.view_of.iter()) {
                let _ = stack.push(i as usize);
            }
        }

        // Keras's layer order (Function._build_map): depth from the outputs, deepest first;
        // within a depth, the order a depth-first walk from the outputs first met the layer.
        let (depth, first_met) = keras_layer_order(g, inputs, outputs);
        let mut order: heapless::Vec<LayerId, N> = heapless::Vec::new();
        for (id, layer) in g.layers.iter().enumerate() {
            if layer.parent.is_none() && depth[id] != usize::MAX {
                let _ = order.push(id as LayerId);
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

        let mut model: Graph<'w, N> = Graph::new(name, ModelKind::Functional);
        model.weight_len = g.weight_len;
        let mut layer_map = [LayerId::MAX; N];
        let mut node_map = [NodeId::MAX; N];
        let mut clone_layer = [LayerId::MAX; MAX_IO];
        // A tensor that is not an InputLayer's becomes a new InputLayer named after it,
        // `keras_tensor_<n>CLONE`, as Keras names it; it sits at the deepest level.
        for (k, t) in inputs.iter().enumerate() {
            let n = t.0 as usize;
            let node = g.nodes.get(n).ok_or(Error::Capacity {
                what: "nodes",
                capacity: N,
            })?;
            let source = &g.layers[node.layer as usize];
            let is_input_layer = matches!(source.kind, LayerKind::InputLayer(_))
                && node.inputs.is_empty()
                && source.parent.is_none();
            if !is_input_layer {
                let mut clone = Name::new();
                let _ = if n == 0 {
                    write!(clone, "keras_tensorCLONE")
                } else {
                    write!(clone, "keras_tensor_{n}CLONE")
                };
                clone_layer[k] = model.push_layer(Layer {
                    name: clone,
                    kind: LayerKind::InputLayer(node.shape),
                    trainable: true,
                    parent: None,
                    weights_at: None,
                })?;
            }
        }
        // The model's own layers in Keras's order, each followed by what it contains.
        for &id in &order {
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
            let _ = model.inputs.push(node_map[n]);
        }
        for n in 0..count {
            if !needed[n] || is_input(n) {
                continue;
            }
            let node = &g.nodes[n];
            let mut mapped: heapless::Vec<NodeId, { crate::graph::MAX_NODE_INPUTS }> =
                heapless::Vec::new();
            for &i in &node.inputs {
                let _ = mapped.push(node_map[i as usize]);
            }
            let view = node.view_of.map(|v| node_map[v as usize]);
            node_map[n] =
                model.push_node(layer_map[node.layer as usize], &mapped, node.shape, view)?;
            model.nodes[node_map[n] as usize].training = node.training;
        }
        for t in outputs {
            model
                .outputs
                .push(node_map[t.0 as usize])
                .map_err(|_| Error::Capacity {
                    what: "model outputs",
                    capacity: MAX_IO,
                })?;
        }
        Ok(model)
    }
}

impl<'w, const N: usize> Graph<'w, N> {
    /// Calls model `inner` on `inputs` as a layer: a container layer named after the
    /// model, its layers copied in as children, its nodes replayed on the new inputs.
    pub(crate) fn nest<const M: usize>(
        &mut self,
        inner: &Graph<'_, M>,
        inputs: &[NodeId],
    ) -> Result<NodeId, Error> {
        let existing = self
            .layers
            .iter()
            .position(|l| l.parent.is_none() && l.name == inner.name)
            .map(|i| i as LayerId);
        // Calling the same model again shares it (one layer, two nodes), as in Keras; any
        // other layer of that name is a clash.
        let shared = match existing {
            None => None,
            Some(id)
                if self.layers[id as usize].kind == LayerKind::Model(inner.kind)
                    && self.same_layers(id, inner) =>
            {
                Some(id)
            }
            Some(_) => {
                return Err(Error::DuplicateName {
                    name: inner.name.clone(),
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
    fn same_layers<const M: usize>(&self, container: LayerId, inner: &Graph<'_, M>) -> bool {
        let mine = (0..self.layers.len() as LayerId)
            .filter(|&l| l != container && self.is_within(l, container));
        mine.map(|l| &self.layers[l as usize].name)
            .eq(inner.layers.iter().map(|l| &l.name))
    }

    fn nest_inner<const M: usize>(
        &mut self,
        inner: &Graph<'_, M>,
        inputs: &[NodeId],
        shared: Option<LayerId>,
    ) -> Result<NodeId, Error> {
        let mut layer_map = [LayerId::MAX; M];
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
                    name: inner.name.clone(),
                    kind: LayerKind::Model(inner.kind),
                    trainable: true,
                    parent: None,
                    weights_at: None,
                })?;
                for (id, layer) in inner.layers.iter().enumerate() {
                    let mut copy = layer.clone();
                    copy.parent = Some(layer.parent.map_or(container, |p| layer_map[p as usize]));
                    copy.weights_at = None;
                    layer_map[id] = self.push_layer(copy)?;
                }
                container
            }
        };
        let output = if inner.nodes.is_empty() {
            // An unbuilt Sequential: build it on these inputs, layer after layer.
            let mut last = inputs[0];
            for (id, layer) in inner.layers.iter().enumerate() {
                if !matches!(layer.kind, LayerKind::InputLayer(_)) {
                    last = self.add_node(layer_map[id], &[last])?;
                }
            }
            last
        } else {
            let mut node_map = [NodeId::MAX; M];
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
                        let mapped: heapless::Vec<NodeId, { crate::graph::MAX_NODE_INPUTS }> =
                            node.inputs.iter().map(|&i| node_map[i as usize]).collect();
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
                            None => self.add_node(layer_map[node.layer as usize], &mapped)?,
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

/// Copies layer `id` of `g` and, for a nested model, everything inside it.
fn copy_layer_tree<const N: usize>(
    g: &Graph<'_, N>,
    model: &mut Graph<'_, N>,
    id: LayerId,
    layer_map: &mut [LayerId; N],
) -> Result<(), Error> {
    if layer_map[id as usize] != LayerId::MAX {
        return Ok(());
    }
    let layer = &g.layers[id as usize];
    let mut copy = layer.clone();
    copy.parent = layer.parent.map(|p| layer_map[p as usize]);
    layer_map[id as usize] = model.push_layer(copy)?;
    let children: heapless::Vec<LayerId, N> = g.children(id).collect();
    for child in children {
        copy_layer_tree(g, model, child, layer_map)?;
    }
    Ok(())
}

/// Keras's `_build_map` over the model's own nodes: per layer, its depth (max over its
/// nodes; `usize::MAX` if the model does not use it) and when the walk first met it.
fn keras_layer_order<const N: usize>(
    g: &Graph<'_, N>,
    inputs: &[Tensor],
    outputs: &[Tensor],
) -> ([usize; N], [usize; N]) {
    let is_input = |n: usize| inputs.iter().any(|t| t.0 as usize == n);
    // An input that is not an InputLayer's tensor is replaced by a clone InputLayer: the
    // layer that made it is not part of the model.
    let cloned =
        |n: usize| is_input(n) && !(g.nodes[n].inputs.is_empty() && g.nodes[n].view_of.is_none());
    let mut first_met = [usize::MAX; N];
    let mut met = 0;
    // Post-order of the walk: nodes in decreasing depth.
    let mut finished = [false; N];
    let mut post: heapless::Vec<usize, N> = heapless::Vec::new();
    // (node, next input to visit) — an explicit stack instead of recursion.
    let mut stack: heapless::Vec<(usize, usize), N> = heapless::Vec::new();
    for t in outputs {
        let start = t.0 as usize;
        if start >= g.nodes.len() || finished[start] {
            continue;
        }
        let _ = stack.push((start, 0));
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            let layer = g.nodes[n].layer as usize;
            if *next == 0 && first_met[layer] == usize::MAX && !cloned(n) {
                first_met[layer] = met;
                met += 1;
            }
            let ins: &[NodeId] = if is_input(n) { &[] } else { &g.nodes[n].inputs };
            if let Some(&child) = ins.get(*next) {
                *next += 1;
                if !finished[child as usize] && !stack.iter().any(|&(m, _)| m == child as usize) {
                    let _ = stack.push((child as usize, 0));
                }
            } else {
                finished[n] = true;
                let _ = post.push(n);
                stack.pop();
            }
        }
    }
    let mut node_depth = [0usize; N];
    let mut layer_depth = [usize::MAX; N];
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
            for &parent in &g.nodes[n].inputs {
                node_depth[parent as usize] = node_depth[parent as usize].max(depth + 1);
            }
        }
    }
    (layer_depth, first_met)
}
