//! Int8 DEPTHWISE_CONV_2D (Keras `DepthwiseConv2D`).
//!
//! Spec: tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h
//! (`DepthwiseConvPerChannel`), parameters from tensorflow/lite/kernels/depthwise_conv.cc
//! (`Prepare`: `PopulateConvolutionQuantizationParams`). LiteRT's `kReference` and TFLM
//! both requantize with `MultiplyByQuantizedMultiplier` (double rounding by default).
//! The multipliers come from [`conv2d::multipliers`](super::conv2d::multipliers).

use super::quant::OutputStage;
use crate::kernels::conv2d::Conv2dGeometry;

/// Int8 depthwise 2-D convolution, one sample: output channel `oc = ic·m + k` (for
/// `k < depth_multiplier`) is
/// `acc = Σ filter[0, ky, kx, oc] · (input[iy, ix, ic] + input_offset) + bias[oc]` over
/// the taps inside the input (padded taps contribute nothing), in wrapping int32, then
/// [`OutputStage::requantize`] with channel `oc`.
///
/// `filter` is TFLite's `(1, kh, kw, in_c·depth_multiplier)`; `g.out_c` must be
/// `in_c · depth_multiplier`.
///
/// # Slice-length contract
/// `depth_multiplier ≥ 1`, `g.out_c == g.in_c · depth_multiplier`,
/// `input.len() == in_h·in_w·in_c`, `filter.len() == kh·kw·out_c`, `bias` (if any) has
/// `out_c` values, `output.len() == out_h·out_w·out_c`, `stage.fits(out_c)`, and the
/// geometry's coordinates do not overflow. Debug builds assert it; release builds return
/// without writing `output`.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d(
    g: &Conv2dGeometry,
    depth_multiplier: usize,
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    output: &mut [i8],
) {
    let dm = depth_multiplier;
    let ok = dm >= 1
        && g.in_c.checked_mul(dm) == Some(g.out_c)
        && g.input_len() == Some(input.len())
        && g.depthwise_kernel_len() == Some(filter.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && stage.fits(g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "int8 depthwise_conv2d: slice lengths break the contract for {g:?}, dm {dm}"
    );
    if !ok || g.out_c == 0 {
        return;
    }
    let (in_c, out_c) = (g.in_c, g.out_c);
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(out_px) = pixels.next() else { return };
            for (oc, y) in out_px.iter_mut().enumerate() {
                let ic = oc / dm;
                let mut acc = 0i32;
                for ky in 0..g.kernel_h {
                    let Some(iy) = g.input_row(oy, ky) else {
                        continue;
                    };
                    for kx in 0..g.kernel_w {
                        let Some(ix) = g.input_col(ox, kx) else {
                            continue;
                        };
                        let x = input[(iy * g.in_w + ix) * in_c + ic];
                        let w = filter[(ky * g.kernel_w + kx) * out_c + oc];
                        acc = acc.wrapping_add(
                            i32::from(w).wrapping_mul(i32::from(x).wrapping_add(input_offset)),
                        );
                    }
                }
                if let Some(b) = bias {
                    acc = acc.wrapping_add(b[oc]);
                }
                *y = stage.requantize(acc, oc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::conv2d::tests::{mismatches, run_vector};
    use super::super::quant::{Requant, Rounding};
    use super::super::vectors;
    use super::*;
    use crate::kernels::Padding;

    const DOUBLE: Requant = Requant::Multiplier(Rounding::Double);
    const SINGLE: Requant = Requant::Multiplier(Rounding::Single);

    #[test]
    fn depth_multiplier_channel_order_by_hand() {
        // 2×2×2 input, 1×1 kernel, depth multiplier 2: oc = ic·2 + k
        let g = Conv2dGeometry::new((2, 2, 2), 4, (1, 1), (1, 1), (1, 1), Padding::Valid).unwrap();
        let input = [1i8, 10, 2, 20, 3, 30, 4, 40];
        // (1, 1, 1, 4): channel 0 → ×1, ×2; channel 1 → ×−1, ×3
        let filter = [1i8, 2, -1, 3];
        let words = DOUBLE.words(1.0);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant: DOUBLE,
        };
        let mut out = [0i8; 16];
        depthwise_conv2d(
            &g,
            2,
            &input,
            0,
            &filter,
            Some(&[0, 0, 0, 1]),
            &stage,
            &mut out,
        );
        assert_eq!(
            out,
            [1, 2, -10, 31, 2, 4, -20, 61, 3, 6, -30, 91, 4, 8, -40, 121]
        );
        // SAME 3×3 on a 2×2 image with zero point 5: padded taps add nothing
        let g = Conv2dGeometry::new((2, 2, 1), 1, (3, 3), (1, 1), (1, 1), Padding::Same).unwrap();
        let mut out = [0i8; 4];
        depthwise_conv2d(&g, 1, &[6, 7, 8, 9], -5, &[1; 9], None, &stage, &mut out);
        assert_eq!(out, [10, 10, 10, 10]); // 1 + 2 + 3 + 4 everywhere
    }

    #[test]
    fn litert_reference_vectors() {
        let (mut total, mut single) = (0, 0);
        for v in vectors::CONV.iter().filter(|v| v.depth_multiplier > 0) {
            assert_eq!(run_vector(v, v.input, DOUBLE), v.expected, "{}", v.name);
            total += v.expected.len();
            single += mismatches(&run_vector(v, v.input, SINGLE), v.expected);
        }
        std::println!("depthwise: {total} outputs, single rounding differs in {single}");
        assert!(total > 0);
    }
}
