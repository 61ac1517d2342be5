//! The seed's three examples (the Keras `Model` docstring) built with kiln's Rust API,
//! checked against what real Keras printed and predicted for the same code
//! (tests/fixtures/functional/seed_*, subclassed*). Weights come from the fixtures.

use kiln::graph::LayerId;
use kiln::layers::{Conv2D, Dense, Dropout, GlobalAveragePooling2D, Input, RandomCrop};
use kiln::model::{Call, Subclassed};
use kiln::{Activation, Error, Functional, Graph, Shape, Tensor};
use kiln_host::formats::keras_archive::KerasArchive;
use kiln_host::load::load_model;
use kiln_tests::parity::{arrays, check_summary_cases};
use kiln_tests::{allclose, fixtures, Failures};

/// Room for the seed's layers, inline as on a device.
type Room = kiln::Fixed<16>;

/// ```python
/// inputs = keras.Input(shape=(None, None, 3))
/// processed = keras.layers.RandomCrop(width=128, height=128)(inputs)
/// conv = keras.layers.Conv2D(filters=32, kernel_size=3)(processed)
/// pooling = keras.layers.GlobalAveragePooling2D()(conv)
/// feature = keras.layers.Dense(10)(pooling)
/// full_model = keras.Model(inputs, feature)
/// backbone = keras.Model(processed, conv)
/// activations = keras.Model(conv, feature)
/// ```
fn seed_functional() -> Result<[Graph<'static, Room>; 3], Error> {
    let mut ws = Functional::<Room>::new();
    let inputs = ws.input(Input::with_dims(&[None, None, Some(3)]))?;
    let processed = ws.call(RandomCrop::new(128, 128), &[inputs])?;
    let conv = ws.call(Conv2D::new(32, [3, 3]), &[processed])?;
    let pooling = ws.call(GlobalAveragePooling2D::new(), &[conv])?;
    let feature = ws.call(Dense::new(10), &[pooling])?;
    let full_model = ws.model(&[inputs], &[feature])?;
    let backbone = ws.model(&[processed], &[conv])?;
    let activations = ws.model(&[conv], &[feature])?;
    Ok([full_model, backbone, activations])
}

fn predict<S: kiln::Storage>(graph: &Graph<'_, S>, x: &kiln_host::formats::NpyArray) -> Vec<f32> {
    let shape = Shape::new(&x.shape.iter().map(|&d| Some(d as u32)).collect::<Vec<_>>()).unwrap();
    let shapes = graph.sample_shapes(Some(&[shape])).unwrap();
    let out = shapes[graph.output_nodes()[0] as usize]
        .sample_elements()
        .unwrap()
        * x.shape[0];
    let plan = graph.plan(Some(&[shape])).unwrap();
    let mut arena = vec![0u8; plan.arena_bytes()];
    let mut y = vec![f32::NAN; out];
    graph
        .predict_with_shapes(Some(&[shape]), &[&x.data], &mut [&mut y], &mut arena)
        .unwrap();
    y
}

#[test]
fn seed_functional_example_matches_keras() {
    let models = seed_functional().unwrap();
    // The three models share one weight buffer; Keras's full_model file holds all of it
    // in the same order (conv2d, then dense).
    let keras = load_model(fixtures("functional/seed_full/model.keras")).unwrap();
    let weights = keras.weights_f32().unwrap().to_vec();
    let mut failures = Failures::default();
    let mut checked = 0;
    for (model, dir) in models
        .iter()
        .zip(["seed_full", "seed_backbone", "seed_activations"])
    {
        let dir = fixtures("functional").join(dir);
        check_summary_cases(&dir, model, &mut failures, &mut checked);
        let mut model = model.clone();
        model.set_weights(&weights).unwrap();
        let x = &arrays(&dir, "x")[0];
        let y = &arrays(&dir, "y")[0];
        checked += 1;
        if let Err(e) = allclose(&predict(&model, x), &y.data, y.shape[1..].iter().product()) {
            failures.push(format!("{}: {e}", dir.display()));
        }
    }
    failures.check(checked);
}

#[test]
fn a_weight_changed_through_backbone_is_seen_by_full_model() {
    let [full_model, backbone, _] = seed_functional().unwrap();
    let keras = load_model(fixtures("functional/seed_full/model.keras")).unwrap();
    let mut weights = keras.weights_f32().unwrap().to_vec();
    let x = &arrays(&fixtures("functional/seed_full"), "x")[0];
    let before = {
        let mut m = full_model.clone();
        m.set_weights(&weights).unwrap();
        predict(&m, x)
    };
    // Through backbone: find conv2d's bias and raise it.
    let (conv, _) = backbone.get_layer(Some("conv2d"), None).unwrap();
    let bias = backbone.weight_range(conv, "bias").unwrap();
    for w in &mut weights[bias.start / 4..bias.end / 4] {
        *w += 1.0;
    }
    let mut m = full_model.clone();
    m.set_weights(&weights).unwrap();
    let after = predict(&m, x);
    // GAP of (conv + 1) is GAP(conv) + 1, so each output moves by the sum of dense's kernel
    // column, exactly as the same edit made through full_model would.
    let (dense, _) = full_model.get_layer(Some("dense"), None).unwrap();
    let kernel = m.layer_weight(dense, "kernel").unwrap();
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        let column: f32 = (0..32).map(|k| kernel[k * 10 + i % 10]).sum();
        assert!(
            (a - b - column).abs() < 1e-3,
            "output {i}: {b} -> {a}, expected a shift of {column}"
        );
    }
}

/// The docstring's `MyModel`:
/// ```python
/// class MyModel(keras.Model):
///     def __init__(self):
///         super().__init__()
///         self.dense1 = keras.layers.Dense(32, activation="relu")
///         self.dense2 = keras.layers.Dense(5, activation="softmax")
///         self.dropout = keras.layers.Dropout(0.5)
///     def call(self, inputs, training=False):
///         x = self.dense1(inputs)
///         x = self.dropout(x, training=training)
///         return self.dense2(x)
/// ```
struct MyModel {
    dense1: LayerId,
    dense2: LayerId,
    dropout: LayerId,
}

impl MyModel {
    fn new(s: &mut Subclassed<'_, Room>) -> Result<Self, Error> {
        Ok(MyModel {
            dense1: s.layer(Dense::new(32).activation(Activation::Relu))?,
            dense2: s.layer(Dense::new(5).activation(Activation::Softmax))?,
            dropout: s.layer(Dropout::new(0.5))?,
        })
    }
}

impl Call<Room> for MyModel {
    fn call(
        &self,
        f: &mut Functional<'_, Room>,
        inputs: Tensor,
        training: Option<bool>,
    ) -> Result<Tensor, Error> {
        let x = f.apply(self.dense1, &[inputs])?;
        let x = f.apply_training(self.dropout, &[x], training)?;
        f.apply(self.dense2, &[x])
    }
}

#[test]
fn seed_subclassed_example_matches_keras() {
    let mut s = Subclassed::<Room>::named("my_model").unwrap();
    let my_model = MyModel::new(&mut s).unwrap();
    let mut failures = Failures::default();
    let mut checked = 0;
    // Before any call, and after Keras's build((None, 3)) (which builds no sublayer of a
    // model without a build method): every layer unbuilt.
    for dir in ["subclassed_unbuilt", "subclassed_built"] {
        check_summary_cases(
            &fixtures("functional").join(dir),
            &s.unbuilt(),
            &mut failures,
            &mut checked,
        );
    }
    // After `my_model(np.zeros((1, 3)))`: the concrete call shapes.
    let traced = s
        .trace(&my_model, Shape::new(&[Some(1), Some(3)]).unwrap())
        .unwrap();
    let dir = fixtures("functional/subclassed");
    check_summary_cases(&dir, &traced, &mut failures, &mut checked);

    // Keras stores a subclassed model's weights under its attribute names.
    let archive = KerasArchive::open(dir.join("model.keras")).unwrap();
    let mut weights = Vec::new();
    for attribute in ["dense1", "dense2"] {
        for var in &archive.weights.var_group(attribute).unwrap().vars {
            weights.extend_from_slice(&var.data);
        }
    }
    let mut model = traced.clone();
    model.set_weights(&weights).unwrap();
    let x = &arrays(&dir, "x")[0];
    let y = &arrays(&dir, "y")[0];
    checked += 1;
    if let Err(e) = allclose(&predict(&model, x), &y.data, 5) {
        failures.push(format!("subclassed predict: {e}"));
    }
    failures.check(checked);
}

#[test]
fn seed_model_in_training_crops_and_resizes_like_keras() {
    // On a 40x36 image RandomCrop(128, 128) in training centre-crops and resizes to
    // 128x128 (no randomness), so Keras's `full_model(x, training=True)` is a fixed value.
    let [full_model, _, _] = seed_functional().unwrap();
    let keras = load_model(fixtures("functional/seed_full/model.keras")).unwrap();
    let mut model = full_model.clone();
    model.set_weights(keras.weights_f32().unwrap()).unwrap();
    // The imported model too: its RandomCrop node recorded `training=True` (Keras saves
    // the default), and a call's own flag still overrides it.
    let imported = keras.graph().unwrap();
    check_training(&model);
    check_training(&imported);
}

fn check_training<S: kiln::Storage>(model: &Graph<'_, S>) {
    let dir = fixtures("functional/seed_full");
    let x = &arrays(&dir, "x")[0];
    let want = kiln_host::formats::npy::read_f32(dir.join("y0_training.npy")).unwrap();
    let shape = Shape::new(&x.shape.iter().map(|&d| Some(d as u32)).collect::<Vec<_>>()).unwrap();
    for training in [Some(true), None] {
        let plan = model.plan_for(Some(&[shape]), training).unwrap();
        let shapes = model.shapes_for(Some(&[shape]), training).unwrap();
        // The crop output is 128x128 in training (and with no argument: its default).
        let (crop, _) = model.get_layer(Some("random_crop"), None).unwrap();
        let crop_node = model.nodes().iter().position(|n| n.layer == crop).unwrap();
        assert_eq!(format!("{}", shapes[crop_node]), "(1, 128, 128, 3)");
        let mut arena = vec![0u8; plan.arena_bytes()];
        let mut y = vec![f32::NAN; 20];
        let mut rng = kiln::kernels::SmallRng::new(1);
        model
            .call(
                Some(&[shape]),
                &[&x.data],
                &mut [&mut y],
                &mut arena,
                training,
                &mut rng,
            )
            .unwrap();
        allclose(&y, &want.data, 10).unwrap();
    }
    // training=False is predict: no crop.
    let shapes = model.shapes_for(Some(&[shape]), Some(false)).unwrap();
    assert!(shapes.iter().any(|s| format!("{s}") == "(1, 38, 34, 32)"));
}

#[test]
fn dropout_drops_and_scales_only_in_training() {
    // Keras: Dropout(0.5) keeps values scaled by 2 in training, is the identity otherwise.
    let mut ws = Functional::<Room>::new();
    let x = ws.input(Input::new(&[1000])).unwrap();
    let y = ws.call(Dropout::new(0.5), &[x]).unwrap();
    let model = ws.model(&[x], &[y]).unwrap();
    let data = vec![1.5f32; 1000];
    let mut arena = vec![0u8; model.plan_for(None, Some(true)).unwrap().arena_bytes()];
    let mut rng = kiln::kernels::SmallRng::new(5);
    let mut out = vec![0.0f32; 1000];
    model
        .call(
            None,
            &[&data],
            &mut [&mut out],
            &mut arena,
            Some(true),
            &mut rng,
        )
        .unwrap();
    let dropped = out.iter().filter(|&&v| v == 0.0).count();
    assert!(out.iter().all(|&v| v == 0.0 || v == 3.0));
    assert!((400..600).contains(&dropped), "{dropped} of 1000 dropped");
    for training in [None, Some(false)] {
        model
            .call(
                None,
                &[&data],
                &mut [&mut out],
                &mut arena,
                training,
                &mut rng,
            )
            .unwrap();
        assert_eq!(out, data);
    }

    // MyModel passes its `training` argument to Dropout: the model-level call decides.
    let mut s = Subclassed::<Room>::named("my_model").unwrap();
    let my_model = MyModel::new(&mut s).unwrap();
    let traced = s
        .trace(&my_model, Shape::new(&[Some(1), Some(3)]).unwrap())
        .unwrap();
    let (dropout, _) = traced.get_layer(Some("dropout"), None).unwrap();
    let node = traced
        .nodes()
        .iter()
        .position(|n| n.layer == dropout)
        .unwrap();
    assert!(traced.node_training(node, Some(true)));
    assert!(
        !traced.node_training(node, None),
        "Dropout's default is training=False"
    );
    assert!(!traced.node_training(node, Some(false)));
}
