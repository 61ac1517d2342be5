//! The targets' logic, in `harness.rs` (also compiled into `host-tools/tests/fuzz_corpus.rs`,
//! which replays the committed corpora on stable), and the structure-aware mutator of
//! `tflite_import` (`structured.rs`, fuzzing only).

mod harness;
pub mod structured;

pub use harness::{
    import_config, import_weights, npy, summary_options, tflite, tflite_import, TfliteStage,
};
