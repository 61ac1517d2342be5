//! `keras.layers.Dropout(rate)` in training mode (float32 reference). At inference, and
//! with `rate == 0`, Dropout is the identity and this kernel is not needed (Keras's
//! `Dropout.call` returns its input unless `training and rate > 0`).
//!
//! Keras 3.15, JAX backend (`keras/src/backend/jax/random.py`, `dropout`):
//! ```text
//! keep_prob = 1.0 - rate                                  # Python float (f64)
//! mask = jax.random.bernoulli(seed, p=keep_prob, shape)   # uniform_f32(shape) < f32(keep_prob)
//! return jax.lax.select(mask, inputs / keep_prob, zeros_like(inputs))
//! ```
//! The source divides, but the compiled program multiplies: XLA's algebraic simplifier
//! rewrites `x / broadcast(k)` into `x * broadcast(1 / k)`. Measured on Keras 3.15.1 /
//! jax 0.10.2 (CPU), eager and under `jit`: for rates 0.1, 0.2, 0.3, 0.45 and 0.7, every
//! kept value of 10⁵ equals `x * (1 / keep)` bit for bit, while `x / keep` differs on up to
//! a quarter of them (1 ulp). E.g. `Dropout(0.3)` keeps `5.0` as `7.1428576`
//! (`5 * 1.4285715`), not `7.142857` (`5 / 0.7`). This kernel therefore multiplies by the
//! f32 reciprocal. (Only a one-element tensor, where the broadcast disappears, is divided.)

use super::rng::SmallRng;

/// Training-mode dropout of `data`, in place: each value is kept with probability
/// `1 - rate` and then scaled by `1 / (1 - rate)`, or replaced by `0.0`.
///
/// # Contract
/// `0.0 <= rate <= 1.0` (NaN is outside). Debug builds assert it; release builds return
/// without touching `data` (and without drawing) when it is broken. The graph layer
/// rejects rates outside `[0, 1)` when the layer is made.
///
/// # Arithmetic
/// * `rate == 0.0`: identity, and no random number is drawn (as Keras skips the op).
/// * `keep = (1.0 - rate as f64) as f32` (Keras computes `1.0 - rate` in Python floats,
///   then JAX rounds it to f32 once). A `rate` that is only known as an f32 can make
///   `keep` one f32 ulp away from Keras's for some rates (e.g. 0.6, 0.8, 0.9): relative
///   6e-8, far inside the parity tolerance.
/// * `scale = 1.0 / keep` (f32), then for each element in index order: draw
///   `u = rng.next_f32()` (uniform in `[0, 1)`, 23-bit like `jax.random.uniform`);
///   `x ← if u < keep { x * scale } else { 0.0 }`. NaN stays NaN when kept and becomes
///   `0.0` when dropped, as with `select`.
/// * `rate == 1.0` (allowed by Keras's constructor) drops everything.
///
/// The mask is drawn from [`SmallRng`], not from JAX's threefry stream: it has Keras's
/// distribution, never Keras's exact pattern.
pub fn dropout(data: &mut [f32], rate: f32, rng: &mut SmallRng) {
    let ok = (0.0..=1.0).contains(&rate);
    debug_assert!(ok, "dropout: rate must be in [0, 1], got {rate}");
    if !ok || rate == 0.0 {
        return;
    }
    let keep = (1.0 - f64::from(rate)) as f32;
    let scale = 1.0 / keep; // +inf when keep == 0, never used then (u < 0 is false)
    for x in data.iter_mut() {
        *x = if rng.next_f32() < keep {
            *x * scale
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn rate_zero_is_the_identity_and_draws_nothing() {
        let mut rng = SmallRng::new(3);
        let mut data = [1.0f32, -2.0, 3.5, f32::NAN, 0.0];
        dropout(&mut data, 0.0, &mut rng);
        assert_eq!(data[..3], [1.0, -2.0, 3.5]);
        assert!(data[3].is_nan());
        assert_eq!(rng, SmallRng::new(3));
    }

    #[test]
    fn rate_one_drops_everything() {
        let mut rng = SmallRng::new(3);
        let mut data = [1.0f32, -2.0, f32::INFINITY, f32::NAN];
        dropout(&mut data, 1.0, &mut rng);
        assert_eq!(data, [0.0; 4]);
    }

    #[test]
    fn fraction_dropped_is_the_rate_and_kept_values_are_scaled_exactly() {
        for (seed, rate) in [(1u64, 0.1f32), (2, 0.3), (3, 0.5), (4, 0.8)] {
            let mut rng = SmallRng::new(seed);
            // distinct, non-zero values, so a kept value is never 0
            let x: Vec<f32> = (0..10_000)
                .map(|i| (i as f32 + 1.0) * 0.37 - 1850.3)
                .collect();
            assert!(x.iter().all(|&v| v != 0.0));
            let mut y = x.clone();
            dropout(&mut y, rate, &mut rng);
            let keep = (1.0 - f64::from(rate)) as f32;
            let zeros = y.iter().filter(|&&v| v == 0.0).count();
            let frac = zeros as f32 / 10_000.0;
            assert!((frac - rate).abs() <= 0.03, "rate {rate}: {frac} dropped");
            for (&a, &b) in x.iter().zip(&y) {
                assert!(b == 0.0 || b == a * (1.0 / keep), "rate {rate}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn scaling_is_keras_multiply_by_reciprocal() {
        // Keras 3.15.1 (JAX): Dropout(0.3)(full(1000, 5.0), training=True) gives only
        // {0.0, 7.142857551574707}: 5 * f32(1/0.7), whereas 5 / 0.7 = 7.142857074737549.
        let mut rng = SmallRng::new(0);
        let mut data = [5.0f32; 1000];
        dropout(&mut data, 0.3, &mut rng);
        assert!(data.iter().all(|&v| v == 0.0 || v == 7.142_857_6));
        assert!(data.contains(&7.142_857_6));
        assert_ne!(7.142_857_6f32, 5.0 / 0.7f32);
        // rate 0.5: the seed notes' "values of 0 or 2x"
        let mut data = [1.5f32; 64];
        dropout(&mut data, 0.5, &mut rng);
        assert!(data.iter().all(|&v| v == 0.0 || v == 3.0));
    }

    #[test]
    fn keep_probability_is_rounded_once_from_f64() {
        // Python: float32(1.0 - 0.3) = 0.699999988079071
        assert_eq!((1.0 - f64::from(0.3f32)) as f32, 0.7);
    }

    #[test]
    fn same_seed_same_mask() {
        let mut a = [1.0f32; 100];
        let mut b = [1.0f32; 100];
        dropout(&mut a, 0.4, &mut SmallRng::new(9));
        dropout(&mut b, 0.4, &mut SmallRng::new(9));
        assert_eq!(a, b);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn contract_is_debug_asserted() {
        dropout(&mut [1.0], 1.5, &mut SmallRng::new(0));
    }

    proptest! {
        #[test]
        fn every_value_is_dropped_or_scaled(
            x in proptest::collection::vec(-1e6f32..1e6, 0..200),
            rate in 0.0f32..1.0,
            seed in any::<u64>(),
        ) {
            let mut y = x.clone();
            let mut rng = SmallRng::new(seed);
            dropout(&mut y, rate, &mut rng);
            let keep = (1.0 - f64::from(rate)) as f32;
            for (&a, &b) in x.iter().zip(&y) {
                prop_assert!(b == 0.0 || b == a * (1.0 / keep));
            }
            // one draw per element (none for rate 0)
            let mut other = SmallRng::new(seed);
            if rate > 0.0 {
                for _ in 0..x.len() {
                    other.next_u32();
                }
            }
            prop_assert_eq!(rng, other);
        }
    }
}
