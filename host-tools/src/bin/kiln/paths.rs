//! Checks on the paths a command writes: never over the model it reads, an input it reads,
//! or another file the same command writes.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The same file, whether or not it exists yet (`./m.kiln` and `m.kiln` are one file).
fn same(a: &Path, b: &Path) -> bool {
    if let Ok(true) = same_file::is_same_file(a, b) {
        return true;
    }
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => normal(&a) == normal(&b),
        _ => false,
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Refuses outputs that are one of the `reads` or each other. Each entry is
/// `(what the user called it, path)`, e.g. `("-o", out)` or `("the model", model)`.
pub fn check_outputs(reads: &[(&str, &Path)], writes: &[(&str, &Path)]) -> Result<()> {
    for (i, (what, path)) in writes.iter().enumerate() {
        for (source, read) in reads {
            if same(path, read) {
                bail!(
                    "{}: {what} would overwrite {source}; write somewhere else",
                    path.display()
                );
            }
        }
        for (other, earlier) in &writes[..i] {
            if same(path, earlier) {
                bail!("{}: {other} and {what} name the same file", path.display());
            }
        }
    }
    Ok(())
}
