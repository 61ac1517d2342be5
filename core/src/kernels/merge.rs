//! Keras's element-wise merge layers `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`
//! and `Minimum` (float32 reference), on inputs of one shape.
//!
//! Keras 3.15 (`keras/src/layers/merging/*.py`) folds the inputs left to right:
//! `output = inputs[0]; output = op(output, inputs[i])` for `i = 1, 2, …` (`ops.add`,
//! `ops.multiply`, `ops.maximum`, `ops.minimum`); `Subtract` requires exactly two inputs
//! and computes `inputs[0] - inputs[1]`; `Average` adds in input order and then computes
//! `output / len(inputs)` (`average.py`).
//!
//! Broadcasting: Keras's merge layers do broadcast (`Merge.build` /
//! `_compute_elemwise_op_output_shape` in `base_merge.py`): shapes are aligned on their
//! trailing axes, a size-1 axis stretches, and an input of lower rank is given size-1 axes
//! after the batch axis (`Merge.call` expands at axis 1). `Add()([(None, 3, 4), (None, 1, 4)])`
//! and `Add()([(None, 3, 4), (None, 4)])` both give `(None, 3, 4)` in Keras 3.15.1. This
//! kernel handles the equal-shape case only; the graph layer rejects the others.

use super::float::{max_nan, min_nan};

pub use crate::graph::config::MergeOp;

/// `output[i] = ((inputs[0][i] op inputs[1][i]) op inputs[2][i]) op …`, folded in input
/// order, as Keras's merge layers compute it.
///
/// # Slice-length contract
/// At least one input; exactly two for [`MergeOp::Subtract`]; every input as long as
/// `output`. Debug builds assert it; release builds return without writing `output` when
/// it is broken.
///
/// # Arithmetic
/// * `Add`, `Multiply`, `Subtract`: plain f32 `+`, `*`, `-`, one operation per input after
///   the first, in input order.
/// * `Average`: the `Add` fold, then `sum * (1.0 / n as f32)`. Keras writes
///   `sum / len(inputs)`, but XLA rewrites division by a broadcast constant into a
///   multiplication by its reciprocal: on Keras 3.15.1 / jax 0.10.2 every one of 2·10⁵
///   averages of 3 and of 5 inputs equals `sum * (1/n)` bit for bit, while `sum / n`
///   differs on a third of them (1 ulp). For example the average of 2, 3 and 0 is
///   `1.6666667` (`5 * 0.33333334`), not `1.6666666`. (Only for a one-element tensor,
///   where the broadcast disappears, does XLA divide.) For `n` a power of two both agree.
/// * `Maximum` / `Minimum`: XLA's `max` / `min`: NaN if either operand is NaN, and
///   `max(-0.0, +0.0) = +0.0`, `min(-0.0, +0.0) = -0.0` whatever the operand order.
pub fn merge(op: MergeOp, inputs: &[&[f32]], output: &mut [f32]) {
    let ok = match op {
        MergeOp::Subtract => inputs.len() == 2,
        _ => !inputs.is_empty(),
    } && inputs.iter().all(|i| i.len() == output.len());
    debug_assert!(ok, "merge: slice lengths break the contract");
    if !ok {
        return;
    }
    output.copy_from_slice(inputs[0]);
    for input in &inputs[1..] {
        let combine: fn(f32, f32) -> f32 = match op {
            MergeOp::Add | MergeOp::Average => |a, b| a + b,
            MergeOp::Subtract => |a, b| a - b,
            MergeOp::Multiply => |a, b| a * b,
            MergeOp::Maximum => xla_max,
            MergeOp::Minimum => xla_min,
        };
        for (o, &x) in output.iter_mut().zip(input.iter()) {
            *o = combine(*o, x);
        }
    }
    if op == MergeOp::Average {
        let reciprocal = 1.0 / inputs.len() as f32;
        for o in output.iter_mut() {
            *o *= reciprocal;
        }
    }
}

/// `lax.max`: NaN-propagating, and `+0.0` is larger than `-0.0`.
fn xla_max(a: f32, b: f32) -> f32 {
    if a == b {
        // equal, including ±0: prefer the positive zero (same value otherwise)
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else {
        max_nan(a, b)
    }
}

/// `lax.min`: NaN-propagating, and `-0.0` is smaller than `+0.0`.
fn xla_min(a: f32, b: f32) -> f32 {
    if a == b {
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else {
        min_nan(a, b)
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
    fn each_op_by_hand() {
        let a = [1.0, -2.0, 3.0];
        let b = [4.0, 5.0, -6.0];
        let mut out = [0.0; 3];
        for (op, want) in [
            (MergeOp::Add, [5.0, 3.0, -3.0]),
            (MergeOp::Subtract, [-3.0, -7.0, 9.0]),
            (MergeOp::Multiply, [4.0, -10.0, -18.0]),
            (MergeOp::Average, [2.5, 1.5, -1.5]),
            (MergeOp::Maximum, [4.0, 5.0, 3.0]),
            (MergeOp::Minimum, [1.0, -2.0, -6.0]),
        ] {
            merge(op, &[&a, &b], &mut out);
            assert_eq!(out, want, "{op:?}");
        }
    }

    #[test]
    fn three_inputs_fold_in_order() {
        let (a, b, c) = ([1.0, 2.0], [2.0, -3.0], [6.0, 0.5]);
        let mut out = [0.0; 2];
        merge(MergeOp::Add, &[&a, &b, &c], &mut out);
        assert_eq!(out, [9.0, -0.5]);
        merge(MergeOp::Multiply, &[&a, &b, &c], &mut out);
        assert_eq!(out, [12.0, -3.0]);
        merge(MergeOp::Maximum, &[&a, &b, &c], &mut out);
        assert_eq!(out, [6.0, 2.0]);
        merge(MergeOp::Minimum, &[&a, &b, &c], &mut out);
        assert_eq!(out, [1.0, -3.0]);
        merge(MergeOp::Average, &[&a, &b, &c], &mut out);
        assert_eq!(out, [3.0, -0.5 * (1.0 / 3.0)]);
        // a single input is copied (Keras allows one input)
        merge(MergeOp::Add, &[&a], &mut out);
        assert_eq!(out, a);
    }

    #[test]
    fn addition_order_is_input_order() {
        // Keras 3.15.1: Add()([[1e8], [1], [-1e8]]) = 0 ((1e8 + 1) - 1e8 in f32).
        let mut out = [9.0];
        merge(MergeOp::Add, &[&[1e8], &[1.0], &[-1e8]], &mut out);
        assert_eq!(out, [0.0]);
        merge(MergeOp::Add, &[&[1e8], &[-1e8], &[1.0]], &mut out);
        assert_eq!(out, [1.0]);
    }

    #[test]
    fn average_multiplies_by_the_reciprocal_like_keras() {
        // Keras 3.15.1 (JAX): Average()([[2, 1, 0.1], [3, 6, 0.2], [0, 0, 0.4]])
        //   = [1.6666667461395264, 2.3333334922790527, 0.23333334922790527]
        let mut out = [0.0; 3];
        merge(
            MergeOp::Average,
            &[&[2.0, 1.0, 0.1], &[3.0, 6.0, 0.2], &[0.0, 0.0, 0.4]],
            &mut out,
        );
        assert_eq!(out, [1.666_666_7, 2.333_333_5, 0.233_333_35]);
        assert_ne!(out[0], 5.0f32 / 3.0); // 1.6666666: the source's division
    }

    #[test]
    fn max_and_min_follow_xla_on_nan_and_signed_zero() {
        // Keras 3.15.1: Maximum()([[1, nan, 3, -0.], [nan, 2, 1, 0.]]) = [nan, nan, 3, 0.]
        //               Minimum()(same)                                  = [nan, nan, 1, -0.]
        let a = [1.0, f32::NAN, 3.0, -0.0, 0.0];
        let b = [f32::NAN, 2.0, 1.0, 0.0, -0.0];
        let mut out = [0.0; 5];
        merge(MergeOp::Maximum, &[&a, &b], &mut out);
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(out[2], 3.0);
        assert!(out[3] == 0.0 && out[3].is_sign_positive());
        assert!(out[4] == 0.0 && out[4].is_sign_positive());
        merge(MergeOp::Minimum, &[&a, &b], &mut out);
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(out[2], 1.0);
        assert!(out[3] == 0.0 && out[3].is_sign_negative());
        assert!(out[4] == 0.0 && out[4].is_sign_negative());
    }

    #[test]
    fn empty_tensors() {
        let mut out: [f32; 0] = [];
        merge(MergeOp::Multiply, &[&[], &[]], &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn subtract_needs_exactly_two_inputs() {
        merge(MergeOp::Subtract, &[&[1.0], &[2.0], &[3.0]], &mut [0.0]);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn lengths_are_debug_asserted() {
        merge(MergeOp::Add, &[&[1.0, 2.0], &[2.0]], &mut [0.0, 0.0]);
    }

    proptest! {
        #[test]
        fn matches_a_scalar_fold(
            n in 1usize..5, len in 0usize..8,
            seed in proptest::collection::vec(-100.0f32..100.0, 40),
            which in 0usize..6,
        ) {
            let op = [
                MergeOp::Add, MergeOp::Subtract, MergeOp::Multiply,
                MergeOp::Average, MergeOp::Maximum, MergeOp::Minimum,
            ][which];
            let n = if op == MergeOp::Subtract { 2 } else { n };
            let inputs: Vec<Vec<f32>> = (0..n)
                .map(|k| (0..len).map(|i| seed[(k * 8 + i) % seed.len()]).collect())
                .collect();
            let refs: Vec<&[f32]> = inputs.iter().map(|v| v.as_slice()).collect();
            let mut out = vec![f32::NAN; len];
            merge(op, &refs, &mut out);
            for i in 0..len {
                let mut acc = inputs[0][i];
                for input in &inputs[1..] {
                    let x = input[i];
                    acc = match op {
                        MergeOp::Add | MergeOp::Average => acc + x,
                        MergeOp::Subtract => acc - x,
                        MergeOp::Multiply => acc * x,
                        MergeOp::Maximum => if x > acc { x } else { acc },
                        MergeOp::Minimum => if x < acc { x } else { acc },
                    };
                }
                if op == MergeOp::Average {
                    acc *= 1.0 / n as f32;
                }
                // `==`: the reference fold ignores the sign of zero; values are finite
                prop_assert!(out[i] == acc, "{:?} [{}]: {} vs {}", op, i, out[i], acc);
            }
        }
    }
}
