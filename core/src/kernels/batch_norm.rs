//! `keras.layers.BatchNormalization` at inference (float32 reference).

/// Batch normalization with the moving statistics, over the last axis.
///
/// `input` is any tensor whose last axis has `channels` values (channels fastest).
/// Per channel, in the order the Keras JAX backend uses
/// (`keras/src/backend/jax/nn.py::batch_normalization`):
/// ```text
/// inv = 1 / sqrt(variance + epsilon)
/// inv = inv * gamma            (if gamma, i.e. scale=True)
/// res = -mean * inv
/// res = res + beta             (if beta, i.e. center=True)
/// out = x * inv + res
/// ```
/// All in f32, no FMA. Keras's default `epsilon` is `1e-3`.
///
/// # Slice-length contract
/// `channels > 0`; `input.len()` is a multiple of `channels`; `mean`, `variance` and
/// `gamma`/`beta` (if present) have `channels` values; `output.len() == input.len()`.
/// Debug builds assert it; release builds return without writing `output` when it is
/// broken (never panic).
// The argument list is the Keras weight list (gamma, beta, moving_mean,
// moving_variance) plus epsilon; grouping it would only hide that correspondence.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    input: &[f32],
    channels: usize,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    mean: &[f32],
    variance: &[f32],
    epsilon: f32,
    output: &mut [f32],
) {
    let per_channel = |s: &[f32]| s.len() == channels;
    let ok = channels > 0
        && input.len() % channels == 0
        && output.len() == input.len()
        && per_channel(mean)
        && per_channel(variance)
        && gamma.is_none_or(per_channel)
        && beta.is_none_or(per_channel);
    debug_assert!(ok, "batch_norm: slice lengths break the contract");
    if !ok {
        return;
    }
    // Channel-outer loop: the scale and offset of a channel are computed once, with no
    // scratch buffer; the rows are then visited with a stride of `channels`.
    for c in 0..channels {
        let mut inv = 1.0 / libm::sqrtf(variance[c] + epsilon);
        if let Some(g) = gamma {
            inv *= g[c];
        }
        let mut res = -mean[c] * inv;
        if let Some(b) = beta {
            res += b[c];
        }
        for (y, &x) in output
            .iter_mut()
            .skip(c)
            .step_by(channels)
            .zip(input.iter().skip(c).step_by(channels))
        {
            *y = x * inv + res;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::test_util::assert_all_close;
    use std::vec::Vec;

    #[test]
    fn exact_case_with_gamma_and_beta() {
        // mean [1, -2], var [4, 0.25], eps 0 -> inv [0.5, 2]; gamma [2, 1] -> inv [1, 2];
        // res = -mean*inv + beta = [-1 + 0.5, 4 + 0] = [-0.5, 4]
        // rows [3, -1] -> [2.5, 2]; [0, 0.5] -> [-0.5, 5]
        let mut out = [0.0; 4];
        batch_norm(
            &[3.0, -1.0, 0.0, 0.5],
            2,
            Some(&[2.0, 1.0]),
            Some(&[0.5, 0.0]),
            &[1.0, -2.0],
            &[4.0, 0.25],
            0.0,
            &mut out,
        );
        assert_eq!(out, [2.5, 2.0, -0.5, 5.0]);
    }

    #[test]
    fn without_scale_and_center() {
        // inv [0.5, 2], res [-0.5, 4]: [3, -1] -> [1, 2]
        let mut out = [0.0; 2];
        batch_norm(
            &[3.0, -1.0],
            2,
            None,
            None,
            &[1.0, -2.0],
            &[4.0, 0.25],
            0.0,
            &mut out,
        );
        assert_eq!(out, [1.0, 2.0]);
    }

    #[test]
    fn keras_default_epsilon() {
        // one channel, mean 0.5, var 2, eps 1e-3, gamma 1.5, beta -0.25
        // (x - mean) * gamma / sqrt(var + eps) + beta, checked in f64
        let xs = [-1.0f32, 0.0, 0.5, 2.0, 10.0];
        let mut out = [0.0; 5];
        batch_norm(
            &xs,
            1,
            Some(&[1.5]),
            Some(&[-0.25]),
            &[0.5],
            &[2.0],
            1e-3,
            &mut out,
        );
        let expected: Vec<f32> = xs
            .iter()
            .map(|&x| ((x as f64 - 0.5) * 1.5 / (2.001f64).sqrt() - 0.25) as f32)
            .collect();
        assert_all_close(&out, &expected);
        // x = 2: (1.5 * 1.5) / 1.4145671 - 0.25 = 1.3406
        assert_all_close(&out[3..4], &[1.340_591_3]);
    }

    #[test]
    fn rank_3_input_uses_last_axis() {
        // (2, 2, 3): channel c has mean c, var 1, eps 0 -> x - c
        let x: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut out = [0.0; 12];
        batch_norm(
            &x,
            3,
            None,
            None,
            &[0.0, 1.0, 2.0],
            &[1.0; 3],
            0.0,
            &mut out,
        );
        let expected: Vec<f32> = (0..12).map(|v| (v - v % 3) as f32).collect();
        assert_eq!(&out[..], &expected[..]);
    }
}
