//! The backward pass of [`dense`](fn@crate::kernels::dense): `y = x · W + b` on the last
//! axis of one sample (`rows` of `in_features` values).

/// Adds dL/dW (`(in, out)`, row-major) and dL/db to `d_kernel` and `d_bias`:
/// `dW[i][o] += Σ_r x[r][i] · dy[r][o]`, `db[o] += Σ_r dy[r][o]`, rows in order.
pub fn dense_weights(
    input: &[f32],
    d_output: &[f32],
    in_features: usize,
    d_kernel: &mut [f32],
    d_bias: Option<&mut [f32]>,
) {
    let units = d_kernel.len().checked_div(in_features).unwrap_or(0);
    let rows = input.len().checked_div(in_features).unwrap_or(0);
    let ok = units > 0
        && d_kernel.len() == in_features * units
        && input.len() == rows * in_features
        && d_output.len() == rows * units
        && d_bias.as_ref().is_none_or(|b| b.len() == units);
    debug_assert!(ok, "dense backward: lengths break the contract");
    if !ok {
        return;
    }
    // Kernel row by kernel row, every input row adding to it in order: each gradient
    // value sums the rows in the same order as row after row would, while its kernel
    // row stays in cache.
    for (i, dw) in d_kernel.chunks_mut(units).enumerate() {
        for (x, dy) in input.chunks(in_features).zip(d_output.chunks(units)) {
            let xi = x[i];
            if xi == 0.0 {
                continue;
            }
            for (w, &g) in dw.iter_mut().zip(dy) {
                *w += xi * g;
            }
        }
    }
    if let Some(d_bias) = d_bias {
        for dy in d_output.chunks(units) {
            for (b, &g) in d_bias.iter_mut().zip(dy) {
                *b += g;
            }
        }
    }
}

/// Writes dL/dx: `dx[r][i] = Σ_o W[i][o] · dy[r][o]`.
pub fn dense_input(kernel: &[f32], d_output: &[f32], in_features: usize, d_input: &mut [f32]) {
    let units = kernel.len().checked_div(in_features).unwrap_or(0);
    let rows = d_input.len().checked_div(in_features).unwrap_or(0);
    let ok = units > 0
        && kernel.len() == in_features * units
        && d_input.len() == rows * in_features
        && d_output.len() == rows * units;
    debug_assert!(ok, "dense backward: lengths break the contract");
    if !ok {
        return;
    }
    for (dx, dy) in d_input.chunks_mut(in_features).zip(d_output.chunks(units)) {
        for (x, w) in dx.iter_mut().zip(kernel.chunks(units)) {
            *x = w.iter().zip(dy).fold(0.0f32, |s, (w, g)| s + w * g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::backward::check::{assert_gradient, finite_difference};
    use crate::kernels::dense;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn gradients_match_finite_differences(
            x in proptest::collection::vec(-2.0f32..2.0, 6),
            w in proptest::collection::vec(-1.0f32..1.0, 12),
            b in proptest::collection::vec(-1.0f32..1.0, 4),
            g in proptest::collection::vec(-1.0f32..1.0, 8),
        ) {
            // Two rows of 3 features, 4 units.
            let mut dx = [0.0f32; 6];
            dense_input(&w, &g, 3, &mut dx);
            let numeric = finite_difference(&x, &g, 8, |x, y| {
                for (xr, yr) in x.chunks(3).zip(y.chunks_mut(4)) {
                    dense(xr, 3, &w, Some(&b), yr);
                }
            });
            assert_gradient(&dx, &numeric, "dx");

            let mut dw = [0.0f32; 12];
            let mut db = [0.0f32; 4];
            dense_weights(&x, &g, 3, &mut dw, Some(&mut db));
            let numeric = finite_difference(&w, &g, 8, |w, y| {
                for (xr, yr) in x.chunks(3).zip(y.chunks_mut(4)) {
                    dense(xr, 3, w, Some(&b), yr);
                }
            });
            assert_gradient(&dw, &numeric, "dW");
            let numeric = finite_difference(&b, &g, 8, |b, y| {
                for (xr, yr) in x.chunks(3).zip(y.chunks_mut(4)) {
                    dense(xr, 3, &w, Some(b), yr);
                }
            });
            assert_gradient(&db, &numeric, "db");
        }
    }

    #[test]
    fn a_hand_checked_case() {
        // x = [1, 2], W = [[1, 2, 3], [4, 5, 6]], dy = [1, 0, -1].
        let mut dx = [0.0f32; 2];
        dense_input(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[1.0, 0.0, -1.0],
            2,
            &mut dx,
        );
        assert_eq!(dx, [-2.0, -2.0]);
        let mut dw = [1.0f32; 6];
        let mut db = [0.0f32; 3];
        dense_weights(&[1.0, 2.0], &[1.0, 0.0, -1.0], 2, &mut dw, Some(&mut db));
        assert_eq!(dw, [2.0, 1.0, 0.0, 3.0, 1.0, -1.0]);
        assert_eq!(db, [1.0, 0.0, -1.0]);
    }
}
