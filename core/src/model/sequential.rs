//! `keras.Sequential`: a plain stack of layers, one input, one output.

use crate::error::Error;
use crate::graph::{Graph, Layer, LayerId, LayerKind, LayerSpec, ModelKind, NodeId};
use crate::name::{self, Name};
use crate::shape::Shape;
use core::ops::{Deref, DerefMut};

/// A linear stack of at most `N` layers (InputLayer included), weights borrowed for `'w`.
///
/// With an [`Input`](crate::layers::Input) first, every layer is built as it is added and
/// shape errors show up at `add`, as in Keras. Without one, layers stay unbuilt (`summary`
/// shows `?` and `0 (unbuilt)`) until [`Sequential::build`].
#[derive(Clone, Debug)]
pub struct Sequential<'w, const N: usize = 32> {
    graph: Graph<'w, N>,
}

impl<'w, const N: usize> Sequential<'w, N> {
    /// An empty model named `sequential`.
    pub fn new() -> Self {
        Sequential {
            // "sequential" is 10 bytes, far below NAME_CAPACITY.
            graph: Graph::new(
                Name::try_from("sequential").unwrap_or_default(),
                ModelKind::Sequential,
            ),
        }
    }

    /// An empty model with Keras's `name=`.
    pub fn named(name: &str) -> Result<Self, Error> {
        Ok(Sequential {
            graph: Graph::new(name::name(name)?, ModelKind::Sequential),
        })
    }

    /// A model from a list of layers, as `keras.Sequential([...])`.
    pub fn from_layers<I, L>(layers: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = L>,
        L: Into<LayerSpec>,
    {
        let mut model = Sequential::new();
        for layer in layers {
            model.add(layer)?;
        }
        Ok(model)
    }

    /// Appends a layer; an `Input` may only come first. On error the model is unchanged.
    pub fn add(&mut self, layer: impl Into<LayerSpec>) -> Result<LayerId, Error> {
        let spec = layer.into();
        if let LayerKind::InputLayer(shape) = spec.kind {
            if !self.graph.layers.is_empty() {
                return Err(Error::InvalidConfig {
                    layer: self.graph.name.clone(),
                    reason: "an Input can only be the first layer of a Sequential model",
                });
            }
            if shape.rank() == 0 {
                return Err(Error::Capacity {
                    what: "dimensions in an Input shape",
                    capacity: crate::shape::MAX_RANK - 1,
                });
            }
        }
        let id = self.graph.add_layer(spec)?;
        if let Err(e) = self.connect(id) {
            self.graph.pop_unapplied_layer();
            return Err(e);
        }
        Ok(id)
    }

    /// Applies a freshly added layer to the current output, if the model is built.
    fn connect(&mut self, id: LayerId) -> Result<(), Error> {
        let is_input = matches!(
            self.graph.layers[id as usize].kind,
            LayerKind::InputLayer(_)
        );
        let node = if is_input {
            let node = self.graph.add_node(id, &[])?;
            self.graph.inputs.clear();
            let _ = self.graph.inputs.push(node);
            node
        } else {
            match self.graph.outputs.first().copied() {
                Some(last) => self.graph.add_node(id, &[last])?,
                None => return Ok(()),
            }
        };
        self.graph.outputs.clear();
        let _ = self.graph.outputs.push(node);
        Ok(())
    }

    /// Keras's `build(input_shape)`: adds an InputLayer of `input_shape` (batch axis
    /// included) and builds every layer. Does nothing on a built model.
    pub fn build(&mut self, input_shape: Shape) -> Result<(), Error> {
        if !self.graph.inputs.is_empty() {
            return Ok(());
        }
        let mut built = self.graph.clone();
        built.layers.clear();
        built.weight_len = 0;
        built.auto_names = self.graph.auto_names.clone();
        let input = built.add_layer(LayerSpec::new(LayerKind::InputLayer(input_shape)))?;
        let mut last: NodeId = built.add_node(input, &[])?;
        let _ = built.inputs.push(last);
        for layer in self.graph.layers.iter() {
            let id = built.push_layer(Layer {
                weights_at: None,
                ..layer.clone()
            })?;
            last = built.add_node(id, &[last])?;
        }
        let _ = built.outputs.push(last);
        self.graph = built;
        Ok(())
    }

    /// Appends a whole model as one layer (a nested model), as `Sequential.add(model)`.
    /// The model must already have an `Input`.
    pub fn add_model<const M: usize>(&mut self, model: &Graph<'_, M>) -> Result<LayerId, Error> {
        let last = self
            .graph
            .outputs
            .first()
            .copied()
            .ok_or_else(|| Error::Unbuilt {
                layer: model.name.clone(),
            })?;
        let node = self.graph.nest(model, &[last])?;
        self.graph.outputs.clear();
        let _ = self.graph.outputs.push(node);
        Ok(self.graph.nodes[node as usize].layer)
    }

    /// Keras's `model.layers` (without the InputLayer), by id.
    pub fn layers(&self) -> impl Iterator<Item = &crate::graph::Layer> + '_ {
        self.graph
            .visible_layers()
            .filter_map(|id| self.graph.layer(id))
    }

    /// The graph this model is.
    pub fn graph(&self) -> &Graph<'w, N> {
        &self.graph
    }

    pub fn into_graph(self) -> Graph<'w, N> {
        self.graph
    }
}

impl<const N: usize> Default for Sequential<'_, N> {
    fn default() -> Self {
        Sequential::new()
    }
}

/// A Sequential model is a graph: `summary`, `get_layer`, `predict` and the rest are the
/// graph's.
impl<'w, const N: usize> Deref for Sequential<'w, N> {
    type Target = Graph<'w, N>;
    fn deref(&self) -> &Graph<'w, N> {
        &self.graph
    }
}

impl<'w, const N: usize> DerefMut for Sequential<'w, N> {
    fn deref_mut(&mut self) -> &mut Graph<'w, N> {
        &mut self.graph
    }
}
