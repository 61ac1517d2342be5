//! The few gemmlowp fixed-point functions SOFTMAX needs (gemmlowp
//! fixedpoint/fixedpoint.h), on raw `i32` values. `Qm` means `m` integer bits and
//! `31 − m` fractional bits. Plain additions wrap, as the C++ `int32` additions do in
//! practice (they cannot overflow on the ranges used).

use super::quant::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as mul};

/// `SaturatingRoundingMultiplyByPOT<e>` for `e > 0`: a left shift that saturates.
#[inline]
pub(crate) fn saturating_shl(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << e
    }
}

/// `RoundingHalfSum(a, b)`: `(a + b) / 2` rounded, ties away from zero.
#[inline]
fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// `exp_on_interval_between_negative_one_quarter_and_0_excl`: Q0.31 in and out.
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1895147668; // exp(−1/8)
    const ONE_THIRD: i32 = 715827883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = mul(x, x);
    let x3 = mul(x2, x);
    let x4 = mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    CONSTANT_TERM.wrapping_add(mul(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// `exp_on_negative_values` for a Q5.26 input (`a ≤ 0`), Q0.31 result.
pub(crate) fn exp_on_negative_values_q5(a: i32) -> i32 {
    const FRACTIONAL_BITS: u32 = 26;
    let one_quarter = 1i32 << (FRACTIONAL_BITS - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_shl(
        a_mod_quarter_minus_one_quarter,
        5,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // the barrel shifter: exp(−2^e) for e = −2 ..= 4 (all below the 5 integer bits)
    const MULTIPLIERS: [(i32, i32); 7] = [
        (-2, 1672461947),
        (-1, 1302514674),
        (0, 790015084),
        (1, 290630308),
        (2, 39332535),
        (3, 720401),
        (4, 242),
    ];
    for (exponent, multiplier) in MULTIPLIERS {
        let bit = 1i32 << (FRACTIONAL_BITS as i32 + exponent);
        if remainder & bit != 0 {
            result = mul(result, multiplier);
        }
    }
    // (the clamp below −32 only exists for more than 5 integer bits)
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// `one_over_one_plus_x_for_x_in_0_1`: Q0.31 in and out (Newton–Raphson in Q2.29).
pub(crate) fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const C48_OVER_17: i32 = 1515870810;
    const C_NEG_32_OVER_17: i32 = -1010580540;
    const ONE_Q2: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C48_OVER_17.wrapping_add(mul(half_denominator, C_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = mul(half_denominator, x);
        let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
        x = x.wrapping_add(saturating_shl(mul(x, one_minus), 2));
    }
    // ExactMulByPot<−1> (Q2 → Q1, same raw), then Rescale<0> (Q1 → Q0)
    saturating_shl(x, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(x: f64, int_bits: i32) -> i32 {
        libm::round(x * libm::ldexp(1.0, 31 - int_bits)) as i32
    }

    fn real(raw: i32) -> f64 {
        raw as f64 / 2147483648.0
    }

    #[test]
    fn exp_is_close_to_exp() {
        assert_eq!(exp_on_negative_values_q5(0), i32::MAX);
        for k in 1..3000 {
            let x = -(k as f64) / 100.0;
            let got = real(exp_on_negative_values_q5(q(x, 5)));
            assert!((got - libm::exp(x)).abs() < 1e-6, "{x}: {got}");
        }
    }

    #[test]
    fn reciprocal_is_close() {
        for k in 0..1000 {
            let x = k as f64 / 1000.0;
            let got = real(one_over_one_plus_x_for_x_in_0_1(q(x, 0)));
            assert!((got - 1.0 / (1.0 + x)).abs() < 1e-8, "{x}: {got}");
        }
    }

    #[test]
    fn saturating_shifts() {
        assert_eq!(saturating_shl(1 << 26, 5), i32::MAX);
        assert_eq!(saturating_shl((1 << 26) - 1, 5), ((1 << 26) - 1) << 5);
        assert_eq!(saturating_shl(-(1 << 26), 5), i32::MIN);
        assert_eq!(rounding_half_sum(3, 4), 4);
        assert_eq!(rounding_half_sum(-3, -4), -4);
        assert_eq!(rounding_half_sum(i32::MAX, i32::MAX), i32::MAX);
    }
}
