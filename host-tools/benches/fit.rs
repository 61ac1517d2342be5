//! One epoch of `fit` on the host, one thread: the MLP 784-128-10 (relu, softmax),
//! 1,000 samples, batch 32 (32 steps, the last of 8), SGD with momentum 0.9,
//! categorical cross-entropy; the model compiled once, each iteration one epoch.
//!
//! `cargo bench -p kiln-host --bench fit` (BENCHMARKS.md "Training" compares it with
//! burn and Keras on JAX).

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::layers::{Dense, Input};
use kiln::train::{Compile, FitOptions, Loss, Sgd};
use kiln::{Activation, Heap, Sequential};
use std::hint::black_box;

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

fn fit(c: &mut Criterion) {
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
    let options = FitOptions {
        batch_size: 32,
        epochs: 1,
        shuffle: false,
        seed: 0,
    };
    let mut group = c.benchmark_group("fit");
    group.sample_size(20);
    // The host's way (`kiln fit`): each batch at once; and a device's: one sample at a
    // time. The same bits.
    for (name, whole) in [
        ("mlp_784_128_10_epoch", true),
        ("mlp_784_128_10_epoch_one_sample_at_a_time", false),
    ] {
        let compile = Compile::new(Sgd::new(0.01).momentum(0.9))
            .loss(Loss::CategoricalCrossentropy { from_logits: false })
            .batch_size(32)
            .whole_batch(whole);
        let plan = model.train_plan(&compile).unwrap();
        let mut arena = vec![0u8; plan.train_arena_bytes()];
        let mut trainer = model.compile(compile, &mut arena).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                trainer
                    .fit(&[black_box(&x)], &[&y], &options, None, &mut ())
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fit);
criterion_main!(benches);
