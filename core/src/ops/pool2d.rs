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
    /// Keras's `pool_size`: the window's `[height, width]`.
    pub pool_size: Pair,
    /// Keras's `strides`: `[rows, columns]` between windows.
    pub strides: Pair,
    /// Keras's `padding`: `Valid` or `Same`.
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
        self.geometry_of(&cx.input())
    }

    /// The window geometry on an input of shape `input`.
    #[inline(never)]
    pub(crate) fn geometry_of(&self, input: &Shape) -> Result<Pool2dGeometry, Mismatch> {
        let [ph, pw] = self.pool_size;
        let [sh, sw] = self.strides;
        Pool2dGeometry::new(
            image(input)?,
            (ph as usize, pw as usize),
            (sh as usize, sw as usize),
            self.padding,
        )
        .ok_or(Mismatch::new(*input, "a shape whose sizes fit in memory"))
    }
}

/// A prepared global pooling step: positions per channel, and channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GlobalParams {
    pub spatial: usize,
    pub channels: usize,
    /// An int8 average's parameters (TensorFlow Lite's MEAN over height and width).
    pub mean: Option<crate::kernels::int8::mean::MeanParams>,
}

/// A prepared pooling step: the window geometry, and the clamp of an int8 pool's fused
/// activation.
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PoolStep {
    pub geometry: crate::kernels::Pool2dGeometry,
    pub clamp: (i32, i32),
}

/// Declares a pooling layer over a shared configuration (`Pool1D` or `Pool2D`, with its
/// size type): the builder, its [`Op`](super::Op) (checks and shape from the
/// configuration) and its step, which runs `$kernel` on the prepared geometry.
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
macro_rules! pooling_layer {
    ($(#[$doc:meta])* $name:ident($config:ident, $size:ty), $prefix:literal, $kernel:path,
        backward: $backward:path $(, int8: $int8_kernel:path)?) => {
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

            $(
            /// On int8: the header of `requant` (the fused activation's clamp).
            fn int8_weights(&self, _input: &crate::shape::Shape) -> crate::graph::WeightSpecs {
                let _ = $int8_kernel; // (this block is for the layers with an int8 kernel)
                crate::graph::layer::int8_params(super::int8::HEADER_WORDS)
            }

            fn runs(&self, dtype: crate::graph::DType) -> bool {
                matches!(dtype, crate::graph::DType::F32 | crate::graph::DType::I8)
            }
            )?

            fn pools_in_place(&self, input: &crate::shape::Shape) -> bool {
                self.0.geometry_of(input).is_ok_and(|g| g.reads_ahead())
            }

            #[cfg(feature = "training")]
            fn backward(&self) -> Option<super::Backward> {
                fn input(
                    args: &super::StepArgs<'_>,
                    saved: &super::Saved<'_>,
                    _: usize,
                    d: &[f32],
                    dx: &mut [f32],
                ) {
                    if let (super::StepArgs::$name(p), [x]) = (args, saved.inputs) {
                        $backward(&p.geometry, x, d, dx);
                    }
                }
                Some(super::Backward::input(input))
            }

            fn prepare<'w>(
                &self,
                cx: &super::Cx<'_, 'w>,
            ) -> Result<super::Step<'w>, super::Mismatch> {
                fn run(args: &super::StepArgs<'_>, cells: crate::kernels::Cells<'_, f32>) {
                    if let super::StepArgs::$name(p) = args {
                        $kernel(&p.geometry, cells);
                    }
                }
                let geometry = self.0.geometry(cx)?;
                $(
                if cx.is_int8() {
                    fn run_int8(args: &super::StepArgs<'_>, cells: crate::kernels::Cells<'_, i8>) {
                        if let super::StepArgs::$name(p) = args {
                            $int8_kernel(&p.geometry, cells, p.clamp.0, p.clamp.1);
                        }
                    }
                    // TensorFlow Lite's int8 pools keep their input's quantization.
                    super::int8::same_quantization(cx)?;
                    let (header, _) = super::int8::op_words(cx, 0, 0)?;
                    return Ok(super::Step {
                        run: super::Run::Int8Pool(run_int8),
                        args: super::StepArgs::$name(super::pool2d::PoolStep {
                            geometry,
                            clamp: (header.act_min, header.act_max),
                        }),
                    });
                }
                )?
                Ok(super::Step {
                    run: super::Run::Pool(run),
                    args: super::StepArgs::$name(super::pool2d::PoolStep {
                        geometry,
                        clamp: (-128, 127),
                    }),
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
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kernel:path, backward: $backward:path
        $(, int8: $int8_kernel:path)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name {
            /// Keras's `keepdims`: keep the pooled axes, of size 1.
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

            #[cfg(feature = "training")]
            fn backward(&self) -> Option<super::Backward> {
                fn input(
                    args: &super::StepArgs<'_>,
                    saved: &super::Saved<'_>,
                    _: usize,
                    d: &[f32],
                    dx: &mut [f32],
                ) {
                    if let (super::StepArgs::$name(p), [x]) = (args, saved.inputs) {
                        $backward(x, p.spatial, d, dx);
                    }
                }
                Some(super::Backward::input(input))
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
                $(
                if cx.is_int8() {
                    use crate::kernels::int8::mean::MeanParams;
                    fn run_int8(args: &super::StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
                        if let (super::StepArgs::$name(p), [input]) = (args, inputs) {
                            if let Some(mean) = &p.mean {
                                $int8_kernel(mean, input, output);
                            }
                        }
                    }
                    let words = super::int8::op_words(cx, 0, MeanParams::WORDS)?.1;
                    let mean = <[i32; MeanParams::WORDS]>::try_from(words)
                        .ok()
                        .and_then(MeanParams::from_words)
                        .ok_or(super::Mismatch::new(cx.input(), "the int8 mean's parameters"))?;
                    let params = params(cx)?;
                    // The kernel's slice contract: `count` cells per channel.
                    if usize::try_from(mean.count).ok() != Some(params.spatial) {
                        return Err(super::Mismatch::new(
                            cx.input(),
                            "an int8 mean whose count is the input's cells per channel",
                        ));
                    }
                    return Ok(super::Step {
                        run: super::Run::Int8(run_int8),
                        args: super::StepArgs::$name(super::pool2d::GlobalParams {
                            mean: Some(mean),
                            ..params
                        }),
                    });
                }
                )?
                Ok(super::Step {
                    run: super::Run::Compute(run),
                    args: super::StepArgs::$name(params(cx)?),
                })
            }

            $(
            /// On int8 (TensorFlow Lite's MEAN): `requant` holds the mean's parameters.
            fn int8_weights(&self, _input: &crate::shape::Shape) -> crate::graph::WeightSpecs {
                let _ = $int8_kernel; // (this block is for the layers with an int8 kernel)
                crate::graph::layer::int8_params(
                    super::int8::HEADER_WORDS + crate::kernels::int8::mean::MeanParams::WORDS,
                )
            }

            fn runs(&self, dtype: crate::graph::DType) -> bool {
                matches!(dtype, crate::graph::DType::F32 | crate::graph::DType::I8)
            }
            )?
        }
    };
}
#[cfg(feature = "global-pooling")]
pub(crate) use global_pooling_layer;

/// The pools' backward passes in the shapes the layer macros call them with.
#[cfg(feature = "training")]
#[allow(dead_code)] // (a build may have some pool layers and not others)
pub(crate) mod backward {
    use crate::kernels::backward::pool;
    use crate::kernels::Pool2dGeometry;

    pub(crate) fn max(g: &Pool2dGeometry, x: &[f32], d: &[f32], dx: &mut [f32]) {
        pool::max_pool2d(g, x, d, dx);
    }

    pub(crate) fn average(g: &Pool2dGeometry, _: &[f32], d: &[f32], dx: &mut [f32]) {
        pool::average_pool2d(g, d, dx);
    }

    pub(crate) fn global_average(_: &[f32], spatial: usize, d: &[f32], dx: &mut [f32]) {
        pool::global_average_pool(d, spatial, dx);
    }

    pub(crate) fn global_max(x: &[f32], _: usize, d: &[f32], dx: &mut [f32]) {
        pool::global_max_pool(x, d, dx);
    }
}
