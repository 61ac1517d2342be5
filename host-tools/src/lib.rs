//! Host-side tools for kiln: reading Keras files, running models on the host, and the
//! `kiln` command line.

pub mod blob;
pub mod formats;
pub mod import;
pub mod load;
pub mod model;
pub mod qemu;
pub mod quantize;
pub mod stack;
pub mod train;

pub use model::{HostGraph, HostModel};
