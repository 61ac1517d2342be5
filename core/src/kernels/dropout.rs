//! `keras.layers.Dropout` in training: each value kept with probability `1 - rate` and
//! divided by `1 - rate`, as Keras's JAX backend computes `x / keep_prob` (KERAS-NOTES §3:
//! rate 0.5 gives 0 or 2x). At inference Dropout is the identity and this is not called.

use super::rng::SmallRng;

/// Applies dropout to `data` in place.
pub fn dropout(data: &mut [f32], rate: f32, rng: &mut SmallRng) {
    let keep = 1.0 - rate;
    // Rate 0 (or NaN, rejected when the layer is made) keeps everything.
    if rate.partial_cmp(&0.0) != Some(core::cmp::Ordering::Greater) {
        return;
    }
    for x in data.iter_mut() {
        *x = if rng.next_f32() < keep {
            *x / keep
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_expected_fraction_scaled() {
        let mut rng = SmallRng::new(3);
        let mut data = [1.5f32; 10_000];
        dropout(&mut data, 0.5, &mut rng);
        let zeros = data.iter().filter(|&&x| x == 0.0).count();
        assert!((zeros as f32 / 10_000.0 - 0.5).abs() < 0.03, "{zeros}");
        assert!(data.iter().all(|&x| x == 0.0 || x == 3.0));
    }

    #[test]
    fn rate_zero_is_identity() {
        let mut rng = SmallRng::new(3);
        let mut data = [1.0f32, -2.0, 3.5];
        dropout(&mut data, 0.0, &mut rng);
        assert_eq!(data, [1.0, -2.0, 3.5]);
    }
}
