//! Int8 FULLY_CONNECTED, fast: the contract and bits of
//! [`int8::fully_connected`](fn@crate::kernels::int8::fully_connected).

use super::dsp::{self, Isa};
use super::{Requantizer, FC_WORDS, GROUP};
use crate::kernels::int8::quant::OutputStage;

/// [`int8::fully_connected`](fn@crate::kernels::int8::fully_connected), faster: the same
/// slice-length contract (debug builds assert it, release builds return without writing)
/// and the same output bytes.
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
    if !ok || filter.is_empty() {
        return;
    }
    let r = Requantizer::new(stage);
    #[cfg(kiln_dsp)]
    if dsp::offset_fits_lanes(input_offset) {
        packed::<dsp::Arm>(input, input_offset, filter, bias, depth, &r, output);
        return;
    }
    #[cfg(kiln_dsp)]
    {
        // offsets a lane cannot hold (no valid model's): the reference kernel
        let _ = r;
        crate::kernels::int8::fully_connected(
            input,
            input_offset,
            filter,
            bias,
            depth,
            stage,
            output,
        );
    }
    #[cfg(not(kiln_dsp))]
    plain(input, input_offset, filter, bias, depth, &r, output);
}

/// The reference kernel's contract.
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

/// Four rows per pass: each input is loaded and offset once for four products.
#[cfg_attr(kiln_dsp, allow(dead_code))]
fn plain(
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    depth: usize,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let units = filter.len() / depth;
    let bias_of = |u: usize| bias.and_then(|b| b.get(u)).copied().unwrap_or(0);
    for (x_row, y_row) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(units))
    {
        let mut quads = filter.chunks_exact(4 * depth);
        let mut u = 0;
        for (w4, y4) in (&mut quads).zip(y_row.chunks_exact_mut(4)) {
            let (w0, rest) = w4.split_at(depth);
            let (w1, rest) = rest.split_at(depth);
            let (w2, w3) = rest.split_at(depth);
            let mut acc = [bias_of(u), bias_of(u + 1), bias_of(u + 2), bias_of(u + 3)];
            dot4(x_row, offset, [w0, w1, w2, w3], &mut acc);
            for (k, (y, &a)) in y4.iter_mut().zip(&acc).enumerate() {
                *y = r.apply(r.channel(u + k), u + k, a);
            }
            u += 4;
        }
        for (w, y) in quads
            .remainder()
            .chunks_exact(depth)
            .zip(y_row.iter_mut().skip(u))
        {
            let acc = dot1(x_row, offset, w, bias_of(u));
            *y = r.apply(r.channel(u), u, acc);
            u += 1;
        }
    }
}

/// `acc[k] += Σ w[k][i] · (x[i] + offset)`, wrapping, for four rows at once.
#[inline(always)]
pub(crate) fn dot4(x: &[i8], offset: i32, w: [&[i8]; 4], acc: &mut [i32; 4]) {
    let [w0, w1, w2, w3] = w;
    let [mut a0, mut a1, mut a2, mut a3] = *acc;
    for ((((&x, &b0), &b1), &b2), &b3) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
        let x = i32::from(x).wrapping_add(offset);
        a0 = a0.wrapping_add(i32::from(b0).wrapping_mul(x));
        a1 = a1.wrapping_add(i32::from(b1).wrapping_mul(x));
        a2 = a2.wrapping_add(i32::from(b2).wrapping_mul(x));
        a3 = a3.wrapping_add(i32::from(b3).wrapping_mul(x));
    }
    *acc = [a0, a1, a2, a3];
}

/// `acc + Σ w[i] · (x[i] + offset)`, wrapping.
#[inline(always)]
pub(crate) fn dot1(x: &[i8], offset: i32, w: &[i8], acc: i32) -> i32 {
    x.iter().zip(w).fold(acc, |acc, (&x, &w)| {
        acc.wrapping_add(i32::from(w).wrapping_mul(i32::from(x).wrapping_add(offset)))
    })
}

/// The DSP path (any [`Isa`]; `offset_fits_lanes(offset)` holds): the input row packed in
/// pieces of equal size of up to `2 · FC_WORDS` inputs, two rows per pass over each piece,
/// the partial sums of up to [`GROUP`] rows kept between pieces.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn packed<I: Isa>(
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    depth: usize,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let units = filter.len() / depth;
    let filter: &[u8] = bytemuck::cast_slice(filter);
    let mut xs = [0u32; FC_WORDS];
    let mut part = [0i32; GROUP];
    // Pieces of equal size (in whole words), each at most the buffer's.
    let most = 4 * (FC_WORDS / 2);
    let piece = 4 * depth.div_ceil(depth.div_ceil(most)).div_ceil(4);
    let pair = dsp::offset_pair(offset);
    for (x_row, y_row) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(units))
    {
        let x_row: &[u8] = bytemuck::cast_slice(x_row);
        for (g, y_group) in y_row.chunks_mut(GROUP).enumerate() {
            let g0 = g * GROUP;
            let part = &mut part[..y_group.len()];
            for (k, p) in part.iter_mut().enumerate() {
                *p = bias.and_then(|b| b.get(g0 + k)).copied().unwrap_or(0);
            }
            let mut c0 = 0;
            while c0 < depth {
                let len = piece.min(depth - c0);
                let xs = &mut xs[..2 * len.div_ceil(4)];
                pack::<I>(&x_row[c0..c0 + len], pair, xs);
                for (k, p) in part.chunks_mut(2).enumerate() {
                    let ua = g0 + 2 * k;
                    let ub = ua + p.len() - 1;
                    let mut acc = [p[0], p[p.len() - 1]];
                    dot2::<I>(xs, filter, ua * depth + c0, ub * depth + c0, len, &mut acc);
                    p[0] = acc[0];
                    if let Some(b) = p.get_mut(1) {
                        *b = acc[1];
                    }
                }
                c0 += len;
            }
            for (k, (y, &acc)) in y_group.iter_mut().zip(part.iter()).enumerate() {
                let c = g0 + k;
                *y = r.apply(r.channel(c), c, acc);
            }
        }
    }
}

/// `x` (int8 bytes) packed into `xs` (`2 · ⌈len/4⌉` words): each word's even and odd lane
/// pairs with `offset` added; the lanes past the end of `x` are 0.
#[inline(always)]
pub(crate) fn pack<I: Isa>(x: &[u8], pair: u32, xs: &mut [u32]) {
    let mut src = x.chunks_exact(4);
    let mut dst = xs.chunks_exact_mut(2);
    for (s, d) in (&mut src).zip(&mut dst) {
        let w = dsp::word(s);
        d[0] = I::sxtab16(pair, w);
        d[1] = I::sxtab16_ror8(pair, w);
    }
    let rest = src.remainder();
    if let (Some(d), false) = (dst.next(), rest.is_empty()) {
        let mut b = [0u8; 4];
        b[..rest.len()].copy_from_slice(rest);
        let w = u32::from_le_bytes(b);
        let (mut even, mut odd) = (I::sxtab16(pair, w), I::sxtab16_ror8(pair, w));
        // inputs 0, 1, 2, 3 are even.lo, odd.lo, even.hi, odd.hi
        match rest.len() {
            1 => (even, odd) = (even & 0xffff, 0),
            2 => (even, odd) = (even & 0xffff, odd & 0xffff),
            _ => odd &= 0xffff,
        }
        d[0] = even;
        d[1] = odd;
    }
}

/// Rows starting at `filter[sa]` and `filter[sb]`, `len` weights each, against the packed
/// `xs`. Whole words are read past a row's end where the filter has them (the next row's
/// bytes, against zero lanes); the filter's last partial word is read byte by byte.
#[inline(always)]
fn dot2<I: Isa>(xs: &[u32], filter: &[u8], sa: usize, sb: usize, len: usize, acc: &mut [i32; 2]) {
    let words = xs.len() / 2;
    let room = |s: usize| filter.len().saturating_sub(s) / 4;
    let full = words.min(room(sa)).min(room(sb));
    let (Some(wa), Some(wb)) = (filter.get(sa..), filter.get(sb..)) else {
        return;
    };
    I::dot_rows2(&xs[..2 * full], wa, wb, acc);
    if let Some(x) = xs.get(2 * full..2 * full + 2) {
        let tail = |s: usize| {
            let from = s + 4 * full;
            let bytes = filter.get(from..(s + len).min(filter.len())).unwrap_or(&[]);
            let mut b = [0u8; 4];
            b[..bytes.len().min(4)].copy_from_slice(&bytes[..bytes.len().min(4)]);
            u32::from_le_bytes(b)
        };
        for (a, w) in acc.iter_mut().zip([tail(sa), tail(sb)]) {
            *a = I::smlad(I::sxtb16(w), x[0], *a);
            *a = I::smlad(I::sxtb16_ror8(w), x[1], *a);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::dsp::Emulated;
    use super::super::test_util::*;
    use super::*;
    use crate::kernels::int8;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Both paths against the reference on one random layer.
    fn check(rows: usize, depth: usize, units: usize, seed: u64) {
        let mut rng = Rng(seed | 1);
        let requant = REQUANTS[rng.below(3) as usize];
        let per_tensor = rng.below(2) == 0;
        let words = words(&mut rng, requant, units, per_tensor);
        let stage = stage(&mut rng, requant, &words);
        let input = rng.i8s(rows * depth);
        let filter = rng.i8s(units * depth);
        let bias: Vec<i32> = (0..units)
            .map(|_| rng.next() as i32 >> rng.below(32))
            .collect();
        let bias = (rng.below(4) != 0).then_some(bias.as_slice());
        let offset = input_offset(&mut rng);
        let mut want = vec![0i8; rows * units];
        int8::fully_connected(&input, offset, &filter, bias, depth, &stage, &mut want);
        let mut got = vec![0x55i8; rows * units];
        fully_connected(&input, offset, &filter, bias, depth, &stage, &mut got);
        assert_eq!(
            got, want,
            "plain: {rows}×{depth} → {units}, offset {offset}, {stage:?}"
        );
        if dsp::offset_fits_lanes(offset) {
            let mut got = vec![0x55i8; rows * units];
            let r = Requantizer::new(&stage);
            packed::<Emulated>(&input, offset, &filter, bias, depth, &r, &mut got);
            assert_eq!(
                got, want,
                "dsp: {rows}×{depth} → {units}, offset {offset}, {stage:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn same_bytes_as_the_reference(
            rows in 1usize..4, depth in 1usize..40, units in 1usize..12, seed in any::<u64>(),
        ) {
            check(rows, depth, units, seed);
        }

        #[test]
        fn long_rows_and_many_units(
            depth in 570usize..1300, units in 60usize..140, seed in any::<u64>(),
        ) {
            check(1, depth, units, seed);
        }
    }

    #[test]
    fn extreme_values_wrap_as_the_reference() {
        // −128 · (−128 + 32640) over 2000 inputs overflows int32 several times
        let depth = 2000;
        let input = vec![-128i8; depth];
        let filter = vec![-128i8; 3 * depth];
        let words = Requant::Multiplier(Rounding::Double).words(1e-9);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 3,
            act_min: -128,
            act_max: 127,
            requant: Requant::Multiplier(Rounding::Double),
        };
        for offset in [32640, -32640, 128, i32::MAX, i32::MIN] {
            let mut want = [0i8; 3];
            int8::fully_connected(
                &input,
                offset,
                &filter,
                Some(&[i32::MAX, 0, i32::MIN]),
                depth,
                &stage,
                &mut want,
            );
            let mut got = [0i8; 3];
            fully_connected(
                &input,
                offset,
                &filter,
                Some(&[i32::MAX, 0, i32::MIN]),
                depth,
                &stage,
                &mut got,
            );
            assert_eq!(got, want);
            if dsp::offset_fits_lanes(offset) {
                let r = Requantizer::new(&stage);
                packed::<Emulated>(
                    &input,
                    offset,
                    &filter,
                    Some(&[i32::MAX, 0, i32::MIN]),
                    depth,
                    &r,
                    &mut got,
                );
                assert_eq!(got, want);
            }
        }
    }

    use crate::kernels::int8::{Requant, Rounding};

    /// Release builds: a broken contract writes nothing.
    #[cfg(not(debug_assertions))]
    #[test]
    fn broken_contracts_do_not_write() {
        let words = Requant::Float64.words(1.0);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant: Requant::Float64,
        };
        let mut out = [7i8; 4];
        fully_connected(&[1, 2, 3], 0, &[1; 4], None, 2, &stage, &mut out);
        fully_connected(&[1, 2], 0, &[1; 4], None, 0, &stage, &mut out);
        fully_connected(&[1, 2], 0, &[1; 4], Some(&[1]), 2, &stage, &mut out[..2]);
        assert_eq!(out, [7; 4]);
    }
}
