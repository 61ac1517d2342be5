//! `write_keras`: a `.keras` archive with new weights, read back by kiln (here) and by real
//! Keras 3 (at development time, `tests/fixtures/check_written_keras.py`, which reads the
//! files the ignored test at the end writes).

use kiln_host::formats::keras_archive::{KerasArchive, WeightTree};
use kiln_host::formats::keras_writer::{write_keras, KerasWriteError, OptimizerState};
use kiln_host::load::load_model;
use kiln_host::HostGraph;
use kiln_tests::{fixtures, model_dirs, Failures};
use std::path::{Path, PathBuf};

/// A fresh directory under the system's temporary one.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-keras-writer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn summary(host: &HostGraph) -> String {
    let mut text = String::new();
    host.structure()
        .summary(&kiln::SummaryOptions::default(), &mut |line| {
            text.push_str(&format!("{line}\n"));
        })
        .unwrap();
    text
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Keras's own optimizer variables of `trained.keras`: iterations, learning_rate, slots.
fn keras_optimizer(weights: &WeightTree) -> OptimizerState {
    let vars = &weights
        .var_group("optimizer")
        .expect("an optimizer group")
        .vars;
    OptimizerState {
        iterations: vars[0].data[0] as i64,
        learning_rate: vars[1].data[0],
        slots: vars[2..].iter().map(|t| t.data.clone()).collect(),
    }
}

/// Every `fit/` model, its weights moved by 0.5 and written, reads back with exactly those
/// weights, the same summary and the same graph; config and metadata are the source's.
#[test]
fn written_archives_read_back_with_the_new_weights() {
    let work = temp_dir("round-trip");
    let mut failures = Failures::default();
    let dirs = model_dirs("fit");
    for dir in &dirs {
        let case = case_name(dir);
        let source = dir.join("model.keras");
        let host = load_model(&source).unwrap();
        let moved: Vec<f32> = host
            .weights_f32()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, w)| w + 0.5 + i as f32 * 1e-3)
            .collect();
        let out = work.join(format!("{case}.keras"));
        let sgd = OptimizerState {
            iterations: 6,
            learning_rate: 0.05,
            slots: Vec::new(),
        };
        if let Err(e) = write_keras(&source, &moved, &sgd, &out) {
            failures.push(format!("{case}: {e}"));
            continue;
        }
        let back = load_model(&out).unwrap();
        let got = back.weights_f32().unwrap();
        if got
            .iter()
            .map(|w| w.to_bits())
            .ne(moved.iter().map(|w| w.to_bits()))
        {
            failures.push(format!("{case}: the weights read back differ"));
        }
        // (Graph has no PartialEq; its Debug form shows every layer, node and weight spec.)
        if format!("{:?}", back.structure()) != format!("{:?}", host.structure()) {
            failures.push(format!("{case}: the graph read back differs"));
        }
        if summary(&back) != summary(&host) {
            failures.push(format!("{case}: the summary differs"));
        }
        let (a, b) = (
            KerasArchive::open(&source).unwrap(),
            KerasArchive::open(&out).unwrap(),
        );
        if (&a.config, &a.metadata) != (&b.config, &b.metadata) {
            failures.push(format!("{case}: config.json or metadata.json differ"));
        }
        // Every group and `name` attribute is kept: the trees differ in values only.
        if a.weights.var_group_paths() != b.weights.var_group_paths() {
            failures.push(format!("{case}: the groups of model.weights.h5 differ"));
        }
        for path in a.weights.var_group_paths() {
            let (x, y) = (
                a.weights.var_group(&path).unwrap(),
                b.weights.var_group(&path).unwrap(),
            );
            let shapes = |g: &kiln_host::formats::VarGroup| {
                g.vars.iter().map(|t| t.shape.clone()).collect::<Vec<_>>()
            };
            if x.name_attr != y.name_attr || shapes(x) != shapes(y) {
                failures.push(format!("{case}: /{path}/vars differs in name or shapes"));
            }
        }
        let opt = b.weights.var_group("optimizer").unwrap();
        if opt.vars.len() != 2 || opt.vars[0].data != [6.0] || opt.vars[1].data != [0.05] {
            failures.push(format!("{case}: optimizer vars {:?}", opt.vars));
        }
    }
    assert_eq!(dirs.len(), 20, "the fit/ cases");
    failures.check(dirs.len());
    std::fs::remove_dir_all(&work).unwrap();
}

/// Writing Keras's trained weights and optimizer state onto the *untrained* archive gives
/// the `model.weights.h5` Keras wrote itself after `fit` (every group, name, shape and
/// value, momentum slots included), so the layout is Keras's and not only kiln's.
#[test]
fn trained_weights_on_the_untrained_archive_give_keras_own_weights_file() {
    let work = temp_dir("as-keras");
    let mut failures = Failures::default();
    let dirs = model_dirs("fit");
    for dir in &dirs {
        let case = case_name(dir);
        let trained_path = dir.join("trained.keras");
        let trained = load_model(&trained_path).unwrap();
        let keras = KerasArchive::open(&trained_path).unwrap();
        let out = work.join(format!("{case}.keras"));
        let sgd = keras_optimizer(&keras.weights);
        let written = write_keras(
            &dir.join("model.keras"),
            trained.weights_f32().unwrap(),
            &sgd,
            &out,
        );
        if let Err(e) = written {
            failures.push(format!("{case}: {e}"));
            continue;
        }
        let ours = KerasArchive::open(&out).unwrap();
        if ours.weights != keras.weights {
            failures.push(format!(
                "{case}: model.weights.h5 differs from trained.keras's"
            ));
        }
    }
    failures.check(dirs.len());
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn the_output_is_replaced_only_by_a_complete_file() {
    let work = temp_dir("atomic");
    let source = fixtures("fit").join("mlp_mse/model.keras");
    let weights = load_model(&source).unwrap().weights_f32().unwrap().to_vec();
    let sgd = OptimizerState::default();
    let out = work.join("out.keras");
    std::fs::write(&out, b"previous").unwrap();

    // Too few weights: an error, and the previous file is still there.
    let err = write_keras(&source, &weights[1..], &sgd, &out).unwrap_err();
    assert!(
        matches!(
            err,
            KerasWriteError::WeightCount {
                expected: 75,
                found: 74,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");

    // Momentum slots that do not fit the trainable variables.
    for slots in [
        vec![vec![0.0; 40]],
        vec![vec![0.0; 40], vec![0.0; 8], vec![0.0; 24], vec![0.0; 2]],
    ] {
        let bad = OptimizerState {
            slots,
            ..OptimizerState::default()
        };
        let err = write_keras(&source, &weights, &bad, &out).unwrap_err();
        assert!(matches!(err, KerasWriteError::Optimizer { .. }), "{err}");
    }
    // Keras 3.15 stores iterations as int32.
    let far = OptimizerState {
        iterations: 1 << 40,
        ..OptimizerState::default()
    };
    let err = write_keras(&source, &weights, &far, &out).unwrap_err();
    assert!(err.to_string().contains("int32"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");

    // No directory to write in: an error naming the file.
    let nowhere = work.join("missing/out.keras");
    let err = write_keras(&source, &weights, &sgd, &nowhere).unwrap_err();
    assert!(err.to_string().contains("missing/out.keras"), "{err}");

    // Success replaces the file, leaves no temporary one, and may overwrite the source.
    write_keras(&source, &weights, &sgd, &out).unwrap();
    assert_eq!(
        load_model(&out).unwrap().weights_f32().unwrap(),
        &weights[..]
    );
    let moved: Vec<f32> = weights.iter().map(|w| w * 2.0).collect();
    write_keras(&out, &moved, &sgd, &out).unwrap();
    assert_eq!(load_model(&out).unwrap().weights_f32().unwrap(), &moved[..]);
    let names: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.keras"]);
    std::fs::remove_dir_all(&work).unwrap();
}

/// Writes the files `tests/fixtures/check_written_keras.py` loads in real Keras:
/// `KILN_WRITTEN_KERAS=<dir> cargo test -p kiln-tests --test keras_writer -- --ignored`.
/// For every `fit/` case, `<case>.keras`: the untrained `model.keras` with the weights
/// and optimizer state of Keras's `trained.keras` (so Keras must predict
/// `predictions.npy`), and for the cases with momentum `<case>_noslots.keras`, the same
/// without the momentum slots (Keras warns and keeps a fresh optimizer).
#[test]
#[ignore = "writes files for the real-Keras check (set KILN_WRITTEN_KERAS)"]
fn write_archives_for_the_keras_check() {
    let out = PathBuf::from(std::env::var("KILN_WRITTEN_KERAS").expect("KILN_WRITTEN_KERAS"));
    std::fs::create_dir_all(&out).unwrap();
    for dir in model_dirs("fit") {
        let case = case_name(&dir);
        let trained_path = dir.join("trained.keras");
        let trained = load_model(&trained_path).unwrap();
        let weights = trained.weights_f32().unwrap();
        let mut sgd = keras_optimizer(&KerasArchive::open(&trained_path).unwrap().weights);
        let source = dir.join("model.keras");
        write_keras(&source, weights, &sgd, &out.join(format!("{case}.keras"))).unwrap();
        if !sgd.slots.is_empty() {
            sgd.slots.clear();
            write_keras(
                &source,
                weights,
                &sgd,
                &out.join(format!("{case}_noslots.keras")),
            )
            .unwrap();
        }
    }
}
