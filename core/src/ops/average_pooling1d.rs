//! `keras.layers.AveragePooling1D(pool_size)`.

use super::pool1d::Pool1D;
use super::{Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Padding;
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.AveragePooling1D(pool_size, strides, padding)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AveragePooling1D(pub Pool1D);

#[cfg(feature = "format")]
crate::wire_fields!(AveragePooling1D(0));

impl AveragePooling1D {
    pub fn new(pool_size: u16) -> Self {
        AveragePooling1D(Pool1D::new(pool_size))
    }
    pub fn strides(self, strides: u16) -> Self {
        AveragePooling1D(Pool1D { strides, ..self.0 })
    }
    pub fn padding(self, padding: Padding) -> Self {
        AveragePooling1D(Pool1D { padding, ..self.0 })
    }
}

impl Op for AveragePooling1D {
    fn class_name(&self) -> &'static str {
        "AveragePooling1D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "average_pooling1d"
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
            args: StepArgs::AveragePooling1D(self.0.geometry(cx)?),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::AveragePooling1D(g), [input]) = (args, inputs) {
        kernels::fast::average_pool2d(g, input, output);
    }
}
