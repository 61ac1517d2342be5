//! The `kiln` binary on int8 `.tflite` models made by the TensorFlow converter
//! (tests/fixtures/generate_int8.py): raw int8 and float32 `.npy` in and out, `inspect`,
//! `export` to a blob that predicts the same bits, and one-line errors.

use kiln_host::formats::npy;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/int8")
        .join(model)
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .expect("run kiln")
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "kiln failed: {err}");
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-cli-int8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn predict_takes_int8_and_gives_litert_bits_as_int8() {
    let dir = fixture("conv_same_valid");
    let out = temp("conv.npy");
    ok(&kiln(&[
        "predict",
        &s(&dir.join("model.tflite")),
        "--input",
        &s(&dir.join("x_int8.npy")),
        "--output",
        &s(&out),
    ]));
    // numpy.save's bytes, header included.
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.join("y_int8.npy")).unwrap()
    );
}

#[test]
fn predict_quantizes_float_inputs_and_dequantizes_outputs() {
    let dir = fixture("mlp_per_channel");
    let model = dir.join("model.tflite");
    let out = temp("mlp.npy");
    let x = s(&dir.join("x.npy"));
    ok(&kiln(&[
        "predict",
        &s(&model),
        "--input",
        &x,
        "--output",
        &s(&out),
    ]));
    let got = npy::read_f32(&out).unwrap();
    assert!(got.int8.is_none(), "float32 in, float32 out");
    // The float inputs quantize to the generator's x_int8, so the outputs are LiteRT's
    // int8 outputs dequantized with the output's scale and zero point.
    let import = kiln_host::load::load_model(&model).unwrap();
    let graph = import.structure();
    let out_node = &graph.nodes()[graph.output_nodes()[0] as usize];
    let kiln::graph::Quant::PerTensor { scale, zero_point } = out_node.quant else {
        panic!("an int8 output")
    };
    let y = npy::read_f32(dir.join("y_int8.npy")).unwrap().int8.unwrap();
    let want: Vec<f32> = y
        .iter()
        .map(|&q| scale * (i32::from(q) - zero_point) as f32)
        .collect();
    assert_eq!(got.shape, vec![6, 10]);
    assert_eq!(got.data, want);
}

#[test]
fn export_writes_a_blob_that_predicts_the_same_bits() {
    let dir = fixture("residual_add");
    let blob = temp("residual.kiln");
    let printed = ok(&kiln(&[
        "export",
        &s(&dir.join("model.tflite")),
        "-o",
        &s(&blob),
    ]));
    assert!(
        printed.starts_with(&format!("wrote {}", s(&blob))),
        "{printed}"
    );
    let out = temp("residual.npy");
    ok(&kiln(&[
        "predict",
        &s(&blob),
        "--input",
        &s(&dir.join("x_int8.npy")),
        "--output",
        &s(&out),
    ]));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.join("y_int8.npy")).unwrap()
    );
}

#[test]
fn inspect_shows_where_each_tensor_lives_and_the_pool_over_its_input() {
    let model = fixture("../bench/cnn/model_int8.tflite");
    let text = ok(&kiln(&["inspect", &s(&model)]));
    let tensors = text.split_once("tensors:\n").map_or("", |t| t.1);
    let line = |name: &str| {
        tensors
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no tensor line for {name} in\n{text}"))
            .to_string()
    };
    assert!(
        line("input_layer").ends_with("in the caller's buffer"),
        "{text}"
    );
    // 30×30×16 and 15×15×16 bytes: the pool's output over the start of its input.
    assert!(line("conv2d").ends_with("arena 0..14400"), "{text}");
    assert!(
        line("max_pooling2d").ends_with("arena 0..3600, over conv2d's memory"),
        "{text}"
    );
    assert!(
        text.contains("arena: 14403 bytes, lower bound 14400 bytes live at once"),
        "{text}"
    );
}

#[test]
fn inspect_shows_each_tensors_dtype_scale_and_zero_point() {
    let dir = fixture("mlp_per_channel");
    let text = ok(&kiln(&["inspect", &s(&dir.join("model.tflite"))]));
    // The converter's input quantization (tensors.json: scale 0.022028010338544846, -8).
    let tensors = text.split_once("tensors:\n").map_or("", |t| t.1);
    let input = tensors
        .lines()
        .find(|l| l.trim_start().starts_with("input_layer "))
        .unwrap_or_else(|| panic!("no input tensor line in\n{text}"));
    assert!(input.contains("int8"), "{input}");
    assert!(
        input.contains("scale 2.202801e-2, zero point -8"),
        "{input}"
    );
    assert!(text.contains("tensors:"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("arena: ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("flash: ")), "{text}");
}

#[test]
fn summary_counts_the_int8_parameters_in_bytes() {
    let dir = fixture("dense_autoencoder");
    let text = ok(&kiln(&["summary", &s(&dir.join("model.tflite"))]));
    // 10 Dense layers 32-24-16-12-8-6-8-12-16-24-32: the parameters are the kernels (1
    // byte each) and the biases (4 bytes each), as Keras counts them.
    let (kernels, biases) = [32, 24, 16, 12, 8, 6, 8, 12, 16, 24, 32]
        .windows(2)
        .fold((0, 0), |(k, b), w| (k + w[0] * w[1], b + w[1]));
    let total = kernels + biases;
    let bytes = kernels + 4 * biases;
    let line = format!(
        " Total params: {},{:03} ({:.2} KB)",
        total / 1000,
        total % 1000,
        bytes as f64 / 1024.0
    );
    assert!(text.contains(&line), "{line:?} not in\n{text}");
}

#[test]
fn tflm_rounding_differs_from_litert_by_at_most_one() {
    let dir = fixture("dense_autoencoder");
    let out = temp("tflm.npy");
    ok(&kiln(&[
        "predict",
        &s(&dir.join("model.tflite")),
        "--input",
        &s(&dir.join("x_int8.npy")),
        "--output",
        &s(&out),
        "--rounding",
        "tflm",
    ]));
    let got = npy::read_f32(&out).unwrap().int8.unwrap();
    let want = npy::read_f32(dir.join("y_int8.npy")).unwrap().int8.unwrap();
    let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
    assert!(
        got.iter()
            .zip(&want)
            .all(|(&a, &b)| (i32::from(a) - i32::from(b)).abs() <= 1),
        "TFLM's rounding moves an output by at most 1"
    );
    // Two rounding steps in FULLY_CONNECTED instead of LiteRT's double-precision one.
    assert!(
        differ > 0,
        "the two roundings agree everywhere on 10 layers"
    );
}

#[test]
fn bad_tflite_input_is_one_error_line() {
    let dir = fixture("activations");
    let model = dir.join("model.tflite");
    let o = kiln(&[
        "predict",
        &s(&model),
        "--input",
        &s(&dir.join("x_int8.npy")),
        "--rounding",
        "tflm",
    ]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("operator 1 (LOGISTIC)"), "{err}");
    // A truncated file.
    let bytes = std::fs::read(&model).unwrap();
    let cut = temp("cut.tflite");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = kiln(&["summary", &s(&cut)]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cut.tflite"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
