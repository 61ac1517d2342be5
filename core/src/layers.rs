//! The layers users type, with Keras's names, arguments and defaults:
//!
//! ```
//! use kiln::layers::{Dense, Input};
//! use kiln::Activation;
//! let mut model = kiln::Sequential::<kiln::Fixed<8>>::new();
//! model.add(Input::new(&[37]))?;
//! model.add(Dense::new(32).activation(Activation::Relu))?;
//! model.add(Dense::new(5).activation(Activation::Softmax))?;
//! assert_eq!(model.count_params(), 1381);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! Every builder turns into a [`LayerSpec`]; `.name("…")` and `.trainable(false)` come
//! from [`LayerBuilder`].

use crate::graph::LayerKind;
pub use crate::graph::{LayerBuilder, LayerSpec};
#[allow(unused_imports)] // (empty in a build with no layer feature)
pub use crate::ops::kinds::*;
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
pub use crate::ops::Pool1D;
pub use crate::ops::{Dequantize, Dropout, Flatten, Pair, Pool2D, Quantize};
use crate::shape::{Shape, ShapeError};

impl<'n> From<LayerKind> for LayerSpec<'n> {
    fn from(kind: LayerKind) -> LayerSpec<'n> {
        LayerSpec::new(kind)
    }
}

/// `keras.Input(shape=…, batch_size=…)`: the shape without the batch axis. A shape kiln
/// cannot hold (more than `MAX_RANK - 1` axes, an axis over `MAX_DIM`) is an error when
/// the input is added.
///
/// ```
/// use kiln::layers::Input;
/// // keras.Input(shape=(None, None, 3), batch_size=1)
/// let input = Input::with_dims(&[None, None, Some(3)]).batch_size(1);
/// assert_eq!(input.shape()?.to_string(), "(1, None, None, 3)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Input {
    shape: Result<Shape, ShapeError>,
    dtype: crate::graph::DType,
}

impl Input {
    /// `Input(shape=dims)` with every axis known.
    pub fn new(dims: &[u32]) -> Self {
        let mut shape = Shape::new(&[None]);
        for &d in dims {
            shape = shape.and_then(|s| s.push(Some(d)));
        }
        Input {
            shape,
            dtype: crate::graph::DType::F32,
        }
    }

    /// `Input(shape=dims)` where axes may be `None`, as in `Input(shape=(None, None, 3))`.
    pub fn with_dims(dims: &[Option<u32>]) -> Self {
        let mut shape = Shape::new(&[None]);
        for &d in dims {
            shape = shape.and_then(|s| s.push(d));
        }
        Input {
            shape,
            dtype: crate::graph::DType::F32,
        }
    }

    /// Keras's `batch_size=`.
    pub fn batch_size(self, batch: u32) -> Self {
        Input {
            shape: self.shape.and_then(|s| s.with_dim(0, Some(batch))),
            ..self
        }
    }

    /// Keras's `dtype=`: `float32` (the default), or `int8` for an int8 model's input
    /// (its scale and zero point are set with [`Graph::set_quant`](crate::Graph::set_quant)).
    pub fn dtype(self, dtype: crate::graph::DType) -> Self {
        Input { dtype, ..self }
    }

    /// The full shape, batch axis first (`(None, 28, 28, 1)`).
    pub fn shape(&self) -> Result<Shape, ShapeError> {
        self.shape
    }
}

impl<'n> From<Input> for LayerSpec<'n> {
    fn from(input: Input) -> LayerSpec<'n> {
        match input.shape {
            Ok(shape) => LayerSpec::new(LayerKind::InputLayer(crate::ops::InputLayer {
                shape,
                dtype: input.dtype,
            })),
            Err(error) => LayerSpec {
                invalid: Some(error),
                ..LayerSpec::new(LayerKind::input(Shape::SCALAR))
            },
        }
    }
}
