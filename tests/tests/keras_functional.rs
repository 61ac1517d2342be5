//! Parity with real Keras 3 on the Functional, nested and subclassed fixtures
//! (tests/fixtures/generate_functional.py).

use kiln_tests::parity;

const SUITE: &str = "functional";

#[test]
fn layers_match_keras() {
    parity::layers_match_keras(SUITE);
}

#[test]
fn summary_matches_keras_text() {
    parity::summary_matches_keras_text(SUITE);
}

#[test]
fn get_layer_matches_keras() {
    parity::get_layer_matches_keras(SUITE);
}

#[test]
fn predict_matches_keras() {
    parity::predict_matches_keras(SUITE);
}
