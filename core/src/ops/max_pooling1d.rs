//! `keras.layers.MaxPooling1D(pool_size)`.

use super::pool1d::Pool1D;
use super::{Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Padding;
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.MaxPooling1D(pool_size, strides, padding)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxPooling1D(pub Pool1D);

#[cfg(feature = "format")]
crate::wire_fields!(MaxPooling1D(0));

impl MaxPooling1D {
    pub fn new(pool_size: u16) -> Self {
        MaxPooling1D(Pool1D::new(pool_size))
    }
    pub fn strides(self, strides: u16) -> Self {
        MaxPooling1D(Pool1D { strides, ..self.0 })
    }
    pub fn padding(self, padding: Padding) -> Self {
        MaxPooling1D(Pool1D { padding, ..self.0 })
    }
}

impl Op for MaxPooling1D {
    fn class_name(&self) -> &'static str {
        "MaxPooling1D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "max_pooling1d"
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
            args: StepArgs::MaxPooling1D(self.0.geometry(cx)?),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::MaxPooling1D(g), [input]) = (args, inputs) {
        kernels::fast::max_pool2d(g, input, output);
    }
}
