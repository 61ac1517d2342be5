//! `keras.layers.AveragePooling2D`.

use super::pool2d::{Pair, Pool2D};
use super::{Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Padding;
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.AveragePooling2D(pool_size)`; 'same' divides by the number of valid cells, as Keras.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AveragePooling2D(pub Pool2D);

#[cfg(feature = "format")]
crate::wire_fields!(AveragePooling2D(0));

impl AveragePooling2D {
    pub fn new(pool_size: Pair) -> Self {
        AveragePooling2D(Pool2D::new(pool_size))
    }
    pub fn strides(self, strides: Pair) -> Self {
        AveragePooling2D(Pool2D { strides, ..self.0 })
    }
    pub fn padding(self, padding: Padding) -> Self {
        AveragePooling2D(Pool2D { padding, ..self.0 })
    }
}

impl Op for AveragePooling2D {
    fn class_name(&self) -> &'static str {
        "AveragePooling2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "average_pooling2d"
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
            args: StepArgs::AveragePooling2D(self.0.geometry(cx)?),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::AveragePooling2D(g), [input]) = (args, inputs) {
        kernels::fast::average_pool2d(g, input, output);
    }
}
