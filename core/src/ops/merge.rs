//! Keras's element-wise merges `Add`, `Subtract`, `Multiply`, `Average`, `Maximum` and
//! `Minimum`: one layer kind, [`MergeOp`], on inputs of one shape.

use super::int8::{self, Typed};
use super::{Arity, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::MergeOp;
use crate::graph::DType;
use crate::kernels::int8::add::AddParams;
use crate::graph::infer::merge_shapes;
use crate::kernels;
use crate::shape::Shape;

impl Op for MergeOp {
    fn class_name(&self) -> &'static str {
        match self {
            MergeOp::Add => "Add",
            MergeOp::Subtract => "Subtract",
            MergeOp::Multiply => "Multiply",
            MergeOp::Average => "Average",
            MergeOp::Maximum => "Maximum",
            MergeOp::Minimum => "Minimum",
        }
    }

    fn auto_name_prefix(&self) -> &'static str {
        match self {
            MergeOp::Add => "add",
            MergeOp::Subtract => "subtract",
            MergeOp::Multiply => "multiply",
            MergeOp::Average => "average",
            MergeOp::Maximum => "maximum",
            MergeOp::Minimum => "minimum",
        }
    }

    fn arity(&self) -> Arity {
        match self {
            MergeOp::Subtract => Arity::Two,
            _ => Arity::Many,
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let first = inputs.first().copied().unwrap_or(Shape::SCALAR);
        let mut out = first;
        for shape in inputs.iter().skip(1) {
            out = merge_shapes(&out, shape).ok_or(Mismatch::new(
                *shape,
                "every input of the same shape as the first",
            ))?;
        }
        Ok(out)
    }

    /// On int8, `Add` of two tensors (TensorFlow Lite's ADD): `requant` holds
    /// [`AddParams`].
    fn int8_weights(&self, _input: &Shape) -> crate::graph::WeightSpecs {
        crate::graph::layer::int8_params(int8::HEADER_WORDS + AddParams::WORDS)
    }

    fn runs(&self, dtype: DType) -> bool {
        dtype == DType::F32 || (dtype == DType::I8 && *self == MergeOp::Add)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if cx.is_int8() {
            let params = int8::op_words(cx, 0, AddParams::WORDS)?.1;
            let params = <[i32; AddParams::WORDS]>::try_from(params)
                .ok()
                .and_then(AddParams::from_words)
                .filter(|_| cx.inputs.len() == 2)
                .ok_or(Mismatch::new(cx.input(), "two int8 inputs, with the add's parameters"))?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Merge(Typed::I8(params)),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Merge(Typed::F32(*self)),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Merge(Typed::F32(op)) = args {
        kernels::merge(*op, inputs, output);
    }
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let (StepArgs::Merge(Typed::I8(p)), [a, b]) = (args, inputs) {
        kernels::int8::fast::add(a, b, p, output);
    }
}

macro_rules! merge_layer {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;

        impl<'n> From<$name> for crate::graph::LayerSpec<'n> {
            fn from(_: $name) -> Self {
                MergeOp::$name.into()
            }
        }
    )*};
}

merge_layer! {
    /// `keras.layers.Add()`.
    ///
    /// ```
    /// use kiln::layers::{Add, Input, Subtract};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<8>>::new();
    /// let a = f.input(Input::new(&[4]))?;
    /// let b = f.input(Input::new(&[4]))?;
    /// let c = f.input(Input::new(&[4]))?;
    /// let sum = f.call(Add, &[a, b, c])?;
    /// let difference = f.call(Subtract, &[sum, c])?;
    /// assert_eq!(f.shape(difference).to_string(), "(None, 4)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    Add;
    /// `keras.layers.Subtract()`: exactly two inputs, `a - b`.
    Subtract;
    /// `keras.layers.Multiply()`.
    Multiply;
    /// `keras.layers.Average()`.
    Average;
    /// `keras.layers.Maximum()`.
    Maximum;
    /// `keras.layers.Minimum()`.
    Minimum;
}

/// Input `k`'s gradient: `d` for Add (and ±`d` for Subtract), `d / n` for Average, `d`
/// times the other inputs for Multiply; Maximum and Minimum give `d` to the inputs equal
/// to the result, shared equally on a tie (JAX splits a tie of two in halves).
#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, k: usize, d: &[f32], dx: &mut [f32]) {
    let StepArgs::Merge(Typed::F32(op)) = args else { return };
    let inputs = saved.inputs;
    if dx.len() != d.len() || inputs.iter().any(|x| x.len() != d.len()) {
        return;
    }
    for (i, (g, &d)) in dx.iter_mut().zip(d).enumerate() {
        *g = match op {
            MergeOp::Add => d,
            MergeOp::Subtract => {
                if k == 0 {
                    d
                } else {
                    -d
                }
            }
            MergeOp::Average => d * (1.0 / inputs.len() as f32),
            MergeOp::Multiply => inputs
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .fold(d, |p, (_, x)| p * x[i]),
            MergeOp::Maximum | MergeOp::Minimum => {
                let y = saved.output[i];
                let ties = inputs.iter().filter(|x| x[i] == y).count();
                if inputs[k][i] == y {
                    d / ties as f32
                } else {
                    0.0
                }
            }
        };
    }
}
