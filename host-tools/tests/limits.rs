//! Models past any device capacity, through the CLI: a 1,000-layer Keras model and one with
//! 12 inputs, 12-way merges and 10 outputs (fixtures from `tests/fixtures/generate_limits.py`)
//! summarise exactly as Keras, predict within Keras's tolerance, and export to a blob that
//! predicts the same bits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn limits(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/limits")
        .join(model)
}

fn kiln(args: &[&Path]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .expect("run kiln");
    assert!(
        out.status.success(),
        "kiln {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `--input x0.npy --input x1.npy …` for every input file of a fixture, and as many
/// `--output` files in `work`.
fn io_args(dir: &Path, work: &Path, tag: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let count = |prefix: &str| {
        (0..)
            .take_while(|i| dir.join(format!("{prefix}{i}.npy")).exists())
            .count()
    };
    let mut args = Vec::new();
    for i in 0..count("x") {
        args.push(PathBuf::from("--input"));
        args.push(dir.join(format!("x{i}.npy")));
    }
    let outputs: Vec<PathBuf> = (0..count("y"))
        .map(|j| work.join(format!("{tag}{j}.npy")))
        .collect();
    for out in &outputs {
        args.push(PathBuf::from("--output"));
        args.push(out.clone());
    }
    (args, outputs)
}

fn check(model: &str, layers: usize, fixed_problem: &str) {
    let dir = limits(model);
    let keras = dir.join("model.keras");
    let work = std::env::temp_dir().join(format!("kiln-limits-{model}-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    let summary = kiln(&[Path::new("summary"), &keras]);
    let want = std::fs::read_to_string(dir.join("summary_cols80.txt")).unwrap();
    assert_eq!(String::from_utf8(summary.stdout).unwrap(), want, "{model}");

    let (args, outputs) = io_args(&dir, &work, "keras");
    let mut predict: Vec<&Path> = vec![Path::new("predict"), &keras];
    predict.extend(args.iter().map(PathBuf::as_path));
    kiln(&predict);
    for (j, out) in outputs.iter().enumerate() {
        let got = kiln_host::formats::npy::read_f32(out).unwrap();
        let want = kiln_host::formats::npy::read_f32(dir.join(format!("y{j}.npy"))).unwrap();
        assert_eq!(got.shape, want.shape);
        let scale = want.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (a, b) in got.data.iter().zip(&want.data) {
            assert!(
                (a - b).abs() <= 1e-6 * scale + 1e-5 * b.abs(),
                "{model} y{j}: {a} vs {b}"
            );
        }
    }

    let blob = work.join("m.kiln");
    let rust = work.join("m.rs");
    let export = kiln(&[
        Path::new("export"),
        &keras,
        Path::new("-o"),
        &blob,
        Path::new("--rust"),
        &rust,
    ]);
    // A device's Fixed storage cannot hold these models: the export says so, and the Rust
    // it writes stops the firmware's build with the reason.
    let note = String::from_utf8(export.stdout).unwrap();
    assert!(note.contains(&format!("note: {fixed_problem}")), "{note}");
    let source = std::fs::read_to_string(&rust).unwrap();
    assert!(
        source.contains(&format!("compile_error!(\"{fixed_problem}")),
        "{source}"
    );
    let (args, from_blob) = io_args(&dir, &work, "blob");
    let mut predict: Vec<&Path> = vec![Path::new("predict"), &blob];
    predict.extend(args.iter().map(PathBuf::as_path));
    kiln(&predict);
    for (a, b) in outputs.iter().zip(&from_blob) {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{model}"
        );
    }
    let inspect = String::from_utf8(kiln(&[Path::new("inspect"), &blob]).stdout).unwrap();
    assert!(
        inspect.contains(&format!(": {layers} layers,")),
        "{inspect}"
    );
    let blob_summary = kiln(&[Path::new("summary"), &blob]);
    assert_eq!(String::from_utf8(blob_summary.stdout).unwrap(), want);
    std::fs::remove_dir_all(&work).ok();
}

#[test]
fn a_thousand_layer_model_summarises_predicts_and_exports() {
    check(
        "deep_1000",
        1000,
        "the name 'dense_with_a_name_longer_than_the_sixty_four_bytes_a_device_graph_stores_for_a_layer' has 84 bytes; kiln::Fixed stores names of at most 64",
    );
}

#[test]
fn twelve_inputs_twelve_way_merges_and_ten_outputs() {
    check(
        "wide_io",
        25,
        "a layer takes 12 tensors; kiln::Fixed takes at most 8 per call",
    );
}
