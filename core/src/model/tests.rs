//! The Functional API's rules, with Keras's messages where Keras has one
//! (tests/fixtures/functional/errors.json).

extern crate std;

use crate::graph::Fixed;
use crate::layers::{Add, Concatenate, Dense, Input, LayerBuilder, Subtract};
use crate::{Error, Functional};
use std::format;

#[test]
fn duplicate_names_use_keras_message() {
    let mut ws = Functional::<Fixed<8>>::new();
    let inp = ws.input(Input::new(&[3])).unwrap();
    let x = ws.call(Dense::new(3).name("x"), &[inp]).unwrap();
    let err = ws.call(Dense::new(3).name("x"), &[x]).unwrap_err();
    assert_eq!(
        format!("{err}"),
        "The name \"x\" is used 2 times in the model. All operation names should be unique."
    );
    // An input named like the next automatic name clashes too.
    let mut ws = Functional::<Fixed<8>>::new();
    let inp = ws.input(Input::new(&[3]).name("dense")).unwrap();
    let err = ws.call(Dense::new(3), &[inp]).unwrap_err();
    assert!(matches!(err, Error::DuplicateName { .. }), "{err}");
}

#[test]
fn build_refuses_an_input_layer_named_like_a_layer() {
    // Keras: Sequential([Activation("relu", name="input_layer")]).build((None, 3)) raises
    // in the Functional it builds: the InputLayer is automatically named "input_layer".
    let mut model = crate::Sequential::<Fixed<4>>::new();
    model
        .add(crate::layers::Activation::new(crate::Activation::Relu).name("input_layer"))
        .unwrap();
    let err = model
        .build(crate::Shape::new(&[None, Some(3)]).unwrap())
        .unwrap_err();
    assert_eq!(
        format!("{err}"),
        "The name \"input_layer\" is used 2 times in the model. All operation names should be unique."
    );
}

#[test]
fn merges_check_their_inputs() {
    let mut ws = Functional::<Fixed<8>>::new();
    let a = ws.input(Input::new(&[4])).unwrap();
    let b = ws.input(Input::new(&[3])).unwrap();
    let err = ws.call(Add, &[a, b]).unwrap_err();
    assert!(format!("{err}").contains("'add'"), "{err}");
    let err = ws.call(Subtract, &[a, a, a]).unwrap_err();
    assert!(format!("{err}").contains("exactly 2"), "{err}");
    // Concatenate: equal except on the axis.
    let c = ws.input(Input::new(&[4, 3])).unwrap();
    let d = ws.input(Input::new(&[5, 3])).unwrap();
    let joined = ws.call(Concatenate::new().axis(1), &[c, d]).unwrap();
    assert_eq!(format!("{}", ws.shape(joined)), "(None, 9, 3)");
    assert!(ws.call(Concatenate::new(), &[c, d]).is_err());
}

#[test]
fn a_model_needs_every_input_it_reads() {
    let mut ws = Functional::<Fixed<8>>::new();
    let a = ws.input(Input::new(&[3]).name("a")).unwrap();
    let b = ws.input(Input::new(&[3]).name("b")).unwrap();
    let sum = ws.call(Add, &[a, b]).unwrap();
    let err = ws.model(&[a], &[sum]).unwrap_err();
    assert!(format!("{err}").contains("'b'"), "{err}");
    let model = ws.model(&[a, b], &[sum]).unwrap();
    assert_eq!(model.name(), "functional_1");
}

#[test]
fn shared_layer_has_two_nodes_and_one_set_of_weights() {
    let mut ws = Functional::<Fixed<8>>::new();
    let left = ws.input(Input::new(&[4]).name("left")).unwrap();
    let right = ws.input(Input::new(&[4]).name("right")).unwrap();
    let shared = ws.layer(Dense::new(3).name("shared")).unwrap();
    let l = ws.apply(shared, &[left]).unwrap();
    let r = ws.apply(shared, &[right]).unwrap();
    let out = ws.call(Subtract, &[l, r]).unwrap();
    let mut model = ws.model_named("siamese", &[left, right], &[out]).unwrap();
    assert_eq!(model.count_params(), 15);
    let w: std::vec::Vec<f32> = (0..15).map(|i| i as f32 * 0.1).collect();
    model.set_weights(&w).unwrap();
    let mut y = [0.0f32; 3];
    let mut arena = [0u8; 64];
    model
        .predict(
            &[&[1.0, 0.0, 0.0, 0.0], &[0.0, 1.0, 0.0, 0.0]],
            &mut [&mut y],
            &mut arena,
        )
        .unwrap();
    // Row 0 of the kernel minus row 1: 0.0-0.3, 0.1-0.4, 0.2-0.5.
    for (got, want) in y.iter().zip([-0.3f32, -0.3, -0.3]) {
        assert!((got - want).abs() < 1e-6, "{y:?}");
    }
}

/// The seed's three examples, built and run with no allocator: fixed-capacity models,
/// static weights, a stack arena.
#[test]
fn seed_examples_run_without_alloc() {
    use crate::layers::{Conv2D, Dropout, GlobalAveragePooling2D, RandomCrop};
    use crate::model::{Call, Subclassed};
    use crate::{Activation, Shape, Tensor};

    // Functional: full_model, backbone and activations share one weight buffer.
    let mut ws = Functional::<Fixed<8>>::new();
    let inputs = ws.input(Input::with_dims(&[None, None, Some(3)])).unwrap();
    let processed = ws.call(RandomCrop::new(128, 128), &[inputs]).unwrap();
    let conv = ws.call(Conv2D::new(32, [3, 3]), &[processed]).unwrap();
    let pooling = ws.call(GlobalAveragePooling2D::new(), &[conv]).unwrap();
    let feature = ws.call(Dense::new(10), &[pooling]).unwrap();
    let mut full_model = ws.model(&[inputs], &[feature]).unwrap();
    let backbone = ws.model(&[processed], &[conv]).unwrap();
    let activations = ws.model(&[conv], &[feature]).unwrap();
    assert_eq!(
        (
            full_model.count_params(),
            backbone.count_params(),
            activations.count_params()
        ),
        (1226, 896, 330)
    );
    assert_eq!(backbone.all_layers()[0].name, "keras_tensor_1CLONE");
    static W: [f32; 1226] = [0.01; 1226];
    full_model.set_weights(&W).unwrap();
    let shape = Shape::new(&[Some(1), Some(5), Some(4), Some(3)]).unwrap();
    let mut y = [0.0f32; 10];
    let mut arena = [0u8; 1024];
    full_model
        .predict_with_shapes(Some(&[shape]), &[&[1.0; 60]], &mut [&mut y], &mut arena)
        .unwrap();
    // Each conv output is 0.01 + 27 * 0.01; pooled the same; each output 0.01 + 32 * that.
    let want = 0.01 + 32.0 * (0.01 + 27.0 * 0.01) * 0.01;
    assert!(y.iter().all(|v| (v - want).abs() < 1e-5), "{y:?}");

    // Subclassed.
    struct MyModel {
        dense1: crate::graph::LayerId,
        dense2: crate::graph::LayerId,
        dropout: crate::graph::LayerId,
    }
    impl Call<Fixed<8>> for MyModel {
        fn call(
            &self,
            f: &mut Functional<'_, Fixed<8>>,
            x: Tensor,
            training: Option<bool>,
        ) -> Result<Tensor, Error> {
            let x = f.apply(self.dense1, &[x])?;
            let x = f.apply_training(self.dropout, &[x], training)?;
            f.apply(self.dense2, &[x])
        }
    }
    let mut s = Subclassed::<Fixed<8>>::named("my_model").unwrap();
    let my_model = MyModel {
        dense1: s
            .layer(Dense::new(32).activation(Activation::Relu))
            .unwrap(),
        dense2: s
            .layer(Dense::new(5).activation(Activation::Softmax))
            .unwrap(),
        dropout: s.layer(Dropout::new(0.5)).unwrap(),
    };
    let mut model = s
        .trace(&my_model, Shape::new(&[Some(1), Some(3)]).unwrap())
        .unwrap();
    static W2: [f32; 293] = [0.1; 293];
    model.set_weights(&W2).unwrap();
    let mut probabilities = [0.0f32; 5];
    model
        .predict(&[&[1.0, 2.0, 3.0]], &mut [&mut probabilities], &mut arena)
        .unwrap();
    assert!(probabilities.iter().all(|p| (p - 0.2).abs() < 1e-6));

    // Sequential.
    let mut seq = crate::Sequential::<Fixed<4>>::new();
    seq.add(Input::with_dims(&[None, None, Some(3)])).unwrap();
    seq.add(Conv2D::new(32, [3, 3])).unwrap();
    assert_eq!(seq.count_params(), 896);
    assert_eq!(
        format!("{}", seq.last_node(1).unwrap().shape),
        "(None, None, None, 32)"
    );
}

#[test]
fn more_tensors_than_a_fixed_graph_holds_is_a_capacity_error() {
    // Nine tensors into one Concatenate: MAX_NODE_INPUTS is 8 in Fixed storage.
    let mut ws = Functional::<Fixed<32>>::new();
    let inputs: std::vec::Vec<_> = (0..9)
        .map(|_| ws.input(Input::new(&[2])).unwrap())
        .collect();
    let err = ws.call(Concatenate::new(), &inputs).unwrap_err();
    assert_eq!(
        err,
        Error::Capacity {
            what: "inputs of one node",
            capacity: crate::graph::MAX_NODE_INPUTS
        }
    );
    // The failed call left nothing behind: eight still work.
    let joined = ws.call(Concatenate::new(), &inputs[..8]).unwrap();
    assert_eq!(format!("{}", ws.shape(joined)), "(None, 16)");
    // A model with nine inputs is over MAX_IO.
    let err = ws.model(&inputs, &[joined]).unwrap_err();
    assert_eq!(
        err,
        Error::Capacity {
            what: "model inputs",
            capacity: crate::graph::MAX_IO
        }
    );
}

#[test]
fn a_model_needs_an_output() {
    let mut ws = Functional::<Fixed<8>>::new();
    let x = ws.input(Input::new(&[2])).unwrap();
    let err = ws.model(&[x], &[]).unwrap_err();
    assert!(format!("{err}").contains("at least one output"), "{err}");
    // Keras accepts a model whose output is its input.
    let identity = ws.model(&[x], &[x]).unwrap();
    assert_eq!(identity.input_nodes(), identity.output_nodes());
}

#[cfg(feature = "alloc")]
#[test]
fn heap_graphs_take_any_number_of_tensors_and_long_names() {
    use crate::graph::Heap;
    let mut ws = Functional::<Heap>::new();
    let inputs: std::vec::Vec<_> = (0..12)
        .map(|_| ws.input(Input::new(&[2])).unwrap())
        .collect();
    let long = "a_layer_name_that_is_longer_than_the_sixty_four_bytes_a_fixed_graph_stores";
    let joined = ws.call(Concatenate::new().name(long), &inputs).unwrap();
    let model = ws.model(&inputs, &[joined]).unwrap();
    assert_eq!(model.input_nodes().len(), 12);
    assert_eq!(&*model.get_layer(Some(long), None).unwrap().1.name, long);
    let mut chain = crate::Sequential::<Heap>::new();
    chain.add(Input::new(&[4])).unwrap();
    for _ in 0..1000 {
        chain.add(Dense::new(4)).unwrap();
    }
    assert_eq!(chain.all_layers().len(), 1001);
    assert_eq!(chain.count_params(), 1000 * 20);
}

#[test]
fn a_tensor_too_large_names_its_layer() {
    use crate::layers::{Conv2D, Flatten};
    let mut seq = crate::Sequential::<Fixed<4>>::new();
    seq.add(Input::new(&[28, 28, 1])).unwrap();
    let err = seq.add(Conv2D::new(1 << 31, [3, 3])).unwrap_err();
    assert_eq!(
        format!("{err}"),
        "layer 'conv2d': its kernel (3, 3, 1, 2147483648) has more values than kiln handles in one tensor (1073741823, 4 GiB of float32)"
    );
    // The model is unchanged, and a sane layer still goes on.
    seq.add(Conv2D::new(8, [3, 3])).unwrap();
    seq.add(Flatten).unwrap();
    let err = crate::Sequential::<Fixed<4>>::from_layers([
        Input::new(&[65536, 65536]).into(),
        crate::graph::LayerSpec::from(Dense::new(1)),
    ])
    .unwrap_err();
    assert!(
        format!("{err}").contains("its output (None, 65536, 65536)"),
        "{err}"
    );
}

#[test]
fn relu_takes_keras_ranges() {
    use crate::layers::ReLU;
    let mut seq = crate::Sequential::<Fixed<4>>::new();
    seq.add(Input::new(&[2])).unwrap();
    for relu in [
        ReLU::new().max_value(-1.0),
        ReLU::new().negative_slope(-0.5),
        ReLU::new().max_value(f32::NAN),
    ] {
        let err = seq.add(relu).unwrap_err();
        assert!(format!("{err}").contains("cannot be"), "{err}");
    }
    seq.add(ReLU::new().max_value(6.0)).unwrap();
}

#[test]
fn an_input_kiln_cannot_hold_is_an_error_when_added() {
    let mut seq = crate::Sequential::<Fixed<4>>::new();
    let err = seq.add(Input::new(&[u32::MAX])).unwrap_err();
    assert_eq!(
        format!("{err}"),
        "layer 'input_layer': axis 1 of size 4294967295 is above kiln's limit of 4294967294"
    );
    let err = seq.add(Input::new(&[1; 6])).unwrap_err();
    assert!(format!("{err}").contains("rank 7"), "{err}");
}
