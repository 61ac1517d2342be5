//! A tiny deterministic pseudo-random generator for the training-mode layers
//! ([`dropout`](mod@super::dropout), [`random_crop`](mod@super::random_crop)); not an op.
//!
//! **It does not reproduce JAX's random streams.** Keras 3 with the JAX backend draws from
//! threefry-2x32 keys split by a `SeedGenerator`; matching that bit for bit is out of scope
//! (and pointless on a microcontroller). What is reproduced is the *distribution*: uniform
//! floats are built exactly as `jax.random.uniform` builds them for float32 (23 random
//! mantissa bits, so values are multiples of 2⁻²³ in `[0, 1)`), and the kernels use them as
//! Keras does (`u < keep_prob` for Dropout, `int(u * n)` for RandomCrop offsets).

/// PCG32 (PCG-XSH-RR: 64-bit LCG state, 32-bit output; O'Neill 2014).
///
/// Small (16 bytes), fast on 32-bit cores, statistically sound, and the same sequence on
/// every target for a given seed. Deliberately not `Copy`, so a stream is not duplicated by
/// accident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmallRng {
    state: u64,
    inc: u64,
}

/// The 64-bit LCG multiplier of the PCG reference implementation.
const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
/// Stream selector used by [`SmallRng::new`]: increment `1442695040888963407`, the usual
/// PCG32 default (kept from kiln's first version, so `new(seed)` sequences are unchanged).
const DEFAULT_STREAM: u64 = 1_442_695_040_888_963_407 >> 1;

impl SmallRng {
    /// A generator seeded with `seed`, on the default stream.
    pub const fn new(seed: u64) -> Self {
        Self::with_stream(seed, DEFAULT_STREAM)
    }

    /// A generator seeded with `seed` on stream `stream` (generators on different streams
    /// give unrelated sequences even with the same seed). Same initialisation as the
    /// reference `pcg32_srandom_r(rng, seed, stream)`.
    pub const fn with_stream(seed: u64, stream: u64) -> Self {
        let inc = (stream << 1) | 1;
        let state = inc.wrapping_add(seed); // one step from state 0, then add the seed
        SmallRng {
            state: state.wrapping_mul(MULTIPLIER).wrapping_add(inc),
            inc,
        }
    }

    /// The next 32 uniformly distributed bits.
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULTIPLIER).wrapping_add(self.inc);
        // Truncations to the low 32 bits are the algorithm (XSH: xorshift high bits).
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// A uniform float in `[0, 1)`, built like `jax.random.uniform` for float32: the top 23
    /// bits of [`next_u32`](Self::next_u32) become the mantissa of a float in `[1, 2)`, then
    /// 1 is subtracted (exact). The result is a multiple of 2⁻²³; `0.0` is possible, `1.0`
    /// is not.
    pub fn next_f32(&mut self) -> f32 {
        f32::from_bits((self.next_u32() >> 9) | 0x3F80_0000) - 1.0
    }

    /// Uniform in `0..bound` without modulo bias (rejection sampling); `0` when
    /// `bound <= 1`. Not what Keras uses for crop offsets (see
    /// [`crop_offset`](super::random_crop::crop_offset)); a general-purpose helper.
    pub fn below(&mut self, bound: u32) -> u32 {
        if bound <= 1 {
            return 0;
        }
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let r = self.next_u32();
            if r >= threshold {
                return r % bound;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_pcg32_reference_vector() {
        // pcg32-demo (pcg-c-basic), pcg32_srandom_r(&rng, 42, 54): first six outputs.
        let mut rng = SmallRng::with_stream(42, 54);
        let want = [
            0xa15c_02b7,
            0x7b47_f409,
            0xba1d_3330,
            0x83d2_f293,
            0xbfa4_784b,
            0xcbed_606e,
        ];
        for w in want {
            assert_eq!(rng.next_u32(), w);
        }
    }

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let mut a = SmallRng::new(7);
        let mut b = SmallRng::new(7);
        let mut c = SmallRng::new(8);
        let mut differ = false;
        for _ in 0..100 {
            let x = a.next_u32();
            assert_eq!(x, b.next_u32());
            differ |= x != c.next_u32();
        }
        assert!(differ);
    }

    #[test]
    fn next_f32_is_a_multiple_of_2_pow_minus_23_in_unit_interval() {
        let mut rng = SmallRng::new(1);
        let mut sum = 0.0f64;
        let n = 10_000;
        for _ in 0..n {
            let u = rng.next_f32();
            assert!((0.0..1.0).contains(&u), "{u}");
            let scaled = u * 8_388_608.0; // 2^23, exact
            assert_eq!(scaled, (scaled as u32) as f32);
            sum += f64::from(u);
        }
        // mean of U[0,1): 0.5 with standard error 0.0029
        assert!((sum / f64::from(n) - 0.5).abs() < 0.015);
    }

    #[test]
    fn new_keeps_the_first_versions_stream() {
        // First output of kiln's first SmallRng::new(5) (increment 1442695040888963407),
        // computed with a Python transcription of the PCG reference.
        assert_eq!(SmallRng::new(5).next_u32(), 0x1430_e55d);
    }

    #[test]
    fn below_stays_below_and_covers_the_range() {
        let mut rng = SmallRng::new(11);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            let v = rng.below(5);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (150..250).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn float_construction_extremes() {
        // bits >> 9 == 0 gives exactly 0.0; all ones gives 1 - 2^-23.
        assert_eq!(f32::from_bits(0x3F80_0000) - 1.0, 0.0);
        assert_eq!(
            f32::from_bits((u32::MAX >> 9) | 0x3F80_0000) - 1.0,
            1.0 - 1.0 / 8_388_608.0
        );
    }
}
