//! `keras.layers.Concatenate(axis=-1)`.

use super::{dim, Arity, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::infer::concatenate_shape;
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.Concatenate(axis=-1)`; a negative axis counts from the end.
///
/// ```
/// use kiln::layers::{Concatenate, Input};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let a = f.input(Input::new(&[4, 3]))?;
/// let b = f.input(Input::new(&[4, 5]))?;
/// let y = f.call(Concatenate::new(), &[a, b])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 4, 8)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Concatenate {
    /// Keras's `axis`: the axis the inputs are joined along, batch axis 0 (`-1`: the last).
    pub axis: i8,
}

#[cfg(feature = "format")]
crate::wire_fields!(Concatenate { axis });

impl Concatenate {
    /// `Concatenate()`: along the last axis.
    pub fn new() -> Self {
        Concatenate { axis: -1 }
    }
    /// Keras's `axis=` (default -1).
    pub fn axis(self, axis: i8) -> Self {
        Concatenate { axis }
    }
}

impl Default for Concatenate {
    fn default() -> Self {
        Concatenate::new()
    }
}

/// A prepared Concatenate step: the product of the axes before the concatenation axis
/// (batch excluded). Each input is `outer` runs of its own length over `outer`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    outer: usize,
}

impl Op for Concatenate {
    fn class_name(&self) -> &'static str {
        "Concatenate"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "concatenate"
    }

    fn arity(&self) -> Arity {
        Arity::Many
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        concatenate_shape(self.axis, inputs).ok_or(Mismatch::new(
            inputs.first().copied().unwrap_or(Shape::SCALAR),
            "at least 2 inputs of one rank, equal on every axis but the concatenation axis",
        ))
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let rank = cx.output.rank() as i32;
        let axis = if self.axis < 0 {
            rank + self.axis as i32
        } else {
            self.axis as i32
        } as usize;
        let mut outer = 1usize;
        for a in 1..axis {
            outer *= dim(&cx.output, a)?;
        }
        if cx.is_int8() {
            super::int8::same_quantization(cx)?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Concatenate(self::Params { outer }),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Concatenate(self::Params { outer }),
        })
    }

    fn runs(&self, dtype: crate::graph::DType) -> bool {
        matches!(dtype, crate::graph::DType::F32 | crate::graph::DType::I8)
    }
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let StepArgs::Concatenate(p) = args {
        kernels::concatenate(inputs, p.outer, output);
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Concatenate(p) = args {
        kernels::concatenate(inputs, p.outer, output);
    }
}

/// Input `k`'s part of each of the output's `outer` rows.
#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, k: usize, d: &[f32], dx: &mut [f32]) {
    let StepArgs::Concatenate(p) = args else { return };
    let outer = p.outer.max(1);
    let inner = |x: &&[f32]| x.len() / outer;
    let row: usize = saved.inputs.iter().map(inner).sum();
    let before: usize = saved.inputs.iter().take(k).map(inner).sum();
    let Some(width) = saved.inputs.get(k).map(inner) else { return };
    if width == 0 || d.len() != outer * row || dx.len() != outer * width {
        return;
    }
    for (o, out) in dx.chunks_exact_mut(width).enumerate() {
        let at = o * row + before;
        out.copy_from_slice(&d[at..at + width]);
    }
}
