//! `cargo run --release --bin two_inputs`: the two_inputs model (`models/src/two_inputs.rs`) on the
//! emulated board: summary, arena plan, predictions with their bits.
//!
//! With the default feature `blob` the model comes from a blob in flash (`include_bytes!`,
//! validated by `kiln::format::load`, weights read in place); with
//! `--no-default-features` it is built in the firmware with kiln's API.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use kiln_firmware_examples::{finish, models::two_inputs, println, Semihosted, BOARD, CPU};

/// `build.rs` output: what `kiln export --rust` generates for the blob.
#[cfg(feature = "blob")]
#[allow(dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/two_inputs.rs"));
}
#[cfg(feature = "blob")]
use model::ARENA_BYTES;
#[cfg(feature = "blob")]
const SOURCE: &str = "a blob in flash";
#[cfg(not(feature = "blob"))]
const SOURCE: &str = "kiln's API";
#[cfg(not(feature = "blob"))]
use two_inputs::ARENA_BYTES;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared first in the entry function into a
    // `&'static mut` that only this function holds: the arena lives in .bss, not on the stack.
    static mut ARENA: [u8; ARENA_BYTES] = [0; ARENA_BYTES];
    println!(
        "kiln two_inputs example on {BOARD}, {CPU}; model from {SOURCE}; {ARENA_BYTES}-byte arena in .bss"
    );
    #[cfg(feature = "blob")]
    let model = kiln::format::load::<model::Storage>(&model::BLOB.0);
    #[cfg(not(feature = "blob"))]
    let model = two_inputs::build();
    let result = model
        .map_err(Into::into)
        .and_then(|model| two_inputs::run(&mut Semihosted, &model, ARENA));
    finish("two_inputs", result)
}
