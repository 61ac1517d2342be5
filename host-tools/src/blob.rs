//! `.kiln` blobs on the host: writing them (`kiln export`), reading them back (`kiln
//! summary`/`predict`/`inspect` accept them), and the Rust source firmware includes.

use crate::model::{HostGraph, HostModel};
use std::path::{Path, PathBuf};

/// Why a blob file could not be read; says which file, once.
#[derive(Debug, thiserror::Error)]
pub enum BlobFileError {
    #[error(transparent)]
    Read(#[from] crate::formats::FormatError),
    #[error("{}: {error}", file.display())]
    Kiln {
        file: PathBuf,
        error: Box<kiln::Error>,
    },
}

/// The blob of a model with its weights.
pub fn encode(model: &HostGraph) -> Result<Vec<u8>, kiln::Error> {
    let graph = model.graph()?;
    let mut size = 4096 + model.weights().len() + graph.all_layers().len() * 512;
    loop {
        let mut out = vec![0u8; size];
        match kiln::format::write(&graph, &mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
            Err(kiln::Error::Blob(kiln::format::BlobError::BufferTooSmall { needed }))
                if needed > size =>
            {
                size = needed.max(size * 2)
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when `bytes` start like a kiln blob.
pub fn is_blob(bytes: &[u8]) -> bool {
    bytes.starts_with(&kiln::format::MAGIC)
}

/// Checks and decodes a blob, copying it to aligned memory first (a file's bytes carry no
/// alignment; in flash `AlignedBlob` provides it).
pub fn decode(bytes: &[u8]) -> Result<HostGraph, kiln::Error> {
    let mut words = vec![0u128; bytes.len().div_ceil(16)];
    let aligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    aligned[..bytes.len()].copy_from_slice(bytes);
    let aligned = &aligned[..bytes.len()];
    let graph: HostModel<'_> = kiln::format::load(aligned)?;
    let weights = graph.weights();
    Ok(HostGraph::from_bytes(graph.without_weights(), weights))
}

/// Reads a `.kiln` file.
pub fn read(path: &Path) -> Result<HostGraph, BlobFileError> {
    let bytes = crate::formats::file::read(path)?;
    decode(&bytes).map_err(|error| BlobFileError::Kiln {
        file: path.into(),
        error: Box::new(error),
    })
}

/// The Rust source `kiln export --rust` writes next to the blob: sizes as constants (so a
/// wrong arena cannot link) and the blob, aligned, from `include_bytes!`.
pub fn rust_source(model: &HostGraph, blob: &[u8], blob_file: &str) -> Result<String, kiln::Error> {
    Ok(kiln::format::rust_source(model.structure(), blob.len(), blob_file)?.to_string())
}

/// [`rust_source`] with the training constants (`TRAIN_ARENA_BYTES`, `TRAINABLE_BYTES`,
/// `TRAIN_BATCH_SIZE`) of `plan`.
pub fn rust_source_training(
    model: &HostGraph,
    blob: &[u8],
    blob_file: &str,
    plan: &kiln::train::TrainPlan<kiln::Heap>,
    batch_size: usize,
) -> Result<String, kiln::Error> {
    let source = kiln::format::rust_source(model.structure(), blob.len(), blob_file)?;
    Ok(source.training(plan, batch_size).to_string())
}
