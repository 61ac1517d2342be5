//! `keras.Sequential`: a plain stack of layers, one input, one output.

use crate::error::Error;
use crate::graph::{
    Fixed, Graph, Layer, LayerId, LayerKind, LayerSpec, List, ModelKind, NodeId, Storage,
};
use crate::name::for_error;
use crate::shape::Shape;
use core::ops::{Deref, DerefMut};

/// A linear stack of layers kept in storage `S` ([`Fixed<N>`](Fixed): at most `N` layers,
/// InputLayer included, no heap), weights borrowed for `'w`.
///
/// With an [`Input`](crate::layers::Input) first, every layer is built as it is added and
/// shape errors show up at `add`, as in Keras. Without one, layers stay unbuilt (`summary`
/// shows `?` and `0 (unbuilt)`) until [`Sequential::build`].
///
/// ```
/// use kiln::layers::{Dense, Input};
/// use kiln::{Activation, Fixed, Sequential};
/// // keras.Sequential([keras.Input((2,)), Dense(2, activation='relu'), Dense(1)])
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(Dense::new(2).activation(Activation::Relu))?;
/// model.add(Dense::new(1))?;
/// assert_eq!(model.layers().count(), 2); // model.layers leaves out the InputLayer
/// assert_eq!(model.count_params(), 9);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sequential<'w, S: Storage = Fixed<32>> {
    graph: Graph<'w, S>,
}

impl<'w, S: Storage> Sequential<'w, S> {
    /// An empty model named `sequential`.
    pub fn new() -> Self {
        Sequential {
            graph: Graph::new_unnamed(ModelKind::Sequential, "sequential"),
        }
    }

    /// An empty model with Keras's `name=`.
    pub fn named(name: &str) -> Result<Self, Error> {
        Ok(Sequential {
            graph: Graph::new(name, ModelKind::Sequential)?,
        })
    }

    /// A model from a list of layers, as `keras.Sequential([...])`.
    pub fn from_layers<'n, I, L>(layers: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = L>,
        L: Into<LayerSpec<'n>>,
    {
        let mut model = Sequential::new();
        for layer in layers {
            model.add(layer)?;
        }
        Ok(model)
    }

    /// Appends a layer; an `Input` may only come first. On error the model is unchanged.
    pub fn add<'n>(&mut self, layer: impl Into<LayerSpec<'n>>) -> Result<LayerId, Error> {
        let spec = layer.into();
        spec.check()?;
        if let Some(shape) = spec.kind.input_shape() {
            if !self.graph.layers.is_empty() {
                return Err(Error::InvalidConfig {
                    layer: for_error(&self.graph.name),
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
        let is_input = self.graph.layers[id as usize].kind.input_shape().is_some();
        let node = if is_input {
            let node = self.graph.add_node(id, &[])?;
            self.graph.set_inputs(&[node])?;
            node
        } else {
            match self.graph.outputs.first().copied() {
                Some(last) => self.graph.add_node(id, &[last])?,
                None => return Ok(()),
            }
        };
        self.graph.set_outputs(&[node])
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
        let input = built.add_layer(LayerSpec::new(LayerKind::input(input_shape)))?;
        let mut last: NodeId = built.add_node(input, &[])?;
        built.set_inputs(&[last])?;
        for layer in self.graph.layers.iter() {
            // The new InputLayer's automatic name may be one a layer was given (Keras's
            // Functional refuses the model then, as here).
            let top = |l: &Layer<S>| l.parent.is_none();
            if top(layer) && built.layers.iter().any(|l| top(l) && l.name == layer.name) {
                return Err(Error::DuplicateName {
                    name: for_error(&layer.name),
                    count: 2,
                });
            }
            let id = built.push_layer(Layer {
                weights_at: None,
                ..layer.clone()
            })?;
            last = built.add_node(id, &[last])?;
        }
        built.set_outputs(&[last])?;
        self.graph = built;
        Ok(())
    }

    /// Appends a whole model as one layer (a nested model), as `Sequential.add(model)`.
    /// The model must already have an `Input`.
    pub fn add_model<T: Storage>(&mut self, model: &Graph<'_, T>) -> Result<LayerId, Error> {
        let last = self
            .graph
            .outputs
            .first()
            .copied()
            .ok_or_else(|| Error::Unbuilt {
                layer: for_error(&model.name),
            })?;
        let node = self.graph.nest(model, &[last])?;
        self.graph.set_outputs(&[node])?;
        Ok(self.graph.nodes[node as usize].layer)
    }

    /// Keras's `model.layers` (without the InputLayer), by id.
    pub fn layers(&self) -> impl Iterator<Item = &Layer<S>> + '_ {
        self.graph
            .visible_layers()
            .filter_map(|id| self.graph.layer(id))
    }

    /// The graph this model is.
    pub fn graph(&self) -> &Graph<'w, S> {
        &self.graph
    }

    /// The graph this model is, by value (to keep or hand on without the wrapper).
    pub fn into_graph(self) -> Graph<'w, S> {
        self.graph
    }
}

impl<S: Storage> Default for Sequential<'_, S> {
    fn default() -> Self {
        Sequential::new()
    }
}

/// A Sequential model is a graph: `summary`, `get_layer`, `predict` and the rest are the
/// graph's.
impl<'w, S: Storage> Deref for Sequential<'w, S> {
    type Target = Graph<'w, S>;
    fn deref(&self) -> &Graph<'w, S> {
        &self.graph
    }
}

impl<'w, S: Storage> DerefMut for Sequential<'w, S> {
    fn deref_mut(&mut self) -> &mut Graph<'w, S> {
        &mut self.graph
    }
}
