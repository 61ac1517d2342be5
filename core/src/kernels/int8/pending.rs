//! PENDING (branch int8 only, never on main): stands in for the int8 kernels the
//! int8-kernels branch has not landed yet, so that the engine compiles. Not used for results.
#![allow(missing_docs, unused_variables)]
use super::quant::OutputStage;
use crate::kernels::Conv2dGeometry;
pub fn conv2d(g: &Conv2dGeometry, input: &[i8], input_offset: i32, filter: &[i8], bias: Option<&[i32]>, stage: &OutputStage<'_>, output: &mut [i8]) {}
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d(g: &Conv2dGeometry, m: usize, input: &[i8], input_offset: i32, filter: &[i8], bias: Option<&[i32]>, stage: &OutputStage<'_>, output: &mut [i8]) {}
pub fn quantize(input: &[f32], scale: f32, zero_point: i32, output: &mut [i8]) {}
pub fn dequantize(input: &[i8], scale: f32, zero_point: i32, output: &mut [f32]) {}
