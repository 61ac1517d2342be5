//! Int8 ADD of two same-shape tensors (Keras `Add`), with TFLite's `left_shift = 20`
//! formulation.
//!
//! Spec: tensorflow/lite/kernels/internal/reference/integer_ops/add.h (`AddFunc`),
//! parameters from tensorflow/lite/kernels/add.cc (`Prepare`, the 8-bit general path).
//! Both inputs are shifted left by 20, scaled into a common scale `2·max(s1, s2)` by
//! `MultiplyByQuantizedMultiplierSmallerThanOneExp`, summed, and scaled to the output.
//! LiteRT's `kReference` and TFLM compute the same (double rounding by default).

use super::quant::{multiply_by_quantized_multiplier, Multiplier, Rounding};

/// The integer parameters of an int8 ADD (TFLite's `ArithmeticParams`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddParams {
    /// `−zp1`.
    pub input1_offset: i32,
    /// `s1 / (2·max(s1, s2))`.
    pub input1_multiplier: Multiplier,
    /// `−zp2`.
    pub input2_offset: i32,
    /// `s2 / (2·max(s1, s2))`.
    pub input2_multiplier: Multiplier,
    /// `+zp_out`.
    pub output_offset: i32,
    /// `2·max(s1, s2) / (2^20 · s_out)`.
    pub output_multiplier: Multiplier,
    /// 20 for int8.
    pub left_shift: i32,
    /// Lower clamp (from [`activation_range`](super::quant::activation_range)).
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
    /// `MultiplyByQuantizedMultiplier`'s rounding.
    pub rounding: Rounding,
}

impl AddParams {
    /// Number of words in [`Self::to_words`].
    pub const WORDS: usize = 13;

    /// Host side, LiteRT `BUILTIN_REF` / TFLM default (double rounding), as add.cc's
    /// `Prepare` computes it: `twice_max = 2·max(s1, s2)` (f32, then f64),
    /// `s1 / twice_max`, `s2 / twice_max` and `twice_max / (2^20 · s_out)` (the
    /// product in f32) in f64, each through `QuantizeMultiplierSmallerThanOneExp`.
    /// `None` where TFLite's checks would abort (a multiplier not in `(0, 1)`).
    ///
    /// ```
    /// use kiln::kernels::int8::{activation_range, add, AddParams, FusedActivation};
    /// // a at (scale 0.5, zero point 1), b at (0.25, -2), the sum at (0.5, 3), no activation.
    /// let (act_min, act_max) = activation_range(FusedActivation::None, 0.5, 3).unwrap();
    /// let p = AddParams::new(0.5, 1, 0.25, -2, 0.5, 3, act_min, act_max).unwrap();
    /// let mut sum = [0i8; 2];
    /// add(&[5, -3], &[6, 2], &p, &mut sum);
    /// assert_eq!(sum, [11, 1]); // 2.0 + 2.0 = 4.0 and -2.0 + 1.0 = -1.0
    /// assert_eq!(AddParams::from_words(p.to_words()), Some(p)); // as a blob keeps them
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        input1_scale: f32,
        input1_zero_point: i32,
        input2_scale: f32,
        input2_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        act_min: i32,
        act_max: i32,
    ) -> Option<Self> {
        Self::with_rounding(
            [input1_scale, input2_scale, output_scale],
            [input1_zero_point, input2_zero_point, output_zero_point],
            act_min,
            act_max,
            Rounding::Double,
        )
    }

    /// [`Self::new`] for the given build; `scales` and `zero_points` are
    /// `[input1, input2, output]`.
    pub fn with_rounding(
        scales: [f32; 3],
        zero_points: [i32; 3],
        act_min: i32,
        act_max: i32,
        rounding: Rounding,
    ) -> Option<Self> {
        let [s1, s2, s_out] = scales;
        let left_shift = 20;
        let twice_max_input_scale = (2.0 * s1.max(s2)) as f64;
        let real1 = s1 as f64 / twice_max_input_scale;
        let real2 = s2 as f64 / twice_max_input_scale;
        let real_out = twice_max_input_scale / ((1 << left_shift) as f32 * s_out) as f64;
        Some(AddParams {
            input1_offset: zero_points[0].wrapping_neg(),
            input1_multiplier: Multiplier::smaller_than_one(real1, rounding)?,
            input2_offset: zero_points[1].wrapping_neg(),
            input2_multiplier: Multiplier::smaller_than_one(real2, rounding)?,
            output_offset: zero_points[2],
            output_multiplier: Multiplier::smaller_than_one(real_out, rounding)?,
            left_shift,
            act_min,
            act_max,
            rounding,
        })
    }

    /// The fixed word encoding, in field order (multipliers as `multiplier, shift`;
    /// rounding 0 = double, 1 = single).
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        [
            self.input1_offset,
            self.input1_multiplier.multiplier,
            self.input1_multiplier.shift,
            self.input2_offset,
            self.input2_multiplier.multiplier,
            self.input2_multiplier.shift,
            self.output_offset,
            self.output_multiplier.multiplier,
            self.output_multiplier.shift,
            self.left_shift,
            self.act_min,
            self.act_max,
            i32::from(self.rounding == Rounding::Single),
        ]
    }

    /// Inverse of [`Self::to_words`]; `None` for an unknown rounding word.
    pub fn from_words(w: [i32; Self::WORDS]) -> Option<Self> {
        let m = |a: i32, b: i32| Multiplier {
            multiplier: a,
            shift: b,
        };
        Some(AddParams {
            input1_offset: w[0],
            input1_multiplier: m(w[1], w[2]),
            input2_offset: w[3],
            input2_multiplier: m(w[4], w[5]),
            output_offset: w[6],
            output_multiplier: m(w[7], w[8]),
            left_shift: w[9],
            act_min: w[10],
            act_max: w[11],
            rounding: match w[12] {
                0 => Rounding::Double,
                1 => Rounding::Single,
                _ => return None,
            },
        })
    }

    /// One output value (TFLite's `AddFunc`).
    #[inline]
    pub fn add_one(&self, a: i8, b: i8) -> i8 {
        let r = self.rounding;
        let shift = self.left_shift.clamp(0, 31) as u32;
        let x1 = self
            .input1_offset
            .wrapping_add(i32::from(a))
            .wrapping_shl(shift);
        let x2 = self
            .input2_offset
            .wrapping_add(i32::from(b))
            .wrapping_shl(shift);
        let scaled1 = multiply_by_quantized_multiplier(x1, self.input1_multiplier, r);
        let scaled2 = multiply_by_quantized_multiplier(x2, self.input2_multiplier, r);
        let raw_sum = scaled1.wrapping_add(scaled2);
        let raw_out = multiply_by_quantized_multiplier(raw_sum, self.output_multiplier, r)
            .wrapping_add(self.output_offset);
        raw_out.max(self.act_min).min(self.act_max).clamp(-128, 127) as i8
    }
}

/// Int8 element-wise ADD of two same-shape tensors: `output[i] = AddFunc(a[i], b[i])`.
///
/// # Slice-length contract
/// `a.len() == b.len() == output.len()`. Debug builds assert it; release builds return
/// without writing `output`.
pub fn add(a: &[i8], b: &[i8], params: &AddParams, output: &mut [i8]) {
    let ok = a.len() == output.len() && b.len() == output.len();
    debug_assert!(ok, "int8 add: slice lengths break the contract");
    if !ok {
        return;
    }
    for ((y, &x1), &x2) in output.iter_mut().zip(a).zip(b) {
        *y = params.add_one(x1, x2);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::quant::activation_range;
    use super::super::vectors;
    use super::*;
    use std::vec;

    #[test]
    fn parameters_by_hand() {
        // s1 = 0.5, s2 = 0.25: twice_max = 1; 0.5 → (2^30, 0); 0.25 → (2^30, −1);
        // out 1 / (2^20 · 0.5) = 2^-19 → (2^30, −18)
        let p = AddParams::new(0.5, 1, 0.25, -2, 0.5, 3, -128, 127).unwrap();
        assert_eq!(
            p.input1_multiplier,
            Multiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(
            p.input2_multiplier,
            Multiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        assert_eq!(
            p.output_multiplier,
            Multiplier {
                multiplier: 1 << 30,
                shift: -18
            }
        );
        assert_eq!(
            (p.input1_offset, p.input2_offset, p.output_offset),
            (-1, 2, 3)
        );
        assert_eq!(AddParams::from_words(p.to_words()), Some(p));
        // a = 5 → 4 · 0.5 = 2.0; b = 2 → 4 · 0.25 = 1.0; sum 3.0 / 0.5 = 6 → 9
        let mut out = [0i8; 3];
        add(&[5, 127, -128], &[2, 127, -128], &p, &mut out);
        assert_eq!(out[0], 9);
        // 126·0.5 + 129·0.25 = 95.25 → 190.5 + 3 → 127 (saturated); −129·0.5 −126·0.25 → −128
        assert_eq!(&out[1..], &[127, -128]);
        assert_eq!(AddParams::new(0.0, 0, 0.0, 0, 1.0, 0, -128, 127), None);
    }

    #[test]
    fn litert_reference_vectors() {
        for v in vectors::ADD {
            let (lo, hi) =
                activation_range(v.activation, v.output_scale, v.output_zero_point).unwrap();
            let p = AddParams::new(
                v.input1_scale,
                v.input1_zero_point,
                v.input2_scale,
                v.input2_zero_point,
                v.output_scale,
                v.output_zero_point,
                lo,
                hi,
            )
            .unwrap();
            let mut out = vec![0i8; v.expected.len()];
            add(v.input1, v.input2, &p, &mut out);
            assert_eq!(out, v.expected, "{}", v.name);
        }
    }
}
