//! Parity with real Keras 3 on the Sequential fixtures (tests/fixtures/generate.py).

kiln_tests::keras_parity_tests!("sequential");
