//! One epoch of `fit` on the host, one thread: the MLP 784-128-10 (relu, softmax),
//! 1,000 samples, batch 32 (32 steps, the last of 8), SGD with momentum 0.9,
//! categorical cross-entropy; the model compiled once, each iteration one epoch.
//!
//! `cargo bench -p kiln-host --bench fit` (BENCHMARKS.md "Training" compares it with
//! burn and Keras on JAX).

use criterion::{criterion_group, criterion_main, Criterion};
use kiln::train::{Compile, Loss, Sgd};
use std::hint::black_box;

#[path = "workload/mlp.rs"]
mod workload;

fn fit(c: &mut Criterion) {
    let weights = workload::weights();
    let model = workload::model(&weights);
    let (x, y) = workload::data();
    let options = workload::one_epoch();
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
