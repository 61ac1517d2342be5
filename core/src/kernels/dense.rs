//! `keras.layers.Dense` (float32 reference).

/// Dense (fully connected) layer on the last axis: `y = x · kernel + bias`. The reference:
/// [`fast::dense`](super::fast::dense) computes the same bits faster.
///
/// Like Keras on inputs of rank > 2, `input` may hold several rows: each row of
/// `in_features` values gives one row of `out_features` outputs.
///
/// # Slice-length contract
/// With `out_features = kernel.len() / in_features` and `rows = input.len() / in_features`:
/// * `in_features > 0` and `kernel.len() == in_features * out_features`
///   (Keras layout `(in, out)`, row-major: `kernel[i * out_features + o]`);
/// * `input.len() == rows * in_features`;
/// * `bias`, if present, has `out_features` values;
/// * `output.len() == rows * out_features`.
///
/// Debug builds assert the contract; release builds return without writing
/// `output` when it is broken (never panic).
///
/// # Arithmetic
/// For each output, `acc = bias[o]` (or `0.0`), then `acc = acc + x[i] * kernel[i][o]` for
/// `i = 0, 1, …` in order: plain f32 multiply then add (no FMA), so the result is the
/// same on every target.
pub fn dense(
    input: &[f32],
    in_features: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let ok = contract_holds(input, in_features, kernel, bias, output);
    debug_assert!(ok, "dense: slice lengths break the contract");
    if !ok {
        return;
    }
    let out_features = kernel.len() / in_features;
    if out_features == 0 {
        return; // nothing to write; also keeps `chunks_exact*` away from size 0
    }
    for (x_row, y_row) in input
        .chunks_exact(in_features)
        .zip(output.chunks_exact_mut(out_features))
    {
        match bias {
            Some(b) => y_row.copy_from_slice(b),
            None => y_row.fill(0.0),
        }
        for (&x, k_row) in x_row.iter().zip(kernel.chunks_exact(out_features)) {
            for (acc, &w) in y_row.iter_mut().zip(k_row) {
                *acc += x * w;
            }
        }
    }
}

pub(crate) fn contract_holds(
    input: &[f32],
    in_features: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &[f32],
) -> bool {
    if in_features == 0 || kernel.len() % in_features != 0 || input.len() % in_features != 0 {
        return false;
    }
    let out_features = kernel.len() / in_features;
    let rows = input.len() / in_features;
    bias.is_none_or(|b| b.len() == out_features)
        && rows.checked_mul(out_features) == Some(output.len())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::test_util::assert_all_close;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn two_in_three_out_with_bias() {
        // kernel (in=2, out=3) = [[1,2,3],[4,5,6]]
        let kernel = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [0.0; 3];
        dense(&[1.0, 2.0], 2, &kernel, Some(&[0.5, -1.0, 0.0]), &mut out);
        // [1+8, 2+10, 3+12] + bias
        assert_eq!(out, [9.5, 11.0, 15.0]);
    }

    #[test]
    fn several_rows_without_bias() {
        let kernel = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut out = [f32::NAN; 6];
        dense(&[1.0, 2.0, -1.0, 0.5], 2, &kernel, None, &mut out);
        assert_eq!(out, [9.0, 12.0, 15.0, 1.0, 0.5, 0.0]);
    }

    #[test]
    fn single_output_fractional() {
        // 0.5*0.25 + (-2)*0.125 + 3*(-1) + 0.1 = 0.125 - 0.25 - 3 + 0.1
        let mut out = [0.0];
        dense(
            &[0.5, -2.0, 3.0],
            3,
            &[0.25, 0.125, -1.0],
            Some(&[0.1]),
            &mut out,
        );
        assert_all_close(&out, &[-3.025]);
    }

    #[test]
    fn accumulation_order_is_bias_first_then_inputs() {
        // bias 1e8, inputs 1 and -1e8 with unit weights: ((1e8 + 1) - 1e8) = 0 in f32,
        // whereas summing the products first would give 1.
        let mut out = [9.0];
        dense(&[1.0, -1.0e8], 2, &[1.0, 1.0], Some(&[1.0e8]), &mut out);
        assert_eq!(out, [0.0]);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn contract_is_debug_asserted() {
        let mut out = [0.0; 2];
        dense(
            &[1.0, 2.0],
            2,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            None,
            &mut out,
        );
    }

    proptest! {
        #[test]
        fn matches_f64_reference(
            rows in 1usize..4, n_in in 1usize..6, n_out in 1usize..6,
            seed in proptest::collection::vec(-4.0f32..4.0, 64),
        ) {
            let take = |off: usize, n: usize| -> Vec<f32> {
                (0..n).map(|i| seed[(off + i) % seed.len()]).collect()
            };
            let x = take(0, rows * n_in);
            let k = take(7, n_in * n_out);
            let b = take(13, n_out);
            let mut y = vec![0.0; rows * n_out];
            dense(&x, n_in, &k, Some(&b), &mut y);
            for r in 0..rows {
                for o in 0..n_out {
                    let mut acc = b[o] as f64;
                    for i in 0..n_in {
                        acc += x[r * n_in + i] as f64 * k[i * n_out + o] as f64;
                    }
                    prop_assert!((y[r * n_out + o] as f64 - acc).abs() <= 1e-4);
                }
            }
        }
    }
}
