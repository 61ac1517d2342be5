//! The golden blob: a model with every layer kind, written once and committed
//! (`golden_v2.kiln`). A change to how anything is written — a renumbered tag, a reordered
//! field, a new header rule — fails here, not in the field on old blobs. Such a change
//! needs a new format version; then regenerate with `KILN_BLESS=1 cargo test -p kiln
//! golden`.

extern crate std;

use super::*;
use crate::graph::{DType, Fixed, LayerKind, Quant};
use crate::layers::*;
use crate::shape::Shape;
use crate::{Activation as Function, Functional, Padding, Sequential};
use std::vec;
use std::vec::Vec;

const GOLDEN: &[u8] = include_bytes!("golden_v2.kiln");
const GOLDEN_PATH: &str = "src/format/golden_v2.kiln";

type Golden = Fixed<64>;

/// Every layer kind, each with a configuration away from its defaults.
fn model() -> Graph<'static, Golden> {
    let mut inner = Sequential::<Fixed<4>>::new();
    inner.add(Input::new(&[6])).unwrap();
    inner
        .add(Dense::new(6).use_bias(false).name("inner_dense"))
        .unwrap();

    let mut ws = Functional::<Golden>::new();
    let x = ws.input(Input::new(&[8, 8, 2]).name("image")).unwrap();
    let crop = ws.call(RandomCrop::new(8, 8).seed(7), &[x]).unwrap();
    let conv = Conv2D::new(3, [3, 3])
        .padding(Padding::Same)
        .activation(Function::LeakyRelu {
            negative_slope: 0.1,
        });
    let c = ws.call(conv, &[crop]).unwrap();
    let depthwise = DepthwiseConv2D::new([3, 3])
        .depth_multiplier(2)
        .dilation_rate([1, 1])
        .activation(Function::Gelu { approximate: true });
    let d = ws.call(depthwise, &[c]).unwrap();
    let b = ws
        .call(BatchNormalization::new().epsilon(0.01).center(false), &[d])
        .unwrap();
    let max = ws.call(MaxPooling2D::new([2, 2]), &[b]).unwrap();
    let avg = AveragePooling2D::new([2, 2])
        .strides([1, 1])
        .padding(Padding::Same);
    let a = ws.call(avg, &[b]).unwrap();
    let gap = ws.call(GlobalAveragePooling2D::new(), &[b]).unwrap();
    let gmp = ws
        .call(GlobalMaxPooling2D::new().keepdims(true), &[b])
        .unwrap();
    let gmp = ws.call(Reshape::new(&[-1]).unwrap(), &[gmp]).unwrap();
    let f = ws.call(Flatten, &[max]).unwrap();
    let r = ws.call(Reshape::new(&[4, -1]).unwrap(), &[a]).unwrap();
    let f2 = ws.call(Flatten, &[r]).unwrap();
    let joined = ws.call(Concatenate::new().axis(-1), &[f, f2, gap]).unwrap();
    let dense = Dense::new(6).activation(Function::Elu { alpha: 0.5 });
    let mut t = ws.call(dense, &[joined]).unwrap();
    for merge in [
        LayerSpec::from(Add),
        Subtract.into(),
        Multiply.into(),
        Average.into(),
        Maximum.into(),
        Minimum.into(),
    ] {
        t = ws.call(merge, &[t, gmp]).unwrap();
    }
    t = ws.call(Function::Softplus, &[t]).unwrap();
    let relu = ReLU::new()
        .max_value(6.0)
        .negative_slope(0.1)
        .threshold(0.5);
    t = ws.call(relu, &[t]).unwrap();
    t = ws.call(LeakyReLU::new().negative_slope(0.2), &[t]).unwrap();
    t = ws.call(Dropout::new(0.25), &[t]).unwrap();
    t = ws.call_model(inner.graph(), &[t]).unwrap();
    t = ws.call(Softmax, &[t]).unwrap();
    let mut model = ws.model(&[x], &[t]).unwrap();
    let weights: Vec<f32> = (0..model.weight_bytes() / 4)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0)
        .collect();
    model.set_weights(Vec::leak(weights)).unwrap();
    model
}

/// The layer kind's registry position; exhaustive, so a new layer kind must come here
/// (and into [`model`]).
fn kind_index(kind: &LayerKind) -> usize {
    match kind {
        LayerKind::InputLayer(_) => 0,
        LayerKind::Dense(_) => 1,
        LayerKind::Conv2D(_) => 2,
        LayerKind::DepthwiseConv2D(_) => 3,
        LayerKind::MaxPooling2D(_) => 4,
        LayerKind::AveragePooling2D(_) => 5,
        LayerKind::GlobalAveragePooling2D(_) => 6,
        LayerKind::GlobalMaxPooling2D(_) => 7,
        LayerKind::Flatten(_) => 8,
        LayerKind::Reshape(_) => 9,
        LayerKind::Dropout(_) => 10,
        LayerKind::Activation(_) => 11,
        LayerKind::ReLU(_) => 12,
        LayerKind::LeakyReLU(_) => 13,
        LayerKind::Softmax(_) => 14,
        LayerKind::BatchNormalization(_) => 15,
        LayerKind::Merge(_) => 16,
        LayerKind::Concatenate(_) => 17,
        LayerKind::RandomCrop(_) => 18,
        LayerKind::Model(_) => 19,
    }
}

const KINDS: usize = 20;

fn blob(graph: &Graph<'_, Golden>) -> Vec<u8> {
    let mut out = vec![0u8; 1 << 16];
    let n = write(graph, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn the_golden_model_has_every_layer_kind() {
    let model = model();
    let mut seen = [false; KINDS];
    for layer in model.all_layers() {
        seen[kind_index(&layer.kind)] = true;
    }
    let missing: Vec<usize> = (0..KINDS).filter(|&k| !seen[k]).collect();
    assert!(missing.is_empty(), "layer kinds missing: {missing:?}");
}

#[test]
fn blobs_are_written_as_the_golden_blob() {
    let written = blob(&model());
    if std::env::var_os("KILN_BLESS").is_some() {
        std::fs::write(GOLDEN_PATH, &written).unwrap();
        return;
    }
    assert!(
        written == GOLDEN,
        "the blob format changed ({} bytes written, {} golden; first difference at byte {:?}): \
         bump format::VERSION, then regenerate with KILN_BLESS=1",
        written.len(),
        GOLDEN.len(),
        written.iter().zip(GOLDEN).position(|(a, b)| a != b)
    );
}

#[test]
fn the_golden_blob_loads_as_the_model_and_predicts_the_same_bits() {
    let mut words = vec![0u128; GOLDEN.len().div_ceil(16)];
    bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..GOLDEN.len()].copy_from_slice(GOLDEN);
    let bytes = &bytemuck::cast_slice::<u128, u8>(&words)[..GOLDEN.len()];
    let loaded = load::<Golden>(bytes).unwrap();
    let model = model();
    assert_eq!(loaded.all_layers(), model.all_layers());
    assert_eq!(loaded.nodes(), model.nodes());
    assert_eq!(loaded.weights(), model.weights());
    let x: Vec<f32> = (0..128).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
    let run = |g: &Graph<'_, Golden>| {
        let mut y = [0.0f32; 6];
        let mut arena = vec![0u8; g.arena_bytes().unwrap()];
        g.predict(&[&x], &mut [&mut y], &mut arena).unwrap();
        y.map(f32::to_bits)
    };
    assert_eq!(run(&loaded), run(&model));
}

/// The tags of the enums inside configurations and tensors, pinned byte by byte.
#[test]
fn enum_tags_are_pinned() {
    fn bytes<T: wire::Wire>(value: T) -> Vec<u8> {
        let mut buf = [0u8; 16];
        let mut w = wire::Writer::new(&mut buf);
        value.encode(&mut w);
        let n = w.len();
        buf[..n].to_vec()
    }
    use Function as A;
    let activations = [
        A::Linear,
        A::Relu,
        A::Relu6,
        A::Sigmoid,
        A::Tanh,
        A::Softmax,
        A::LogSoftmax,
        A::LeakyRelu {
            negative_slope: 0.0,
        },
        A::Elu { alpha: 0.0 },
        A::Selu,
        A::Gelu { approximate: false },
        A::Silu,
        A::HardSigmoid,
        A::HardSilu,
        A::Softplus,
        A::Softsign,
        A::Exponential,
        A::Mish,
    ];
    for (tag, a) in activations.into_iter().enumerate() {
        let written = bytes(a);
        assert_eq!(written[0] as usize, tag, "{a:?}");
        let read = <Function as wire::Wire>::decode(&mut wire::Reader::new(&written));
        assert_eq!(read, Ok(a));
    }
    assert_eq!(bytes(A::Elu { alpha: 1.0 }), [8, 0, 0, 0x80, 0x3f]);
    assert_eq!(bytes(A::Gelu { approximate: true }), [10, 1]);
    assert_eq!(bytes(Padding::Valid), [0]);
    assert_eq!(bytes(Padding::Same), [1]);
    let merges = [
        crate::MergeOp::Add,
        crate::MergeOp::Subtract,
        crate::MergeOp::Multiply,
        crate::MergeOp::Average,
        crate::MergeOp::Maximum,
        crate::MergeOp::Minimum,
    ];
    for (tag, m) in merges.into_iter().enumerate() {
        assert_eq!(bytes(m), [tag as u8]);
    }
    assert_eq!(bytes(crate::ModelKind::Sequential), [0]);
    assert_eq!(bytes(crate::ModelKind::Functional), [1]);
    assert_eq!(bytes(crate::ModelKind::Subclassed), [2]);
    assert_eq!(bytes(DType::F32), [0]);
    assert_eq!(bytes(DType::I8), [1]);
    assert_eq!(bytes(DType::I32), [2]);
    assert_eq!(bytes(Quant::None), [0]);
    assert_eq!(
        bytes(Quant::PerTensor {
            scale: 0.5,
            zero_point: -3
        }),
        [1, 0, 0, 0, 0x3f, 5]
    );
    assert_eq!(bytes(Quant::PerAxis { axis: 3, scales: 2 }), [2, 3, 2]);
    assert_eq!(
        bytes(Shape::new(&[None, Some(300)]).unwrap()),
        [2, 0, 1, 0xac, 0x02]
    );
}

/// A version 1 blob (kiln before typed tensors, `tests/fixtures/blobs/mlp_v1.kiln`) is
/// refused with a message to export it again.
#[test]
fn version_1_blobs_ask_for_a_new_export() {
    let v1: &[u8] = include_bytes!("../../../tests/fixtures/blobs/mlp_v1.kiln");
    let err = load::<Golden>(v1).unwrap_err();
    assert_eq!(err, Error::Blob(BlobError::Version { found: 1 }));
    let message = std::format!("{err}");
    assert!(message.contains("export the model again"), "{message}");
}
