//! The losses of kiln's `fit` on the workload of host-tools/benches/fit.rs (same model,
//! weights, data and options), for bench/train.sh to set beside burn's and Keras's: the
//! first epoch's and, after EPOCHS more, the last one's. Not timed.
//!
//!   kiln-bench-loss [EPOCHS]

use kiln::layers::{Dense, Input};
use kiln::train::{Compile, FitOptions, Loss, Sgd};
use kiln::{Activation, Heap, Sequential};

/// Deterministic values in [-1, 1): the bench's LCG.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .map_or(20, |e| e.parse().expect("EPOCHS"));
    let mut model = Sequential::<Heap>::new();
    model.add(Input::new(&[784])).unwrap();
    model
        .add(Dense::new(128).activation(Activation::Relu))
        .unwrap();
    model
        .add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    let weights: Vec<f32> = values(784 * 128 + 128 + 128 * 10 + 10, 1)
        .into_iter()
        .map(|w| w * 0.05)
        .collect();
    model.set_weights(&weights).unwrap();
    let n = 1000;
    let x: Vec<f32> = values(n * 784, 2)
        .into_iter()
        .map(|v| (v + 1.0) * 0.5)
        .collect();
    let mut y = vec![0.0f32; n * 10];
    for (i, row) in y.chunks_mut(10).enumerate() {
        row[i * 7 % 10] = 1.0;
    }
    let compile = Compile::new(Sgd::new(0.01).momentum(0.9))
        .loss(Loss::CategoricalCrossentropy { from_logits: false });
    let plan = model.train_plan(&compile).unwrap();
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut trainer = model.compile(compile, &mut arena).unwrap();
    let options = FitOptions {
        batch_size: 32,
        epochs: 1,
        shuffle: false,
        seed: 0,
    };
    let mut epoch = || trainer.fit(&[&x], &[&y], &options, None, &mut ()).unwrap().train.loss;
    let first = epoch();
    let mut last = first;
    for _ in 0..epochs {
        last = epoch();
    }
    println!(
        "{{\"impl\": \"kiln\", \"epochs\": {epochs}, \"first_epoch_loss\": {first:.6}, \
         \"last_epoch_loss\": {last:.6}}}"
    );
}
