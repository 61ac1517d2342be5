//! The one error type of the file-format layer.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading or writing a model or array file.
///
/// Every message starts with the file it is about (as the caller spelled the path) and then
/// says what is wrong with it, e.g. `model.keras: missing config.json` or
/// `x.npy: truncated: header says 3x4 float32 (48 bytes), found 20`.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The operating system refused to read or write the file.
    #[error("{}: cannot {action}", file.display())]
    Io {
        file: PathBuf,
        /// "read" or "write".
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the zip signature `PK`.
    #[error("{}: not a zip archive{}", file.display(), paren(detail))]
    NotZip { file: PathBuf, detail: String },

    /// The file starts like a zip archive but its structure or an entry is damaged.
    #[error("{}: corrupt zip archive: {detail}", file.display())]
    CorruptZip { file: PathBuf, detail: String },

    /// A member a `.keras` archive must have is absent.
    #[error("{}: missing {member}", file.display())]
    MissingMember { file: PathBuf, member: String },

    /// A JSON document (a bare `to_json()` file or a member of a `.keras` archive) is unusable.
    #[error("{}: {}{detail}", file.display(), member_prefix(member))]
    Json {
        file: PathBuf,
        /// The archive member (`config.json`, `metadata.json`), or `None` for a bare JSON file.
        member: Option<String>,
        detail: String,
    },

    /// The HDF5 weights are unreadable or not laid out the way Keras lays them out.
    #[error("{}: {}{}{detail}", file.display(), member_prefix(member), group_prefix(group))]
    Hdf5 {
        file: PathBuf,
        /// The archive member (`model.weights.h5`), or `None` for a bare `.h5` file.
        member: Option<String>,
        /// The HDF5 group the problem is in (`/layers/dense/vars`), empty if it is file-wide.
        group: String,
        detail: String,
    },

    /// A `.npy` file is malformed or holds something kiln cannot use.
    #[error("{}: {detail}", file.display())]
    Npy { file: PathBuf, detail: String },

    /// The path is not something kiln reads whole (a directory, a device).
    #[error("{}: not a file kiln reads ({kind})", file.display())]
    NotAFile { file: PathBuf, kind: &'static str },

    /// The file (or what a pipe delivered) is over [`super::file::MAX_FILE_BYTES`].
    #[error("{}: {}more than the {limit} bytes kiln reads", file.display(), size.map(|s| format!("{s} bytes, ")).unwrap_or_default())]
    TooLarge {
        file: PathBuf,
        /// The file's size, when the file system says it.
        size: Option<u64>,
        limit: u64,
    },

    /// The content is neither a `.keras` archive nor a JSON model config.
    #[error("{}: not a Keras model file: {detail}", file.display())]
    UnknownFormat { file: PathBuf, detail: String },
}

impl FormatError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            FormatError::Io { file, .. }
            | FormatError::NotZip { file, .. }
            | FormatError::CorruptZip { file, .. }
            | FormatError::MissingMember { file, .. }
            | FormatError::Json { file, .. }
            | FormatError::Hdf5 { file, .. }
            | FormatError::Npy { file, .. }
            | FormatError::NotAFile { file, .. }
            | FormatError::TooLarge { file, .. }
            | FormatError::UnknownFormat { file, .. } => file,
        }
    }

    pub(crate) fn io(file: &Path, action: &'static str, source: std::io::Error) -> Self {
        FormatError::Io {
            file: file.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn npy(file: &Path, detail: impl Into<String>) -> Self {
        FormatError::Npy {
            file: file.to_path_buf(),
            detail: detail.into(),
        }
    }
}

fn paren(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn member_prefix(member: &Option<String>) -> String {
    match member {
        Some(m) => format!("{m}: "),
        None => String::new(),
    }
}

fn group_prefix(group: &str) -> String {
    if group.is_empty() {
        String::new()
    } else {
        format!("group '{group}': ")
    }
}

/// Writes `[3, 4]` as `3x4`, `[5]` as `5` and `[]` as `scalar`: the shape in error messages.
pub(crate) struct ShapeDisplay<'a>(pub &'a [usize]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("scalar");
        }
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
