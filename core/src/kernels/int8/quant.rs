//! Fixed-point requantization: TFLite's quantized multipliers, the two ways
//! `MultiplyByQuantizedMultiplier` rounds, the f64 requantization of LiteRT's reference
//! FULLY_CONNECTED, the per-channel output stage shared by FC / CONV_2D /
//! DEPTHWISE_CONV_2D, and the fused-activation clamp range.
//!
//! Everything that runs per element is integer arithmetic. The constructors that turn
//! float scales into integers ([`Multiplier::from_real`], [`Requant::words`],
//! [`activation_range`], the `effective_scale*` helpers) run on the host at export time
//! and reproduce TFLite's `Prepare` arithmetic bit for bit (f32 where TFLite uses f32,
//! f64 where it uses double).

/// How `MultiplyByQuantizedMultiplier` rounds (tensorflow/lite/kernels/internal/common.cc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// `TFLITE_SINGLE_ROUNDING=1`: one rounding shift of the 64-bit product,
    /// `(x·m + 2^(30−shift)) >> (31−shift)`, ties towards +∞.
    Single,
    /// The default build (`TFLITE_SINGLE_ROUNDING` undefined, as in the LiteRT wheel
    /// and in TFLM): gemmlowp's `SaturatingRoundingDoublingHighMul(x·2^left, m)` (ties
    /// towards +∞), then `RoundingDivideByPOT(·, right)` (ties away from zero).
    Double,
}

/// How an accumulator becomes an output value in FC / CONV_2D / DEPTHWISE_CONV_2D.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Requant {
    /// `MultiplyByQuantizedMultiplier(acc, multiplier, shift)` with the given rounding:
    /// every TFLite integer kernel except LiteRT's reference FULLY_CONNECTED. The
    /// multiplier pair is `(multiplier, shift)` from [`Multiplier::from_real_with`].
    Multiplier(Rounding),
    /// LiteRT's reference FULLY_CONNECTED (`reference_integer_ops::FullyConnected` /
    /// `FullyConnectedPerChannel`, the overloads taking float scales, used by
    /// `kReference` since 2025): `(int32_t)std::round((double)acc * scale)` with
    /// `scale = (double)s_in * (double)s_w / (double)s_out`. The multiplier pair holds
    /// the f64 bits of `scale` (high word, low word); kiln reproduces the f64 product and
    /// the half-away-from-zero rounding with integers only (see [`requantize_f64`]).
    Float64,
}

impl Requant {
    /// The multiplier pair for the real `scale` (host side).
    pub fn words(self, scale: f64) -> [i32; 2] {
        match self {
            Requant::Multiplier(r) => Multiplier::from_real_with(scale, r).to_words(),
            Requant::Float64 => {
                let bits = scale.to_bits();
                [(bits >> 32) as u32 as i32, bits as u32 as i32]
            }
        }
    }

    /// One-word encoding: 0 = `Multiplier(Double)`, 1 = `Multiplier(Single)`, 2 = `Float64`.
    pub fn to_word(self) -> i32 {
        match self {
            Requant::Multiplier(Rounding::Double) => 0,
            Requant::Multiplier(Rounding::Single) => 1,
            Requant::Float64 => 2,
        }
    }

    /// Inverse of [`Self::to_word`]; `None` for an unknown word.
    pub fn from_word(word: i32) -> Option<Self> {
        match word {
            0 => Some(Requant::Multiplier(Rounding::Double)),
            1 => Some(Requant::Multiplier(Rounding::Single)),
            2 => Some(Requant::Float64),
            _ => None,
        }
    }
}

/// Which runtime's integer arithmetic to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// LiteRT 2.3 `BUILTIN_REF` (the pip wheel, `TFLITE_SINGLE_ROUNDING` undefined):
    /// FULLY_CONNECTED requantizes in f64, everything else with double rounding.
    LiteRtReference,
    /// TensorFlow Lite Micro's default build: double rounding everywhere.
    Tflm,
    /// TFLM built with `TFLITE_SINGLE_ROUNDING=1`.
    TflmSingleRounding,
}

impl Flavor {
    /// The rounding of `MultiplyByQuantizedMultiplier` (ADD, MEAN, SOFTMAX, CONV_2D, …).
    pub fn rounding(self) -> Rounding {
        match self {
            Flavor::LiteRtReference | Flavor::Tflm => Rounding::Double,
            Flavor::TflmSingleRounding => Rounding::Single,
        }
    }

    /// FULLY_CONNECTED's requantization.
    pub fn fully_connected(self) -> Requant {
        match self {
            Flavor::LiteRtReference => Requant::Float64,
            f => Requant::Multiplier(f.rounding()),
        }
    }

    /// CONV_2D's and DEPTHWISE_CONV_2D's requantization.
    pub fn conv(self) -> Requant {
        Requant::Multiplier(self.rounding())
    }
}

/// A real multiplier as TFLite stores it: `real ≈ multiplier · 2^(shift − 31)`, with
/// `multiplier` in `[2^30, 2^31)` (or 0) and `shift` positive for a left shift
/// (TFLite's `quantized_multiplier` and `shift`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Multiplier {
    /// Q0.31 significand.
    pub multiplier: i32,
    /// Power-of-two exponent; positive = left shift.
    pub shift: i32,
}

impl Multiplier {
    /// TFLite's `QuantizeMultiplier` (kernels/internal/quantization_util.cc) in the
    /// default (double-rounding) build: `frexp`, `round(q · 2^31)` (half away from
    /// zero), `2^31` folded into `2^30` with `shift + 1`, and reals below about 2^-31
    /// (`shift < −31`) flushed to `(0, 0)`. `0.0` and non-finite reals give `(0, 0)`.
    ///
    /// ```
    /// use kiln::kernels::int8::{multiply_by_quantized_multiplier, Multiplier, Rounding};
    /// let m = Multiplier::from_real(0.75);
    /// assert_eq!((m.multiplier, m.shift), (3 << 29, 0)); // 0.75 · 2^31, times 2^0
    /// assert_eq!(multiply_by_quantized_multiplier(100, m, Rounding::Double), 75);
    /// ```
    pub fn from_real(real: f64) -> Multiplier {
        Self::from_real_with(real, Rounding::Double)
    }

    /// [`Self::from_real`] for the given build: with [`Rounding::Single`] a shift above
    /// 30 saturates to `(2^31 − 1, 30)` as `QuantizeMultiplier` does under
    /// `TFLITE_SINGLE_ROUNDING`.
    pub fn from_real_with(real: f64, rounding: Rounding) -> Multiplier {
        if real == 0.0 || !real.is_finite() {
            return Multiplier::default();
        }
        let (q, mut shift) = libm::frexp(real);
        let mut q_fixed = libm::round(q * (1i64 << 31) as f64) as i64;
        if q_fixed == 1i64 << 31 {
            q_fixed /= 2;
            shift += 1;
        }
        if shift < -31 {
            shift = 0;
            q_fixed = 0;
        }
        if rounding == Rounding::Single && shift > 30 {
            shift = 30;
            q_fixed = (1i64 << 31) - 1;
        }
        Multiplier {
            multiplier: q_fixed as i32,
            shift,
        }
    }

    /// TFLite's `QuantizeMultiplierSmallerThanOneExp` (ADD's three multipliers): `None`
    /// unless `0 < real < 1` (where TFLite's `TFLITE_CHECK` would abort).
    pub fn smaller_than_one(real: f64, rounding: Rounding) -> Option<Multiplier> {
        if !(real > 0.0 && real < 1.0) {
            return None;
        }
        let m = Self::from_real_with(real, rounding);
        (m.shift <= 0).then_some(m)
    }

    /// TFLite's `QuantizeMultiplierGreaterThanOne` (SOFTMAX's input multiplier): `None`
    /// unless `real > 1`.
    pub fn greater_than_one(real: f64, rounding: Rounding) -> Option<Multiplier> {
        if real.is_nan() || real <= 1.0 {
            return None;
        }
        let m = Self::from_real_with(real, rounding);
        (m.shift >= 0).then_some(m)
    }

    /// `[multiplier, shift]`.
    pub fn to_words(self) -> [i32; 2] {
        [self.multiplier, self.shift]
    }

    /// Inverse of [`Self::to_words`].
    pub fn from_words(words: [i32; 2]) -> Multiplier {
        Multiplier {
            multiplier: words[0],
            shift: words[1],
        }
    }
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul` (fixedpoint/fixedpoint.h, ARM's
/// `VQRDMULH`): `round(a·b / 2^31)`, ties towards +∞ (its nudge `1 − 2^30` for negative
/// products and C's truncating division make −1.5 → −1), saturating the one overflow
/// `(MIN, MIN)` to `MAX`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32 // C's `/`: truncating
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away
/// from zero. `exponent` is clamped to `0..=31` (gemmlowp asserts that range).
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let e = exponent.clamp(0, 31) as u32;
    let mask = ((1i64 << e) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier(int32 x, multiplier, shift)`
/// (kernels/internal/common.cc), in either build. With [`Rounding::Double`] it is also
/// `MultiplyByQuantizedMultiplierSmallerThanOneExp` (shift ≤ 0) and
/// `…GreaterThanOne` (shift ≥ 0) of common.h; with [`Rounding::Single`] those two
/// call this function too.
///
/// Shifts outside what `QuantizeMultiplier` produces are clamped (`Single`: to
/// `−31..=30`; `Double`: left shift `≤ 31`, right shift `≤ 31`) so that a corrupt blob
/// cannot make the shift panic; the intermediate products wrap as in two's-complement C.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, m: Multiplier, rounding: Rounding) -> i32 {
    match rounding {
        Rounding::Single => {
            let total_shift = 31 - m.shift.clamp(-31, 30); // 1..=62
            let round = 1i64 << (total_shift - 1);
            ((x as i64 * m.multiplier as i64 + round) >> total_shift) as i32
        }
        Rounding::Double => {
            let left = m.shift.clamp(0, 31) as u32;
            let right = m.shift.saturating_neg().clamp(0, 31);
            // C's `x * (1 << left_shift)`, which wraps in practice
            let shifted = x.wrapping_shl(left);
            rounding_divide_by_pot(
                saturating_rounding_doubling_high_mul(shifted, m.multiplier),
                right,
            )
        }
    }
}

/// `(int32_t)std::round((double)acc * scale)` where `scale` is the f64 with bits
/// `(words[0] << 32) | words[1]`, computed exactly with integers: the product is rounded
/// to 53 significant bits (round-half-even, as the f64 multiply does), then to an
/// integer with ties away from zero (`std::round`), then saturated to i32 (the C cast is
/// undefined there). A NaN or infinite `scale` gives 0.
///
/// This is LiteRT's reference FULLY_CONNECTED requantization
/// (reference/integer_ops/fully_connected.h, the overloads taking float scales).
pub fn requantize_f64(acc: i32, words: [i32; 2]) -> i32 {
    let bits = ((words[0] as u32 as u64) << 32) | words[1] as u32 as u64;
    let negative_scale = bits >> 63 != 0;
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp_field == 0x7ff || acc == 0 {
        return 0;
    }
    let (mant, mut exp) = if exp_field == 0 {
        (frac, -1074) // subnormal
    } else {
        (frac | (1u64 << 52), exp_field - 1075)
    };
    if mant == 0 {
        return 0;
    }
    let negative = (acc < 0) != negative_scale;
    // |acc| < 2^31 and mant < 2^53: the exact product has at most 84 bits.
    let mut p = acc.unsigned_abs() as u128 * mant as u128;
    // Round the exact product to 53 significant bits, ties to even.
    let bits_len = 128 - p.leading_zeros() as i32;
    if bits_len > 53 {
        let k = (bits_len - 53) as u32;
        let half = 1u128 << (k - 1);
        let rem = p & ((1u128 << k) - 1);
        let mut q = p >> k;
        if rem > half || (rem == half && q & 1 == 1) {
            q += 1;
        }
        p = q;
        exp += k as i32;
    }
    // (Products below f64's normal range are far below 0.5 and round to 0 either way.)
    // Now the f64 product is p · 2^exp; round to an integer, ties away from zero.
    let magnitude: u128 = if exp >= 0 {
        if exp > 40 {
            u128::MAX
        } else {
            p << exp
        }
    } else {
        let sh = (-exp) as u32;
        if sh > 100 {
            0
        } else {
            (p + (1u128 << (sh - 1))) >> sh
        }
    };
    let limit = if negative {
        1u128 << 31
    } else {
        (1u128 << 31) - 1
    };
    let m = magnitude.min(limit) as i64;
    (if negative { -m } else { m }) as i32
}

/// `(double)s_in * (double)s_w / (double)s_out`: the effective output scale of
/// `PopulateConvolutionQuantizationParams` (kernels/kernel_util.cc; CONV_2D,
/// DEPTHWISE_CONV_2D, per-channel FULLY_CONNECTED) and of LiteRT's reference FC.
pub fn effective_scale(input_scale: f32, filter_scale: f32, output_scale: f32) -> f64 {
    input_scale as f64 * filter_scale as f64 / output_scale as f64
}

/// `(double)(s_in * s_w) / (double)s_out` with the product in f32: the legacy
/// `GetQuantizedConvolutionMultipler` (kernels/kernel_util.cc) that per-tensor
/// FULLY_CONNECTED's `Prepare` uses (TFLM's FC, LiteRT's optimized FC).
pub fn effective_scale_legacy(input_scale: f32, filter_scale: f32, output_scale: f32) -> f64 {
    (input_scale * filter_scale) as f64 / output_scale as f64
}

/// The requantization of FC / CONV_2D / DEPTHWISE_CONV_2D: per-channel multipliers,
/// output zero point and the fused activation's clamp range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputStage<'a> {
    /// Multiplier pairs, 2 words per output channel, or exactly 2 for per-tensor
    /// quantization: `(multiplier, shift)` for [`Requant::Multiplier`], the f64 bits of
    /// the scale for [`Requant::Float64`] (see [`Requant::words`]).
    pub multipliers: &'a [i32],
    /// The output zero point (TFLite's `output_offset`).
    pub output_offset: i32,
    /// Lower clamp (from [`activation_range`]).
    pub act_min: i32,
    /// Upper clamp.
    pub act_max: i32,
    /// How the accumulator is scaled.
    pub requant: Requant,
}

impl OutputStage<'_> {
    /// The multipliers fit `channels` output channels: 2 words, or `2 * channels`.
    pub fn fits(&self, channels: usize) -> bool {
        self.multipliers.len() == 2 || Some(self.multipliers.len()) == channels.checked_mul(2)
    }

    /// Requantizes the int32 accumulator (bias included) of output channel `channel`:
    /// scale, add `output_offset`, then `max(act_min)` and `min(act_max)` in TFLite's
    /// order, then clamp to the int8 range (a no-op for a valid clamp range). A channel
    /// without multipliers (contract broken) scales by 0.
    #[inline]
    pub fn requantize(&self, acc: i32, channel: usize) -> i8 {
        let i = if self.multipliers.len() == 2 {
            0
        } else {
            channel.wrapping_mul(2)
        };
        let pair = match self.multipliers.get(i..i.wrapping_add(2)) {
            Some(&[a, b]) => [a, b],
            _ => [0, 0],
        };
        let scaled = match self.requant {
            Requant::Multiplier(r) => {
                multiply_by_quantized_multiplier(acc, Multiplier::from_words(pair), r)
            }
            Requant::Float64 => requantize_f64(acc, pair),
        };
        // C adds in int32 (overflow is undefined there); saturate instead.
        let v = scaled.saturating_add(self.output_offset);
        v.max(self.act_min).min(self.act_max).clamp(-128, 127) as i8
    }
}

/// A fused activation of a TFLite op (`TfLiteFusedActivation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusedActivation {
    /// No clamp beyond the int8 range.
    None,
    /// `RELU`: `max(0, x)`.
    Relu,
    /// `RELU6`: `min(max(0, x), 6)`.
    Relu6,
    /// `RELU_N1_TO_1`: `min(max(−1, x), 1)`.
    ReluN1To1,
}

/// TFLite's `CalculateActivationRangeQuantized` for an int8 output
/// (kernels/kernel_util.cc): each bound is `zp + (int)roundf(f / scale)` in f32
/// (`roundf`: ties away from zero), intersected with `[-128, 127]`. `None` where TFLite
/// fails (the rounded quotient outside the int32 range, e.g. a zero scale).
pub fn activation_range(
    activation: FusedActivation,
    output_scale: f32,
    output_zero_point: i32,
) -> Option<(i32, i32)> {
    let quantize = |f: f32| -> Option<i32> {
        let tmp = libm::roundf(f / output_scale);
        // TFLite compares with static_cast<float>(INT32_MIN / INT32_MAX).
        if !(tmp >= i32::MIN as f32 && tmp <= i32::MAX as f32) {
            return None;
        }
        Some(output_zero_point.wrapping_add(tmp as i32))
    };
    let (qmin, qmax) = (-128, 127);
    Some(match activation {
        FusedActivation::None => (qmin, qmax),
        FusedActivation::Relu => (qmin.max(quantize(0.0)?), qmax),
        FusedActivation::Relu6 => (qmin.max(quantize(0.0)?), qmax.min(quantize(6.0)?)),
        FusedActivation::ReluN1To1 => (qmin.max(quantize(-1.0)?), qmax.min(quantize(1.0)?)),
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const D: Rounding = Rounding::Double;
    const S: Rounding = Rounding::Single;

    #[test]
    fn quantize_multiplier_edge_cases() {
        assert_eq!(Multiplier::from_real(0.0), Multiplier::default());
        assert_eq!(Multiplier::from_real(f64::NAN), Multiplier::default());
        // 0.5 = 2^30 · 2^(0 − 31)
        assert_eq!(
            Multiplier::from_real(0.5),
            Multiplier {
                multiplier: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(
            Multiplier::from_real(1.0),
            Multiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // q·2^31 rounds up to 2^31: folded into (2^30, shift + 1)
        let just_below_one = 1.0 - 1e-12;
        assert_eq!(
            Multiplier::from_real(just_below_one),
            Multiplier {
                multiplier: 1 << 30,
                shift: 1
            }
        );
        // 2^-32: shift −31 is kept, 2^-33 has shift −32 and is flushed to zero
        assert_eq!(
            Multiplier::from_real(libm::ldexp(1.0, -32)),
            Multiplier {
                multiplier: 1 << 30,
                shift: -31
            }
        );
        assert_eq!(
            Multiplier::from_real(libm::ldexp(1.0, -33)),
            Multiplier::default()
        );
        // 0.3 = 0.6 · 2^-1: round(0.6 · 2^31) = 1288490189
        assert_eq!(
            Multiplier::from_real(0.3),
            Multiplier {
                multiplier: 1288490189,
                shift: -1
            }
        );
        // single-rounding builds saturate large shifts
        let big = libm::ldexp(1.0, 40);
        assert_eq!(Multiplier::from_real(big).shift, 41);
        assert_eq!(
            Multiplier::from_real_with(big, S),
            Multiplier {
                multiplier: i32::MAX,
                shift: 30
            }
        );
        assert_eq!(Multiplier::smaller_than_one(1.0, D), None);
        assert_eq!(Multiplier::smaller_than_one(0.0, D), None);
        assert_eq!(
            Multiplier::smaller_than_one(0.25, D),
            Some(Multiplier {
                multiplier: 1 << 30,
                shift: -1
            })
        );
        assert_eq!(Multiplier::greater_than_one(1.0, D), None);
        assert_eq!(
            Multiplier::greater_than_one(3.0, D),
            Some(Multiplier {
                multiplier: 3 << 29,
                shift: 2
            })
        );
    }

    #[test]
    fn gemmlowp_primitives() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        // 3 · 2^30 / 2^31 = 1.5 → 2; ties go towards +∞: −1.5 → −1, −2.5 → −2
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(5, 1 << 30), 3);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 29), -1); // −1.25
        assert_eq!(saturating_rounding_doubling_high_mul(-7, 1 << 29), -2); // −1.75
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // −1.5 → −2
        assert_eq!(rounding_divide_by_pot(-5, 2), -1); // −1.25 → −1
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn rounding_ties_both_ways() {
        // shift 0: only the high-mul rounds, ties towards +∞ in both builds
        let half = Multiplier::from_real(0.5);
        for (x, r) in [(3, 2), (-3, -1), (1, 1), (-1, 0), (-5, -2)] {
            assert_eq!(multiply_by_quantized_multiplier(x, half, D), r, "{x}");
            assert_eq!(multiply_by_quantized_multiplier(x, half, S), r, "{x}");
        }
        // a right shift: Double's last step rounds ties away from zero, Single towards +∞
        let quarter = Multiplier::from_real(0.25);
        assert_eq!(
            quarter,
            Multiplier {
                multiplier: 1 << 30,
                shift: -1
            }
        );
        for (x, d, s) in [(2, 1, 1), (-2, -1, 0), (6, 2, 2), (-6, -2, -1), (-1, 0, 0)] {
            assert_eq!(multiply_by_quantized_multiplier(x, quarter, D), d, "{x}");
            assert_eq!(multiply_by_quantized_multiplier(x, quarter, S), s, "{x}");
        }
        // Double rounding: two roundings can compound. real = 0.75 · 2^-2 = 3/16:
        // 10 · 3/16 = 1.875 → 2 either way; 24 · 3/16 = 4.5: Double 5 (away), Single 5.
        let m = Multiplier::from_real(3.0 / 16.0);
        assert_eq!(
            m,
            Multiplier {
                multiplier: 3 << 29,
                shift: -2
            }
        );
        assert_eq!(multiply_by_quantized_multiplier(24, m, D), 5);
        assert_eq!(multiply_by_quantized_multiplier(24, m, S), 5);
        // 11 · 3/16 = 2.0625: SRDHM gives round(8.25) = 8, /4 = 2; Single gives 2.
        assert_eq!(multiply_by_quantized_multiplier(11, m, D), 2);
        // where they differ: x = 13, real = 0.75 · 2^-2 → 2.4375; SRDHM(13, 0.75) =
        // round(9.75) = 10, 10/4 = 2.5 → 3 (Double) but exact 2.4375 → 2 (Single).
        assert_eq!(multiply_by_quantized_multiplier(13, m, D), 3);
        assert_eq!(multiply_by_quantized_multiplier(13, m, S), 2);
    }

    #[test]
    fn negative_and_positive_shifts() {
        let m = Multiplier::from_real(3.0); // (3·2^29, 2)
        assert_eq!(multiply_by_quantized_multiplier(7, m, D), 21);
        assert_eq!(multiply_by_quantized_multiplier(7, m, S), 21);
        assert_eq!(multiply_by_quantized_multiplier(-7, m, D), -21);
        let m = Multiplier::from_real(0.001);
        assert_eq!(multiply_by_quantized_multiplier(1_000_000, m, D), 1000);
        assert_eq!(multiply_by_quantized_multiplier(-1_000_000, m, S), -1000);
        // garbage shifts never panic
        for shift in [i32::MIN, -100, -32, 31, 32, 100, i32::MAX] {
            let m = Multiplier {
                multiplier: i32::MAX,
                shift,
            };
            let _ = multiply_by_quantized_multiplier(i32::MIN, m, D);
            let _ = multiply_by_quantized_multiplier(i32::MAX, m, S);
        }
    }

    fn f64_reference(acc: i32, scale: f64) -> i32 {
        let v = (acc as f64 * scale).round();
        v.clamp(i32::MIN as f64, i32::MAX as f64) as i32
    }

    #[test]
    fn f64_requant_matches_the_float_expression() {
        let w = |s: f64| Requant::Float64.words(s);
        assert_eq!(requantize_f64(-3, w(0.5)), -2); // std::round: away from zero
        assert_eq!(requantize_f64(3, w(0.5)), 2);
        assert_eq!(requantize_f64(-1, w(0.5)), -1);
        assert_eq!(requantize_f64(0, w(0.5)), 0);
        assert_eq!(requantize_f64(5, w(f64::NAN)), 0);
        assert_eq!(requantize_f64(i32::MAX, w(1e10)), i32::MAX);
        assert_eq!(requantize_f64(i32::MIN, w(1e10)), i32::MIN);
        assert_eq!(requantize_f64(i32::MIN, w(-1e10)), i32::MAX);
        assert_eq!(requantize_f64(7, w(5e-324)), 0);
        // pseudo-random scales and accumulators, incl. ties created by the f64 rounding
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200_000 {
            let r = next();
            let scale = f32::from_bits(0x3000_0000 + (r as u32 % 0x0F00_0000)) as f64
                * f32::from_bits(0x3F00_0000 + ((r >> 32) as u32 % 0x0100_0000)) as f64
                / 0.37;
            let acc = (next() as i32) >> (next() % 31);
            assert_eq!(
                requantize_f64(acc, w(scale)),
                f64_reference(acc, scale),
                "{acc} {scale:e}"
            );
        }
        // exact halves at several magnitudes
        for k in 1..30 {
            let scale = libm::ldexp(1.0, -k);
            for acc in [
                1i32 << (k - 1),
                -(1 << (k - 1)),
                3 << (k - 1),
                -(3 << (k - 1)),
            ] {
                assert_eq!(requantize_f64(acc, w(scale)), f64_reference(acc, scale));
            }
        }
    }

    #[test]
    fn activation_ranges() {
        let r = |a, s, z| activation_range(a, s, z).unwrap();
        assert_eq!(r(FusedActivation::None, 0.1, 3), (-128, 127));
        assert_eq!(r(FusedActivation::Relu, 0.1, 3), (3, 127));
        assert_eq!(r(FusedActivation::Relu6, 0.1, -128), (-128, -68));
        assert_eq!(r(FusedActivation::Relu6, 0.01, -128), (-128, 127));
        assert_eq!(r(FusedActivation::ReluN1To1, 0.5, 0), (-2, 2));
        // 6 / 0.048 = 125 → zp −128 + 125
        assert_eq!(r(FusedActivation::Relu6, 0.048, -128).1, -3);
        // roundf ties away from zero: 6 / 4 = 1.5 → 2
        assert_eq!(r(FusedActivation::Relu6, 4.0, 0), (0, 2));
        assert_eq!(activation_range(FusedActivation::Relu, 0.0, 0), None);
        assert_eq!(
            activation_range(FusedActivation::None, 0.0, 0),
            Some((-128, 127))
        );
    }

    #[test]
    fn output_stage_per_tensor_and_per_channel() {
        let per_tensor = Requant::Multiplier(D).words(0.5);
        let stage = OutputStage {
            multipliers: &per_tensor,
            output_offset: -10,
            act_min: -128,
            act_max: 127,
            requant: Requant::Multiplier(D),
        };
        assert!(stage.fits(5) && stage.fits(0));
        assert_eq!(stage.requantize(7, 3), -6); // 3.5 → 4
        assert_eq!(stage.requantize(-7, 3), -13); // −3.5 → −3
        assert_eq!(stage.requantize(1000, 0), 127);
        assert_eq!(stage.requantize(-1000, 0), -128);
        let mut words = [0i32; 4];
        words[..2].copy_from_slice(&Requant::Float64.words(0.5));
        words[2..].copy_from_slice(&Requant::Float64.words(0.25));
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -3,
            act_max: 100,
            requant: Requant::Float64,
        };
        assert!(stage.fits(2) && !stage.fits(3));
        assert_eq!(stage.requantize(-3, 0), -2);
        assert_eq!(stage.requantize(-3, 1), -1);
        assert_eq!(stage.requantize(-30, 1), -3);
        assert_eq!(stage.requantize(1000, 0), 100);
        assert_eq!(stage.requantize(1000, 7), 0); // broken contract: no panic
        for w in 0..3 {
            assert_eq!(Requant::from_word(w).map(Requant::to_word), Some(w));
        }
        assert_eq!(Requant::from_word(3), None);
    }
}
