//! `keras.layers.Activation(fn)`: a Keras activation function on every value (softmax
//! and log_softmax over the last axis).

use super::int8::{self, Typed};
use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Activation as Function;
use crate::graph::DType;
use crate::kernels::int8::relu::ReluParams;
use crate::kernels::int8::softmax::SoftmaxParams;
use crate::shape::Shape;

/// `keras.layers.Activation(fn)`. An [`Activation`](crate::Activation) function can also
/// be added as a layer directly.
///
/// ```
/// use kiln::layers::{self, Input};
/// use kiln::{Activation, Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(layers::Activation::new(Activation::Relu))?; // or model.add(Activation::Relu)
/// let mut y = [0.0f32; 2];
/// model.predict(&[&[-1.0, 2.0]], &mut [&mut y], &mut [0u8; 64])?;
/// assert_eq!(y, [0.0, 2.0]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activation(pub Function);

#[cfg(feature = "format")]
crate::wire_fields!(Activation(0));

impl Activation {
    /// `Activation(fn)`.
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

/// A prepared int8 activation (TensorFlow Lite's LOGISTIC, TANH, SOFTMAX, RELU, RELU6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Int8<'w> {
    /// Sigmoid and tanh: a table of the 256 outputs, in the model's weights.
    Table(&'w [i8; 256]),
    Softmax(usize, SoftmaxParams),
    Relu(ReluParams),
}

/// The words of `requant` after the header an int8 `function` takes (`None`: no int8 form).
fn int8_words(function: Function) -> Option<usize> {
    match function {
        Function::Sigmoid | Function::Tanh => Some(64),
        Function::Softmax => Some(SoftmaxParams::WORDS),
        Function::Relu | Function::Relu6 => Some(ReluParams::WORDS),
        _ => None,
    }
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

    /// The int8 kernels read one tensor and write another.
    fn int8_in_place(&self) -> bool {
        false
    }

    fn math(&self) -> Option<&'static str> {
        self.0.math()
    }

    /// On int8: `requant` holds the function's table or parameters.
    fn int8_weights(&self, _input: &Shape) -> crate::graph::WeightSpecs {
        let words = int8_words(self.0).unwrap_or(0);
        crate::graph::layer::int8_params(int8::HEADER_WORDS + words)
    }

    fn runs(&self, dtype: DType) -> bool {
        dtype == DType::F32 || (dtype == DType::I8 && int8_words(self.0).is_some())
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let last_axis = dim(&cx.output, cx.output.rank().saturating_sub(1))?;
        if cx.is_int8() {
            let bad = Mismatch::new(cx.input(), "the int8 activation's parameters");
            let step = match self.0 {
                Function::Sigmoid | Function::Tanh => Int8::Table(int8::table(cx)?),
                Function::Softmax => Int8::Softmax(
                    last_axis,
                    SoftmaxParams::from_words(int8::op_array(cx)?).ok_or(bad)?,
                ),
                _ => Int8::Relu(ReluParams::from_words(int8::op_array(cx)?).ok_or(bad)?),
            };
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Activation(Typed::I8(step)),
            });
        }
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::Activation(Typed::F32(self::Params {
                function: self.0,
                last_axis,
            })),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Activation(Typed::F32(p)) = args {
        p.function.apply(data, p.last_axis);
    }
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    let (StepArgs::Activation(Typed::I8(step)), [input]) = (args, inputs) else {
        return;
    };
    match step {
        Int8::Table(table) => crate::kernels::int8::lut::lookup(table, input, output),
        Int8::Softmax(depth, p) => crate::kernels::int8::softmax::softmax(p, input, *depth, output),
        Int8::Relu(p) => {
            if input.len() == output.len() {
                output.copy_from_slice(input);
                crate::kernels::int8::relu::relu(p, output);
            }
        }
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    let (StepArgs::Activation(Typed::F32(p)), [x]) = (args, saved.inputs) else {
        return;
    };
    if dx.len() == d.len() {
        dx.copy_from_slice(d);
        p.function.backward(Some(x), saved.output, dx, p.last_axis);
    }
}
