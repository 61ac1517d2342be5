//! `keras.layers.SeparableConv2D`: a depthwise convolution (no bias) into a 1×1
//! convolution, then the bias and the activation.

use super::conv::{check_window, geometry, window_shape};
use super::pool2d::Pair;
use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::{Activation, Padding};
use crate::graph::{weight, WeightSpecs};
use crate::kernels::{self, Conv2dGeometry};
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.SeparableConv2D(filters, kernel_size)`.
///
/// ```
/// use kiln::layers::{Input, SeparableConv2D};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[32, 32, 3]))?;
/// let y = f.call(SeparableConv2D::new(16, [3, 3]), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 30, 30, 16)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeparableConv2D {
    /// Keras's `filters`: the output's channels (those of the 1×1 pointwise step).
    pub filters: u32,
    /// Keras's `kernel_size`: the depthwise window's `[height, width]`.
    pub kernel_size: Pair,
    /// Keras's `strides`: `[rows, columns]` between windows.
    pub strides: Pair,
    /// Keras's `dilation_rate`: `[rows, columns]` between the kernel's taps (1: adjacent).
    pub dilation_rate: Pair,
    /// Keras's `padding`: `Valid` (no padding) or `Same` (an output of `ceil(input / strides)`).
    pub padding: Padding,
    /// Keras's `depth_multiplier`: the depthwise step's filters per input channel.
    pub depth_multiplier: u32,
    /// Keras's `activation`, applied after the bias (`Linear`: none).
    pub activation: Activation,
    /// Keras's `use_bias`: false leaves out the `bias` variable.
    pub use_bias: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(SeparableConv2D {
    filters,
    kernel_size,
    strides,
    dilation_rate,
    padding,
    depth_multiplier,
    activation,
    use_bias
});

impl SeparableConv2D {
    /// `SeparableConv2D(filters, kernel_size)`: strides 1, 'valid', multiplier 1, linear,
    /// with bias.
    pub fn new(filters: u32, kernel_size: Pair) -> Self {
        SeparableConv2D {
            filters,
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
        SeparableConv2D { strides, ..self }
    }
    /// Keras's `dilation_rate=` (default 1; not together with strides above 1, as in Keras).
    pub fn dilation_rate(self, dilation_rate: Pair) -> Self {
        SeparableConv2D {
            dilation_rate,
            ..self
        }
    }
    /// Keras's `padding=` (default `Valid`).
    pub fn padding(self, padding: Padding) -> Self {
        SeparableConv2D { padding, ..self }
    }
    /// Keras's `depth_multiplier=` (default 1).
    pub fn depth_multiplier(self, depth_multiplier: u32) -> Self {
        SeparableConv2D {
            depth_multiplier,
            ..self
        }
    }
    /// Keras's `activation=` (default `Linear`).
    pub fn activation(self, activation: Activation) -> Self {
        SeparableConv2D { activation, ..self }
    }
    /// Keras's `use_bias=` (default true).
    pub fn use_bias(self, use_bias: bool) -> Self {
        SeparableConv2D { use_bias, ..self }
    }
}

/// A prepared SeparableConv2D step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params<'w> {
    /// The depthwise step's geometry (`out_c` = channels × multiplier).
    geometry: Conv2dGeometry,
    depth_multiplier: usize,
    filters: usize,
    depthwise: &'w [f32],
    pointwise: &'w [f32],
    bias: Option<&'w [f32]>,
    activation: Activation,
}

impl Op for SeparableConv2D {
    fn class_name(&self) -> &'static str {
        "SeparableConv2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "separable_conv2d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.filters == 0 || self.depth_multiplier == 0 {
            return Err("filters and depth_multiplier must be at least 1");
        }
        if self.filters > MAX_DIM || self.depth_multiplier > MAX_DIM {
            return Err("filters and depth_multiplier must be at most 4294967294");
        }
        check_window(self.kernel_size, self.strides, self.dilation_rate, self.padding)
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, _) = image_input(&input)?;
        window_shape(
            &input,
            (h, w),
            self.filters,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let [kh, kw] = self.kernel_size.map(u32::from);
        let mid = channels.saturating_mul(self.depth_multiplier);
        let mut specs = WeightSpecs::new();
        let kernel = [kh, kw, channels, self.depth_multiplier];
        weight(&mut specs, "depthwise_kernel", &kernel, true);
        weight(&mut specs, "pointwise_kernel", &[1, 1, mid, self.filters], true);
        if self.use_bias {
            weight(&mut specs, "bias", &[self.filters], true);
        }
        specs
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

    /// The depthwise tensor and its gradient, and the pre-activation output.
    #[cfg(feature = "training")]
    fn backward_scratch(&self, input: &Shape, output: &Shape) -> usize {
        let mid = output.sample_elements().unwrap_or(0) / self.filters.max(1) as usize
            * input.last().unwrap_or(0) as usize
            * self.depth_multiplier as usize;
        2 * mid + output.sample_elements().unwrap_or(0)
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
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::SeparableConv2D(self::Params {
                geometry,
                depth_multiplier: multiplier,
                filters: self.filters as usize,
                depthwise: cx.weight(0)?,
                pointwise: cx.weight(1)?,
                bias: self.use_bias.then(|| cx.weight(2)).transpose()?,
                activation: self.activation,
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    let (StepArgs::SeparableConv2D(p), [input]) = (args, inputs) else {
        return;
    };
    kernels::separable_conv2d::separable_conv2d(
        &p.geometry,
        p.depth_multiplier,
        input,
        p.depthwise,
        p.pointwise,
        p.bias,
        p.filters,
        output,
    );
    p.activation.apply(output, p.filters);
}

/// The backward pass through the depthwise tensor `t` (recomputed, with its gradient
/// `dt`, in the work buffer: `[t | dt | pre-activation]`).
#[cfg(feature = "training")]
mod backward {
    use super::super::{Saved, StepArgs};
    use super::Params;
    use crate::graph::config::Activation;
    use crate::kernels::backward::conv2d::{depthwise_conv2d_input, depthwise_conv2d_weights};
    use crate::kernels::backward::dense::{dense_input, dense_weights};

    fn parts<'a>(p: &Params<'_>, work: &'a [f32]) -> Option<(&'a [f32], &'a [f32])> {
        let mid = p.geometry.output_len()?;
        Some((work.get(..mid)?, work.get(mid..2 * mid)?))
    }

    pub(super) fn output(args: &StepArgs<'_>, saved: &Saved<'_>, d: &mut [f32], work: &mut [f32]) {
        let (StepArgs::SeparableConv2D(p), [x]) = (args, saved.inputs) else {
            return;
        };
        let Some(mid) = p.geometry.output_len() else { return };
        if work.len() < 2 * mid + d.len() {
            return;
        }
        let (t, rest) = work.split_at_mut(mid);
        let (dt, rest) = rest.split_at_mut(mid);
        crate::kernels::depthwise_conv2d(&p.geometry, p.depth_multiplier, x, p.depthwise, None, t);
        let z = &mut rest[..d.len()];
        let pre = p.activation.backward_needs_input().then(|| {
            crate::kernels::fast::dense(t, p.geometry.out_c, p.pointwise, p.bias, z, Activation::Linear);
            &*z
        });
        p.activation.backward(pre, saved.output, d, p.filters);
        dense_input(p.pointwise, d, p.geometry.out_c, dt);
    }

    pub(super) fn weights(args: &StepArgs<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        let (StepArgs::SeparableConv2D(p), [x]) = (args, saved.inputs) else {
            return;
        };
        let Some((t, dt)) = parts(p, saved.work) else { return };
        let (d_depthwise, rest) = dw.split_at_mut(p.depthwise.len().min(dw.len()));
        let (d_pointwise, d_bias) = rest.split_at_mut(p.pointwise.len().min(rest.len()));
        depthwise_conv2d_weights(&p.geometry, x, dt, d_depthwise, None);
        dense_weights(t, d, p.geometry.out_c, d_pointwise, p.bias.map(|_| d_bias));
    }

    pub(super) fn input(args: &StepArgs<'_>, saved: &Saved<'_>, _: usize, _: &[f32], dx: &mut [f32]) {
        let StepArgs::SeparableConv2D(p) = args else { return };
        if let Some((_, dt)) = parts(p, saved.work) {
            depthwise_conv2d_input(&p.geometry, p.depthwise, dt, dx);
        }
    }
}
