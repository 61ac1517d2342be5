//! `keras.layers.Concatenate(axis)` (float32 reference): Keras 3.15 calls
//! `ops.concatenate(inputs, axis)` (`keras/src/layers/merging/concatenate.py`), a pure copy,
//! so the output is bit-identical to the inputs.

/// Concatenates along one axis.
///
/// View each input as `(outer, inner_sizes[i])`, row-major: `outer` is the product of the
/// axes before the concatenation axis (batch excluded), and `inner_sizes[i]` is input
/// `i`'s size along the axis times the product of the axes after it. For each outer
/// index `o`, the output gets input 0's block `o`, then input 1's block `o`, and so on:
/// `output[o][offset_i + k] = inputs[i][o][k]` with `offset_i = Σ_{j<i} inner_sizes[j]`.
///
/// For channels-last `(H, W, C_i)` images concatenated on the last axis, `outer = H * W`
/// and `inner_sizes[i] = C_i`; on axis 1 (height), `outer = 1` and
/// `inner_sizes[i] = H_i * W * C`.
///
/// # Slice-length contract
/// `inputs.len() == inner_sizes.len()`, `inputs[i].len() == outer * inner_sizes[i]`, and
/// `output.len() == outer * Σ inner_sizes` (all without overflow). Debug builds assert it;
/// release builds return without writing `output` when it is broken.
pub fn concatenate(inputs: &[&[f32]], outer: usize, inner_sizes: &[usize], output: &mut [f32]) {
    let total = inner_sizes
        .iter()
        .try_fold(0usize, |acc, &n| acc.checked_add(n));
    let ok = inputs.len() == inner_sizes.len()
        && inputs
            .iter()
            .zip(inner_sizes)
            .all(|(i, &n)| outer.checked_mul(n) == Some(i.len()))
        && total.and_then(|t| outer.checked_mul(t)) == Some(output.len());
    debug_assert!(ok, "concatenate: slice lengths break the contract");
    let total = total.unwrap_or(0);
    if !ok || total == 0 {
        return; // nothing to write when every block is empty
    }
    for (o, out_block) in output.chunks_exact_mut(total).enumerate() {
        let mut at = 0;
        for (input, &n) in inputs.iter().zip(inner_sizes) {
            // In range by the contract: `at + n <= total` and `(o + 1) * n <= input.len()`.
            if let (Some(dst), Some(src)) =
                (out_block.get_mut(at..at + n), input.get(o * n..(o + 1) * n))
            {
                dst.copy_from_slice(src);
            }
            at += n;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn last_axis() {
        // (2, 2) ++ (2, 1) on the last axis: [[1, 2], [3, 4]] ++ [[5], [6]]
        let mut out = [0.0; 6];
        concatenate(&[&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0]], 2, &[2, 1], &mut out);
        assert_eq!(out, [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn first_axis_is_plain_appending() {
        // (1, 2) ++ (2, 2) on axis 0 of the sample: one outer block.
        let mut out = [0.0; 6];
        concatenate(&[&[1.0, 2.0], &[3.0, 4.0, 5.0, 6.0]], 1, &[2, 4], &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn middle_axis_of_an_image() {
        // (H=2, W=1, C=2) ++ (H=2, W=2, C=2) on the width axis: outer = H = 2,
        // inner = W_i * C = 2 and 4.
        let a = [1.0, 2.0, /* row 1 */ 3.0, 4.0];
        let b = [
            10.0, 20.0, 30.0, 40.0, /* row 1 */ 50.0, 60.0, 70.0, 80.0,
        ];
        let mut out = [0.0; 12];
        concatenate(&[&a, &b], 2, &[2, 4], &mut out);
        assert_eq!(
            out,
            [1.0, 2.0, 10.0, 20.0, 30.0, 40.0, 3.0, 4.0, 50.0, 60.0, 70.0, 80.0]
        );
    }

    #[test]
    fn three_inputs_and_an_empty_one() {
        let mut out = [0.0; 6];
        concatenate(
            &[&[1.0, 2.0], &[], &[3.0, 4.0, 5.0, 6.0]],
            2,
            &[1, 0, 2],
            &mut out,
        );
        assert_eq!(out, [1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn values_are_copied_bit_for_bit() {
        let a = [f32::NAN, -0.0];
        let mut out = [0.0; 3];
        concatenate(&[&a, &[f32::INFINITY]], 1, &[2, 1], &mut out);
        assert!(out[0].is_nan());
        assert_eq!(out[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(out[2], f32::INFINITY);
    }

    #[test]
    fn all_empty() {
        let mut out: [f32; 0] = [];
        concatenate(&[&[], &[]], 3, &[0, 0], &mut out);
        concatenate(&[&[], &[]], 0, &[2, 5], &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn contract_is_debug_asserted() {
        let mut out = [0.0; 3];
        concatenate(&[&[1.0, 2.0], &[3.0]], 1, &[2, 2], &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn overflowing_sizes_are_a_broken_contract() {
        let mut out = [0.0; 2];
        concatenate(&[&[1.0], &[2.0]], 1, &[usize::MAX, 2], &mut out);
    }

    proptest! {
        #[test]
        fn matches_the_index_formula(
            outer in 0usize..5,
            sizes in proptest::collection::vec(0usize..4, 1..5),
        ) {
            // input i, block o, element k holds 1000 i + 100 o + k
            let inputs: Vec<Vec<f32>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    (0..outer * n)
                        .map(|e| (1000 * i + 100 * (e / n) + e % n) as f32)
                        .collect()
                })
                .collect();
            let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
            let total: usize = sizes.iter().sum();
            let mut out = vec![f32::NAN; outer * total];
            concatenate(&refs, outer, &sizes, &mut out);
            let mut want = Vec::new();
            for o in 0..outer {
                for (i, &n) in sizes.iter().enumerate() {
                    for k in 0..n {
                        want.push((1000 * i + 100 * o + k) as f32);
                    }
                }
            }
            prop_assert_eq!(out, want);
        }
    }
}
