//! `keras.layers.Concatenate(axis)` (float32 and int8 alike): Keras 3.15 calls
//! `ops.concatenate(inputs, axis)` (`keras/src/layers/merging/concatenate.py`), a pure copy,
//! so the output is bit-identical to the inputs.

/// Concatenates along one axis.
///
/// View each input as `(outer, inner_i)`, row-major: `outer` is the product of the axes
/// before the concatenation axis (batch excluded), and `inner_i = inputs[i].len() / outer`
/// is input `i`'s size along the axis times the product of the axes after it. For each
/// outer index `o`, the output gets input 0's block `o`, then input 1's block `o`, and so
/// on: `output[o][offset_i + k] = inputs[i][o][k]` with `offset_i = Σ_{j<i} inner_j`.
///
/// For channels-last `(H, W, C_i)` images concatenated on the last axis, `outer = H * W`
/// and `inner_i = C_i`; on axis 1 (height), `outer = 1` and `inner_i = H_i * W * C`.
///
/// # Slice-length contract
/// `outer > 0`, every input's length a multiple of `outer`, and `output.len()` the sum of
/// the inputs' lengths. Debug builds assert it; release builds return without writing
/// `output` when it is broken.
pub fn concatenate<T: Copy>(inputs: &[&[T]], outer: usize, output: &mut [T]) {
    let total = inputs
        .iter()
        .try_fold(0usize, |acc, i| acc.checked_add(i.len()));
    let ok =
        outer > 0 && inputs.iter().all(|i| i.len() % outer == 0) && total == Some(output.len());
    debug_assert!(ok, "concatenate: slice lengths break the contract");
    if !ok || output.is_empty() {
        return; // nothing to write when every block is empty
    }
    let width = output.len() / outer;
    for (o, out_block) in output.chunks_exact_mut(width).enumerate() {
        let mut at = 0;
        for input in inputs {
            let n = input.len() / outer;
            // In range by the contract: `at + n <= width` and `(o + 1) * n <= input.len()`.
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
        concatenate(&[&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0]], 2, &mut out);
        assert_eq!(out, [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn first_axis_is_plain_appending() {
        // (1, 2) ++ (2, 2) on axis 0 of the sample: one outer block.
        let mut out = [0.0; 6];
        concatenate(&[&[1.0, 2.0], &[3.0, 4.0, 5.0, 6.0]], 1, &mut out);
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
        concatenate(&[&a, &b], 2, &mut out);
        assert_eq!(
            out,
            [1.0, 2.0, 10.0, 20.0, 30.0, 40.0, 3.0, 4.0, 50.0, 60.0, 70.0, 80.0]
        );
    }

    #[test]
    fn three_inputs_and_an_empty_one() {
        let mut out = [0.0; 6];
        concatenate(&[&[1.0, 2.0], &[], &[3.0, 4.0, 5.0, 6.0]], 2, &mut out);
        assert_eq!(out, [1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn values_are_copied_bit_for_bit() {
        let a = [f32::NAN, -0.0];
        let mut out = [0.0; 3];
        concatenate(&[&a, &[f32::INFINITY]], 1, &mut out);
        assert!(out[0].is_nan());
        assert_eq!(out[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(out[2], f32::INFINITY);
    }

    #[test]
    fn all_empty() {
        let mut out: [f32; 0] = [];
        concatenate(&[&[], &[]], 3, &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn contract_is_debug_asserted() {
        let mut out = [0.0; 4];
        concatenate(&[&[1.0, 2.0], &[3.0]], 1, &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn an_outer_size_that_does_not_divide_an_input_is_a_broken_contract() {
        let mut out = [0.0; 3];
        concatenate(&[&[1.0, 2.0], &[3.0]], 2, &mut out);
    }

    proptest! {
        #[test]
        fn matches_the_index_formula(
            outer in 1usize..5,
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
            concatenate(&refs, outer, &mut out);
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
