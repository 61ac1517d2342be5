//! `cargo +nightly fuzz run tflite`: see `src/harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiln_host_fuzz::tflite(data);
});
