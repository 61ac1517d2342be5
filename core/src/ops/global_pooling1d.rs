//! `keras.layers.GlobalAveragePooling1D` and `GlobalMaxPooling1D`: one value per channel
//! over the steps (the 2-D kernels over `steps` positions).

use super::pool2d::GlobalParams as Params;
use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels;
use crate::shape::{Dim, Shape};

fn output_shape(keepdims: bool, inputs: &[Shape]) -> Result<Shape, Mismatch> {
    let input = one(inputs)?;
    let expected = "rank 3 (batch, steps, channels) with known channels";
    let channels = input
        .dim(2)
        .filter(|_| input.rank() == 3)
        .ok_or(Mismatch::new(input, expected))?;
    let batch = input.dim(0);
    let dims: &[Dim] = if keepdims {
        &[batch, Some(1), Some(channels)]
    } else {
        &[batch, Some(channels)]
    };
    Shape::new(dims).map_err(|_| Mismatch::new(input, expected))
}

fn params(cx: &Cx<'_, '_>) -> Result<Params, Mismatch> {
    let input = cx.input();
    Ok(Params {
        spatial: dim(&input, 1)?,
        channels: dim(&input, 2)?,
    })
}

macro_rules! global_pool {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kernel:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name {
            pub keepdims: bool,
        }

        #[cfg(feature = "format")]
        crate::wire_fields!($name { keepdims });

        impl $name {
            pub fn new() -> Self {
                $name { keepdims: false }
            }
            pub fn keepdims(self, keepdims: bool) -> Self {
                $name { keepdims }
            }
        }

        impl Op for $name {
            fn class_name(&self) -> &'static str {
                stringify!($name)
            }

            fn auto_name_prefix(&self) -> &'static str {
                $prefix
            }

            fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
                output_shape(self.keepdims, inputs)
            }

            fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
                fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
                    if let (StepArgs::$name(p), [input]) = (args, inputs) {
                        $kernel(input, p.spatial, p.channels, output);
                    }
                }
                Ok(Step {
                    run: Run::Compute(run),
                    args: StepArgs::$name(params(cx)?),
                })
            }
        }
    };
}

global_pool!(
    /// `keras.layers.GlobalAveragePooling1D()`.
    GlobalAveragePooling1D,
    "global_average_pooling1d",
    kernels::fast::global_average_pool
);
global_pool!(
    /// `keras.layers.GlobalMaxPooling1D()`.
    GlobalMaxPooling1D,
    "global_max_pooling1d",
    kernels::fast::global_max_pool
);
