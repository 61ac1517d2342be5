//! `fit(shuffle=True)` without storage: a seeded permutation of `0..n` computed index by
//! index (a Feistel network over the next power of two, walking cycles back into
//! range), so a device shuffles any number of samples with no index buffer.
//!
//! It is not JAX's permutation: a shuffled fit has Keras's statistics, never Keras's
//! exact order (use `shuffle = false` to compare with Keras step by step).

use crate::kernels::SmallRng;

/// Rounds of the Feistel network.
const ROUNDS: usize = 4;

/// A permutation of `0..n` drawn from a seed.
///
/// ```
/// use kiln::train::Permutation;
/// let p = Permutation::new(10, 42);
/// let mut seen = [false; 10];
/// for i in 0..10 {
///     seen[p.at(i)] = true;
/// }
/// assert!(seen.iter().all(|&s| s));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permutation {
    n: usize,
    half_bits: u32,
    keys: [u32; ROUNDS],
}

impl Permutation {
    /// A permutation of `0..n` for `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        let bits = usize::BITS - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut rng = SmallRng::new(seed);
        Permutation {
            n,
            half_bits,
            keys: core::array::from_fn(|_| rng.next_u32()),
        }
    }

    /// The identity on `0..n` (no shuffle).
    pub fn identity(n: usize) -> Self {
        Permutation {
            n,
            half_bits: 0,
            keys: [0; ROUNDS],
        }
    }

    /// Where position `i` of the shuffled order comes from.
    pub fn at(&self, i: usize) -> usize {
        if self.half_bits == 0 || i >= self.n {
            return i;
        }
        let mut x = i as u64;
        // Cycle walking: the network permutes 0..2^(2·half_bits) ⊇ 0..n, so following
        // it from a value in range comes back into range.
        loop {
            x = self.feistel(x);
            if (x as usize) < self.n {
                return x as usize;
            }
        }
    }

    fn feistel(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for &key in &self.keys {
            let mixed = (right as u32 ^ key)
                .wrapping_mul(0x9E37_79B9)
                .rotate_left(13);
            let next = left ^ (u64::from(mixed) & mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_index_appears_once(n in 0usize..300, seed: u64) {
            let p = Permutation::new(n, seed);
            let mut seen = std::vec![false; n];
            for i in 0..n {
                let j = p.at(i);
                prop_assert!(j < n && !seen[j]);
                seen[j] = true;
            }
        }
    }

    #[test]
    fn seeds_shuffle_and_identity_does_not() {
        let a: std::vec::Vec<_> = (0..20).map(|i| Permutation::new(20, 1).at(i)).collect();
        let b: std::vec::Vec<_> = (0..20).map(|i| Permutation::new(20, 2).at(i)).collect();
        assert_ne!(a, b);
        assert_ne!(a, (0..20).collect::<std::vec::Vec<_>>());
        assert!((0..20).all(|i| Permutation::identity(20).at(i) == i));
    }
}
