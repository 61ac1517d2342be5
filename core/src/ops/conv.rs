//! What the convolutions share (Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D): the
//! window checks, the geometry they compute with, and the prepared step of a plain
//! convolution.

use super::pool2d::Pair;
use crate::graph::config::Padding;
use crate::kernels::Conv2dGeometry;

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

/// The geometry Conv2D and DepthwiseConv2D compute with.
pub(crate) fn geometry(
    input: (usize, usize, usize),
    out_c: usize,
    [kh, kw]: Pair,
    [sh, sw]: Pair,
    [dh, dw]: Pair,
    padding: Padding,
) -> Option<Conv2dGeometry> {
    Conv2dGeometry::new(
        input,
        out_c,
        (kh as usize, kw as usize),
        (sh as usize, sw as usize),
        (dh as usize, dw as usize),
        padding,
    )
}
