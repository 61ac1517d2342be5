//! `kiln`: inspect and run Keras models from the command line.
//!
//! Every failure is one line on stderr, `error: <file>: <what is wrong>`, and exit code 1;
//! a closed stdout (`kiln predict … | head -1`) ends the command quietly.

mod export;
mod fit;
mod inspect;
mod output;
mod paths;
mod plot;
mod predict;
mod run;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kiln::SummaryOptions;
use kiln_host::load::load_model;
use output::Out;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Keras-style neural networks for microcontrollers: inspect and run models on the host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the model's summary table, exactly as Keras's model.summary() prints it.
    Summary {
        /// A Keras 3 `.keras` archive, a `model.to_json()` file, an int8 `.tflite` or a
        /// `.kiln` blob.
        model: PathBuf,
        /// Total width of the table (Keras's line_length). Default: Keras's rule
        /// (88, or 108 with a "Connected to" column, capped at the terminal width - 4;
        /// 76 when not printing to a terminal).
        #[arg(long)]
        line_length: Option<usize>,
        /// Right edges of the columns as fractions of the width, e.g. 0.45,0.8,1.0.
        #[arg(long, value_delimiter = ',')]
        positions: Option<Vec<f64>>,
        /// Expand nested models (Keras's expand_nested).
        #[arg(long)]
        expand_nested: bool,
        /// Add the Trainable column.
        #[arg(long)]
        show_trainable: bool,
        /// Only rows from the first layer matching START to the last matching END
        /// (Python regexes matched at the start of the layer name, as Keras does).
        #[arg(long, num_args = 2, value_names = ["START", "END"])]
        layer_range: Option<Vec<String>>,
    },
    /// Write the model as a .kiln blob for flashing (and, with --rust, a .rs file that
    /// includes it with its arena size as a constant).
    Export {
        /// A Keras 3 `.keras` archive, an int8 `.tflite` or a `.kiln` blob.
        model: PathBuf,
        /// Where to write the blob.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write Rust source declaring ARENA_BYTES, the I/O sizes and the blob.
        #[arg(long)]
        rust: Option<PathBuf>,
        /// Quantize to int8 first (post-training, as TensorFlow Lite's converter does:
        /// BatchNormalization folded, activations fused, kernels symmetric per output
        /// channel) with the --calibration samples; the blob's inputs and outputs are
        /// int8. Prints the int8 error against float on the calibration set.
        #[arg(long, requires = "calibration")]
        int8: bool,
        /// Calibration samples for --int8: one .npy per model input, in model.inputs
        /// order, the first axis the samples (give it once per input).
        #[arg(long, requires = "int8", value_name = "NPY")]
        calibration: Vec<PathBuf>,
        /// With --int8: kernels with one scale per tensor rather than per output channel,
        /// for `dense` layers only or for `all` (the converter's
        /// _experimental_disable_per_channel[_quantization_for_dense_layers]).
        #[arg(long, requires = "int8", value_name = "LAYERS")]
        per_tensor: Option<export::PerTensor>,
        /// Whose integer arithmetic an int8 `.tflite` reproduces: `litert` (LiteRT's
        /// reference kernels, the default) or `tflm` (TensorFlow Lite Micro's default
        /// build: two rounding steps in FULLY_CONNECTED).
        #[arg(long, value_enum, default_value = "litert")]
        rounding: Rounding,
        /// Also plan on-device training: print the training arena and, with --rust, emit
        /// TRAIN_ARENA_BYTES, TRAINABLE_BYTES and TRAIN_BATCH_SIZE (the compile
        /// configuration of the .keras, or the flags; only the optimizer's slots change
        /// the size).
        #[arg(long)]
        train: bool,
        /// With --train: the batch size the training arena is planned for.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[command(flatten)]
        compile: fit::CompileFlags,
    },
    /// Run the model on an emulated Cortex-M under QEMU (generic runner firmware, built
    /// with only the model's op families and capacity), print the outputs, the arena and
    /// flash used, the instructions prepare and predict executed, and kiln's code and
    /// stack for the model.
    Run {
        /// `m4` (mps2-an386, Cortex-M4F), `m3` (lm3s6965evb, Cortex-M3, soft float) or `m0`
        /// (microbit, Cortex-M0, soft float, 16 KiB of RAM).
        #[arg(long, value_name = "BOARD")]
        qemu: String,
        /// A `.kiln` blob, a `.keras` archive or an int8 `.tflite` (exported first).
        model: PathBuf,
        /// One .npy per model input, in model.inputs order; the first axis is the batch.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// One .npy per model output, in model.outputs order.
        #[arg(long)]
        output: Vec<PathBuf>,
        /// Build the runner with every op family and the board's default capacity: one
        /// firmware serves every model (for batch runs; the engine figures are then not
        /// the model's own).
        #[arg(long)]
        all_ops: bool,
        /// More cargo features of kiln for the runner, comma-separated (`fast-math`:
        /// micromath's approximations for exp, log and tanh).
        #[arg(long, value_name = "FEATURES", value_delimiter = ',')]
        kiln_features: Vec<String>,
        /// Whose integer arithmetic an int8 `.tflite` reproduces: `litert` (LiteRT's
        /// reference kernels, the default) or `tflm` (TensorFlow Lite Micro's default
        /// build: two rounding steps in FULLY_CONNECTED).
        #[arg(long, value_enum, default_value = "litert")]
        rounding: Rounding,
    },
    /// Show what a model holds: layers, each tensor's dtype, scale and zero point, flash
    /// and arena bytes (a .kiln blob is checked: magic, version, checksum).
    Inspect {
        /// A `.kiln` blob, a `.keras` archive or an int8 `.tflite`.
        model: PathBuf,
    },
    /// Train the model, as Keras's model.fit(), with the arithmetic a device runs (SGD;
    /// the compile configuration of a .keras saved after compile(), overridden by the
    /// flags). Prints Keras's epoch lines and writes the trained model.
    Fit {
        /// A `.keras` archive or a `.kiln` blob.
        model: PathBuf,
        /// One .npy per model input, in model.inputs order; the first axis is the samples.
        #[arg(long, required = true)]
        x: Vec<PathBuf>,
        /// One .npy per model output, in model.outputs order (integer class indices for
        /// sparse_categorical_crossentropy).
        #[arg(long, required = true)]
        y: Vec<PathBuf>,
        #[command(flatten)]
        compile: fit::CompileFlags,
        /// Samples per optimizer step (Keras's default 32); the last batch may be smaller.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Passes over the data.
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        /// Shuffle the samples each epoch (the default, as Keras; kiln's seeded order, not JAX's).
        #[arg(long, overrides_with = "no_shuffle")]
        shuffle: bool,
        /// Take the samples in order.
        #[arg(long)]
        no_shuffle: bool,
        /// Seed of the shuffles and of Dropout.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Validation inputs (one .npy per model input): val_ logs after each epoch.
        #[arg(long, requires = "validation_y")]
        validation_x: Vec<PathBuf>,
        /// Validation targets (one .npy per model output).
        #[arg(long, requires = "validation_x")]
        validation_y: Vec<PathBuf>,
        /// Where to write the trained model: a `.kiln` blob or a `.keras` archive.
        #[arg(short, long)]
        output: PathBuf,
        /// Write Keras's History.history as JSON.
        #[arg(long)]
        history: Option<PathBuf>,
        /// Draw the loss and metric curves per epoch (SVG).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Train on an emulated board instead: `m4` (mps2-an386, Cortex-M4F) or `m3`
        /// (lm3s6965evb, Cortex-M3, soft float), with a training runner firmware built
        /// for the model; prints the device's epoch lines, the instructions per SGD step
        /// and the RAM, and writes the weights the device trained.
        #[arg(long, value_name = "BOARD")]
        qemu: Option<String>,
    },
    /// Put a float head on a (quantized) backbone for fine-tuning on the device: float
    /// input → Quantize → BACKBONE (frozen) → Dequantize → HEAD (trains). Writes a .kiln
    /// blob for `kiln fit`, `kiln export` and the firmware.
    Stack {
        /// The feature extractor: an int8 `.tflite`, a `.kiln` blob or a `.keras`.
        backbone: PathBuf,
        /// The head: a `.keras` or `.kiln` whose input takes the backbone's output.
        head: PathBuf,
        /// Where to write the stacked model (`.kiln`).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Keras's model.evaluate(): the loss and metrics at inference, one per line.
    Evaluate {
        /// A `.keras` archive or a `.kiln` blob.
        model: PathBuf,
        /// One .npy per model input.
        #[arg(long, required = true)]
        x: Vec<PathBuf>,
        /// One .npy per model output.
        #[arg(long, required = true)]
        y: Vec<PathBuf>,
        #[command(flatten)]
        compile: fit::CompileFlags,
        /// Samples per batch (Keras's default 32).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
    },
    /// Run the model on .npy inputs, as Keras's model.predict() (an int8 model: int8
    /// inputs give its raw int8 outputs; float32 inputs are quantized with the input's
    /// scale and zero point, and the outputs dequantized).
    Predict {
        /// A Keras 3 `.keras` archive, an int8 `.tflite` or a `.kiln` blob (weights are
        /// needed).
        model: PathBuf,
        /// One .npy per model input, in model.inputs order; the first axis is the batch.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// One .npy per model output, in model.outputs order. Without it the outputs are
        /// printed.
        #[arg(long)]
        output: Vec<PathBuf>,
        /// Whose integer arithmetic an int8 `.tflite` reproduces: `litert` (LiteRT's
        /// reference kernels, the default) or `tflm` (TensorFlow Lite Micro's default
        /// build: two rounding steps in FULLY_CONNECTED).
        #[arg(long, value_enum, default_value = "litert")]
        rounding: Rounding,
    },
}

/// `--rounding`: which runtime's int8 arithmetic to reproduce.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Rounding {
    Litert,
    Tflm,
}

impl Rounding {
    fn flavor(self) -> kiln::ops::int8::Flavor {
        match self {
            Rounding::Litert => kiln::ops::int8::Flavor::LiteRtReference,
            Rounding::Tflm => kiln::ops::int8::Flavor::Tflm,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = Out::new();
    match run(cli, &mut out).and_then(|()| Ok(out.flush()?)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Each level of the chain says one thing (the file, then what is wrong).
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli, out: &mut Out) -> Result<()> {
    match cli.command {
        Command::Summary {
            model,
            line_length,
            positions,
            expand_nested,
            show_trainable,
            layer_range,
        } => {
            let host = load_model(&model)?;
            let range = layer_range
                .as_deref()
                .map(|r| [r[0].as_str(), r[1].as_str()]);
            let options = SummaryOptions {
                line_length,
                positions: positions.as_deref(),
                expand_nested,
                show_trainable,
                layer_range: range,
                terminal_columns: terminal_columns(),
            };
            let mut text = String::new();
            host.structure()
                .summary(&options, &mut |line| {
                    text.push_str(&line.to_string());
                    text.push('\n');
                })
                .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
            out.text(&text)?;
            Ok(())
        }
        Command::Predict {
            model,
            input,
            output,
            rounding,
        } => predict::run(&model, &input, &output, rounding.flavor(), out),
        Command::Export {
            model,
            output,
            rust,
            rounding,
            int8,
            calibration,
            per_tensor,
            train,
            batch_size,
            compile,
        } => {
            let int8 = int8.then_some(export::Int8 {
                calibration,
                per_tensor,
            });
            let train = train.then_some(export::Train {
                batch_size,
                compile,
            });
            let flavor = rounding.flavor();
            export::run(
                &model,
                &output,
                rust.as_deref(),
                flavor,
                int8.as_ref(),
                train.as_ref(),
                out,
            )
        }
        Command::Inspect { model } => inspect::run(&model, out),
        Command::Fit {
            model,
            x,
            y,
            compile,
            batch_size,
            epochs,
            shuffle: _,
            no_shuffle,
            seed,
            validation_x,
            validation_y,
            output,
            history,
            plot,
            qemu,
        } => fit::fit(
            &fit::FitArgs {
                model: &model,
                x: &x,
                y: &y,
                compile: &compile,
                batch_size,
                epochs,
                shuffle: !no_shuffle,
                seed,
                validation_x: &validation_x,
                validation_y: &validation_y,
                output: &output,
                history: history.as_deref(),
                plot: plot.as_deref(),
                qemu: qemu.as_deref(),
            },
            out,
        ),
        Command::Stack {
            backbone,
            head,
            output,
        } => fit::stack(&backbone, &head, &output, out),
        Command::Evaluate {
            model,
            x,
            y,
            compile,
            batch_size,
        } => fit::evaluate(&model, &x, &y, &compile, batch_size, out),
        Command::Run {
            qemu,
            model,
            input,
            output,
            all_ops,
            kiln_features,
            rounding,
        } => run::run(
            &qemu,
            &model,
            &input,
            &output,
            (all_ops, &kiln_features),
            rounding.flavor(),
            out,
        ),
    }
}

/// What Keras sees as the terminal width: `COLUMNS`, else the terminal, else 80.
fn terminal_columns() -> usize {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return cols;
    }
    match terminal_size::terminal_size_of(std::io::stdout()) {
        Some((terminal_size::Width(w), _)) if w > 0 => w as usize,
        _ => 80,
    }
}
