//! The one graph IR every model becomes, however it was built (Sequential now; Functional
//! and subclassed models build the same structure).
//!
//! * A [`Layer`] is a configured operation with a name; it owns weights (by position in the
//!   model's flat weight buffer) but no values.
//! * A [`Node`] is one application of a layer to tensors. A shared layer has several nodes.
//!   Each node makes exactly one tensor, so a tensor is named by its node's index.
//! * Nodes are stored in the order they were created, which is a topological order: a node
//!   only refers to nodes before it.

pub mod config;
pub(crate) mod infer;
pub mod layer;
mod spec;
pub mod storage;
pub mod tensor;

#[cfg_attr(not(feature = "all-ops"), allow(unused_imports))]
pub(crate) use layer::weight;
pub use layer::{LayerKind, WeightSpec, WeightSpecs};
pub use spec::LayerBuilder;
pub use spec::LayerSpec;
#[cfg(feature = "alloc")]
pub use storage::Heap;
pub use storage::{Fixed, List, Storage, Text, MAX_IO, MAX_NODE_INPUTS};
pub use tensor::{DType, Element, Quant};

use crate::error::{Error, MAX_TENSOR_ELEMENTS};
use crate::name::{self, for_error, AutoNames};
use crate::shape::Shape;

/// Index of a layer in [`Graph::all_layers`].
pub type LayerId = u16;
/// Index of a node in [`Graph::nodes`]; also names the tensor the node makes.
pub type NodeId = u16;

/// Most layers and most nodes any graph holds: ids are 16-bit.
pub const MAX_GRAPH_ITEMS: usize = u16::MAX as usize;

/// A named, configured layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer<S: Storage> {
    /// Keras's `layer.name`, unique within the model.
    pub name: S::Name,
    /// What the layer is and its configuration.
    pub kind: LayerKind,
    /// Keras's `layer.trainable`.
    pub trainable: bool,
    /// The nested model this layer belongs to; `None` for the model's own layers.
    pub parent: Option<LayerId>,
    /// Where the layer's weights start in the weight buffer (in bytes, a multiple of
    /// [`WEIGHT_ALIGN`]), once it is built.
    pub weights_at: Option<u32>,
}

impl<S: Storage> Layer<S> {
    /// Keras's class name (`Dense`, `Conv2D`, …), as `summary()` prints it.
    pub fn class_name(&self) -> &'static str {
        self.kind.class_name()
    }
}

/// One application of a layer; its output tensor has `shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node<S: Storage> {
    /// The layer this node is a call of.
    pub layer: LayerId,
    /// The tensors the layer was called on, as Keras records them ("Connected to").
    pub inputs: S::Few<NodeId>,
    /// The output tensor's shape, batch axis first (`None` where unknown).
    pub shape: Shape,
    /// Set when this node computes nothing and its tensor *is* another node's: a nested
    /// model's call is a view of its inner output, its InputLayer a view of the outer
    /// tensor it was called on.
    pub view_of: Option<NodeId>,
    /// The `training=` argument of this call, if one was given (Keras resolves a missing
    /// one from the enclosing call, then from the layer's own default).
    pub training: Option<bool>,
    /// The tensor's element type.
    pub dtype: DType,
    /// How its values are quantized, if they are.
    pub quant: Quant,
}

/// How the model was built; `summary` and `layers` follow Keras's rules for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// `keras.Sequential`.
    Sequential,
    /// `keras.Model(inputs, outputs)`.
    Functional,
    /// A subclassed model traced by running its `call` once.
    Subclassed,
}

/// Every layer's weights start at a multiple of this many bytes in the weight buffer, and
/// each of its variables at a multiple of its dtype's size.
pub const WEIGHT_ALIGN: usize = 4;

/// A model as layers, nodes and tensor shapes, kept in storage `S` ([`Fixed<N>`]: at most
/// `N` layers and `N` nodes, inline; `Heap`: as many as needed), with its weights borrowed
/// from one byte buffer (RAM or flash) that holds every variable in its own dtype.
#[derive(Clone, Debug)]
pub struct Graph<'w, S: Storage> {
    pub(crate) name: S::Name,
    pub(crate) kind: ModelKind,
    pub(crate) layers: S::List<Layer<S>>,
    pub(crate) nodes: S::List<Node<S>>,
    pub(crate) inputs: S::Few<NodeId>,
    pub(crate) outputs: S::Few<NodeId>,
    pub(crate) weights: &'w [u8],
    /// Bytes of the weight buffer the layers' `weights_at` index into. Sub-models made
    /// from a bigger model share its buffer, so this can exceed what their layers use.
    pub(crate) weight_len: usize,
    pub(crate) auto_names: AutoNames<S>,
}

impl<'w, S: Storage> Graph<'w, S> {
    /// An empty graph named `name` ([`Error::NameTooLong`] when the storage cannot hold it).
    pub fn new(name: &str, kind: ModelKind) -> Result<Self, Error> {
        let mut graph = Self::new_unnamed(kind, "");
        graph.name = name::stored(name)?;
        Ok(graph)
    }

    /// An empty graph with one of kiln's own short names (`sequential`, `functional`).
    pub(crate) fn new_unnamed(kind: ModelKind, default_name: &'static str) -> Self {
        Graph {
            name: S::Name::from_str(default_name).unwrap_or_default(),
            kind,
            layers: Default::default(),
            nodes: Default::default(),
            inputs: Default::default(),
            outputs: Default::default(),
            weights: &[],
            weight_len: 0,
            auto_names: AutoNames::new(),
        }
    }

    pub(crate) fn set_inputs(&mut self, nodes: &[NodeId]) -> Result<(), Error> {
        self.inputs = storage::collect(nodes.iter().copied(), "model inputs")?;
        Ok(())
    }

    pub(crate) fn set_outputs(&mut self, nodes: &[NodeId]) -> Result<(), Error> {
        self.outputs = storage::collect(nodes.iter().copied(), "model outputs")?;
        Ok(())
    }

    /// Keras's `model.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model (Keras's `model.name = …`; e.g. before nesting two models of
    /// one name).
    pub fn set_name(&mut self, name: &str) -> Result<(), Error> {
        self.name = crate::name::stored(name)?;
        Ok(())
    }

    /// How the model was built.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Every layer, nested ones and InputLayers included, in creation order.
    pub fn all_layers(&self) -> &[Layer<S>] {
        &self.layers
    }

    /// Every node (layer call), in creation order, which is a topological order.
    pub fn nodes(&self) -> &[Node<S>] {
        &self.nodes
    }

    /// The nodes of the model's inputs (`model.inputs`), in order.
    pub fn input_nodes(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The nodes of the model's outputs (`model.outputs`), in order.
    pub fn output_nodes(&self) -> &[NodeId] {
        &self.outputs
    }

    /// The layer `id`, if it exists.
    pub fn layer(&self, id: LayerId) -> Option<&Layer<S>> {
        self.layers.get(id as usize)
    }

    /// The name of the layer whose call is node `node` (`""` past the end).
    pub fn node_layer_name(&self, node: usize) -> &str {
        self.nodes
            .get(node)
            .and_then(|n| self.layers.get(n.layer as usize))
            .map_or("", |l| &*l.name)
    }

    /// Keras's `layer.trainable = …` (on a nested model it freezes everything inside).
    pub fn set_trainable(&mut self, id: LayerId, trainable: bool) {
        if let Some(layer) = self.layers.get_mut(id as usize) {
            layer.trainable = trainable;
        }
    }

    /// The node whose tensor `node`'s tensor is, following views.
    pub fn resolve(&self, mut node: NodeId) -> NodeId {
        // Views only point backwards, so this ends within `nodes.len()` steps.
        for _ in 0..self.nodes.len() {
            match self.nodes.get(node as usize).and_then(|n| n.view_of) {
                Some(target) if target < node => node = target,
                _ => break,
            }
        }
        node
    }

    /// Adds a layer (not yet applied to anything), naming it if it has no name.
    pub fn add_layer(&mut self, spec: LayerSpec<'_>) -> Result<LayerId, Error> {
        spec.check()?;
        let name: S::Name = match spec.name {
            Some(name) => name::stored(name)?,
            None => self.auto_names.next(spec.kind.auto_name_prefix())?,
        };
        spec.kind.validate(&name)?;
        if self
            .layers
            .iter()
            .any(|l| l.name == name && l.parent.is_none())
        {
            return Err(Error::DuplicateName {
                name: for_error(&name),
                count: 2,
            });
        }
        self.push_layer(Layer {
            name,
            kind: spec.kind,
            trainable: spec.trainable,
            parent: None,
            weights_at: None,
        })
    }

    pub(crate) fn push_layer(&mut self, layer: Layer<S>) -> Result<LayerId, Error> {
        let id = next_id(self.layers.len(), "layers")?;
        storage::push(&mut self.layers, layer, "layers")?;
        Ok(id)
    }

    /// Removes the most recently added layer if it has no node (used to undo a failed add).
    pub(crate) fn pop_unapplied_layer(&mut self) {
        let last = self.layers.len().wrapping_sub(1) as LayerId;
        if !self.nodes.iter().any(|n| n.layer == last) {
            self.layers.pop();
        }
    }

    /// Applies layer `layer` to the tensors `inputs`, inferring the output shape and
    /// dtype. The first application builds the layer: its weights get their place in the
    /// buffer.
    pub fn add_node(&mut self, layer: LayerId, inputs: &[NodeId]) -> Result<NodeId, Error> {
        let l = self.layers.get(layer as usize).ok_or(Error::NoSuchLayer)?;
        let mut shapes: S::Few<Shape> = Default::default();
        let mut dtypes: S::Few<DType> = Default::default();
        for &input in inputs {
            let node = self
                .nodes
                .get(input as usize)
                .ok_or_else(|| Error::IncompatibleInput {
                    layer: for_error(&l.name),
                    found: Shape::SCALAR,
                    expected: "an existing input tensor",
                })?;
            storage::push(&mut shapes, node.shape, "inputs of one node")?;
            storage::push(&mut dtypes, node.dtype, "inputs of one node")?;
        }
        let shape = l.kind.output_shape_of(&l.name, &shapes)?;
        let dtype = l.kind.op().output_dtype(&dtypes);
        // Every tensor must fit a 32-bit device's memory (MAX_TENSOR_ELEMENTS); so must
        // what a host would allocate to run it.
        let weights = shapes
            .first()
            .map(|s| {
                l.kind
                    .weights(s, dtypes.first().copied().unwrap_or_default())
            })
            .unwrap_or_default();
        let too_large = |what, shape| Error::TooLarge {
            layer: for_error(&l.name),
            what,
            shape,
        };
        for w in &weights {
            if w.shape.elements().is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
                return Err(too_large(w.name, w.shape));
            }
        }
        let per_sample = (1..shape.rank())
            .filter_map(|axis| shape.dim(axis))
            .try_fold(1usize, |acc, d| acc.checked_mul(d as usize));
        if per_sample.is_none_or(|n| n > MAX_TENSOR_ELEMENTS) {
            return Err(too_large("output", shape));
        }
        let allocate = l.weights_at.is_none() && !weights.is_empty();
        let start = self.weight_len.next_multiple_of(WEIGHT_ALIGN);
        let end = layout(&weights, start).last().map_or(start, |r| r.end);
        let id = self.push_node(layer, inputs, shape, None)?;
        self.nodes[id as usize].dtype = dtype;
        if allocate {
            let at = u32::try_from(start).map_err(|_| Error::Capacity {
                what: "weight bytes",
                capacity: u32::MAX as usize,
            })?;
            self.layers[layer as usize].weights_at = Some(at);
            self.weight_len = end;
        }
        Ok(id)
    }

    /// Sets how tensor `node`'s values are quantized (the host's quantizer does this).
    pub fn set_quant(&mut self, node: NodeId, quant: Quant) -> Result<(), Error> {
        let node = self
            .nodes
            .get_mut(node as usize)
            .ok_or(Error::NoSuchLayer)?;
        node.quant = quant;
        Ok(())
    }

    pub(crate) fn push_node(
        &mut self,
        layer: LayerId,
        inputs: &[NodeId],
        shape: Shape,
        view_of: Option<NodeId>,
    ) -> Result<NodeId, Error> {
        let inputs = storage::collect(inputs.iter().copied(), "inputs of one node")?;
        let id = next_id(self.nodes.len(), "nodes")?;
        let dtype = view_of
            .and_then(|v| self.nodes.get(v as usize))
            .map_or(DType::F32, |n| n.dtype);
        let node = Node {
            layer,
            inputs,
            shape,
            view_of,
            training: None,
            dtype,
            quant: Quant::None,
        };
        storage::push(&mut self.nodes, node, "nodes")?;
        Ok(id)
    }

    /// The first node of `layer`: its input shape decides the layer's weights.
    pub fn first_node(&self, layer: LayerId) -> Option<&Node<S>> {
        self.nodes.iter().find(|n| n.layer == layer)
    }

    /// The last node of `layer`: its output shape is what `summary` prints.
    pub fn last_node(&self, layer: LayerId) -> Option<&Node<S>> {
        self.nodes.iter().rev().find(|n| n.layer == layer)
    }

    /// True when the layer has been applied to a tensor of known shape.
    pub fn is_built(&self, layer: LayerId) -> bool {
        self.first_node(layer).is_some()
    }

    /// The shape of the first tensor the layer was applied to (InputLayers: their own).
    pub fn layer_input_shape(&self, layer: LayerId) -> Option<Shape> {
        let node = self.first_node(layer)?;
        match node.inputs.first() {
            Some(&input) => self.nodes.get(input as usize).map(|n| n.shape),
            None => Some(node.shape),
        }
    }

    /// The dtype of the tensor the first call of `layer` takes (an InputLayer: its own).
    pub fn layer_input_dtype(&self, layer: LayerId) -> DType {
        let Some(node) = self.first_node(layer) else {
            return DType::F32;
        };
        match node.inputs.first() {
            Some(&input) => self
                .nodes
                .get(input as usize)
                .map_or(DType::F32, |n| n.dtype),
            None => node.dtype,
        }
    }

    /// The layers directly inside nested model `container`, in order.
    pub fn children(&self, container: LayerId) -> impl Iterator<Item = LayerId> + '_ {
        self.layers
            .iter()
            .enumerate()
            .filter(move |(_, l)| l.parent == Some(container))
            .map(|(i, _)| i as LayerId)
    }

    /// True when `layer` is `ancestor` or inside it.
    pub fn is_within(&self, mut layer: LayerId, ancestor: LayerId) -> bool {
        for _ in 0..=self.layers.len() {
            if layer == ancestor {
                return true;
            }
            match self.layers.get(layer as usize).and_then(|l| l.parent) {
                Some(p) => layer = p,
                None => return false,
            }
        }
        false
    }

    /// Keras's effective trainability: the layer's flag and every enclosing model's.
    pub fn is_trainable(&self, layer: LayerId) -> bool {
        let mut id = Some(layer);
        for _ in 0..=self.layers.len() {
            match id.and_then(|i| self.layers.get(i as usize)) {
                Some(l) if !l.trainable => return false,
                Some(l) => id = l.parent,
                None => return true,
            }
        }
        true
    }

    /// The weight variables of a built layer (empty when unbuilt, weightless or nested).
    pub fn layer_weights(&self, layer: LayerId) -> WeightSpecs {
        match (
            self.layers.get(layer as usize),
            self.layer_input_shape(layer),
        ) {
            (Some(l), Some(input)) => l.kind.weights(&input, self.layer_input_dtype(layer)),
            _ => WeightSpecs::new(),
        }
    }

    /// Keras's `layer.count_params()` (a nested model counts everything inside it);
    /// `None` when the layer is not built.
    pub fn layer_param_count(&self, layer: LayerId) -> Option<usize> {
        if !self.is_built(layer) {
            return None;
        }
        let own = self
            .layer_weights(layer)
            .iter()
            .filter(|w| w.param)
            .fold(0usize, |sum, w| sum.saturating_add(w.elements()));
        let inner = self.children(layer).fold(0usize, |sum, c| {
            sum.saturating_add(self.layer_param_count(c).unwrap_or(0))
        });
        Some(own.saturating_add(inner))
    }

    /// `(trainable, non_trainable)` parameter counts of the whole model.
    pub fn param_counts(&self) -> (usize, usize) {
        self.param_sums(WeightSpec::elements)
    }

    /// `(trainable, non_trainable)` bytes of the parameters (4 per float32 one, 1 per
    /// int8 one), as `summary` prints them.
    pub fn param_bytes(&self) -> (usize, usize) {
        self.param_sums(WeightSpec::bytes)
    }

    fn param_sums(&self, size: fn(&WeightSpec) -> usize) -> (usize, usize) {
        let mut counts = (0usize, 0usize);
        for id in 0..self.layers.len() as LayerId {
            let trainable = self.is_trainable(id);
            for w in self.layer_weights(id).iter().filter(|w| w.param) {
                let slot = if trainable && w.trainable {
                    &mut counts.0
                } else {
                    &mut counts.1
                };
                *slot = slot.saturating_add(size(w));
            }
        }
        counts
    }

    /// Keras's `model.count_params()`.
    pub fn count_params(&self) -> usize {
        let (t, n) = self.param_counts();
        t.saturating_add(n)
    }

    /// Bytes of the weight buffer this graph indexes: the sum of its variables' bytes
    /// (each aligned, see [`WEIGHT_ALIGN`]) for a model on its own, more for a sub-model
    /// sharing a bigger model's weights.
    pub fn weight_bytes(&self) -> usize {
        self.weight_len
    }

    /// Where layer `layer`'s first weight is in the buffer, in bytes (its variables follow
    /// in Keras's order: kernel, bias; gamma, beta, moving_mean, moving_variance).
    pub fn weight_offset(&self, layer: LayerId) -> Option<usize> {
        self.layers
            .get(layer as usize)?
            .weights_at
            .map(|a| a as usize)
    }

    /// Lends a float model its weights: for a model built in kiln or read from a `.keras`,
    /// Keras's `get_weights()` flattened and concatenated.
    pub fn set_weights(&mut self, weights: &'w [f32]) -> Result<(), Error> {
        self.set_weight_bytes(bytemuck::cast_slice(weights))
    }

    /// Lends the model its weight buffer: every variable in its own dtype, little-endian,
    /// laid out as [`weight_range`](Self::weight_range) says. The buffer must start at a
    /// multiple of 4 bytes in memory (a `kiln::format` blob's weights do).
    pub fn set_weight_bytes(&mut self, weights: &'w [u8]) -> Result<(), Error> {
        if weights.len() != self.weight_len {
            return Err(Error::WeightsLength {
                expected: self.weight_len,
                found: weights.len(),
            });
        }
        if weights.as_ptr() as usize % WEIGHT_ALIGN != 0 {
            return Err(Error::WeightsMisaligned);
        }
        self.weights = weights;
        Ok(())
    }

    /// The weight buffer's bytes.
    pub fn weights(&self) -> &'w [u8] {
        self.weights
    }

    /// The weight buffer as f32 values, when every variable is f32 (a float model).
    pub fn weights_f32(&self) -> Option<&'w [f32]> {
        let all_f32 = (0..self.layers.len() as LayerId)
            .all(|l| self.layer_weights(l).iter().all(|w| w.dtype == DType::F32));
        all_f32
            .then(|| bytemuck::try_cast_slice(self.weights).ok())
            .flatten()
    }

    /// The same graph without its weights, no longer borrowing them (to keep the graph
    /// while the weight buffer goes, e.g. a host tool copying them out of a blob).
    pub fn without_weights(self) -> Graph<'static, S> {
        Graph {
            name: self.name,
            kind: self.kind,
            layers: self.layers,
            nodes: self.nodes,
            inputs: self.inputs,
            outputs: self.outputs,
            weights: &[],
            weight_len: self.weight_len,
            auto_names: self.auto_names,
        }
    }

    /// Where one weight variable of a layer (`"kernel"`, `"bias"`, …) lives in the buffer,
    /// in bytes.
    pub fn weight_range(&self, layer: LayerId, name: &str) -> Option<core::ops::Range<usize>> {
        let specs = self.layer_weights(layer);
        let at = specs.iter().position(|w| w.name == name)?;
        let range = layout(&specs, self.weight_offset(layer)?).nth(at);
        range
    }

    /// The values of one f32 weight variable of a layer, if the model has its weights.
    pub fn layer_weight(&self, layer: LayerId, name: &str) -> Option<&'w [f32]> {
        bytemuck::try_cast_slice(self.weights.get(self.weight_range(layer, name)?)?).ok()
    }
}

/// The byte ranges of variables `specs` placed from byte `start`, each at a multiple of
/// its dtype's size.
pub(crate) fn layout(
    specs: &[WeightSpec],
    start: usize,
) -> impl Iterator<Item = core::ops::Range<usize>> + '_ {
    specs.iter().scan(start, |at, w| {
        let begin = at.next_multiple_of(w.dtype.align());
        let end = begin.saturating_add(w.bytes());
        *at = end;
        Some(begin..end)
    })
}

impl<S: Storage> Graph<'_, S> {
    /// Keras's `model.layers`: the model's own layers (not those inside nested models); a
    /// Sequential leaves out its InputLayer, a Functional model lists its InputLayers too.
    pub fn visible_layers(&self) -> impl Iterator<Item = LayerId> + '_ {
        // A subclassed model's input is Keras's call argument, not a layer.
        let skip_inputs = self.kind != ModelKind::Functional;
        self.layers
            .iter()
            .enumerate()
            .filter(move |(_, l)| {
                l.parent.is_none() && !(skip_inputs && l.kind.input_shape().is_some())
            })
            .map(|(i, _)| i as LayerId)
    }

    /// `layer.layers` of a nested model, by Keras's rule for its kind.
    pub fn nested_layers(&self, container: LayerId) -> impl Iterator<Item = LayerId> + '_ {
        let skip_inputs = self.layer(container).and_then(|l| l.kind.nested_model())
            == Some(ModelKind::Sequential);
        self.children(container).filter(move |&c| {
            !(skip_inputs && self.layers[c as usize].kind.input_shape().is_some())
        })
    }
}

/// The id the next item of a list of `len` gets, or an error past 16-bit ids.
fn next_id(len: usize, what: &'static str) -> Result<u16, Error> {
    u16::try_from(len)
        .ok()
        .filter(|&id| id < u16::MAX)
        .ok_or(Error::Capacity {
            what,
            capacity: MAX_GRAPH_ITEMS,
        })
}

#[cfg(test)]
mod tests;
