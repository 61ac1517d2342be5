//! Shared helpers for kiln's cross-crate tests: where the fixtures are, and comparisons
//! that report every mismatch at once instead of stopping at the first.

pub mod parity;

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
        // Subclassed models cannot be imported (their config holds no graph); their own
        // tests build them in Rust.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("subclassed"))
        })
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

/// Keras parity for one output holding samples of `row` values each:
/// `|a - b| <= 1e-6 * max(1, max|b| over the sample) + 1e-5 * |b|`.
///
/// This is the design's rtol 1e-5 / atol 1e-6, with atol scaled by the sample's largest
/// value. A value that is the small difference of large terms carries the rounding of
/// those terms in any float32 implementation, Keras's included: on the `cnn` fixture
/// (a 1352-term dot product) Keras's own output is 1.6e-6 away from the exact (float64)
/// result, on an element of -0.0076 whose sample peaks at 3.9. A plain atol of 1e-6 would
/// demand matching XLA's summation order rather than the arithmetic.
pub fn allclose(actual: &[f32], expected: &[f32], row: usize) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "length {} != expected {}",
            actual.len(),
            expected.len()
        ));
    }
    let row = row.max(1);
    for (sample, (got, want)) in actual.chunks(row).zip(expected.chunks(row)).enumerate() {
        let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
            let tolerance = 1e-6 * scale + 1e-5 * b.abs();
            // NaN on either side fails too.
            let close = (a - b).abs() <= tolerance;
            if !close {
                return Err(format!(
                    "sample {sample}, element {i}: {a} vs expected {b} (|diff| {} > {tolerance})",
                    (a - b).abs()
                ));
            }
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

/// The four parity tests for one fixture suite.
#[macro_export]
macro_rules! keras_parity_tests {
    ($suite:literal) => {
        #[test]
        fn layers_match_keras() {
            $crate::parity::layers_match_keras($suite);
        }

        #[test]
        fn summary_matches_keras_text() {
            $crate::parity::summary_matches_keras_text($suite);
        }

        #[test]
        fn get_layer_matches_keras() {
            $crate::parity::get_layer_matches_keras($suite);
        }

        #[test]
        fn predict_matches_keras() {
            $crate::parity::predict_matches_keras($suite);
        }
    };
}
