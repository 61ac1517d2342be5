//! Parity with real Keras 3 on the Functional, nested and subclassed fixtures
//! (tests/fixtures/generate_functional.py).

kiln_tests::keras_parity_tests!("functional");
