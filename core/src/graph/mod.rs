//! The one graph IR every model becomes, however it was built (Sequential now; Functional
//! and subclassed models build the same structure).
//!
//! * A [`Layer`] is a configured operation with a name; it owns weights (by position in the
//!   model's flat weight buffer) but no values.
//! * A [`Node`] is one application of a layer to tensors. A shared layer has several nodes.
//!   Each node makes exactly one tensor, so a tensor is named by its node's index.
//! * Nodes are stored in the order they were created, which is a topological order: a node
//!   only refers to nodes before it.

pub mod layer;
mod spec;

pub use layer::{LayerKind, WeightSpec, WeightSpecs};
pub use spec::LayerBuilder;
pub use spec::LayerSpec;

use crate::error::Error;
use crate::name::{AutoNames, Name};
use crate::shape::Shape;

/// Most tensors one node takes (merge layers such as `Concatenate`).
pub const MAX_NODE_INPUTS: usize = 8;
/// Most model inputs and outputs.
pub const MAX_IO: usize = 8;

/// Index of a layer in [`Graph::layers`].
pub type LayerId = u16;
/// Index of a node in [`Graph::nodes`]; also names the tensor the node makes.
pub type NodeId = u16;

/// A named, configured layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: Name,
    pub kind: LayerKind,
    /// Keras's `layer.trainable`.
    pub trainable: bool,
}

impl Layer {
    pub fn class_name(&self) -> &'static str {
        self.kind.class_name()
    }
}

/// One application of a layer; its output tensor has `shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub layer: LayerId,
    pub inputs: heapless::Vec<NodeId, MAX_NODE_INPUTS>,
    pub shape: Shape,
}

/// How the model was built; `summary` and `layers` follow Keras's rules for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    Sequential,
    Functional,
}

/// A model as layers, nodes and tensor shapes, holding at most `N` layers and `N` nodes,
/// with its weights borrowed from a flat buffer (RAM or flash).
#[derive(Clone, Debug)]
pub struct Graph<'w, const N: usize> {
    pub(crate) name: Name,
    pub(crate) kind: ModelKind,
    pub(crate) layers: heapless::Vec<Layer, N>,
    pub(crate) nodes: heapless::Vec<Node, N>,
    pub(crate) inputs: heapless::Vec<NodeId, MAX_IO>,
    pub(crate) outputs: heapless::Vec<NodeId, MAX_IO>,
    pub(crate) weights: &'w [f32],
    pub(crate) auto_names: AutoNames,
}

impl<'w, const N: usize> Graph<'w, N> {
    /// An empty graph.
    pub fn new(name: Name, kind: ModelKind) -> Self {
        Graph {
            name,
            kind,
            layers: heapless::Vec::new(),
            nodes: heapless::Vec::new(),
            inputs: heapless::Vec::new(),
            outputs: heapless::Vec::new(),
            weights: &[],
            auto_names: AutoNames::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// Every layer, InputLayers included, in creation order.
    pub fn all_layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn input_nodes(&self) -> &[NodeId] {
        &self.inputs
    }

    pub fn output_nodes(&self) -> &[NodeId] {
        &self.outputs
    }

    /// The layer `id`, if it exists.
    pub fn layer(&self, id: LayerId) -> Option<&Layer> {
        self.layers.get(id as usize)
    }

    /// Mutable access to a layer's flags (e.g. `trainable`); the kind and name stay fixed.
    pub fn set_trainable(&mut self, id: LayerId, trainable: bool) {
        if let Some(layer) = self.layers.get_mut(id as usize) {
            layer.trainable = trainable;
        }
    }

    /// Adds a layer (not yet applied to anything), naming it if it has no name.
    pub fn add_layer(&mut self, spec: LayerSpec) -> Result<LayerId, Error> {
        let name = match spec.name_choice()? {
            Some(name) => name,
            None => self.auto_names.next(spec.kind.auto_name_prefix())?,
        };
        spec.kind.validate(&name)?;
        if self.layers.iter().any(|l| l.name == name) {
            return Err(Error::DuplicateName { name, count: 2 });
        }
        let id = self.layers.len() as LayerId;
        self.layers
            .push(Layer {
                name,
                kind: spec.kind,
                trainable: spec.trainable,
            })
            .map_err(|_| Error::Capacity {
                what: "layers",
                capacity: N,
            })?;
        Ok(id)
    }

    /// Removes the most recently added layer if it has no node (used to undo a failed add).
    pub(crate) fn pop_unapplied_layer(&mut self) {
        let last = self.layers.len().wrapping_sub(1) as LayerId;
        if !self.nodes.iter().any(|n| n.layer == last) {
            self.layers.pop();
        }
    }

    /// Applies layer `layer` to the tensors `inputs`, inferring the output shape.
    pub fn add_node(&mut self, layer: LayerId, inputs: &[NodeId]) -> Result<NodeId, Error> {
        let l = self.layers.get(layer as usize).ok_or(Error::Capacity {
            what: "layers",
            capacity: N,
        })?;
        let shape = match (&l.kind, inputs) {
            (LayerKind::InputLayer(shape), []) => *shape,
            (_, [input]) => {
                let input = self
                    .nodes
                    .get(*input as usize)
                    .ok_or(Error::IncompatibleInput {
                        layer: l.name.clone(),
                        found: Shape::SCALAR,
                        expected: "an existing input tensor",
                    })?;
                l.kind.output_shape(&l.name, &input.shape)?
            }
            _ => {
                return Err(Error::IncompatibleInput {
                    layer: l.name.clone(),
                    found: Shape::SCALAR,
                    expected: "exactly one input tensor",
                })
            }
        };
        // Sizes must fit in usize on the target (a 32-bit MCU too).
        if let Some(&input) = inputs.first() {
            let input_shape = self.nodes.get(input as usize).map(|n| n.shape);
            let too_big = input_shape.is_some_and(|s| {
                l.kind
                    .weights(&s)
                    .iter()
                    .any(|w| w.shape.elements().is_none())
            }) || shape
                .dims()
                .iter()
                .skip(1)
                .flatten()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
                .is_none();
            if too_big {
                return Err(Error::IncompatibleInput {
                    layer: l.name.clone(),
                    found: input_shape.unwrap_or(Shape::SCALAR),
                    expected: "sizes whose weights and outputs fit in this target's memory",
                });
            }
        }
        let mut node_inputs = heapless::Vec::new();
        node_inputs
            .extend_from_slice(inputs)
            .map_err(|_| Error::Capacity {
                what: "inputs of one node",
                capacity: MAX_NODE_INPUTS,
            })?;
        let id = self.nodes.len() as NodeId;
        self.nodes
            .push(Node {
                layer,
                inputs: node_inputs,
                shape,
            })
            .map_err(|_| Error::Capacity {
                what: "nodes",
                capacity: N,
            })?;
        Ok(id)
    }

    /// The first node of `layer`: its input shape decides the layer's weights.
    pub fn first_node(&self, layer: LayerId) -> Option<&Node> {
        self.nodes.iter().find(|n| n.layer == layer)
    }

    /// The last node of `layer`: its output shape is what `summary` prints.
    pub fn last_node(&self, layer: LayerId) -> Option<&Node> {
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

    /// The weight variables of a built layer (empty when unbuilt or weightless).
    pub fn layer_weights(&self, layer: LayerId) -> WeightSpecs {
        match (
            self.layers.get(layer as usize),
            self.layer_input_shape(layer),
        ) {
            (Some(l), Some(input)) => l.kind.weights(&input),
            _ => WeightSpecs::new(),
        }
    }

    /// Keras's `layer.count_params()`; `None` when the layer is not built.
    pub fn layer_param_count(&self, layer: LayerId) -> Option<usize> {
        if !self.is_built(layer) {
            return None;
        }
        Some(
            self.layer_weights(layer)
                .iter()
                .map(WeightSpec::elements)
                .sum(),
        )
    }

    /// `(trainable, non_trainable)` parameter counts of the whole model.
    pub fn param_counts(&self) -> (usize, usize) {
        let mut counts = (0usize, 0usize);
        for (id, layer) in self.layers.iter().enumerate() {
            for w in self.layer_weights(id as LayerId) {
                let slot = if layer.trainable && w.trainable {
                    &mut counts.0
                } else {
                    &mut counts.1
                };
                *slot = slot.saturating_add(w.elements());
            }
        }
        counts
    }

    /// Keras's `model.count_params()`: the length of the flat weight buffer.
    pub fn count_params(&self) -> usize {
        let (t, n) = self.param_counts();
        t + n
    }

    /// Offset of layer `layer`'s first weight in the flat buffer (layers in order, each
    /// layer's variables in Keras's order: the concatenation of `model.get_weights()`).
    pub fn weight_offset(&self, layer: LayerId) -> usize {
        (0..layer).fold(0usize, |sum, id| {
            sum.saturating_add(self.layer_param_count(id).unwrap_or(0))
        })
    }

    /// Lends the model its weights: Keras's `get_weights()` flattened and concatenated.
    pub fn set_weights(&mut self, weights: &'w [f32]) -> Result<(), Error> {
        let expected = self.count_params();
        if weights.len() != expected {
            return Err(Error::WeightsLength {
                expected,
                found: weights.len(),
            });
        }
        self.weights = weights;
        Ok(())
    }

    pub fn weights(&self) -> &'w [f32] {
        self.weights
    }

    /// The values of one weight variable of a layer (`"kernel"`, `"bias"`, …), if the
    /// model has its weights.
    pub fn layer_weight(&self, layer: LayerId, name: &str) -> Option<&'w [f32]> {
        let mut offset = self.weight_offset(layer);
        for w in self.layer_weights(layer) {
            if w.name == name {
                return self.weights.get(offset..offset + w.elements());
            }
            offset += w.elements();
        }
        None
    }
}

impl<const N: usize> Graph<'_, N> {
    /// Keras's `model.layers`: a Sequential leaves out its InputLayer, a Functional model
    /// lists its InputLayers too.
    pub fn visible_layers(&self) -> impl Iterator<Item = LayerId> + '_ {
        let skip_inputs = self.kind == ModelKind::Sequential;
        self.layers
            .iter()
            .enumerate()
            .filter(move |(_, l)| !(skip_inputs && matches!(l.kind, LayerKind::InputLayer(_))))
            .map(|(i, _)| i as LayerId)
    }
}

#[cfg(test)]
mod tests;
