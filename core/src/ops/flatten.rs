//! `keras.layers.Flatten()`: every axis after the batch into one.

use super::{Cx, Mismatch, Op, Step};
use crate::shape::Shape;

/// `keras.layers.Flatten()`.
///
/// ```
/// use kiln::layers::{Flatten, Input};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[7, 7, 32]))?;
/// let y = f.call(Flatten, &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 1568)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flatten;

#[cfg(feature = "format")]
crate::wire_fields!(Flatten {});

impl Op for Flatten {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "flatten"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = super::one(inputs)?;
        let too_big = Mismatch::new(input, "an input whose output has every axis below 2^32");
        if input.rank() < 1 {
            return Err(Mismatch::new(input, "rank >= 1"));
        }
        let rest = if input.rank() == 1 {
            Some(1)
        } else {
            input
                .sample_elements()
                .map(|n| u32::try_from(n).map_err(|_| too_big))
                .transpose()?
        };
        Shape::new(&[input.dim(0), rest]).map_err(|_| too_big)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    /// Any dtype: the output is the input's values.
    fn runs(&self, _dtype: crate::graph::DType) -> bool {
        true
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::PASS)
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if cx.is_int8() {
            super::int8::same_quantization(cx)?;
        }
        Ok(Step::COPY)
    }
}
