//! `keras.layers.ReLU(max_value, negative_slope, threshold)`.

use super::{one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.ReLU`: `max_value` if x ≥ max_value, x if x ≥ threshold, else
/// `negative_slope * (x - threshold)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReLU {
    pub max_value: Option<f32>,
    pub negative_slope: f32,
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
    pub fn max_value(self, max_value: f32) -> Self {
        ReLU {
            max_value: Some(max_value),
            ..self
        }
    }
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        ReLU {
            negative_slope,
            ..self
        }
    }
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

    fn prepare<'w>(&self, _: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::ReLU(*self),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::ReLU(r) = args {
        kernels::relu(data, r.max_value, r.negative_slope, r.threshold);
    }
}
