//! `keras.layers.Reshape(target_shape)`: the same values in another shape.

use super::{one, Cx, Mismatch, Op, Step};
use crate::shape::{Shape, MAX_RANK};

/// `keras.layers.Reshape`'s `target_shape` (without the batch axis); `-1` is inferred.
///
/// ```
/// use kiln::layers::{Input, Reshape};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[12]))?;
/// let reshape = Reshape::new(&[-1, 3]).expect("at most MAX_RANK - 1 axes");
/// let y = f.call(reshape, &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 4, 3)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reshape {
    dims: [i32; MAX_RANK - 1],
    rank: u8,
}

impl Reshape {
    /// `None` when the target has more than `MAX_RANK - 1` axes.
    pub fn new(target_shape: &[i32]) -> Option<Reshape> {
        if target_shape.len() > MAX_RANK - 1 {
            return None;
        }
        let mut dims = [0; MAX_RANK - 1];
        dims[..target_shape.len()].copy_from_slice(target_shape);
        Some(Reshape {
            dims,
            rank: target_shape.len() as u8,
        })
    }

    /// Keras's `target_shape`, as given (`-1` for the inferred axis).
    pub fn target_shape(&self) -> &[i32] {
        self.dims.get(..self.rank as usize).unwrap_or(&self.dims)
    }
}

/// A target shape in a blob: a list of `i32`, at most `MAX_RANK - 1` long.
#[cfg(feature = "format")]
impl crate::format::wire::Wire for Reshape {
    fn encode(&self, w: &mut crate::format::wire::Writer<'_>) {
        w.len_of(self.target_shape().len());
        for d in self.target_shape() {
            d.encode(w);
        }
    }
    fn decode(r: &mut crate::format::wire::Reader<'_>) -> Result<Self, crate::format::BlobError> {
        let rank = r.len_of()?;
        let mut dims = [0i32; MAX_RANK - 1];
        for d in dims
            .get_mut(..rank)
            .ok_or(crate::format::BlobError::Malformed)?
        {
            *d = i32::decode(r)?;
        }
        Reshape::new(&dims[..rank]).ok_or(crate::format::BlobError::Malformed)
    }
}

impl Op for Reshape {
    fn class_name(&self) -> &'static str {
        "Reshape"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "reshape"
    }

    fn validate(&self) -> Result<(), &'static str> {
        let target = self.target_shape();
        if target.iter().filter(|&&d| d == -1).count() > 1 {
            Err("target_shape can contain at most one -1")
        } else if target.iter().any(|&d| d == 0 || d < -1) {
            Err("target_shape entries must be positive or -1")
        } else {
            Ok(())
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        reshape(self, &input).ok_or(Mismatch::new(
            input,
            "a size that target_shape can hold (same number of elements)",
        ))
    }

    fn has_build(&self) -> bool {
        true
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

/// Keras's `Reshape` output shape: `-1` takes what the known axes leave.
fn reshape(r: &Reshape, input: &Shape) -> Option<Shape> {
    let mut out = Shape::new(&[input.dim(0)]).ok()?;
    let known: Option<u64> = r
        .target_shape()
        .iter()
        .filter(|&&d| d > 0)
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let known = known?;
    let total = input.sample_elements().map(|n| n as u64);
    if let Some(total) = total {
        let has_wildcard = r.target_shape().contains(&-1);
        if known == 0 || (has_wildcard && total % known != 0) || (!has_wildcard && total != known) {
            return None;
        }
    }
    for &d in r.target_shape() {
        let dim = if d == -1 {
            match total {
                Some(t) => Some(u32::try_from(t / known).ok()?),
                None => None,
            }
        } else {
            Some(d as u32)
        };
        out = out.push(dim).ok()?;
    }
    Some(out)
}
