//! The training benchmarks' workload, one definition for `host-tools/benches/fit.rs` and
//! `bench/train/kiln-loss` (which includes this file): the MLP 784-128-10 (Dense 128 relu,
//! Dense 10 softmax) with seeded weights, 1,000 samples and their one-hot labels, batches of
//! 32 unshuffled. burn's bench (`bench/train/burn`) repeats the LCG to get the same values.

use kiln::layers::{Dense, Input};
use kiln::train::FitOptions;
use kiln::{Activation, Heap, Sequential};

/// Samples in the data set.
pub const SAMPLES: usize = 1000;

/// Deterministic values in [-1, 1): the benches' LCG.
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

/// The model's weights (Keras's `get_weights()` order).
pub fn weights() -> Vec<f32> {
    values(784 * 128 + 128 + 128 * 10 + 10, 1)
        .into_iter()
        .map(|w| w * 0.05)
        .collect()
}

/// The model, borrowing `weights` (from [`weights`]).
pub fn model(weights: &[f32]) -> Sequential<'_, Heap> {
    let mut model = Sequential::<Heap>::new();
    model.add(Input::new(&[784])).unwrap();
    model
        .add(Dense::new(128).activation(Activation::Relu))
        .unwrap();
    model
        .add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    model.set_weights(weights).unwrap();
    model
}

/// The inputs (in [0, 1)) and one-hot labels.
pub fn data() -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = values(SAMPLES * 784, 2)
        .into_iter()
        .map(|v| (v + 1.0) * 0.5)
        .collect();
    let mut y = vec![0.0f32; SAMPLES * 10];
    for (i, row) in y.chunks_mut(10).enumerate() {
        row[i * 7 % 10] = 1.0;
    }
    (x, y)
}

/// One epoch of batches of 32, in order.
pub fn one_epoch() -> FitOptions {
    FitOptions {
        batch_size: 32,
        epochs: 1,
        shuffle: false,
        seed: 0,
    }
}
