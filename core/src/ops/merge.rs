//! Keras's element-wise merges `Add`, `Subtract`, `Multiply`, `Average`, `Maximum` and
//! `Minimum`: one layer kind, [`MergeOp`], on inputs of one shape.

use super::{Arity, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::MergeOp;
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

    fn prepare<'w>(&self, _: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Merge(*self),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::Merge(op) = args {
        kernels::merge(*op, inputs, output);
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
