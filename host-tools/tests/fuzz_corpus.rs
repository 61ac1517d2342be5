//! The host fuzz targets (host-tools/fuzz) on stable Rust, in the normal test run: every
//! file of their committed, minimized corpora goes through the targets' own code
//! (`harness.rs`, included by path). None may panic, and each corpus must still reach
//! past its parser (a share of its files must be accepted), or it tests nothing.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Runs every file of `target`'s corpus through `run`; none may panic. Returns what `run`
/// gave for each.
fn replay_all<R>(target: &str, run: fn(&[u8]) -> R) -> Vec<R> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "{target}: only {} corpus files",
        files.len()
    );
    let mut panics = Vec::new();
    let mut results = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Ok(r) => results.push(r),
            Err(_) => panics.push(file.display().to_string()),
        }
    }
    assert!(panics.is_empty(), "{target}: panicked on {panics:?}");
    results
}

fn replay(target: &str, run: fn(&[u8]) -> bool, accepted_at_least: usize) {
    let results = replay_all(target, run);
    let accepted = results.iter().filter(|&&ok| ok).count();
    eprintln!("{target}: {} files, {accepted} accepted", results.len());
    assert!(
        accepted >= accepted_at_least,
        "{target}: only {accepted} of {} files get past the parser",
        results.len()
    );
}

#[test]
fn import_config_corpus() {
    replay("import_config", harness::import_config, 50);
}

#[test]
fn import_weights_corpus() {
    replay("import_weights", harness::import_weights, 10);
}

#[test]
fn npy_corpus() {
    replay("npy", harness::npy, 8);
}

#[test]
fn tflite_corpus() {
    replay("tflite", harness::tflite, 20);
}

#[test]
fn summary_options_corpus() {
    replay("summary_options", harness::summary_options, 10);
}

/// The importer's corpus must reach each stage after the parser: import (and the blob
/// round trip), prepare, and a run compared with the blob's.
#[test]
fn tflite_import_corpus() {
    use harness::TfliteStage as S;
    let stages = replay_all("tflite_import", harness::tflite_import);
    let at_least = |stage: S| stages.iter().filter(|&&s| s >= stage).count();
    let reached = [S::Parsed, S::Imported, S::Prepared, S::Predicted].map(at_least);
    eprintln!(
        "tflite_import: {} files; parsed {}, imported {}, prepared {}, predicted {}",
        stages.len(),
        reached[0],
        reached[1],
        reached[2],
        reached[3]
    );
    for (stage, (got, floor)) in ["parse", "import", "prepare", "predict"]
        .iter()
        .zip(reached.iter().zip(TFLITE_IMPORT_FLOORS))
    {
        assert!(
            *got >= floor,
            "tflite_import: only {got} of {} files get to {stage}",
            stages.len()
        );
    }
}

/// How many files of the `tflite_import` corpus must parse, import, prepare and predict.
const TFLITE_IMPORT_FLOORS: [usize; 4] = [200, 35, 25, 25];
