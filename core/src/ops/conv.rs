//! What the convolutions share (Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D): the
//! window checks, the geometry they compute with, and the prepared step of a plain
//! convolution.

use super::pool2d::Pair;
use super::Mismatch;
use crate::graph::config::Padding;
#[cfg(any(
    feature = "conv2d",
    feature = "depthwise-conv2d",
    feature = "separable-conv2d"
))]
use crate::graph::infer::{image_shape, window_out};
use crate::kernels::Conv2dGeometry;
#[cfg(any(
    feature = "conv2d",
    feature = "depthwise-conv2d",
    feature = "separable-conv2d"
))]
use crate::shape::Dim;
use crate::shape::Shape;

/// A prepared Conv2D step (Conv1D's too: a row of one pixel's height).
#[cfg(any(feature = "conv1d", feature = "conv2d"))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params<'w> {
    pub geometry: Conv2dGeometry,
    pub kernel: &'w [f32],
    pub bias: Option<&'w [f32]>,
    pub activation: crate::graph::config::Activation,
}

#[cfg(any(feature = "conv1d", feature = "conv2d"))]
impl Params<'_> {
    /// Runs the convolution on one sample.
    pub(crate) fn compute(&self, input: &[f32], output: &mut [f32]) {
        let p = self;
        crate::kernels::fast::conv2d(&p.geometry, input, p.kernel, p.bias, output, p.activation);
    }
}

/// The window checks Conv2D, DepthwiseConv2D and SeparableConv2D share.
#[cfg(any(
    feature = "conv2d",
    feature = "depthwise-conv2d",
    feature = "separable-conv2d"
))]
pub(crate) fn check_window(
    kernel_size: Pair,
    strides: Pair,
    dilation_rate: Pair,
    padding: Padding,
) -> Result<(), &'static str> {
    if padding == Padding::Causal {
        return Err("padding must be 'valid' or 'same' ('causal' is for Conv1D)");
    }
    let ok = |p: &Pair| p[0] > 0 && p[1] > 0;
    if !ok(&kernel_size) || !ok(&strides) || !ok(&dilation_rate) {
        return Err("kernel_size, strides and dilation_rate must be at least 1");
    }
    if (strides[0] > 1 || strides[1] > 1) && (dilation_rate[0] > 1 || dilation_rate[1] > 1) {
        return Err("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)");
    }
    Ok(())
}

/// The geometry a convolution of `input` (height, width, channels) into `out_c`
/// channels computes with; `shape` is the input's, for the error.
pub(crate) fn geometry(
    shape: Shape,
    input: (usize, usize, usize),
    out_c: usize,
    [kh, kw]: Pair,
    [sh, sw]: Pair,
    [dh, dw]: Pair,
    padding: Padding,
) -> Result<Conv2dGeometry, Mismatch> {
    Conv2dGeometry::new(
        input,
        out_c,
        (kh as usize, kw as usize),
        (sh as usize, sw as usize),
        (dh as usize, dw as usize),
        padding,
    )
    .ok_or(Mismatch::new(shape, "a shape whose sizes fit in memory"))
}

/// The output shape of a 2-D convolution window over `input`, whose height and width are
/// `h` and `w`, into `out_c` channels (Keras's rules, 'same' included).
#[cfg(any(
    feature = "conv2d",
    feature = "depthwise-conv2d",
    feature = "separable-conv2d"
))]
pub(crate) fn window_shape(
    input: &Shape,
    (h, w): (Dim, Dim),
    out_c: u32,
    kernel_size: Pair,
    strides: Pair,
    dilation_rate: Pair,
    padding: Padding,
) -> Result<Shape, Mismatch> {
    let (oh, ow) = window_out((h, w), kernel_size, strides, dilation_rate, padding);
    image_shape(input, oh, ow, Some(out_c)).ok_or(Mismatch::new(
        *input,
        "height and width at least the (dilated) kernel size",
    ))
}

/// The backward pass of a plain convolution (Conv2D, Conv1D), from its prepared step.
#[cfg(all(feature = "training", any(feature = "conv1d", feature = "conv2d")))]
pub(crate) mod backward {
    use super::Params;
    use crate::graph::config::Activation;
    use crate::kernels::backward::conv2d::{conv2d_input, conv2d_weights};
    use crate::ops::Saved;

    /// The fused activation's derivative (recomputing the pre-activation when it needs it).
    pub(crate) fn output(p: &Params<'_>, saved: &Saved<'_>, d: &mut [f32], z: &mut [f32]) {
        let [x] = saved.inputs else { return };
        let z = z.get_mut(..d.len()).unwrap_or(&mut []);
        let pre = p.activation.backward_needs_input().then(|| {
            Params {
                activation: Activation::Linear,
                ..*p
            }
            .compute(x, z);
            &*z
        });
        p.activation
            .backward(pre, saved.output, d, p.geometry.out_c);
    }

    pub(crate) fn weights(p: &Params<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        let [x] = saved.inputs else { return };
        let (d_kernel, d_bias) = dw.split_at_mut(p.kernel.len().min(dw.len()));
        conv2d_weights(&p.geometry, x, d, d_kernel, p.bias.map(|_| d_bias));
    }

    pub(crate) fn input(p: &Params<'_>, d: &[f32], dx: &mut [f32]) {
        conv2d_input(&p.geometry, p.kernel, d, dx);
    }
}
