//! What MaxPooling2D and AveragePooling2D share: their configuration and output shape.

// The pooling family's shared code; `Pair` is also the convolutions'.
#![cfg_attr(not(feature = "pool"), allow(dead_code))]

use super::{image, image_input, one, Cx, Mismatch};
use crate::graph::config::Padding;
use crate::graph::infer::{image_shape, window_out};
use crate::kernels::Pool2dGeometry;
use crate::shape::Shape;

/// Spatial pairs `(height, width)`, as Keras's `kernel_size`, `strides`, `pool_size`.
pub type Pair = [u16; 2];

/// The configuration of a 2-D pooling layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2D {
    pub pool_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
}

#[cfg(feature = "format")]
crate::wire_fields!(Pool2D {
    pool_size,
    strides,
    padding
});

impl Pool2D {
    /// Pool of `pool_size`, strides = pool_size, 'valid' (Keras's defaults).
    pub fn new(pool_size: Pair) -> Self {
        Pool2D {
            pool_size,
            strides: pool_size,
            padding: Padding::Valid,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        let ok = |p: &Pair| p[0] > 0 && p[1] > 0;
        if !ok(&self.pool_size) || !ok(&self.strides) {
            Err("pool_size and strides must be at least 1")
        } else if self.padding == Padding::Causal {
            Err("padding must be 'valid' or 'same'")
        } else {
            Ok(())
        }
    }

    pub(crate) fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, ch) = image_input(&input)?;
        let (oh, ow) = window_out((h, w), self.pool_size, self.strides, [1, 1], self.padding);
        image_shape(&input, oh, ow, Some(ch)).ok_or(Mismatch::new(
            input,
            "height and width at least the pool size",
        ))
    }

    pub(crate) fn geometry(&self, cx: &Cx<'_, '_>) -> Result<Pool2dGeometry, Mismatch> {
        let [ph, pw] = self.pool_size;
        let [sh, sw] = self.strides;
        Pool2dGeometry::new(
            image(&cx.input())?,
            (ph as usize, pw as usize),
            (sh as usize, sw as usize),
            self.padding,
        )
        .ok_or(Mismatch::new(
            cx.input(),
            "a shape whose sizes fit in memory",
        ))
    }
}

/// A prepared global pooling step: positions per channel, and channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GlobalParams {
    pub spatial: usize,
    pub channels: usize,
}

/// Declares a pooling layer over a shared configuration (`Pool1D` or `Pool2D`, with its
/// size type): the builder, its [`Op`](super::Op) (checks and shape from the
/// configuration) and its step, which runs `$kernel` on the prepared geometry.
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
macro_rules! pooling_layer {
    ($(#[$doc:meta])* $name:ident($config:ident, $size:ty), $prefix:literal, $kernel:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub $config);

        #[cfg(feature = "format")]
        crate::wire_fields!($name(0));

        impl $name {
            /// A pool of `pool_size`; strides default to the pool size, padding to 'valid'.
            pub fn new(pool_size: $size) -> Self {
                $name($config::new(pool_size))
            }
            /// Keras's `strides`.
            pub fn strides(self, strides: $size) -> Self {
                $name($config { strides, ..self.0 })
            }
            /// Keras's `padding` ('valid' or 'same').
            pub fn padding(self, padding: crate::graph::config::Padding) -> Self {
                $name($config { padding, ..self.0 })
            }
        }

        impl super::Op for $name {
            fn class_name(&self) -> &'static str {
                stringify!($name)
            }

            fn auto_name_prefix(&self) -> &'static str {
                $prefix
            }

            fn validate(&self) -> Result<(), &'static str> {
                self.0.validate()
            }

            fn output_shape(
                &self,
                inputs: &[crate::shape::Shape],
            ) -> Result<crate::shape::Shape, super::Mismatch> {
                self.0.output_shape(inputs)
            }

            fn prepare<'w>(
                &self,
                cx: &super::Cx<'_, 'w>,
            ) -> Result<super::Step<'w>, super::Mismatch> {
                fn run(
                    args: &super::StepArgs<'_>,
                    inputs: &[&[f32]],
                    output: &mut [f32],
                    _: &mut super::Rand<'_>,
                ) {
                    if let (super::StepArgs::$name(g), [input]) = (args, inputs) {
                        $kernel(g, input, output);
                    }
                }
                Ok(super::Step {
                    run: super::Run::Compute(run),
                    args: super::StepArgs::$name(self.0.geometry(cx)?),
                })
            }
        }
    };
}
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
pub(crate) use pooling_layer;

/// Declares a global pooling layer (`keepdims`), whose output shape and step parameters
/// come from the `output_shape(keepdims, inputs)` and `params(cx)` of the module that
/// declares it, and whose step runs `$kernel(input, positions, channels, output)`.
#[cfg(feature = "global-pooling")]
macro_rules! global_pooling_layer {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kernel:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name {
            pub keepdims: bool,
        }

        #[cfg(feature = "format")]
        crate::wire_fields!($name { keepdims });

        impl $name {
            /// Without `keepdims`.
            pub fn new() -> Self {
                $name { keepdims: false }
            }
            /// Keras's `keepdims`: keep the pooled axes, of size 1.
            pub fn keepdims(self, keepdims: bool) -> Self {
                $name { keepdims }
            }
        }

        impl super::Op for $name {
            fn class_name(&self) -> &'static str {
                stringify!($name)
            }

            fn auto_name_prefix(&self) -> &'static str {
                $prefix
            }

            fn output_shape(
                &self,
                inputs: &[crate::shape::Shape],
            ) -> Result<crate::shape::Shape, super::Mismatch> {
                output_shape(self.keepdims, inputs)
            }

            fn prepare<'w>(
                &self,
                cx: &super::Cx<'_, 'w>,
            ) -> Result<super::Step<'w>, super::Mismatch> {
                fn run(
                    args: &super::StepArgs<'_>,
                    inputs: &[&[f32]],
                    output: &mut [f32],
                    _: &mut super::Rand<'_>,
                ) {
                    if let (super::StepArgs::$name(p), [input]) = (args, inputs) {
                        $kernel(input, p.spatial, p.channels, output);
                    }
                }
                Ok(super::Step {
                    run: super::Run::Compute(run),
                    args: super::StepArgs::$name(params(cx)?),
                })
            }
        }
    };
}
#[cfg(feature = "global-pooling")]
pub(crate) use global_pooling_layer;
