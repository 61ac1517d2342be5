//! The CLI against the inputs an adversarial pass found (issue 7): each case exited 101,
//! hung, read without bound, wrote something wrong, or printed an error a user cannot act
//! on. Every one must now be one line on stderr and exit code 1 (or, for a closed stdout, a
//! quiet exit), and nothing may be left half-written.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .expect("run kiln")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 1, one line on stderr starting with `error:`, containing each of `mentions`.
fn assert_clean_error(o: &Output, mentions: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for m in mentions {
        assert!(err.contains(m), "expected {m:?} in {err}");
    }
    err
}

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-hostile-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A copy of a fixture's `.keras` whose `config.json` went through `edit`.
fn edited_keras(fixture: &str, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let bytes = std::fs::read(fixtures().join(fixture).join("model.keras")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut members = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        members.push((entry.name().to_string(), data));
    }
    let (_, config) = members
        .iter_mut()
        .find(|(n, _)| n == "config.json")
        .unwrap();
    let mut value: Value = serde_json::from_slice(config).unwrap();
    edit(&mut value);
    *config = serde_json::to_vec(&value).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in &members {
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(data).unwrap();
    }
    let path = dir.join(format!("{}.keras", fixture.replace('/', "_")));
    std::fs::write(&path, out.finish().unwrap().into_inner()).unwrap();
    path
}

/// The config of layer `name` in a (Sequential or Functional) model config.
fn layer<'a>(config: &'a mut Value, name: &str) -> &'a mut Value {
    config["config"]["layers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|l| l["config"]["name"] == name)
        .unwrap_or_else(|| panic!("no layer {name}"))
}

fn cnn() -> PathBuf {
    fixtures().join("sequential/cnn")
}

// --- panics -------------------------------------------------------------------------------

#[test]
fn a_closed_or_full_stdout_is_not_a_panic() {
    let model = cnn().join("model.keras");
    let x = cnn().join("x.npy");
    // The reader goes away before kiln prints: a quiet exit, as `cat` and `grep` make.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["predict", s(&model), "--input", s(&x)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // A full disk is an error that says so.
    let dir = scratch("full");
    let blob = dir.join("m.kiln");
    assert!(kiln(&["export", s(&model), "-o", s(&blob)])
        .status
        .success());
    for args in [
        vec!["inspect", s(&blob)],
        vec!["predict", s(&model), "--input", s(&x)],
        vec!["summary", s(&model)],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .args(&args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_clean_error(&out, &["stdout", "No space left on device"]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["export", s(&model), "-o", s(&dir.join("n.kiln"))])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_clean_error(&out, &["stdout"]);
}

// --- hangs and unbounded reads -----------------------------------------------------------

#[test]
fn absurd_widths_and_backtracking_patterns_end_at_once() {
    let model = cnn().join("model.keras");
    assert_clean_error(
        &kiln(&["summary", s(&model), "--line-length", "1099511627776"]),
        &["line_length 1099511627776", "at most 10000"],
    );
    // An 84-byte layer name, a pattern a backtracking matcher needs 2^60 steps for.
    let deep = fixtures().join("limits/deep_1000/model.keras");
    let pattern = "a*a*a*a*a*a*a*a*a*a*a*a*b";
    assert_clean_error(
        &kiln(&["summary", s(&deep), "--layer-range", pattern, "x"]),
        &["do not match"],
    );
    let out = kiln(&[
        "summary",
        s(&deep),
        "--layer-range",
        "de.*a*a*a*a*a*a*_with",
        "dense_with",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("│ dense_with_a_name_… │ (None, 4)"));
}

#[test]
fn devices_are_not_read_to_the_end() {
    let model = cnn().join("model.keras");
    for args in [
        vec!["summary", "/dev/zero"],
        vec!["inspect", "/dev/zero"],
        vec!["predict", s(&model), "--input", "/dev/zero"],
    ] {
        assert_clean_error(&kiln(&args), &["/dev/zero: not a file kiln reads"]);
    }
}

// --- silent wrong results ----------------------------------------------------------------

#[test]
fn an_arena_a_blob_cannot_record_is_refused_at_export() {
    let dir = scratch("arena");
    let model = fixtures().join("limits/huge_arena/model.keras");
    let blob = dir.join("m.kiln");
    assert_clean_error(
        &kiln(&["export", s(&model), "-o", s(&blob)]),
        &[
            "huge_arena/model.keras: ",
            "6442450947 bytes",
            "'wide_a'",
            "4 GiB",
        ],
    );
    assert!(!blob.exists(), "nothing is written");
    let x = dir.join("x.npy");
    kiln_host::formats::npy::write_f32(&x, &[1, 16384, 2], &vec![0.0; 32768]).unwrap();
    assert_clean_error(
        &kiln(&["predict", s(&model), "--input", s(&x)]),
        &["more than kiln predict allocates"],
    );
}

#[test]
fn a_model_without_outputs_is_refused_at_import() {
    let dir = scratch("outputs");
    let keras = edited_keras("functional/two_io", &dir, |c| {
        c["config"]["output_layers"] = Value::Array(vec![]);
    });
    for command in ["summary", "export"] {
        let mut args = vec![command, s(&keras)];
        if command == "export" {
            args.extend(["-o", "/dev/null/never"]);
        }
        assert_clean_error(&kiln(&args), &["at least one output"]);
    }
}

#[test]
fn hostile_configs_are_refused_with_keras_reasons() {
    let dir = scratch("configs");
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "sequential/relu_layers",
            Box::new(|c| layer(c, "re_lu_1")["config"]["max_value"] = (-1.0).into()),
            &[
                "layer 're_lu_1'",
                "max_value of a ReLU layer cannot be a negative value",
            ],
        ),
        (
            "functional/two_io",
            Box::new(|c| {
                layer(c, "dense")["inbound_nodes"][0]["args"][0]["config"]["keras_history"][2] =
                    99.into()
            }),
            &["layer 'dense'", "tensor 99", "a"],
        ),
        (
            "sequential/cnn",
            Box::new(|c| {
                layer(c, "input_layer")["config"]["batch_shape"] =
                    serde_json::json!([null, 4294967295u64, 28, 1])
            }),
            &["input_layer", "4294967294"],
        ),
        (
            "sequential/cnn",
            Box::new(|c| layer(c, "conv2d")["config"]["filters"] = 2147483648u64.into()),
            &[
                "layer 'conv2d'",
                "kernel (3, 3, 1, 2147483648)",
                "more values than kiln handles",
            ],
        ),
        (
            "sequential/cnn",
            Box::new(|c| layer(c, "dense")["config"]["dtype"] = "float16".into()),
            &["layer 'dense'", "'float16' is not supported"],
        ),
    ];
    for (fixture, edit, mentions) in cases {
        let keras = edited_keras(fixture, &dir, edit);
        let err = assert_clean_error(&kiln(&["summary", s(&keras)]), mentions);
        assert!(!err.contains("--int8"), "{err}");
    }
}

#[test]
fn exports_never_overwrite_what_they_read_or_each_other() {
    let dir = scratch("overwrite");
    let model = dir.join("m.keras");
    std::fs::copy(cnn().join("model.keras"), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    let blob = dir.join("m.kiln");
    assert_clean_error(
        &kiln(&["export", s(&model), "-o", s(&blob), "--rust", s(&blob)]),
        &["-o and --rust name the same file"],
    );
    assert!(!blob.exists());
    let dotted = format!("{}/./m.keras", dir.display());
    assert_clean_error(
        &kiln(&["export", s(&model), "-o", &dotted]),
        &["would overwrite the model"],
    );
    assert_eq!(std::fs::read(&model).unwrap(), before);
    let x = cnn().join("x.npy");
    assert_clean_error(
        &kiln(&[
            "predict",
            s(&model),
            "--input",
            s(&x),
            "--output",
            s(&model),
        ]),
        &["would overwrite the model"],
    );
    // --rust into a directory that does not exist: named, and no blob left without it.
    assert_clean_error(
        &kiln(&[
            "export",
            s(&model),
            "-o",
            s(&blob),
            "--rust",
            "/nonexistent/x.rs",
        ]),
        &["/nonexistent/x.rs"],
    );
    assert!(!blob.exists(), "the blob waits for its Rust file");
}

// --- errors a user can act on ------------------------------------------------------------

#[test]
fn each_fact_is_said_once() {
    let dir = scratch("once");
    let keras = edited_keras("sequential/mlp", &dir, |c| {
        layer(c, "dense")["config"]["units"] = 0.into()
    });
    let err = assert_clean_error(
        &kiln(&["summary", s(&keras)]),
        &["units must be at least 1"],
    );
    assert_eq!(err.matches("units must be at least 1").count(), 1, "{err}");
    assert_eq!(err.matches("'dense'").count(), 1, "{err}");
    assert_eq!(err.matches("mlp.keras").count(), 1, "{err}");
    let err = assert_clean_error(
        &kiln(&["summary", "/nonexistent/model.keras"]),
        &["No such file or directory"],
    );
    assert_eq!(
        err.trim_end(),
        "error: /nonexistent/model.keras: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn a_wrong_input_shape_names_the_expected_shape() {
    let dir = scratch("shape");
    let x = dir.join("rgb.npy");
    kiln_host::formats::npy::write_f32(&x, &[1, 28, 28, 3], &vec![0.0; 28 * 28 * 3]).unwrap();
    let model = cnn().join("model.keras");
    let err = assert_clean_error(&kiln(&["predict", s(&model), "--input", s(&x)]), &[]);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: {}: input 0: expected (None, 28, 28, 1), got (1, 28, 28, 3)",
            x.display()
        )
    );
    let scalar = dir.join("scalar.npy");
    kiln_host::formats::npy::write_f32(&scalar, &[], &[1.0]).unwrap();
    assert_clean_error(
        &kiln(&["predict", s(&model), "--input", s(&scalar)]),
        &["scalar.npy: a 0-d array has no batch axis"],
    );
    assert_clean_error(
        &kiln(&["summary", s(&model), "--positions", "nan,0.8,1"]),
        &["positions must be finite numbers", "NaN"],
    );
}

#[test]
fn a_model_that_returns_its_input_works() {
    let dir = scratch("identity");
    let keras = edited_keras("functional/two_io", &dir, |c| {
        c["config"]["input_layers"] = serde_json::json!([["a", 0, 0]]);
        c["config"]["output_layers"] = serde_json::json!([["a", 0, 0]]);
    });
    let out = kiln(&["summary", s(&keras)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("a (InputLayer)"));
}
