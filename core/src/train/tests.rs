//! The trainer end to end: gradients of whole models against finite differences of
//! their loss (Dropout's mask included), all-or-nothing steps, frozen layers.

extern crate std;
use super::*;
use crate::graph::LayerBuilder;
use crate::layers::{Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D};
use crate::Error;
use crate::{Activation, Fixed, Sequential};
use std::vec;
use std::vec::Vec;

type Model = Sequential<'static, Fixed<16>>;

fn mlp() -> (Model, Vec<f32>) {
    let mut m = Model::new();
    m.add(Input::new(&[3])).unwrap();
    m.add(Dense::new(4).activation(Activation::Tanh)).unwrap();
    m.add(Dropout::new(0.5)).unwrap();
    m.add(Dense::new(2).activation(Activation::Softmax))
        .unwrap();
    let n = 3 * 4 + 4 + 4 * 2 + 2;
    let w = (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.15).collect();
    (m, w)
}

fn cnn() -> (Model, Vec<f32>) {
    let mut m = Model::new();
    m.add(Input::new(&[5, 5, 1])).unwrap();
    m.add(Conv2D::new(2, [3, 3]).activation(Activation::Relu))
        .unwrap();
    m.add(MaxPooling2D::new([2, 2])).unwrap();
    m.add(Flatten).unwrap();
    m.add(Dense::new(2)).unwrap();
    let n = 9 * 2 + 2 + 2 * 2 + 2;
    let w = (0..n).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.1).collect();
    (m, w)
}

type G = crate::Graph<'static, Fixed<16>>;

/// The pre-update loss of one step on `(x, y)` with weights `w` (a fresh trainer, so
/// the same Dropout mask every time).
fn loss(m: &G, w: &[f32], x: &[&[f32]], y: &[f32], compile: &Compile) -> f32 {
    let mut m = m.clone();
    let w: &'static [f32] = std::boxed::Box::leak(w.to_vec().into_boxed_slice());
    m.set_weights(w).unwrap();
    let mut arena = vec![0u8; m.train_plan(compile).unwrap().train_arena_bytes()];
    let mut t = m.compile(compile.clone(), &mut arena).unwrap();
    t.train_on_batch(&Data { x, y: &[y] }).unwrap().loss
}

/// The gradient, from one SGD step of learning rate 1: `w - w'`.
fn gradient(m: &G, w: &[f32], x: &[&[f32]], y: &[f32], loss_fn: Loss) -> Vec<f32> {
    let mut m = m.clone();
    let w: &'static [f32] = std::boxed::Box::leak(w.to_vec().into_boxed_slice());
    m.set_weights(w).unwrap();
    let compile = Compile::new(Sgd::new(1.0)).loss(loss_fn);
    let mut arena = vec![0u8; m.train_plan(&compile).unwrap().train_arena_bytes()];
    let mut t = m.compile(compile, &mut arena).unwrap();
    t.train_on_batch(&Data { x, y: &[y] }).unwrap();
    let mut after = vec![0f32; w.len()];
    t.write_weights(bytemuck::cast_slice_mut(&mut after))
        .unwrap();
    w.iter().zip(&after).map(|(a, b)| a - b).collect()
}

/// The trainer's gradient of every weight against central differences of its loss.
fn check_graph(m: &G, w: &[f32], x: &[&[f32]], y: &[f32], loss_fn: Loss) {
    let g = gradient(m, w, x, y, loss_fn);
    let compile = Compile::new(Sgd::new(0.0)).loss(loss_fn);
    for i in 0..w.len() {
        let h = 1e-2f32;
        let (mut plus, mut minus) = (w.to_vec(), w.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let numeric =
            (loss(m, &plus, x, y, &compile) - loss(m, &minus, x, y, &compile)) / (2.0 * h);
        let tolerance = 2e-3 + 3e-2 * numeric.abs().max(g[i].abs());
        assert!(
            (g[i] - numeric).abs() <= tolerance,
            "weight {i}: gradient {} vs finite differences {numeric}",
            g[i]
        );
    }
}

fn check(m: &Model, w: &[f32], x: &[f32], y: &[f32], loss_fn: Loss) {
    check_graph(m.graph(), w, &[x], y, loss_fn);
}

/// Weights in a small range, different for each index.
fn weights(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.08).collect()
}

/// Inputs away from zero (no kink of a relu on the way exactly at 0).
fn inputs(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i + seed) * 5 % 11) as f32 - 5.2) * 0.2)
        .collect()
}

#[cfg_attr(
    feature = "fast-math",
    ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm"
)]
#[test]
fn an_mlp_with_dropout_has_the_gradient_of_its_training_loss() {
    let (m, w) = mlp();
    let x = [0.5f32, -1.0, 0.25, 1.5, 0.3, -0.7, -0.2, 0.8, 1.1];
    let y = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0];
    check(
        &m,
        &w,
        &x,
        &y,
        Loss::CategoricalCrossentropy { from_logits: false },
    );
}

#[test]
fn a_cnn_has_the_gradient_of_its_loss() {
    let (m, w) = cnn();
    let x: Vec<f32> = (0..50).map(|i| ((i * 3 % 7) as f32 - 3.0) * 0.3).collect();
    let y = [0.5f32, -0.5, 1.0, 0.25];
    check(&m, &w, &x, &y, Loss::MeanSquaredError);
}

#[test]
fn dropout_drops_in_fit_and_not_in_evaluate() {
    let (mut m, w) = mlp();
    let w: &'static [f32] = std::boxed::Box::leak(w.into_boxed_slice());
    m.set_weights(w).unwrap();
    let compile =
        Compile::new(Sgd::new(0.0)).loss(Loss::CategoricalCrossentropy { from_logits: false });
    let mut arena = vec![0u8; m.train_plan(&compile).unwrap().train_arena_bytes()];
    let mut t = m.compile(compile, &mut arena).unwrap();
    let (x, y) = ([0.5f32, -1.0, 0.25], [1.0f32, 0.0]);
    let data = Data { x: &[&x], y: &[&y] };
    let evaluated = t.evaluate(&data, 1).unwrap().loss;
    let trained = t.train_on_batch(&data).unwrap().loss;
    assert_ne!(
        evaluated, trained,
        "Dropout(0.5) changes the training forward pass"
    );
    assert_eq!(
        t.evaluate(&data, 1).unwrap().loss,
        evaluated,
        "and never evaluate's"
    );
}

#[test]
fn a_step_that_would_overflow_is_not_applied() {
    let mut m = Model::new();
    m.add(Input::new(&[3])).unwrap();
    m.add(Dense::new(2)).unwrap();
    let w: &'static [f32] = &[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.0, 0.1];
    m.set_weights(w).unwrap();
    let compile = Compile::new(Sgd::new(1e12).momentum(0.5)).loss(Loss::MeanSquaredError);
    let mut arena = vec![0u8; m.train_plan(&compile).unwrap().train_arena_bytes()];
    let mut t = m.compile(compile, &mut arena).unwrap();
    let (x, y) = ([0.5f32, -1.0, 0.25], [1.0f32, 0.0]);
    let data = Data { x: &[&x], y: &[&y] };
    let mut last_good = vec![0f32; w.len()];
    let error = loop {
        t.write_weights(bytemuck::cast_slice_mut(&mut last_good))
            .unwrap();
        match t.train_on_batch(&data) {
            Ok(_) => assert!(t.iterations() < 10, "the weights should overflow"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, Error::Train(TrainError::NonFinite { .. })),
        "{error}"
    );
    let mut now = vec![0f32; w.len()];
    t.write_weights(bytemuck::cast_slice_mut(&mut now)).unwrap();
    assert_eq!(
        now, last_good,
        "the weights are those of the last good step"
    );
    // A NaN in the data: the very first step is refused, the weights are the initial ones.
    let mut t = {
        let compile = Compile::new(Sgd::new(0.1)).loss(Loss::MeanSquaredError);
        m.compile(compile, &mut arena).unwrap()
    };
    let nan = [f32::NAN, 0.0, 0.0];
    let e = t
        .train_on_batch(&Data {
            x: &[&nan],
            y: &[&y],
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Train(TrainError::NonFinite {
            what: "loss",
            step: 1
        })
    );
    t.write_weights(bytemuck::cast_slice_mut(&mut now)).unwrap();
    assert_eq!(now, w);
    assert_eq!(t.iterations(), 0);
}

#[test]
fn frozen_layers_are_not_in_ram_and_do_not_change() {
    let mut m = Model::new();
    m.add(Input::new(&[3])).unwrap();
    m.add(Dense::new(4).trainable(false)).unwrap();
    m.add(Dense::new(2)).unwrap();
    let w: Vec<f32> = (0..26).map(|i| i as f32 * 0.01).collect();
    let w: &'static [f32] = std::boxed::Box::leak(w.into_boxed_slice());
    m.set_weights(w).unwrap();
    let compile = Compile::new(Sgd::new(0.1).weight_decay(0.1)).loss(Loss::MeanSquaredError);
    let plan = m.train_plan(&compile).unwrap();
    assert_eq!(plan.trainable_bytes(), (4 * 2 + 2) * 4);
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut t = m.compile(compile, &mut arena).unwrap();
    let (x, y) = ([0.5f32, -1.0, 0.25], [1.0f32, 0.0]);
    t.train_on_batch(&Data { x: &[&x], y: &[&y] }).unwrap();
    let mut now = vec![0f32; 26];
    t.write_weights(bytemuck::cast_slice_mut(&mut now)).unwrap();
    assert_eq!(now[..16], w[..16], "the frozen Dense is bit-identical");
    assert_ne!(now[16..], w[16..]);
}

#[test]
fn compile_refuses_what_cannot_train_before_any_step() {
    let (mut m, w) = mlp();
    let w: &'static [f32] = std::boxed::Box::leak(w.into_boxed_slice());
    m.set_weights(w).unwrap();
    let two = Compile::new(Sgd::new(0.1))
        .loss(Loss::MeanSquaredError)
        .loss(Loss::MeanSquaredError);
    assert_eq!(
        m.train_plan(&two).unwrap_err(),
        Error::Train(TrainError::LossCount {
            outputs: 1,
            losses: 2
        })
    );
    let compile = Compile::new(Sgd::new(0.1)).loss(Loss::MeanSquaredError);
    let needed = m.train_plan(&compile).unwrap().train_arena_bytes();
    let mut small = vec![0u8; needed - 8];
    assert!(matches!(
        m.compile(compile, &mut small),
        Err(Error::ArenaTooSmall { .. })
    ));
}

#[test]
fn separable_and_depthwise_convolutions_and_spatial_layers_have_the_gradient_of_their_loss() {
    use crate::layers::{
        AveragePooling2D, Cropping2D, DepthwiseConv2D, GlobalAveragePooling2D, SeparableConv2D,
        UpSampling2D, ZeroPadding2D,
    };
    let mut m = Model::new();
    m.add(Input::new(&[4, 4, 2])).unwrap();
    m.add(ZeroPadding2D::new([[1, 0], [0, 1]])).unwrap();
    m.add(
        SeparableConv2D::new(2, [3, 3])
            .depth_multiplier(2)
            .activation(Activation::Gelu { approximate: false }),
    )
    .unwrap();
    m.add(Cropping2D::new([[0, 1], [1, 0]])).unwrap();
    m.add(UpSampling2D::new([2, 2])).unwrap();
    m.add(DepthwiseConv2D::new([2, 2]).activation(Activation::Tanh))
        .unwrap();
    m.add(AveragePooling2D::new([2, 2])).unwrap();
    m.add(GlobalAveragePooling2D::new()).unwrap();
    let n = m.graph().weight_bytes() / 4;
    let x = inputs(2 * 32, 1);
    check(
        &m,
        &weights(n),
        &x,
        &[0.3, -0.2, 0.1, 0.4],
        Loss::MeanSquaredError,
    );
}

#[cfg_attr(
    feature = "fast-math",
    ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm"
)]
#[test]
fn merges_and_concatenate_have_the_gradient_of_their_loss() {
    use crate::layers::{Add, Concatenate, Maximum, Multiply, Subtract};
    let mut f = crate::Functional::<Fixed<16>>::new();
    let a = f.input(Input::new(&[3])).unwrap();
    let b = f.input(Input::new(&[3])).unwrap();
    let da = f
        .call(Dense::new(3).activation(Activation::Tanh), &[a])
        .unwrap();
    let db = f.call(Dense::new(3), &[b]).unwrap();
    let sum = f.call(Add, &[da, db]).unwrap();
    let product = f.call(Multiply, &[sum, da]).unwrap();
    let difference = f.call(Subtract, &[product, db]).unwrap();
    let max = f.call(Maximum, &[difference, da]).unwrap();
    let both = f.call(Concatenate::new(), &[max, sum]).unwrap();
    let y = f
        .call(Dense::new(2).activation(Activation::Softmax), &[both])
        .unwrap();
    let g = f.model(&[a, b], &[y]).unwrap();
    let n = g.weight_bytes() / 4;
    let (x0, x1) = (inputs(6, 2), inputs(6, 7));
    check_graph(
        &g,
        &weights(n),
        &[&x0, &x1],
        &[1.0, 0.0, 0.0, 1.0],
        Loss::CategoricalCrossentropy { from_logits: false },
    );
}

#[test]
fn batch_normalization_in_training_has_the_gradient_of_the_batch_loss() {
    use crate::layers::BatchNormalization;
    let mut m = Model::new();
    m.add(Input::new(&[3])).unwrap();
    m.add(Dense::new(4)).unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(Dense::new(2)).unwrap();
    // gamma ~1, moving variance 1 (the moving statistics are not used in training).
    let mut w = weights(3 * 4 + 4 + 4 * 4 + 4 * 2 + 2);
    for i in 0..4 {
        w[16 + i] = 1.0 + 0.1 * i as f32; // gamma
        w[28 + i] = 1.0; // moving_variance
    }
    let x = inputs(5 * 3, 3);
    let y = inputs(5 * 2, 4);
    // Only the trainable ones are checked: the moving statistics change, but not by SGD.
    let g = gradient(m.graph(), &w, &[&x], &y, Loss::MeanSquaredError);
    let compile = Compile::new(Sgd::new(0.0)).loss(Loss::MeanSquaredError);
    for i in (0..w.len()).filter(|i| !(24..32).contains(i)) {
        let h = 1e-2f32;
        let (mut plus, mut minus) = (w.clone(), w.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (loss(m.graph(), &plus, &[&x], &y, &compile)
            - loss(m.graph(), &minus, &[&x], &y, &compile))
            / (2.0 * h);
        let tolerance = 2e-3 + 3e-2 * numeric.abs().max(g[i].abs());
        assert!(
            (g[i] - numeric).abs() <= tolerance,
            "weight {i}: gradient {} vs finite differences {numeric}",
            g[i]
        );
    }
}
