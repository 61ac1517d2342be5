//! Keras 3 model files: `.keras` archives and bare `model.to_json()` files.
//!
//! A `.keras` file is a zip (Keras writes it "stored", uncompressed; deflate is accepted too)
//! with three members at the root:
//! - `metadata.json`: `{"keras_version": "3.15.1", "date_saved": "..."}`;
//! - `config.json`: the same dict as `model.to_json()` (plus `shared_object_id` keys on objects
//!   serialized more than once);
//! - `model.weights.h5`: the variables, see [`super::weights`] for the layout.
//!
//! The zip is read with the `zip` crate (7.x, the newest line that builds on the workspace's
//! Rust 1.85), with only the deflate decoder enabled (`zlib-rs`, pure Rust). Every member's
//! CRC-32 is checked, so a flipped bit in a member is reported as a corrupt archive.

use std::io::{Cursor, Read};
use std::path::Path;

use serde_json::Value;

use super::error::FormatError;
pub use super::weights::{Tensor, VarGroup, WeightNode, WeightTree};

/// Largest `config.json` / `metadata.json` accepted (64 MiB).
const MAX_JSON_BYTES: u64 = 64 << 20;
/// Largest `model.weights.h5` accepted (1 GiB).
const MAX_WEIGHTS_BYTES: u64 = 1 << 30;

const CONFIG: &str = "config.json";
const METADATA: &str = "metadata.json";
const WEIGHTS: &str = "model.weights.h5";

/// The contents of a `.keras` archive.
#[derive(Debug, Clone, PartialEq)]
pub struct KerasArchive {
    /// `config.json`: `{"module", "class_name", "config", "registered_name", "build_config", ...}`.
    pub config: Value,
    /// `metadata.json`, if the archive has one.
    pub metadata: Option<Value>,
    /// `model.weights.h5`.
    pub weights: WeightTree,
}

impl KerasArchive {
    /// Reads a `.keras` file.
    pub fn open(path: impl AsRef<Path>) -> Result<KerasArchive, FormatError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a `.keras` file; `file` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], file: &Path) -> Result<KerasArchive, FormatError> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            if bytes.starts_with(b"PK") {
                FormatError::CorruptZip {
                    file: file.to_path_buf(),
                    detail: e.to_string(),
                }
            } else {
                FormatError::NotZip {
                    file: file.to_path_buf(),
                    detail: String::new(),
                }
            }
        })?;

        let config = read_member(&mut zip, file, CONFIG, MAX_JSON_BYTES)?
            .ok_or_else(|| missing(file, CONFIG))?;
        let config = parse_json(&config, file, Some(CONFIG))?;
        check_model_config(&config, file, Some(CONFIG))?;

        let metadata = match read_member(&mut zip, file, METADATA, MAX_JSON_BYTES)? {
            Some(m) => Some(parse_json(&m, file, Some(METADATA))?),
            None => None,
        };

        let weights = read_member(&mut zip, file, WEIGHTS, MAX_WEIGHTS_BYTES)?
            .ok_or_else(|| missing(file, WEIGHTS))?;
        let weights = WeightTree::parse(weights, file, Some(WEIGHTS))?;

        Ok(KerasArchive {
            config,
            metadata,
            weights,
        })
    }
}

/// Reads a `.keras` file (the same as [`KerasArchive::open`]).
pub fn open(path: impl AsRef<Path>) -> Result<KerasArchive, FormatError> {
    KerasArchive::open(path)
}

/// Reads a bare `model.to_json()` file: a model config without weights.
pub fn open_json(path: impl AsRef<Path>) -> Result<Value, FormatError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    parse_config_json(&bytes, path)
}

/// What [`open_model_file`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelFile {
    /// A `.keras` archive: config and weights.
    Archive(KerasArchive),
    /// A `model.to_json()` file: a config only.
    Json(Value),
}

impl ModelFile {
    /// The model config (`config.json`, or the whole JSON file).
    pub fn config(&self) -> &Value {
        match self {
            ModelFile::Archive(a) => &a.config,
            ModelFile::Json(v) => v,
        }
    }

    /// The weights, if the file has any.
    pub fn weights(&self) -> Option<&WeightTree> {
        match self {
            ModelFile::Archive(a) => Some(&a.weights),
            ModelFile::Json(_) => None,
        }
    }

    /// `metadata.json`, if the file is an archive that has one.
    pub fn metadata(&self) -> Option<&Value> {
        match self {
            ModelFile::Archive(a) => a.metadata.as_ref(),
            ModelFile::Json(_) => None,
        }
    }
}

/// Reads a model from either kind of file, deciding by content rather than by extension:
/// a zip (starts with `PK`) is read as a `.keras` archive, JSON (starts with `{`, after an
/// optional byte-order mark and whitespace) as a `model.to_json()` file.
pub fn open_model_file(path: impl AsRef<Path>) -> Result<ModelFile, FormatError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    parse_model_bytes(&bytes, path)
}

/// [`open_model_file`] on bytes already in memory; `file` is only used in error messages.
pub fn parse_model_bytes(bytes: &[u8], file: &Path) -> Result<ModelFile, FormatError> {
    if bytes.starts_with(b"PK") {
        return KerasArchive::from_bytes(bytes, file).map(ModelFile::Archive);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(b'{' | b'[') = text.iter().find(|b| !b.is_ascii_whitespace()) {
        return parse_config_json(bytes, file).map(ModelFile::Json);
    }
    let detail = if bytes.is_empty() {
        "the file is empty".to_string()
    } else if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        "this is an HDF5 file (a Keras 2 `.h5` model or a `.weights.h5` file); \
         expected a `.keras` archive or a `model.to_json()` file"
            .to_string()
    } else {
        "expected a `.keras` archive (a zip, starting with \"PK\") or a `model.to_json()` \
         file (JSON, starting with '{')"
            .to_string()
    };
    Err(FormatError::UnknownFormat {
        file: file.to_path_buf(),
        detail,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, FormatError> {
    super::file::read(path)
}

fn missing(file: &Path, member: &str) -> FormatError {
    FormatError::MissingMember {
        file: file.to_path_buf(),
        member: member.into(),
    }
}

/// Reads one member in full (checking its CRC), or `None` if the archive has no such member.
fn read_member(
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    file: &Path,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, FormatError> {
    let corrupt = |detail: String| FormatError::CorruptZip {
        file: file.to_path_buf(),
        detail: format!("{name}: {detail}"),
    };
    let mut entry = match zip.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(corrupt(e.to_string())),
    };
    if entry.size() > limit {
        return Err(corrupt(format!(
            "{} bytes, more than the {} MiB kiln accepts",
            entry.size(),
            limit >> 20
        )));
    }
    // The declared size is only a hint for the allocation; `take` enforces the limit even if
    // the entry decompresses to more than it declares.
    let mut out = Vec::with_capacity(entry.size().min(limit) as usize);
    (&mut entry)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(corrupt(format!(
            "more than the {} MiB kiln accepts",
            limit >> 20
        )));
    }
    Ok(Some(out))
}

fn parse_json(bytes: &[u8], file: &Path, member: Option<&str>) -> Result<Value, FormatError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    serde_json::from_slice(bytes).map_err(|e| FormatError::Json {
        file: file.to_path_buf(),
        member: member.map(str::to_owned),
        detail: format!("invalid JSON: {e}"),
    })
}

fn parse_config_json(bytes: &[u8], file: &Path) -> Result<Value, FormatError> {
    let v = parse_json(bytes, file, None)?;
    check_model_config(&v, file, None)?;
    Ok(v)
}

/// A model config is an object with a `class_name` string (`Sequential`, `Functional`, ...).
fn check_model_config(v: &Value, file: &Path, member: Option<&str>) -> Result<(), FormatError> {
    let detail = match v {
        Value::Object(map) => match map.get("class_name") {
            Some(Value::String(_)) => return Ok(()),
            Some(_) => "not a Keras model config: \"class_name\" is not a string",
            None => "not a Keras model config: no \"class_name\" key",
        },
        _ => "not a Keras model config: the JSON is not an object",
    };
    Err(FormatError::Json {
        file: file.to_path_buf(),
        member: member.map(str::to_owned),
        detail: detail.into(),
    })
}
