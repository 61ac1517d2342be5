//! DepthwiseConv2D with [`BLOCK`] channels in registers: for each output pixel and block
//! of channels, the window's inputs and weights stream past while the sums stay put. The
//! kernel rows and columns inside the input are worked out once per output row and column.

use super::block::BLOCK;
use super::{finish, store};
use crate::graph::config::Activation;
use crate::kernels::Conv2dGeometry;

/// `activation(depthwise_conv2d(input) + bias)`, the contract and sums of
/// [`kernels::depthwise_conv2d`](fn@crate::kernels::depthwise_conv2d): each output starts at
/// its bias and adds `x * w` over the taps in order `ky`, `kx`, skipping padded cells; the
/// same bits.
pub fn depthwise_conv2d(
    g: &Conv2dGeometry,
    depth_multiplier: usize,
    input: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
    activation: Activation,
) {
    let dm = depth_multiplier;
    let ok = dm >= 1
        && g.in_c.checked_mul(dm) == Some(g.out_c)
        && g.input_len() == Some(input.len())
        && g.depthwise_kernel_len() == Some(kernel.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "depthwise_conv2d: slice lengths break the contract for {g:?}, dm {dm}"
    );
    let (in_c, out_c) = (g.in_c, g.out_c);
    if !ok || out_c == 0 {
        return;
    }
    // Hosts, one filter per channel: each output pixel is one vector that every tap adds
    // its input pixel times its weights to, in tap order (LLVM vectorizes across the
    // channels). Each output still adds its taps in order: the same bits.
    #[cfg(not(target_arch = "arm"))]
    if dm == 1 {
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
                for ky in ky_lo..ky_hi {
                    for kx in kx_lo..kx_hi {
                        let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                        let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                        let (at, w_at) =
                            ((iy * g.in_w + ix) * in_c, (ky * g.kernel_w + kx) * out_c);
                        if let (Some(xs), Some(ws)) =
                            (input.get(at..at + in_c), kernel.get(w_at..w_at + out_c))
                        {
                            for ((sum, &x), &w) in pixel.iter_mut().zip(xs).zip(ws) {
                                *sum += x * w;
                            }
                        }
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
        let (ky_lo, ky_hi) = g.kernel_rows(oy);
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            let (kx_lo, kx_hi) = g.kernel_cols(ox);
            // Input offset and kernel offset of tap (ky, kx), for channel 0.
            let tap = |ky: usize, kx: usize| {
                let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
                let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                ((iy * g.in_w + ix) * in_c, (ky * g.kernel_w + kx) * out_c)
            };
            let mut f = 0;
            // Blocks of output channels; with one filter per channel (dm 1, the usual
            // case) output channel o reads input channel o. The window's first tap, and
            // the steps to the next column and the next row, in the input and the kernel.
            let (x0, w0) = tap(ky_lo, kx_lo);
            let (x_col, x_row) = (g.dilation_w * in_c, g.dilation_h * g.in_w * in_c);
            let (w_col, w_row) = (out_c, g.kernel_w * out_c);
            while dm == 1 && f + BLOCK <= out_c {
                let mut sums = bias
                    .and_then(|b| b.get(f..)?.first_chunk::<BLOCK>())
                    .copied()
                    .unwrap_or([0.0; BLOCK]);
                let (mut x_at, mut w_at) = (x0 + f, w0 + f);
                for _ in ky_lo..ky_hi {
                    let (mut xi, mut wi) = (x_at, w_at);
                    for _ in kx_lo..kx_hi {
                        let x = input.get(xi..).and_then(|s| s.first_chunk::<BLOCK>());
                        let w = kernel.get(wi..).and_then(|s| s.first_chunk::<BLOCK>());
                        if let (Some(x), Some(w)) = (x, w) {
                            for k in 0..BLOCK {
                                sums[k] += x[k] * w[k];
                            }
                        }
                        xi += x_col;
                        wi += w_col;
                    }
                    x_at += x_row;
                    w_at += w_row;
                }
                store(&mut pixel[f..f + BLOCK], &sums, activation);
                f += BLOCK;
            }
            for (o, out) in pixel.iter_mut().enumerate().skip(f) {
                let mut sum = bias.and_then(|b| b.get(o)).copied().unwrap_or(0.0);
                for ky in ky_lo..ky_hi {
                    for kx in kx_lo..kx_hi {
                        let (px, w_at) = tap(ky, kx);
                        if let (Some(&x), Some(&w)) = (input.get(px + o / dm), kernel.get(w_at + o))
                        {
                            sum += x * w;
                        }
                    }
                }
                store(core::slice::from_mut(out), &[sum], activation);
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
            h in 1usize..9, w in 1usize..9, in_c in 1usize..20, dm in 1usize..4,
            k in 1usize..4, s in 1usize..3, d in 1usize..3, same in any::<bool>(),
            with_bias in any::<bool>(), act in 0usize..3, seed in any::<u32>(),
        ) {
            let (s, d) = if s > 1 { (s, 1) } else { (1, d) };
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Conv2dGeometry::new((h, w, in_c), in_c * dm, (k, k), (s, s), (d, d), padding) else {
                return Ok(());
            };
            let activation = [Activation::Linear, Activation::Relu6, Activation::Tanh][act];
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let input: Vec<f32> = (0..h * w * in_c).map(|_| next()).collect();
            let kernel: Vec<f32> = (0..g.depthwise_kernel_len().unwrap()).map(|_| next()).collect();
            let bias: Vec<f32> = (0..in_c * dm).map(|_| next()).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let mut want = std::vec![0.0f32; g.output_len().unwrap()];
            crate::kernels::depthwise_conv2d(&g, dm, &input, &kernel, bias, &mut want);
            activation.apply(&mut want, in_c * dm);
            let mut got = std::vec![f32::NAN; want.len()];
            depthwise_conv2d(&g, dm, &input, &kernel, bias, &mut got, activation);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
