//! The runner kit: the sources `kiln run` builds its firmware from, packed into the binary
//! by `build.rs` and written out once per kit into the cache directory.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/runner_kit.rs"));

/// Where kiln keeps what it builds: `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else
/// `~/.cache/kiln`.
pub fn cache_dir() -> Result<PathBuf, super::RunError> {
    if let Some(dir) = std::env::var_os("KILN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("kiln"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("kiln")),
        None => Err(super::RunError::Setup(
            "no cache directory: set KILN_CACHE_DIR (or HOME)".into(),
        )),
    }
}

/// The kit's sources under `cache`, written out if this kit is not there yet.
pub fn unpack(cache: &Path) -> Result<PathBuf, super::RunError> {
    let dir = cache.join(format!("kit-{KIT_ID}"));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let io = |what: &str, path: &Path, e: std::io::Error| {
        super::RunError::Setup(format!("{}: cannot {what}: {e}", path.display()))
    };
    // Written beside, then renamed: a run that stops half-way leaves no half kit. The name
    // is this call's own, so that two threads (parallel tests) never write the same one.
    let partial = cache.join(format!("kit-{KIT_ID}.partial-{}", super::unique_suffix()));
    let _ = std::fs::remove_dir_all(&partial);
    let write = |relative: &str, contents: &[u8]| -> Result<(), super::RunError> {
        let path = partial.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        std::fs::write(&path, contents).map_err(|e| io("write", &path, e))
    };
    write("Cargo.toml", WORKSPACE.as_bytes())?;
    for (relative, contents) in FILES {
        write(relative, contents)?;
    }
    write(".complete", b"")?;
    match std::fs::rename(&partial, &dir) {
        Ok(()) => Ok(dir),
        // Another run unpacked the same kit first: use theirs.
        Err(_) if dir.join(".complete").exists() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(dir)
        }
        Err(e) => Err(io("create", &dir, e)),
    }
}
