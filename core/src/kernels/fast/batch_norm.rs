//! BatchNormalization at inference, in place: the channels' scales and offsets are worked
//! out [`CHUNK`] at a time, then the pixels stream past once per chunk, each pixel's
//! channels contiguous (the reference visits one channel at a time, a stride apart).

/// Channels whose scale and offset are kept at once: sixteen FPU registers on the M4F.
const CHUNK: usize = 8;

/// [`kernels::batch_norm`](fn@crate::kernels::batch_norm) with `data` as both input and
/// output: its contract (`data` for `input` and `output`) and its bits.
#[allow(clippy::too_many_arguments)] // the Keras weight list, as the reference's
pub fn batch_norm_in_place(
    data: &mut [f32],
    channels: usize,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    mean: &[f32],
    variance: &[f32],
    epsilon: f32,
) {
    let per_channel = |s: &[f32]| s.len() == channels;
    let ok = channels > 0
        && data.len() % channels == 0
        && per_channel(mean)
        && per_channel(variance)
        && gamma.is_none_or(per_channel)
        && beta.is_none_or(per_channel);
    debug_assert!(ok, "batch_norm_in_place: slice lengths break the contract");
    if !ok {
        return;
    }
    let mut first = 0;
    while first < channels {
        let n = CHUNK.min(channels - first);
        let (mut scale, mut offset) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
        for k in 0..n {
            let c = first + k;
            // The reference's operations, in its order.
            let mut inv = 1.0 / libm::sqrtf(variance[c] + epsilon);
            if let Some(g) = gamma {
                inv *= g[c];
            }
            let mut res = -mean[c] * inv;
            if let Some(b) = beta {
                res += b[c];
            }
            scale[k] = inv;
            offset[k] = res;
        }
        for pixel in data.chunks_exact_mut(channels) {
            let Some(values) = pixel.get_mut(first..first + n) else {
                return; // (cannot happen: first + n <= channels = pixel.len())
            };
            if let Ok(block) = <&mut [f32; CHUNK]>::try_from(&mut *values) {
                // A whole chunk: fixed length, so the loop unrolls with no checks.
                for k in 0..CHUNK {
                    block[k] = block[k] * scale[k] + offset[k];
                }
            } else {
                for ((y, &inv), &res) in values.iter_mut().zip(&scale).zip(&offset) {
                    *y = *y * inv + res;
                }
            }
        }
        first += n;
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
            pixels in 1usize..6,
            channels in 1usize..40,
            scale in any::<bool>(),
            center in any::<bool>(),
            seed in any::<u32>(),
        ) {
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / 16_777_216.0 * 8.0 - 4.0
            };
            let mut values = |n: usize| (0..n).map(|_| next()).collect::<Vec<f32>>();
            let input = values(pixels * channels);
            let mean = values(channels);
            let variance: Vec<f32> = values(channels).iter().map(|v| v.abs()).collect();
            let gamma = values(channels);
            let beta = values(channels);
            let (gamma, beta) = (scale.then_some(&gamma[..]), center.then_some(&beta[..]));
            let mut want = std::vec![0.0f32; input.len()];
            crate::kernels::batch_norm(&input, channels, gamma, beta, &mean, &variance, 1e-3, &mut want);
            let mut got = input.clone();
            batch_norm_in_place(&mut got, channels, gamma, beta, &mean, &variance, 1e-3);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }
}
