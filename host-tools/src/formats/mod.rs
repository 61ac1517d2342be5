//! The file-format layer of the host tool: Keras 3 model files in, `.npy` arrays in and out.
//!
//! - [`keras_archive`]: `.keras` archives ([`KerasArchive`]), bare `model.to_json()` files
//!   ([`open_json`]) and a content-sniffing [`open_model_file`];
//! - [`weights`]: the `model.weights.h5` tree ([`WeightTree`]);
//! - [`npy`]: `.npy` arrays read as `f32` ([`npy::read_f32`]) and written ([`npy::write_f32`]);
//! - [`error`]: [`FormatError`], whose every message names the file and what is wrong with it.
//!
//! Nothing here panics on malformed, truncated or corrupted input: every such file gives an
//! `Err` (tested by truncating and bit-flipping real files in `tests/formats.rs`).

pub mod error;
pub mod file;
pub mod keras_archive;
pub mod keras_writer;
pub mod npy;
pub mod tflite;
pub mod weights;

pub use error::FormatError;
pub use keras_archive::{open_json, open_model_file, parse_model_bytes, KerasArchive, ModelFile};
pub use npy::NpyArray;
pub use weights::{Tensor, VarGroup, WeightNode, WeightTree};
