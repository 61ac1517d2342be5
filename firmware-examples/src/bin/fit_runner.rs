//! The training runner: `kiln fit --qemu` on the emulated board. It loads a model blob,
//! reads the compile configuration and the training data through semihosting, runs kiln's
//! `fit` from a static arena of exactly `TRAIN_ARENA_BYTES`, prints Keras's epoch lines
//! from the device's logs, and writes the trained weights back to a host file.
//!
//! ```sh
//! cd DIR   # QEMU opens the files relative to its working directory
//! qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
//!     -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv7em-none-eabihf/release/fit_runner \
//!     -append "model.kiln fit.cfg weights.bin x0.bin y0.bin [vx0.bin vy0.bin]"
//! ```
//!
//! Built with feature `train` (kiln's `training`) and, like the runner, with the model's op
//! families; at build time `KILN_TRAIN_ARENA_BYTES` (the model's
//! `TrainPlan::train_arena_bytes()` for its compile configuration), `KILN_TRAIN_WEIGHT_BYTES`
//! (the model's whole weight buffer, which the trained weights are written into) and
//! `KILN_RUNNER_MAX_LAYERS` size its statics (`build.rs` gives defaults when they are not
//! set). `kiln fit --qemu` sets all three.
//!
//! Arguments (the semihosting command line, after the kernel's path):
//! `BLOB CONFIG WEIGHTS X… Y… [VX… VY…]`, one `X` per model input and one `Y` per model
//! output, in model order; validation data (`VX`, `VY`) as many again, or none.
//!
//! * BLOB: a `kiln export` blob, read into the free flash (`memory/common.x`): the frozen
//!   layers' weights are read from flash, as on a part.
//! * CONFIG: the compile configuration and the fit options, text in the `kiln-fit 1`
//!   format below.
//! * X, Y, VX, VY: raw little-endian f32, samples first (an `.npy` file's data without its
//!   header), read into flash after the blob. Sparse targets are class indices as f32.
//! * WEIGHTS: receives the model's whole weight buffer after training (the frozen layers'
//!   as they were, the trained ones' as `fit` left them): the `.kiln` blob's weights
//!   section, what `Trainer::write_weights` gives.
//!
//! # The `kiln-fit 1` configuration
//!
//! One item per line, words separated by spaces; empty lines and lines starting with `#`
//! are skipped. Floats are written as the 8 hex digits of their IEEE-754 bits (the exact
//! value, no decimal rounding); flags are `0` or `1`; counts and the seed are decimal.
//!
//! ```text
//! kiln-fit 1                                  # first: the format and its version
//! sgd LR MOMENTUM NESTEROV WEIGHT_DECAY       # keras.optimizers.SGD (floats, flag, float)
//! adam LR BETA_1 BETA_2 EPSILON WEIGHT_DECAY   # or keras.optimizers.Adam (floats)
//! loss NAME FROM_LOGITS                       # one per model output, in output order
//! loss_weights W0 W1 …                        # optional: one float per output
//! metric OUTPUT NAME                          # any number, in order: a metric on output OUTPUT
//! fit BATCH_SIZE EPOCHS SHUFFLE SEED          # Keras's fit arguments
//! ```
//!
//! Loss names are Keras's (`mean_squared_error`, `categorical_crossentropy`, …), metric
//! names too (`accuracy`, `mae`, …). The lines build `Compile::new(Sgd)`, `.loss(…)` per
//! `loss` line, `.loss_weights(…)`, `.output_metric(OUTPUT, …)` per `metric` line, in the
//! order given: the `Compile` the host builds from the same configuration.
//!
//! # What it prints
//!
//! Keras's epoch lines (`Epoch 1/2`, `3/3 - loss: 1.0143 - accuracy: 0.4000`: the host's
//! text without the wall-clock times, which an emulator does not have), and for the host:
//! `kiln-fit: logs E train|val loss=BITS outputs=BITS,… metrics=BITS,…` per epoch (`-`
//! for an empty list), `kiln-fit: steps N`, the arena and stack, and
//! `kiln-fit: error: …` when something failed.
//!
//! Instruction count: `fit` runs between `kiln_marker_start` and `kiln_marker_end`, but
//! for the printing of each epoch's lines, which ends a region and starts the next: the sum
//! of the regions is the fit's instructions.
//!
//! Exit code: 0 ok, 1 kiln refused the blob, the configuration or the data (or training
//! stopped), 2 a host file could not be read or written or does not fit, 3 the stack
//! overflowed.
#![no_std]
#![no_main]

use core::fmt;
use cortex_m_rt::entry;
use kiln::train::{
    Adam, Callback, Compile, Data, EpochLogs, FitOptions, Logs, Loss, Metric, Optimizer, Sgd,
};
use kiln::{Fixed, Graph};
use kiln_firmware_examples::semihosting::{self as sh, IoError};
use kiln_firmware_examples::{
    exit, free_flash, kiln_marker_end, kiln_marker_start, parse_usize, println, stack_high_water,
    stack_mark, stack_overflowed, stack_size, stack_used_since, BOARD, CPU,
};

/// Layer/node capacity of the loaded graph (`kiln fit --qemu` gives the model's own).
const MAX_LAYERS: usize = parse_usize(env!("KILN_RUNNER_MAX_LAYERS"));
/// The training arena: the model's `TRAIN_ARENA_BYTES`.
const TRAIN_ARENA_BYTES: usize = parse_usize(env!("KILN_TRAIN_ARENA_BYTES"));
/// Room for the model's whole weight buffer (the trained weights are written there).
const WEIGHT_BYTES: usize = parse_usize(env!("KILN_TRAIN_WEIGHT_BYTES"));
/// Bytes of flash for the semihosting command line.
const CMDLINE_BYTES: usize = 1024;
/// Bytes of flash for the configuration text.
const CONFIG_BYTES: usize = 2048;
/// Model inputs/outputs the runner handles.
const MAX_IO: usize = kiln::train::MAX_OUTPUTS;

type Model = Graph<'static, Fixed<MAX_LAYERS>>;

enum Failure {
    Usage(&'static str),
    Config(&'static str, usize),
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
            Failure::Usage(what) => write!(
                f,
                "usage: fit_runner BLOB CONFIG WEIGHTS X... Y... [VX... VY...] ({what})"
            ),
            Failure::Config(what, line) => write!(f, "configuration line {line}: {what}"),
            Failure::Io(path, e) => write!(f, "{path}: {e}"),
            Failure::Kiln(e) => write!(f, "{e}"),
            Failure::Too(what, needed, capacity) => {
                write!(f, "{what}: {needed} needed, this firmware has {capacity}")
            }
        }
    }
}

/// What the configuration file says.
struct Config {
    compile: Compile,
    options: FitOptions,
}

/// A float written as the hex digits of its bits.
fn bits(word: Option<&str>, line: usize) -> Result<f32, Failure> {
    word.and_then(|w| u32::from_str_radix(w, 16).ok())
        .map(f32::from_bits)
        .ok_or(Failure::Config("a float is 8 hex digits of its bits", line))
}

fn flag(word: Option<&str>, line: usize) -> Result<bool, Failure> {
    match word {
        Some("0") => Ok(false),
        Some("1") => Ok(true),
        _ => Err(Failure::Config("a flag is 0 or 1", line)),
    }
}

fn number<T: core::str::FromStr>(word: Option<&str>, line: usize) -> Result<T, Failure> {
    word.and_then(|w| w.parse().ok())
        .ok_or(Failure::Config("a count is a decimal number", line))
}

/// Parses the `kiln-fit 1` text (see the module's documentation).
fn parse_config(text: &str) -> Result<Config, Failure> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, "kiln-fit 1")) => {}
        Some((n, _)) => return Err(Failure::Config("the first line must be `kiln-fit 1`", n)),
        None => return Err(Failure::Config("empty", 0)),
    }
    let mut sgd = None;
    let mut losses: heapless::Vec<Loss, MAX_IO> = heapless::Vec::new();
    let mut loss_weights: Option<heapless::Vec<f32, MAX_IO>> = None;
    let mut metrics: heapless::Vec<(u8, Metric), { kiln::train::MAX_METRICS }> =
        heapless::Vec::new();
    let mut options = None;
    for (n, line) in lines {
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("sgd") => {
                let lr = bits(words.next(), n)?;
                let momentum = bits(words.next(), n)?;
                let nesterov = flag(words.next(), n)?;
                let weight_decay = bits(words.next(), n)?;
                sgd = Some(Optimizer::Sgd(Sgd {
                    learning_rate: lr,
                    momentum,
                    nesterov,
                    weight_decay,
                }));
            }
            Some("adam") => {
                sgd = Some(Optimizer::Adam(Adam {
                    learning_rate: bits(words.next(), n)?,
                    beta_1: bits(words.next(), n)?,
                    beta_2: bits(words.next(), n)?,
                    epsilon: bits(words.next(), n)?,
                    weight_decay: bits(words.next(), n)?,
                }));
            }
            Some("loss") => {
                let name = words.next().unwrap_or("");
                let from_logits = flag(words.next(), n)?;
                let loss = Loss::from_keras_name(name, from_logits)
                    .ok_or(Failure::Config("not a loss kiln has", n))?;
                losses
                    .push(loss)
                    .map_err(|_| Failure::Config("more losses than kiln trains outputs", n))?;
            }
            Some("loss_weights") => {
                let mut w = heapless::Vec::new();
                for word in words.by_ref() {
                    w.push(bits(Some(word), n)?)
                        .map_err(|_| Failure::Config("more loss weights than outputs", n))?;
                }
                loss_weights = Some(w);
            }
            Some("metric") => {
                let output = number::<u8>(words.next(), n)?;
                let metric = Metric::from_keras_name(words.next().unwrap_or(""))
                    .ok_or(Failure::Config("not a metric kiln has", n))?;
                metrics
                    .push((output, metric))
                    .map_err(|_| Failure::Config("more metrics than a compile holds", n))?;
            }
            Some("fit") => {
                options = Some(FitOptions {
                    batch_size: number(words.next(), n)?,
                    epochs: number(words.next(), n)?,
                    shuffle: flag(words.next(), n)?,
                    seed: number(words.next(), n)?,
                });
            }
            _ => return Err(Failure::Config("unknown item", n)),
        }
        if words.next().is_some() {
            return Err(Failure::Config("too many words", n));
        }
    }
    let sgd = sgd.ok_or(Failure::Config("no `sgd` or `adam` line", 0))?;
    let options: FitOptions = options.ok_or(Failure::Config("no `fit` line", 0))?;
    // The batch size sizes the arena of a model whose BatchNormalization trains.
    let mut compile = Compile::new(sgd).batch_size(options.batch_size);
    for loss in losses {
        compile = compile.loss(loss);
    }
    if let Some(w) = loss_weights {
        compile = compile.loss_weights(&w);
    }
    for (output, metric) in metrics {
        compile = compile.output_metric(output, metric);
    }
    Ok(Config { compile, options })
}

/// Keras's `format_value` in the progress bar: 4 decimals, or scientific when tiny.
struct Value(f32);

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.abs() > 1e-3 || v == 0.0 {
            write!(f, "{v:.4}")
        } else {
            write!(f, "{v:.4e}")
        }
    }
}

/// ` - loss: … - accuracy: …` for one set of logs, as `kiln fit` names them: `loss`,
/// `<output>_loss` per output of a multi-output model, the metrics (prefixed by their
/// output's name when there are several outputs).
struct Entries<'a> {
    graph: &'a Model,
    compile: &'a Compile,
    prefix: &'a str,
    logs: &'a Logs,
}

impl fmt::Display for Entries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Entries {
            graph,
            compile,
            prefix,
            logs,
        } = self;
        let outputs = graph.output_nodes();
        let name = |k: usize| graph.node_layer_name(outputs[k] as usize);
        write!(f, " - {prefix}loss: {}", Value(logs.loss))?;
        let several = outputs.len() > 1;
        if several {
            for (k, &v) in logs.output_losses.iter().enumerate() {
                write!(f, " - {prefix}{}_loss: {}", name(k), Value(v))?;
            }
        }
        for ((k, metric), &v) in compile.metrics(outputs.len()).zip(&logs.metrics) {
            if several {
                write!(
                    f,
                    " - {prefix}{}_{}: {}",
                    name(k),
                    metric.keras_name(),
                    Value(v)
                )?;
            } else {
                write!(f, " - {prefix}{}: {}", metric.keras_name(), Value(v))?;
            }
        }
        Ok(())
    }
}

/// A list of floats as their bits, comma-separated (`-` when empty).
struct BitsList<'a>(&'a [f32]);

impl fmt::Display for BitsList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, v) in self.0.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            write!(f, "{sep}{:08x}", v.to_bits())?;
        }
        Ok(())
    }
}

fn print_logs(epoch: usize, what: &str, logs: &Logs) {
    println!(
        "kiln-fit: logs {epoch} {what} loss={:08x} outputs={} metrics={}",
        logs.loss.to_bits(),
        BitsList(&logs.output_losses),
        BitsList(&logs.metrics)
    );
}

/// Prints each epoch's lines outside the measured regions, and keeps the deepest stack
/// `fit` reached before the printing.
struct Progress<'a> {
    graph: &'a Model,
    compile: &'a Compile,
    epochs: usize,
    steps: usize,
    mark: usize,
    fit_stack: usize,
}

impl Callback for Progress<'_> {
    fn on_batch_end(&mut self, _epoch: usize, _step: usize, steps: usize, _logs: &Logs) {
        self.steps = steps;
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &EpochLogs) {
        kiln_marker_end();
        self.fit_stack = self.fit_stack.max(stack_used_since(self.mark));
        let (graph, compile) = (self.graph, self.compile);
        println!("Epoch {}/{}", epoch + 1, self.epochs);
        let train = Entries {
            graph,
            compile,
            prefix: "",
            logs: &logs.train,
        };
        match &logs.validation {
            Some(v) => {
                let val = Entries {
                    graph,
                    compile,
                    prefix: "val_",
                    logs: v,
                };
                println!("{0}/{0}{train}{val}", self.steps);
            }
            None => println!("{0}/{0}{train}", self.steps),
        }
        print_logs(epoch, "train", &logs.train);
        if let Some(v) = &logs.validation {
            print_logs(epoch, "val", v);
        }
        // The printing's frames are painted over again: the next epochs measure `fit`.
        stack_mark();
        kiln_marker_start();
    }
}

/// Reads a host file into the front of `flash`; returns its bytes and the flash after
/// them (16-byte aligned).
fn read_into<'f>(
    what: &'static str,
    path: &str,
    flash: &mut &'f mut [u8],
) -> Result<&'f [u8], Failure> {
    let len = sh::read_file(path, flash).map_err(|e| Failure::Io(what, e))?;
    let (bytes, tail) = core::mem::take(flash).split_at_mut(len);
    let skip = len.next_multiple_of(16).min(len + tail.len()) - len;
    *flash = &mut tail[skip..];
    Ok(bytes)
}

fn floats(bytes: &[u8]) -> Result<&[f32], Failure> {
    bytemuck::try_cast_slice(bytes)
        .map_err(|_| Failure::Usage("a data file's length is not a multiple of 4 bytes"))
}

/// Not inlined: `main`'s frame holds none of this.
#[inline(never)]
fn run(arena: &'static mut [u8], weights_out: &'static mut [u8]) -> Result<(), Failure> {
    let region = free_flash().unwrap_or(&mut []);
    let (region, cmdline_buf) = region.split_at_mut(region.len().saturating_sub(CMDLINE_BYTES));
    let cmdline = sh::command_line(cmdline_buf).unwrap_or("");
    let mut words = cmdline.split_ascii_whitespace().skip(1);
    let (Some(blob_path), Some(config_path), Some(weights_path)) =
        (words.next(), words.next(), words.next())
    else {
        return Err(Failure::Usage(
            "the blob, the configuration and the weights file",
        ));
    };
    let mut data_paths: heapless::Vec<&str, { 4 * MAX_IO }> = heapless::Vec::new();
    for w in words {
        data_paths
            .push(w)
            .map_err(|_| Failure::Usage("too many data files"))?;
    }

    // The configuration, then the blob and the data, into flash.
    let capacity = region.len();
    let mut flash: &'static mut [u8] = region;
    let config_room = CONFIG_BYTES.min(flash.len());
    let (config_buf, rest) = core::mem::take(&mut flash).split_at_mut(config_room);
    flash = rest;
    let config_len =
        sh::read_file(config_path, config_buf).map_err(|e| Failure::Io("config", e))?;
    let config_text = core::str::from_utf8(&config_buf[..config_len])
        .map_err(|_| Failure::Config("not UTF-8 text", 0))?;
    let config = parse_config(config_text)?;
    let blob = read_into("blob", blob_path, &mut flash)?;
    println!(
        "kiln-fit: blob {blob_path}: {} bytes in flash at {:#010x} ({capacity} bytes free)",
        blob.len(),
        blob.as_ptr() as usize
    );
    let model: Model = kiln::format::load::<Fixed<MAX_LAYERS>>(blob)?;
    let (inputs, outputs) = (model.input_nodes().len(), model.output_nodes().len());
    let per_set = inputs + outputs;
    let validation = match data_paths.len() {
        n if n == per_set => false,
        n if n == 2 * per_set => true,
        _ => {
            println!(
                "kiln-fit: the model has {inputs} inputs and {outputs} outputs, {} data files given",
                data_paths.len()
            );
            return Err(Failure::Usage(
                "one X per input and one Y per output (and as many for validation)",
            ));
        }
    };
    if inputs > MAX_IO || outputs > MAX_IO {
        return Err(Failure::Too("model inputs/outputs", per_set, 2 * MAX_IO));
    }
    let mut sets: heapless::Vec<&[f32], { 4 * MAX_IO }> = heapless::Vec::new();
    for &path in &data_paths {
        let room = flash.len();
        let bytes = read_into("data", path, &mut flash)?;
        println!(
            "kiln-fit: {path}: {} values ({room} bytes of flash were free)",
            bytes.len() / 4
        );
        let _ = sets.push(floats(bytes)?);
    }
    let (x, rest) = sets.split_at(inputs);
    let (y, rest) = rest.split_at(outputs);
    let validation = validation.then(|| {
        let (vx, vy) = rest.split_at(inputs);
        Data { x: vx, y: vy }
    });

    let weight_len = model.weights().len();
    if weight_len > weights_out.len() {
        return Err(Failure::Too(
            "RAM for the trained weights (bytes)",
            weight_len,
            weights_out.len(),
        ));
    }
    let plan = model.train_plan(&config.compile)?;
    println!(
        "kiln-fit: training arena {} bytes (TRAIN_ARENA_BYTES {}), lower bound {} bytes",
        arena.len(),
        plan.train_arena_bytes(),
        plan.lower_bound()
    );
    println!(
        "kiln-fit:   trainable weights {}, their gradients {}, optimizer slots {}; activations {}, their gradients {}, scratch {}",
        plan.trainable_bytes(),
        plan.gradient_bytes(),
        plan.slot_bytes(),
        plan.activation_bytes(),
        plan.activation_gradient_bytes(),
        plan.scratch_bytes()
    );
    let compile = config.compile.clone();
    let options = config.options;
    let mark = stack_mark();
    let mut trainer = model.compile(config.compile, arena)?;
    let compile_stack = stack_used_since(mark);

    let mut progress = Progress {
        graph: &model,
        compile: &compile,
        epochs: options.epochs,
        steps: 0,
        mark: stack_mark(),
        fit_stack: 0,
    };
    kiln_marker_start();
    let result = trainer.fit(x, y, &options, validation, &mut progress);
    kiln_marker_end();
    let fit_stack = progress.fit_stack.max(stack_used_since(progress.mark));
    println!("kiln-fit: steps {}", trainer.iterations());
    println!("kiln-fit: stack: compile {compile_stack}, fit {fit_stack} bytes (the epoch lines' printing left out)");
    result?;

    let weights = &mut weights_out[..weight_len];
    trainer.write_weights(weights)?;
    sh::write_file(weights_path, weights).map_err(|e| Failure::Io("weights", e))?;
    println!("kiln-fit: wrote {weight_len} bytes of weights to {weights_path}");
    Ok(())
}

#[entry]
fn main() -> ! {
    // cortex-m-rt hands the entry function a `&'static mut` to each `static mut` declared
    // first in it: the training arena, exactly TRAIN_ARENA_BYTES, and the room for the
    // trained weights live in .bss.
    static mut ARENA: [u8; TRAIN_ARENA_BYTES] = [0; TRAIN_ARENA_BYTES];
    static mut WEIGHTS: [u8; WEIGHT_BYTES] = [0; WEIGHT_BYTES];
    println!("kiln-fit: board {BOARD}, {CPU}");
    let result = run(ARENA, WEIGHTS);
    if stack_overflowed() {
        println!(
            "kiln-fit: error: the stack overflowed into the statics (it has {} bytes on the {BOARD})",
            stack_size()
        );
        exit(3)
    }
    match result {
        Ok(()) => {
            println!("kiln-fit: stack {} bytes used at most", stack_high_water());
            println!("kiln-fit: ok");
            exit(0)
        }
        Err(e) => {
            println!("kiln-fit: error: {e}");
            exit(match e {
                Failure::Io(..) | Failure::Too(..) => 2,
                _ => 1,
            })
        }
    }
}
