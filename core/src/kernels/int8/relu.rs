//! Int8 RELU and RELU6 as TensorFlow Lite runs them (activations.cc `ReluPrepare` /
//! `ReluEval`, reference `ReluX`): each value is moved from the input's quantization to
//! the output's with one multiplier, `s_in / s_out`, then clamped to the activation's
//! range on the output's scale.

use super::quant::{multiply_by_quantized_multiplier, Multiplier, Rounding};

/// The integer parameters of an int8 RELU / RELU6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReluParams {
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
    /// `s_in / s_out`.
    pub multiplier: Multiplier,
    /// The clamp on the output's scale: `max(−128, zp_out)` and 127, or `zp_out + round(6
    /// / s_out)` for RELU6.
    pub act_min: i32,
    /// The upper end of that clamp.
    pub act_max: i32,
    /// `MultiplyByQuantizedMultiplier`'s rounding.
    pub rounding: Rounding,
}

impl ReluParams {
    /// Words in [`Self::to_words`].
    pub const WORDS: usize = 7;

    /// Host side, as `ReluPrepare` works it out: `QuantizeMultiplier(s_in / s_out)` in
    /// double precision.
    ///
    /// ```
    /// use kiln::kernels::int8::relu::{relu, ReluParams};
    /// use kiln::kernels::int8::{activation_range, FusedActivation, Rounding};
    /// // RELU6 from scale 0.1, zero point 0 to scale 0.05, zero point -128.
    /// let clamp = activation_range(FusedActivation::Relu6, 0.05, -128).unwrap();
    /// let p = ReluParams::new((0.1, 0), (0.05, -128), clamp, Rounding::Double);
    /// let mut x = [-10i8, 10, 100];
    /// relu(&p, &mut x);
    /// assert_eq!(x, [-128, -108, -8]); // 0.0, 1.0 and 6.0
    /// ```
    pub fn new(
        input: (f32, i32),
        output: (f32, i32),
        (act_min, act_max): (i32, i32),
        rounding: Rounding,
    ) -> Self {
        let real = f64::from(input.0) / f64::from(output.0);
        ReluParams {
            input_zero_point: input.1,
            output_zero_point: output.1,
            multiplier: Multiplier::from_real_with(real, rounding),
            act_min,
            act_max,
            rounding,
        }
    }

    /// The fixed word encoding, in field order (rounding 0 = double, 1 = single).
    pub fn to_words(&self) -> [i32; Self::WORDS] {
        [
            self.input_zero_point,
            self.output_zero_point,
            self.multiplier.multiplier,
            self.multiplier.shift,
            self.act_min,
            self.act_max,
            i32::from(self.rounding == Rounding::Single),
        ]
    }

    /// Inverse of [`Self::to_words`]; `None` for an unknown rounding word.
    pub fn from_words(w: [i32; Self::WORDS]) -> Option<Self> {
        Some(ReluParams {
            input_zero_point: w[0],
            output_zero_point: w[1],
            multiplier: Multiplier::from_words([w[2], w[3]]),
            act_min: w[4],
            act_max: w[5],
            rounding: match w[6] {
                0 => Rounding::Double,
                1 => Rounding::Single,
                _ => return None,
            },
        })
    }
}

/// RELU / RELU6 in place: `clamp(zp_out + x·(s_in/s_out) from zp_in, act_min, act_max)`.
pub fn relu(p: &ReluParams, data: &mut [i8]) {
    let (lo, hi) = (p.act_min.clamp(-128, 127), p.act_max.clamp(-128, 127));
    for x in data.iter_mut() {
        let centred = i32::from(*x).wrapping_sub(p.input_zero_point);
        let scaled = multiply_by_quantized_multiplier(centred, p.multiplier, p.rounding);
        *x = scaled.saturating_add(p.output_zero_point).max(lo).min(hi) as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_quantization_clamps_at_the_zero_point() {
        // s_in = s_out: the multiplier is exactly 1, so values only clamp.
        let p = ReluParams::new((0.1, -5), (0.1, -5), (-5, 127), Rounding::Double);
        let mut data = [-128i8, -6, -5, -4, 0, 127];
        relu(&p, &mut data);
        assert_eq!(data, [-5, -5, -5, -4, 0, 127]);
    }

    #[test]
    fn a_new_scale_requantizes_then_clamps() {
        // s_in / s_out = 0.5, zp 0 → 10: 7 → 10 + round(3.5) = 14 (ties away from zero in
        // the double-rounding divide), −20 → 0 clamps to act_min 10.
        let p = ReluParams::new((0.05, 0), (0.1, 10), (10, 70), Rounding::Double);
        let mut data = [7i8, -20, 127];
        relu(&p, &mut data);
        assert_eq!(data, [14, 10, 70]);
        assert_eq!(ReluParams::from_words(p.to_words()), Some(p));
    }
}
