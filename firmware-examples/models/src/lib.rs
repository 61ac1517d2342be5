//! The models of kiln's firmware examples, built with kiln's `no_std` API from static
//! weight arrays, and the code that runs them: print the summary, plan the arena, predict,
//! print the outputs with their exact bits.
//!
//! The same code runs in the firmware (`src/bin/*.rs`, under QEMU) and on the host
//! (`cargo run -p kiln-example-models --example host --target <host>`), so the two outputs
//! can be compared bit for bit (`scripts/run-examples.sh` does).
#![no_std]

#[cfg(feature = "inference")]
pub mod cnn;
#[cfg(feature = "train")]
pub mod fine_tune;
#[cfg(feature = "inference")]
pub mod sine;
#[cfg(feature = "inference")]
pub mod two_inputs;

use core::fmt;
use kiln::{Error, Graph, SummaryOptions};

/// Why an example failed.
#[derive(Debug)]
pub enum Failure {
    /// kiln returned an error.
    Kiln(Error),
    /// A result the example checks is wrong.
    Check(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Kiln(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Kiln(e) => write!(f, "kiln error: {e}"),
            Failure::Check(what) => write!(f, "check failed: {what}"),
        }
    }
}

/// What an example needs from where it runs.
pub trait Board {
    /// Prints one line (no trailing newline in `args`).
    fn print(&mut self, args: fmt::Arguments<'_>);
    /// Called right before the measured `predict` (the firmware calls its start marker).
    fn begin_measure(&mut self) {}
    /// Called right after the measured `predict`.
    fn end_measure(&mut self) {}
}

/// Options for printing summaries: Keras's defaults, with no terminal to crop the table.
pub fn summary_options() -> SummaryOptions<'static> {
    SummaryOptions {
        terminal_columns: usize::MAX,
        ..SummaryOptions::default()
    }
}

/// Prints `model.summary()` line by line.
pub fn print_summary<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
) -> Result<(), Error> {
    model
        .summary(&summary_options(), &mut |line| {
            board.print(format_args!("{line}"))
        })
        .map_err(Error::from)
}

/// Prints `model.summary(show_trainable=…)` line by line.
pub fn print_summary_with<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
    show_trainable: bool,
) -> Result<(), Error> {
    let options = SummaryOptions {
        show_trainable,
        ..summary_options()
    };
    model
        .summary(&options, &mut |line| board.print(format_args!("{line}")))
        .map_err(Error::from)
}

/// Prints the arena the model's plan needs and its lower bound.
pub fn print_arena<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
) -> Result<(), Error> {
    let plan = model.plan(None)?;
    board.print(format_args!(
        "arena: {} bytes planned, lower bound {} bytes",
        plan.arena_bytes(),
        plan.lower_bound_bytes(),
    ));
    Ok(())
}

/// Prints `values` as `name[i] = value (0xbits)`, the bits being what is compared.
pub fn print_values(board: &mut dyn Board, name: &str, values: &[f32]) {
    for (i, v) in values.iter().enumerate() {
        board.print(format_args!("{name}[{i}] = {v:.7} ({:#010x})", v.to_bits()));
    }
}

/// Prepares the model and runs `predict`, each between the board's measurement markers:
/// the instruction counter's region 1 is `prepare`, region 2 one `predict`.
pub fn measured_predict<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
    inputs: &[&[f32]],
    outputs: &mut [&mut [f32]],
    arena: &mut [u8],
) -> Result<usize, Error> {
    board.begin_measure();
    let prepared = model.prepare(None);
    board.end_measure();
    let prepared = prepared?;
    board.begin_measure();
    let result = prepared.predict(inputs, outputs, arena);
    board.end_measure();
    result
}

/// Deterministic pseudo-random weights in `[-scale/2, scale/2)` (a 32-bit LCG), computed at
/// compile time so they sit in flash as a `static`.
pub const fn pseudo_random<const L: usize>(seed: u32, scale: f32) -> [f32; L] {
    let mut w = [0.0f32; L];
    let mut state = seed;
    let mut i = 0;
    while i < L {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        w[i] = ((state >> 8) as f32 / 16_777_216.0 - 0.5) * scale;
        i += 1;
    }
    w
}
