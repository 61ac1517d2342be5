//! A build that leaves op families out refuses the models that need them, naming the
//! layer and the cargo feature. This file only has tests in such a build:
//!
//! ```sh
//! cargo test -p kiln --no-default-features --features format,dense --test left_out
//! ```
//!
//! (`tests/run.sh` runs it so.)
#![cfg(all(
    feature = "format",
    feature = "dense",
    not(feature = "math"),
    not(feature = "random-crop")
))]

use kiln::format::{self, AlignedBlob, BlobError};
use kiln::layers::{Dense, Input};
use kiln::ops::LeftOut;
use kiln::{Activation, Error, Fixed, Sequential};

/// The format's golden blob: its first layer after the input is a RandomCrop.
const GOLDEN: &AlignedBlob<[u8; include_bytes!("../src/format/golden_v2.kiln").len()]> =
    &AlignedBlob(*include_bytes!("../src/format/golden_v2.kiln"));

#[test]
fn a_blob_with_a_left_out_layer_names_it_and_its_feature() {
    let err = format::load::<Fixed<64>>(&GOLDEN.0).unwrap_err();
    let left_out = LeftOut {
        what: "RandomCrop",
        feature: "random-crop",
    };
    assert_eq!(err, Error::Blob(BlobError::LeftOut(left_out)));
    assert_eq!(
        err.to_string(),
        "the blob has a RandomCrop layer but this build of kiln left it out: enable kiln's cargo feature \"random-crop\""
    );
}

fn sigmoid_model() -> Sequential<'static, Fixed<4>> {
    let mut model = Sequential::<Fixed<4>>::new();
    model.add(Input::new(&[2])).unwrap();
    model
        .add(Dense::new(1).activation(Activation::Sigmoid))
        .unwrap();
    model.set_weights(&[0.5, -1.0, 0.25]).unwrap();
    model
}

#[test]
fn an_activation_behind_math_is_refused_at_load_and_at_prepare() {
    let model = sigmoid_model();
    let err = model.prepare(None).err().unwrap();
    assert_eq!(
        err.to_string(),
        "layer 'dense' needs sigmoid but this build of kiln left it out: enable kiln's cargo feature \"math\""
    );
    let mut blob = AlignedBlob([0u8; 512]);
    let n = format::write(model.graph(), &mut blob.0).unwrap();
    let err = format::load::<Fixed<4>>(&blob.0[..n]).unwrap_err();
    let left_out = LeftOut {
        what: "sigmoid",
        feature: "math",
    };
    assert_eq!(err, Error::Blob(BlobError::LeftOut(left_out)));
}

#[test]
fn what_the_build_has_still_runs() {
    let mut model = Sequential::<Fixed<4>>::new();
    model.add(Input::new(&[2])).unwrap();
    model
        .add(Dense::new(1).activation(Activation::Relu))
        .unwrap();
    model.set_weights(&[0.5, -1.0, 0.25]).unwrap();
    let prepared = model.prepare(None).unwrap();
    let mut y = [0.0f32];
    prepared
        .predict(&[&[2.0, 0.5]], &mut [&mut y], &mut [0u8; 16])
        .unwrap();
    assert_eq!(y, [0.75]);
}

/// An int8 sigmoid is a table lookup: a build without `math` loads and runs it
/// (`--features format,dense,activations`).
#[cfg(feature = "activations")]
#[test]
fn an_int8_sigmoid_needs_no_math() {
    use kiln::graph::{DType, Quant};
    use kiln::ops::int8::{self, Header, Requant};
    let mut ws = kiln::Functional::<Fixed<4>>::new();
    let x = ws.input(Input::new(&[4]).dtype(DType::I8)).unwrap();
    let y = ws
        .call(kiln::layers::Activation::new(Activation::Sigmoid), &[x])
        .unwrap();
    ws.set_quant(
        x,
        Quant::PerTensor {
            scale: 0.1,
            zero_point: 0,
        },
    )
    .unwrap();
    let out = Quant::PerTensor {
        scale: 1.0 / 256.0,
        zero_point: -128,
    };
    ws.set_quant(y, out).unwrap();
    let mut model = ws.model(&[x], &[y]).unwrap();
    // The table: entry q is sigmoid(0.1·q) on the output's scale, as LiteRT builds it.
    let table = kiln::kernels::int8::logistic::LogisticParams::new(0.1, 0).to_words();
    let header = Header::new(
        Requant::Multiplier(kiln::kernels::int8::Rounding::Double),
        0,
        Activation::Linear,
        1.0 / 256.0,
        -128,
    )
    .unwrap();
    let mut words = [0i32; int8::HEADER_WORDS + 64];
    assert!(int8::write_op_requant(&mut words, header, &table));
    let bytes: &'static [u8] = Box::leak(bytemuck_words(&words).into_boxed_slice());
    model.set_weight_bytes(bytes).unwrap();
    let mut blob = AlignedBlob([0u8; 1024]);
    let n = format::write(&model, &mut blob.0).unwrap();
    let loaded = format::load::<Fixed<4>>(&blob.0[..n]).unwrap();
    let prepared = loaded.prepare(None).unwrap();
    let mut y = [0i8; 4];
    prepared
        .predict::<i8>(&[&[0, 127, -128, 10]], &mut [&mut y], &mut [0u8; 16])
        .unwrap();
    // sigmoid(0) = 0.5 → 0; sigmoid(12.7) → 127; sigmoid(-12.8) → -128; sigmoid(1) =
    // 0.731 → round(187.1) − 128 = 59.
    assert_eq!(y, [0, 127, -128, 59]);
}

#[cfg(feature = "activations")]
fn bytemuck_words(words: &[i32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
