//! The golden blobs: models with every layer kind, written once and committed. A change
//! to how anything is written — a renumbered tag, a reordered field, a new header rule —
//! fails here, not in the field on old blobs. Such a change needs a new format version;
//! then regenerate with `KILN_BLESS=1 cargo test -p kiln golden`.
//!
//! A new layer kind goes into a new golden model (the old blobs stay as they were written:
//! they pin the old kinds): `golden_v2.kiln` has the first 20 kinds, `golden_v2_b.kiln`
//! the ones added with the 1-D and spatial layers, `golden_v2_c.kiln` the int8 ones.

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
const GOLDEN_B: &[u8] = include_bytes!("golden_v2_b.kiln");
const GOLDEN_B_PATH: &str = "src/format/golden_v2_b.kiln";
const GOLDEN_C: &[u8] = include_bytes!("golden_v2_c.kiln");
const GOLDEN_C_PATH: &str = "src/format/golden_v2_c.kiln";

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

/// The layer kinds added after the first golden blob, each away from its defaults.
fn model_b() -> Graph<'static, Golden> {
    let mut ws = Functional::<Golden>::new();
    let image = ws.input(Input::new(&[6, 7, 2]).name("image")).unwrap();
    let padded = ws
        .call(ZeroPadding2D::new([[1, 2], [0, 3]]), &[image])
        .unwrap();
    let cropped = ws
        .call(Cropping2D::new([[2, 1], [1, 0]]), &[padded])
        .unwrap();
    let up = ws.call(UpSampling2D::new([2, 1]), &[cropped]).unwrap();
    let separable = SeparableConv2D::new(3, [3, 2])
        .strides([2, 1])
        .padding(Padding::Same)
        .depth_multiplier(2)
        .activation(Function::Relu6);
    let s = ws.call(separable, &[up]).unwrap();
    let flat = ws.call(Reshape::new(&[-1, 3]).unwrap(), &[s]).unwrap();
    let conv = Conv1D::new(4, 3)
        .dilation_rate(2)
        .padding(Padding::Causal)
        .activation(Function::Silu);
    let c = ws.call(conv, &[flat]).unwrap();
    let pooled = MaxPooling1D::new(3).strides(2).padding(Padding::Same);
    let m = ws.call(pooled, &[c]).unwrap();
    let a = ws
        .call(
            AveragePooling1D::new(2).strides(1).padding(Padding::Same),
            &[m],
        )
        .unwrap();
    let g1 = ws.call(GlobalAveragePooling1D::new(), &[a]).unwrap();
    let g2 = ws
        .call(GlobalMaxPooling1D::new().keepdims(true), &[a])
        .unwrap();
    let g2 = ws.call(Flatten, &[g2]).unwrap();
    let out = ws.call(Add, &[g1, g2]).unwrap();
    let mut model = ws.model(&[image], &[out]).unwrap();
    let weights: Vec<f32> = (0..model.weight_bytes() / 4)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 50.0)
        .collect();
    model.set_weights(Vec::leak(weights)).unwrap();
    model
}

/// The int8 kinds and int8 variables: a float32 input quantized, an int8 Conv2D (per
/// channel) and Dense (per tensor) with their `requant`, then dequantized.
fn model_c() -> Graph<'static, Golden> {
    use crate::kernels::int8::fully_connected::multipliers;
    use crate::ops::int8::{self, Header, Requant};
    let mut ws = Functional::<Golden>::new();
    let x = ws.input(Input::new(&[2, 2, 2]).name("image")).unwrap();
    let q = ws.call(Quantize, &[x]).unwrap();
    let conv = Conv2D::new(2, [1, 1]).activation(Function::Relu);
    let c = ws.call(conv, &[q]).unwrap();
    let f = ws.call(Flatten, &[c]).unwrap();
    let d = ws.call(Dense::new(3), &[f]).unwrap();
    let y = ws.call(Dequantize, &[d]).unwrap();
    let activation = |scale, zero_point| Quant::PerTensor { scale, zero_point };
    for (t, quant) in [
        (q, activation(0.05, -3)),
        (c, activation(0.04, -128)),
        (f, activation(0.04, -128)),
        (d, activation(0.1, 5)),
    ] {
        ws.set_quant(t, quant).unwrap();
    }
    let mut model = ws.model(&[x], &[y]).unwrap();
    let mut bytes = vec![0u8; model.weight_bytes()];
    let mut put = |layer: u16, name: &str, data: &[u8]| {
        let range = model.weight_range(layer, name).unwrap();
        bytes[range].copy_from_slice(data);
    };
    let requant = |flags, activation, scale, zero, scales: &[f32], input_scale: f32| {
        let reference = Requant::Float64;
        let header = Header::new(reference, flags, activation, scale, zero).unwrap();
        let mut pairs = vec![0i32; 2 * scales.len()];
        assert!(multipliers(
            input_scale,
            scales,
            scale,
            reference,
            &mut pairs
        ));
        let mut words = vec![0i32; int8::HEADER_WORDS + 2 * scales.len()];
        assert!(int8::write_channel_requant(
            &mut words,
            header,
            scales.len(),
            &pairs
        ));
        words
    };
    let layer = |name| {
        model
            .all_layers()
            .iter()
            .position(|l| l.name == name)
            .unwrap() as u16
    };
    let (conv_layer, dense_layer) = (layer("conv2d"), layer("dense"));
    put(
        conv_layer,
        "kernel",
        bytemuck::cast_slice(&[3i8, -7, 127, -127]),
    );
    put(conv_layer, "bias", bytemuck::cast_slice(&[100i32, -40]));
    let conv_scales = [0.01f32, 0.02];
    put(
        conv_layer,
        "requant",
        bytemuck::cast_slice(&requant(0, Function::Relu, 0.04, -128, &conv_scales, 0.05)),
    );
    put(
        conv_layer,
        "kernel_scale",
        bytemuck::cast_slice(&conv_scales),
    );
    let kernel: Vec<i8> = (0..24).map(|i| (i * 11 % 23) as i8 - 11).collect();
    put(dense_layer, "kernel", bytemuck::cast_slice(&kernel));
    put(dense_layer, "bias", bytemuck::cast_slice(&[7i32, 0, -9]));
    let dense_scales = [0.03f32; 3];
    put(
        dense_layer,
        "requant",
        bytemuck::cast_slice(&requant(
            int8::PER_TENSOR,
            Function::Linear,
            0.1,
            5,
            &dense_scales,
            0.04,
        )),
    );
    put(
        dense_layer,
        "kernel_scale",
        bytemuck::cast_slice(&dense_scales),
    );
    model.set_weight_bytes(Vec::leak(bytes)).unwrap();
    model
}

/// The layer kind's registry position; exhaustive, so a new layer kind must come here
/// (and into a golden model).
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
        LayerKind::ZeroPadding2D(_) => 20,
        LayerKind::Cropping2D(_) => 21,
        LayerKind::UpSampling2D(_) => 22,
        LayerKind::Conv1D(_) => 23,
        LayerKind::MaxPooling1D(_) => 24,
        LayerKind::AveragePooling1D(_) => 25,
        LayerKind::GlobalAveragePooling1D(_) => 26,
        LayerKind::GlobalMaxPooling1D(_) => 27,
        LayerKind::SeparableConv2D(_) => 28,
        LayerKind::Quantize(_) => 29,
        LayerKind::Dequantize(_) => 30,
    }
}

const KINDS: usize = 31;

fn blob(graph: &Graph<'_, Golden>) -> Vec<u8> {
    let mut out = vec![0u8; 1 << 16];
    let n = write(graph, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn the_golden_models_have_every_layer_kind() {
    let mut seen = [false; KINDS];
    for model in [model(), model_b(), model_c()] {
        for layer in model.all_layers() {
            seen[kind_index(&layer.kind)] = true;
        }
    }
    let missing: Vec<usize> = (0..KINDS).filter(|&k| !seen[k]).collect();
    assert!(missing.is_empty(), "layer kinds missing: {missing:?}");
}

fn check_golden(model: Graph<'static, Golden>, golden: &[u8], path: &str) {
    let written = blob(&model);
    if std::env::var_os("KILN_BLESS").is_some() {
        std::fs::write(path, &written).unwrap();
        return;
    }
    assert!(
        written == golden,
        "the blob format changed ({} bytes written, {} golden in {path}; first difference at \
         byte {:?}): bump format::VERSION, then regenerate with KILN_BLESS=1 (only bytes \
         20..24 differ: the planner changed the arena the header records; regenerate)",
        written.len(),
        golden.len(),
        written.iter().zip(golden).position(|(a, b)| a != b)
    );
}

#[test]
fn blobs_are_written_as_the_golden_blobs() {
    check_golden(model(), GOLDEN, GOLDEN_PATH);
    check_golden(model_b(), GOLDEN_B, GOLDEN_B_PATH);
    check_golden(model_c(), GOLDEN_C, GOLDEN_C_PATH);
}

/// Loads a golden blob and checks it is `model`, predicting the same bits.
fn loads_as(golden: &[u8], model: Graph<'static, Golden>, inputs: usize, outputs: usize) {
    let mut words = vec![0u128; golden.len().div_ceil(16)];
    bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..golden.len()].copy_from_slice(golden);
    let bytes = &bytemuck::cast_slice::<u128, u8>(&words)[..golden.len()];
    let loaded = load::<Golden>(bytes).unwrap();
    assert_eq!(loaded.all_layers(), model.all_layers());
    assert_eq!(loaded.nodes(), model.nodes());
    assert_eq!(loaded.weights(), model.weights());
    let x: Vec<f32> = (0..inputs).map(|i| (i % 13) as f32 * 0.1 - 0.6).collect();
    let run = |g: &Graph<'_, Golden>| {
        let mut y = vec![0.0f32; outputs];
        let mut arena = vec![0u8; g.arena_bytes().unwrap()];
        g.predict(&[&x], &mut [&mut y], &mut arena).unwrap();
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(run(&loaded), run(&model));
}

#[test]
fn the_golden_blobs_load_as_their_models_and_predict_the_same_bits() {
    loads_as(GOLDEN, model(), 128, 6);
    loads_as(GOLDEN_B, model_b(), 6 * 7 * 2, 4);
    loads_as(GOLDEN_C, model_c(), 8, 3);
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
    assert_eq!(bytes(Padding::Causal), [2]);
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
