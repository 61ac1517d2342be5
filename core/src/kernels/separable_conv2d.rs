//! `keras.layers.SeparableConv2D` (float32 reference): a depthwise convolution (no bias)
//! whose output goes straight into a 1×1 convolution, pixel by pixel, so the depthwise
//! tensor is never stored whole.

use super::conv2d::Conv2dGeometry;

/// Depthwise values computed at a time for one pixel (on the stack).
const CHUNK: usize = 16;

/// `output[oy, ox, f] = bias[f] + Σ_j dw[j] * pointwise[j, f]`, with `dw` the depthwise
/// convolution of `g` (`g.out_c == in_c * depth_multiplier` intermediate channels,
/// channel `c * dm + m` from input channel `c`) at that pixel.
///
/// # Slice-length contract
/// `depth_multiplier >= 1`, `g.out_c == g.in_c * depth_multiplier`,
/// `input.len() == in_h * in_w * in_c`, `depthwise.len() == kh * kw * in_c * dm`
/// (Keras `(kh, kw, cin, dm)`), `pointwise.len() == in_c * dm * filters` (Keras
/// `(1, 1, cin * dm, filters)`), `bias` (if any) has `filters` values,
/// `output.len() == out_h * out_w * filters`. Debug builds assert it; release builds
/// return without writing.
///
/// # Arithmetic
/// As Keras's two steps, each as kiln's reference kernels do it: each depthwise value
/// starts at `0.0` and adds `x * w` over the taps in order `ky`, `kx`, skipping padded
/// cells; each output starts at its bias (or `0.0`) and adds `dw[j] * w` for `j = 0, 1, …`.
#[allow(clippy::too_many_arguments)]
pub fn separable_conv2d(
    g: &Conv2dGeometry,
    depth_multiplier: usize,
    input: &[f32],
    depthwise: &[f32],
    pointwise: &[f32],
    bias: Option<&[f32]>,
    filters: usize,
    output: &mut [f32],
) {
    let dm = depth_multiplier;
    let mid = g.out_c;
    let ok = dm >= 1
        && g.in_c.checked_mul(dm) == Some(mid)
        && g.input_len() == Some(input.len())
        && g.depthwise_kernel_len() == Some(depthwise.len())
        && mid.checked_mul(filters) == Some(pointwise.len())
        && bias.is_none_or(|b| b.len() == filters)
        && g.out_h
            .checked_mul(g.out_w)
            .and_then(|p| p.checked_mul(filters))
            == Some(output.len())
        && g.windows_fit();
    debug_assert!(
        ok,
        "separable_conv2d: slice lengths break the contract for {g:?}"
    );
    if !ok || filters == 0 {
        return;
    }
    let mut pixels = output.chunks_exact_mut(filters);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(out) = pixels.next() else { return };
            match bias {
                Some(b) => out.copy_from_slice(b),
                None => out.fill(0.0),
            }
            for start in (0..mid).step_by(CHUNK) {
                let len = CHUNK.min(mid - start);
                let mut dw = [0.0f32; CHUNK];
                for ky in 0..g.kernel_h {
                    let Some(iy) = g.input_row(oy, ky) else {
                        continue;
                    };
                    for kx in 0..g.kernel_w {
                        let Some(ix) = g.input_col(ox, kx) else {
                            continue;
                        };
                        let px = (iy * g.in_w + ix) * g.in_c;
                        let tap = (ky * g.kernel_w + kx) * mid;
                        for (k, d) in dw[..len].iter_mut().enumerate() {
                            let j = start + k;
                            *d += input[px + j / dm] * depthwise[tap + j];
                        }
                    }
                }
                for (k, &d) in dw[..len].iter().enumerate() {
                    let row = &pointwise[(start + k) * filters..(start + k + 1) * filters];
                    for (o, &w) in out.iter_mut().zip(row) {
                        *o += d * w;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::padding::Padding;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        /// The same bits as Keras's two steps with kiln's reference kernels: the
        /// depthwise convolution (no bias), then a 1×1 convolution with the bias.
        #[test]
        fn same_bits_as_depthwise_then_pointwise(
            h in 1usize..8, w in 1usize..8, in_c in 1usize..12, dm in 1usize..4,
            filters in 1usize..10, k in 1usize..4, s in 1usize..3, d in 1usize..3,
            same in any::<bool>(), with_bias in any::<bool>(), seed in any::<u32>(),
        ) {
            let (s, d) = if s > 1 { (s, 1) } else { (1, d) };
            let padding = if same { Padding::Same } else { Padding::Valid };
            let mid = in_c * dm;
            let Some(g) = Conv2dGeometry::new((h, w, in_c), mid, (k, k), (s, s), (d, d), padding) else {
                return Ok(());
            };
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let input: Vec<f32> = (0..h * w * in_c).map(|_| next()).collect();
            let dk: Vec<f32> = (0..g.depthwise_kernel_len().unwrap()).map(|_| next()).collect();
            let pk: Vec<f32> = (0..mid * filters).map(|_| next()).collect();
            let bias: Vec<f32> = (0..filters).map(|_| next()).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let mut dw = std::vec![0.0f32; g.output_len().unwrap()];
            crate::kernels::depthwise_conv2d(&g, dm, &input, &dk, None, &mut dw);
            let pg = Conv2dGeometry::new((g.out_h, g.out_w, mid), filters, (1, 1), (1, 1), (1, 1), Padding::Valid).unwrap();
            let mut want = std::vec![0.0f32; pg.output_len().unwrap()];
            crate::kernels::conv2d(&pg, &dw, &pk, bias, &mut want);
            let mut got = std::vec![f32::NAN; want.len()];
            separable_conv2d(&g, dm, &input, &dk, &pk, bias, filters, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
