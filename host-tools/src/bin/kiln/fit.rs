//! `kiln fit` and `kiln evaluate`: Keras's `fit` and `evaluate` on `.npy` data, with the
//! core's trainer (the arithmetic a device runs).

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln::train::{
    Adam, Callback, Data, EpochLogs, FitOptions, Logs, Loss, Metric, Optimizer, Sgd,
};
use kiln_host::formats::keras_archive::{open_model_file, ModelFile};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use kiln_host::train::{self, CompileConfig};
use kiln_host::HostGraph;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod qemu;

/// What `compile()` gets from the command line; anything given overrides the model
/// file's compile_config.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct CompileFlags {
    /// One loss per model output, in the model's output order (mean_squared_error, mse,
    /// mean_absolute_error, mae, categorical_crossentropy,
    /// sparse_categorical_crossentropy, binary_crossentropy).
    #[arg(long)]
    pub loss: Vec<String>,
    /// The cross-entropy losses take logits (Keras's from_logits=True).
    #[arg(long)]
    pub from_logits: bool,
    /// Keras's loss_weights, one per output, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub loss_weights: Vec<f32>,
    /// The optimizer: sgd or adam.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// The learning_rate (Keras's default 0.01 for SGD, 0.001 for Adam).
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// Adam's beta_1 (default 0.9).
    #[arg(long)]
    pub beta_1: Option<f32>,
    /// Adam's beta_2 (default 0.999).
    #[arg(long)]
    pub beta_2: Option<f32>,
    /// Adam's epsilon (default 1e-7).
    #[arg(long)]
    pub epsilon: Option<f32>,
    /// SGD's momentum.
    #[arg(long)]
    pub momentum: Option<f32>,
    /// SGD's nesterov.
    #[arg(long)]
    pub nesterov: bool,
    /// The optimizer's weight_decay (SGD and Adam).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Metrics on every output: accuracy, mae, mse (also binary_accuracy,
    /// categorical_accuracy, sparse_categorical_accuracy); comma-separated or repeated.
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
}

/// `kiln fit`'s data and options.
pub struct FitArgs<'a> {
    pub model: &'a Path,
    pub x: &'a [PathBuf],
    pub y: &'a [PathBuf],
    pub compile: &'a CompileFlags,
    pub batch_size: usize,
    pub epochs: usize,
    pub shuffle: bool,
    pub seed: u64,
    pub validation_x: &'a [PathBuf],
    pub validation_y: &'a [PathBuf],
    pub output: &'a Path,
    pub history: Option<&'a Path>,
    pub plot: Option<&'a Path>,
    /// `--qemu`: the board to train on (`None`: the host).
    pub qemu: Option<&'a str>,
}

/// The model, and the compile configuration from its file and the flags.
pub fn compiled(
    model: &Path,
    flags: &CompileFlags,
) -> Result<(HostGraph, CompileConfig, Vec<String>)> {
    compiled_for(model, flags, true)
}

/// [`compiled`]; for sizing a training arena (`need_loss` false), outputs without a loss
/// get mean_squared_error: the loss does not change the arena.
pub fn compiled_for(
    model: &Path,
    flags: &CompileFlags,
    need_loss: bool,
) -> Result<(HostGraph, CompileConfig, Vec<String>)> {
    let host = load_model(model)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); training needs a .keras archive or a .kiln blob",
            model.display()
        );
    }
    let outputs = train::output_names(&host);
    let from_file = match open_model_file(model) {
        Ok(ModelFile::Archive(archive)) => CompileConfig::from_keras(&archive.config, &outputs)
            .with_context(|| format!("{}: compile_config", model.display()))?,
        _ => None,
    };
    let mut config = from_file.unwrap_or(CompileConfig {
        optimizer: Optimizer::Sgd(Sgd::default()),
        losses: Vec::new(),
        loss_weights: Vec::new(),
        metrics: vec![Vec::new(); outputs.len()],
    });
    match flags
        .optimizer
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => {}
        Some("sgd") if !matches!(config.optimizer, Optimizer::Sgd(_)) => {
            config.optimizer = Optimizer::Sgd(Sgd::default());
        }
        Some("adam") if !matches!(config.optimizer, Optimizer::Adam(_)) => {
            config.optimizer = Optimizer::Adam(Adam::default());
        }
        Some("sgd" | "adam") => {}
        Some(other) => bail!("--optimizer {other}: kiln trains with sgd or adam"),
    }
    match &mut config.optimizer {
        Optimizer::Sgd(sgd) => {
            if flags.beta_1.is_some() || flags.beta_2.is_some() || flags.epsilon.is_some() {
                bail!("--beta-1, --beta-2 and --epsilon are Adam's (the optimizer is sgd)");
            }
            if let Some(lr) = flags.learning_rate {
                sgd.learning_rate = lr;
            }
            if let Some(m) = flags.momentum {
                sgd.momentum = m;
            }
            if flags.nesterov {
                sgd.nesterov = true;
            }
            if let Some(wd) = flags.weight_decay {
                sgd.weight_decay = wd;
            }
        }
        Optimizer::Adam(adam) => {
            if flags.momentum.is_some() || flags.nesterov {
                bail!("--momentum and --nesterov are SGD's (the optimizer is adam)");
            }
            if let Some(lr) = flags.learning_rate {
                adam.learning_rate = lr;
            }
            if let Some(b) = flags.beta_1 {
                adam.beta_1 = b;
            }
            if let Some(b) = flags.beta_2 {
                adam.beta_2 = b;
            }
            if let Some(e) = flags.epsilon {
                adam.epsilon = e;
            }
            if let Some(wd) = flags.weight_decay {
                adam.weight_decay = wd;
            }
        }
    }
    if !flags.loss.is_empty() {
        config.losses = flags
            .loss
            .iter()
            .map(|name| {
                Loss::from_keras_name(name, flags.from_logits)
                    .with_context(|| format!("--loss {name}: not a loss kiln has"))
            })
            .collect::<Result<_>>()?;
    } else if flags.from_logits {
        for loss in &mut config.losses {
            *loss = Loss::from_keras_name(loss.keras_name(), true).unwrap_or(*loss);
        }
    }
    if config.losses.is_empty() && !need_loss {
        config.losses = vec![Loss::MeanSquaredError; outputs.len()];
    }
    if config.losses.is_empty() {
        bail!(
            "{}: no loss: give --loss (one per output), or a .keras saved after compile()",
            model.display()
        );
    }
    if config.losses.len() != outputs.len() {
        bail!(
            "{}: the model has {} output(s) ({}) but {} loss(es) were given",
            model.display(),
            outputs.len(),
            outputs.join(", "),
            config.losses.len()
        );
    }
    if !flags.loss_weights.is_empty() {
        config.loss_weights = flags.loss_weights.clone();
    }
    if !flags.metrics.is_empty() {
        let metrics: Vec<Metric> = flags
            .metrics
            .iter()
            .map(|m| {
                Metric::from_keras_name(m)
                    .with_context(|| format!("--metrics {m}: not a metric kiln has"))
            })
            .collect::<Result<_>>()?;
        config.metrics = vec![metrics; outputs.len()];
    }
    Ok((host, config, outputs))
}

/// Reads one `.npy` per model input (or output), every one with the same samples.
fn read_all(
    files: &[PathBuf],
    expected: usize,
    what: &str,
    model: &Path,
) -> Result<(Vec<Vec<f32>>, usize)> {
    if files.len() != expected {
        bail!(
            "{}: the model has {expected} {what}(s) but {} {}file(s) were given",
            model.display(),
            files.len(),
            if what == "input" { "--x " } else { "--y " }
        );
    }
    let mut samples = None;
    let mut arrays = Vec::new();
    for file in files {
        let array = npy::read_f32(file)?;
        let n = *array
            .shape
            .first()
            .with_context(|| format!("{}: a 0-d array has no sample axis", file.display()))?;
        match samples {
            Some(first) if first != n => {
                bail!(
                    "{}: {n} samples, but the first file has {first}",
                    file.display()
                )
            }
            _ => samples = Some(n),
        }
        arrays.push(array.data);
    }
    Ok((arrays, samples.unwrap_or(0)))
}

/// Keras's `format_value` in the progress bar: 4 decimals, or scientific when tiny.
fn value(v: f32) -> String {
    if v.abs() > 1e-3 || v == 0.0 {
        format!("{v:.4}")
    } else {
        format!("{v:.4e}")
    }
}

/// ` - loss: … - accuracy: …`, as Keras's epoch lines.
fn log_line(config: &CompileConfig, outputs: &[String], logs: &EpochLogs) -> String {
    let mut line = String::new();
    for (prefix, logs) in [("", Some(&logs.train)), ("val_", logs.validation.as_ref())] {
        let Some(logs) = logs else { continue };
        for (key, v) in train::log_entries(config, outputs, logs) {
            line.push_str(&format!(" - {prefix}{key}: {}", value(v)));
        }
    }
    line
}

/// Prints Keras's epoch lines, under a progress bar on a terminal.
struct Progress<'c> {
    config: &'c CompileConfig,
    outputs: &'c [String],
    epochs: usize,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    steps: usize,
    lines: Vec<String>,
}

impl Callback for Progress<'_> {
    fn on_batch_end(&mut self, epoch: usize, step: usize, steps: usize, logs: &Logs) {
        self.steps = steps;
        if step == 0 {
            self.started = Instant::now();
            if std::io::stderr().is_terminal() {
                eprintln!("Epoch {}/{}", epoch + 1, self.epochs);
                let bar = indicatif::ProgressBar::new(steps as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{pos}/{len} {bar:20} {elapsed} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                self.bar = Some(bar);
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64 + 1);
            let entries = train::log_entries(self.config, self.outputs, logs);
            let msg: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", value(*v)))
                .collect();
            bar.set_message(format!("- {}", msg.join(" - ")));
        }
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &EpochLogs) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let elapsed = self.started.elapsed();
        let per_step = elapsed.as_secs_f64() * 1e3 / self.steps.max(1) as f64;
        self.lines
            .push(format!("Epoch {}/{}", epoch + 1, self.epochs));
        self.lines.push(format!(
            "{0}/{0} - {1}s - {per_step:.0}ms/step{2}",
            self.steps,
            elapsed.as_secs(),
            log_line(self.config, self.outputs, logs)
        ));
    }
}

pub fn fit(args: &FitArgs<'_>, out: &mut Out) -> Result<()> {
    let mut reads = vec![("the model", args.model)];
    reads.extend(args.x.iter().map(|p| ("an --x", p.as_path())));
    reads.extend(args.y.iter().map(|p| ("a --y", p.as_path())));
    let mut writes = vec![("-o", args.output)];
    writes.extend(args.history.map(|p| ("--history", p)));
    writes.extend(args.plot.map(|p| ("--plot", p)));
    crate::paths::check_outputs(&reads, &writes)?;
    let keras_out = match args.output.extension().and_then(|e| e.to_str()) {
        Some("kiln") => false,
        Some("keras") => true,
        _ => bail!("{}: -o must end in .kiln or .keras", args.output.display()),
    };
    let (host, config, outputs) = compiled(args.model, args.compile)?;
    let graph = host.structure();
    let (x, n) = read_all(args.x, graph.input_nodes().len(), "input", args.model)?;
    let (y, ny) = read_all(args.y, outputs.len(), "output", args.model)?;
    if n != ny {
        bail!(
            "{}: {ny} target samples for {n} input samples",
            args.y[0].display()
        );
    }
    let validation = if args.validation_x.is_empty() && args.validation_y.is_empty() {
        None
    } else {
        let (vx, _) = read_all(
            args.validation_x,
            graph.input_nodes().len(),
            "input",
            args.model,
        )?;
        let (vy, _) = read_all(args.validation_y, outputs.len(), "output", args.model)?;
        Some((vx, vy))
    };
    let options = FitOptions {
        batch_size: args.batch_size,
        epochs: args.epochs,
        shuffle: args.shuffle,
        seed: args.seed,
    };
    let xs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let ys: Vec<&[f32]> = y.iter().map(Vec::as_slice).collect();
    let vs = validation
        .as_ref()
        .map(|(vx, vy)| -> (Vec<&[f32]>, Vec<&[f32]>) {
            (
                vx.iter().map(Vec::as_slice).collect(),
                vy.iter().map(Vec::as_slice).collect(),
            )
        });
    let mut progress = Progress {
        config: &config,
        outputs: &outputs,
        epochs: args.epochs,
        bar: None,
        started: Instant::now(),
        steps: 0,
        lines: Vec::new(),
    };
    let result = qemu::fit(
        args.qemu,
        &host,
        &config,
        Data { x: &xs, y: &ys },
        &options,
        vs.as_ref().map(|(x, y)| Data { x, y }),
        &mut progress,
    );
    for line in &progress.lines {
        out.line(line)?;
    }
    let fitted =
        result.map_err(|e| anyhow::Error::new(e).context(args.model.display().to_string()))?;
    // Everything is made before anything is written; each file is written whole (a
    // temporary file renamed over it), so a failure leaves the previous ones intact.
    let history = train::history(&config, &outputs, &fitted.epochs);
    if keras_out {
        write_keras(args.model, &fitted, args.output)?;
    } else {
        let blob = kiln_host::blob::encode(&fitted.model)
            .with_context(|| args.model.display().to_string())?;
        write_whole(args.output, &blob)?;
    }
    out.line(format_args!(
        "wrote {} ({} steps, {} epochs)",
        args.output.display(),
        fitted.iterations,
        fitted.epochs.len()
    ))?;
    if let Some(path) = args.history {
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(history.clone()))?;
        write_whole(path, text.as_bytes())?;
        out.line(format_args!("wrote {}", path.display()))?;
    }
    if let Some(path) = args.plot {
        let svg = crate::plot::curves(&history)?;
        write_whole(path, svg.as_bytes())?;
        out.line(format_args!("wrote {}", path.display()))?;
    }
    Ok(())
}

/// `-o trained.keras`: the model's `.keras` (config and metadata as they were) with the
/// trained weights and the optimizer's state, as Keras saves them after `fit`.
fn write_keras(model: &Path, fitted: &train::Fitted, output: &Path) -> Result<()> {
    if !matches!(open_model_file(model), Ok(ModelFile::Archive(_))) {
        bail!(
            "{}: -o {} needs the model to be a .keras archive (its config is written with the new weights); write a .kiln blob instead",
            model.display(),
            output.display()
        );
    }
    let weights = fitted
        .model
        .weights_f32()
        .with_context(|| format!("{}: a .keras holds float32 weights only", output.display()))?;
    kiln_host::formats::keras_writer::write_keras(model, weights, &fitted.optimizer, output)
        .with_context(|| output.display().to_string())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.kiln-tmp-{}", std::process::id()));
    std::fs::write(&temp, bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("{}: cannot write", path.display()))
}

pub fn evaluate(
    model: &Path,
    x: &[PathBuf],
    y: &[PathBuf],
    flags: &CompileFlags,
    batch_size: usize,
    out: &mut Out,
) -> Result<()> {
    let (host, config, outputs) = compiled(model, flags)?;
    let (xv, n) = read_all(x, host.structure().input_nodes().len(), "input", model)?;
    let (yv, ny) = read_all(y, outputs.len(), "output", model)?;
    if n != ny {
        bail!(
            "{}: {ny} target samples for {n} input samples",
            y[0].display()
        );
    }
    let xs: Vec<&[f32]> = xv.iter().map(Vec::as_slice).collect();
    let ys: Vec<&[f32]> = yv.iter().map(Vec::as_slice).collect();
    let logs = train::evaluate(&host, &config, Data { x: &xs, y: &ys }, batch_size)
        .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?;
    for (key, v) in train::log_entries(&config, &outputs, &logs) {
        out.line(format_args!("{key}: {v}"))?;
    }
    Ok(())
}

pub fn stack(backbone: &Path, head: &Path, output: &Path, out: &mut Out) -> Result<()> {
    crate::paths::check_outputs(
        &[("the backbone", backbone), ("the head", head)],
        &[("-o", output)],
    )?;
    let b = load_model(backbone)?;
    let h = load_model(head)?;
    let model = kiln_host::stack::stack(&b, &h)
        .with_context(|| format!("{} + {}", backbone.display(), head.display()))?;
    let blob = kiln_host::blob::encode(&model)?;
    write_whole(output, &blob)?;
    // The loss does not change what trains: one per output, for the plan.
    let outputs = model.structure().output_nodes().len();
    let compile = (0..outputs).fold(kiln::train::Compile::new(Sgd::default()), |c, _| {
        c.loss(Loss::MeanSquaredError)
    });
    let trainable = model
        .structure()
        .train_plan(&compile)
        .map(|p| p.trainable_bytes())
        .unwrap_or(0);
    out.line(format_args!(
        "wrote {}: {} bytes; the backbone is frozen, {trainable} bytes of the head's weights train",
        output.display(),
        blob.len()
    ))?;
    Ok(())
}
