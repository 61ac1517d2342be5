//! `keras.layers.MaxPooling2D` (float32 reference).

use super::float::max_nan;
use super::pool2d::Pool2dGeometry;

/// 2-D max pooling, one sample: each output is the maximum of its window, per channel.
///
/// Cells outside the input (`same` padding) are ignored, as if they held `-inf` (JAX
/// reduces with initial value `-inf`). A window with no input cell, which Keras
/// geometries never produce, gives `-inf`. NaN propagates, as with XLA's `max`.
///
/// # Slice-length contract
/// * `input.len() == in_h * in_w * channels`;
/// * `output.len() == out_h * out_w * channels`;
/// * the geometry's coordinates do not overflow `usize` (true for any geometry from
///   [`Pool2dGeometry::new`]).
///
/// Debug builds assert the contract; release builds return without writing `output`
/// when it is broken (never panic).
pub fn max_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    let ok = g.fits(input, output);
    debug_assert!(ok, "max_pool2d: slice lengths break the contract for {g:?}");
    let c = g.channels;
    if !ok || c == 0 {
        return;
    }
    let mut pixels = output.chunks_exact_mut(c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(acc) = pixels.next() else { return };
            acc.fill(f32::NEG_INFINITY);
            g.for_each_in_window(oy, ox, |px| {
                for (a, &x) in acc.iter_mut().zip(&input[px..px + c]) {
                    *a = max_nan(*a, x);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::padding::Padding;
    use crate::kernels::test_util::arange;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn run(g: &Pool2dGeometry, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; g.output_len().unwrap()];
        max_pool2d(g, x, &mut out);
        out
    }

    #[test]
    fn valid_2x2_stride_2() {
        // 4×4 arange: windows' maxima are the bottom-right cells 5, 7, 13, 15
        let g = Pool2dGeometry::new((4, 4, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
        assert_eq!(run(&g, &arange(16)), [5.0, 7.0, 13.0, 15.0]);
    }

    #[test]
    fn valid_odd_input_drops_last_row_and_column() {
        // 5×5 arange, pool 2 stride 2 valid: 2×2, rows/cols 4 unused
        let g = Pool2dGeometry::new((5, 5, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
        assert_eq!(run(&g, &arange(25)), [6.0, 8.0, 16.0, 18.0]);
    }

    #[test]
    fn same_ignores_padding() {
        // 3×3 of -arange: [[0,-1,-2],[-3,-4,-5],[-6,-7,-8]], pool 2 stride 2 same.
        // Padded cells (bottom/right) must not act as 0.
        let g = Pool2dGeometry::new((3, 3, 1), (2, 2), (2, 2), Padding::Same).unwrap();
        let x: Vec<f32> = arange(9).iter().map(|v| -v).collect();
        assert_eq!(run(&g, &x), [0.0, -2.0, -6.0, -8.0]);
        assert_eq!(run(&g, &arange(9)), [4.0, 5.0, 7.0, 8.0]);
    }

    #[test]
    fn channels_are_independent() {
        // 2×2 input, 2 channels, one 2×2 window
        let g = Pool2dGeometry::new((2, 2, 2), (2, 2), (2, 2), Padding::Valid).unwrap();
        let x = [1.0, -1.0, 3.0, -5.0, 2.0, -0.5, -7.0, -2.0];
        assert_eq!(run(&g, &x), [3.0, -0.5]);
    }

    #[test]
    fn overlapping_windows_stride_1_same_pool_3() {
        // 3×3 arange, pool 3 stride 1 same (pad 1 each side): max of the 3×3 neighbourhood
        let g = Pool2dGeometry::new((3, 3, 1), (3, 3), (1, 1), Padding::Same).unwrap();
        assert_eq!(
            run(&g, &arange(9)),
            [4.0, 5.0, 5.0, 7.0, 8.0, 8.0, 7.0, 8.0, 8.0]
        );
    }

    #[test]
    fn nan_propagates() {
        let g = Pool2dGeometry::new((2, 2, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
        assert!(run(&g, &[1.0, f32::NAN, 3.0, 2.0])[0].is_nan());
    }

    proptest! {
        /// Pool 1×1 stride 1 is the identity.
        #[test]
        fn pool_1_is_identity(h in 1usize..6, w in 1usize..6, c in 1usize..4,
                              vals in proptest::collection::vec(-5.0f32..5.0, 1..150)) {
            let g = Pool2dGeometry::new((h, w, c), (1, 1), (1, 1), Padding::Same).unwrap();
            let x: Vec<f32> = (0..h * w * c).map(|i| vals[i % vals.len()]).collect();
            prop_assert_eq!(run(&g, &x), x);
        }
    }
}
