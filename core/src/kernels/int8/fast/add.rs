//! Int8 ADD, fast: the contract and bits of [`int8::add`](fn@crate::kernels::int8::add).
//!
//! Each `MultiplyByQuantizedMultiplierSmallerThanOneExp` of the reference (double
//! rounding) is `smmulr(qadd(x, x), m)`, the rounded high word of `2x · m`, which is
//! gemmlowp's `SaturatingRoundingDoublingHighMul(x, m)` whenever `|x| < 2^30` (its nudged,
//! truncating division is this floor), then the divide by `2^e`, half away from zero, as
//! `(v + 2^(e−1) − (v < 0)) >> e`. With offsets in `−256..=256` an input plus its offset is
//! at most 384 in size, shifted left by 20 under `2^29`, the sum of two under `2^30`, so
//! every step is exact. With the DSP extension the three steps are
//! single instructions; elsewhere (and for single rounding or any other left shift) the
//! reference kernel runs, the least flash (the tests run this path on the instructions'
//! portable twins).

#[cfg_attr(not(kiln_dsp), allow(unused_imports))]
use super::dsp::Isa;
use crate::kernels::int8::add::AddParams;
use crate::kernels::int8::quant::{Multiplier, Rounding};

/// [`int8::add`](fn@crate::kernels::int8::add), faster: the same contract (debug builds
/// assert it, release builds return without writing) and the same output bytes.
pub fn add(a: &[i8], b: &[i8], params: &AddParams, output: &mut [i8]) {
    #[cfg(kiln_dsp)]
    if exact::<super::dsp::Arm>(a, b, params, output) {
        return;
    }
    crate::kernels::int8::add(a, b, params, output);
}

#[cfg_attr(not(kiln_dsp), allow(dead_code))]
/// A multiplier below one as `(m, e)`: `m` normalized (at least `2^30`), a right shift
/// `e ≤ 31`.
fn right_shift(m: Multiplier) -> Option<(i32, u32)> {
    let e = u32::try_from(m.shift.checked_neg()?).ok()?;
    (m.multiplier >= 1 << 30 && e <= 31).then_some((m.multiplier, e))
}

/// The element-wise sums through `I`'s instructions; `false` (nothing written) where the
/// parameters are not the ones the reasoning above covers.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn exact<I: Isa>(a: &[i8], b: &[i8], p: &AddParams, output: &mut [i8]) -> bool {
    let (Some((m1, e1)), Some((m2, e2)), Some((mo, eo))) = (
        right_shift(p.input1_multiplier),
        right_shift(p.input2_multiplier),
        right_shift(p.output_multiplier),
    ) else {
        return false;
    };
    let offsets_fit = |o: i32| (-256..=256).contains(&o);
    if p.rounding != Rounding::Double
        || p.left_shift != 20
        || !offsets_fit(p.input1_offset)
        || !offsets_fit(p.input2_offset)
        || !(-(1 << 16)..=1 << 16).contains(&p.output_offset)
        || a.len() != output.len()
        || b.len() != output.len()
    {
        return false;
    }
    for ((y, &x1), &x2) in output.iter_mut().zip(a).zip(b) {
        let x1 = (i32::from(x1) + p.input1_offset) << 20;
        let x2 = (i32::from(x2) + p.input2_offset) << 20;
        let s1 = scale::<I>(x1, m1, e1);
        let s2 = scale::<I>(x2, m2, e2);
        let out = scale::<I>(s1.wrapping_add(s2), mo, eo).wrapping_add(p.output_offset);
        *y = out.max(p.act_min).min(p.act_max).clamp(-128, 127) as i8;
    }
    true
}

/// `MultiplyByQuantizedMultiplierSmallerThanOneExp(x, m, −e)` for `|x| < 2^30`:
/// `smmulr(qadd(x, x), m)`, then `(v + 2^(e−1) − (v < 0)) >> e` (nothing for `e = 0`).
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
#[inline(always)]
fn scale<I: Isa>(x: i32, m: i32, e: u32) -> i32 {
    let v = I::smmulr(I::qadd(x, x), m);
    if e == 0 {
        v
    } else {
        I::qadd(v, 1 << (e - 1)).wrapping_add(v >> 31) >> e
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::dsp::Emulated;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn a_clamp_outside_int8_clamps_as_the_reference() {
        // A blob's words are not checked against int8: the reference clamps to them, then
        // to the int8 range.
        let mut words = AddParams::new(0.5, 1, 0.25, -2, 0.5, 3, -128, 127)
            .unwrap()
            .to_words();
        for (lo, hi) in [(-300, -200), (200, 300), (-300, 300)] {
            (words[10], words[11]) = (lo, hi);
            let p = AddParams::from_words(words).unwrap();
            let (a, b) = ([5i8, -128, 127, 0], [6i8, -128, 127, 0]);
            let mut want = [0i8; 4];
            crate::kernels::int8::add(&a, &b, &p, &mut want);
            let mut got = [0x55i8; 4];
            assert!(exact::<Emulated>(&a, &b, &p, &mut got));
            assert_eq!(got, want, "clamp {lo}..{hi}");
        }
    }

    proptest! {
        #[test]
        fn each_scaling_is_the_references(
            x in -(1i32 << 30) + 1..1 << 30, m in 1i32 << 30..i32::MAX, e in 0u32..32,
            low in 0i32..8,
        ) {
            use crate::kernels::int8::quant::{
                rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
            };
            // Also values whose low bits make the division a tie (or nearly).
            for x in [x, x & !7 | low] {
                let want = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, m), e as i32);
                prop_assert_eq!(scale::<Emulated>(x, m, e), want, "x {} m {} e {}", x, m, e);
            }
        }

        #[test]
        fn same_bytes_as_the_reference(
            s1 in 0.001f32..2.0, s2 in 0.001f32..2.0, so in 0.001f32..4.0,
            z1 in -128i32..128, z2 in -128i32..128, zo in -128i32..128,
            relu in any::<bool>(), seed in any::<u32>(), n in 1usize..200,
        ) {
            let (act_min, act_max) = if relu { (zo, 127) } else { (-128, 127) };
            let Some(p) = AddParams::new(s1, z1, s2, z2, so, zo, act_min, act_max) else {
                return Ok(());
            };
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8 as i8
            };
            let a: Vec<i8> = (0..n).map(|_| next()).collect();
            let b: Vec<i8> = (0..n).map(|_| next()).collect();
            let mut want = std::vec![0i8; n];
            crate::kernels::int8::add(&a, &b, &p, &mut want);
            let mut got = std::vec![0x55i8; n];
            prop_assert!(exact::<Emulated>(&a, &b, &p, &mut got), "{p:?}");
            prop_assert_eq!(got, want);
        }
    }
}
