//! Cross-crate tests for kiln: parity with real Keras fixtures.
