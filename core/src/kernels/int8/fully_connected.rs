//! Int8 FULLY_CONNECTED (Keras `Dense`).
//!
//! Spec: tensorflow/lite/kernels/internal/reference/integer_ops/fully_connected.h
//! (`FullyConnected`, `FullyConnectedPerChannel`) with the parameters of
//! tensorflow/lite/kernels/fully_connected.cc (`Prepare`, `FullyConnectedInt8`,
//! `FullyConnectedPerChannelInt8`). LiteRT's `kReference` calls the overloads that take
//! the float scales and requantize in f64 ([`Requant::Float64`]), per tensor and per
//! channel alike; TFLM calls the integer ones ([`Requant::Multiplier`]).

use super::quant::{effective_scale, effective_scale_legacy, OutputStage, Requant};

/// Int8 fully connected layer, one row of `depth` inputs per output row:
/// `acc[r][u] = Σ_d filter[u][d] · (input[r][d] + input_offset) + bias[u]` in wrapping
/// int32, then [`OutputStage::requantize`] with channel `u`.
///
/// * `input_offset` is TFLite's `input_offset`: **minus** the input zero point.
/// * `filter` is TFLite's `(units, depth)` row-major (Keras's kernel transposed), int8
///   symmetric (zero point 0) per tensor or per output channel.
/// * `bias` is int32 at scale `s_in · s_w[u]`.
///
/// # Slice-length contract
/// With `units = filter.len() / depth` and `rows = input.len() / depth`: `depth > 0`,
/// `filter.len() == units * depth`, `input.len() == rows * depth`, `bias` (if any) has
/// `units` values, `output.len() == rows * units`, and `stage.fits(units)`. Debug
/// builds assert it; release builds return without writing `output`.
pub fn fully_connected(
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    depth: usize,
    stage: &OutputStage<'_>,
    output: &mut [i8],
) {
    let ok = contract_holds(input, filter, bias, depth, stage, output);
    debug_assert!(ok, "int8 fully_connected: slice lengths break the contract");
    if !ok {
        return;
    }
    let units = filter.len() / depth;
    if units == 0 {
        return;
    }
    for (x_row, y_row) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(units))
    {
        for (u, (w_row, y)) in filter.chunks_exact(depth).zip(y_row.iter_mut()).enumerate() {
            let mut acc = 0i32;
            for (&w, &x) in w_row.iter().zip(x_row) {
                acc = acc.wrapping_add(
                    i32::from(w).wrapping_mul(i32::from(x).wrapping_add(input_offset)),
                );
            }
            if let Some(b) = bias {
                acc = acc.wrapping_add(b[u]);
            }
            *y = stage.requantize(acc, u);
        }
    }
}

fn contract_holds(
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    depth: usize,
    stage: &OutputStage<'_>,
    output: &[i8],
) -> bool {
    if depth == 0 || filter.len() % depth != 0 || input.len() % depth != 0 {
        return false;
    }
    let units = filter.len() / depth;
    let rows = input.len() / depth;
    bias.is_none_or(|b| b.len() == units)
        && rows.checked_mul(units) == Some(output.len())
        && stage.fits(units)
}

/// Host side: the multiplier words of a FULLY_CONNECTED layer, as the runtime's
/// `Prepare`/`Eval` derive them. `filter_scales` has one scale (per tensor) or one per
/// unit; `out` must have `2 * filter_scales.len()` words. Returns `false` (writing
/// nothing) otherwise.
///
/// * [`Requant::Float64`] (LiteRT reference): `(double)s_in · (double)s_w / (double)s_out`.
/// * [`Requant::Multiplier`], per channel: `QuantizeMultiplier` of the same expression.
/// * [`Requant::Multiplier`], per tensor: `QuantizeMultiplier((double)(s_in · s_w) /
///   s_out)` with the product in f32 (`GetQuantizedConvolutionMultipler`).
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
    let per_tensor = filter_scales.len() == 1;
    for (&s_w, pair) in filter_scales.iter().zip(out.chunks_exact_mut(2)) {
        let scale = match requant {
            Requant::Multiplier(_) if per_tensor => {
                effective_scale_legacy(input_scale, s_w, output_scale)
            }
            _ => effective_scale(input_scale, s_w, output_scale),
        };
        pair.copy_from_slice(&requant.words(scale));
    }
    true
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::quant::{activation_range, Rounding};
    use super::super::vectors;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const REF: Requant = Requant::Float64;
    const DOUBLE: Requant = Requant::Multiplier(Rounding::Double);
    const SINGLE: Requant = Requant::Multiplier(Rounding::Single);

    #[test]
    fn two_by_three_by_hand() {
        // input (1 row, depth 3), zero point 1; filter 2 units × 3; bias [10, -4]
        let input = [3i8, -1, 1];
        let filter = [1i8, 2, 3, -4, 5, -6];
        // x − zp = [2, −2, 0]; unit 0: 2 − 4 + 0 + 10 = 8; unit 1: −8 − 10 + 0 − 4 = −22
        let words = REF.words(0.25);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 5,
            act_min: -128,
            act_max: 127,
            requant: REF,
        };
        let mut out = [0i8; 2];
        fully_connected(&input, -1, &filter, Some(&[10, -4]), 3, &stage, &mut out);
        // 8 · 0.25 = 2 → 7; −22 · 0.25 = −5.5 → −6 (std::round: away from zero) → −1
        assert_eq!(out, [7, -1]);
        // Single rounding sends the tie towards +∞: −5 → 0
        let words = SINGLE.words(0.25);
        let stage = OutputStage {
            multipliers: &words,
            requant: SINGLE,
            ..stage
        };
        fully_connected(&input, -1, &filter, Some(&[10, -4]), 3, &stage, &mut out);
        assert_eq!(out, [7, 0]);
        // per channel, no bias, ReLU clamp at the zero point 5
        let mut words = [0i32; 4];
        assert!(multipliers(0.5, &[0.5, 1.0], 1.0, DOUBLE, &mut words));
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 5,
            act_min: 5,
            act_max: 127,
            requant: DOUBLE,
        };
        fully_connected(&input, -1, &filter, None, 3, &stage, &mut out);
        // unit 0: −2 · 0.25 = −0.5 → −1 (away) → 4 → clamp 5; unit 1: −18 · 0.5 = −9 → −4 → 5
        assert_eq!(out, [5, 5]);
    }

    #[test]
    fn saturates_at_the_int8_range() {
        let words = REF.words(1.0);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant: REF,
        };
        let mut out = [0i8; 2];
        fully_connected(
            &[127, -128],
            0,
            &[127, 0, -128, 0],
            None,
            2,
            &stage,
            &mut out,
        );
        assert_eq!(out, [127, -128]);
        // input_offset 128 with input −128: 0 contribution
        fully_connected(
            &[-128, -128],
            128,
            &[127, 127, 1, 1],
            Some(&[3, -3]),
            2,
            &stage,
            &mut out,
        );
        assert_eq!(out, [3, -3]);
    }

    #[test]
    fn several_rows() {
        let words = DOUBLE.words(1.0);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant: DOUBLE,
        };
        let mut out = [0i8; 6];
        fully_connected(
            &[1, 2, 3, 4, 5, 6],
            0,
            &[1, 0, 0, 1],
            None,
            2,
            &stage,
            &mut out,
        );
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn multiplier_helper() {
        let mut w = [0i32; 2];
        assert!(!multipliers(1.0, &[], 1.0, REF, &mut []));
        assert!(!multipliers(1.0, &[1.0, 2.0], 1.0, REF, &mut w));
        assert!(multipliers(0.5, &[0.25], 2.0, REF, &mut w));
        assert_eq!(w, REF.words(0.0625));
    }

    /// Runs one FC layer of a vector with kiln's host-side parameter derivation.
    fn run_layer(l: &vectors::FcLayer, input: &[i8], requant: Requant) -> Vec<i8> {
        let mut words = vec![0i32; 2 * l.filter_scales.len()];
        assert!(multipliers(
            l.input_scale,
            l.filter_scales,
            l.output_scale,
            requant,
            &mut words
        ));
        let (act_min, act_max) =
            activation_range(l.activation, l.output_scale, l.output_zero_point).unwrap();
        let stage = OutputStage {
            multipliers: &words,
            output_offset: l.output_zero_point,
            act_min,
            act_max,
            requant,
        };
        let units = l.filter.len() / l.depth;
        let mut out = vec![0i8; input.len() / l.depth * units];
        fully_connected(
            input,
            -l.input_zero_point,
            l.filter,
            l.bias,
            l.depth,
            &stage,
            &mut out,
        );
        out
    }

    fn mismatches(a: &[i8], b: &[i8]) -> usize {
        a.iter().zip(b).filter(|(x, y)| x != y).count()
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::FC {
            let mut x: Vec<i8> = v.input.to_vec();
            for (i, l) in v.layers.iter().enumerate() {
                x = run_layer(l, &x, REF);
                assert_eq!(x, l.expected, "{} layer {i}", v.name);
            }
        }
    }

    #[test]
    fn ten_layer_per_channel_dense_chain() {
        let v = vectors::FC
            .iter()
            .find(|v| v.name == "dense10_per_channel")
            .unwrap();
        assert_eq!(v.layers.len(), 10);
        let mut x_ref = v.input.to_vec();
        let (mut x_double, mut x_single) = (x_ref.clone(), x_ref.clone());
        let (mut total, mut chained_double, mut chained_single) = (0, 0, 0);
        for l in v.layers {
            x_ref = run_layer(l, &x_ref, REF);
            assert_eq!(x_ref, l.expected);
            // TFLM's double rounding and single rounding, each run as a whole chain
            x_double = run_layer(l, &x_double, DOUBLE);
            x_single = run_layer(l, &x_single, SINGLE);
            total += x_ref.len();
            chained_double += mismatches(&x_double, &x_ref);
            chained_single += mismatches(&x_single, &x_ref);
        }
        std::println!(
            "dense10: {total} outputs; double rounding differs in {chained_double}, \
             single in {chained_single}"
        );
        assert_eq!(total, 640);
        assert!(
            chained_double > 0,
            "double rounding should differ on this chain"
        );
    }

    #[test]
    fn ties_single_and_double_disagree_and_reference_is_neither() {
        // Crafted power-of-two scales (s_in 2^-4, s_w 2^-6, s_out 2^-8): every
        // accumulator is scaled by exactly 1/4, so a quarter of them are ties.
        let v = vectors::FC.iter().find(|v| v.name == "fc_ties").unwrap();
        let l = &v.layers[0];
        assert_eq!(run_layer(l, v.input, REF), l.expected);
        let single = mismatches(&run_layer(l, v.input, SINGLE), l.expected);
        // Double: an odd accumulator is a tie already in the doubling high-mul (x/2,
        // rounded up), then rounded again by the right shift: 5/4 → 3/2 → 2, not 1
        let double = mismatches(&run_layer(l, v.input, DOUBLE), l.expected);
        std::println!(
            "fc_ties: {} outputs, single differs in {single}, double in {double}",
            l.expected.len()
        );
        assert!(
            single > 0,
            "single rounding sends negative ties towards +inf"
        );
        assert!(double > 0, "double rounding rounds twice");
        // random scales: double rounding's two steps show up
        let v = vectors::FC
            .iter()
            .find(|v| v.name == "fc_double_rounding")
            .unwrap();
        let l = &v.layers[0];
        assert_eq!(run_layer(l, v.input, REF), l.expected);
        let double = mismatches(&run_layer(l, v.input, DOUBLE), l.expected);
        let single = mismatches(&run_layer(l, v.input, SINGLE), l.expected);
        std::println!(
            "fc_double_rounding: {} outputs, double differs in {double}, single in {single}",
            l.expected.len()
        );
        assert!(double > 0);
    }
}
