//! Keras's `Concatenate(axis)`.

/// Concatenates along one axis. `outer` is the product of the axes before it (batch
/// excluded); `inner_sizes[i]` is input `i`'s size along the axis times the product of the
/// axes after it. For each outer index the inputs' blocks are copied in input order.
///
/// Contract: `inputs[i].len() == outer * inner_sizes[i]`, and `output.len()` is the sum.
pub fn concatenate(inputs: &[&[f32]], outer: usize, inner_sizes: &[usize], output: &mut [f32]) {
    let total: usize = inner_sizes.iter().sum();
    let ok = inputs.len() == inner_sizes.len()
        && inputs
            .iter()
            .zip(inner_sizes)
            .all(|(i, &n)| Some(i.len()) == outer.checked_mul(n))
        && Some(output.len()) == outer.checked_mul(total);
    debug_assert!(ok, "concatenate: slice lengths break the contract");
    if !ok || total == 0 {
        return;
    }
    for (o, out_block) in output.chunks_exact_mut(total).enumerate() {
        let mut at = 0;
        for (input, &n) in inputs.iter().zip(inner_sizes) {
            out_block[at..at + n].copy_from_slice(&input[o * n..(o + 1) * n]);
            at += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_axis_and_middle_axis() {
        // (2, 2) ++ (2, 1) on the last axis.
        let mut out = [0.0; 6];
        concatenate(&[&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0]], 2, &[2, 1], &mut out);
        assert_eq!(out, [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
        // (1, 2) ++ (1, 2) on axis 1 of a rank-2 sample: one outer block.
        let mut out = [0.0; 4];
        concatenate(&[&[1.0, 2.0], &[3.0, 4.0]], 1, &[2, 2], &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
    }
}
