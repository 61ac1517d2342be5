//! # kiln — Keras-style neural networks for microcontrollers
//!
//! `#![no_std]`, no allocator, no panics on user data. The crate is laid out as the path a
//! model takes:
//!
//! * [`layers`] and [`Sequential`]: build a model with Keras's names and defaults.
//! * [`graph`]: the one IR every model becomes — layers, nodes, tensor shapes, shape
//!   inference with Keras's rules, parameter counts, `get_layer`.
//! * [`summary`]: Keras's `model.summary()` table, character for character, printed
//!   through a callback so firmware can send it over semihosting or defmt.
//! * [`planner`]: where every activation lives in one caller-lent arena.
//! * [`runtime`]: `predict` from caller buffers; checks everything first, then runs.
//! * [`kernels`]: the float32 reference kernels, one op per file.
//! * [`format`]: the flash format — a checked postcard blob whose weights stay in flash.
//!
//! Weights are not part of the graph: a model borrows one flat `&[f32]` (Keras's
//! `get_weights()` concatenated), so they can stay in flash.
#![no_std]
#![warn(missing_docs)]
// `unsafe` is denied but for the inline assembly of two modules, each of which allows it
// (`#[allow(unsafe_code)]`) and gives every `unsafe` block a `// SAFETY:` comment:
// kernels/fast/block.rs (the float kernels' Cortex-M FPU inner loop) and
// kernels/int8/fast/dsp.rs (the int8 kernels' DSP and Thumb-2 inner loops).
#![deny(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod error;
#[cfg(feature = "format")]
pub mod format;
pub mod graph;
pub mod kernels;
pub mod layers;
pub mod model;
pub mod name;
pub mod ops;
pub mod planner;
pub mod runtime;
pub mod shape;
#[cfg(feature = "summary")]
pub mod summary;
#[cfg(feature = "training")]
pub mod train;

pub use error::Error;
pub use graph::config::{Activation, MergeOp, Padding};
#[cfg(feature = "alloc")]
pub use graph::Heap;
pub use graph::{Fixed, Graph, Layer, LayerKind, ModelKind, Storage};
pub use model::{Functional, GetLayerError, Sequential, Tensor};
pub use shape::Shape;
#[cfg(feature = "summary")]
pub use summary::SummaryOptions;
