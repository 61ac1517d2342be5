//! `keras.layers.DepthwiseConv2D` (float32 reference).

use super::conv2d::Conv2dGeometry;

/// Depthwise 2-D convolution, one sample: each input channel `c` is convolved with its
/// own `depth_multiplier` filters, and output channel `c * depth_multiplier + m` holds
/// filter `m` of channel `c` (the order Keras produces).
///
/// `output[oy, ox, c*dm + m] = bias[c*dm + m] + Σ input[iy, ix, c] * kernel[ky, kx, c, m]`,
/// with `iy`, `ix` as in [`conv2d`](super::conv2d::conv2d); padded cells count as zero.
///
/// # Slice-length contract
/// * `depth_multiplier >= 1` and `g.out_c == g.in_c * depth_multiplier`;
/// * `input.len() == in_h * in_w * in_c`;
/// * `kernel.len() == kernel_h * kernel_w * in_c * depth_multiplier`, Keras layout
///   `(kh, kw, cin, depth_multiplier)`;
/// * `bias`, if present, has `out_c` values;
/// * `output.len() == out_h * out_w * out_c`;
/// * the geometry's coordinates do not overflow `usize` (true for any geometry from
///   [`Conv2dGeometry::new`]).
///
/// Debug builds assert the contract; release builds return without writing `output`
/// when it is broken (never panic).
///
/// # Arithmetic
/// Each output starts at its bias (or `0.0`) and adds `x * w` (no FMA) for the taps in
/// order `ky`, then `kx`, skipping padded cells.
pub fn depthwise_conv2d(
    g: &Conv2dGeometry,
    depth_multiplier: usize,
    input: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let dm = depth_multiplier;
    let ok = dm >= 1
        && g.in_c.checked_mul(dm) == Some(g.out_c)
        && g.input_len() == Some(input.len())
        && g.depthwise_kernel_len() == Some(kernel.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "depthwise_conv2d: slice lengths break the contract for {g:?}, dm {dm}"
    );
    if !ok || g.out_c == 0 {
        return;
    }
    let (in_c, out_c) = (g.in_c, g.out_c);
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(acc) = pixels.next() else { return };
            match bias {
                Some(b) => acc.copy_from_slice(b),
                None => acc.fill(0.0),
            }
            for ky in 0..g.kernel_h {
                let Some(iy) = g.input_row(oy, ky) else {
                    continue;
                };
                for kx in 0..g.kernel_w {
                    let Some(ix) = g.input_col(ox, kx) else {
                        continue;
                    };
                    let px = (iy * g.in_w + ix) * in_c;
                    // (kh, kw, cin, dm) flattens to (kh, kw, out_c) with out index c*dm + m.
                    let tap = (ky * g.kernel_w + kx) * out_c;
                    let x_px = &input[px..px + in_c];
                    let w_tap = &kernel[tap..tap + out_c];
                    for ((&x, w_c), acc_c) in x_px
                        .iter()
                        .zip(w_tap.chunks_exact(dm))
                        .zip(acc.chunks_exact_mut(dm))
                    {
                        for (a, &w) in acc_c.iter_mut().zip(w_c) {
                            *a += x * w;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::conv2d::conv2d;
    use crate::kernels::padding::Padding;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn run(g: &Conv2dGeometry, dm: usize, x: &[f32], k: &[f32], b: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![f32::NAN; g.output_len().unwrap()];
        depthwise_conv2d(g, dm, x, k, b, &mut out);
        out
    }

    #[test]
    fn depth_multiplier_2_channel_order() {
        // one pixel, channels [1, 10]; kernel (1,1,2,2) = [[2,3],[4,5]] (c, m)
        // outputs in order c0m0, c0m1, c1m0, c1m1 = [2, 3, 40, 50] + bias
        let g = Conv2dGeometry::new((1, 1, 2), 4, (1, 1), (1, 1), (1, 1), Padding::Valid).unwrap();
        let out = run(
            &g,
            2,
            &[1.0, 10.0],
            &[2.0, 3.0, 4.0, 5.0],
            Some(&[0.5, 0.25, -1.0, 2.0]),
        );
        assert_eq!(out, [2.5, 3.25, 39.0, 52.0]);
    }

    #[test]
    fn channels_do_not_mix_valid_and_same() {
        // 3×3 input, channel 0 = 1..=9, channel 1 = 10 * (1..=9); 2×2 kernels:
        // channel 0 [[1,2],[3,4]], channel 1 [[1,0],[0,0]] (picks the top-left cell).
        let x: Vec<f32> = (1..=9).flat_map(|v| [v as f32, 10.0 * v as f32]).collect();
        // layout (kh, kw, cin, 1): tap-major, channel within tap
        let k = [1.0, 1.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0];
        let g = Conv2dGeometry::new((3, 3, 2), 2, (2, 2), (1, 1), (1, 1), Padding::Valid).unwrap();
        let out = run(&g, 1, &x, &k, None);
        assert_eq!(out, [37.0, 10.0, 47.0, 20.0, 67.0, 40.0, 77.0, 50.0]);

        // same: extra row/column bottom/right; the bottom-right output sees only x[2,2]
        let g = Conv2dGeometry::new((3, 3, 2), 2, (2, 2), (1, 1), (1, 1), Padding::Same).unwrap();
        let out = run(&g, 1, &x, &k, Some(&[0.0, 1.0]));
        assert_eq!(&out[16..18], &[9.0, 91.0]);
        assert_eq!(&out[4..6], &[21.0, 31.0]); // out[0,2]: 3*1 + 6*3; 30 + 1
    }

    #[test]
    fn stride_2_with_depth_multiplier() {
        // 4×4 one channel x = 4r + c, 2×2 kernels, stride 2 valid, dm 2:
        // m0 = ones (window sum), m1 = [[0,0],[0,1]] (bottom-right cell)
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let k = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let g = Conv2dGeometry::new((4, 4, 1), 2, (2, 2), (2, 2), (1, 1), Padding::Valid).unwrap();
        let out = run(&g, 2, &x, &k, None);
        // windows at (0,0): 0+1+4+5 = 10, br 5; (0,2): 2+3+6+7 = 18, br 7;
        // (2,0): 8+9+12+13 = 42, br 13; (2,2): 10+11+14+15 = 50, br 15
        assert_eq!(out, [10.0, 5.0, 18.0, 7.0, 42.0, 13.0, 50.0, 15.0]);
    }

    proptest! {
        /// Depthwise with dm = 1 equals Conv2D with a diagonal kernel.
        #[test]
        fn dm1_equals_diagonal_conv2d(
            h in 1usize..6, w in 1usize..6, c in 1usize..4, k in 1usize..4, s in 1usize..3,
            same: bool, vals in proptest::collection::vec(-3.0f32..3.0, 61),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Conv2dGeometry::new((h, w, c), c, (k, k), (s, s), (1, 1), padding) else {
                return Ok(());
            };
            let x: Vec<f32> = (0..h * w * c).map(|i| vals[i % vals.len()]).collect();
            let dk: Vec<f32> = (0..k * k * c).map(|i| vals[(i + 17) % vals.len()]).collect();
            let b: Vec<f32> = (0..c).map(|i| vals[(i + 40) % vals.len()]).collect();
            let mut full = vec![0.0; k * k * c * c];
            for t in 0..k * k {
                for ch in 0..c {
                    full[(t * c + ch) * c + ch] = dk[t * c + ch];
                }
            }
            let dw = run(&g, 1, &x, &dk, Some(&b));
            let mut cv = vec![0.0; g.output_len().unwrap()];
            conv2d(&g, &x, &full, Some(&b), &mut cv);
            prop_assert_eq!(dw, cv);
        }
    }
}
