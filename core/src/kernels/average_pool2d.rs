//! `keras.layers.AveragePooling2D` (float32 reference).

use super::pool2d::Pool2dGeometry;

/// 2-D average pooling, one sample: each output is the mean of the input cells in its
/// window, per channel.
///
/// With `same` padding Keras (JAX backend) divides by the number of **valid** cells in
/// the window, not by the pool size: a 3×3 `arange` with pool 2, stride 2, `same`
/// gives `[[2.0, 3.5], [6.5, 8.0]]`. With `valid` every window is full and the divisor
/// is `pool_h * pool_w`, as in Keras.
///
/// # Slice-length contract
/// * `input.len() == in_h * in_w * channels`;
/// * `output.len() == out_h * out_w * channels`;
/// * the geometry's coordinates do not overflow `usize` (true for any geometry from
///   [`Pool2dGeometry::new`]).
///
/// Debug builds assert the contract; release builds return without writing `output`
/// when it is broken (never panic).
///
/// # Arithmetic
/// `sum = 0.0`, then `sum += x` over the window in row-major order (padded cells
/// skipped), then `sum / count` with `count` the number of cells added (a window with
/// no input cell, which Keras geometries never produce, gives `0/0 = NaN`, like JAX).
pub fn average_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    let ok = g.fits(input, output);
    debug_assert!(
        ok,
        "average_pool2d: slice lengths break the contract for {g:?}"
    );
    let c = g.channels;
    if !ok || c == 0 {
        return;
    }
    let mut pixels = output.chunks_exact_mut(c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(acc) = pixels.next() else { return };
            acc.fill(0.0);
            let mut count = 0u32;
            g.for_each_in_window(oy, ox, |px| {
                count = count.saturating_add(1);
                for (a, &x) in acc.iter_mut().zip(&input[px..px + c]) {
                    *a += x;
                }
            });
            let n = count as f32;
            for a in acc.iter_mut() {
                *a /= n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::global_pool::global_average_pool;
    use crate::kernels::padding::Padding;
    use crate::kernels::test_util::{arange, assert_all_close};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn run(g: &Pool2dGeometry, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; g.output_len().unwrap()];
        average_pool2d(g, x, &mut out);
        out
    }

    #[test]
    fn same_divides_by_valid_cells() {
        // KERAS-NOTES §4: 3×3 arange, pool 2 stride 2 'same' -> [[2.0, 3.5], [6.5, 8.0]]
        // (0+1+3+4)/4, (2+5)/2, (6+7)/2, 8/1
        let g = Pool2dGeometry::new((3, 3, 1), (2, 2), (2, 2), Padding::Same).unwrap();
        assert_eq!(run(&g, &arange(9)), [2.0, 3.5, 6.5, 8.0]);
    }

    #[test]
    fn valid_2x2_stride_2() {
        // 4×4 arange: (0+1+4+5)/4 = 2.5, (2+3+6+7)/4 = 4.5, 10.5, 12.5
        let g = Pool2dGeometry::new((4, 4, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
        assert_eq!(run(&g, &arange(16)), [2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn two_channels_stride_1_same_pool_3() {
        // 2×2 input, channel 1 = 10 × channel 0, pool 3 stride 1 same (pad 1/1):
        // every window holds the whole input -> mean of 1,2,3,4 = 2.5 everywhere
        let g = Pool2dGeometry::new((2, 2, 2), (3, 3), (1, 1), Padding::Same).unwrap();
        let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        assert_eq!(run(&g, &x), [2.5, 25.0, 2.5, 25.0, 2.5, 25.0, 2.5, 25.0]);
    }

    #[test]
    fn same_stride_1_even_pool_counts_edges() {
        // 3×3 arange, pool 2 stride 1 same: pad 0 top/left, 1 bottom/right.
        // Right column windows have 2 cells, bottom row 2, corner 1.
        let g = Pool2dGeometry::new((3, 3, 1), (2, 2), (1, 1), Padding::Same).unwrap();
        let expected = [2.0, 3.0, 3.5, 5.0, 6.0, 6.5, 6.5, 7.5, 8.0];
        assert_all_close(&run(&g, &arange(9)), &expected);
    }

    proptest! {
        /// A valid pool over the whole input equals global average pooling, bit for bit.
        #[test]
        fn whole_input_window_is_global_average(
            h in 1usize..6, w in 1usize..6, c in 1usize..4,
            vals in proptest::collection::vec(-5.0f32..5.0, 1..150),
        ) {
            let g = Pool2dGeometry::new((h, w, c), (h, w), (1, 1), Padding::Valid).unwrap();
            let x: Vec<f32> = (0..h * w * c).map(|i| vals[i % vals.len()]).collect();
            let mut global = vec![0.0; c];
            global_average_pool(&x, h * w, c, &mut global);
            prop_assert_eq!(run(&g, &x), global);
        }
    }
}
