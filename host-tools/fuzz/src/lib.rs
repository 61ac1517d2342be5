//! The targets' logic, in `harness.rs` (also compiled into `host-tools/tests/fuzz_corpus.rs`,
//! which replays the committed corpora on stable).

mod harness;

pub use harness::{import_config, import_weights, npy, summary_options, tflite};
