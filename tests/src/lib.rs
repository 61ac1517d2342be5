//! Shared helpers for kiln's cross-crate tests: where the fixtures are, and comparisons
//! that report every mismatch at once instead of stopping at the first.

use std::path::{Path, PathBuf};

/// `tests/fixtures/<suite>`.
pub fn fixtures(suite: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(suite)
}

/// Every model directory of a fixture suite, sorted, from its `manifest.json`-free listing.
pub fn model_dirs(suite: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures(suite))
        .unwrap_or_else(|e| panic!("{}: {e}", fixtures(suite).display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The model file of a fixture: the `.keras` archive when there is one, else the JSON.
pub fn model_file(dir: &Path) -> PathBuf {
    let keras = dir.join("model.keras");
    if keras.exists() {
        keras
    } else {
        dir.join("model.json")
    }
}

/// Reads a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Keras's float tolerance: `|a - b| <= atol + rtol * |b|` with rtol 1e-5, atol 1e-6.
pub fn allclose(actual: &[f32], expected: &[f32]) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "length {} != expected {}",
            actual.len(),
            expected.len()
        ));
    }
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        let tolerance = 1e-6 + 1e-5 * b.abs();
        // NaN on either side fails too.
        let close = (a - b).abs() <= tolerance;
        if !close {
            return Err(format!(
                "element {i}: {a} vs expected {b} (|diff| {} > {tolerance})",
                (a - b).abs()
            ));
        }
    }
    Ok(())
}

/// Collects failures and panics once with all of them.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn push(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }

    pub fn check(self, checked: usize) {
        assert!(
            checked > 0,
            "no fixture cases were found: the test checked nothing"
        );
        if !self.0.is_empty() {
            panic!(
                "{} of {checked} checks failed:\n{}",
                self.0.len(),
                self.0.join("\n\n")
            );
        }
    }
}
