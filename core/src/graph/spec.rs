//! A layer on its way into a model: kind, optional name, `trainable`.

use super::layer::LayerKind;
use crate::error::Error;
use crate::name::{self, Name};

/// A layer waiting to be added to a model: its kind, an optional name, and its
/// `trainable` flag.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    pub kind: LayerKind,
    name: NameChoice,
    pub trainable: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum NameChoice {
    Auto,
    Given(Name),
    /// Remembered so that `add` can report it (builders do not return `Result`).
    TooLong(usize),
}

impl LayerSpec {
    pub fn new(kind: LayerKind) -> Self {
        LayerSpec {
            kind,
            name: NameChoice::Auto,
            trainable: true,
        }
    }

    /// Gives the layer an explicit name (Keras's `name=`).
    pub fn name(self, name: &str) -> Self {
        let name = match name::name(name) {
            Ok(n) => NameChoice::Given(n),
            Err(_) => NameChoice::TooLong(name.len()),
        };
        LayerSpec { name, ..self }
    }

    /// Keras's `layer.trainable = …`.
    pub fn trainable(self, trainable: bool) -> Self {
        LayerSpec { trainable, ..self }
    }

    pub(crate) fn name_choice(&self) -> Result<Option<Name>, Error> {
        match &self.name {
            NameChoice::Auto => Ok(None),
            NameChoice::Given(n) => Ok(Some(n.clone())),
            NameChoice::TooLong(length) => Err(Error::NameTooLong {
                length: *length,
                capacity: name::NAME_CAPACITY,
            }),
        }
    }
}

/// `.name()` and `.trainable()` on every layer builder.
pub trait LayerBuilder: Into<LayerSpec> {
    fn name(self, name: &str) -> LayerSpec {
        self.into().name(name)
    }
    fn trainable(self, trainable: bool) -> LayerSpec {
        self.into().trainable(trainable)
    }
}

impl<T: Into<LayerSpec>> LayerBuilder for T {}
