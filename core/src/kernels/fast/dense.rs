//! Dense with [`BLOCK`] outputs in registers: for each block, the weights of those
//! outputs are read once, row by row, while the sums stay put.

use super::block::{block8, Rows, BLOCK};
#[cfg(not(target_arch = "arm"))]
use super::{axpy_rows, store_in_place};
use super::{finish, store};
use crate::graph::config::Activation;

/// `activation(input · kernel + bias)`, the contract and sums of
/// [`kernels::dense`](fn@crate::kernels::dense): each output starts at its bias and adds
/// `x[i] * kernel[i][o]` for `i = 0, 1, …`; the same bits.
pub fn dense(
    input: &[f32],
    in_features: usize,
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
    activation: Activation,
) {
    let ok = crate::kernels::dense::contract_holds(input, in_features, kernel, bias, output);
    debug_assert!(ok, "dense: slice lengths break the contract");
    if !ok {
        return;
    }
    let units = kernel.len() / in_features;
    if units == 0 {
        return;
    }
    // Without the Cortex-M block (hosts): the outputs are one vector that each input row
    // adds its weights to, a loop LLVM vectorizes across outputs. Each output still takes
    // its bias, then `x[i] * w` for i = 0, 1, …: the same bits.
    //
    // Several rows (a rank-3 input, or a batch training at once) go through the kernel
    // four of its rows at a time, each set of four used by every row while it is in
    // cache; each output still adds its terms in the same order.
    #[cfg(not(target_arch = "arm"))]
    {
        for y_row in output.chunks_exact_mut(units) {
            match bias {
                Some(b) => y_row.copy_from_slice(b),
                None => y_row.fill(0.0),
            }
        }
        let mut start = 0;
        while start < in_features {
            let end = (start + 4).min(in_features);
            let w = &kernel[start * units..end * units];
            for (x_row, y_row) in input
                .chunks_exact(in_features)
                .zip(output.chunks_exact_mut(units))
            {
                axpy_rows(y_row, &x_row[start..end], w);
            }
            start = end;
        }
        for y_row in output.chunks_exact_mut(units) {
            store_in_place(y_row, activation);
            finish(y_row, activation, units);
        }
        return;
    }
    #[allow(unreachable_code)]
    for (x_row, y_row) in input
        .chunks_exact(in_features)
        .zip(output.chunks_exact_mut(units))
    {
        let mut j = 0;
        while j + BLOCK <= units {
            let mut sums = bias
                .and_then(|b| b.get(j..)?.first_chunk::<BLOCK>())
                .copied()
                .unwrap_or([0.0; BLOCK]);
            // From column j, row i of the kernel starts with the block's weights for input i.
            block8(
                &mut sums,
                x_row,
                &kernel[j..],
                Rows::one(in_features, units),
            );
            store(&mut y_row[j..j + BLOCK], &sums, activation);
            j += BLOCK;
        }
        for o in j..units {
            let mut sum = bias.and_then(|b| b.get(o)).copied().unwrap_or(0.0);
            for (&x, row) in x_row.iter().zip(kernel[o..].chunks(units)) {
                if let Some(&w) = row.first() {
                    sum += x * w;
                }
            }
            store(&mut y_row[o..=o], &[sum], activation);
        }
        finish(y_row, activation, units);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn same_bits_as_the_reference(
            rows in 1usize..4,
            in_features in 1usize..20,
            units in 1usize..30,
            seed in any::<u32>(),
            with_bias in any::<bool>(),
            act in 0usize..4,
        ) {
            let activation = [Activation::Linear, Activation::Relu, Activation::Relu6, Activation::Tanh][act];
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let input: Vec<f32> = (0..rows * in_features).map(|_| next()).collect();
            let kernel: Vec<f32> = (0..in_features * units).map(|_| next()).collect();
            let bias: Vec<f32> = (0..units).map(|_| next()).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let mut want = std::vec![0.0f32; rows * units];
            crate::kernels::dense(&input, in_features, &kernel, bias, &mut want);
            activation.apply(&mut want, units);
            let mut got = std::vec![f32::NAN; rows * units];
            dense(&input, in_features, &kernel, bias, &mut got, activation);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
