//! The backward passes of the pools: a max sends its gradient to the first maximum of
//! its window (row-major order), an average spreads it over the window's cells inside
//! the input.

use crate::kernels::Pool2dGeometry;

fn fits(g: &Pool2dGeometry, input: usize, output: usize) -> bool {
    g.input_len() == Some(input) && g.output_len() == Some(output) && g.windows_fit()
}

/// Writes dL/dx of [`max_pool2d`](fn@crate::kernels::max_pool2d).
pub fn max_pool2d(g: &Pool2dGeometry, input: &[f32], d_output: &[f32], d_input: &mut [f32]) {
    let ok = fits(g, input.len(), d_output.len()) && d_input.len() == input.len();
    debug_assert!(ok, "max_pool2d backward: lengths break the contract");
    let c = g.channels;
    if !ok || c == 0 {
        return;
    }
    d_input.fill(0.0);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let o = (oy * g.out_w + ox) * c;
            for ch in 0..c {
                let mut best: Option<(usize, f32)> = None;
                g.for_each_in_window(oy, ox, |px| {
                    let x = input[px + ch];
                    if best.is_none_or(|(_, b)| x > b || (b.is_nan() && !x.is_nan())) {
                        best = Some((px + ch, x));
                    }
                });
                if let Some((at, _)) = best {
                    d_input[at] += d_output[o + ch];
                }
            }
        }
    }
}

/// Writes dL/dx of [`average_pool2d`](fn@crate::kernels::average_pool2d).
pub fn average_pool2d(g: &Pool2dGeometry, d_output: &[f32], d_input: &mut [f32]) {
    let ok = fits(g, d_input.len(), d_output.len());
    debug_assert!(ok, "average_pool2d backward: lengths break the contract");
    let c = g.channels;
    if !ok || c == 0 {
        return;
    }
    d_input.fill(0.0);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let o = (oy * g.out_w + ox) * c;
            let mut count = 0u32;
            g.for_each_in_window(oy, ox, |_| count += 1);
            let n = count as f32;
            g.for_each_in_window(oy, ox, |px| {
                for ch in 0..c {
                    d_input[px + ch] += d_output[o + ch] / n;
                }
            });
        }
    }
}

/// Writes dL/dx of [`global_average_pool`](fn@crate::kernels::global_average_pool).
pub fn global_average_pool(d_output: &[f32], spatial: usize, d_input: &mut [f32]) {
    let c = d_output.len();
    let ok = c > 0 && spatial.checked_mul(c) == Some(d_input.len());
    debug_assert!(
        ok,
        "global_average_pool backward: lengths break the contract"
    );
    if !ok {
        return;
    }
    let n = spatial as f32;
    for px in d_input.chunks_exact_mut(c) {
        for (dx, &d) in px.iter_mut().zip(d_output) {
            *dx = d / n;
        }
    }
}

/// Writes dL/dx of [`global_max_pool`](fn@crate::kernels::global_max_pool).
pub fn global_max_pool(input: &[f32], d_output: &[f32], d_input: &mut [f32]) {
    let c = d_output.len();
    let ok = c > 0 && input.len() % c == 0 && d_input.len() == input.len();
    debug_assert!(ok, "global_max_pool backward: lengths break the contract");
    if !ok {
        return;
    }
    d_input.fill(0.0);
    for (ch, &d) in d_output.iter().enumerate() {
        let mut best: Option<(usize, f32)> = None;
        for (i, &x) in input.iter().enumerate().skip(ch).step_by(c) {
            if best.is_none_or(|(_, b)| x > b || (b.is_nan() && !x.is_nan())) {
                best = Some((i, x));
            }
        }
        if let Some((at, _)) = best {
            d_input[at] = d;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::backward::check::{assert_gradient, finite_difference};
    use crate::kernels::padding::Padding;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn max_goes_to_the_first_maximum() {
        let g = Pool2dGeometry::new((2, 2, 1), (2, 2), (2, 2), Padding::Valid).unwrap();
        let mut dx = [9.0f32; 4];
        max_pool2d(&g, &[1.0, 3.0, 3.0, 0.0], &[5.0], &mut dx);
        assert_eq!(dx, [0.0, 5.0, 0.0, 0.0]);
        let mut dx = [9.0f32; 4];
        global_max_pool(&[1.0, 3.0, 3.0, 0.0], &[5.0], &mut dx);
        assert_eq!(dx, [0.0, 5.0, 0.0, 0.0]);
    }

    proptest! {
        #[test]
        fn averages_match_finite_differences(
            same in any::<bool>(),
            stride in 1usize..3,
            x in proptest::collection::vec(-1.0f32..1.0, 30),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let g = Pool2dGeometry::new((5, 3, 2), (2, 2), (stride, stride), padding).unwrap();
            let n = g.output_len().unwrap();
            let d: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let mut dx = std::vec![0.0f32; 30];
            average_pool2d(&g, &d, &mut dx);
            let numeric = finite_difference(&x, &d, n, |x, y| crate::kernels::average_pool2d(&g, x, y));
            assert_gradient(&dx, &numeric, "average_pool2d");
            let mut dx = std::vec![0.0f32; 30];
            global_average_pool(&d[..2], 15, &mut dx);
            let numeric = finite_difference(&x, &d[..2], 2, |x, y| crate::kernels::global_average_pool(x, 15, 2, y));
            assert_gradient(&dx, &numeric, "global_average_pool");
        }

        #[test]
        fn maxima_match_finite_differences(
            order in Just((0..30).collect::<Vec<i32>>()).prop_shuffle(),
        ) {
            // Distinct values, so no window has a tie a difference quotient would straddle.
            let x: Vec<f32> = order.iter().map(|&i| i as f32 * 0.07 - 1.0).collect();
            let g = Pool2dGeometry::new((5, 3, 2), (2, 2), (1, 1), Padding::Same).unwrap();
            let n = g.output_len().unwrap();
            let d: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).cos()).collect();
            let mut dx = std::vec![0.0f32; 30];
            max_pool2d(&g, &x, &d, &mut dx);
            let numeric = finite_difference(&x, &d, n, |x, y| crate::kernels::max_pool2d(&g, x, y));
            assert_gradient(&dx, &numeric, "max_pool2d");
        }
    }
}
