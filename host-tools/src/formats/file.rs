//! Reading a whole input file with a bound: model files, blobs and `.npy` arrays are read
//! into memory, so a device node (`/dev/zero`) or an endless pipe must not be read forever.

use super::FormatError;
use std::io::Read;
use std::path::Path;

/// The largest file kiln reads (model, blob or array): 4 GiB.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The bytes of `path`: a regular file of at most [`MAX_FILE_BYTES`], or a pipe that ends
/// within that many bytes. Devices, sockets and directories are refused.
pub fn read(path: &Path) -> Result<Vec<u8>, FormatError> {
    read_at_most(path, MAX_FILE_BYTES)
}

pub(crate) fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, FormatError> {
    let file = std::fs::File::open(path).map_err(|e| FormatError::io(path, "read", e))?;
    let meta = file
        .metadata()
        .map_err(|e| FormatError::io(path, "read", e))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(FormatError::NotAFile {
            file: path.to_path_buf(),
            kind: "a directory",
        });
    }
    if !kind.is_file() && !is_pipe(&kind) {
        return Err(FormatError::NotAFile {
            file: path.to_path_buf(),
            kind: "a device or socket",
        });
    }
    if kind.is_file() && meta.len() > limit {
        return Err(FormatError::TooLarge {
            file: path.to_path_buf(),
            size: Some(meta.len()),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(if kind.is_file() {
        meta.len() as usize
    } else {
        0
    });
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FormatError::io(path, "read", e))?;
    if bytes.len() as u64 > limit {
        return Err(FormatError::TooLarge {
            file: path.to_path_buf(),
            size: None,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(unix)]
fn is_pipe(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

#[cfg(not(unix))]
fn is_pipe(_: &std::fs::FileType) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        let err = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "/dev/zero: not a file kiln reads (a device or socket)");
        let err = read(Path::new("/")).unwrap_err().to_string();
        assert_eq!(err, "/: not a file kiln reads (a directory)");
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let path = std::env::temp_dir().join(format!("kiln-bounded-{}", std::process::id()));
        std::fs::write(&path, [7u8; 100]).unwrap();
        assert_eq!(read_at_most(&path, 100).unwrap().len(), 100);
        let err = read_at_most(&path, 99).unwrap_err().to_string();
        assert!(
            err.ends_with(": 100 bytes, more than the 99 bytes kiln reads"),
            "{err}"
        );
        std::fs::remove_file(&path).ok();
    }
}
