//! Tells the int8 kernels (`src/kernels/int8/fast`) which Arm instructions the target has,
//! as two cfgs, since stable Rust sets no `target_feature` cfg for Arm:
//!
//! * `kiln_dsp`: the DSP extension (`smlad`, `sxtab16`, `qadd`, …) of Armv7E-M and,
//!   optionally, Armv8-M Mainline. Set for `thumbv7em-*` targets (Cortex-M4/M7: every one
//!   has it) unless `-C target-feature=-dsp`; for any other Arm target only with
//!   `-C target-feature=+dsp` (an Armv8-M Mainline core such as the Cortex-M33 may lack
//!   it, so `thumbv8m.main-none-eabi(hf)` do not assume it). A `-C target-cpu` alone does
//!   not set it.
//! * `kiln_thumb2`: the 32-bit Thumb-2 instructions of the Cortex-M3 and later (`mla`,
//!   `ldrd`, `ldrsb` post-indexed, `ldm` from any register): `thumbv7m-*`, `thumbv7em-*`,
//!   `thumbv8m.main-*`, `thumbv8.1m.main-*`. Not Armv6-M (Cortex-M0/M0+) nor Armv8-M
//!   Baseline (`thumbv8m.base`, Cortex-M23), which have 32-bit atomics but not these.
//!
//! Where the compiler reports target features (`CARGO_CFG_TARGET_FEATURE`, on nightly),
//! a reported `dsp` or `thumb2` counts too.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(kiln_dsp, kiln_thumb2)");
    println!("cargo::rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("arm") {
        return;
    }
    let target = env::var("TARGET").unwrap_or_default();
    let arch = target.split('-').next().unwrap_or("");
    // The kernels' assembly is Thumb code (Cortex-M): an Arm-mode target gets neither cfg.
    if !arch.starts_with("thumb") {
        return;
    }
    let reported = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let reported = |f: &str| reported.split(',').any(|r| r == f);

    let mut dsp = arch == "thumbv7em";
    if let Some(on) = dsp_flag(&env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default()) {
        dsp = on;
    }
    if dsp || reported("dsp") {
        println!("cargo::rustc-cfg=kiln_dsp");
    }
    let thumb2 = matches!(
        arch,
        "thumbv7m" | "thumbv7em" | "thumbv8m.main" | "thumbv8.1m.main"
    );
    if thumb2 || reported("thumb2") {
        println!("cargo::rustc-cfg=kiln_thumb2");
    }
}

/// The last `+dsp` or `-dsp` of the `-C target-feature` flags in `flags` (cargo's
/// encoded RUSTFLAGS, separated by 0x1f), if any.
fn dsp_flag(flags: &str) -> Option<bool> {
    let mut last = None;
    let mut args = flags.split('\x1f').filter(|a| !a.is_empty());
    while let Some(arg) = args.next() {
        let codegen = match arg {
            "-C" | "--codegen" => args.next().unwrap_or(""),
            _ => match arg
                .strip_prefix("-C")
                .or_else(|| arg.strip_prefix("--codegen="))
            {
                Some(c) => c,
                None => continue,
            },
        };
        let Some(features) = codegen.strip_prefix("target-feature=") else {
            continue;
        };
        for f in features.split(',') {
            match f.trim() {
                "+dsp" => last = Some(true),
                "-dsp" => last = Some(false),
                _ => {}
            }
        }
    }
    last
}
