//! `cargo run --release --bin sine`: the sine regression MLP (`models/src/sine.rs`) on the
//! emulated board: summary, arena plan, predictions with their bits.
//!
//! With the default feature `blob` the model comes from a blob in flash (`include_bytes!`,
//! validated by `kiln::format::load`, weights read in place); with
//! `--no-default-features` it is built in the firmware with kiln's API.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use kiln_firmware_examples::{finish, models::sine, println, Semihosted, BOARD, CPU};

/// `build.rs` output: what `kiln export --rust` generates for the blob.
#[cfg(feature = "blob")]
#[allow(dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/sine.rs"));
}
#[cfg(feature = "blob")]
use model::ARENA_BYTES;
#[cfg(feature = "blob")]
const SOURCE: &str = "a blob in flash";
#[cfg(not(feature = "blob"))]
const SOURCE: &str = "kiln's API";
#[cfg(not(feature = "blob"))]
use sine::ARENA_BYTES;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared first in the entry function into a
    // `&'static mut` that only this function holds: the arena lives in .bss, not on the stack.
    static mut ARENA: [u8; ARENA_BYTES] = [0; ARENA_BYTES];
    println!(
        "kiln sine example on {BOARD}, {CPU}; model from {SOURCE}; {ARENA_BYTES}-byte arena in .bss"
    );
    #[cfg(feature = "blob")]
    let model = kiln::format::load::<model::Storage>(&model::BLOB.0);
    #[cfg(not(feature = "blob"))]
    let model = sine::build();
    let result = model
        .map_err(Into::into)
        .and_then(|model| sine::run(&mut Semihosted, &model, ARENA));
    finish("sine", result)
}
