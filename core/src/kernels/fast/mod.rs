//! Kernels written for speed: the same arithmetic as the reference kernels beside them
//! (the same operations on each output, in the same order), so the results are the same
//! bits; what changes is how the work is laid out. Dense and Conv2D keep a block of
//! outputs in registers while the weights stream past once; pooling keeps a block of
//! channels. Each is tested bit for bit
//! against its reference kernel on random shapes and values.

#[cfg(feature = "normalization")]
mod batch_norm;
pub mod block;
mod conv2d;
mod dense;
mod depthwise_conv2d;
mod pool2d;

#[cfg(feature = "normalization")]
pub use batch_norm::batch_norm_in_place;
pub use conv2d::conv2d;
pub use dense::dense;
pub use depthwise_conv2d::depthwise_conv2d;
pub use pool2d::{
    average_pool2d, average_pool2d_cells, global_average_pool, global_max_pool, max_pool2d,
    max_pool2d_cells,
};

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

/// `y[j] += xs[i] * w[i * y.len() + j]` for `i = 0, 1, …` in order, for every `j`: the
/// outputs as one vector that each input row adds its weights to (a loop LLVM vectorizes
/// across the outputs), four rows per pass so the outputs are loaded and stored a quarter
/// as often. Each output still adds its rows in order: the block kernels' bits. Hosts use
/// it; the Cortex-M4F keeps its register block.
#[allow(dead_code)]
#[inline]
pub(crate) fn axpy_rows(y: &mut [f32], xs: &[f32], w: &[f32]) {
    let units = y.len();
    if units == 0 {
        return;
    }
    let mut x4s = xs.chunks_exact(4);
    let mut w4s = w.chunks_exact(4 * units);
    for (x4, w4) in (&mut x4s).zip(&mut w4s) {
        let (w0, rest) = w4.split_at(units);
        let (w1, rest) = rest.split_at(units);
        let (w2, w3) = rest.split_at(units);
        let (x0, x1, x2, x3) = (x4[0], x4[1], x4[2], x4[3]);
        for ((((o, &a), &b), &c), &d) in y.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
            *o = *o + x0 * a + x1 * b + x2 * c + x3 * d;
        }
    }
    let rest = w4s.remainder();
    for (&x, w_row) in x4s.remainder().iter().zip(rest.chunks_exact(units)) {
        for (o, &w) in y.iter_mut().zip(w_row) {
            *o += x * w;
        }
    }
}

/// [`store`]'s activation on sums already in place.
#[allow(dead_code)]
pub(crate) fn store_in_place(data: &mut [f32], activation: Activation) {
    match activation {
        Activation::Relu => data.iter_mut().for_each(|x| *x = relu0(*x)),
        Activation::Relu6 => data.iter_mut().for_each(|x| *x = relu6(*x)),
        _ => {}
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
