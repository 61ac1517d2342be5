//! Kernels written for speed: the same arithmetic as the reference kernels beside them
//! (the same operations on each output, in the same order), so the results are the same
//! bits; what changes is how the work is laid out. Dense and Conv2D keep a block of
//! outputs in registers while the weights stream past once; pooling keeps a block of
//! channels. Each is tested bit for bit
//! against its reference kernel on random shapes and values.

pub mod block;
mod conv2d;
mod dense;
mod depthwise_conv2d;
mod pool2d;

pub use conv2d::conv2d;
pub use dense::dense;
pub use depthwise_conv2d::depthwise_conv2d;
pub use pool2d::{average_pool2d, global_average_pool, global_max_pool, max_pool2d};

use crate::graph::config::Activation;
use crate::kernels::activation::relu6;
use crate::kernels::float::relu0;

/// Stores a block of finished sums, applying a piecewise-linear activation on the way;
/// other activations run afterwards over the whole output ([`finish`]).
#[inline(always)]
pub(crate) fn store(dest: &mut [f32], sums: &[f32], activation: Activation) {
    let fused = |x: f32| match activation {
        Activation::Relu => relu0(x),
        Activation::Relu6 => relu6(x),
        _ => x,
    };
    for (d, &s) in dest.iter_mut().zip(sums) {
        *d = fused(s);
    }
}

/// The activations [`store`] does not apply, over the finished output.
pub(crate) fn finish(output: &mut [f32], activation: Activation, last_axis: usize) {
    if !matches!(
        activation,
        Activation::Linear | Activation::Relu | Activation::Relu6
    ) {
        activation.apply(output, last_axis);
    }
}
