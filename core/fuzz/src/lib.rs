//! The logic of kiln's fuzz targets, kept apart from `libfuzzer-sys` so that
//! `tests/tests/fuzz_corpus.rs` replays the committed corpus through exactly this code
//! on stable Rust (it includes `harness.rs` by path).

mod harness;

pub use harness::*;
