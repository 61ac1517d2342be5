//! Int8 CONV_2D (Keras `Conv2D`).
//!
//! Spec: tensorflow/lite/kernels/internal/reference/integer_ops/conv.h
//! (`ConvPerChannel`), parameters from tensorflow/lite/kernels/conv.cc (`Prepare`,
//! `EvalQuantizedPerChannel`) and kernel_util.cc
//! (`PopulateConvolutionQuantizationParams`). Both LiteRT's `kReference` and TFLM
//! requantize with `MultiplyByQuantizedMultiplier` (double rounding in their default
//! builds); per-tensor weights take the same path with the one scale broadcast.

use super::quant::{effective_scale, OutputStage, Requant};
use crate::kernels::conv2d::Conv2dGeometry;

/// Int8 2-D convolution, one sample: for each output `(oy, ox, oc)`,
/// `acc = Σ filter[oc, ky, kx, ci] · (input[iy, ix, ci] + input_offset) + bias[oc]` over
/// the taps inside the input (padded taps contribute nothing, as in TFLite), with
/// `iy = oy·stride_h + ky·dilation_h − pad_top` (likewise `ix`), in wrapping int32; then
/// [`OutputStage::requantize`] with channel `oc`.
///
/// `input_offset` is minus the input zero point; `filter` is TFLite's OHWI
/// `(out_c, kh, kw, in_c)`, int8 symmetric per channel or per tensor; `bias` is int32
/// at scale `s_in · s_w[oc]`.
///
/// # Slice-length contract
/// `input.len() == in_h·in_w·in_c`, `filter.len() == out_c·kh·kw·in_c`, `bias` (if any)
/// has `out_c` values, `output.len() == out_h·out_w·out_c`, `stage.fits(out_c)`, and the
/// geometry's coordinates do not overflow (true for any [`Conv2dGeometry::new`]). Debug
/// builds assert it; release builds return without writing `output`.
pub fn conv2d(
    g: &Conv2dGeometry,
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    output: &mut [i8],
) {
    let ok = g.input_len() == Some(input.len())
        && g.kernel_len() == Some(filter.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && stage.fits(g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "int8 conv2d: slice lengths break the contract for {g:?}"
    );
    if !ok || g.out_c == 0 {
        return;
    }
    let (in_c, out_c) = (g.in_c, g.out_c);
    let per_filter = g.kernel_h * g.kernel_w * in_c;
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(out_px) = pixels.next() else { return };
            for (oc, (y, w_oc)) in out_px
                .iter_mut()
                .zip(filter.chunks_exact(per_filter.max(1)))
                .enumerate()
            {
                let mut acc = 0i32;
                for ky in 0..g.kernel_h {
                    let Some(iy) = g.input_row(oy, ky) else {
                        continue;
                    };
                    for kx in 0..g.kernel_w {
                        let Some(ix) = g.input_col(ox, kx) else {
                            continue;
                        };
                        let px = (iy * g.in_w + ix) * in_c;
                        let tap = (ky * g.kernel_w + kx) * in_c;
                        for (&x, &w) in input[px..px + in_c].iter().zip(&w_oc[tap..tap + in_c]) {
                            acc = acc.wrapping_add(
                                i32::from(w).wrapping_mul(i32::from(x).wrapping_add(input_offset)),
                            );
                        }
                    }
                }
                if let Some(b) = bias {
                    acc = acc.wrapping_add(b[oc]);
                }
                *y = stage.requantize(acc, oc);
            }
            if per_filter == 0 {
                // no taps at all: every accumulator is just the bias
                for (oc, y) in out_px.iter_mut().enumerate() {
                    *y = stage.requantize(bias.map_or(0, |b| b[oc]), oc);
                }
            }
        }
    }
}

/// Host side: the multiplier words of a CONV_2D or DEPTHWISE_CONV_2D layer as
/// `PopulateConvolutionQuantizationParams` derives them:
/// `QuantizeMultiplier((double)s_in · (double)s_w / (double)s_out)` per channel (the one
/// per-tensor scale gives one pair, which [`OutputStage`] broadcasts). `out` must have
/// `2 * filter_scales.len()` words; returns `false` (writing nothing) otherwise.
pub fn multipliers(
    input_scale: f32,
    filter_scales: &[f32],
    output_scale: f32,
    requant: Requant,
    out: &mut [i32],
) -> bool {
    if filter_scales.is_empty() || out.len() != 2 * filter_scales.len() {
        return false;
    }
    for (&s_w, pair) in filter_scales.iter().zip(out.chunks_exact_mut(2)) {
        pair.copy_from_slice(&requant.words(effective_scale(input_scale, s_w, output_scale)));
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::super::quant::{activation_range, Rounding};
    use super::super::vectors;
    use super::*;
    use crate::kernels::Padding;
    use std::vec;
    use std::vec::Vec;

    const DOUBLE: Requant = Requant::Multiplier(Rounding::Double);
    const SINGLE: Requant = Requant::Multiplier(Rounding::Single);

    fn stage(words: &[i32], requant: Requant) -> OutputStage<'_> {
        OutputStage {
            multipliers: words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant,
        }
    }

    #[test]
    fn same_padding_skips_padded_taps_by_hand() {
        // 3×3×1 input 1..=9 with zero point 1 (so x − zp = 0..=8), 2×2 kernel [[1,2],[3,4]],
        // SAME, stride 1: pad bottom/right. Padded taps add nothing (not −zp · w).
        let g = Conv2dGeometry::new((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Same).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (3, 3, 0, 0));
        let input: Vec<i8> = (1..=9).collect();
        let words = DOUBLE.words(1.0);
        let mut out = [0i8; 9];
        conv2d(
            &g,
            &input,
            -1,
            &[1, 2, 3, 4],
            Some(&[1]),
            &stage(&words, DOUBLE),
            &mut out,
        );
        // v = 0..=8 as a 3×3 grid; out[y][x] = v[y][x] + 2v[y][x+1] + 3v[y+1][x] + 4v[y+1][x+1] + 1
        assert_eq!(out, [28, 38, 18, 58, 68, 30, 21, 24, 9]);
    }

    #[test]
    fn dilation_and_stride_by_hand() {
        // 5×5×1 input, 2×2 kernel, dilation 2, valid: taps at (0,0),(0,2),(2,0),(2,2)
        let g = Conv2dGeometry::new((5, 5, 1), 2, (2, 2), (1, 1), (2, 2), Padding::Valid).unwrap();
        assert_eq!((g.out_h, g.out_w), (3, 3));
        let input: Vec<i8> = (0..25).collect();
        // OHWI: channel 0 sums the taps, channel 1 takes the top-left tap
        let filter = [1i8, 1, 1, 1, 1, 0, 0, 0];
        let mut words = [0i32; 4];
        assert!(multipliers(1.0, &[0.5, 2.0], 1.0, DOUBLE, &mut words));
        let mut out = [0i8; 18];
        conv2d(
            &g,
            &input,
            0,
            &filter,
            None,
            &stage(&words, DOUBLE),
            &mut out,
        );
        // channel 0 at (0,0): (0 + 2 + 10 + 12) · 0.5 = 12; channel 1: 0 · 2 = 0
        assert_eq!(&out[..2], &[12, 0]);
        // (2,2): (12 + 14 + 22 + 24) · 0.5 = 36; channel 1: 12 · 2 = 24
        assert_eq!(&out[16..], &[36, 24]);
        let g = Conv2dGeometry::new((5, 5, 1), 2, (2, 2), (2, 2), (1, 1), Padding::Valid).unwrap();
        let mut out = [0i8; 8];
        conv2d(
            &g,
            &input,
            0,
            &filter,
            None,
            &stage(&words, DOUBLE),
            &mut out,
        );
        // (0,0): (0+1+5+6)/2 = 6, 0; (0,1): (2+3+7+8)/2 = 10, 4; (1,0): (10+11+15+16)/2 = 26, 20
        assert_eq!(out, [6, 0, 10, 4, 26, 20, 30, 24]);
    }

    fn geometry(v: &vectors::ConvVector) -> Conv2dGeometry {
        let out_c = v.filter.len() / (v.kernel.0 * v.kernel.1 * v.input_shape.2);
        let out_c = if v.depth_multiplier > 0 {
            v.input_shape.2 * v.depth_multiplier
        } else {
            out_c
        };
        Conv2dGeometry::new(
            v.input_shape,
            out_c,
            v.kernel,
            v.strides,
            v.dilation,
            v.padding,
        )
        .unwrap()
    }

    /// Runs a vector (CONV_2D or DEPTHWISE_CONV_2D) with kiln's host-side parameters.
    pub(crate) fn run_vector(v: &vectors::ConvVector, input: &[i8], requant: Requant) -> Vec<i8> {
        let g = geometry(v);
        assert_eq!(g.output_len(), Some(v.expected.len()), "{}", v.name);
        let mut words = vec![0i32; 2 * v.filter_scales.len()];
        assert!(multipliers(
            v.input_scale,
            v.filter_scales,
            v.output_scale,
            requant,
            &mut words
        ));
        let (act_min, act_max) =
            activation_range(v.activation, v.output_scale, v.output_zero_point).unwrap();
        let stage = OutputStage {
            multipliers: &words,
            output_offset: v.output_zero_point,
            act_min,
            act_max,
            requant,
        };
        let mut out = vec![0i8; v.expected.len()];
        if v.depth_multiplier == 0 {
            conv2d(
                &g,
                input,
                -v.input_zero_point,
                v.filter,
                v.bias,
                &stage,
                &mut out,
            );
        } else {
            super::super::depthwise_conv2d::depthwise_conv2d(
                &g,
                v.depth_multiplier,
                input,
                -v.input_zero_point,
                v.filter,
                v.bias,
                &stage,
                &mut out,
            );
        }
        out
    }

    pub(crate) fn mismatches(a: &[i8], b: &[i8]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn litert_reference_vectors() {
        let (mut total, mut single) = (0, 0);
        for v in vectors::CONV.iter().filter(|v| v.depth_multiplier == 0) {
            assert_eq!(run_vector(v, v.input, DOUBLE), v.expected, "{}", v.name);
            total += v.expected.len();
            single += mismatches(&run_vector(v, v.input, SINGLE), v.expected);
        }
        std::println!("conv2d: {total} outputs, single rounding differs in {single}");
        assert!(
            single > 0,
            "BUILTIN_REF's conv is double rounding, not single"
        );
    }

    #[test]
    fn ties_pin_double_rounding() {
        // power-of-two scales (s_in 2^-4, s_w 2^-6, s_out 2^-7): every accumulator is
        // scaled by exactly 1/8, so many land on ties or just off them
        for name in ["conv_ties", "dw_ties"] {
            let v = vectors::CONV.iter().find(|v| v.name == name).unwrap();
            assert_eq!(run_vector(v, v.input, DOUBLE), v.expected, "{name}");
            let single = mismatches(&run_vector(v, v.input, SINGLE), v.expected);
            let float = mismatches(&run_vector(v, v.input, Requant::Float64), v.expected);
            std::println!(
                "{name}: {} outputs, single differs in {single}, f64 in {float}",
                v.expected.len()
            );
            assert!(
                single > 0,
                "{name}: BUILTIN_REF's conv is not single rounding"
            );
            assert!(float > 0, "{name}: nor the f64 requant of its FC");
        }
    }
}
