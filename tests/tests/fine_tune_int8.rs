//! Fine-tuning a quantized model: an int8 backbone (a LiteRT `.tflite` fixture), frozen,
//! under a float head that trains (`kiln_host::stack`).

use kiln::layers::{Dense, Input};
use kiln::train::{Compile, FitOptions, Loss, Metric, Sgd};
use kiln::{Activation, Heap, Sequential};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use kiln_host::stack::stack;
use kiln_host::HostGraph;
use kiln_tests::fixtures;

fn head(features: u32) -> HostGraph {
    let mut model = Sequential::<Heap>::new();
    model.add(Input::new(&[features])).unwrap();
    model
        .add(Dense::new(3).activation(Activation::Softmax))
        .unwrap();
    let n = (features * 3 + 3) as usize;
    let weights: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.02)
        .collect();
    HostGraph::new(model.into_graph().without_weights(), weights)
}

fn labels(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i * 7 % 3) as f32).collect()
}

/// Trains `model` and returns its weights after `fit`.
fn train(model: &HostGraph, x: &[f32], y: &[f32]) -> (Vec<u8>, f32) {
    let graph = model.graph().unwrap();
    let compile = Compile::new(Sgd::new(0.1).momentum(0.9))
        .loss(Loss::SparseCategoricalCrossentropy { from_logits: false })
        .metric(Metric::Accuracy);
    let plan = graph.train_plan(&compile).unwrap();
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut trainer = graph.compile(compile, &mut arena).unwrap();
    let options = FitOptions {
        batch_size: 8,
        epochs: 3,
        shuffle: true,
        seed: 7,
    };
    let logs = trainer.fit(&[x], &[y], &options, None, &mut ()).unwrap();
    let mut weights = vec![0u8; graph.weights().len()];
    trainer.write_weights(&mut weights).unwrap();
    (weights, logs.train.loss)
}

#[test]
fn an_int8_backbone_stays_frozen_in_flash_while_its_float_head_trains() {
    let dir = fixtures("int8").join("mlp_per_channel");
    let backbone = load_model(dir.join("model.tflite")).unwrap();
    let x = npy::read_f32(dir.join("x.npy")).unwrap();
    let n = x.shape[0];
    let y = labels(n);
    let model = stack(&backbone, &head(10)).unwrap();
    let graph = model.graph().unwrap();

    // Only the head's kernel and bias are in the training arena.
    let compile = Compile::new(Sgd::new(0.1).momentum(0.9))
        .loss(Loss::SparseCategoricalCrossentropy { from_logits: false });
    let plan = graph.train_plan(&compile).unwrap();
    assert_eq!(plan.trainable_bytes(), (10 * 3 + 3) * 4);

    let before = model.weights().to_vec();
    let (after, loss) = train(&model, &x.data, &y);
    assert!(loss.is_finite());
    // The int8 backbone's bytes are untouched; the head's changed.
    let head_start = before.len() - (10 * 3 + 3) * 4;
    assert_eq!(before[..head_start], after[..head_start]);
    assert_ne!(before[head_start..], after[head_start..]);

    // The same as training the head alone on the backbone's dequantized outputs.
    let mut features = vec![0f32; n * 10];
    let front = stack(&backbone, &identity(10)).unwrap();
    let fg = front.graph().unwrap();
    let arena = fg.plan(None).unwrap().arena_bytes();
    fg.predict(&[&x.data], &mut [&mut features], &mut vec![0u8; arena])
        .unwrap();
    let (alone, _) = train(&head(10), &features, &y);
    assert_eq!(
        after[head_start..],
        alone[..],
        "the stacked head trains bit for bit as the head alone"
    );
}

/// A head that passes its input through (a Dense with the identity kernel, frozen).
fn identity(features: u32) -> HostGraph {
    let mut model = Sequential::<Heap>::new();
    model.add(Input::new(&[features])).unwrap();
    model.add(kiln::layers::Flatten).unwrap();
    HostGraph::new(model.into_graph().without_weights(), Vec::new())
}

#[test]
fn stacking_checks_the_widths() {
    let backbone = load_model(
        fixtures("int8")
            .join("mlp_per_channel")
            .join("model.tflite"),
    )
    .unwrap();
    let e = stack(&backbone, &head(7)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the backbone's output has 10 values per sample but the head takes 7"
    );
}
