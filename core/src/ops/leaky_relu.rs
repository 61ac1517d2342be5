//! `keras.layers.LeakyReLU(negative_slope=0.3)`.

use super::relu::negative;
use super::{one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.LeakyReLU(negative_slope=0.3)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    pub negative_slope: f32,
}

#[cfg(feature = "format")]
crate::wire_fields!(LeakyReLU { negative_slope });

impl LeakyReLU {
    pub fn new() -> Self {
        LeakyReLU {
            negative_slope: 0.3,
        }
    }
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new()
    }
}

impl Op for LeakyReLU {
    fn class_name(&self) -> &'static str {
        "LeakyReLU"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "leaky_re_lu"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if negative(self.negative_slope) {
            Err("The negative_slope value of a Leaky ReLU layer cannot be None or negative value")
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
            args: StepArgs::LeakyReLU(self.negative_slope),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::LeakyReLU(slope) = args {
        kernels::leaky_relu(data, *slope);
    }
}
