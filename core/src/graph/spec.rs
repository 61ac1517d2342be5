//! A layer on its way into a model: kind, optional name, `trainable`.

use super::layer::LayerKind;
use crate::error::Error;
use crate::name::for_error;
use crate::shape::ShapeError;

/// A layer waiting to be added to a model: its kind, an optional name (borrowed until the
/// model stores it), and its `trainable` flag.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec<'n> {
    /// What the layer is and its configuration.
    pub kind: LayerKind,
    /// Keras's `name=`; `None` gives the automatic name (`dense`, `dense_1`, …).
    pub name: Option<&'n str>,
    /// Keras's `trainable` (default true).
    pub trainable: bool,
    /// A mistake the builder could not report (builders return no `Result`): adding the
    /// layer reports it.
    pub(crate) invalid: Option<ShapeError>,
}

impl<'n> LayerSpec<'n> {
    /// A trainable layer of `kind` with an automatic name.
    pub fn new(kind: LayerKind) -> Self {
        LayerSpec {
            kind,
            name: None,
            trainable: true,
            invalid: None,
        }
    }

    /// Gives the layer an explicit name (Keras's `name=`).
    pub fn name(self, name: &'n str) -> Self {
        LayerSpec {
            name: Some(name),
            ..self
        }
    }

    /// Keras's `layer.trainable = …`.
    pub fn trainable(self, trainable: bool) -> Self {
        LayerSpec { trainable, ..self }
    }

    /// The builder's mistake, if it made one.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.invalid {
            Some(error) => Err(Error::Shape {
                layer: for_error(self.name.unwrap_or(self.kind.auto_name_prefix())),
                error,
            }),
            None => Ok(()),
        }
    }
}

/// `.name()` and `.trainable()` on every layer builder.
///
/// ```
/// use kiln::layers::{Dense, Input, LayerBuilder};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[3]))?;
/// let id = model.add(Dense::new(2).name("logits").trainable(false))?;
/// assert_eq!(&*model.layer(id).unwrap().name, "logits");
/// assert_eq!(model.param_counts(), (0, 8)); // (trainable, non-trainable)
/// # Ok::<(), kiln::Error>(())
/// ```
pub trait LayerBuilder<'n>: Into<LayerSpec<'n>> {
    /// Keras's `name=`: the layer's name instead of the automatic one.
    fn name(self, name: &'n str) -> LayerSpec<'n> {
        self.into().name(name)
    }
    /// Keras's `trainable=` (`layer.trainable = False` to freeze it).
    fn trainable(self, trainable: bool) -> LayerSpec<'n> {
        self.into().trainable(trainable)
    }
}

impl<'n, T: Into<LayerSpec<'n>>> LayerBuilder<'n> for T {}
