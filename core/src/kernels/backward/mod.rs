//! Backward (gradient) kernels for training, float32, one sample at a time, beside the
//! forward kernel each one differentiates. Conventions:
//!
//! * `d_output` is dL/d(output) of one sample; an input's gradient is *written* (the
//!   trainer adds it to the input tensor's gradient, which may have several readers);
//!   a weight gradient is *added* to the caller's buffer (it sums over the batch).
//! * The derivative at a kink is JAX's: `relu'(0) = 0`, a max sends its gradient to the
//!   first maximum, `|x|'(0) = 0`.
//! * Same contracts as the forward kernels: lengths are checked by the graph before a
//!   call; a broken contract writes nothing (debug builds assert).
//!
//! Each is checked against finite differences of its forward kernel (property tests).

pub mod activation;
pub mod conv2d;

pub mod dense;
pub mod pool;
pub mod spatial;

#[cfg(test)]
pub(crate) mod check;
