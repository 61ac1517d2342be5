//! Subclassed models: a Rust type whose `call` composes layers, as a `keras.Model`
//! subclass does. Running `call` once on a shape traces it into the same graph IR, so
//! `summary`, `get_layer` and `predict` work on it like on any model.
//!
//! ```
//! use kiln::layers::{Dense, Dropout};
//! use kiln::model::{Call, Subclassed};
//! use kiln::{Activation, Error, Functional, Shape, Tensor};
//! use kiln::graph::{Fixed, LayerId};
//!
//! struct MyModel { dense1: LayerId, dense2: LayerId, dropout: LayerId }
//!
//! impl MyModel {
//!     // Keras's __init__: create the layers.
//!     fn new(s: &mut Subclassed<Fixed<8>>) -> Result<Self, Error> {
//!         Ok(MyModel {
//!             dense1: s.layer(Dense::new(32).activation(Activation::Relu))?,
//!             dense2: s.layer(Dense::new(5).activation(Activation::Softmax))?,
//!             dropout: s.layer(Dropout::new(0.5))?,
//!         })
//!     }
//! }
//!
//! impl Call<Fixed<8>> for MyModel {
//!     fn call(&self, f: &mut Functional<'_, Fixed<8>>, inputs: Tensor, training: Option<bool>) -> Result<Tensor, Error> {
//!         let x = f.apply(self.dense1, &[inputs])?;
//!         let x = f.apply_training(self.dropout, &[x], training)?;
//!         f.apply(self.dense2, &[x])
//!     }
//! }
//!
//! let mut s = Subclassed::<Fixed<8>>::named("my_model")?;
//! let my_model = MyModel::new(&mut s)?;
//! let shape = Shape::new(&[Some(1), Some(3)])?;
//! let model = s.trace(&my_model, shape)?;
//! assert_eq!(model.count_params(), 3 * 32 + 32 + 32 * 5 + 5);
//! # Ok::<(), Error>(())
//! ```

use crate::error::Error;
use crate::graph::{Fixed, Graph, LayerId, LayerKind, LayerSpec, ModelKind, Storage};
use crate::model::functional::{Functional, LayerOrder, Tensor};
use crate::shape::Shape;
#[cfg(feature = "summary")]
use crate::summary::{SummaryError, SummaryOptions};

/// The body of a subclassed model: Keras's `call(inputs, training=None)`.
pub trait Call<S: Storage> {
    /// Applies the model's layers to `inputs` in `f` (with [`Functional::apply`] and
    /// [`Functional::apply_training`]) and returns the output; `training` is the call's.
    fn call(
        &self,
        f: &mut Functional<'_, S>,
        inputs: Tensor,
        training: Option<bool>,
    ) -> Result<Tensor, Error>;
}

/// A subclassed model being defined: its layers, created in `__init__` order.
///
/// ```
/// use kiln::graph::{Fixed, LayerId};
/// use kiln::layers::Dense;
/// use kiln::model::{Call, Subclassed};
/// use kiln::{Error, Functional, Shape, Tensor};
///
/// struct Head(LayerId);
///
/// impl Call<Fixed<4>> for Head {
///     fn call(
///         &self,
///         f: &mut Functional<'_, Fixed<4>>,
///         x: Tensor,
///         _training: Option<bool>,
///     ) -> Result<Tensor, Error> {
///         f.apply(self.0, &[x])
///     }
/// }
///
/// let mut s = Subclassed::<Fixed<4>>::named("head")?;
/// let head = Head(s.layer(Dense::new(2))?); // __init__
/// let model = s.trace(&head, Shape::new(&[Some(1), Some(3)])?)?; // head(np.zeros((1, 3)))
/// assert_eq!(model.count_params(), 3 * 2 + 2);
/// # Ok::<(), Error>(())
/// ```
pub struct Subclassed<'w, S: Storage = Fixed<32>> {
    name: S::Name,
    workspace: Functional<'w, S>,
}

impl<'w, S: Storage> Subclassed<'w, S> {
    /// A model named like Keras names a subclass (`MyModel` → `my_model`).
    pub fn named(name: &str) -> Result<Self, Error> {
        Ok(Subclassed {
            name: crate::name::stored(name)?,
            workspace: Functional::new(),
        })
    }

    /// Creates one of the model's layers (an attribute set in `__init__`).
    pub fn layer<'n>(&mut self, layer: impl Into<LayerSpec<'n>>) -> Result<LayerId, Error> {
        self.workspace.layer(layer)
    }

    /// The model before it has run: every layer unbuilt, as Keras's summary shows it.
    pub fn unbuilt(&self) -> Graph<'w, S> {
        let mut graph = self.workspace.graph.clone();
        graph.name = self.name.clone();
        graph.kind = ModelKind::Subclassed;
        graph
    }

    /// `summary()` before the model has run.
    #[cfg(feature = "summary")]
    pub fn summary<'o>(
        &self,
        options: &SummaryOptions<'o>,
        print_fn: &mut dyn FnMut(&dyn core::fmt::Display),
    ) -> Result<(), SummaryError<'o>> {
        self.unbuilt().summary(options, print_fn)
    }

    /// Runs `call` once on a tensor of `input_shape` (batch axis included: `(1, 3)` after
    /// `model(np.zeros((1, 3)))`, `(None, 3)` for `build((None, 3))`) and returns the
    /// traced model.
    pub fn trace(&self, body: &impl Call<S>, input_shape: Shape) -> Result<Graph<'w, S>, Error> {
        let mut workspace = self.workspace.clone();
        let x = workspace.input(LayerSpec::new(LayerKind::input(input_shape)))?;
        let y = body.call(&mut workspace, x, None)?;
        let mut graph =
            workspace.build_model(self.name.clone(), &[x], &[y], LayerOrder::Creation)?;
        graph.kind = ModelKind::Subclassed;
        Ok(graph)
    }
}
