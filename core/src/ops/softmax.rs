//! `keras.layers.Softmax()`, over the last axis.

use super::int8::{self, Typed};
use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Activation;
use crate::graph::DType;
use crate::kernels::int8::softmax::SoftmaxParams;
use crate::shape::Shape;

/// `keras.layers.Softmax()` over the last axis.
///
/// ```
/// use kiln::layers::{Input, Softmax};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(Softmax)?;
/// let mut y = [0.0f32; 2];
/// model.predict(&[&[1.0, 1.0]], &mut [&mut y], &mut [0u8; 64])?;
/// assert_eq!(y, [0.5, 0.5]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Softmax;

#[cfg(feature = "format")]
crate::wire_fields!(Softmax {});

impl Op for Softmax {
    fn class_name(&self) -> &'static str {
        "Softmax"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "softmax"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    /// The int8 kernels read one tensor and write another.
    fn int8_in_place(&self) -> bool {
        false
    }

    fn math(&self) -> Option<&'static str> {
        Some("softmax")
    }

    /// On int8 (TensorFlow Lite's SOFTMAX, output scale 1/256, zero point −128):
    /// `requant` holds [`SoftmaxParams`].
    fn int8_weights(&self, _input: &Shape) -> crate::graph::WeightSpecs {
        crate::graph::layer::int8_params(int8::HEADER_WORDS + SoftmaxParams::WORDS)
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let last_axis = dim(&cx.output, cx.output.rank().saturating_sub(1))?;
        if cx.is_int8() {
            let params = SoftmaxParams::from_words(int8::op_array(cx)?)
                .ok_or(Mismatch::new(cx.input(), "the int8 softmax's parameters"))?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Softmax(Typed::I8((last_axis, params))),
            });
        }
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::Softmax(Typed::F32(last_axis)),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Softmax(Typed::F32(last_axis)) = args {
        Activation::Softmax.apply(data, *last_axis);
    }
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let (StepArgs::Softmax(Typed::I8((depth, p))), [input]) = (args, inputs) {
        crate::kernels::int8::softmax::softmax(p, input, *depth, output);
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if let StepArgs::Softmax(Typed::F32(last_axis)) = args {
        if dx.len() == d.len() {
            dx.copy_from_slice(d);
            Activation::Softmax.backward(None, saved.output, dx, *last_axis);
        }
    }
}
