//! `keras.layers.ReLU(max_value, negative_slope, threshold)`.

use super::int8::{self, Typed};
use super::{one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::DType;
use crate::kernels;
use crate::kernels::int8::relu::ReluParams;
use crate::shape::Shape;

/// `keras.layers.ReLU`: `max_value` if x ≥ max_value, x if x ≥ threshold, else
/// `negative_slope * (x - threshold)`.
///
/// ```
/// use kiln::layers::{Input, ReLU};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[3]))?;
/// model.add(ReLU::new().max_value(6.0))?; // ReLU6
/// let mut y = [0.0f32; 3];
/// model.predict(&[&[-1.0, 2.0, 9.0]], &mut [&mut y], &mut [0u8; 64])?;
/// assert_eq!(y, [0.0, 2.0, 6.0]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReLU {
    /// Keras's `max_value`: the ceiling (`None`: no ceiling).
    pub max_value: Option<f32>,
    /// Keras's `negative_slope`: the factor below the threshold.
    pub negative_slope: f32,
    /// Keras's `threshold`: where the slope changes.
    pub threshold: f32,
}

#[cfg(feature = "format")]
crate::wire_fields!(ReLU {
    max_value,
    negative_slope,
    threshold
});

impl ReLU {
    /// `ReLU()`: no maximum, slope 0, threshold 0.
    pub fn new() -> Self {
        ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        }
    }
    /// Keras's `max_value=` (default none; at least 0).
    pub fn max_value(self, max_value: f32) -> Self {
        ReLU {
            max_value: Some(max_value),
            ..self
        }
    }
    /// Keras's `negative_slope=` (default 0; at least 0).
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        ReLU {
            negative_slope,
            ..self
        }
    }
    /// Keras's `threshold=` (default 0; at least 0).
    pub fn threshold(self, threshold: f32) -> Self {
        ReLU { threshold, ..self }
    }
}

impl Default for ReLU {
    fn default() -> Self {
        ReLU::new()
    }
}

/// Keras refuses negative values; NaN is refused too (it would only make NaNs).
pub(crate) fn negative(v: f32) -> bool {
    v.is_nan() || v < 0.0
}

impl Op for ReLU {
    fn class_name(&self) -> &'static str {
        "ReLU"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "re_lu"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.max_value.is_some_and(negative) {
            Err("max_value of a ReLU layer cannot be a negative value")
        } else if negative(self.negative_slope) {
            Err("negative_slope of a ReLU layer cannot be None or a negative value")
        } else if negative(self.threshold) {
            Err("threshold of a ReLU layer cannot be None or a negative value")
        } else {
            Ok(())
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    /// On int8 (TensorFlow Lite's RELU and RELU6): `requant` holds [`ReluParams`].
    fn int8_weights(&self, _input: &Shape) -> crate::graph::WeightSpecs {
        crate::graph::layer::int8_params(int8::HEADER_WORDS + ReluParams::WORDS)
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if cx.is_int8() {
            let plain = self.negative_slope == 0.0 && self.threshold == 0.0;
            let params = int8::op_words(cx, 0, ReluParams::WORDS)?.1;
            let params = <[i32; ReluParams::WORDS]>::try_from(params)
                .ok()
                .and_then(ReluParams::from_words)
                .filter(|_| plain)
                .ok_or(Mismatch::new(
                    cx.input(),
                    "a ReLU without slope or threshold, with its int8 parameters",
                ))?;
            return Ok(Step {
                run: Run::Int8InPlace(run_int8),
                args: StepArgs::ReLU(Typed::I8(params)),
            });
        }
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::ReLU(Typed::F32(*self)),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::ReLU(Typed::F32(r)) = args {
        kernels::relu(data, r.max_value, r.negative_slope, r.threshold);
    }
}

fn run_int8(args: &StepArgs<'_>, data: &mut [i8]) {
    if let StepArgs::ReLU(Typed::I8(p)) = args {
        kernels::int8::relu::relu(p, data);
    }
}

/// `ReLU(max_value, negative_slope, threshold)`'s derivative from its input: 0 at and
/// above the ceiling, 1 above the threshold, the slope below (`relu'(0) = 0`).
#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    let (StepArgs::ReLU(Typed::F32(r)), [x]) = (args, saved.inputs) else {
        return;
    };
    for ((g, &d), &x) in dx.iter_mut().zip(d).zip(*x) {
        let slope = if r.max_value.is_some_and(|m| x >= m) {
            0.0
        } else if x > r.threshold {
            1.0
        } else {
            r.negative_slope
        };
        *g = d * slope;
    }
}
