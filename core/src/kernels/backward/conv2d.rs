//! The backward passes of [`conv2d`](fn@crate::kernels::conv2d) and
//! [`depthwise_conv2d`](fn@crate::kernels::depthwise_conv2d): one sample, `(H, W, C)`,
//! kernels in Keras's layouts.

use crate::kernels::Conv2dGeometry;

/// Calls `f(input_pixel, output_pixel, tap)` for every tap of every output pixel that
/// lands inside the input (pixels as indices, `tap = ky · kernel_w + kx`).
fn for_each_tap(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
    for oy in 0..g.out_h {
        for ky in 0..g.kernel_h {
            let Some(iy) = g.input_row(oy, ky) else {
                continue;
            };
            for ox in 0..g.out_w {
                for kx in 0..g.kernel_w {
                    let Some(ix) = g.input_col(ox, kx) else {
                        continue;
                    };
                    f(iy * g.in_w + ix, oy * g.out_w + ox, ky * g.kernel_w + kx);
                }
            }
        }
    }
}

fn fits(g: &Conv2dGeometry, input: usize, output: usize, kernel: usize) -> bool {
    g.windows_fit()
        && g.input_len() == Some(input)
        && g.output_len() == Some(output)
        && g.kernel_len() == Some(kernel)
}

/// Adds dL/dkernel (`(kh, kw, cin, cout)`) and dL/dbias for `y = conv(x) + b`.
pub fn conv2d_weights(
    g: &Conv2dGeometry,
    input: &[f32],
    d_output: &[f32],
    d_kernel: &mut [f32],
    d_bias: Option<&mut [f32]>,
) {
    let ok = fits(g, input.len(), d_output.len(), d_kernel.len())
        && d_bias.as_ref().is_none_or(|b| b.len() == g.out_c);
    debug_assert!(ok, "conv2d backward: lengths break the contract");
    if !ok {
        return;
    }
    let (ci, co) = (g.in_c, g.out_c);
    for_each_tap(g, |i, o, tap| {
        let x = &input[i * ci..(i + 1) * ci];
        let dy = &d_output[o * co..(o + 1) * co];
        let dw = &mut d_kernel[tap * ci * co..(tap + 1) * ci * co];
        for (&xv, row) in x.iter().zip(dw.chunks_exact_mut(co)) {
            for (w, &d) in row.iter_mut().zip(dy) {
                *w += xv * d;
            }
        }
    });
    if let Some(d_bias) = d_bias {
        for dy in d_output.chunks_exact(co) {
            for (b, &d) in d_bias.iter_mut().zip(dy) {
                *b += d;
            }
        }
    }
}

/// Writes dL/dx for `y = conv(x) + b`.
pub fn conv2d_input(g: &Conv2dGeometry, kernel: &[f32], d_output: &[f32], d_input: &mut [f32]) {
    let ok = fits(g, d_input.len(), d_output.len(), kernel.len());
    debug_assert!(ok, "conv2d backward: lengths break the contract");
    if !ok {
        return;
    }
    d_input.fill(0.0);
    let (ci, co) = (g.in_c, g.out_c);
    for_each_tap(g, |i, o, tap| {
        let dy = &d_output[o * co..(o + 1) * co];
        let w = &kernel[tap * ci * co..(tap + 1) * ci * co];
        for (dx, row) in d_input[i * ci..(i + 1) * ci]
            .iter_mut()
            .zip(w.chunks_exact(co))
        {
            *dx += row.iter().zip(dy).fold(0.0f32, |s, (w, d)| s + w * d);
        }
    });
}

fn depthwise_fits(g: &Conv2dGeometry, input: usize, output: usize, kernel: usize) -> bool {
    g.windows_fit()
        && g.input_len() == Some(input)
        && g.output_len() == Some(output)
        && g.depthwise_kernel_len() == Some(kernel)
        && g.in_c > 0
        && g.out_c % g.in_c == 0
}

/// Adds dL/dkernel (`(kh, kw, cin, multiplier)`) and dL/dbias of a depthwise convolution
/// (output channel `c · multiplier + m` reads input channel `c`).
pub fn depthwise_conv2d_weights(
    g: &Conv2dGeometry,
    input: &[f32],
    d_output: &[f32],
    d_kernel: &mut [f32],
    d_bias: Option<&mut [f32]>,
) {
    let ok = depthwise_fits(g, input.len(), d_output.len(), d_kernel.len())
        && d_bias.as_ref().is_none_or(|b| b.len() == g.out_c);
    debug_assert!(ok, "depthwise_conv2d backward: lengths break the contract");
    if !ok {
        return;
    }
    let (ci, co) = (g.in_c, g.out_c);
    let m = co / ci;
    for_each_tap(g, |i, o, tap| {
        for c in 0..ci {
            let x = input[i * ci + c];
            for k in 0..m {
                d_kernel[tap * co + c * m + k] += x * d_output[o * co + c * m + k];
            }
        }
    });
    if let Some(d_bias) = d_bias {
        for dy in d_output.chunks_exact(co) {
            for (b, &d) in d_bias.iter_mut().zip(dy) {
                *b += d;
            }
        }
    }
}

/// Writes dL/dx of a depthwise convolution.
pub fn depthwise_conv2d_input(
    g: &Conv2dGeometry,
    kernel: &[f32],
    d_output: &[f32],
    d_input: &mut [f32],
) {
    let ok = depthwise_fits(g, d_input.len(), d_output.len(), kernel.len());
    debug_assert!(ok, "depthwise_conv2d backward: lengths break the contract");
    if !ok {
        return;
    }
    d_input.fill(0.0);
    let (ci, co) = (g.in_c, g.out_c);
    let m = co / ci;
    for_each_tap(g, |i, o, tap| {
        for c in 0..ci {
            let mut sum = 0.0f32;
            for k in 0..m {
                sum += kernel[tap * co + c * m + k] * d_output[o * co + c * m + k];
            }
            d_input[i * ci + c] += sum;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::backward::check::{assert_gradient, finite_difference};
    use crate::kernels::padding::Padding;
    use crate::kernels::{conv2d, depthwise_conv2d};
    use proptest::prelude::*;

    fn geometries() -> impl Strategy<Value = Conv2dGeometry> {
        (
            1usize..3,
            1usize..3,
            prop_oneof![Just(Padding::Valid), Just(Padding::Same)],
            1usize..3,
        )
            .prop_filter_map("a geometry", |(s, d, padding, k)| {
                let dilation = if s > 1 { 1 } else { d };
                Conv2dGeometry::new(
                    (5, 4, 2),
                    4,
                    (k + 1, k),
                    (s, s),
                    (dilation, dilation),
                    padding,
                )
            })
    }

    proptest! {
        #[test]
        fn conv2d_gradients_match_finite_differences(
            g in geometries(),
            seed in proptest::collection::vec(-1.0f32..1.0, 400),
        ) {
            let x = &seed[..g.input_len().unwrap()];
            let w = &seed[40..40 + g.kernel_len().unwrap()];
            let b = &seed[300..304];
            let n = g.output_len().unwrap();
            let d: Vec<f32> = seed[100..].iter().cycle().take(n).copied().collect();
            let mut dx = std::vec![0.0f32; x.len()];
            conv2d_input(&g, w, &d, &mut dx);
            let numeric = finite_difference(x, &d, n, |x, y| conv2d(&g, x, w, Some(b), y));
            assert_gradient(&dx, &numeric, "dx");
            let mut dw = std::vec![0.0f32; w.len()];
            let mut db = [0.0f32; 4];
            conv2d_weights(&g, x, &d, &mut dw, Some(&mut db));
            let numeric = finite_difference(w, &d, n, |w, y| conv2d(&g, x, w, Some(b), y));
            assert_gradient(&dw, &numeric, "dW");
            let numeric = finite_difference(b, &d, n, |b, y| conv2d(&g, x, w, Some(b), y));
            assert_gradient(&db, &numeric, "db");
        }

        #[test]
        fn depthwise_gradients_match_finite_differences(
            g in geometries(),
            seed in proptest::collection::vec(-1.0f32..1.0, 400),
        ) {
            // Two input channels, multiplier 2: the geometry's 4 output channels.
            let x = &seed[..g.input_len().unwrap()];
            let w = &seed[40..40 + g.depthwise_kernel_len().unwrap()];
            let b = &seed[300..304];
            let n = g.output_len().unwrap();
            let d: Vec<f32> = seed[100..].iter().cycle().take(n).copied().collect();
            let run = |x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]| {
                depthwise_conv2d(&g, 2, x, w, Some(b), y)
            };
            let mut dx = std::vec![0.0f32; x.len()];
            depthwise_conv2d_input(&g, w, &d, &mut dx);
            let numeric = finite_difference(x, &d, n, |x, y| run(x, w, b, y));
            assert_gradient(&dx, &numeric, "dx");
            let mut dw = std::vec![0.0f32; w.len()];
            let mut db = [0.0f32; 4];
            depthwise_conv2d_weights(&g, x, &d, &mut dw, Some(&mut db));
            let numeric = finite_difference(w, &d, n, |w, y| run(x, w, b, y));
            assert_gradient(&dw, &numeric, "dW");
        }
    }

    extern crate std;
    use std::vec::Vec;
}
