//! A model used as a layer (`inner(x)`): a container whose layers are its children. Its
//! call is a view of its inner output, so it computes nothing itself.

use super::{Arity, Cx, Mismatch, Op, Step};
use crate::graph::ModelKind;
use crate::shape::Shape;

impl Op for ModelKind {
    fn class_name(&self) -> &'static str {
        match self {
            ModelKind::Sequential => "Sequential",
            ModelKind::Functional => "Functional",
            ModelKind::Subclassed => "Model",
        }
    }

    fn auto_name_prefix(&self) -> &'static str {
        match self {
            ModelKind::Sequential => "sequential",
            _ => "functional",
        }
    }

    fn arity(&self) -> Arity {
        Arity::Many
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        Err(Mismatch::new(
            inputs.first().copied().unwrap_or(Shape::SCALAR),
            "a call through the nested model's own graph",
        ))
    }

    fn has_build(&self) -> bool {
        true
    }

    fn prepare<'w>(&self, _: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step::NOTHING)
    }
}
