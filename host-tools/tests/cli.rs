//! The `kiln` binary end to end on the Keras fixtures: summary text as Keras prints it in a
//! pipe, predict output files, and one-line errors with exit code 1 on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/sequential")
        .join(model)
}

fn kiln(args: &[&str], columns: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    cmd.args(args);
    match columns {
        Some(c) => cmd.env("COLUMNS", c),
        None => cmd.env_remove("COLUMNS"),
    };
    cmd.output().expect("run kiln")
}

/// Keras parity for a written `.npy` (tolerance as in kiln-tests' `allclose`: atol scaled
/// by each sample's largest value).
fn assert_npy_close(got: &Path, want: &Path) {
    let got = kiln_host::formats::npy::read_f32(got).unwrap();
    let want = kiln_host::formats::npy::read_f32(want).unwrap();
    assert_eq!(got.shape, want.shape);
    let row = want.shape[1..].iter().product::<usize>().max(1);
    for (g, w) in got.data.chunks(row).zip(want.data.chunks(row)) {
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() <= 1e-6 * scale + 1e-5 * b.abs(), "{a} vs {b}");
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A failed run: exit code 1, one line on stderr starting with `error:`, no panic.
fn assert_clean_error(o: &Output, mentions: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(mentions), "expected {mentions:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn summary_in_a_pipe_is_keras_default_76() {
    for model in ["mlp", "cnn", "frozen", "unbuilt"] {
        let dir = fixture(model);
        let file = if dir.join("model.keras").exists() {
            dir.join("model.keras")
        } else {
            dir.join("model.json")
        };
        let out = kiln(&["summary", file.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", stderr(&out));
        let want = std::fs::read_to_string(dir.join("summary/default_cols80.txt")).unwrap();
        assert_eq!(stdout(&out), want, "{model}");
    }
}

#[test]
fn summary_arguments_reach_the_table() {
    let dir = fixture("mlp");
    let model = dir.join("model.keras");
    let model = model.to_str().unwrap();
    let cases: [(&[&str], Option<&str>, &str); 4] = [
        (&["--line-length", "40"], None, "ll40.txt"),
        (
            &["--line-length", "80", "--positions", "0.5,0.8,1.0"],
            None,
            "pos_0p5_0p8_1_ll80.txt",
        ),
        (&["--show-trainable"], Some("200"), "trainable_cols200.txt"),
        (&[], Some("200"), "default_cols200.txt"),
    ];
    for (args, columns, file) in cases {
        let mut all = vec!["summary", model];
        all.extend_from_slice(args);
        let out = kiln(&all, columns);
        assert!(out.status.success(), "{}", stderr(&out));
        let want = std::fs::read_to_string(dir.join("summary").join(file)).unwrap();
        assert_eq!(stdout(&out), want, "{args:?}");
    }
    let dir = fixture("layer_range");
    let out = kiln(
        &[
            "summary",
            dir.join("model.keras").to_str().unwrap(),
            "--layer-range",
            "drop.*",
            "dense_[34]",
        ],
        None,
    );
    let want =
        std::fs::read_to_string(dir.join("summary/range_drop--__dense_-34-_cols80.txt")).unwrap();
    assert_eq!(stdout(&out), want);
    let out = kiln(
        &[
            "summary",
            dir.join("model.keras").to_str().unwrap(),
            "--layer-range",
            "nope",
            "dense",
        ],
        None,
    );
    assert_clean_error(
        &out,
        "Passed layer_names do not match the layer names in the model. Received: ['nope', 'dense']",
    );
}

#[test]
fn predict_writes_what_keras_predicts() {
    let dir = fixture("cnn");
    let tmp = std::env::temp_dir().join(format!("kiln-cli-{}.npy", std::process::id()));
    let out = kiln(
        &[
            "predict",
            dir.join("model.keras").to_str().unwrap(),
            "--input",
            dir.join("x.npy").to_str().unwrap(),
            "--output",
            tmp.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_npy_close(&tmp, &dir.join("y.npy"));
    std::fs::remove_file(&tmp).ok();
    let want = kiln_host::formats::npy::read_f32(dir.join("y.npy")).unwrap();
    // Without --output the values are printed, one sample per line.
    let out = kiln(
        &[
            "predict",
            dir.join("model.keras").to_str().unwrap(),
            "--input",
            dir.join("x.npy").to_str().unwrap(),
        ],
        None,
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "output 0: shape ({}, {})",
            want.shape[0], want.shape[1]
        )),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + want.shape[0]);
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = fixture("mlp");
    let model = dir.join("model.keras");
    let tmp = std::env::temp_dir().join(format!("kiln-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    let out = kiln(&["summary", "/nonexistent/model.keras"], None);
    assert_clean_error(&out, "/nonexistent/model.keras");

    let bytes = std::fs::read(&model).unwrap();
    let truncated = tmp.join("truncated.keras");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_error(
        &kiln(&["summary", truncated.to_str().unwrap()], None),
        "truncated.keras",
    );

    let garbage = tmp.join("garbage.json");
    std::fs::write(&garbage, b"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"LSTM\", \"config\": {\"name\": \"lstm\"}}]}}").unwrap();
    assert_clean_error(
        &kiln(&["summary", garbage.to_str().unwrap()], None),
        "layer 'lstm' has class 'LSTM'",
    );

    // An input of the wrong width, and a bare config asked to predict.
    let x = tmp.join("x.npy");
    kiln_host::formats::npy::write_f32(&x, &[2, 36], &[0.0; 72]).unwrap();
    assert_clean_error(
        &kiln(
            &[
                "predict",
                model.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
            ],
            None,
        ),
        "input 0: expected (None, 37), got (2, 36)",
    );
    let json = dir.join("model.json");
    assert_clean_error(
        &kiln(
            &[
                "predict",
                json.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
            ],
            None,
        ),
        "no weights",
    );
    assert_clean_error(
        &kiln(
            &[
                "predict",
                model.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
                "--input",
                x.to_str().unwrap(),
            ],
            None,
        ),
        "1 input",
    );
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["summary", "--help"],
        &["predict", "--help"],
    ] {
        let out = kiln(args, None);
        assert!(out.status.success());
        assert!(stdout(&out).contains("Usage"), "{}", stdout(&out));
    }
}

fn functional(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/functional")
        .join(model)
}

#[test]
fn functional_models_with_several_inputs_and_outputs() {
    let dir = functional("two_io");
    let tmp = std::env::temp_dir().join(format!("kiln-two-io-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (y0, y1) = (tmp.join("y0.npy"), tmp.join("y1.npy"));
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["predict", &arg(&dir.join("model.keras"))])
        .args([
            "--input",
            &arg(&dir.join("x0.npy")),
            "--input",
            &arg(&dir.join("x1.npy")),
        ])
        .args(["--output", &arg(&y0), "--output", &arg(&y1)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_npy_close(&y0, &dir.join("y0.npy"));
    assert_npy_close(&y1, &dir.join("y1.npy"));
    std::fs::remove_dir_all(&tmp).ok();
    // One input for a two-input model is an error that says so.
    let out = kiln(
        &[
            "predict",
            dir.join("model.keras").to_str().unwrap(),
            "--input",
            dir.join("x0.npy").to_str().unwrap(),
        ],
        None,
    );
    assert_clean_error(&out, "2 input(s) but 1 --input");

    // Nested models expand as Keras prints them.
    let dir = functional("nested");
    let out = kiln(
        &[
            "summary",
            dir.join("model.keras").to_str().unwrap(),
            "--expand-nested",
            "--show-trainable",
        ],
        Some("200"),
    );
    let want =
        std::fs::read_to_string(dir.join("summary/expand_nested_trainable_cols200.txt")).unwrap();
    assert_eq!(stdout(&out), want);
}

#[test]
fn export_inspect_and_predict_from_the_blob() {
    let dir = fixture("cnn");
    let tmp = std::env::temp_dir().join(format!("kiln-export-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let blob = tmp.join("cnn.kiln");
    let rust = tmp.join("cnn.rs");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = kiln(
        &[
            "export",
            &s(&dir.join("model.keras")),
            "-o",
            &s(&blob),
            "--rust",
            &s(&rust),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The Conv2D's 26×26×8 floats are all the arena holds at once: the pool writes over
    // them, the Dense goes into the rest.
    assert!(
        stdout(&out).contains("arena: 21635 bytes (lower bound 21632"),
        "{}",
        stdout(&out)
    );
    let source = std::fs::read_to_string(&rust).unwrap();
    assert!(
        source.contains("pub const ARENA_BYTES: usize = 21635;"),
        "{source}"
    );
    assert!(source.contains("include_bytes!(\"cnn.kiln\")"), "{source}");

    let out = kiln(&["inspect", &s(&blob)], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("checksum ok"), "{text}");
    assert!(text.contains("dense (Dense)"), "{text}");

    // predict from the blob gives the same bytes as from the .keras.
    let (a, b) = (tmp.join("a.npy"), tmp.join("b.npy"));
    for (model, y) in [(&blob, &a), (&dir.join("model.keras"), &b)] {
        let out = kiln(
            &[
                "predict",
                &s(model),
                "--input",
                &s(&dir.join("x.npy")),
                "--output",
                &s(y),
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // The summary of the blob is Keras's.
    let out = kiln(&["summary", &s(&blob)], None);
    assert_eq!(
        stdout(&out),
        std::fs::read_to_string(dir.join("summary/default_cols80.txt")).unwrap()
    );

    // A corrupted blob is a one-line error.
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&blob, &bytes).unwrap();
    assert_clean_error(&kiln(&["inspect", &s(&blob)], None), "checksum mismatch");
    assert_clean_error(
        &kiln(
            &["predict", &s(&blob), "--input", &s(&dir.join("x.npy"))],
            None,
        ),
        "checksum mismatch",
    );
    std::fs::remove_dir_all(&tmp).ok();
}
