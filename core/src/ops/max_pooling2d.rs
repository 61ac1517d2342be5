//! `keras.layers.MaxPooling2D`.

use super::pool2d::{Pair, Pool2D};
use super::{Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Padding;
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.MaxPooling2D(pool_size)`; strides default to the pool size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPooling2D(pub Pool2D);

#[cfg(feature = "format")]
crate::wire_fields!(MaxPooling2D(0));

impl MaxPooling2D {
    pub fn new(pool_size: Pair) -> Self {
        MaxPooling2D(Pool2D::new(pool_size))
    }
    pub fn strides(self, strides: Pair) -> Self {
        MaxPooling2D(Pool2D { strides, ..self.0 })
    }
    pub fn padding(self, padding: Padding) -> Self {
        MaxPooling2D(Pool2D { padding, ..self.0 })
    }
}

impl Op for MaxPooling2D {
    fn class_name(&self) -> &'static str {
        "MaxPooling2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "max_pooling2d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        self.0.validate()
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        self.0.output_shape(inputs)
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::MaxPooling2D(self.0.geometry(cx)?),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::MaxPooling2D(g), [input]) = (args, inputs) {
        kernels::fast::max_pool2d(g, input, output);
    }
}
