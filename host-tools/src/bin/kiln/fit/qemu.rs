//! `kiln fit --qemu m4|m3`: the same `fit` on an emulated board (the training runner
//! firmware, `kiln_host::qemu::fit`); the trained weights come back from the device and
//! `kiln fit` writes them as it writes its own.

use super::Progress;
use kiln::train::{Data, FitOptions};
use kiln_host::qemu::{self, Board, RunError};
use kiln_host::train::{self, CompileConfig, Fitted, TrainHostError};
use kiln_host::HostGraph;

/// Why a fit failed, on the host or on the board.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Host(#[from] TrainHostError),
    #[error(transparent)]
    Board(#[from] RunError),
    #[error("--qemu takes m4 (mps2-an386, Cortex-M4F) or m3 (lm3s6965evb, Cortex-M3), not {0:?}")]
    NoBoard(String),
}

/// `fit` on the host (`board` `None`), or on the emulated `board`: then the device's
/// epoch lines and what the run measured go into `progress`'s lines.
pub fn fit(
    board: Option<&str>,
    host: &HostGraph,
    config: &CompileConfig,
    data: Data<'_>,
    options: &FitOptions,
    validation: Option<Data<'_>>,
    progress: &mut Progress<'_>,
) -> Result<Fitted, FitError> {
    let Some(name) = board else {
        return Ok(train::fit(
            host, config, data, options, validation, progress,
        )?);
    };
    let board = match Board::parse(name) {
        Some(b @ (Board::M4 | Board::M3)) => b,
        _ => return Err(FitError::NoBoard(name.to_string())),
    };
    let report = qemu::fit(board, host, config, data, options, validation)?;
    // The device's lines but its logs' bits (read back into the history).
    progress.lines.extend(
        report
            .log
            .lines()
            .filter(|l| !l.starts_with("kiln-fit: logs "))
            .map(String::from),
    );
    progress.lines.push(format!(
        "kiln fit: {} {} steps executed {} instructions on {} ({}): {} instructions per step",
        report.iterations,
        match config.optimizer {
            kiln::train::Optimizer::Sgd(_) => "SGD",
            kiln::train::Optimizer::Adam(_) => "Adam",
        },
        report.fit_instructions,
        board.name(),
        board.machine(),
        report.instructions_per_step()
    ));
    progress.lines.push(format!(
        "kiln fit: RAM: training arena {} bytes (TRAIN_ARENA_BYTES) + trained weights {} bytes; stack: fit {} bytes, compile {}, {} at most (with the printing)",
        report.arena_bytes,
        report.weight_buffer_bytes,
        report.fit_stack,
        report.compile_stack,
        report.stack_high_water
    ));
    progress.lines.push(format!(
        "kiln fit: training runner .text {} bytes, flash {} bytes, statics {} bytes",
        report.runner_text, report.runner_flash, report.runner_statics
    ));
    // The device sends back the weights, not the optimizer's slots: a .keras written from
    // a board's run has the iterations and learning rate (Keras then starts its momentum
    // or moments afresh, with a warning).
    let optimizer = kiln_host::formats::keras_writer::OptimizerState {
        iterations: report.iterations as i64,
        learning_rate: config.optimizer.learning_rate(),
        slots: Vec::new(),
    };
    Ok(Fitted {
        model: train::trained(host, &report.weights),
        epochs: report.epochs,
        iterations: report.iterations,
        optimizer,
    })
}
