//! `keras.Input`: where a model's data comes in. It computes nothing: a run reads a model
//! input straight from the caller's buffer.

use super::{Arity, Cx, Mismatch, Op, Step};
use crate::graph::DType;
use crate::shape::Shape;

/// An InputLayer: the full shape of its tensor, batch axis first (`(None, 37)`), and the
/// dtype of the data it takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputLayer {
    /// Keras's `batch_shape`: the batch axis, then the `shape` given to `Input`.
    pub shape: Shape,
    /// Keras's `dtype`: `F32`, or `I8` for an int8 model's input.
    pub dtype: DType,
}

#[cfg(feature = "format")]
crate::wire_fields!(InputLayer { shape, dtype });

impl Op for InputLayer {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "input_layer"
    }

    fn arity(&self) -> Arity {
        Arity::None
    }

    fn output_shape(&self, _: &[Shape]) -> Result<Shape, Mismatch> {
        Ok(self.shape)
    }

    fn output_dtype(&self, _: &[DType]) -> DType {
        self.dtype
    }

    fn prepare<'w>(&self, _: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step::NOTHING)
    }
}
