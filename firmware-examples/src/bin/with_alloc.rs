//! `cargo run --release --bin with_alloc`: the sine example (`models/src/sine.rs`) in an
//! application that also has a heap (`embedded-alloc`'s `LlffHeap`, an 8 KiB static region).
//!
//! kiln does not allocate: the model is loaded and run exactly as in `sine` (a blob in
//! flash, or with `--no-default-features` built with kiln's API; `predict` uses the static
//! arena). The heap is the application's: every line the example prints is also kept in an
//! `alloc::vec::Vec<String>` log (built with `format!`), and the heap's use is checked to be
//! the same right before and right after `predict`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;
// embedded-alloc takes a critical section for every allocation: cortex-m's
// `critical-section-single-core` implementation must be linked in.
use cortex_m as _;
use cortex_m_rt::entry;
use embedded_alloc::LlffHeap;
use kiln_firmware_examples::models::{sine, Board, Failure};
use kiln_firmware_examples::{finish, print_line, println, Semihosted, BOARD, CPU};

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

/// Bytes of the heap region (in .bss).
const HEAP_BYTES: usize = 8 * 1024;

#[global_allocator]
static HEAP: LlffHeap = LlffHeap::empty();

/// The board for the example: prints each line (as `Semihosted` does) and keeps a copy of it
/// in a heap-allocated log; notes the heap's use around the measured `predict`.
struct Logged {
    log: Vec<String>,
    heap_before_predict: usize,
    heap_after_predict: usize,
}

impl Board for Logged {
    fn print(&mut self, args: fmt::Arguments<'_>) {
        let line = alloc::format!("{args}");
        print_line(format_args!("{line}"));
        self.log.push(line);
    }
    fn begin_measure(&mut self) {
        // Read before the start marker: not counted in the instructions of `predict`.
        self.heap_before_predict = HEAP.used();
        Semihosted.begin_measure();
    }
    fn end_measure(&mut self) {
        Semihosted.end_measure();
        self.heap_after_predict = HEAP.used();
    }
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns `static mut`s declared first in the entry function into
    // `&'static mut`s that only this function holds: arena and heap live in .bss.
    static mut ARENA: [u8; ARENA_BYTES] = [0; ARENA_BYTES];
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // SAFETY: `LlffHeap::init` needs a valid region of `size` bytes that nothing else uses,
    // and must be called once, before any allocation. `HEAP_MEM` is a `&'static mut` to
    // HEAP_BYTES bytes of .bss (cortex-m-rt gives `main`, which never returns and runs once,
    // the only reference to it); it is handed to the heap here and not touched again; nothing
    // allocates before this line (the heap is only used by this file, below).
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_MEM.len()) };

    println!(
        "kiln with_alloc example on {BOARD}, {CPU}; model from {SOURCE}; {ARENA_BYTES}-byte arena in .bss, {HEAP_BYTES}-byte heap for the application"
    );
    let mut board = Logged {
        log: Vec::new(),
        heap_before_predict: 0,
        heap_after_predict: 0,
    };
    #[cfg(feature = "blob")]
    let model = kiln::format::load::<model::Storage>(&model::BLOB.0);
    #[cfg(not(feature = "blob"))]
    let model = sine::build();
    let result = model
        .map_err(Into::into)
        .and_then(|model| sine::run(&mut board, &model, ARENA))
        .and_then(|()| {
            let text: usize = board.log.iter().map(String::len).sum();
            println!(
                "heap: the log holds {} lines, {text} bytes of text, in a Vec<String>; heap {} of {HEAP_BYTES} bytes used, {} free",
                board.log.len(),
                HEAP.used(),
                HEAP.free()
            );
            println!(
                "heap: {} bytes used before predict, {} after",
                board.heap_before_predict, board.heap_after_predict
            );
            if board.heap_before_predict != board.heap_after_predict {
                return Err(Failure::Check("the heap's use changed across predict"));
            }
            Ok(())
        });
    finish("with_alloc", result)
}
