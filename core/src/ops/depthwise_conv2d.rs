//! `keras.layers.DepthwiseConv2D`: one filter (or `depth_multiplier` of them) per channel.

use super::conv::{check_window, geometry, window_shape};
use super::pool2d::Pair;
use super::int8::{self, Typed};
use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::{Activation, Padding};
use crate::graph::layer::int8_weights;
use crate::graph::{weight, DType, WeightSpecs};
use crate::kernels::{self, Conv2dGeometry};
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.DepthwiseConv2D(kernel_size)`.
///
/// ```
/// use kiln::layers::{DepthwiseConv2D, Input};
/// use kiln::{Fixed, Functional, Padding};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[32, 32, 3]))?;
/// let y = f.call(DepthwiseConv2D::new([3, 3]).depth_multiplier(2).padding(Padding::Same), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 32, 32, 6)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthwiseConv2D {
    /// Keras's `kernel_size`: the window's `[height, width]`.
    pub kernel_size: Pair,
    /// Keras's `strides`: `[rows, columns]` between windows.
    pub strides: Pair,
    /// Keras's `dilation_rate`: `[rows, columns]` between the kernel's taps (1: adjacent).
    pub dilation_rate: Pair,
    /// Keras's `padding`: `Valid` (no padding) or `Same` (an output of `ceil(input / strides)`).
    pub padding: Padding,
    /// Keras's `depth_multiplier`: filters per input channel; the output has
    /// `channels × depth_multiplier` channels.
    pub depth_multiplier: u32,
    /// Keras's `activation`, applied after the bias (`Linear`: none).
    pub activation: Activation,
    /// Keras's `use_bias`: false leaves out the `bias` variable.
    pub use_bias: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(DepthwiseConv2D {
    kernel_size,
    strides,
    dilation_rate,
    padding,
    depth_multiplier,
    activation,
    use_bias
});

impl DepthwiseConv2D {
    /// `DepthwiseConv2D(kernel_size)`: depth_multiplier 1, strides 1, 'valid'.
    pub fn new(kernel_size: Pair) -> Self {
        DepthwiseConv2D {
            kernel_size,
            strides: [1, 1],
            dilation_rate: [1, 1],
            padding: Padding::Valid,
            depth_multiplier: 1,
            activation: Activation::Linear,
            use_bias: true,
        }
    }
    /// Keras's `strides=` (default 1).
    pub fn strides(self, strides: Pair) -> Self {
        DepthwiseConv2D { strides, ..self }
    }
    /// Keras's `dilation_rate=` (default 1; not together with strides above 1, as in Keras).
    pub fn dilation_rate(self, dilation_rate: Pair) -> Self {
        DepthwiseConv2D {
            dilation_rate,
            ..self
        }
    }
    /// Keras's `padding=` (default `Valid`).
    pub fn padding(self, padding: Padding) -> Self {
        DepthwiseConv2D { padding, ..self }
    }
    /// Keras's `depth_multiplier=` (default 1).
    pub fn depth_multiplier(self, depth_multiplier: u32) -> Self {
        DepthwiseConv2D {
            depth_multiplier,
            ..self
        }
    }
    /// Keras's `activation=` (default `Linear`).
    pub fn activation(self, activation: Activation) -> Self {
        DepthwiseConv2D { activation, ..self }
    }
    /// Keras's `use_bias=` (default true).
    pub fn use_bias(self, use_bias: bool) -> Self {
        DepthwiseConv2D { use_bias, ..self }
    }
}

/// A prepared DepthwiseConv2D step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params<'w> {
    geometry: Conv2dGeometry,
    depth_multiplier: usize,
    kernel: &'w [f32],
    bias: Option<&'w [f32]>,
    activation: Activation,
}

impl Op for DepthwiseConv2D {
    fn class_name(&self) -> &'static str {
        "DepthwiseConv2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "depthwise_conv2d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self.depth_multiplier {
            0 => {
                return Err(
                    "kernel_size, strides, dilation_rate and depth_multiplier must be at least 1",
                )
            }
            m if m > MAX_DIM => return Err("depth_multiplier must be at most 4294967294"),
            _ => {}
        }
        check_window(self.kernel_size, self.strides, self.dilation_rate, self.padding)
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, ch) = image_input(&input)?;
        let out_c = ch
            .checked_mul(self.depth_multiplier)
            .filter(|&n| n <= MAX_DIM)
            .ok_or(Mismatch::new(
                input,
                "an input whose output has every axis below 2^32",
            ))?;
        window_shape(
            &input,
            (h, w),
            out_c,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let [kh, kw] = self.kernel_size;
        let mut specs = WeightSpecs::new();
        weight(
            &mut specs,
            "kernel",
            &[kh as u32, kw as u32, channels, self.depth_multiplier],
            true,
        );
        if self.use_bias {
            weight(
                &mut specs,
                "bias",
                &[channels.saturating_mul(self.depth_multiplier)],
                true,
            );
        }
        specs
    }

    fn int8_weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let [kh, kw] = self.kernel_size;
        let dims = [kh as u32, kw as u32, channels.saturating_mul(self.depth_multiplier)];
        int8_weights(&dims, 2, self.use_bias)
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    fn has_build(&self) -> bool {
        true
    }

    fn math(&self) -> Option<&'static str> {
        self.activation.math()
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward {
            output: Some(backward::output),
            weights: Some(backward::weights),
            input: backward::input,
            batch: None,
        })
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let (h, w, ch) = image(&cx.input())?;
        let multiplier = self.depth_multiplier as usize;
        let geometry = geometry(
            cx.input(),
            (h, w, ch),
            ch * multiplier,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )?;
        if cx.is_int8() {
            let kernel = int8::kernel(cx, self.use_bias, ch * multiplier)?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::DepthwiseConv2D(Typed::I8((geometry, multiplier, kernel))),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::DepthwiseConv2D(Typed::F32(self::Params {
                geometry,
                depth_multiplier: multiplier,
                kernel: cx.weight(0)?,
                bias: self.use_bias.then(|| cx.weight(1)).transpose()?,
                activation: self.activation,
            })),
        })
    }
}

/// TensorFlow Lite's DEPTHWISE_CONV_2D: kernel `(kh, kw, channels × depth_multiplier)`.
fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let (StepArgs::DepthwiseConv2D(Typed::I8((g, m, k))), [input]) = (args, inputs) {
        kernels::int8::fast::depthwise_conv2d(
            g,
            *m,
            input,
            k.input_offset,
            k.kernel,
            k.bias,
            &k.stage,
            output,
        );
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    let (StepArgs::DepthwiseConv2D(Typed::F32(p)), [input]) = (args, inputs) else {
        return;
    };
    kernels::fast::depthwise_conv2d(
        &p.geometry,
        p.depth_multiplier,
        input,
        p.kernel,
        p.bias,
        output,
        p.activation,
    );
}

#[cfg(feature = "training")]
mod backward {
    use super::super::{Saved, StepArgs};
    use super::{Params, Typed};
    use crate::graph::config::Activation;
    use crate::kernels::backward::conv2d::{depthwise_conv2d_input, depthwise_conv2d_weights};

    pub(super) fn output(args: &StepArgs<'_>, saved: &Saved<'_>, d: &mut [f32], z: &mut [f32]) {
        let (StepArgs::DepthwiseConv2D(Typed::F32(p)), [x]) = (args, saved.inputs) else {
            return;
        };
        let z = z.get_mut(..d.len()).unwrap_or(&mut []);
        let pre = p.activation.backward_needs_input().then(|| {
            let Params {
                geometry,
                depth_multiplier,
                kernel,
                bias,
                ..
            } = *p;
            let linear = Activation::Linear;
            crate::kernels::fast::depthwise_conv2d(&geometry, depth_multiplier, x, kernel, bias, z, linear);
            &*z
        });
        p.activation.backward(pre, saved.output, d, p.geometry.out_c);
    }

    pub(super) fn weights(args: &StepArgs<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        let (StepArgs::DepthwiseConv2D(Typed::F32(p)), [x]) = (args, saved.inputs) else {
            return;
        };
        let (d_kernel, d_bias) = dw.split_at_mut(p.kernel.len().min(dw.len()));
        depthwise_conv2d_weights(&p.geometry, x, d, d_kernel, p.bias.map(|_| d_bias));
    }

    pub(super) fn input(args: &StepArgs<'_>, _: &Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
        if let StepArgs::DepthwiseConv2D(Typed::F32(p)) = args {
            depthwise_conv2d_input(&p.geometry, p.kernel, d, dx);
        }
    }
}
