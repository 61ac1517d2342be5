//! One `predict` of one sample on the host, one thread: the models of
//! `tests/fixtures/bench` (MLP, CNN, a one-multiply Dense, the KWS DS-CNN), prepared once.
//!
//! `cargo bench -p kiln-host --bench predict` (`bench/host.sh` runs it beside LiteRT).

use criterion::{criterion_group, criterion_main, Criterion};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use std::hint::black_box;
use std::path::Path;

fn predict(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bench");
    for name in ["mlp", "cnn", "dense1", "kws"] {
        let dir = fixtures.join(name);
        let model = load_model(dir.join("model.keras")).expect("a bench fixture");
        let graph = model.graph().expect("weights");
        let x = npy::read_f32(dir.join("x.npy")).expect("x.npy");
        let sample: usize = x.shape[1..].iter().product();
        let input = &x.data[..sample];
        let prepared = graph.prepare(None).expect("prepare");
        let outputs = prepared.output_elements(0).expect("one output");
        let mut y = vec![0.0f32; outputs];
        let mut arena = vec![0u8; prepared.arena_bytes()];
        c.bench_function(name, |b| {
            b.iter(|| {
                prepared
                    .predict(&[black_box(input)], &mut [&mut y[..]], &mut arena)
                    .expect("predict")
            })
        });
    }
}

criterion_group!(benches, predict);
criterion_main!(benches);
