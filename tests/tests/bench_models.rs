//! The models BENCHMARKS.md measures (tests/fixtures/generate_bench.py, real Keras 3: mlp,
//! cnn, dense1, kws, and MLPerf Tiny's resnet8 and vww): kiln predicts what Keras predicted
//! and prints the summary Keras printed (COLUMNS=80).

use kiln::SummaryOptions;
use kiln_host::load::load_model;
use kiln_tests::{model_dirs, parity};

#[test]
fn bench_models_predict_as_keras() {
    parity::predict_matches_keras("bench");
}

#[test]
fn bench_models_summarise_as_keras() {
    let dirs = model_dirs("bench");
    let names: Vec<_> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["mlp", "cnn", "dense1", "kws", "resnet8", "vww"] {
        assert!(names.iter().any(|n| n == want), "{want}: found {names:?}");
    }
    for dir in dirs {
        let model = load_model(dir.join("model.keras")).expect("a bench fixture");
        let options = SummaryOptions {
            terminal_columns: 80,
            ..Default::default()
        };
        let mut text = String::new();
        model
            .structure()
            .summary(&options, &mut |line| {
                text.push_str(&line.to_string());
                text.push('\n');
            })
            .expect("summary");
        let want = std::fs::read_to_string(dir.join("summary_cols80.txt")).unwrap();
        assert_eq!(text, want, "{}", dir.display());
    }
}
