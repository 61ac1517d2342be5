//! `keras.layers.Softmax()`, over the last axis.

use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Activation;
use crate::shape::Shape;

/// `keras.layers.Softmax()` over the last axis.
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

    fn math(&self) -> Option<&'static str> {
        Some("softmax")
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::Softmax(dim(&cx.output, cx.output.rank().saturating_sub(1))?),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Softmax(last_axis) = args {
        Activation::Softmax.apply(data, *last_axis);
    }
}
