//! Keras's element-wise merge layers: `Add`, `Subtract`, `Multiply`, `Average`,
//! `Maximum`, `Minimum`, on inputs of one shape.

/// Which merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergeOp {
    Add,
    /// Exactly two inputs: `a - b`.
    Subtract,
    Multiply,
    /// Sum in input order, then divided by the number of inputs.
    Average,
    Maximum,
    Minimum,
}

/// `output[i] = inputs[0][i] op inputs[1][i] op …`, folded in input order.
///
/// Contract: at least one input, every input as long as `output`.
pub fn merge(op: MergeOp, inputs: &[&[f32]], output: &mut [f32]) {
    let ok = !inputs.is_empty() && inputs.iter().all(|i| i.len() == output.len());
    debug_assert!(ok, "merge: slice lengths break the contract");
    if !ok {
        return;
    }
    output.copy_from_slice(inputs[0]);
    for input in &inputs[1..] {
        for (o, &x) in output.iter_mut().zip(input.iter()) {
            *o = match op {
                MergeOp::Add | MergeOp::Average => *o + x,
                MergeOp::Subtract => *o - x,
                MergeOp::Multiply => *o * x,
                MergeOp::Maximum => o.max(x),
                MergeOp::Minimum => o.min(x),
            };
        }
    }
    if op == MergeOp::Average {
        let n = inputs.len() as f32;
        for o in output.iter_mut() {
            *o /= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut out = [0.0; 1];
        merge(MergeOp::Average, &[&[1.0], &[2.0], &[6.0]], &mut out);
        assert_eq!(out, [3.0]);
    }
}
