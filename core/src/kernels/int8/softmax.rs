//! Int8 SOFTMAX on the last axis (output scale 1/256, zero point −128).
//!
//! Spec: LiteRT's `kReference` int8 SOFTMAX is
//! tensorflow/lite/kernels/internal/reference/softmax.h `Softmax` (the quantized
//! overload: gemmlowp fixed-point `exp` on Q5.26 differences, a Q12.19 sum, and
//! `GetReciprocal` of common.h), with the parameters of activations.cc `SoftmaxPrepare`
//! for `kReference` (`PreprocessSoftmaxScaling` and `CalculateInputRadius` of
//! quantization_util.cc). No lookup table on this path (the LUTs are the optimized
//! kernels'). TFLM's int8 → int8 softmax calls the same function.

use super::fixedpoint::{exp_on_negative_values_q5, one_over_one_plus_x_for_x_in_0_1};
use super::quant::{
    multiply_by_quantized_multiplier, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul, Multiplier, Rounding,
};

/// Integer bits of the scaled differences (`kScaledDiffIntegerBits`).
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials (`kAccumulationIntegerBits`).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// The integer parameters of an int8 SOFTMAX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// `β · s_in · 2^26` as a greater-than-one multiplier (`input_multiplier`,
    /// `input_left_shift`).
    pub input_multiplier: Multiplier,
    /// Differences `x − max` below this are taken as `exp = 0` (`diff_min`).
    pub diff_min: i32,
    /// `MultiplyByQuantizedMultiplier`'s rounding.
    pub rounding: Rounding,
}

impl SoftmaxParams {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = 4;

    /// Host side, LiteRT `BUILTIN_REF` / TFLM default (double rounding).
    /// `PreprocessSoftmaxScaling(β, s_in, 5)`: `real = min(β · s_in · 2^26, 2^31 − 1)`
    /// in f64, `QuantizeMultiplierGreaterThanOne(real)`; `diff_min =
    /// −floor(31 · 2^26 / 2^left_shift)` (`CalculateInputRadius(5, left_shift, 31)`).
    /// `None` where TFLite's check aborts (`real ≤ 1`).
    ///
    /// ```
    /// use kiln::kernels::int8::{softmax, SoftmaxParams};
    /// let p = SoftmaxParams::new(1.0 / 16.0, 1.0).unwrap(); // input scale 1/16, beta 1
    /// let mut out = [0i8; 2];
    /// softmax(&p, &[0, 0], 2, &mut out);
    /// assert_eq!(out, [0, 0]); // 0.5 each: 128 steps of 1/256 above -128
    /// assert_eq!(SoftmaxParams::from_words(p.to_words()), Some(p));
    /// ```
    pub fn new(input_scale: f32, beta: f32) -> Option<Self> {
        Self::with_rounding(input_scale, beta, Rounding::Double)
    }

    /// [`Self::new`] for the given build: under single rounding TFLite caps the real
    /// multiplier at `2^30 − 1` instead.
    pub fn with_rounding(input_scale: f32, beta: f32, rounding: Rounding) -> Option<Self> {
        let max_real = match rounding {
            Rounding::Double => ((1i64 << 31) - 1) as f64,
            Rounding::Single => ((1i64 << 30) - 1) as f64,
        };
        let real =
            (beta as f64 * input_scale as f64 * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64)
                .min(max_real);
        let m = Multiplier::greater_than_one(real, rounding)?;
        let left_shift = m.shift;
        if !(0..=31).contains(&left_shift) {
            return None;
        }
        let max_input_rescaled = ((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) as f64
            * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64
            / (1i64 << left_shift) as f64;
        let radius = libm::floor(max_input_rescaled) as i32;
        Some(SoftmaxParams {
            input_multiplier: m,
            diff_min: -radius,
            rounding,
        })
    }

    /// `[multiplier, left_shift, diff_min, rounding (0 double, 1 single)]`.
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        [
            self.input_multiplier.multiplier,
            self.input_multiplier.shift,
            self.diff_min,
            i32::from(self.rounding == Rounding::Single),
        ]
    }

    /// Inverse of [`Self::to_words`]; `None` for an unknown rounding word.
    pub fn from_words(w: [i32; Self::WORDS]) -> Option<Self> {
        Some(SoftmaxParams {
            input_multiplier: Multiplier {
                multiplier: w[0],
                shift: w[1],
            },
            diff_min: w[2],
            rounding: match w[3] {
                0 => Rounding::Double,
                1 => Rounding::Single,
                _ => return None,
            },
        })
    }

    /// exp(β·s_in·(x − max)) in Q0.31, or `None` below `diff_min`.
    #[inline]
    fn exp(&self, diff: i32) -> Option<i32> {
        (diff >= self.diff_min).then(|| {
            let scaled =
                multiply_by_quantized_multiplier(diff, self.input_multiplier, self.rounding);
            exp_on_negative_values_q5(scaled)
        })
    }
}

/// Int8 softmax over each run of `depth` values: output scale 1/256, zero point −128.
///
/// Per row: `max`, then `sum = Σ Rescale<12>(exp(diff))` (Q12.19, wrapping) over the
/// differences `diff = x − max ≥ diff_min`; `1/sum` by `GetReciprocal`; each output is
/// `RoundingDivideByPOT(recip · exp(diff), num_bits_over_unit + 23) − 128`, clamped to
/// int8, and −128 where `diff < diff_min`.
///
/// # Slice-length contract
/// `depth > 0`, `input.len()` a multiple of `depth`, `output.len() == input.len()`.
/// Debug builds assert it; release builds return without writing `output`. Rows whose
/// sum overflows (`depth` above 4096) give unspecified values, never a panic.
pub fn softmax(params: &SoftmaxParams, input: &[i8], depth: usize, output: &mut [i8]) {
    let ok = depth > 0 && input.len() % depth == 0 && output.len() == input.len();
    debug_assert!(ok, "int8 softmax: slice lengths break the contract");
    if !ok {
        return;
    }
    for (x_row, y_row) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        let max = x_row.iter().copied().fold(i8::MIN, i8::max);
        let diff = |x: i8| i32::from(x) - i32::from(max);
        let mut sum_of_exps = 0i32;
        for &x in x_row {
            if let Some(e) = params.exp(diff(x)) {
                sum_of_exps =
                    sum_of_exps.wrapping_add(rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS));
            }
        }
        // GetReciprocal (common.h)
        let headroom_plus_one = (sum_of_exps as u32).leading_zeros();
        let num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one as i32;
        let shifted_sum_minus_one = (sum_of_exps as u32)
            .checked_shl(headroom_plus_one)
            .unwrap_or(0)
            .wrapping_sub(1u32 << 31) as i32;
        let shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        let exponent = num_bits_over_unit + 31 - 8;
        for (y, &x) in y_row.iter_mut().zip(x_row) {
            *y = match params.exp(diff(x)) {
                Some(e) => {
                    let unsat = rounding_divide_by_pot(
                        saturating_rounding_doubling_high_mul(shifted_scale, e),
                        exponent,
                    );
                    unsat.wrapping_add(-128).clamp(-128, 127) as i8
                }
                None => i8::MIN,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::vectors;
    use super::*;
    use std::vec;

    #[test]
    fn parameters_by_hand() {
        // s_in = 1/16: real = 2^22 → (2^30, 23); radius floor(31·2^26 / 2^23) = 248
        let p = SoftmaxParams::new(0.0625, 1.0).unwrap();
        assert_eq!(
            p.input_multiplier,
            Multiplier {
                multiplier: 1 << 30,
                shift: 23
            }
        );
        assert_eq!(p.diff_min, -248);
        assert_eq!(SoftmaxParams::from_words(p.to_words()), Some(p));
        // huge scales are capped at 2^31 − 1
        let p = SoftmaxParams::new(1000.0, 1.0).unwrap();
        assert_eq!(
            p.input_multiplier,
            Multiplier {
                multiplier: i32::MAX,
                shift: 31
            }
        );
        assert_eq!(p.diff_min, 0); // floor(31 · 2^26 / 2^31) = 0: only the maximum survives
                                   // single rounding caps at 2^30 − 1 = (2^31 − 2) · 2^(30 − 31)
        let p = SoftmaxParams::with_rounding(1000.0, 1.0, Rounding::Single).unwrap();
        assert_eq!(
            p.input_multiplier,
            Multiplier {
                multiplier: i32::MAX - 1,
                shift: 30
            }
        );
        assert_eq!(SoftmaxParams::new(1e-9, 1.0), None);
    }

    #[test]
    fn uniform_and_one_hot_rows() {
        let p = SoftmaxParams::new(0.1, 1.0).unwrap();
        let mut out = [0i8; 8];
        // four equal values: 1/4 → 64 − 128 = −64
        softmax(&p, &[5, 5, 5, 5, -7, -7, -7, -7], 4, &mut out);
        assert_eq!(out, [-64; 8]);
        // one dominant value: ≈1 → 127 (255.x saturates), the others ≈0 → −128
        let p = SoftmaxParams::new(1.0, 1.0).unwrap();
        softmax(&p, &[100, -100, -100, -100], 4, &mut out[..4]);
        assert_eq!(&out[..4], &[127, -128, -128, -128]);
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::SOFTMAX {
            let p = SoftmaxParams::new(v.input_scale, v.beta).unwrap();
            let mut out = vec![0i8; v.expected.len()];
            softmax(&p, v.input, v.depth, &mut out);
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
