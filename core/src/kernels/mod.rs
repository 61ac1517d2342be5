//! Float32 reference kernels, one op per file (as tflite-micro lays out its kernels).
//!
//! These are the single source of float arithmetic truth: optimised kernels must
//! match them. Conventions shared by every kernel:
//!
//! * One sample (no batch axis), channels-last, row-major: an image is `(H, W, C)`
//!   with `C` fastest. Weights use the Keras layouts (KERAS-NOTES.md §4): Dense
//!   `(in, out)`, Conv2D `(kh, kw, cin, cout)`, DepthwiseConv2D `(kh, kw, cin, dm)`.
//! * Keras 3 with the JAX backend is the specification; results match it within
//!   rtol 1e-5 / atol 1e-6.
//! * Deterministic arithmetic: plain f32 `a * b + c` (no fused multiply-add; Rust
//!   never contracts), sums accumulated in a fixed, documented order (bias first,
//!   then inputs in index order), transcendental functions from `libm`. The same
//!   inputs give the same bits on the host and on every Cortex-M.
//! * No allocation, no `unsafe`, no panics: each kernel documents its slice-length
//!   contract (validated by the graph layer before the call), checks it with
//!   `debug_assert!`, and in release builds returns without writing if it is broken.
//! * Outputs are separate slices; element-wise ops ([`activation`], [`relu`]) work in
//!   place.

pub mod activation;
pub mod average_pool2d;
pub mod batch_norm;
pub mod conv2d;
pub mod dense;
pub mod depthwise_conv2d;
mod float;
pub mod global_pool;
pub mod max_pool2d;
pub mod padding;
pub mod pool2d;
pub mod relu;
#[cfg(test)]
mod test_util;

pub use activation::Activation;
pub use average_pool2d::average_pool2d;
pub use batch_norm::batch_norm;
pub use conv2d::{conv2d, Conv2dGeometry};
pub use dense::dense;
pub use depthwise_conv2d::depthwise_conv2d;
pub use global_pool::{global_average_pool, global_max_pool};
pub use max_pool2d::max_pool2d;
pub use padding::Padding;
pub use pool2d::Pool2dGeometry;
pub use relu::{leaky_relu, relu};
