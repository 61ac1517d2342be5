//! `cargo run --release -p fine-tune` (`--target thumbv7m-none-eabi` for the Cortex-M3):
//! on-device fine-tuning (`models/src/fine_tune.rs`) on the emulated board. This file is the
//! binary of the `fine-tune` package (`fine-tune/Cargo.toml`), which builds kiln with its
//! training and only the model's op families. The feature layers are frozen and read from flash; the head
//! (Dense + softmax) learns the 12 user samples built into the firmware with kiln's `fit`,
//! from a `static mut` arena of exactly `TRAIN_ARENA_BYTES` (computed by `build.rs` from
//! the model's training plan, the constant `kiln export --train --rust` generates). It
//! prints the loss and accuracy on the samples before and after, and the trained head's
//! bits.
//!
//! With the default feature `blob` the model comes from a blob in flash (`include_bytes!`,
//! validated by `kiln::format::load`: the frozen weights stay in flash, only the head's are
//! copied to the arena); with `--no-default-features` it is built in the firmware with
//! kiln's API.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use kiln_example_models::{fine_tune, Board};
use kiln_firmware_examples::{
    finish, kiln_marker_end, kiln_marker_start, print_line, println, stack_mark, stack_used_since,
    BOARD, CPU,
};

/// Lines over semihosting; around `fit`, the instruction-count markers and the stack it
/// uses (the painted stack below the caller's frame).
struct Semihosted {
    mark: usize,
}

impl Board for Semihosted {
    fn print(&mut self, args: core::fmt::Arguments<'_>) {
        print_line(args);
    }
    fn begin_measure(&mut self) {
        self.mark = stack_mark();
        kiln_marker_start();
    }
    fn end_measure(&mut self) {
        kiln_marker_end();
        // A board line (the host prints none): "stack:" lines are not compared.
        println!("stack: fit used {} bytes", stack_used_since(self.mark));
    }
}

/// `build.rs` output: what `kiln export --train --rust` generates for the blob.
#[cfg(feature = "blob")]
#[allow(dead_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/fine_tune.rs"));
}
#[cfg(feature = "blob")]
use model::TRAIN_ARENA_BYTES;
#[cfg(feature = "blob")]
const SOURCE: &str = "a blob in flash";

/// `build.rs` output: the training arena of the model built with kiln's API.
#[cfg(not(feature = "blob"))]
#[allow(dead_code)]
mod train {
    include!(concat!(env!("OUT_DIR"), "/fine_tune_train.rs"));
}
#[cfg(not(feature = "blob"))]
use train::TRAIN_ARENA_BYTES;
#[cfg(not(feature = "blob"))]
const SOURCE: &str = "kiln's API";

use fine_tune::WEIGHT_BYTES;

#[entry]
fn main() -> ! {
    // cortex-m-rt turns a `static mut` declared first in the entry function into a
    // `&'static mut` that only this function holds: the training arena and the buffer the
    // trained weights are written into live in .bss, not on the stack.
    static mut ARENA: [u8; TRAIN_ARENA_BYTES] = [0; TRAIN_ARENA_BYTES];
    static mut WEIGHTS: [u8; WEIGHT_BYTES] = [0; WEIGHT_BYTES];
    println!(
        "kiln fine_tune example on {BOARD}, {CPU}; model from {SOURCE}; {TRAIN_ARENA_BYTES}-byte training arena in .bss"
    );
    #[cfg(feature = "blob")]
    let model = kiln::format::load::<model::Storage>(&model::BLOB.0);
    #[cfg(not(feature = "blob"))]
    let model = fine_tune::build();
    let result = model
        .map_err(Into::into)
        .and_then(|model| fine_tune::run(&mut Semihosted { mark: 0 }, &model, ARENA, WEIGHTS));
    finish("fine_tune", result)
}
