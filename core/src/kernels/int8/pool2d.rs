//! Int8 MAX_POOL_2D and AVERAGE_POOL_2D (Keras `MaxPooling2D`, `AveragePooling2D`).
//!
//! Spec: tensorflow/lite/kernels/internal/reference/integer_ops/pooling.h (`MaxPool`,
//! `AveragePool`), parameters from tensorflow/lite/kernels/pooling.cc. Input and output
//! share one quantization (the converter guarantees it), so there is no requantization;
//! only the fused activation's clamp (`CalculateActivationRangeQuantized`, see
//! [`activation_range`](super::quant::activation_range)) applies. LiteRT's
//! `kReference` and TFLM compute the same.

pub use crate::kernels::pool2d::Cells;
use crate::kernels::pool2d::Pool2dGeometry;

/// Channels a pool reduces at once (its accumulators stay on the stack).
const BLOCK: usize = 64;

/// Each output pixel in order, each block of up to [`BLOCK`] channels: `reduce(input, oy,
/// ox, c0, block)` computes the block from the input, which is then written to the output
/// (so a shared buffer's window is read before its pixel is written).
#[inline(always)]
fn each_block(
    g: &Pool2dGeometry,
    mut cells: Cells<'_, i8>,
    reduce: impl Fn(&[i8], usize, usize, usize, &mut [i8]),
) {
    let c = g.channels;
    let mut block = [0i8; BLOCK];
    let mut at = 0;
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let mut c0 = 0;
            while c0 < c {
                let n = BLOCK.min(c - c0);
                reduce(cells.input(), oy, ox, c0, &mut block[..n]);
                if let Some(dest) = cells.output().get_mut(at..at + n) {
                    dest.copy_from_slice(&block[..n]);
                }
                at += n;
                c0 += n;
            }
        }
    }
}

/// Int8 max pooling, one sample: the maximum over the window's cells inside the input
/// (padding never wins), starting from −128, then `max(act_min)` and `min(act_max)`
/// (TFLite compares as int8: the bounds are clamped to `[−128, 127]`).
///
/// # Slice-length contract
/// `input.len() == in_h·in_w·channels`, `output.len() == out_h·out_w·channels`, and the
/// geometry's coordinates do not overflow (true for any [`Pool2dGeometry::new`]). Debug
/// builds assert it; release builds return without writing `output`.
pub fn max_pool2d(g: &Pool2dGeometry, input: &[i8], act_min: i32, act_max: i32, output: &mut [i8]) {
    max_pool2d_cells(g, Cells::Split { input, output }, act_min, act_max);
}

/// [`max_pool2d`] from and to `cells` (which may be one buffer).
pub fn max_pool2d_cells(g: &Pool2dGeometry, cells: Cells<'_, i8>, act_min: i32, act_max: i32) {
    let ok = cells.fit(g);
    debug_assert!(
        ok,
        "int8 max_pool2d: slice lengths break the contract for {g:?}"
    );
    if !ok || g.channels == 0 {
        return;
    }
    let (lo, hi) = (clamp_i8(act_min), clamp_i8(act_max));
    each_block(g, cells, |input, oy, ox, c0, block| {
        let n = block.len();
        block.fill(i8::MIN);
        g.for_each_in_window(oy, ox, |px| {
            let at = px + c0;
            for (m, &x) in block.iter_mut().zip(&input[at..at + n]) {
                *m = (*m).max(x);
            }
        });
        for m in block.iter_mut() {
            *m = (*m).max(lo).min(hi);
        }
    });
}

/// Int8 average pooling, one sample: over the window's cells inside the input only
/// (`n` of them; padding is not counted), `sum > 0 ? (sum + n/2) / n : (sum − n/2) / n`
/// with C's truncating division (so ties round away from zero), then `max(act_min)`,
/// `min(act_max)`. A window without any input cell (impossible for a geometry from
/// [`Pool2dGeometry::new`]; TFLite fails the op) gives 0 clamped likewise.
///
/// # Slice-length contract
/// As for [`max_pool2d`].
pub fn average_pool2d(
    g: &Pool2dGeometry,
    input: &[i8],
    act_min: i32,
    act_max: i32,
    output: &mut [i8],
) {
    average_pool2d_cells(g, Cells::Split { input, output }, act_min, act_max);
}

/// [`average_pool2d`] from and to `cells` (which may be one buffer).
pub fn average_pool2d_cells(g: &Pool2dGeometry, cells: Cells<'_, i8>, act_min: i32, act_max: i32) {
    let ok = cells.fit(g);
    debug_assert!(
        ok,
        "int8 average_pool2d: slice lengths break the contract for {g:?}"
    );
    if !ok || g.channels == 0 {
        return;
    }
    each_block(g, cells, |input, oy, ox, c0, block| {
        let mut sums = [0i32; BLOCK];
        let acc = &mut sums[..block.len()];
        let mut n = 0i32;
        g.for_each_in_window(oy, ox, |px| {
            n = n.wrapping_add(1);
            let at = px + c0;
            for (a, &x) in acc.iter_mut().zip(&input[at..at + block.len()]) {
                *a = a.wrapping_add(i32::from(x));
            }
        });
        for (y, &sum) in block.iter_mut().zip(acc.iter()) {
            // C's int arithmetic; wrapping only matters for absurd window sizes
            let avg = if sum > 0 {
                sum.wrapping_add(n / 2).checked_div(n)
            } else {
                sum.wrapping_sub(n / 2).checked_div(n)
            };
            let avg = avg.unwrap_or(0);
            *y = avg.max(act_min).min(act_max).clamp(-128, 127) as i8;
        }
    });
}

pub(crate) fn clamp_i8(v: i32) -> i8 {
    v.clamp(-128, 127) as i8
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::quant::activation_range;
    use super::super::vectors;
    use super::*;
    use crate::kernels::Padding;
    use std::vec;

    #[test]
    fn average_rounds_ties_away_from_zero_and_counts_only_inside() {
        // 2×2 window on a 2×3 image, SAME, stride 2: second window has 2 cells
        let g = Pool2dGeometry::new((2, 3, 1), (2, 2), (2, 2), Padding::Same).unwrap();
        assert_eq!((g.out_h, g.out_w), (1, 2));
        let mut out = [0i8; 2];
        // window 0: 1 + 2 + 4 + 4 = 11 / 4 = 2.75 → 3; window 1: (3 + 6) / 2 = 4.5 → 5
        average_pool2d(&g, &[1, 2, 3, 4, 4, 6], -128, 127, &mut out);
        assert_eq!(out, [3, 5]);
        // negative ties: (−3 − 6) / 2 = −4.5 → −5; −10 / 4 = −2.5 → −3
        average_pool2d(&g, &[-1, -2, -3, -3, -4, -6], -128, 127, &mut out);
        assert_eq!(out, [-3, -5]);
        // clamp
        average_pool2d(&g, &[-1, -2, -3, -3, -4, -6], -4, 127, &mut out);
        assert_eq!(out, [-3, -4]);
        // extremes do not overflow
        average_pool2d(&g, &[-128; 6], -128, 127, &mut out);
        assert_eq!(out, [-128, -128]);
        average_pool2d(&g, &[127; 6], -128, 127, &mut out);
        assert_eq!(out, [127, 127]);
    }

    #[test]
    fn max_ignores_padding_and_clamps() {
        let g = Pool2dGeometry::new((2, 3, 2), (2, 2), (2, 2), Padding::Same).unwrap();
        let input = [-5, 1, -7, 2, -9, 3, -6, 0, -8, 4, -100, -100];
        let mut out = [0i8; 4];
        max_pool2d(&g, &input, -128, 127, &mut out);
        assert_eq!(out, [-5, 4, -9, 3]);
        max_pool2d(&g, &input, -6, 2, &mut out);
        assert_eq!(out, [-5, 2, -6, 2]);
    }

    #[test]
    fn many_channels_use_several_accumulator_blocks() {
        let g = Pool2dGeometry::new((1, 2, 130), (1, 2), (1, 2), Padding::Valid).unwrap();
        let input: std::vec::Vec<i8> = (0..260).map(|i| (i % 256) as u8 as i8).collect();
        let mut out = vec![0i8; 130];
        average_pool2d(&g, &input, -128, 127, &mut out);
        for (c, &y) in out.iter().enumerate() {
            let (a, b) = (i32::from(input[c]), i32::from(input[130 + c]));
            let s = a + b;
            let want = if s > 0 { (s + 1) / 2 } else { (s - 1) / 2 };
            assert_eq!(i32::from(y), want, "channel {c}");
        }
    }

    proptest::proptest! {
        #[test]
        fn over_its_input_as_into_another_buffer(
            h in 1usize..9, w in 1usize..9, c in 1usize..70,
            ph in 1usize..4, pw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            same in proptest::bool::ANY, seed in proptest::num::u32::ANY,
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Pool2dGeometry::new((h, w, c), (ph, pw), (sh, sw), padding) else {
                return Ok(());
            };
            let mut state = seed;
            let input: std::vec::Vec<i8> = (0..h * w * c)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8 as i8
                })
                .collect();
            // Sharing the buffer is only for geometries that read ahead (the planner asks).
            proptest::prop_assume!(g.reads_ahead());
            let n = g.output_len().unwrap();
            for max in [true, false] {
                let mut want = vec![0i8; n];
                let mut shared = input.clone();
                if max {
                    max_pool2d(&g, &input, -100, 120, &mut want);
                    max_pool2d_cells(&g, Cells::Shared(&mut shared), -100, 120);
                } else {
                    average_pool2d(&g, &input, -100, 120, &mut want);
                    average_pool2d_cells(&g, Cells::Shared(&mut shared), -100, 120);
                }
                proptest::prop_assert_eq!(&shared[..n], &want[..]);
            }
        }
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::POOL {
            let g = Pool2dGeometry::new(v.input_shape, v.pool, v.strides, v.padding).unwrap();
            let (lo, hi) =
                activation_range(v.activation, v.output_scale, v.output_zero_point).unwrap();
            let mut out = vec![0i8; v.expected.len()];
            if v.max {
                max_pool2d(&g, v.input, lo, hi, &mut out);
            } else {
                average_pool2d(&g, v.input, lo, hi, &mut out);
            }
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
