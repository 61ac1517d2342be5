//! Int8 MEAN over height and width (Keras `GlobalAveragePooling2D`, TFLite MEAN with
//! axes `[1, 2]`), input and output quantization possibly different.
//!
//! Spec: LiteRT's `kReference` MEAN for int8 is
//! tensorflow/lite/kernels/internal/reference/reduce.h `QuantizedMeanOrSum` (reduce.cc
//! `EvalMean` → `EvalQuantizedMean`, whatever the scales; the same-scale shortcut and the
//! float-based `Mean` are only on the optimized path), with the multiplier of reduce.cc
//! `PrepareMeanOrSum`: `QuantizeMultiplier((double)s_in / (double)s_out)`. At run time
//! `QuantizedMeanOrSum` folds `1/count` into it with integer arithmetic; kiln does that
//! folding on the host ([`MeanParams::new`]). TFLM (reduce_common.cc) calls the same
//! function.

use super::quant::{multiply_by_quantized_multiplier, Multiplier, Rounding};

/// The integer parameters of an int8 MEAN over `count` cells per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeanParams {
    /// `(s_in / s_out) / count` as a quantized multiplier (after the folding).
    pub multiplier: Multiplier,
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Cells averaged per channel (`H · W`).
    pub count: i32,
    /// `MultiplyByQuantizedMultiplier`'s rounding.
    pub rounding: Rounding,
}

impl MeanParams {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = 6;

    /// Host side, LiteRT `BUILTIN_REF` / TFLM default (double rounding). `None` if
    /// `count` is 0 or above `i32::MAX`.
    ///
    /// ```
    /// use kiln::kernels::int8::{mean, MeanParams};
    /// // A 2 × 2 image of 2 channels: zero point 3 in, -1 out, the same scale.
    /// let p = MeanParams::new(0.1, 3, 0.1, -1, 4).unwrap();
    /// let mut out = [0i8; 2];
    /// mean(&p, &[4, -128, 5, -128, 6, -128, 8, -127], &mut out);
    /// assert_eq!(out, [2, -128]); // channel 0: (1 + 2 + 3 + 5) / 4 = 2.75, rounded to 3
    /// assert_eq!(MeanParams::from_words(p.to_words()), Some(p));
    /// ```
    pub fn new(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        count: usize,
    ) -> Option<Self> {
        Self::with_rounding(
            input_scale,
            input_zero_point,
            output_scale,
            output_zero_point,
            count,
            Rounding::Double,
        )
    }

    /// [`Self::new`] for the given build.
    pub fn with_rounding(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        count: usize,
        rounding: Rounding,
    ) -> Option<Self> {
        let n = i32::try_from(count).ok().filter(|&n| n > 0)?;
        let base = Multiplier::from_real_with(input_scale as f64 / output_scale as f64, rounding);
        // QuantizedMeanOrSum: shift = floor(log2(n)), at most 32 and 31 + output_shift
        let shift = (63 - (n as u64).leading_zeros() as i32)
            .min(32)
            .min(31 + base.shift);
        let folded = if shift >= 0 {
            ((i64::from(base.multiplier) << shift) / i64::from(n)) as i32
        } else {
            // 31 + output_shift < 0 only for flushed multipliers (shift 0): unreachable,
            // kept panic-free
            0
        };
        Some(MeanParams {
            multiplier: Multiplier {
                multiplier: folded,
                shift: base.shift - shift,
            },
            input_zero_point,
            output_zero_point,
            count: n,
            rounding,
        })
    }

    /// `[multiplier, shift, input_zp, output_zp, count, rounding (0 double, 1 single)]`.
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        [
            self.multiplier.multiplier,
            self.multiplier.shift,
            self.input_zero_point,
            self.output_zero_point,
            self.count,
            i32::from(self.rounding == Rounding::Single),
        ]
    }

    /// Inverse of [`Self::to_words`]; `None` for an unknown rounding word or a
    /// non-positive count.
    pub fn from_words(w: [i32; Self::WORDS]) -> Option<Self> {
        let rounding = match w[5] {
            0 => Rounding::Double,
            1 => Rounding::Single,
            _ => return None,
        };
        (w[4] > 0).then_some(MeanParams {
            multiplier: Multiplier {
                multiplier: w[0],
                shift: w[1],
            },
            input_zero_point: w[2],
            output_zero_point: w[3],
            count: w[4],
            rounding,
        })
    }
}

/// Int8 mean over the `count` pixels of an `(H, W, C)` input, per channel:
/// `sum = Σ input[·, c]` (wrapping int32), then
/// `MultiplyByQuantizedMultiplier(sum − input_zp · count) + output_zp`, clamped to int8.
///
/// # Slice-length contract
/// `input.len() == params.count · output.len()` (`output.len()` = channels). Debug
/// builds assert it; release builds return without writing `output`.
pub fn mean(params: &MeanParams, input: &[i8], output: &mut [i8]) {
    let channels = output.len();
    let ok = fits(params, input, output);
    debug_assert!(ok, "int8 mean: slice lengths break the contract");
    if !ok || channels == 0 {
        return;
    }
    for (c, y) in output.iter_mut().enumerate() {
        let sum = input
            .iter()
            .skip(c)
            .step_by(channels)
            .fold(0i32, |s, &x| s.wrapping_add(i32::from(x)));
        *y = requantize(params, sum);
    }
}

/// A channel's output from the wrapping int32 sum of its cells.
pub(crate) fn requantize(params: &MeanParams, sum: i32) -> i8 {
    // C: (U)(temp_sum − input_zero_point · num_elements_in_axis), the product in int64
    let shifted =
        (i64::from(sum) - i64::from(params.input_zero_point) * i64::from(params.count)) as i32;
    let v = multiply_by_quantized_multiplier(shifted, params.multiplier, params.rounding)
        .saturating_add(params.output_zero_point);
    v.clamp(-128, 127) as i8
}

/// The slice-length contract of [`mean`].
pub(crate) fn fits(params: &MeanParams, input: &[i8], output: &[i8]) -> bool {
    params.count > 0 && (params.count as usize).checked_mul(output.len()) == Some(input.len())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::vectors;
    use super::*;
    use std::vec;

    #[test]
    fn folding_by_hand() {
        // same scales, 4 cells: base (2^30, 1); shift = 2 → (2^32 / 4, 1 − 2) = (2^30, −1)
        let p = MeanParams::new(0.5, 0, 0.5, 0, 4).unwrap();
        assert_eq!(
            p.multiplier,
            Multiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        // 3 cells: shift 1, 2^31 / 3 = 715827882
        let p = MeanParams::new(0.5, 0, 0.5, 0, 3).unwrap();
        assert_eq!(
            p.multiplier,
            Multiplier {
                multiplier: 715827882,
                shift: 0
            }
        );
        assert_eq!(MeanParams::new(0.5, 0, 0.5, 0, 0), None);
        assert_eq!(MeanParams::from_words(p.to_words()), Some(p));
    }

    #[test]
    fn means_by_hand() {
        // (H·W = 4, C = 2), zero point 3 in, −1 out, same scale
        let p = MeanParams::new(0.1, 3, 0.1, -1, 4).unwrap();
        let input = [4, -128, 5, -128, 6, -128, 8, -127];
        let mut out = [0i8; 2];
        mean(&p, &input, &mut out);
        // channel 0: (1 + 2 + 3 + 5) / 4 = 2.75 → 3, −1 → 2
        // channel 1: (−131·3 − 130) / 4 = −130.75 → −131 → −132 → clamp −128
        assert_eq!(out, [2, -128]);
        // ties: sum 2 over 4 cells = 0.5 → 1 (RoundingDivideByPOT away from zero)
        let p = MeanParams::new(1.0, 0, 1.0, 0, 4).unwrap();
        mean(&p, &[1, 1, 0, 0], &mut out[..1]);
        assert_eq!(out[0], 1);
        mean(&p, &[-1, -1, 0, 0], &mut out[..1]);
        assert_eq!(out[0], -1);
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::MEAN {
            let p = MeanParams::new(
                v.input_scale,
                v.input_zero_point,
                v.output_scale,
                v.output_zero_point,
                v.count,
            )
            .unwrap();
            let mut out = vec![0i8; v.expected.len()];
            mean(&p, v.input, &mut out);
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
