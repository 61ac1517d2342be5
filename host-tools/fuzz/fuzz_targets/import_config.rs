//! `cargo +nightly fuzz run import_config`: see `src/harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiln_host_fuzz::import_config(data);
});
