//! The edges of an int8 model that takes or gives float32 (TensorFlow Lite's QUANTIZE and
//! DEQUANTIZE): the output's (or input's) quantization is its node's.

use super::{int8, one, Cx, Mismatch, Op, Step, StepArgs};
use crate::graph::{DType, Quant};
use crate::kernels;
use crate::shape::Shape;

/// Float32 to int8 with the output tensor's scale and zero point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quantize;

/// Int8 to float32 with the input tensor's scale and zero point.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dequantize;

#[cfg(feature = "format")]
crate::wire_fields!(Quantize {});
#[cfg(feature = "format")]
crate::wire_fields!(Dequantize {});

/// A prepared Quantize or Dequantize step: the int8 side's quantization.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    scale: f32,
    zero_point: i32,
}

fn params(quant: Quant, found: Shape) -> Result<Params, Mismatch> {
    match quant {
        Quant::PerTensor { scale, zero_point } => Ok(Params { scale, zero_point }),
        _ => Err(Mismatch::new(
            found,
            "an int8 side with a scale and a zero point",
        )),
    }
}

impl Op for Quantize {
    fn class_name(&self) -> &'static str {
        "Quantize"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "quantize"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn output_dtype(&self, _inputs: &[DType]) -> DType {
        DType::I8
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if cx.input_tensor(0).0 != DType::F32 {
            return Err(Mismatch::new(cx.input(), "a float32 input"));
        }
        Ok(Step {
            run: super::Run::Quantize(run_quantize),
            args: StepArgs::Quantize(params(cx.output_tensor().1, cx.output)?),
        })
    }
}

impl Op for Dequantize {
    fn class_name(&self) -> &'static str {
        "Dequantize"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "dequantize"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn output_dtype(&self, _inputs: &[DType]) -> DType {
        DType::F32
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let (dtype, quant) = cx.input_tensor(0);
        if dtype != DType::I8 || int8::zero_point(quant).is_none() {
            return Err(Mismatch::new(
                cx.input(),
                "an int8 input with a scale and a zero point",
            ));
        }
        Ok(Step {
            run: super::Run::Dequantize(run_dequantize),
            args: StepArgs::Dequantize(params(quant, cx.input())?),
        })
    }
}

fn run_quantize(args: &StepArgs<'_>, input: &[f32], output: &mut [i8]) {
    if let StepArgs::Quantize(p) = args {
        kernels::int8::quantize(input, p.scale, p.zero_point, output);
    }
}

fn run_dequantize(args: &StepArgs<'_>, input: &[i8], output: &mut [f32]) {
    if let StepArgs::Dequantize(p) = args {
        kernels::int8::dequantize(input, p.scale, p.zero_point, output);
    }
}
