//! `kiln fit`, `kiln evaluate`, `kiln export --train` and `kiln stack` on the Keras fit
//! traces (tests/fixtures/generate_fit.py): Keras's epoch lines, History and predictions
//! after training, the written model read back, and what happens on bad input.

use kiln_host::formats::npy;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/fit")
        .join(case)
}

fn kiln(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
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

fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "kiln should have failed");
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-cli-fit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a - b).abs() <= atol + rtol * b.abs()
}

/// `kiln fit` with the fixture's settings.
fn fit(case: &str, out: &Path, extra: &[&str]) -> Output {
    let dir = fixture(case);
    let spec = json(&dir.join("case.json"));
    let batch = spec["batch_size"].to_string();
    let epochs = spec["epochs"].to_string();
    let (model, x, y) = (
        dir.join("model.keras"),
        dir.join("x.npy"),
        dir.join("y.npy"),
    );
    let (model, x, y, out) = (s(&model), s(&x), s(&y), s(out));
    let mut args = vec![
        "fit",
        &model,
        "--x",
        &x,
        "--y",
        &y,
        "--batch-size",
        &batch,
        "--epochs",
        &epochs,
        "--no-shuffle",
        "-o",
        &out,
    ];
    args.extend_from_slice(extra);
    kiln(&args)
}

#[test]
fn fit_prints_keras_epoch_lines_and_writes_keras_history_and_a_model_that_predicts_as_keras() {
    let case = "mlp_cce_probs_momentum";
    let dir = fixture(case);
    let (out, history) = (temp("cce.kiln"), temp("cce_history.json"));
    let text = ok(&fit(case, &out, &["--history", &s(&history)]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Epoch 1/2");
    assert!(lines[1].starts_with("3/3 - "), "{}", lines[1]);
    assert!(
        lines[1].ends_with("- loss: 1.0143 - accuracy: 0.4000"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "Epoch 2/2");
    assert!(
        lines[3].ends_with("- loss: 0.8984 - accuracy: 0.7000"),
        "{}",
        lines[3]
    );

    // History: Keras's keys and values (rtol 1e-5, atol 1e-6).
    let keras = json(&dir.join("case.json"))["history"].clone();
    let ours = json(&history);
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&keras));
    for key in keys(&keras) {
        for (a, b) in ours[&key]
            .as_array()
            .unwrap()
            .iter()
            .zip(keras[&key].as_array().unwrap())
        {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(close(a, b, 1e-5, 1e-6), "{key}: {a} vs Keras {b}");
        }
    }

    // The written blob predicts Keras's predictions after fit (rtol 1e-4, atol 1e-5).
    let predictions = temp("cce_predictions.npy");
    ok(&kiln(&[
        "predict",
        &s(&out),
        "--input",
        &s(&dir.join("x.npy")),
        "--output",
        &s(&predictions),
    ]));
    let ours = npy::read_f32(&predictions).unwrap().data;
    let keras = npy::read_f32(dir.join("predictions.npy")).unwrap().data;
    for (a, b) in ours.iter().zip(&keras) {
        assert!(
            close(f64::from(*a), f64::from(*b), 1e-4, 1e-5),
            "{a} vs Keras {b}"
        );
    }

    // evaluate on the trained blob: Keras's evaluate after fit.
    let text = ok(&kiln(&[
        "evaluate",
        &s(&out),
        "--x",
        &s(&dir.join("x.npy")),
        "--y",
        &s(&dir.join("y.npy")),
        "--loss",
        "categorical_crossentropy",
        "--metrics",
        "accuracy",
        "--batch-size",
        "4",
    ]));
    let keras = json(&dir.join("case.json"))["evaluate"].clone();
    for line in text.lines() {
        let (key, value) = line.split_once(": ").unwrap();
        let value: f64 = value.parse().unwrap();
        let want = keras[key].as_f64().unwrap();
        assert!(
            close(value, want, 1e-4, 1e-5),
            "{key}: {value} vs Keras {want}"
        );
    }
}

#[test]
fn flags_override_the_compile_config_and_sparse_labels_are_integers() {
    // The fixture was compiled with weight decay 0.01; --weight-decay 0 changes the run.
    let case = "mlp_scce_weight_decay";
    let (a, b) = (temp("wd_a.kiln"), temp("wd_b.kiln"));
    let with = ok(&fit(case, &a, &[]));
    let without = ok(&fit(case, &b, &["--weight-decay", "0"]));
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(with.contains("accuracy: 0.5000"), "{with}");
    assert!(without.contains("Epoch 2/2"));
}

#[test]
fn two_outputs_take_one_y_and_one_loss_each_with_loss_weights() {
    let dir = fixture("two_outputs_loss_weights");
    let (out, history) = (temp("two.kiln"), temp("two.json"));
    let text = ok(&kiln(&[
        "fit",
        &s(&dir.join("model.keras")),
        "--x",
        &s(&dir.join("x.npy")),
        "--y",
        &s(&dir.join("y0.npy")),
        "--y",
        &s(&dir.join("y1.npy")),
        "--loss",
        "mse",
        "--loss",
        "categorical_crossentropy",
        "--loss-weights",
        "1.0,0.5",
        "--learning-rate",
        "0.05",
        "--batch-size",
        "4",
        "--epochs",
        "2",
        "--no-shuffle",
        "-o",
        &s(&out),
        "--history",
        &s(&history),
    ]));
    assert!(
        text.contains(" - loss: 1.4059 - reg_loss: 0.8798 - cls_loss: 1.0523"),
        "{text}"
    );
    let ours = json(&history);
    let keras = json(&dir.join("case.json"))["history"].clone();
    for key in ["loss", "reg_loss", "cls_loss"] {
        let (a, b) = (
            ours[key][1].as_f64().unwrap(),
            keras[key][1].as_f64().unwrap(),
        );
        assert!(close(a, b, 1e-5, 1e-6), "{key}: {a} vs {b}");
    }
}

#[test]
fn a_failed_fit_leaves_the_previous_output_as_it_was() {
    let case = "mlp_mse";
    let out = temp("keep.kiln");
    ok(&fit(case, &out, &[]));
    let before = std::fs::read(&out).unwrap();
    // A learning rate that makes the weights overflow: the step is refused, nothing written.
    let err = fails(&fit(case, &out, &["--learning-rate", "3e38"]));
    assert!(err.contains("NaN or infinite"), "{err}");
    assert!(err.contains("the step was not applied"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn bad_input_is_one_line_naming_what_is_wrong() {
    let dir = fixture("mlp_scce_weight_decay");
    let model = s(&dir.join("model.keras"));
    let x = s(&dir.join("x.npy"));
    let out = s(&temp("bad.kiln"));
    // Labels out of range for the sparse loss: a float file of 7s.
    let labels = temp("labels.npy");
    npy::write_f32(&labels, &[10], &[7.0; 10]).unwrap();
    let err = fails(&kiln(&[
        "fit",
        &model,
        "--x",
        &x,
        "--y",
        &s(&labels),
        "-o",
        &out,
    ]));
    assert!(
        err.contains("the label 7 is not a class index in 0..3"),
        "{err}"
    );
    // Two losses for one output.
    let err = fails(&kiln(&[
        "fit",
        &model,
        "--x",
        &x,
        "--y",
        &s(&dir.join("y.npy")),
        "--loss",
        "mse",
        "--loss",
        "mae",
        "-o",
        &out,
    ]));
    assert!(
        err.contains("has 1 output(s) (dense_1) but 2 loss(es) were given"),
        "{err}"
    );
    // An output that is neither .kiln nor .keras.
    let err = fails(&kiln(&[
        "fit",
        &model,
        "--x",
        &x,
        "--y",
        &s(&dir.join("y.npy")),
        "-o",
        "m.txt",
    ]));
    assert!(err.contains("-o must end in .kiln or .keras"), "{err}");
    // Momentum outside [0, 1], as Keras refuses it.
    let err = fails(&kiln(&[
        "fit",
        &model,
        "--x",
        &x,
        "--y",
        &s(&dir.join("y.npy")),
        "--momentum",
        "1.5",
        "-o",
        &out,
    ]));
    assert!(
        err.contains("`momentum` must be a float between [0, 1]."),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn export_train_emits_the_training_constants() {
    let dir = fixture("mlp_cce_probs_momentum");
    let (blob, rust) = (temp("t.kiln"), temp("t.rs"));
    let text = ok(&kiln(&[
        "export",
        &s(&dir.join("model.keras")),
        "-o",
        &s(&blob),
        "--rust",
        &s(&rust),
        "--train",
        "--batch-size",
        "4",
    ]));
    // Momentum 0.9 (from the compile_config): one slot per trainable value.
    assert!(
        text.contains(
            "trainable weights 300 (TRAINABLE_BYTES), their gradients 300, optimizer slots 300"
        ),
        "{text}"
    );
    let source = std::fs::read_to_string(&rust).unwrap();
    assert!(
        source.contains("pub const TRAINABLE_BYTES: usize = 300;"),
        "{source}"
    );
    assert!(
        source.contains("pub const TRAIN_BATCH_SIZE: usize = 4;"),
        "{source}"
    );
    let arena: usize = source
        .lines()
        .find_map(|l| l.strip_prefix("pub const TRAIN_ARENA_BYTES: usize = "))
        .and_then(|v| v.trim_end_matches(';').parse().ok())
        .unwrap();
    assert!(
        text.contains(&format!(
            "training arena: {arena} bytes (TRAIN_ARENA_BYTES, batch size 4)"
        )),
        "{text}"
    );
    // inspect says the same about the .keras (its own compile_config, batch 32).
    let text = ok(&kiln(&["inspect", &s(&dir.join("model.keras"))]));
    assert!(
        text.contains(&format!("training arena: {arena} bytes")),
        "{text}"
    );
}

#[test]
fn fit_writes_a_keras_file_with_the_trained_weights_and_the_optimizer_state() {
    let case = "mlp_cce_probs_momentum";
    let (keras, blob) = (temp("trained.keras"), temp("trained_too.kiln"));
    ok(&fit(case, &keras, &[]));
    ok(&fit(case, &blob, &[]));
    // The .keras holds the same weights as the .kiln from the same run, bit for bit.
    let from_keras = kiln_host::load::load_model(&keras).unwrap();
    let from_blob = kiln_host::load::load_model(&blob).unwrap();
    assert_eq!(from_keras.weights(), from_blob.weights());
    // And Keras's optimizer variables: iterations 6, then a momentum per trainable variable
    // (4: two Dense kernels and biases), as Keras's own trained.keras has.
    let archive = kiln_host::formats::keras_archive::open(&keras).unwrap();
    let keras_own =
        kiln_host::formats::keras_archive::open(fixture(case).join("trained.keras")).unwrap();
    assert_eq!(archive.config, keras_own.config);
    // A .kiln input has no config to write a .keras from.
    let err = fails(&kiln(&[
        "fit",
        &s(&blob),
        "--x",
        &s(&fixture(case).join("x.npy")),
        "--y",
        &s(&fixture(case).join("y.npy")),
        "--loss",
        "categorical_crossentropy",
        "-o",
        &s(&temp("no.keras")),
    ]));
    assert!(
        err.contains("needs the model to be a .keras archive"),
        "{err}"
    );
}

#[test]
fn validation_data_gives_val_logs_that_are_evaluate_after_each_epoch() {
    let case = "mlp_mse";
    let dir = fixture(case);
    let (out, history, curves) = (temp("val.kiln"), temp("val.json"), temp("val.svg"));
    let (x, y) = (s(&dir.join("x.npy")), s(&dir.join("y.npy")));
    let text = ok(&fit(
        case,
        &out,
        &[
            "--validation-x",
            &x,
            "--validation-y",
            &y,
            "--history",
            &s(&history),
            "--plot",
            &s(&curves),
        ],
    ));
    assert!(text.contains(" - val_loss: "), "{text}");
    let h = json(&history);
    let keys: Vec<String> = h.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["loss", "mae", "val_loss", "val_mae"]);
    // The last val_loss is evaluate on the trained model (the fixture's batch size, 4).
    let evaluated = ok(&kiln(&[
        "evaluate",
        &s(&out),
        "--x",
        &x,
        "--y",
        &y,
        "--loss",
        "mse",
        "--batch-size",
        "4",
    ]));
    let loss: f64 = evaluated
        .lines()
        .next()
        .unwrap()
        .strip_prefix("loss: ")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(h["val_loss"][1].as_f64().unwrap() as f32, loss as f32);
    let svg = std::fs::read_to_string(&curves).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("val_loss"),
        "the plot draws the validation curve"
    );
}

#[test]
fn compile_options_kiln_does_not_apply_are_refused_not_ignored() {
    use kiln_host::train::CompileConfig;
    let outputs = ["dense".to_string()];
    let config = |optimizer: &str, loss: &str| {
        let text = format!(r#"{{"compile_config": {{"optimizer": {optimizer}, "loss": {loss}}}}}"#);
        CompileConfig::from_keras(&serde_json::from_str(&text).unwrap(), &outputs)
    };
    let sgd = r#"{"class_name": "SGD", "config": {"learning_rate": 0.1, "clipnorm": null}}"#;
    assert!(config(sgd, r#""mse""#).unwrap().is_some());
    let clipped = r#"{"class_name": "SGD", "config": {"learning_rate": 0.1, "clipnorm": 1.0}}"#;
    let e = config(clipped, r#""mse""#).unwrap_err().to_string();
    assert_eq!(e, "the optimizer's clipnorm=1.0 is not supported by kiln's training (it would change the arithmetic); compile without it");
    let smoothed =
        r#"{"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.1}}"#;
    let e = config(sgd, smoothed).unwrap_err().to_string();
    assert!(
        e.starts_with("the loss's label_smoothing=0.1 is not supported"),
        "{e}"
    );
    let rms = r#"{"class_name": "RMSprop", "config": {}}"#;
    assert!(config(rms, r#""mse""#)
        .unwrap_err()
        .to_string()
        .contains("not supported (kiln trains with SGD and Adam)"));
}
