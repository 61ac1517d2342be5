//! `kiln fit --qemu`: kiln's `fit` on an emulated Cortex-M, through the training runner
//! firmware (`firmware-examples/src/bin/fit_runner.rs`).
//!
//! The runner is built with the model's op families, kiln's `training`, and its statics
//! sized for this model and compile configuration (`KILN_TRAIN_ARENA_BYTES`: the plan's
//! `train_arena_bytes()`; `KILN_TRAIN_WEIGHT_BYTES`: the weight buffer). The blob, the
//! compile configuration (the `kiln-fit 1` text the runner documents: floats as their
//! bits) and the data go to the firmware as semihosting files; it prints Keras's epoch
//! lines and each epoch's logs as bits, and writes the whole trained weight buffer back.

use super::{elf_facts, tempdir, Board, Firmware, RunError, RunnerBuild, Setup};
use crate::model::HostGraph;
use crate::train::CompileConfig;
use kiln::train::{Data, EpochLogs, FitOptions, Logs, Optimizer};
use std::fmt::Write as _;

/// What a training run on the board gave back.
#[derive(Debug)]
pub struct FitReport {
    /// Everything the firmware printed (its epoch lines among it).
    pub log: String,
    /// The model's whole weight buffer after training, as the device wrote it.
    pub weights: Vec<u8>,
    /// Every epoch's logs, from the bits the device printed.
    pub epochs: Vec<EpochLogs>,
    /// The optimizer steps `fit` applied (Keras's `iterations`).
    pub iterations: u64,
    /// Guest instructions of `fit` (the printing of the epoch lines left out).
    pub fit_instructions: u64,
    /// Bytes of the static training arena (the plan's `TRAIN_ARENA_BYTES`).
    pub arena_bytes: usize,
    /// Bytes of RAM the trained weights are written into (the model's weight buffer).
    pub weight_buffer_bytes: usize,
    /// The stack `fit` used (the printing of the epoch lines left out) and `compile`'s.
    pub fit_stack: u64,
    pub compile_stack: u64,
    /// The deepest the stack went in the whole run (the printing included).
    pub stack_high_water: u64,
    /// Bytes of flash the program takes (the blob and the data not included).
    pub runner_flash: u64,
    /// Its `.text`.
    pub runner_text: u64,
    /// Its statics in RAM (`.data`, `.bss`: the arena and the weight buffer among them).
    pub runner_statics: u64,
}

impl FitReport {
    /// Instructions per SGD step: the fit's instructions over its steps.
    pub fn instructions_per_step(&self) -> u64 {
        self.fit_instructions / self.iterations.max(1)
    }
}

/// `f32` as the hex digits of its bits, as the `kiln-fit 1` format writes floats.
fn bits(v: f32) -> String {
    format!("{:08x}", v.to_bits())
}

/// The `kiln-fit 1` text for `config` and `options` (the format is documented in
/// `firmware-examples/src/bin/fit_runner.rs`). Its lines build the same `Compile` as
/// [`CompileConfig::compile`], call for call.
pub fn config_text(config: &CompileConfig, options: &FitOptions) -> String {
    let mut text = String::from("kiln-fit 1\n");
    let flag = |b: bool| if b { "1" } else { "0" };
    let _ = match &config.optimizer {
        Optimizer::Sgd(sgd) => writeln!(
            text,
            "sgd {} {} {} {}",
            bits(sgd.learning_rate),
            bits(sgd.momentum),
            flag(sgd.nesterov),
            bits(sgd.weight_decay)
        ),
        Optimizer::Adam(adam) => writeln!(
            text,
            "adam {} {} {} {} {}",
            bits(adam.learning_rate),
            bits(adam.beta_1),
            bits(adam.beta_2),
            bits(adam.epsilon),
            bits(adam.weight_decay)
        ),
    };
    for loss in &config.losses {
        let _ = writeln!(
            text,
            "loss {} {}",
            loss.keras_name(),
            flag(loss.from_logits())
        );
    }
    if !config.loss_weights.is_empty() {
        let weights: Vec<String> = config.loss_weights.iter().map(|&w| bits(w)).collect();
        let _ = writeln!(text, "loss_weights {}", weights.join(" "));
    }
    for (k, metrics) in config.metrics.iter().enumerate() {
        for m in metrics {
            let _ = writeln!(text, "metric {k} {}", m.keras_name());
        }
    }
    let _ = writeln!(
        text,
        "fit {} {} {} {}",
        options.batch_size,
        options.epochs,
        flag(options.shuffle),
        options.seed
    );
    text
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Runs `fit` of `host` compiled with `config` on `board`, on `data` (and `validation`),
/// with a training runner built for this model.
pub fn fit(
    board: Board,
    host: &HostGraph,
    config: &CompileConfig,
    data: Data<'_>,
    options: &FitOptions,
    validation: Option<Data<'_>>,
) -> Result<FitReport, RunError> {
    if board == Board::M0 {
        return Err(RunError::TooLarge(
            "kiln fit --qemu runs on m4 (mps2-an386) and m3 (lm3s6965evb); the m0's 16 KiB of RAM are not enough for the training runner".into(),
        ));
    }
    let graph = host.graph()?;
    let plan = graph.train_plan(&config.compile().batch_size(options.batch_size))?;
    let arena_bytes = plan.train_arena_bytes();
    let weight_bytes = graph.weights().len();
    let blob = crate::blob::encode(host)?;
    let build = RunnerBuild::for_model(&graph);
    let key = format!("{}-fit-a{arena_bytes}-w{weight_bytes}", build.key(board));
    // `train`: the firmware's feature for kiln's training and the training runner.
    let features = match build.cargo_features() {
        families if families.is_empty() => "train".to_string(),
        families => format!("train,{families}"),
    };
    let firmware = Firmware {
        what: "the training runner firmware",
        bin: "fit_runner",
        key,
        features,
        env: vec![
            (
                "KILN_RUNNER_MAX_LAYERS",
                build.max_layers.unwrap_or(1).to_string(),
            ),
            ("KILN_TRAIN_ARENA_BYTES", arena_bytes.to_string()),
            // At least 4 bytes: a zero-length static is fine, but keeps nothing to report.
            ("KILN_TRAIN_WEIGHT_BYTES", weight_bytes.max(4).to_string()),
        ],
    };

    let setup = Setup::new(board)?;
    let elf = setup.build(&firmware)?;
    let facts = elf_facts(&elf)?;
    let work = tempdir(&setup.cache)?;
    work.write("model.kiln", &blob)?;
    work.write("fit.cfg", config_text(config, options).as_bytes())?;
    let mut args = vec![
        "model.kiln".to_string(),
        "fit.cfg".to_string(),
        "weights.bin".to_string(),
    ];
    let mut sets = vec![("x", data.x), ("y", data.y)];
    if let Some(v) = &validation {
        sets.extend([("vx", v.x), ("vy", v.y)]);
    }
    for (stem, arrays) in sets {
        for (i, values) in arrays.iter().enumerate() {
            let name = format!("{stem}{i}.bin");
            work.write(&name, &f32_bytes(values))?;
            args.push(name);
        }
    }
    let (log, regions) = setup.run(&elf, &facts, &work, &args, "kiln-fit")?;
    let weights_file = work.0.join("weights.bin");
    let weights = std::fs::read(&weights_file)
        .map_err(|e| RunError::Qemu(format!("the training runner wrote no weights ({e})")))?;
    if weights.len() != weight_bytes {
        return Err(RunError::Qemu(format!(
            "the training runner wrote {} bytes of weights, the model has {weight_bytes}",
            weights.len()
        )));
    }
    let number = |prefix: &str, suffix: &str| -> Result<u64, RunError> {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix)?.split(suffix).next()?.parse().ok())
            .ok_or_else(|| {
                RunError::Qemu(format!(
                    "the training runner did not report {:?}",
                    prefix.trim_end()
                ))
            })
    };
    let iterations = number("kiln-fit: steps ", "\n")?;
    let stack_line = log
        .lines()
        .find_map(|l| l.strip_prefix("kiln-fit: stack: compile "))
        .and_then(|rest| {
            let (compile, rest) = rest.split_once(", fit ")?;
            let fit = rest.split(' ').next()?;
            Some((compile.parse().ok()?, fit.parse().ok()?))
        });
    let (compile_stack, fit_stack) = stack_line
        .ok_or_else(|| RunError::Qemu("the training runner did not report its stack".into()))?;
    let stack_high_water = number("kiln-fit: stack ", " ")?;
    Ok(FitReport {
        epochs: epoch_logs(&log)?,
        log,
        weights,
        iterations,
        fit_instructions: regions.iter().sum(),
        arena_bytes,
        weight_buffer_bytes: weight_bytes,
        fit_stack,
        compile_stack,
        stack_high_water,
        runner_flash: facts.flash,
        runner_text: facts.text,
        runner_statics: facts.statics,
    })
}

/// The epochs' logs from the runner's `kiln-fit: logs E train|val loss=… outputs=…
/// metrics=…` lines.
fn epoch_logs(log: &str) -> Result<Vec<EpochLogs>, RunError> {
    let bad = |line: &str| RunError::Qemu(format!("cannot read the runner's line {line:?}"));
    let mut epochs: Vec<EpochLogs> = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("kiln-fit: logs ") else {
            continue;
        };
        let mut words = rest.split(' ');
        let (Some(epoch), Some(what)) = (
            words.next().and_then(|e| e.parse::<usize>().ok()),
            words.next(),
        ) else {
            return Err(bad(line));
        };
        let mut field = |name: &str| -> Result<Vec<f32>, RunError> {
            let value = words
                .next()
                .and_then(|w| w.strip_prefix(name)?.strip_prefix('='))
                .ok_or_else(|| bad(line))?;
            if value == "-" {
                return Ok(Vec::new());
            }
            value
                .split(',')
                .map(|b| u32::from_str_radix(b, 16).map(f32::from_bits))
                .collect::<Result<_, _>>()
                .map_err(|_| bad(line))
        };
        let loss = field("loss")?;
        let outputs = field("outputs")?;
        let metrics = field("metrics")?;
        let logs = Logs {
            loss: *loss.first().ok_or_else(|| bad(line))?,
            output_losses: outputs.iter().copied().collect(),
            metrics: metrics.iter().copied().collect(),
        };
        if epochs.len() <= epoch {
            epochs.resize_with(epoch + 1, EpochLogs::default);
        }
        match what {
            "train" => epochs[epoch].train = logs,
            "val" => epochs[epoch].validation = Some(logs),
            _ => return Err(bad(line)),
        }
    }
    Ok(epochs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln::train::{Loss, Metric, Sgd};

    #[test]
    fn the_config_text_has_every_float_as_its_bits() {
        let config = CompileConfig {
            optimizer: Optimizer::Sgd(Sgd::new(0.05).momentum(0.9)),
            losses: vec![
                Loss::CategoricalCrossentropy { from_logits: false },
                Loss::MeanSquaredError,
            ],
            loss_weights: vec![1.0, 0.5],
            metrics: vec![vec![Metric::Accuracy], vec![Metric::Mae, Metric::Mse]],
        };
        let options = FitOptions {
            batch_size: 4,
            epochs: 2,
            shuffle: false,
            seed: 7,
        };
        assert_eq!(
            config_text(&config, &options),
            "kiln-fit 1\n\
             sgd 3d4ccccd 3f666666 0 00000000\n\
             loss categorical_crossentropy 0\n\
             loss mean_squared_error 0\n\
             loss_weights 3f800000 3f000000\n\
             metric 0 accuracy\n\
             metric 1 mae\n\
             metric 1 mse\n\
             fit 4 2 0 7\n"
        );
    }

    #[test]
    fn epoch_logs_are_read_back_from_their_bits() {
        let log = "Epoch 1/1\n3/3 - loss: 1.0143 - accuracy: 0.4000\n\
                   kiln-fit: logs 0 train loss=3f81d57c outputs=3f81d57c metrics=3ecccccd\n\
                   kiln-fit: logs 0 val loss=3f800000 outputs=- metrics=-\n";
        let epochs = epoch_logs(log).unwrap();
        assert_eq!(epochs.len(), 1);
        assert_eq!(epochs[0].train.loss.to_bits(), 0x3f81d57c);
        assert_eq!(
            epochs[0].train.metrics.as_slice(),
            &[f32::from_bits(0x3ecccccd)]
        );
        let val = epochs[0].validation.as_ref().unwrap();
        assert_eq!((val.loss, val.metrics.len()), (1.0, 0));
    }
}
