//! The generic runner: runs any kiln model blob on the emulated board, with the blob and
//! the inputs read from host files through semihosting and the outputs written back.
//!
//! ```sh
//! qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
//!     -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv7em-none-eabihf/release/runner \
//!     -append "model.kiln y.bin x0.bin [x1.bin …]"
//! ```
//!
//! Arguments (the semihosting command line; QEMU puts the kernel's path first, which is
//! skipped): `BLOB OUTPUT INPUT…`. With none: `model.kiln output.bin input.bin`. Paths are
//! relative to QEMU's working directory. An input may carry its shape, batch first, as
//! `x0.bin:1x12x10x3`, for models whose inputs have `None` axes (then every input must).
//!
//! * BLOB: a `kiln export` blob. It is read into the flash the program does not use
//!   (`memory/common.x`), so its weights are read from flash as on a real part.
//! * INPUT i: model input i for a whole batch: raw little-endian f32, row-major, batch
//!   first (an `.npy` file's data without its header). The batch is the file's length over
//!   the input's per-sample size. Inputs are read into flash after the blob.
//! * OUTPUT: every model output, one after the other, raw little-endian f32; `-` writes no
//!   file and prints every value instead.
//!
//! It prints the summary, the arena plan, and each output's first values with their bits,
//! and brackets `predict` with `kiln_marker_start` / `kiln_marker_end` for the
//! instruction-count plugin. Exit code: 0 ok, 1 kiln refused the blob or the inputs, 2 a
//! host file could not be read or written, or does not fit.
#![no_std]
#![no_main]

use core::fmt;
use cortex_m_rt::entry;
use kiln_firmware_examples::semihosting::{self as sh, IoError};
use kiln_firmware_examples::{
    exit, kiln_marker_end, kiln_marker_start, println, stack_high_water, stack_overflowed, BOARD,
    CPU,
};

/// Layer/node capacity of the loaded graph, and RAM for the outputs and the arena.
#[cfg(kiln_board = "mps2-an386")]
mod capacity {
    // `kiln::format::load::<kiln::Fixed<64>>` takes about 66 KiB of stack; RAM is 4 MiB.
    pub const MAX_LAYERS: usize = 64;
    pub const WORK_BYTES: usize = 3 * 1024 * 1024;
}
#[cfg(kiln_board = "lm3s6965evb")]
mod capacity {
    // `kiln::format::load::<kiln::Fixed<N>>` needs about 7.7 KiB + 0.9 KiB × N of stack on this
    // Cortex-M3 (measured: N = 16 -> 22 KiB): N = 16 leaves 32 KiB for the work RAM.
    pub const MAX_LAYERS: usize = 16;
    pub const WORK_BYTES: usize = 32 * 1024;
}
use capacity::{MAX_LAYERS, WORK_BYTES};

/// Model inputs/outputs the runner handles.
const MAX_IO: usize = 8;
/// Values of each output printed when they also go to a file.
const SHOWN: usize = 16;

extern "C" {
    // memory/common.x: the free flash after the program.
    static mut __kiln_blob_start: u8;
    static __kiln_blob_end: u8;
}

enum Failure {
    Usage(&'static str),
    Io(&'static str, IoError),
    Kiln(kiln::Error),
    Too(&'static str, usize, usize),
}

impl From<kiln::Error> for Failure {
    fn from(e: kiln::Error) -> Self {
        Failure::Kiln(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(what) => write!(f, "usage: runner BLOB OUTPUT INPUT... ({what})"),
            Failure::Io(path, e) => write!(f, "{path}: {e}"),
            Failure::Kiln(e) => write!(f, "{e}"),
            Failure::Too(what, needed, capacity) => {
                write!(f, "{what}: {needed} needed, this firmware has {capacity}")
            }
        }
    }
}

/// "3x12x10x3" (the batch first; `x` or `,` between dimensions) as a shape.
fn parse_shape(text: &str) -> Result<kiln::Shape, Failure> {
    let mut dims: heapless::Vec<Option<u32>, 8> = heapless::Vec::new();
    for d in text.split(['x', ',']) {
        let n = d
            .trim()
            .parse::<u32>()
            .map_err(|_| Failure::Usage("a shape is dimensions joined by x, e.g. 1x28x28x1"))?;
        dims.push(Some(n))
            .map_err(|_| Failure::Usage("a shape has too many dimensions"))?;
    }
    kiln::Shape::new(&dims)
        .map_err(|_| Failure::Usage("a shape has too many dimensions or an axis too large"))
}

/// The free flash, where the blob is written.
fn blob_region() -> &'static mut [u8] {
    let start = core::ptr::addr_of_mut!(__kiln_blob_start);
    let end = core::ptr::addr_of!(__kiln_blob_end) as usize;
    let len = end.saturating_sub(start as usize);
    // SAFETY: the linker script reserves [__kiln_blob_start, __kiln_blob_end) in flash for
    // this and places nothing there; this function is called once, so the slice is the
    // only reference to it. The host fills it (semihosting writes reach flash like a
    // debugger's); the firmware only reads it.
    unsafe { core::slice::from_raw_parts_mut(start, len) }
}

fn run(work: &'static mut [f32]) -> Result<(), Failure> {
    // The command line: "KERNEL BLOB OUTPUT INPUT…".
    let mut cmdline_buf = [0u8; 1024];
    let cmdline = sh::command_line(&mut cmdline_buf).unwrap_or("");
    let mut words = cmdline.split_ascii_whitespace().skip(1);
    let blob_path = words.next().unwrap_or("model.kiln");
    let output_path = words.next().unwrap_or("output.bin");
    let mut input_paths: heapless::Vec<&str, MAX_IO> = heapless::Vec::new();
    let mut given_shapes: heapless::Vec<kiln::Shape, MAX_IO> = heapless::Vec::new();
    for w in words {
        // PATH, or PATH:B×D1×…: the input's shape, for models with `None` axes.
        let (path, dims) = match w.split_once(':') {
            Some((path, dims)) => (path, Some(parse_shape(dims)?)),
            None => (w, None),
        };
        input_paths
            .push(path)
            .map_err(|_| Failure::Usage("too many inputs"))?;
        if let Some(shape) = dims {
            let _ = given_shapes.push(shape);
        }
    }
    if input_paths.is_empty() {
        let _ = input_paths.push("input.bin");
    }
    let input_shapes: Option<&[kiln::Shape]> = match given_shapes.len() {
        0 => None,
        n if n == input_paths.len() => Some(&given_shapes),
        _ => return Err(Failure::Usage("give a shape for every input or for none")),
    };

    // The blob, into flash.
    let region = blob_region();
    let capacity = region.len();
    let blob_len = sh::read_file(blob_path, region).map_err(|e| Failure::Io("blob", e))?;
    // The inputs go into the flash after the blob (16-byte aligned): they are only read,
    // and RAM is kept for the outputs and the arena.
    let (blob_area, mut flash_rest) =
        region.split_at_mut(blob_len.next_multiple_of(16).min(capacity));
    let blob: &'static [u8] = &blob_area[..blob_len];
    println!(
        "kiln-runner: blob {blob_path}: {blob_len} bytes in flash at {:#010x} ({capacity} bytes free)",
        blob.as_ptr() as usize
    );
    let model = kiln::format::load::<kiln::Fixed<MAX_LAYERS>>(blob)?;
    model
        .summary(
            &kiln::SummaryOptions {
                terminal_columns: usize::MAX,
                ..Default::default()
            },
            &mut |line| println!("{line}"),
        )
        .map_err(kiln::Error::from)?;

    // Per-sample sizes.
    let shapes = model.sample_shapes(input_shapes)?;
    let elements = |node: u16| {
        shapes
            .get(node as usize)
            .and_then(kiln::Shape::sample_elements)
            .unwrap_or(0)
    };
    if input_paths.len() != model.input_nodes().len() {
        println!(
            "kiln-runner: the model has {} inputs, {} files given",
            model.input_nodes().len(),
            input_paths.len()
        );
        return Err(Failure::Usage("one input file per model input"));
    }
    if model.output_nodes().len() > MAX_IO {
        return Err(Failure::Too("outputs", model.output_nodes().len(), MAX_IO));
    }

    // Inputs, read into flash after the blob.
    let mut inputs: heapless::Vec<&[f32], MAX_IO> = heapless::Vec::new();
    let mut batch = 0;
    for (i, (&path, &node)) in input_paths.iter().zip(model.input_nodes()).enumerate() {
        let room = flash_rest.len();
        let len = sh::read_file(path, flash_rest).map_err(|e| Failure::Io("input", e))?;
        let (bytes, tail) = core::mem::take(&mut flash_rest).split_at_mut(len);
        let skip = len.next_multiple_of(16).min(len + tail.len()) - len;
        flash_rest = &mut tail[skip..];
        let data: &[f32] = bytemuck::try_cast_slice(&*bytes)
            .map_err(|_| Failure::Usage("an input file's length is not a multiple of 4"))?;
        let per_sample = elements(node);
        if i == 0 && per_sample > 0 {
            batch = data.len() / per_sample;
        }
        println!(
            "kiln-runner: input {i}: {path}: {} values, {per_sample} per sample ({room} bytes of flash were free)",
            data.len()
        );
        let _ = inputs.push(data);
    }
    let rest: &'static mut [f32] = work;

    // Outputs next (one after the other, so they are written in one go), then the arena.
    let mut sizes: heapless::Vec<usize, MAX_IO> = heapless::Vec::new();
    for &node in model.output_nodes() {
        let _ = sizes.push(elements(node) * batch);
    }
    let total_out: usize = sizes.iter().sum();
    if total_out > rest.len() {
        return Err(Failure::Too(
            "RAM for the outputs (bytes)",
            total_out * 4,
            rest.len() * 4,
        ));
    }
    let (all_outputs, rest) = rest.split_at_mut(total_out);
    let mut outputs: heapless::Vec<&mut [f32], MAX_IO> = heapless::Vec::new();
    let mut remaining: &mut [f32] = &mut *all_outputs;
    for &n in &sizes {
        let (out, tail) = core::mem::take(&mut remaining).split_at_mut(n);
        remaining = tail;
        let _ = outputs.push(out);
    }
    let arena: &mut [u8] = bytemuck::cast_slice_mut(rest);
    let plan = model.plan(input_shapes)?;
    println!(
        "kiln-runner: arena {} bytes planned, lower bound {} bytes, {} bytes free",
        plan.arena_bytes(),
        plan.lower_bound_bytes(),
        arena.len()
    );

    // Region 1 of the instruction count: prepare; region 2: one predict.
    kiln_marker_start();
    let prepared = model.prepare(input_shapes);
    kiln_marker_end();
    let prepared = prepared?;
    kiln_marker_start();
    let result = prepared.predict(&inputs, &mut outputs, arena);
    kiln_marker_end();
    let batch = result?;
    println!("kiln-runner: predict ran a batch of {batch}");

    let show_all = output_path == "-";
    for (j, (out, &node)) in outputs.iter().zip(model.output_nodes()).enumerate() {
        let shape = shapes
            .get(node as usize)
            .map(|s| s.with_batch(u32::try_from(batch).ok()));
        match shape {
            Some(shape) => println!(
                "kiln-runner: output {j}: shape {shape}, {} values",
                out.len()
            ),
            None => println!("kiln-runner: output {j}: {} values", out.len()),
        }
        let shown = if show_all {
            out.len()
        } else {
            out.len().min(SHOWN)
        };
        for (k, v) in out[..shown].iter().enumerate() {
            println!("y{j}[{k}] = {v:e} ({:#010x})", v.to_bits());
        }
        if shown < out.len() {
            println!("y{j}: {} more values in {output_path}", out.len() - shown);
        }
    }
    drop(outputs);
    if !show_all {
        sh::write_file(output_path, bytemuck::cast_slice(all_outputs))
            .map_err(|e| Failure::Io("output", e))?;
        println!(
            "kiln-runner: wrote {} bytes to {output_path}",
            total_out * 4
        );
    }
    Ok(())
}

#[entry]
fn main() -> ! {
    // cortex-m-rt hands the entry function a `&'static mut` to each `static mut` declared
    // first in it; the inputs, outputs and arena are cut from this one buffer.
    static mut WORK: [f32; WORK_BYTES / 4] = [0.0; WORK_BYTES / 4];
    println!("kiln-runner: board {BOARD}, {CPU}");
    match run(WORK) {
        Ok(()) if stack_overflowed() => {
            println!("kiln-runner: error: the stack overflowed into the statics");
            exit(3)
        }
        Ok(()) => {
            println!(
                "kiln-runner: stack {} bytes used at most",
                stack_high_water()
            );
            println!("kiln-runner: ok");
            exit(0)
        }
        Err(e) => {
            println!("kiln-runner: error: {e}");
            exit(match e {
                Failure::Kiln(_) => 1,
                _ => 2,
            })
        }
    }
}
