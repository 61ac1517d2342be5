//! Board support for kiln's firmware examples on QEMU's Cortex-M boards: text output and
//! exit codes through Arm semihosting, a panic handler and fault handlers that exit non-zero
//! (a fault would otherwise hang QEMU), the two marker functions the instruction-count
//! plugin looks for, and the stack high-water mark.
//!
//! The board (memory map) is chosen by `build.rs`: [`BOARD`] names it.
#![no_std]

pub mod semihosting;

use core::fmt;
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicUsize, Ordering};
use cortex_m_rt::{exception, ExceptionFrame};

#[cfg(feature = "examples")]
pub use kiln_example_models as models;

// The defmt global logger: frames go to the host's stdout through semihosting.
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

/// The board this firmware was linked for: "mps2-an386", "lm3s6965evb" or "microbit".
pub const BOARD: &str = env!("KILN_BOARD");

/// The CPU the target compiles for. (Stable Rust sets no `target_feature` for the Arm
/// architecture versions; ARMv6-M is the M-profile without 32-bit atomics.)
pub const CPU: &str = if cfg!(target_abi = "eabihf") {
    "Cortex-M4F (hard float)"
} else if cfg!(all(target_arch = "arm", not(target_has_atomic = "32"))) {
    "Cortex-M0 (soft float)"
} else {
    "Cortex-M3 (soft float)"
};

/// Prints a line on the host's standard output (semihosting; defmt with the `defmt` feature).
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

/// Prints one line: plain semihosting text, or a defmt frame with the `defmt` feature.
pub fn print_line(args: fmt::Arguments<'_>) {
    #[cfg(not(feature = "defmt"))]
    {
        semihosting::print_line(args);
    }
    #[cfg(feature = "defmt")]
    {
        use core::fmt::Write;
        let mut line = heapless::String::<256>::new();
        // A line longer than 256 bytes is cut (the summary tables are at most 108 wide).
        let _ = line.write_fmt(args);
        defmt::println!("{=str}", line.as_str());
    }
}

/// Ends the program: QEMU exits with `code`.
pub fn exit(code: i32) -> ! {
    semihosting::exit(code)
}

/// The board for [`kiln_example_models`]: lines over semihosting, markers around `predict`.
#[cfg(feature = "examples")]
pub struct Semihosted;

#[cfg(feature = "examples")]
impl models::Board for Semihosted {
    fn print(&mut self, args: fmt::Arguments<'_>) {
        print_line(args);
    }
    fn begin_measure(&mut self) {
        kiln_marker_start();
    }
    fn end_measure(&mut self) {
        kiln_marker_end();
    }
}

/// Written by the markers so that they have different bodies and are not merged.
static mut MARKER: u32 = 0;

/// Marks the start of the measured region: the instruction-count plugin starts counting
/// when the guest executes this function's first instruction (found by its ELF symbol).
#[inline(never)]
#[no_mangle]
pub extern "C" fn kiln_marker_start() {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: a plain volatile store to a static that nothing reads; the firmware is single
    // threaded and no interrupt handler touches it.
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(MARKER), 0x4B49_4C4E) };
    compiler_fence(Ordering::SeqCst);
}

/// Marks the end of the measured region (the plugin stops counting at its first instruction).
#[inline(never)]
#[no_mangle]
pub extern "C" fn kiln_marker_end() {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: as in `kiln_marker_start`; a different value gives a different body.
    unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(MARKER), 0x454E_4421) };
    compiler_fence(Ordering::SeqCst);
}

extern "C" {
    // memory/common.x: the free flash after the program.
    static mut __kiln_blob_start: u8;
    static __kiln_blob_end: u8;
}

/// Whether [`free_flash`] has handed the region out.
static FREE_FLASH_TAKEN: AtomicBool = AtomicBool::new(false);

/// The flash the program does not use (`memory/common.x`: `__kiln_blob_start` to the
/// end of flash), where the runners have the host write a blob and its data through
/// semihosting, as a flashing tool would. Handed out once: `None` on a second call.
pub fn free_flash() -> Option<&'static mut [u8]> {
    // A load and a store, not a swap: ARMv6-M has no read-modify-write atomics, and the
    // firmware runs no interrupt handler that could call this in between.
    if FREE_FLASH_TAKEN.load(Ordering::Relaxed) {
        return None;
    }
    FREE_FLASH_TAKEN.store(true, Ordering::Relaxed);
    let start = core::ptr::addr_of_mut!(__kiln_blob_start);
    let end = core::ptr::addr_of!(__kiln_blob_end) as usize;
    let len = end.saturating_sub(start as usize);
    // SAFETY: the linker script reserves [__kiln_blob_start, __kiln_blob_end) in flash for
    // this and places nothing there; the flag above hands it out once, so the slice is the
    // only reference to it. The host fills it (semihosting writes reach flash like a
    // debugger's); the firmware only reads it.
    Some(unsafe { core::slice::from_raw_parts_mut(start, len) })
}

/// A decimal number from a build-time environment variable (`env!`), at compile time.
pub const fn parse_usize(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "a build-time number is decimal");
        value = value * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    value
}

extern "C" {
    // From cortex-m-rt's link.x: the stack grows down from `_stack_start` to `_stack_end`.
    static _stack_start: u32;
    static _stack_end: u32;
}

/// What the painted stack showed when [`stack_mark`] last painted it again: the deepest
/// it had been (bytes), and whether it had reached the statics. (Atomic loads and stores
/// only: ARMv6-M has no read-modify-write atomics.)
static DEEPEST: AtomicUsize = AtomicUsize::new(0);
static OVERFLOWED: AtomicBool = AtomicBool::new(false);

/// The deepest the stack has been so far, in bytes. cortex-m-rt (feature `paint-stack`)
/// fills the free RAM between `_stack_end` and `_stack_start` with `STACK_PAINT_VALUE` at
/// reset; the lowest word no longer holding it marks the high-water mark. [`stack_mark`]
/// paints again, and keeps the deepest point found before.
pub fn stack_high_water() -> usize {
    painted_high_water().max(DEEPEST.load(Ordering::Relaxed))
}

/// The high-water mark since the stack was last painted.
fn painted_high_water() -> usize {
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let mut addr = bottom;
    while addr < sp && addr < top {
        // SAFETY: `addr` is a word-aligned address between the end of static RAM and 64
        // bytes below the stack pointer (this function's frame): free stack memory that no
        // Rust object occupies, inside the
        // board's RAM (linker-checked), read as a plain u32.
        let word = unsafe { core::ptr::read_volatile(addr as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        addr += 4;
    }
    top - addr
}

/// Paints the free stack below the caller's frame again (as cortex-m-rt's `paint-stack`
/// did at reset) and returns the stack pointer: [`stack_used_since`] then tells how deep
/// the code run in between went below it.
#[inline(never)]
pub fn stack_mark() -> usize {
    DEEPEST.store(stack_high_water(), Ordering::Relaxed);
    OVERFLOWED.store(stack_overflowed(), Ordering::Relaxed);
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    // Below `sp` is free, but for this function's own frame: the compiler may read `sp`
    // before its prologue pushes registers. 64 bytes cover that.
    let mut addr = bottom;
    while addr + 64 < sp {
        // SAFETY: `addr` is a word-aligned address between the end of static RAM and 64
        // bytes below the stack pointer (this function's frame): free stack memory that no
        // Rust object occupies (the firmware runs no interrupt handler that could be using
        // it), inside the board's RAM (linker-checked). cortex-m-rt paints the same words
        // at reset.
        unsafe { core::ptr::write_volatile(addr as *mut u32, cortex_m_rt::STACK_PAINT_VALUE) };
        addr += 4;
    }
    sp
}

/// Bytes of stack used below `mark` (a [`stack_mark`]) since it was taken.
pub fn stack_used_since(mark: usize) -> usize {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let lowest = top - painted_high_water();
    mark.saturating_sub(lowest)
}

/// Whether the stack has reached the end of its space (the word right above the statics is
/// no longer painted, now or before [`stack_mark`] painted it again): it has then probably
/// overwritten them (there is no stack guard).
pub fn stack_overflowed() -> bool {
    if OVERFLOWED.load(Ordering::Relaxed) {
        return true;
    }
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    // SAFETY: `_stack_end` is the word-aligned lowest address of the stack space, inside
    // RAM; read as a plain u32.
    let word = unsafe { core::ptr::read_volatile(bottom as *const u32) };
    word != cortex_m_rt::STACK_PAINT_VALUE
}

/// Bytes of RAM reserved for the stack (all RAM above the statics).
pub fn stack_size() -> usize {
    core::ptr::addr_of!(_stack_start) as usize - core::ptr::addr_of!(_stack_end) as usize
}

/// Prints the stack high-water mark and exits 0, or prints the failure and exits 1.
pub fn finish<E: fmt::Display>(name: &str, result: Result<(), E>) -> ! {
    match result {
        Ok(()) if stack_overflowed() => {
            println!("{name}: FAILED: the stack overflowed into the statics");
            exit(3)
        }
        Ok(()) => {
            println!(
                "stack: {} bytes used at most (of {} free)",
                stack_high_water(),
                stack_size()
            );
            println!("{name}: ok");
            exit(0)
        }
        Err(e) => {
            println!("{name}: FAILED: {e}");
            exit(1)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m::interrupt::disable();
    semihosting::eprint_line(format_args!("panic: {info}"));
    exit(101)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    semihosting::eprint_line(format_args!(
        "HardFault at pc={:#010x}: {frame:?}",
        frame.pc()
    ));
    exit(3)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    semihosting::eprint_line(format_args!("unexpected exception or interrupt {irqn}"));
    exit(4)
}
