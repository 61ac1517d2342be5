//! Int8 MAX_POOL_2D, fast: the contract and bits of
//! [`int8::max_pool2d_cells`](fn@crate::kernels::int8::pool2d::max_pool2d_cells). With
//! the DSP extension, four channels to a word: `ssub8` and `sel` take four maxima in two
//! instructions. Elsewhere, and for channel counts that are not a multiple of four, the
//! reference kernel.

use super::dsp::{self, Isa};
use crate::kernels::int8::pool2d::{self, clamp_i8, Cells};
use crate::kernels::Pool2dGeometry;

/// [`int8::max_pool2d_cells`](fn@crate::kernels::int8::pool2d::max_pool2d_cells),
/// faster: the same contract (debug builds assert it, release builds return without
/// writing) and the same output bytes.
pub fn max_pool2d_cells(g: &Pool2dGeometry, cells: Cells<'_, i8>, act_min: i32, act_max: i32) {
    #[cfg(kiln_dsp)]
    if g.channels % 4 == 0 {
        words::<dsp::Arm>(g, cells, act_min, act_max);
        return;
    }
    pool2d::max_pool2d_cells(g, cells, act_min, act_max);
}

/// Four channels per word: for each output pixel, the maximum of its window's words from
/// `0x80808080` (−128 in each byte), then the clamp; up to [`WORDS`] words at a time, or
/// whole rows for 2×2 windows. A pixel's words are written after its window is read, so a
/// shared buffer works as in the reference.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn words<I: Isa>(
    g: &Pool2dGeometry,
    mut cells: Cells<'_, i8>,
    act_min: i32,
    act_max: i32,
) {
    let ok = cells.fit(g) && g.channels % 4 == 0;
    debug_assert!(
        ok,
        "int8 max_pool2d: slice lengths break the contract for {g:?}"
    );
    if !ok {
        return;
    }
    let byte4 = |v: i32| u32::from(clamp_i8(v) as u8) * 0x0101_0101;
    let (lo, hi) = (byte4(act_min), byte4(act_max));
    let clamps = act_min > -128 || act_max < 127;
    let (c, row) = (g.channels, g.in_w * g.channels);
    let mut acc = [0u32; WORDS];
    let mut at = 0;
    // 2×2, stride 2 pools take whole rows (output row `oy` ends before input row `2·oy`
    // starts), but for row 0 over a shared buffer: that one goes the general way, first.
    let fast_from = match (halves(g) && !clamps, &cells) {
        (true, Cells::Shared(_)) => 1,
        (true, Cells::Split { .. }) => 0,
        (false, _) => g.out_h,
    };
    for oy in 0..fast_from {
        let (ky_lo, ky_hi) = g.window_rows(oy);
        let iy = oy * g.stride_h + ky_lo - g.pad_top;
        for ox in 0..g.out_w {
            let (kx_lo, kx_hi) = g.window_cols(ox);
            let ix = ox * g.stride_w + kx_lo - g.pad_left;
            let first = (iy * g.in_w + ix) * c;
            for k in (0..c).step_by(4 * WORDS) {
                let n = (c - k).min(4 * WORDS);
                let acc = &mut acc[..n / 4];
                let input = cells.input();
                acc.fill(0x8080_8080);
                for ky in 0..ky_hi - ky_lo {
                    for kx in 0..kx_hi - kx_lo {
                        let at = first + ky * row + kx * c + k;
                        if let Some(cell) = input.get(at..at + n) {
                            for (m, x) in acc.iter_mut().zip(cell.chunks_exact(4)) {
                                *m = I::max8(*m, word(x));
                            }
                        }
                    }
                }
                if clamps {
                    for m in acc.iter_mut() {
                        *m = I::min8(I::max8(*m, lo), hi);
                    }
                }
                if let Some(out) = cells.output().get_mut(at..at + n) {
                    for (o, m) in out.chunks_exact_mut(4).zip(acc.iter()) {
                        o.copy_from_slice(&m.to_le_bytes().map(|b| b as i8));
                    }
                }
                at += n;
            }
        }
    }
    for oy in fast_from..g.out_h {
        // The output, and the input from row `2·oy` on.
        let (out, input) = match &mut cells {
            Cells::Split { input, output } => (&mut output[..], input.get(2 * oy * row..)),
            Cells::Shared(data) => {
                let (low, high) = data.split_at_mut((2 * oy * row).min(data.len()));
                (low, Some(&high[..]))
            }
        };
        let out_row = g.out_w * c;
        let (Some(out), Some(top), Some(bottom)) = (
            out.get_mut(oy * out_row..(oy + 1) * out_row),
            input.and_then(|r| r.get(..row)),
            input.and_then(|r| r.get(row..2 * row)),
        ) else {
            return;
        };
        halve_row::<I>(top, bottom, c, out);
    }
}

/// The 2×2, stride 2 pool with every window inside the input (no padding before it): each
/// output row from two whole input rows.
fn halves(g: &Pool2dGeometry) -> bool {
    (
        g.pool_h, g.pool_w, g.stride_h, g.stride_w, g.pad_top, g.pad_left,
    ) == (2, 2, 2, 2, 0, 0)
        && 2 * g.out_h <= g.in_h
        && 2 * g.out_w <= g.in_w
}

/// One output row of a [`halves`] pool: each output pixel the maximum of two pixels of
/// `top` and the two below them in `bottom`, four channels to a word.
#[inline(always)]
fn halve_row<I: Isa>(top: &[i8], bottom: &[i8], c: usize, out: &mut [i8]) {
    let pairs = top.chunks_exact(2 * c).zip(bottom.chunks_exact(2 * c));
    for ((t, b), o) in pairs.zip(out.chunks_exact_mut(c)) {
        let (t0, t1) = t.split_at(c);
        let (b0, b1) = b.split_at(c);
        let words = t0.chunks_exact(4).zip(t1.chunks_exact(4));
        let words = words.zip(b0.chunks_exact(4).zip(b1.chunks_exact(4)));
        for (((t0, t1), (b0, b1)), o) in words.zip(o.chunks_exact_mut(4)) {
            let m = I::max8(I::max8(word(t0), word(t1)), I::max8(word(b0), word(b1)));
            o.copy_from_slice(&m.to_le_bytes().map(|b| b as i8));
        }
    }
}

/// Words of channels a pixel's maxima are kept in (64 channels).
const WORDS: usize = 16;

/// Four channels (from a `chunks_exact(4)`) as one little-endian word.
#[inline(always)]
fn word(x: &[i8]) -> u32 {
    dsp::word(bytemuck::cast_slice(x))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::dsp::Emulated;
    use super::*;
    use crate::kernels::Padding;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn four_channels_a_word_give_the_reference_bytes(
            h in 1usize..9, w in 1usize..9, quads in 1usize..6,
            ph in 1usize..4, pw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            same in any::<bool>(), seed in any::<u32>(),
            act_min in -130i32..0, act_max in 0i32..130,
        ) {
            let c = 4 * quads;
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Pool2dGeometry::new((h, w, c), (ph, pw), (sh, sw), padding) else {
                return Ok(());
            };
            let mut state = seed;
            let input: Vec<i8> = (0..h * w * c)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8 as i8
                })
                .collect();
            let n = g.output_len().unwrap();
            for (lo, hi) in [(-128, 127), (act_min, act_max)] {
                let mut want = std::vec![0i8; n];
                pool2d::max_pool2d(&g, &input, lo, hi, &mut want);
                let mut got = std::vec![0x55i8; n];
                words::<Emulated>(&g, Cells::Split { input: &input, output: &mut got }, lo, hi);
                prop_assert_eq!(&got, &want);
                if g.reads_ahead() {
                    let mut shared = input.clone();
                    words::<Emulated>(&g, Cells::Shared(&mut shared), lo, hi);
                    prop_assert_eq!(&shared[..n], &want[..]);
                }
            }
        }
    }

    #[test]
    fn two_by_two_pools_row_by_row_give_the_reference_bytes() {
        for (h, w, quads, same) in [
            (2, 2, 1, false),
            (30, 30, 4, false),
            (7, 9, 3, false),
            (5, 4, 2, true),
            (9, 7, 17, true),
        ] {
            let c = 4 * quads;
            let padding = if same { Padding::Same } else { Padding::Valid };
            let g = Pool2dGeometry::new((h, w, c), (2, 2), (2, 2), padding).unwrap();
            // Odd sizes with 'same' pad after the input: those windows are partly outside.
            assert_eq!(halves(&g), !same || (h % 2 == 0 && w % 2 == 0), "{g:?}");
            let input: Vec<i8> = (0..h * w * c).map(|i| (i * 97 % 256) as u8 as i8).collect();
            let n = g.output_len().unwrap();
            let mut want = std::vec![0i8; n];
            pool2d::max_pool2d(&g, &input, -128, 127, &mut want);
            let mut got = std::vec![0x55i8; n];
            words::<Emulated>(
                &g,
                Cells::Split {
                    input: &input,
                    output: &mut got,
                },
                -128,
                127,
            );
            assert!(got == want, "split {g:?}");
            let mut shared = input.clone();
            words::<Emulated>(&g, Cells::Shared(&mut shared), -128, 127);
            assert!(shared[..n] == want[..], "shared {g:?}");
        }
    }

    #[test]
    fn the_byte_instructions_compare_signed() {
        // 0x7f (127) beats 0x80 (−128); −1 (0xff) beats −2 (0xfe).
        assert_eq!(Emulated::max8(0x7f80_fffe, 0x807f_feff), 0x7f7f_ffff);
        assert_eq!(Emulated::min8(0x7f80_fffe, 0x807f_feff), 0x8080_fefe);
    }
}
