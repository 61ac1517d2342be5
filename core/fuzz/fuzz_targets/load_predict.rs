//! `cargo +nightly fuzz run load_predict`: any bytes through `kiln::format::load` and, when
//! they load, `predict`. Neither may panic. The first byte chooses whether the blob's
//! CRC-32 is repaired first (odd: yes), see `src/harness.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiln_fuzz::load_predict(data);
});
