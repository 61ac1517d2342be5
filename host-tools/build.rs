//! Packs the sources `kiln run --qemu` builds its runner firmware from (the kiln core, the
//! firmware crate with its runner, the instruction-count QEMU plugin) into the binary, so
//! that an installed `kiln` needs no checkout: `src/qemu/kit.rs` writes them out into a
//! cache directory and builds them there.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What the kit holds, relative to the repository root: directories are taken whole
/// (but for build output), single files as they are.
const KIT: &[&str] = &[
    "core/Cargo.toml",
    "core/build.rs",
    "core/src",
    "firmware-examples/Cargo.toml",
    "firmware-examples/Cargo.lock",
    "firmware-examples/build.rs",
    "firmware-examples/memory",
    "firmware-examples/src",
    "firmware-examples/models/Cargo.toml",
    "firmware-examples/models/src",
    // A member of the firmware workspace: cargo reads its manifest for any build there.
    "firmware-examples/fine-tune/Cargo.toml",
    "firmware-examples/fine-tune/build.rs",
    "firmware-examples/insn-count-plugin/Cargo.toml",
    "firmware-examples/insn-count-plugin/Cargo.lock",
    "firmware-examples/insn-count-plugin/.cargo/config.toml",
    "firmware-examples/insn-count-plugin/src",
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest
        .parent()
        .expect("host-tools sits in the repository")
        .to_path_buf();
    let mut files = Vec::new();
    for entry in KIT {
        let path = repo.join(entry);
        if !path.exists() {
            panic!(
                "{}: missing; kiln-host is built from a kiln checkout (the runner kit is taken from it)",
                path.display()
            );
        }
        collect(&path, &mut files);
    }
    files.sort();
    // The root manifest: core inherits its package fields from it.
    let root = std::fs::read_to_string(repo.join("Cargo.toml")).expect("the root Cargo.toml");
    let package = root
        .split_once("[workspace.package]")
        .map(|(_, rest)| rest.split("\n[").next().unwrap_or(""))
        .expect("[workspace.package] in the root Cargo.toml");
    let workspace = format!(
        "# The kiln core's workspace, as `kiln run` unpacks it.\n[workspace]\nresolver = \"2\"\nmembers = [\"core\"]\nexclude = [\"firmware-examples\"]\n\n[workspace.package]{package}\n"
    );

    let mut hash = Fnv::new();
    hash.add(workspace.as_bytes());
    let mut list = String::new();
    for file in &files {
        let relative = file.strip_prefix(&repo).expect("inside the repository");
        let name = relative.to_string_lossy().replace('\\', "/");
        hash.add(name.as_bytes());
        hash.add(&std::fs::read(file).expect("read a kit file"));
        writeln!(
            list,
            "    ({name:?}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .unwrap();
        println!("cargo:rerun-if-changed={}", file.display());
    }
    for entry in KIT {
        println!("cargo:rerun-if-changed={}", repo.join(entry).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("Cargo.toml").display()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let code = format!(
        "/// Names the kit's content: a changed source gives a new directory.\n\
         pub const KIT_ID: &str = \"{:016x}\";\n\
         /// The root workspace manifest of the kit.\n\
         pub const WORKSPACE: &str = {workspace:?};\n\
         /// Every file of the kit: path relative to the kit's root, contents.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n{list}];\n",
        hash.0
    );
    std::fs::write(out.join("runner_kit.rs"), code).expect("write runner_kit.rs");
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .expect("read a kit directory")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        collect(&entry, files);
    }
}

/// FNV-1a, 64 bits: enough to tell two kits apart.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        self.0 = self.0.wrapping_mul(0x100_0000_01b3) ^ 0xff;
    }
}
