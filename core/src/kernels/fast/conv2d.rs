//! Conv2D with [`BLOCK`] filters in registers: for each output pixel and block of
//! filters, the taps' weights for those filters are read once while the sums stay put.

use super::block::{block8, Rows, BLOCK};
use super::{finish, store};
use crate::graph::config::Activation;
use crate::kernels::Conv2dGeometry;

/// `activation(conv2d(input) + bias)`, the contract and sums of
/// [`kernels::conv2d`](fn@crate::kernels::conv2d): each output starts at its bias and adds
/// `x * w` over the taps in order `ky`, `kx`, `ci`, skipping padded cells; the same bits.
pub fn conv2d(
    g: &Conv2dGeometry,
    input: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
    activation: Activation,
) {
    let ok = g.input_len() == Some(input.len())
        && g.kernel_len() == Some(kernel.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && g.windows_fit();
    debug_assert!(ok, "conv2d: slice lengths break the contract for {g:?}");
    let (in_c, out_c) = (g.in_c, g.out_c);
    if !ok || out_c == 0 {
        return;
    }
    let tap_len = in_c * out_c;
    // Hosts: each output pixel is one vector the window's taps add their weight rows to
    // (see `axpy_rows`); a kernel row's taps are consecutive in the input and the kernel.
    #[cfg(not(target_arch = "arm"))]
    if g.dilation_w == 1 {
        let mut pixels = output.chunks_exact_mut(out_c);
        for oy in 0..g.out_h {
            let (ky_lo, ky_hi) = g.kernel_rows(oy);
            for ox in 0..g.out_w {
                let Some(pixel) = pixels.next() else { return };
                let (kx_lo, kx_hi) = g.kernel_cols(ox);
                match bias {
                    Some(b) => pixel.copy_from_slice(b),
                    None => pixel.fill(0.0),
                }
                let run = (kx_hi - kx_lo) * in_c;
                for ky in ky_lo..ky_hi {
                    let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                    let ix = ox * g.stride_w + kx_lo - g.pad_left;
                    let at = (iy * g.in_w + ix) * in_c;
                    let tap = (ky * g.kernel_w + kx_lo) * tap_len;
                    if let (Some(xs), Some(ws)) =
                        (input.get(at..at + run), kernel.get(tap..tap + run * out_c))
                    {
                        super::axpy_rows(pixel, xs, ws);
                    }
                }
                super::store_in_place(pixel, activation);
            }
        }
        finish(output, activation, out_c);
        return;
    }
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        // The kernel rows that land inside the input for this output row.
        let (ky_lo, ky_hi) = g.kernel_rows(oy);
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            let (kx_lo, kx_hi) = g.kernel_cols(ox);
            let mut f = 0;
            while f < out_c {
                let width = BLOCK.min(out_c - f);
                let mut sums = [0.0f32; BLOCK];
                if let Some(b) = bias.and_then(|b| b.get(f..)?.first_chunk::<BLOCK>()) {
                    sums = *b;
                } else if let Some(b) = bias.and_then(|b| b.get(f..f + width)) {
                    sums[..width].copy_from_slice(b);
                }
                if ky_lo == ky_hi || kx_lo == kx_hi {
                    // Every tap falls in the padding: the output is the bias.
                } else if width == BLOCK && g.dilation_w == 1 {
                    // The window: one run per kernel row, over consecutive input pixels,
                    // whose weights follow one another at a stride of out_c.
                    let iy = oy * g.stride_h + ky_lo * g.dilation_h - g.pad_top;
                    let ix = ox * g.stride_w + kx_lo - g.pad_left;
                    let rows = Rows {
                        runs: ky_hi - ky_lo,
                        run_len: (kx_hi - kx_lo) * in_c,
                        x_run: g.dilation_h * g.in_w * in_c,
                        w_run: g.kernel_w * in_c,
                        stride: out_c,
                    };
                    let x = input.get((iy * g.in_w + ix) * in_c..).unwrap_or(&[]);
                    let w = kernel
                        .get((ky_lo * g.kernel_w + kx_lo) * tap_len + f..)
                        .unwrap_or(&[]);
                    block8(&mut sums, x, w, rows);
                } else {
                    for ky in ky_lo..ky_hi {
                        let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                        for kx in kx_lo..kx_hi {
                            let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                            let px = (iy * g.in_w + ix) * in_c;
                            let tap = (ky * g.kernel_w + kx) * tap_len;
                            let (Some(xs), Some(taps)) =
                                (input.get(px..px + in_c), kernel.get(tap + f..tap + tap_len))
                            else {
                                continue;
                            };
                            if width == BLOCK {
                                block8(&mut sums, xs, taps, Rows::one(in_c, out_c));
                            } else {
                                for (&x, row) in xs.iter().zip(taps.chunks(out_c)) {
                                    for (s, &w) in sums.iter_mut().zip(&row[..width.min(row.len())])
                                    {
                                        *s += x * w;
                                    }
                                }
                            }
                        }
                    }
                }
                store(&mut pixel[f..f + width], &sums[..width], activation);
                f += width;
            }
        }
    }
    finish(output, activation, out_c);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::graph::config::Padding;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn same_bits_as_the_reference(
            h in 1usize..9, w in 1usize..9, in_c in 1usize..5, out_c in 1usize..20,
            k in 1usize..4, s in 1usize..3, d in 1usize..3, same in any::<bool>(),
            with_bias in any::<bool>(), act in 0usize..3, seed in any::<u32>(),
        ) {
            let (s, d) = if s > 1 { (s, 1) } else { (1, d) };
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Conv2dGeometry::new((h, w, in_c), out_c, (k, k), (s, s), (d, d), padding) else {
                return Ok(());
            };
            let activation = [Activation::Linear, Activation::Relu, Activation::Sigmoid][act];
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let input: Vec<f32> = (0..h * w * in_c).map(|_| next()).collect();
            let kernel: Vec<f32> = (0..g.kernel_len().unwrap()).map(|_| next()).collect();
            let bias: Vec<f32> = (0..out_c).map(|_| next()).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let mut want = std::vec![0.0f32; g.output_len().unwrap()];
            crate::kernels::conv2d(&g, &input, &kernel, bias, &mut want);
            activation.apply(&mut want, out_c);
            let mut got = std::vec![f32::NAN; want.len()];
            conv2d(&g, &input, &kernel, bias, &mut got, activation);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
