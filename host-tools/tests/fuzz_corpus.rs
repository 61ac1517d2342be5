//! The host fuzz targets (host-tools/fuzz) on stable Rust, in the normal test run: every
//! file of their committed, minimized corpora goes through the targets' own code
//! (`harness.rs`, included by path). None may panic, and each corpus must still reach
//! past its parser (a share of its files must be accepted), or it tests nothing.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

fn replay(target: &str, run: fn(&[u8]) -> bool, accepted_at_least: usize) {
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
    let mut accepted = 0;
    for file in &files {
        let data = std::fs::read(file).unwrap();
        match catch_unwind(AssertUnwindSafe(|| run(&data))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panics.push(file.display().to_string()),
        }
    }
    assert!(panics.is_empty(), "{target}: panicked on {panics:?}");
    eprintln!("{target}: {} files, {accepted} accepted", files.len());
    assert!(
        accepted >= accepted_at_least,
        "{target}: only {accepted} of {} files get past the parser",
        files.len()
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
