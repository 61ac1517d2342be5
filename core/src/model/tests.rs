//! The Functional API's rules, with Keras's messages where Keras has one
//! (tests/fixtures/functional/errors.json).

extern crate std;

use crate::layers::{Add, Concatenate, Dense, Input, LayerBuilder, Subtract};
use crate::{Error, Functional};
use std::format;

#[test]
fn duplicate_names_use_keras_message() {
    let mut ws = Functional::<8>::new();
    let inp = ws.input(Input::new(&[3])).unwrap();
    let x = ws.call(Dense::new(3).name("x"), &[inp]).unwrap();
    let err = ws.call(Dense::new(3).name("x"), &[x]).unwrap_err();
    assert_eq!(
        format!("{err}"),
        "The name \"x\" is used 2 times in the model. All operation names should be unique."
    );
    // An input named like the next automatic name clashes too.
    let mut ws = Functional::<8>::new();
    let inp = ws.input(Input::new(&[3]).name("dense")).unwrap();
    let err = ws.call(Dense::new(3), &[inp]).unwrap_err();
    assert!(matches!(err, Error::DuplicateName { .. }), "{err}");
}

#[test]
fn merges_check_their_inputs() {
    let mut ws = Functional::<8>::new();
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
    let mut ws = Functional::<8>::new();
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
    let mut ws = Functional::<8>::new();
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
