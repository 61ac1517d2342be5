//! MaxPooling2D and AveragePooling2D with [`BLOCK`] channels in registers: for each output
//! pixel and block of channels, the window's values stream past while the running maxima
//! or sums stay put. The window's rows and columns inside the input are worked out once per
//! output row and column, not per cell.

use super::block::BLOCK;
use crate::kernels::float::max_nan;
use crate::kernels::{Cells, Pool2dGeometry};

/// The reference kernels' operations in their order, for one output pixel: `fold` starts
/// each channel at `init` and takes the window's cells row by row; `finish` gets the
/// folded channels and the number of cells. A pixel's channels are written after they are
/// read, block by block, so a shared buffer works as two.
#[inline(always)]
fn pool(
    g: &Pool2dGeometry,
    mut cells: Cells<'_, f32>,
    init: f32,
    fold: impl Fn(f32, f32) -> f32,
    finish: impl Fn(&mut [f32], usize),
) {
    let c = g.channels;
    if !cells.fit(g) || c == 0 {
        return;
    }
    let row_step = g.in_w * c;
    let mut at = 0;
    for oy in 0..g.out_h {
        let (ky_lo, ky_hi) = g.window_rows(oy);
        for ox in 0..g.out_w {
            let (kx_lo, kx_hi) = g.window_cols(ox);
            let cells_in = (ky_hi - ky_lo) * (kx_hi - kx_lo);
            // The window's first cell (its top-left inside the input).
            let iy = oy * g.stride_h + ky_lo - g.pad_top;
            let ix = ox * g.stride_w + kx_lo - g.pad_left;
            let first = (iy * g.in_w + ix) * c;
            let mut f = 0;
            while f + BLOCK <= c {
                let input = cells.input();
                let mut acc = [init; BLOCK];
                for ky in 0..ky_hi - ky_lo {
                    for kx in 0..kx_hi - kx_lo {
                        let i = first + ky * row_step + kx * c + f;
                        if let Some(x) = input.get(i..).and_then(|s| s.first_chunk::<BLOCK>()) {
                            for k in 0..BLOCK {
                                acc[k] = fold(acc[k], x[k]);
                            }
                        }
                    }
                }
                finish(&mut acc, cells_in);
                if let Some(out) = cells.output().get_mut(at + f..at + f + BLOCK) {
                    out.copy_from_slice(&acc);
                }
                f += BLOCK;
            }
            for j in f..c {
                let input = cells.input();
                let mut acc = init;
                for ky in 0..ky_hi - ky_lo {
                    for kx in 0..kx_hi - kx_lo {
                        if let Some(&x) = input.get(first + ky * row_step + kx * c + j) {
                            acc = fold(acc, x);
                        }
                    }
                }
                let mut one = [acc];
                finish(&mut one, cells_in);
                if let Some(out) = cells.output().get_mut(at + j) {
                    *out = one[0];
                }
            }
            at += c;
        }
    }
}

/// [`kernels::max_pool2d`](fn@crate::kernels::max_pool2d), its contract and bits: each
/// output is the NaN-propagating maximum over the window's cells inside the input,
/// starting from `-inf`.
pub fn max_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    max_pool2d_cells(g, Cells::Split { input, output });
}

/// [`max_pool2d`] from and to `cells` (which may be one buffer).
pub fn max_pool2d_cells(g: &Pool2dGeometry, cells: Cells<'_, f32>) {
    debug_assert!(
        cells.fit(g),
        "max_pool2d: slice lengths break the contract for {g:?}"
    );
    pool(g, cells, f32::NEG_INFINITY, max_nan, |_, _| {});
}

/// [`kernels::average_pool2d`](fn@crate::kernels::average_pool2d), its contract and bits:
/// the sum from `0.0` over the window's cells inside the input, then divided by their
/// count.
pub fn average_pool2d(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    average_pool2d_cells(g, Cells::Split { input, output });
}

/// [`average_pool2d`] from and to `cells` (which may be one buffer).
pub fn average_pool2d_cells(g: &Pool2dGeometry, cells: Cells<'_, f32>) {
    debug_assert!(
        cells.fit(g),
        "average_pool2d: slice lengths break the contract for {g:?}"
    );
    pool(
        g,
        cells,
        0.0,
        |a, x| a + x,
        |acc, n| {
            let n = n as f32;
            for a in acc.iter_mut() {
                *a /= n;
            }
        },
    );
}

/// The global pools: channel blocks over every position, `fold` from `init` in position
/// order (the reference's order, per channel).
#[inline(always)]
fn global(
    input: &[f32],
    spatial: usize,
    channels: usize,
    output: &mut [f32],
    init: f32,
    fold: impl Fn(f32, f32) -> f32,
    finish: impl Fn(&mut [f32]),
) {
    if spatial.checked_mul(channels) != Some(input.len()) || output.len() != channels {
        return;
    }
    let mut f = 0;
    while f + BLOCK <= channels {
        let mut acc = [init; BLOCK];
        for px in input.chunks_exact(channels) {
            if let Some(x) = px.get(f..).and_then(|s| s.first_chunk::<BLOCK>()) {
                for k in 0..BLOCK {
                    acc[k] = fold(acc[k], x[k]);
                }
            }
        }
        finish(&mut acc);
        output[f..f + BLOCK].copy_from_slice(&acc);
        f += BLOCK;
    }
    for (j, out) in output.iter_mut().enumerate().skip(f) {
        let mut acc = [init];
        for px in input.chunks_exact(channels) {
            if let Some(&x) = px.get(j) {
                acc[0] = fold(acc[0], x);
            }
        }
        finish(&mut acc);
        *out = acc[0];
    }
}

/// [`kernels::global_average_pool`](fn@crate::kernels::global_average_pool), its contract
/// and bits.
pub fn global_average_pool(input: &[f32], spatial: usize, channels: usize, output: &mut [f32]) {
    let n = spatial as f32;
    global(
        input,
        spatial,
        channels,
        output,
        0.0,
        |a, x| a + x,
        |acc| {
            for a in acc.iter_mut() {
                *a /= n;
            }
        },
    );
}

/// [`kernels::global_max_pool`](fn@crate::kernels::global_max_pool), its contract and bits.
pub fn global_max_pool(input: &[f32], spatial: usize, channels: usize, output: &mut [f32]) {
    global(
        input,
        spatial,
        channels,
        output,
        f32::NEG_INFINITY,
        max_nan,
        |_| {},
    );
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::padding::Padding;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn same_bits_as_the_reference(
            h in 1usize..10, w in 1usize..10, c in 1usize..20,
            ph in 1usize..4, pw in 1usize..4, sh in 1usize..4, sw in 1usize..4,
            same in any::<bool>(), seed in any::<u32>(), specials in any::<bool>(),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Pool2dGeometry::new((h, w, c), (ph, pw), (sh, sw), padding) else {
                return Ok(());
            };
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let mut input: Vec<f32> = (0..h * w * c).map(|_| next()).collect();
            if specials {
                // NaN, infinities and signed zeros take the same paths in both.
                for (i, v) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0].into_iter().enumerate() {
                    if let Some(x) = input.get_mut(i * 7) {
                        *x = v;
                    }
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let n = g.output_len().unwrap();
            let (mut want, mut got) = (std::vec![0.0f32; n], std::vec![f32::NAN; n]);
            crate::kernels::max_pool2d(&g, &input, &mut want);
            max_pool2d(&g, &input, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
            if g.reads_ahead() {
                let mut shared = input.clone();
                max_pool2d_cells(&g, Cells::Shared(&mut shared));
                prop_assert_eq!(bits(&shared[..n]), bits(&want));
            }
            crate::kernels::average_pool2d(&g, &input, &mut want);
            average_pool2d(&g, &input, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
            if g.reads_ahead() {
                let mut shared = input.clone();
                average_pool2d_cells(&g, Cells::Shared(&mut shared));
                prop_assert_eq!(bits(&shared[..n]), bits(&want));
            }
            let (mut want, mut got) = (std::vec![0.0f32; c], std::vec![f32::NAN; c]);
            crate::kernels::global_average_pool(&input, h * w, c, &mut want);
            global_average_pool(&input, h * w, c, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
            crate::kernels::global_max_pool(&input, h * w, c, &mut want);
            global_max_pool(&input, h * w, c, &mut got);
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
