//! `kiln run --qemu` says in one line what is missing, with the command that installs it,
//! before it builds anything: the machine's PATH is replaced by one holding stand-ins.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiln-setup-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A stand-in program in `dir` that prints `text` and exits 0.
fn stand_in(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{text}'\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_with_path(path: &Path, cache: &Path) -> Output {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sequential/mlp");
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "--qemu", "m4"])
        .arg(fixture.join("model.keras"))
        .arg("--input")
        .arg(fixture.join("x.npy"))
        .env("PATH", path)
        .env("KILN_CACHE_DIR", cache)
        .output()
        .unwrap()
}

fn one_line_error(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

#[test]
fn a_missing_qemu_is_named_with_its_install_command() {
    let bin = scratch("no-qemu");
    let err = one_line_error(&run_with_path(&bin, &bin.join("cache")));
    assert!(err.contains("qemu-system-arm is not installed"), "{err}");
    assert!(
        err.contains("apt-get install --no-install-recommends qemu-system-arm"),
        "{err}"
    );
}

#[test]
fn a_missing_rust_target_is_named_with_its_install_command() {
    let bin = scratch("no-target");
    stand_in(&bin, "qemu-system-arm", "QEMU emulator version 10.0.2");
    stand_in(&bin, "cargo", "cargo 1.95.0");
    stand_in(&bin, "rustup", "x86_64-unknown-linux-gnu");
    let err = one_line_error(&run_with_path(&bin, &bin.join("cache")));
    assert!(
        err.contains("the Rust target thumbv7em-none-eabihf (mps2-an386) is not installed: rustup target add thumbv7em-none-eabihf"),
        "{err}"
    );
    assert!(
        !bin.join("cache").exists(),
        "nothing is unpacked before the check"
    );
}

#[test]
fn inputs_are_checked_as_predict_checks_them_before_any_build() {
    let bin = scratch("bad-input");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/sequential/cnn");
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "--qemu", "m3"])
        .arg(fixture.join("model.keras"))
        .arg("--input")
        .arg(fixture.join("../mlp/x.npy"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    let err = one_line_error(&out);
    assert!(err.contains("input 0: expected (None, 28, 28, 1)"), "{err}");
}
