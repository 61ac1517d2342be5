//! `keras.layers.GlobalAveragePooling2D` and `GlobalMaxPooling2D`: one value per channel.

use super::pool2d::GlobalParams as Params;
use super::{image, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::infer::image_axes;
use crate::kernels;
use crate::shape::{Dim, Shape};

fn output_shape(keepdims: bool, inputs: &[Shape]) -> Result<Shape, Mismatch> {
    let input = one(inputs)?;
    let (_, _, ch) = image_axes(&input).ok_or(Mismatch::new(
        input,
        "rank 4 (batch, height, width, channels) with known channels",
    ))?;
    let batch = input.dim(0);
    let dims: &[Dim] = if keepdims {
        &[batch, Some(1), Some(1), Some(ch)]
    } else {
        &[batch, Some(ch)]
    };
    Shape::new(dims).map_err(|_| Mismatch::new(input, "a rank-4 input"))
}

fn params(cx: &Cx<'_, '_>) -> Result<Params, Mismatch> {
    let (h, w, channels) = image(&cx.input())?;
    Ok(Params {
        spatial: h * w,
        channels,
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
    /// `keras.layers.GlobalAveragePooling2D()`.
    GlobalAveragePooling2D,
    "global_average_pooling2d",
    kernels::fast::global_average_pool
);
global_pool!(
    /// `keras.layers.GlobalMaxPooling2D()`.
    GlobalMaxPooling2D,
    "global_max_pooling2d",
    kernels::fast::global_max_pool
);
