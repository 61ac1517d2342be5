//! Picks the board's memory map (memory.x) for cortex-m-rt's link.x and tells the firmware
//! which board it was built for.
//!
//! Board: the `mps2-an386`, `lm3s6965evb` or `microbit` feature; with none, the target
//! decides (thumbv7em-none-eabihf -> mps2-an386, thumbv7m-none-eabi -> lm3s6965evb,
//! thumbv6m-none-eabi -> microbit).

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let chosen: Vec<&str> = BOARDS
        .iter()
        .copied()
        .filter(|b| env::var_os(format!("CARGO_FEATURE_{}", feature_env(b))).is_some())
        .collect();
    let board = match chosen[..] {
        [board] => board,
        [_, _, ..] => panic!("choose one board feature: {}", BOARDS.join(", ")),
        [] if target.starts_with("thumbv7em") => "mps2-an386",
        [] if target.starts_with("thumbv7m") => "lm3s6965evb",
        [] if target.starts_with("thumbv6m") => "microbit",
        [] if !target.starts_with("thumb") => {
            // A host build (e.g. `cargo doc` or clippy for the host): nothing to link.
            println!("cargo:rustc-env=KILN_BOARD=host");
            println!("cargo:rustc-env=KILN_RUNNER_MAX_LAYERS=64");
            println!("cargo:rustc-env=KILN_TRAIN_ARENA_BYTES=4096");
            println!("cargo:rustc-env=KILN_TRAIN_WEIGHT_BYTES=1024");
            println!("cargo:rustc-cfg=kiln_board=\"host\"");
            check_cfg();
            return;
        }
        [] => panic!(
            "no board for target {target}: enable one of the features {}",
            BOARDS.join(", ")
        ),
    };
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let board_x = manifest.join("memory").join(format!("{board}.x"));
    let common_x = manifest.join("memory").join("common.x");
    let mut memory = fs::read_to_string(&board_x).expect("memory/<board>.x");
    memory.push('\n');
    memory.push_str(&fs::read_to_string(&common_x).expect("memory/common.x"));
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed={}", board_x.display());
    println!("cargo:rerun-if-changed={}", common_x.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=KILN_BOARD={board}");
    // The runner's graph capacity (`kiln run` gives the model's own).
    println!("cargo:rerun-if-env-changed=KILN_RUNNER_MAX_LAYERS");
    let max_layers = env::var("KILN_RUNNER_MAX_LAYERS").unwrap_or_else(|_| {
        match board {
            "mps2-an386" => "128",
            "lm3s6965evb" => "16",
            // 16 KiB of RAM: every layer slot of `kiln::Fixed<N>` costs RAM the arena needs.
            _ => "8",
        }
        .to_string()
    });
    println!("cargo:rustc-env=KILN_RUNNER_MAX_LAYERS={max_layers}");
    // The training runner's statics: its arena (`kiln fit --qemu` gives the model's
    // TRAIN_ARENA_BYTES) and the room for the trained weights (the model's weight bytes).
    for (var, [mps2, lm3s, microbit]) in [
        ("KILN_TRAIN_ARENA_BYTES", [1 << 20, 24 * 1024, 4 * 1024]),
        ("KILN_TRAIN_WEIGHT_BYTES", [1 << 20, 8 * 1024, 1024]),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        let bytes = env::var(var).unwrap_or_else(|_| {
            match board {
                "mps2-an386" => mps2,
                "lm3s6965evb" => lm3s,
                _ => microbit,
            }
            .to_string()
        });
        println!("cargo:rustc-env={var}={bytes}");
    }
    println!("cargo:rustc-cfg=kiln_board=\"{board}\"");
    check_cfg();
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
    #[cfg(feature = "blob")]
    blobs::write_all(&out);
}

/// The boards, by their QEMU machine names (also the cargo features and `memory/<board>.x`).
const BOARDS: &[&str] = &["mps2-an386", "lm3s6965evb", "microbit"];

/// A feature's name as cargo spells it in `CARGO_FEATURE_<NAME>`.
fn feature_env(feature: &str) -> String {
    feature.to_ascii_uppercase().replace('-', "_")
}

/// Declares the values `cfg(kiln_board = "...")` may take.
fn check_cfg() {
    let values: Vec<String> = std::iter::once("host")
        .chain(BOARDS.iter().copied())
        .map(|b| format!("\"{b}\""))
        .collect();
    println!(
        "cargo:rustc-check-cfg=cfg(kiln_board, values({}))",
        values.join(", ")
    );
}

/// Feature `blob`: each example's model as a `.kiln` blob in OUT_DIR, and beside it the
/// Rust that `kiln export --rust` generates for a blob (same constants, same layout).
#[cfg(feature = "blob")]
mod blobs {
    use kiln_example_models::{cnn, sine, two_inputs};
    use std::path::Path;

    pub fn write_all(out: &Path) {
        println!("cargo:rerun-if-changed=models/src");
        write(out, "sine", &sine::build().expect("sine builds"));
        write(
            out,
            "two_inputs",
            &two_inputs::build().expect("two_inputs builds"),
        );
        write(out, "cnn", &cnn::build().expect("cnn builds"));
    }

    fn write<S: kiln::Storage>(out: &Path, name: &str, graph: &kiln::Graph<'_, S>) {
        let mut buf = vec![0u8; 64 * 1024 + graph.weight_bytes()];
        let len = kiln::format::write(graph, &mut buf).expect("the model writes as a blob");
        let blob = &buf[..len];
        let file = format!("{name}.kiln");
        std::fs::write(out.join(&file), blob).expect("write the blob");
        std::fs::write(
            out.join(format!("{name}.rs")),
            rust_source(graph, blob, &file),
        )
        .expect("write the Rust");
    }

    /// What `kiln export --rust` writes for the blob.
    fn rust_source<S: kiln::Storage>(
        graph: &kiln::Graph<'_, S>,
        blob: &[u8],
        file: &str,
    ) -> String {
        kiln::format::rust_source(graph, blob.len(), file)
            .expect("known shapes")
            .to_string()
    }
}
