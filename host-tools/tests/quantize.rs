//! Post-training quantization (`kiln_host::quantize`, `kiln export --int8`) on small
//! models whose answers are worked out by hand or by running the float model.

use kiln::graph::{DType, LayerKind, Quant};
use kiln::kernels::int8::quant::effective_scale;
use kiln::layers::*;
use kiln::ops::int8::{Flavor, Header};
use kiln::{Activation, Functional, Heap, Sequential};
use kiln_host::formats::npy::NpyArray;
use kiln_host::quantize::{self, calibrate, params, plan, QuantizeError, QuantizeOptions, Rewrite};
use kiln_host::{HostGraph, HostModel};
use std::process::Command;

/// A small seeded generator: uniform values in `[lo, hi)`.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let unit = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }
}

/// `graph` with seeded weights (BatchNormalization's variances and scales positive).
fn with_weights(graph: HostModel<'static>, seed: u64) -> HostGraph {
    let mut rng = Rng(seed);
    let mut weights = vec![0f32; graph.weight_bytes() / 4];
    for (id, _) in graph.all_layers().iter().enumerate() {
        let id = id as u16;
        for spec in graph.layer_weights(id).iter() {
            let range = graph.weight_range(id, spec.name).unwrap();
            let (lo, hi) = match spec.name {
                "moving_variance" => (0.5, 2.0),
                "gamma" => (0.5, 1.5),
                _ => (-0.5, 0.5),
            };
            for w in &mut weights[range.start / 4..range.end / 4] {
                *w = rng.uniform(lo, hi);
            }
        }
    }
    HostGraph::new(graph, weights)
}

fn array(shape: &[usize], data: Vec<f32>) -> NpyArray {
    assert_eq!(shape.iter().product::<usize>(), data.len());
    NpyArray {
        shape: shape.to_vec(),
        data,
        int8: None,
    }
}

fn random_array(shape: &[usize], seed: u64) -> NpyArray {
    let mut rng = Rng(seed);
    let n = shape.iter().product();
    array(shape, (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect())
}

fn sequential(layers: Vec<kiln::graph::LayerSpec<'static>>) -> HostModel<'static> {
    let mut model = Sequential::<Heap>::new();
    for layer in layers {
        model.add(layer).unwrap();
    }
    model.into_graph()
}

#[test]
fn folded_batch_norms_compute_what_running_them_does() {
    let graph = sequential(vec![
        Input::new(&[6, 6, 3]).into(),
        Conv2D::new(4, [3, 3]).into(),
        BatchNormalization::new().into(),
        ReLU::new().into(),
        DepthwiseConv2D::new([3, 3])
            .depth_multiplier(2)
            .use_bias(false)
            .into(),
        BatchNormalization::new().center(false).epsilon(0.01).into(),
        ReLU::new().max_value(6.0).into(),
        Flatten.into(),
        Dense::new(5).into(),
        BatchNormalization::new().scale(false).into(),
    ]);
    let model = with_weights(graph, 7);
    let p = plan::plan(&model).unwrap();
    let folded: Vec<&Rewrite> = p
        .rewrites
        .iter()
        .filter(|r| matches!(r, Rewrite::Folded { .. }))
        .collect();
    assert_eq!(folded.len(), 3, "{:?}", p.rewrites);
    assert!(p
        .ops
        .iter()
        .all(|op| op.kind.class_name() != "BatchNormalization"));
    assert!(p.ops.iter().all(|op| op.kind.class_name() != "ReLU"));
    // The rewritten float model computes what the model with its BatchNormalizations does.
    let (rewritten, _) = calibrate::float_model(&p).unwrap();
    let x = random_array(&[4, 6, 6, 3], 11);
    let want = quantize::report::predict(&model, std::slice::from_ref(&x)).unwrap();
    let got = quantize::report::predict(&rewritten, std::slice::from_ref(&x)).unwrap();
    // The rewritten model's outputs are every tensor: the model's is the last.
    let got = got.last().unwrap();
    assert_eq!(got.len(), want[0].len());
    for (a, b) in got.iter().zip(&want[0]) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn a_known_dense_kernel_is_quantized_per_channel_in_tflite_layout() {
    let graph = sequential(vec![Input::new(&[3]).into(), Dense::new(2).into()]);
    // kernel (in 3, units 2) as Keras stores it, then bias.
    let weights = vec![0.5, -0.1, -1.27, 0.254, 0.25, 0.05, 0.2, -0.25];
    let model = HostGraph::new(graph, weights);
    // Input range [-1, 3]: scale 4/255, zero point -128 + 63.75 → -64.
    let x = array(&[2, 3], vec![-1.0, 0.0, 3.0, 0.5, 2.0, -0.5]);
    let q = quantize::quantize(&model, &[x], &QuantizeOptions::default()).unwrap();
    let g = q.model.graph().unwrap();
    let input = &g.nodes()[g.input_nodes()[0] as usize];
    assert_eq!(input.dtype, DType::I8);
    let s_in = 4.0f32 / 255.0;
    assert_eq!(
        input.quant,
        Quant::PerTensor {
            scale: s_in,
            zero_point: -64
        }
    );
    let dense = g
        .all_layers()
        .iter()
        .position(|l| &*l.name == "dense")
        .unwrap() as u16;
    let bytes = |name: &str| &g.weights()[g.weight_range(dense, name).unwrap()];
    let kernel: Vec<i8> = bytes("kernel").iter().map(|&b| b as i8).collect();
    // Scales 1.27/127 = 0.01 and 0.254/127 = 0.002; (units, in): unit 0 is 0.5, −1.27,
    // 0.25 over 0.01; unit 1 is −0.1, 0.254, 0.05 over 0.002.
    assert_eq!(kernel, [50, -127, 25, -50, 127, 25]);
    let f32s = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let i32s = |b: &[u8]| -> Vec<i32> {
        b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let scales = f32s(bytes("kernel_scale"));
    assert_eq!(scales, [1.27f32 / 127.0, 0.254f32 / 127.0]);
    // Bias at s_in·s_w: 0.2 / (4/255 · 0.01) = 1275; −0.25 / (4/255 · 0.002) = −7968.75.
    assert_eq!(i32s(bytes("bias")), [1275, -7969]);
    // requant: LiteRT's reference FULLY_CONNECTED header and its f64 scales, from the
    // output's quantization.
    let out = &g.nodes()[g.output_nodes()[0] as usize];
    let Quant::PerTensor { scale, zero_point } = out.quant else {
        panic!("the output is not quantized");
    };
    let requant = Flavor::LiteRtReference.fully_connected();
    let header = Header::new(requant, 0, Activation::Linear, scale, zero_point).unwrap();
    let words = i32s(bytes("requant"));
    assert_eq!(
        words[..4],
        [requant.to_word(), 0, header.act_min, header.act_max]
    );
    for (c, s) in scales.iter().enumerate() {
        let pair = requant.words(effective_scale(s_in, *s, scale));
        assert_eq!(words[4 + 2 * c..6 + 2 * c], pair);
    }
    // The output's own quantization is the range of its values on the calibration set.
    let t = q.tensors.iter().find(|t| t.layer == "dense").unwrap();
    assert_eq!((t.scale, t.zero_point), params::asymmetric(t.min, t.max));
}

#[test]
fn an_activation_fuses_only_into_a_tensor_nothing_else_reads() {
    let mut ws = Functional::<Heap>::new();
    let x = ws.input(Input::new(&[5, 5, 2])).unwrap();
    let c = ws
        .call(Conv2D::new(2, [3, 3]).padding(kiln::Padding::Same), &[x])
        .unwrap();
    let r = ws.call(ReLU::new(), &[c]).unwrap();
    let s = ws.call(Add, &[r, c]).unwrap();
    let d = ws.call(Dropout::new(0.5), &[s]).unwrap();
    let r2 = ws.call(Activation::Relu, &[d]).unwrap();
    let f = ws.call(Flatten, &[r2]).unwrap();
    let y = ws.call(Dense::new(3), &[f]).unwrap();
    let model = with_weights(ws.model(&[x], &[y]).unwrap(), 3);
    let p = plan::plan(&model).unwrap();
    let classes: Vec<&str> = p.ops.iter().map(|op| op.kind.class_name()).collect();
    // The conv's output is read by the ReLU and the Add: the ReLU stays; the relu after
    // the Dropout fuses into the Add (the Dropout is gone).
    assert_eq!(
        classes,
        ["InputLayer", "Conv2D", "ReLU", "Add", "Flatten", "Dense"]
    );
    assert_eq!(p.ops[3].post, Activation::Relu);
    assert!(p.rewrites.contains(&Rewrite::Removed {
        layer: "dropout".into(),
        class: "Dropout"
    }));
    let calibration = random_array(&[8, 5, 5, 2], 5);
    let q = quantize::quantize(&model, &[calibration], &QuantizeOptions::default()).unwrap();
    // The Add's output is clamped at its zero point (relu) and all its values are ≥ 0.
    let add = q.tensors.iter().find(|t| t.layer == "add").unwrap();
    assert_eq!(add.min, 0.0);
    assert_eq!(add.zero_point, -128);
    assert_eq!(q.report.outputs.len(), 1);
    // Within a few steps of the output's scale.
    let e = &q.report.outputs[0];
    assert!(e.max_abs < 3.0 * f64::from(e.scale), "{:?}", q.report);
}

#[test]
fn layers_without_an_int8_kernel_are_errors_that_name_them() {
    let cases: Vec<(Vec<kiln::graph::LayerSpec<'static>>, &str)> = vec![
        (
            vec![Input::new(&[4]).into(), Dense::new(3).into(), LeakyReLU::new().into()],
            "layer 'leaky_re_lu' (LeakyReLU) has no int8 kernel",
        ),
        (
            vec![
                Input::new(&[4]).into(),
                Dense::new(3).activation(Activation::Elu { alpha: 1.0 }).into(),
            ],
            "layer 'dense' (Dense) has no int8 kernel: activation 'elu' has no int8 form",
        ),
        (
            vec![
                Input::new(&[6, 6, 2]).into(),
                MaxPooling2D::new([2, 2]).into(),
                BatchNormalization::new().into(),
            ],
            "layer 'batch_normalization' (BatchNormalization) has no int8 kernel: it normalizes the output of 'max_pooling2d' (MaxPooling2D); only a BatchNormalization right after a Conv2D, DepthwiseConv2D or Dense folds into that layer",
        ),
        (
            vec![
                Input::new(&[4]).into(),
                Dense::new(3).activation(Activation::Relu).into(),
                BatchNormalization::new().into(),
            ],
            "layer 'batch_normalization' (BatchNormalization) has no int8 kernel: it normalizes the relu output of 'dense'; only one right after a linear Conv2D, DepthwiseConv2D or Dense folds into it",
        ),
        (
            vec![Input::new(&[8, 2]).into(), Conv1D::new(2, 3).into()],
            "layer 'conv1d' (Conv1D) has no int8 kernel",
        ),
        (
            vec![Input::new(&[4]).into(), ReLU::new().negative_slope(0.1).into()],
            "layer 're_lu' (ReLU) has no int8 kernel: TensorFlow Lite has int8 ReLU and ReLU6 only",
        ),
    ];
    for (layers, message) in cases {
        let model = with_weights(sequential(layers), 1);
        let err = plan::plan(&model).unwrap_err();
        assert!(matches!(err, QuantizeError::NoInt8Kernel { .. }), "{err:?}");
        assert!(err.to_string().starts_with(message), "{err}");
    }
}

#[test]
fn calibration_data_must_fit_the_inputs() {
    let model = with_weights(
        sequential(vec![Input::new(&[3]).into(), Dense::new(2).into()]),
        2,
    );
    let opts = QuantizeOptions::default();
    let err = quantize::quantize(&model, &[], &opts).unwrap_err();
    assert!(matches!(
        err,
        QuantizeError::CalibrationCount {
            expected: 1,
            found: 0
        }
    ));
    let err = quantize::quantize(&model, &[random_array(&[4, 5], 1)], &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "calibration array 0 (model input 'input_layer'): shape [4, 5] does not fit the input's (None, 3) (the first axis is the samples)"
    );
    let err = quantize::quantize(&model, &[array(&[0, 3], vec![])], &opts).unwrap_err();
    assert!(err.to_string().ends_with("holds no sample"), "{err}");
    let mut nan = random_array(&[2, 3], 1);
    nan.data[4] = f32::NAN;
    let err = quantize::quantize(&model, &[nan], &opts).unwrap_err();
    assert!(
        err.to_string().ends_with("value 1 of sample 1 is NaN"),
        "{err}"
    );
}

#[test]
fn an_int8_model_is_not_quantized_again() {
    let model = with_weights(
        sequential(vec![Input::new(&[3]).into(), Dense::new(2).into()]),
        4,
    );
    let x = random_array(&[3, 3], 9);
    let q = quantize::quantize(
        &model,
        std::slice::from_ref(&x),
        &QuantizeOptions::default(),
    )
    .unwrap();
    let err = quantize::quantize(&q.model, &[x], &QuantizeOptions::default()).unwrap_err();
    assert!(matches!(err, QuantizeError::NotFloat), "{err}");
}

#[test]
fn softmax_and_sigmoid_are_split_from_their_dense() {
    let model = with_weights(
        sequential(vec![
            Input::new(&[4]).into(),
            Dense::new(3).activation(Activation::Sigmoid).into(),
            Dense::new(2).activation(Activation::Softmax).into(),
        ]),
        6,
    );
    let p = plan::plan(&model).unwrap();
    let kinds: Vec<LayerKind> = p.ops.iter().map(|op| op.kind).collect();
    assert!(matches!(kinds[2], LayerKind::Activation(a) if a.0 == Activation::Sigmoid));
    assert!(matches!(kinds[4], LayerKind::Softmax(_)));
    assert_eq!(p.ops[4].name, "dense_1_softmax");
    // Their outputs have TensorFlow Lite's fixed quantization.
    let calibration = random_array(&[8, 4], 3);
    let q = quantize::quantize(&model, &[calibration], &QuantizeOptions::default()).unwrap();
    let fixed: Vec<(f32, i32)> = q
        .tensors
        .iter()
        .filter(|t| t.rule == quantize::Rule::Fixed)
        .map(|t| (t.scale, t.zero_point))
        .collect();
    assert_eq!(fixed, [(1.0 / 256.0, -128), (1.0 / 256.0, -128)]);
}

fn kiln(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn export_int8_prints_what_it_did_and_the_error_on_the_calibration_set() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/int8/depthwise_stack");
    let tmp = std::env::temp_dir().join(format!("kiln-ptq-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let blob = tmp.join("m.kiln");
    let model = dir.join("model.keras");
    let calibration = dir.join("calibration.npy");
    let out = kiln(&[
        "export",
        model.to_str().unwrap(),
        "--int8",
        "--calibration",
        calibration.to_str().unwrap(),
        "-o",
        blob.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "int8: quantized with 32 calibration samples; kernels per output channel; int8 inputs and outputs"
    );
    assert_eq!(
        lines[1],
        "int8: batch_normalization (BatchNormalization) folded into depthwise_conv2d"
    );
    assert_eq!(lines[2], "int8: re_lu (relu) fused into depthwise_conv2d");
    assert!(lines.contains(
        &"int8: error against float on the calibration set (32 samples, not held-out data):"
    ));
    let error = lines
        .iter()
        .find(|l| l.starts_with("int8:   output 0 (dense): mean abs "))
        .unwrap();
    assert!(
        error.contains(", max abs ") && error.ends_with("(int8 scale 0.019855851, zero point -64)"),
        "{error}"
    );
    assert!(lines.iter().any(|l| l.starts_with("wrote ")));
    // The blob is int8 and predicts.
    let x = dir.join("x.npy");
    let predicted = kiln(&[
        "predict",
        blob.to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
    ]);
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let inspect = kiln(&["inspect", blob.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("int8"));

    // --int8 needs --calibration, and the other way round.
    let out = kiln(&[
        "export",
        model.to_str().unwrap(),
        "--int8",
        "-o",
        blob.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    // A calibration array of the wrong shape: the message names its file.
    let wrong = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/int8/mlp_per_channel/calibration.npy");
    let out = kiln(&[
        "export",
        model.to_str().unwrap(),
        "--int8",
        "--calibration",
        wrong.to_str().unwrap(),
        "-o",
        blob.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with(&format!(
            "error: {}: calibration array 0 (model input 'input_layer'): shape [32, 32]",
            wrong.display()
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn the_bias_of_a_linear_dense_moves_into_the_dense_after_it() {
    // Three linear Dense layers: the converter's rewriter, from the end, moves the second's
    // bias into the third; the first keeps its own (the second has none left to take it).
    let graph = sequential(vec![
        Input::new(&[4]).into(),
        Dense::new(3).into(),
        Dense::new(5).into(),
        Dense::new(2).into(),
    ]);
    let model = with_weights(graph, 12);
    let p = plan::plan(&model).unwrap();
    assert_eq!(
        p.rewrites,
        [Rewrite::BiasMoved {
            from: "dense_1".into(),
            into: "dense_2".into()
        }]
    );
    let bias = |i: usize| p.ops[i].kernel.as_ref().unwrap().bias.clone();
    assert!(bias(1).is_some() && bias(2).is_none() && bias(3).is_some());
    // b3 + b2·W3, and the rewritten model computes what the model does.
    let g = model.graph().unwrap();
    let (b2, w3, b3) = (
        g.layer_weight(2, "bias").unwrap(),
        g.layer_weight(3, "kernel").unwrap(),
        g.layer_weight(3, "bias").unwrap(),
    );
    for (j, &got) in bias(3).unwrap().iter().enumerate() {
        let want: f32 = b3[j] + (0..5).map(|i| b2[i] * w3[i * 2 + j]).sum::<f32>();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    let (rewritten, _) = calibrate::float_model(&p).unwrap();
    let x = random_array(&[6, 4], 2);
    let want = quantize::report::predict(&model, std::slice::from_ref(&x)).unwrap();
    let got = quantize::report::predict(&rewritten, std::slice::from_ref(&x)).unwrap();
    for (a, b) in got.last().unwrap().iter().zip(&want[0]) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn a_relu_after_a_relu_is_the_identity() {
    let model = with_weights(
        sequential(vec![
            Input::new(&[4]).into(),
            Dense::new(3).activation(Activation::Relu).into(),
            ReLU::new().into(),
            Dense::new(2).into(),
        ]),
        8,
    );
    let p = plan::plan(&model).unwrap();
    let classes: Vec<&str> = p.ops.iter().map(|op| op.kind.class_name()).collect();
    assert_eq!(classes, ["InputLayer", "Dense", "Dense"]);
    assert_eq!(
        p.rewrites[0].to_string(),
        "re_lu (relu) removed: the output of dense is clamped so already"
    );
}

/// A model input, an average pool of it, and a concatenation of the pool with a ReLU conv
/// of the pool: one group of tensors sharing a quantization.
fn pool_concat_model() -> HostGraph {
    let mut ws = Functional::<Heap>::new();
    let x = ws.input(Input::new(&[6, 6, 2])).unwrap();
    let p = ws.call(AveragePooling2D::new([2, 2]), &[x]).unwrap();
    let c = ws
        .call(Conv2D::new(2, [1, 1]).activation(Activation::Relu), &[p])
        .unwrap();
    let k = ws.call(Concatenate::new(), &[p, c]).unwrap();
    let f = ws.call(Flatten, &[k]).unwrap();
    let y = ws.call(Dense::new(2), &[f]).unwrap();
    with_weights(ws.model(&[x], &[y]).unwrap(), 21)
}

#[test]
fn a_group_takes_the_ranges_the_converter_keeps_or_all_its_members() {
    let model = pool_concat_model();
    let calibration = random_array(&[16, 6, 6, 2], 4);
    let run = |ranges| {
        let options = QuantizeOptions {
            ranges,
            ..Default::default()
        };
        quantize::quantize(&model, std::slice::from_ref(&calibration), &options).unwrap()
    };
    let find = |q: &quantize::Quantized, layer: &str| {
        q.tensors.iter().find(|t| t.layer == layer).unwrap().clone()
    };
    // The converter keeps the concatenation's range and quantizes the whole group with it,
    // the model input included (whose own range is wider: it then clips).
    let q = run(quantize::Ranges::LikeConverter);
    let (input, concat) = (find(&q, "input_layer"), find(&q, "concatenate"));
    assert_eq!(
        (input.scale, input.zero_point),
        params::asymmetric(concat.min, concat.max)
    );
    assert!(input.min < concat.min);
    // Own ranges: the union of the group's, the input's included.
    let q = run(quantize::Ranges::Own);
    let (input, concat) = (find(&q, "input_layer"), find(&q, "concatenate"));
    let union = (input.min.min(concat.min), input.max.max(concat.max));
    assert_eq!(
        (concat.scale, concat.zero_point),
        params::asymmetric(union.0, union.1)
    );
}

#[test]
fn an_add_input_it_overwrites_in_place_takes_its_range_like_the_converters_calibrator() {
    // a = conv(x); s = a + conv(a): the second conv's output is read by the Add only, so
    // TensorFlow Lite's calibrator (the Add running in place) records s's values in it too.
    let mut ws = Functional::<Heap>::new();
    let x = ws.input(Input::new(&[4, 4, 2])).unwrap();
    let a = ws
        .call(Conv2D::new(2, [1, 1]).activation(Activation::Relu), &[x])
        .unwrap();
    let b = ws.call(Conv2D::new(2, [1, 1]), &[a]).unwrap();
    let s = ws.call(Add, &[a, b]).unwrap();
    let g = ws.call(GlobalAveragePooling2D::new(), &[s]).unwrap();
    let model = with_weights(ws.model(&[x], &[g]).unwrap(), 31);
    let calibration = random_array(&[16, 4, 4, 2], 6);
    let p = plan::plan(&model).unwrap();
    let own = calibrate::calibrate(
        &p,
        &calibrate::Samples::new(&p, std::slice::from_ref(&calibration)).unwrap(),
    )
    .unwrap()
    .ranges;
    let recorded = calibrate::as_converter_records(&p, &own);
    let (conv_a, conv_b, add) = (1, 2, 3);
    assert_eq!(recorded[conv_a], own[conv_a], "read by the second conv too");
    assert_eq!(
        recorded[conv_b],
        (own[conv_b].0.min(own[add].0), own[conv_b].1.max(own[add].1))
    );
    assert_eq!(recorded[add], own[add]);
}

#[test]
fn a_convolution_bias_moves_through_a_flatten_that_keeps_the_last_axis() {
    // A 2×2 valid conv on a 2×2 image: its output is 1×1×3, so the Flatten keeps the
    // channels as the last axis and the bias moves into the Dense. On a 3×3 image the
    // Flatten mixes positions into the last axis, and the bias stays.
    for (size, moved) in [(2u32, true), (3, false)] {
        let graph = sequential(vec![
            Input::new(&[size, size, 2]).into(),
            Conv2D::new(3, [2, 2]).into(),
            Flatten.into(),
            Dense::new(2).into(),
        ]);
        let model = with_weights(graph, 17);
        let p = plan::plan(&model).unwrap();
        assert_eq!(
            p.rewrites
                .iter()
                .any(|r| matches!(r, Rewrite::BiasMoved { from, .. } if from == "conv2d")),
            moved,
            "{size}: {:?}",
            p.rewrites
        );
        let (rewritten, _) = calibrate::float_model(&p).unwrap();
        let x = random_array(&[5, size as usize, size as usize, 2], 2);
        let want = quantize::report::predict(&model, std::slice::from_ref(&x)).unwrap();
        let got = quantize::report::predict(&rewritten, std::slice::from_ref(&x)).unwrap();
        for (a, b) in got.last().unwrap().iter().zip(&want[0]) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

/// Calibration data for every input of a fixture model: `n` samples of values in [-2, 2].
fn calibration_for(model: &HostGraph, n: usize) -> Vec<NpyArray> {
    let g = model.structure();
    g.input_nodes()
        .iter()
        .enumerate()
        .map(|(k, &node)| {
            let shape = g.nodes()[g.resolve(node) as usize].shape;
            let mut dims = vec![n];
            dims.extend((1..shape.rank()).map(|a| shape.dim(a).unwrap() as usize));
            random_array(&dims, 40 + k as u64)
        })
        .collect()
}

#[test]
fn nested_shared_and_several_output_models_quantize() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/functional");
    for (name, outputs) in [
        ("nested_functional_shared", 1),
        ("nested_deep", 1),
        ("two_io", 2),
        ("dict_io", 2),
    ] {
        let model = kiln_host::load::load_model(fixtures.join(name).join("model.keras")).unwrap();
        let calibration = calibration_for(&model, 16);
        let q = quantize::quantize(&model, &calibration, &QuantizeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(q.report.outputs.len(), outputs, "{name}");
        for e in &q.report.outputs {
            // The error stays within a few steps of each output's scale.
            assert!(e.mean_abs < 2.0 * f64::from(e.scale), "{name}: {e:?}");
        }
        // The int8 model's layers are the float model's, nested ones flattened.
        let g = q.model.structure();
        assert!(g.all_layers().iter().all(|l| l.parent.is_none()), "{name}");
    }
    let unbuilt = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sequential/unbuilt/model.keras");
    let model = kiln_host::load::load_model(unbuilt).unwrap();
    let err = quantize::quantize(&model, &[], &QuantizeOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the model has no input (an unbuilt model): quantization needs one to calibrate"
    );
}
