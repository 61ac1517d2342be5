//! `keras.layers.GlobalAveragePooling2D` and `GlobalMaxPooling2D` (float32 reference;
//! also the 1-D variants, since only the flattened spatial size matters).

use super::float::max_nan;

/// Mean over the spatial positions, per channel (Keras `ops.mean(x, axis=[1, 2])`).
///
/// `input` is `(spatial, channels)`, channels fastest, with `spatial = H * W`;
/// `output[c] = (Σ_p input[p, c]) / spatial`.
///
/// # Slice-length contract
/// `input.len() == spatial * channels` and `output.len() == channels`. Debug builds
/// assert it; release builds return without writing `output` when it is broken.
///
/// # Arithmetic
/// `sum = 0.0`, then `sum += x` for `p = 0, 1, …` in order, then one division by
/// `spatial as f32` (as `jnp.mean` divides the sum by the count). `spatial == 0` gives
/// `0/0 = NaN`.
pub fn global_average_pool(input: &[f32], spatial: usize, channels: usize, output: &mut [f32]) {
    let ok = contract_holds(input, spatial, channels, output);
    debug_assert!(ok, "global_average_pool: slice lengths break the contract");
    if !ok || channels == 0 {
        return;
    }
    output.fill(0.0);
    for px in input.chunks_exact(channels) {
        for (acc, &x) in output.iter_mut().zip(px) {
            *acc += x;
        }
    }
    let n = spatial as f32;
    for acc in output.iter_mut() {
        *acc /= n;
    }
}

/// Maximum over the spatial positions, per channel (Keras `ops.max(x, axis=[1, 2])`).
///
/// `input` is `(spatial, channels)`, channels fastest. NaN propagates (XLA `max`);
/// `spatial == 0` gives `-inf`.
///
/// # Slice-length contract
/// `input.len() == spatial * channels` and `output.len() == channels`. Debug builds
/// assert it; release builds return without writing `output` when it is broken.
pub fn global_max_pool(input: &[f32], spatial: usize, channels: usize, output: &mut [f32]) {
    let ok = contract_holds(input, spatial, channels, output);
    debug_assert!(ok, "global_max_pool: slice lengths break the contract");
    if !ok || channels == 0 {
        return;
    }
    output.fill(f32::NEG_INFINITY);
    for px in input.chunks_exact(channels) {
        for (acc, &x) in output.iter_mut().zip(px) {
            *acc = max_nan(*acc, x);
        }
    }
}

fn contract_holds(input: &[f32], spatial: usize, channels: usize, output: &[f32]) -> bool {
    spatial.checked_mul(channels) == Some(input.len()) && output.len() == channels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::assert_all_close;

    // 2×2 spatial, 2 channels: channel 0 = [1, 2, 3, 4], channel 1 = [10, 20, 30, -40]
    const X: [f32; 8] = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, -40.0];

    #[test]
    fn average() {
        let mut out = [f32::NAN; 2];
        global_average_pool(&X, 4, 2, &mut out);
        assert_eq!(out, [2.5, 5.0]);
    }

    #[test]
    fn average_non_dyadic_count() {
        // mean of [0.1, 0.2, 0.4] = 0.7 / 3
        let mut out = [0.0];
        global_average_pool(&[0.1, 0.2, 0.4], 3, 1, &mut out);
        assert_all_close(&out, &[0.233_333_33]);
    }

    #[test]
    fn max() {
        let mut out = [0.0; 2];
        global_max_pool(&X, 4, 2, &mut out);
        assert_eq!(out, [4.0, 30.0]);
        global_max_pool(&[-3.0, -1.0, -2.0], 3, 1, &mut out[..1]);
        assert_eq!(out[0], -1.0);
        global_max_pool(&[1.0, f32::NAN, 2.0], 3, 1, &mut out[..1]);
        assert!(out[0].is_nan());
    }

    #[test]
    fn single_position_is_identity() {
        let mut out = [0.0; 3];
        global_average_pool(&[1.5, -2.0, 7.0], 1, 3, &mut out);
        assert_eq!(out, [1.5, -2.0, 7.0]);
        global_max_pool(&[1.5, -2.0, 7.0], 1, 3, &mut out);
        assert_eq!(out, [1.5, -2.0, 7.0]);
    }
}
