//! `keras.layers.Activation(fn)`: a Keras activation function on every value (softmax
//! and log_softmax over the last axis).

use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Activation as Function;
use crate::shape::Shape;

/// `keras.layers.Activation(fn)`. An [`Activation`](crate::Activation) function can also
/// be added as a layer directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activation(pub Function);

#[cfg(feature = "format")]
crate::wire_fields!(Activation(0));

impl Activation {
    pub fn new(activation: Function) -> Self {
        Activation(activation)
    }
}

impl<'n> From<Function> for crate::graph::LayerSpec<'n> {
    fn from(function: Function) -> Self {
        Activation(function).into()
    }
}

/// A prepared activation step: the function and the size of the last axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    function: Function,
    last_axis: usize,
}

impl Op for Activation {
    fn class_name(&self) -> &'static str {
        "Activation"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "activation"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    fn math(&self) -> Option<&'static str> {
        self.0.math()
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::Activation(self::Params {
                function: self.0,
                last_axis: dim(&cx.output, cx.output.rank().saturating_sub(1))?,
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Activation(p) = args {
        p.function.apply(data, p.last_axis);
    }
}
