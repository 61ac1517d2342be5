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
//! * No allocation, no `unsafe` (but for the Cortex-M FPU assembly in
//!   `kernels/fast/block.rs`), no panics: each kernel documents its slice-length
//!   contract (validated by the graph layer before the call), checks it with
//!   `debug_assert!`, and in release builds returns without writing if it is broken.
//! * Outputs are separate slices; element-wise ops ([`activation`](mod@activation),
//!   [`relu`](mod@relu), [`dropout`](mod@dropout)) work in place.
//! * Training-mode randomness ([`dropout`](mod@dropout), [`random_crop`](mod@random_crop))
//!   comes from [`SmallRng`]: Keras's distributions, not JAX's exact random streams.

pub mod activation;
pub mod average_pool2d;
#[cfg(feature = "training")]
pub mod backward;
pub mod batch_norm;
pub mod concatenate;
pub mod conv2d;
pub mod dense;
pub mod depthwise_conv2d;
pub mod dropout;
pub mod fast;
pub(crate) mod float;
pub mod global_pool;
pub mod int8;
pub mod math;
pub mod max_pool2d;
pub mod merge;
pub mod padding;
pub mod pool2d;
pub mod random_crop;
pub mod relu;
pub mod rng;
pub mod separable_conv2d;
pub mod spatial;
#[cfg(test)]
mod test_util;

pub use activation::Activation;
pub use average_pool2d::average_pool2d;
pub use batch_norm::batch_norm;
pub use concatenate::concatenate;
pub use conv2d::{conv2d, Conv2dGeometry};
pub use dense::dense;
pub use depthwise_conv2d::depthwise_conv2d;
pub use dropout::dropout;
pub use global_pool::{global_average_pool, global_max_pool};
pub use max_pool2d::max_pool2d;
pub use merge::{merge, MergeOp};
pub use padding::Padding;
pub use pool2d::{Cells, Pool2dGeometry};
pub use random_crop::{
    center_crop_resize, center_offset, crop, crop_offset, crop_window, resize_bilinear, CropWindow,
};
pub use relu::{leaky_relu, relu};
pub use rng::SmallRng;

/// Release builds: a broken slice-length contract must not panic (DESIGN.md
/// invariant 1); the kernel returns without touching `output`.
#[cfg(all(test, not(debug_assertions)))]
mod release_contract_tests {
    use super::*;

    #[test]
    fn broken_contracts_do_not_panic() {
        let mut out = [7.0f32; 4];
        dense(&[1.0, 2.0, 3.0], 2, &[1.0; 4], None, &mut out);
        dense(&[1.0], 0, &[], Some(&[1.0]), &mut out);
        let g = Conv2dGeometry::new((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Valid).unwrap();
        conv2d(&g, &[1.0; 8], &[1.0; 4], None, &mut out);
        conv2d(&g, &[1.0; 9], &[1.0; 4], Some(&[1.0, 2.0]), &mut out);
        depthwise_conv2d(&g, 2, &[1.0; 9], &[1.0; 4], None, &mut out);
        depthwise_conv2d(&g, 0, &[1.0; 9], &[1.0; 4], None, &mut out);
        // consistent lengths, but coordinates that overflow usize
        let huge = Conv2dGeometry {
            stride_h: usize::MAX,
            ..g
        };
        conv2d(&huge, &[1.0; 9], &[1.0; 4], None, &mut out);
        let p = Pool2dGeometry::new((3, 3, 1), (2, 2), (1, 1), Padding::Valid).unwrap();
        max_pool2d(&p, &[1.0; 8], &mut out);
        average_pool2d(&p, &[1.0; 9], &mut out[..3]);
        global_average_pool(&[1.0; 5], 2, 2, &mut out[..2]);
        global_max_pool(&[1.0; 4], 2, 2, &mut out[..3]);
        batch_norm(&[1.0; 4], 0, None, None, &[], &[], 1e-3, &mut out);
        batch_norm(
            &[1.0; 4],
            2,
            None,
            None,
            &[0.0],
            &[1.0, 1.0],
            1e-3,
            &mut out,
        );
        let mut data = [1.0f32; 4];
        fast::batch_norm_in_place(&mut data, 3, None, None, &[0.0; 3], &[1.0; 3], 1e-3);
        fast::batch_norm_in_place(&mut data, 0, None, None, &[], &[], 1e-3);
        assert_eq!(data, [1.0; 4]);
        merge(MergeOp::Add, &[], &mut out);
        merge(MergeOp::Subtract, &[&[1.0; 4]], &mut out);
        merge(MergeOp::Add, &[&[1.0; 4], &[1.0; 3]], &mut out);
        concatenate(&[&[1.0; 2], &[1.0; 2]], 3, &mut out);
        concatenate(&[&[1.0; 2]], 0, &mut out);
        let window = CropWindow {
            top: 1,
            left: 0,
            rows: 2,
            cols: 2,
        };
        crop(&[1.0; 4], (2, 2, 1), window, (2, 2), &mut out);
        crop(
            &[1.0; 4],
            (2, 2, 1),
            CropWindow { top: 0, ..window },
            (1, 1),
            &mut out,
        );
        let huge = CropWindow {
            top: usize::MAX,
            ..window
        };
        crop(&[1.0; 4], (2, 2, 1), huge, (2, 2), &mut out);
        resize_bilinear(&[], (0, 4, 1), (2, 2), &mut out);
        center_crop_resize(&[1.0; 3], (2, 2, 1), (2, 2), &mut out);
        spatial::zero_padding2d(&[1.0; 3], (2, 2, 1), [[1, 0], [0, 0]], &mut out);
        spatial::cropping2d(&[1.0; 9], (3, 3, 1), [[2, 1], [0, 0]], &mut out);
        spatial::cropping2d(&[1.0; 8], (3, 3, 1), [[1, 1], [1, 1]], &mut out[..1]);
        spatial::upsampling2d_nearest(&[1.0; 2], (1, 1, 1), (2, 2), &mut out);
        separable_conv2d::separable_conv2d(
            &g, 1, &[1.0; 9], &[1.0; 4], &[1.0; 2], None, 2, &mut out,
        );
        assert_eq!(out, [7.0; 4]);
        let mut rng = SmallRng::new(0);
        dropout(&mut out, 1.5, &mut rng);
        dropout(&mut out, f32::NAN, &mut rng);
        dropout(&mut out, -0.5, &mut rng);
        assert_eq!(out, [7.0; 4]);
        assert_eq!(rng, SmallRng::new(0));
        let mut d = [1.0f32, 2.0, 3.0];
        Activation::Softmax.apply(&mut d, 0);
        assert_eq!(d, [1.0, 2.0, 3.0]);
        Activation::Softmax.apply(&mut d, 2); // partial last chunk: normalised alone
        assert_eq!(d[2], 1.0);
    }
}
