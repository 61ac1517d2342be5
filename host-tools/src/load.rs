//! Opening a model file of any supported kind.

use crate::formats::keras_archive::{open_model_file, ModelFile};
use crate::formats::FormatError;
use crate::import::{import, ImportError, WeightSource};
use crate::model::HostGraph;
use kiln::ops::int8::Flavor;
use std::path::{Path, PathBuf};

/// Why a model file could not be loaded; says which file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{}: {error}", file.display())]
    Import { file: PathBuf, error: ImportError },
    #[error(transparent)]
    Blob(crate::blob::BlobFileError),
    #[error(transparent)]
    Tflite(#[from] crate::formats::tflite::ReadError),
    #[error("{}: {error}", file.display())]
    TfliteImport {
        file: PathBuf,
        error: crate::import::tflite::TfliteImportError,
    },
}

/// Reads a `.keras` archive (config and weights), a `model.to_json()` file (config only),
/// a `.kiln` blob or an int8 `.tflite`; the kind is decided from the content.
pub fn load_model(path: impl AsRef<Path>) -> Result<HostGraph, LoadError> {
    load_model_with(path, Flavor::LiteRtReference)
}

/// [`load_model`], an int8 `.tflite` reproducing `flavor`'s integer arithmetic (LiteRT's
/// reference kernels, or TensorFlow Lite Micro's default build).
pub fn load_model_with(path: impl AsRef<Path>, flavor: Flavor) -> Result<HostGraph, LoadError> {
    let path = path.as_ref();
    let mut head = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open(path) {
        use std::io::Read;
        if f.read_exact(&mut head[..4]).is_ok() && crate::blob::is_blob(&head[..4]) {
            return crate::blob::read(path).map_err(LoadError::Blob);
        }
        if f.read_exact(&mut head[4..]).is_ok() && &head[4..] == b"TFL3" {
            let model = crate::formats::tflite::read(path)?;
            let options = crate::import::tflite::TfliteOptions {
                flavor,
                ..Default::default()
            };
            return crate::import::tflite::import_tflite(&model, options)
                .map(|import| import.model)
                .map_err(|error| LoadError::TfliteImport {
                    file: path.to_path_buf(),
                    error,
                });
        }
    }
    let file = open_model_file(path)?;
    let weights: Option<&(dyn WeightSource + Sync)> = match &file {
        ModelFile::Archive(a) => Some(&a.weights),
        ModelFile::Json(_) => None,
    };
    import(file.config(), weights).map_err(|error| LoadError::Import {
        file: path.to_path_buf(),
        error,
    })
}
