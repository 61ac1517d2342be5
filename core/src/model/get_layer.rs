//! `model.get_layer(name=None, index=None)` with Keras's rules and messages.

use crate::graph::{Graph, Layer, LayerId, Storage};
use crate::name::PyRepr;
use core::fmt;

/// Why `get_layer` failed; `Display` is Keras's message, word for word.
#[derive(Clone, Debug, PartialEq)]
pub enum GetLayerError<'m> {
    /// `ValueError: Provide only a layer name or a layer index. …`
    BothGiven {
        /// The name given.
        name: &'m str,
        /// The index given.
        index: isize,
    },
    /// `ValueError: Provide either a layer name or layer index at `get_layer`.`
    NeitherGiven,
    /// `ValueError: Was asked to retrieve layer at index … but model only has … layers.`
    IndexTooLarge {
        /// The index given.
        index: isize,
        /// How many layers `model.layers` has.
        layers: usize,
    },
    /// Python's bare `IndexError: list index out of range` for a too negative index.
    IndexOutOfRange,
    /// `ValueError: No such layer: …. Existing layers are: [...].`
    NoSuchLayer {
        /// The name asked for.
        name: &'m str,
        /// The names there are, printed as Keras lists them.
        existing: LayerNames<'m>,
    },
}

/// The names of a model's layers (`model.layers`), printed as a Python list.
#[derive(Clone, Copy)]
pub struct LayerNames<'m> {
    model: &'m dyn VisibleNames,
}

/// A model whose visible layer names can be printed, whatever its storage.
trait VisibleNames {
    fn write_names(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl<S: Storage> VisibleNames for Graph<'_, S> {
    fn write_names(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.visible_layers().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let name = self.layer(id).map_or("", |l| &*l.name);
            write!(f, "{}", PyRepr(name))?;
        }
        f.write_str("]")
    }
}

impl fmt::Display for LayerNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.model.write_names(f)
    }
}

impl fmt::Debug for LayerNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.model.write_names(f)
    }
}

/// The same model's names.
impl PartialEq for LayerNames<'_> {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::addr_eq(self.model, other.model)
    }
}

impl fmt::Display for GetLayerError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetLayerError::BothGiven { name, index } => write!(
                f,
                "Provide only a layer name or a layer index. Received: index={index}, name={name}."
            ),
            GetLayerError::NeitherGiven => {
                f.write_str("Provide either a layer name or layer index at `get_layer`.")
            }
            GetLayerError::IndexTooLarge { index, layers } => write!(
                f,
                "Was asked to retrieve layer at index {index} but model only has {layers} layers."
            ),
            GetLayerError::IndexOutOfRange => f.write_str("list index out of range"),
            GetLayerError::NoSuchLayer { name, existing } => {
                write!(f, "No such layer: {name}. Existing layers are: {existing}.")
            }
        }
    }
}

impl GetLayerError<'_> {
    /// The Python exception class Keras raises: `ValueError` or `IndexError`.
    pub fn python_type(&self) -> &'static str {
        match self {
            GetLayerError::IndexOutOfRange => "IndexError",
            _ => "ValueError",
        }
    }
}

impl From<GetLayerError<'_>> for crate::Error {
    fn from(_: GetLayerError<'_>) -> Self {
        crate::Error::NoSuchLayer
    }
}

impl<S: Storage> Graph<'_, S> {
    /// Keras's `get_layer(name=None, index=None)`: by name among `model.layers`, or by
    /// index into `model.layers` (negative indices count from the end).
    ///
    /// ```
    /// use kiln::layers::{Dense, Input, LayerBuilder};
    /// use kiln::{Fixed, Sequential};
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::new(&[3]))?;
    /// model.add(Dense::new(4).name("hidden"))?;
    /// model.add(Dense::new(2))?;
    /// let (_, last) = model.get_layer(None, Some(-1))?;
    /// assert_eq!(&*last.name, "dense");
    /// let missing = model.get_layer(Some("output"), None).unwrap_err();
    /// assert_eq!(
    ///     missing.to_string(),
    ///     "No such layer: output. Existing layers are: ['hidden', 'dense']."
    /// );
    /// # Ok::<(), kiln::Error>(())
    /// ```
    pub fn get_layer<'m>(
        &'m self,
        name: Option<&'m str>,
        index: Option<isize>,
    ) -> Result<(LayerId, &'m Layer<S>), GetLayerError<'m>> {
        let visible = || self.visible_layers();
        match (name, index) {
            (Some(name), Some(index)) => Err(GetLayerError::BothGiven { name, index }),
            (None, Some(index)) => {
                let count = visible().count();
                if index >= 0 && index as usize >= count {
                    return Err(GetLayerError::IndexTooLarge {
                        index,
                        layers: count,
                    });
                }
                let position = if index < 0 {
                    count
                        .checked_sub(index.unsigned_abs())
                        .ok_or(GetLayerError::IndexOutOfRange)?
                } else {
                    index as usize
                };
                let id = visible()
                    .nth(position)
                    .ok_or(GetLayerError::IndexOutOfRange)?;
                self.layer(id)
                    .map(|l| (id, l))
                    .ok_or(GetLayerError::IndexOutOfRange)
            }
            (Some(name), None) => visible()
                .find_map(|id| self.layer(id).filter(|l| *l.name == *name).map(|l| (id, l)))
                .ok_or(GetLayerError::NoSuchLayer {
                    name,
                    existing: LayerNames { model: self },
                }),
            (None, None) => Err(GetLayerError::NeitherGiven),
        }
    }
}

impl core::error::Error for GetLayerError<'_> {}
