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
//! The command line is read into the last KiB of the flash the program does not use (at
//! most 1 KiB), which leaves RAM to the outputs and the arena.
//!
//! * BLOB: a `kiln export` blob. It is read into the flash the program does not use
//!   (`memory/common.x`), so its weights are read from flash as on a real part.
//! * INPUT i: model input i for a whole batch: raw little-endian values of the model's
//!   input dtype (f32, or int8 for an int8 model), row-major, batch first (an `.npy` file's
//!   data without its header). The batch is the file's length over the input's per-sample
//!   size. Inputs are read into flash after the blob.
//! * OUTPUT: every model output, one after the other, raw little-endian values of the
//!   model's dtype (it prints `kiln-runner: outputs are int8` for an int8 model); `-`
//!   writes no file and prints every value instead.
//!
//! It prints the summary (feature `summary`), the arena plan, and each output's first values
//! with their bits; brackets `prepare` and then one `predict` with `kiln_marker_start` /
//! `kiln_marker_end` for the instruction-count plugin (regions 1 and 2), and prints the
//! stack both used together. Exit code: 0 ok, 1 kiln refused the blob or the inputs, 2 a
//! host file could not be read or written, or does not fit, 3 the stack overflowed.
//!
//! Built with only the kiln features a model needs (`kiln run` does), it links only that
//! model's ops. Feature `baseline` leaves every kiln call out (the outputs are then zeros):
//! the difference of the two `.text` sizes is kiln's code for the model.
#![no_std]
#![no_main]

use core::fmt;
use cortex_m_rt::entry;
use kiln_firmware_examples::semihosting::{self as sh, IoError};
use kiln_firmware_examples::{
    exit, kiln_marker_end, kiln_marker_start, println, stack_high_water, stack_mark,
    stack_overflowed, stack_size, stack_used_since, BOARD, CPU,
};

/// RAM for the outputs and the arena.
#[cfg(kiln_board = "mps2-an386")]
const WORK_BYTES: usize = 3 * 1024 * 1024;
#[cfg(kiln_board = "lm3s6965evb")]
const WORK_BYTES: usize = 32 * 1024;
/// The microbit's 16 KiB of RAM hold everything: the statics, this buffer and the stack,
/// which holds the loaded graph and the prepared model (both `MAX_LAYERS` long) and the
/// frames of loading and preparing them. What the runner reported for every int8 fixture
/// that fits (3 to 11 layers): at most 5.4 KiB + 600 bytes a layer. The stack is given
/// 6 KiB + 600 bytes a layer; the buffer is the rest.
#[cfg(kiln_board = "microbit")]
const WORK_BYTES: usize = (MICROBIT_RAM - 128 - microbit_stack(MAX_LAYERS)) / 16 * 16;
#[cfg(kiln_board = "microbit")]
const MICROBIT_RAM: usize = 16 * 1024;
#[cfg(kiln_board = "microbit")]
const fn microbit_stack(layers: usize) -> usize {
    6 * 1024 + 600 * layers
}
#[cfg(kiln_board = "microbit")]
const _: () = assert!(
    microbit_stack(MAX_LAYERS) + 128 + 256 <= MICROBIT_RAM,
    "the microbit's 16 KiB of RAM hold a graph of at most 16 layers (KILN_RUNNER_MAX_LAYERS)"
);

/// Layer/node capacity of the loaded graph: `KILN_RUNNER_MAX_LAYERS` when the runner is
/// built (`kiln run` gives the model's own), else 128 on the mps2-an386 (4 MiB of RAM),
/// 16 on the lm3s6965evb (64 KiB) and 8 on the microbit (16 KiB).
#[cfg_attr(feature = "baseline", allow(dead_code))]
const MAX_LAYERS: usize = kiln_firmware_examples::parse_usize(env!("KILN_RUNNER_MAX_LAYERS"));

/// Bytes of flash for the semihosting command line.
const CMDLINE_BYTES: usize = 1024;
/// Model inputs/outputs the runner handles.
const MAX_IO: usize = 8;
/// Values of each output printed when they also go to a file.
const SHOWN: usize = 16;

enum Failure {
    Usage(&'static str),
    Io(&'static str, IoError),
    #[cfg_attr(feature = "baseline", allow(dead_code))]
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

/// "3x12x10x3" (the batch first; `x` or `,` between dimensions) as its dimensions.
fn parse_shape(text: &str) -> Result<Dims, Failure> {
    let mut dims = Dims::new();
    for d in text.split(['x', ',']) {
        let n = d
            .trim()
            .parse::<u32>()
            .map_err(|_| Failure::Usage("a shape is dimensions joined by x, e.g. 1x28x28x1"))?;
        dims.push(n)
            .map_err(|_| Failure::Usage("a shape has too many dimensions"))?;
    }
    Ok(dims)
}

/// The dimensions of an input given on the command line, batch first.
type Dims = heapless::Vec<u32, 8>;

/// Not inlined: `main`'s frame holds none of this.
#[inline(never)]
fn run(work: &'static mut [f32]) -> Result<(), Failure> {
    let work: &'static mut [u8] = bytemuck::cast_slice_mut(work);
    // The command line: "KERNEL BLOB OUTPUT INPUT…", read into the end of the free flash
    // (the blob and the inputs go there too: RAM is kept for the outputs and the arena).
    let region = kiln_firmware_examples::free_flash().unwrap_or(&mut []);
    let (region, cmdline_buf) = region.split_at_mut(region.len().saturating_sub(CMDLINE_BYTES));
    let cmdline = sh::command_line(cmdline_buf).unwrap_or("");
    let mut words = cmdline.split_ascii_whitespace().skip(1);
    let blob_path = words.next().unwrap_or("model.kiln");
    let output_path = words.next().unwrap_or("output.bin");
    let mut input_paths: heapless::Vec<&str, MAX_IO> = heapless::Vec::new();
    let mut given_shapes: heapless::Vec<Dims, MAX_IO> = heapless::Vec::new();
    for w in words {
        // PATH, or PATH:B×D1×…: the input's shape, for models with `None` axes.
        let (path, dims) = match w.split_once(':') {
            Some((path, dims)) => (path, Some(parse_shape(dims)?)),
            None => (w, None),
        };
        input_paths
            .push(path)
            .map_err(|_| Failure::Usage("too many inputs"))?;
        if let Some(dims) = dims {
            let _ = given_shapes.push(dims);
        }
    }
    if input_paths.is_empty() {
        let _ = input_paths.push("input.bin");
    }
    let input_shapes: Option<&[Dims]> = match given_shapes.len() {
        0 => None,
        n if n == input_paths.len() => Some(&given_shapes),
        _ => return Err(Failure::Usage("give a shape for every input or for none")),
    };

    // The blob, into flash.
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
    let mark = stack_mark();
    // The graph stays in this frame, written here by `kiln::format::load` itself.
    let loaded = engine::load(blob);
    let model = engine::Model::new(&loaded, input_shapes)?;
    let load_stack = stack_used_since(mark);
    if input_paths.len() != model.inputs() {
        println!(
            "kiln-runner: the model has {} inputs, {} files given",
            model.inputs(),
            input_paths.len()
        );
        return Err(Failure::Usage("one input file per model input"));
    }
    if model.outputs() > MAX_IO {
        return Err(Failure::Too("outputs", model.outputs(), MAX_IO));
    }

    // Inputs, read into flash after the blob.
    let size = model.element_bytes();
    let mut inputs: heapless::Vec<&[u8], MAX_IO> = heapless::Vec::new();
    let mut batch = 0;
    for (i, &path) in input_paths.iter().enumerate() {
        let room = flash_rest.len();
        let len = sh::read_file(path, flash_rest).map_err(|e| Failure::Io("input", e))?;
        let (bytes, tail) = core::mem::take(&mut flash_rest).split_at_mut(len);
        let skip = len.next_multiple_of(16).min(len + tail.len()) - len;
        flash_rest = &mut tail[skip..];
        let data: &[u8] = bytes;
        if data.len() % size != 0 {
            return Err(Failure::Usage(
                "an input file's length is not a multiple of its values' size",
            ));
        }
        let per_sample = model.input_elements(i);
        if i == 0 && per_sample > 0 {
            batch = data.len() / size / per_sample;
        }
        println!(
            "kiln-runner: input {i}: {path}: {} values, {per_sample} per sample ({room} bytes of flash were free)",
            data.len() / size
        );
        let _ = inputs.push(data);
    }
    let rest: &'static mut [u8] = work;

    // Outputs next (one after the other, so they are written in one go), then the arena.
    let mut sizes: heapless::Vec<usize, MAX_IO> = heapless::Vec::new();
    for j in 0..model.outputs() {
        let _ = sizes.push(model.output_elements(j) * batch * size);
    }
    // Each output starts 4-byte aligned, so that f32 outputs can be seen as f32s.
    let total_out: usize = sizes.iter().sum::<usize>().next_multiple_of(4);
    if total_out > rest.len() {
        return Err(Failure::Too(
            "RAM for the outputs (bytes)",
            total_out,
            rest.len(),
        ));
    }
    let (all_outputs, rest) = rest.split_at_mut(total_out);
    let mut outputs: heapless::Vec<&mut [u8], MAX_IO> = heapless::Vec::new();
    let mut remaining: &mut [u8] = &mut *all_outputs;
    for &n in &sizes {
        let (out, tail) = core::mem::take(&mut remaining).split_at_mut(n);
        remaining = tail;
        let _ = outputs.push(out);
    }
    let arena: &mut [u8] = rest;
    let (planned, lower_bound) = model.plan()?;
    println!(
        "kiln-runner: arena {planned} bytes planned, lower bound {lower_bound} bytes, {} bytes free",
        arena.len()
    );

    // Region 1 of the instruction count: prepare; region 2: one predict.
    let (batch, prepare_stack, predict_stack) =
        model.prepare_and_predict(&inputs, &mut outputs, arena)?;
    println!("kiln-runner: predict ran a batch of {batch}");
    println!(
        "kiln-runner: stack: load {load_stack}, prepare {prepare_stack}, predict {predict_stack} bytes"
    );
    println!(
        "kiln-runner: prepare and predict used {} bytes of stack",
        prepare_stack.max(predict_stack)
    );

    let show_all = output_path == "-";
    if size == 1 {
        println!("kiln-runner: outputs are int8");
    }
    let mut written = 0;
    for (j, out) in outputs.iter().enumerate() {
        let values = out.len() / size;
        written += out.len();
        match model.output_shape(j, batch) {
            Some(shape) => println!("kiln-runner: output {j}: shape {shape}, {values} values"),
            None => println!("kiln-runner: output {j}: {values} values"),
        }
        let shown = if show_all { values } else { values.min(SHOWN) };
        for k in 0..shown {
            match size {
                1 => println!("y{j}[{k}] = {}", out[k] as i8),
                _ => {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&out[4 * k..4 * k + 4]);
                    let v = f32::from_le_bytes(b);
                    println!("y{j}[{k}] = {v:e} ({:#010x})", v.to_bits());
                }
            }
        }
        if shown < values {
            println!("y{j}: {} more values in {output_path}", values - shown);
        }
    }
    drop(outputs);
    if !show_all {
        sh::write_file(output_path, &all_outputs[..written])
            .map_err(|e| Failure::Io("output", e))?;
        println!("kiln-runner: wrote {written} bytes to {output_path}");
    }
    Ok(())
}

/// What the runner asks of kiln, in one place: the model loaded from its blob, and the
/// measured `prepare` and `predict`.
#[cfg(not(feature = "baseline"))]
mod engine {
    use super::println;
    use super::{kiln_marker_end, kiln_marker_start, Dims, Failure, MAX_IO, MAX_LAYERS};
    use super::{stack_mark, stack_used_since};
    use kiln::{Fixed, Graph, Shape};

    /// A loaded blob: its graph, or why kiln refused it.
    pub type Loaded = Result<Graph<'static, Fixed<MAX_LAYERS>>, kiln::Error>;

    /// Loads the blob. The caller keeps the `Result` as it is: `kiln::format::load` then
    /// writes the graph straight into the caller's frame, where a `?` or a move out of it
    /// would make a copy (about 200 bytes a layer: on the microbit's 16 KiB they count).
    pub fn load(blob: &'static [u8]) -> Loaded {
        kiln::format::load::<Fixed<MAX_LAYERS>>(blob)
    }

    pub struct Model<'g> {
        graph: &'g Graph<'static, Fixed<MAX_LAYERS>>,
        shapes: Option<heapless::Vec<Shape, MAX_IO>>,
        sample: heapless::Vec<Shape, MAX_LAYERS>,
    }

    impl<'g> Model<'g> {
        /// The loaded graph with the shapes of its nodes. Not inlined: its frame is gone
        /// before `prepare` and `predict` run.
        #[inline(never)]
        pub fn new(loaded: &'g Loaded, given: Option<&[Dims]>) -> Result<Model<'g>, Failure> {
            let graph = loaded.as_ref().map_err(|e| Failure::Kiln(e.clone()))?;
            #[cfg(feature = "summary")]
            graph
                .summary(
                    &kiln::SummaryOptions {
                        terminal_columns: usize::MAX,
                        ..Default::default()
                    },
                    &mut |line| println!("{line}"),
                )
                .map_err(kiln::Error::from)?;
            let shapes = match given {
                None => None,
                Some(given) => {
                    let mut shapes = heapless::Vec::new();
                    for dims in given {
                        let dims: heapless::Vec<Option<u32>, 8> =
                            dims.iter().map(|&d| Some(d)).collect();
                        let shape = Shape::new(&dims).map_err(|_| {
                            Failure::Usage("a shape has too many dimensions or an axis too large")
                        })?;
                        let _ = shapes.push(shape);
                    }
                    Some(shapes)
                }
            };
            let sample = graph.sample_shapes(shapes.as_deref())?;
            Ok(Model {
                graph,
                shapes,
                sample,
            })
        }

        pub fn inputs(&self) -> usize {
            self.graph.input_nodes().len()
        }

        pub fn outputs(&self) -> usize {
            self.graph.output_nodes().len()
        }

        fn elements(&self, node: u16) -> usize {
            self.sample
                .get(node as usize)
                .and_then(Shape::sample_elements)
                .unwrap_or(0)
        }

        pub fn input_elements(&self, i: usize) -> usize {
            self.graph
                .input_nodes()
                .get(i)
                .map_or(0, |&n| self.elements(n))
        }

        pub fn output_elements(&self, j: usize) -> usize {
            self.graph
                .output_nodes()
                .get(j)
                .map_or(0, |&n| self.elements(n))
        }

        pub fn output_shape(&self, j: usize, batch: usize) -> Option<Shape> {
            let node = *self.graph.output_nodes().get(j)?;
            let shape = self.sample.get(node as usize)?;
            Some(shape.with_batch(u32::try_from(batch).ok()))
        }

        /// `(arena bytes, lower bound)` of the plan.
        pub fn plan(&self) -> Result<(usize, usize), Failure> {
            let plan = self.graph.plan(self.shapes.as_deref())?;
            Ok((plan.arena_bytes(), plan.lower_bound_bytes()))
        }

        /// Bytes per value of the model's inputs and outputs (4: float32, 1: int8).
        pub fn element_bytes(&self) -> usize {
            let first = self.graph.input_nodes().first().copied().unwrap_or(0);
            self.graph
                .nodes()
                .get(first as usize)
                .map_or(4, |n| n.dtype.size())
        }

        /// [`Self::run`] on the model's own element type.
        pub fn prepare_and_predict(
            &self,
            inputs: &[&[u8]],
            outputs: &mut [&mut [u8]],
            arena: &mut [u8],
        ) -> Result<(usize, usize, usize), Failure> {
            let misaligned = |_| Failure::Usage("a buffer is not aligned for the model's values");
            if self.element_bytes() == 1 {
                let ins: heapless::Vec<&[i8], MAX_IO> =
                    inputs.iter().map(|b| bytemuck::cast_slice(b)).collect();
                let mut outs: heapless::Vec<&mut [i8], MAX_IO> = outputs
                    .iter_mut()
                    .map(|b| bytemuck::cast_slice_mut(b))
                    .collect();
                return self.run(&ins, &mut outs, arena);
            }
            let mut ins: heapless::Vec<&[f32], MAX_IO> = heapless::Vec::new();
            for b in inputs {
                let _ = ins.push(bytemuck::try_cast_slice(b).map_err(misaligned)?);
            }
            let mut outs: heapless::Vec<&mut [f32], MAX_IO> = heapless::Vec::new();
            for b in outputs.iter_mut() {
                let _ = outs.push(bytemuck::try_cast_slice_mut(b).map_err(misaligned)?);
            }
            self.run(&ins, &mut outs, arena)
        }

        /// Prepares the model (measured region 1), then runs one predict (region 2);
        /// returns the batch and the stack each took.
        #[inline(never)]
        fn run<T: kiln::graph::Element>(
            &self,
            inputs: &[&[T]],
            outputs: &mut [&mut [T]],
            arena: &mut [u8],
        ) -> Result<(usize, usize, usize), Failure> {
            // The prepared model lives in this frame, as it would in a firmware's `main`.
            let mut prepared = kiln::runtime::Prepared::default();
            let mark = stack_mark();
            kiln_marker_start();
            let done = self
                .graph
                .prepare_into(&mut prepared, self.shapes.as_deref());
            kiln_marker_end();
            let prepare_stack = stack_used_since(mark);
            done?;
            println!(
                "kiln-runner: the prepared model takes {} bytes (kept by the caller, like the arena)",
                core::mem::size_of_val(&prepared)
            );
            let mark = stack_mark();
            kiln_marker_start();
            let result = prepared.predict(inputs, outputs, arena);
            kiln_marker_end();
            let predict_stack = stack_used_since(mark);
            Ok((result?, prepare_stack, predict_stack))
        }
    }
}

/// The runner with no kiln call: sizes from the inputs themselves, zero outputs.
#[cfg(feature = "baseline")]
mod engine {
    use super::{kiln_marker_end, kiln_marker_start, Dims, Failure};
    use core::hint::black_box;

    pub type Loaded = usize;

    pub fn load(blob: &'static [u8]) -> Loaded {
        black_box(blob.len())
    }

    pub struct Model {
        blob_len: usize,
    }

    impl Model {
        pub fn new(loaded: &Loaded, _: Option<&[Dims]>) -> Result<Model, Failure> {
            Ok(Model {
                blob_len: black_box(*loaded),
            })
        }
        pub fn inputs(&self) -> usize {
            black_box(1)
        }
        pub fn outputs(&self) -> usize {
            black_box(1)
        }
        pub fn input_elements(&self, _: usize) -> usize {
            black_box(self.blob_len)
        }
        pub fn output_elements(&self, _: usize) -> usize {
            black_box(4)
        }
        pub fn output_shape(&self, _: usize, _: usize) -> Option<&'static str> {
            black_box(None)
        }
        pub fn plan(&self) -> Result<(usize, usize), Failure> {
            Ok((black_box(0), black_box(0)))
        }
        pub fn element_bytes(&self) -> usize {
            black_box(4)
        }
        pub fn prepare_and_predict(
            &self,
            _: &[&[u8]],
            outputs: &mut [&mut [u8]],
            arena: &mut [u8],
        ) -> Result<(usize, usize, usize), Failure> {
            kiln_marker_start();
            kiln_marker_end();
            kiln_marker_start();
            black_box((outputs, arena));
            kiln_marker_end();
            Ok((black_box(1), black_box(0), black_box(0)))
        }
    }
}

#[entry]
fn main() -> ! {
    // cortex-m-rt hands the entry function a `&'static mut` to each `static mut` declared
    // first in it; the outputs and the arena are cut from this one buffer.
    static mut WORK: [f32; WORK_BYTES / 4] = [0.0; WORK_BYTES / 4];
    println!("kiln-runner: board {BOARD}, {CPU}");
    let result = run(WORK);
    // First: after an overflow, whatever `run` returned may come from overwritten statics.
    if stack_overflowed() {
        println!(
            "kiln-runner: error: the stack overflowed into the statics (it has {} bytes on the {BOARD})",
            stack_size()
        );
        exit(3)
    }
    match result {
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
