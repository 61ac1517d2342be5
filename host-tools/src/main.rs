//! `kiln`: inspect and run Keras models from the command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kiln::{Shape, SummaryOptions};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use std::io::Write;
use std::path::{Path, PathBuf};
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
        /// A Keras 3 `.keras` archive, a `model.to_json()` file or a `.kiln` blob.
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
        /// A Keras 3 `.keras` archive or a `.kiln` blob.
        model: PathBuf,
        /// Where to write the blob.
        #[arg(short, long)]
        output: PathBuf,
        /// Also write Rust source declaring ARENA_BYTES, the I/O sizes and the blob.
        #[arg(long)]
        rust: Option<PathBuf>,
    },
    /// Run the model on an emulated Cortex-M under QEMU (generic runner firmware), print
    /// the outputs, the arena and flash used and the instructions predict executed.
    Run {
        /// `m4` (mps2-an386, Cortex-M4F) or `m3` (lm3s6965evb, Cortex-M3, soft float).
        #[arg(long, value_name = "BOARD")]
        qemu: String,
        /// A `.kiln` blob or a `.keras` archive (exported first).
        model: PathBuf,
        /// One .npy per model input, in model.inputs order; the first axis is the batch.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// One .npy per model output, in model.outputs order.
        #[arg(long)]
        output: Vec<PathBuf>,
    },
    /// Check a .kiln blob and show what is in it: layers, flash and arena bytes, checksum.
    Inspect {
        /// A `.kiln` blob.
        model: PathBuf,
    },
    /// Run the model on float32 .npy inputs, as Keras's model.predict().
    Predict {
        /// A Keras 3 `.keras` archive or a `.kiln` blob (weights are needed).
        model: PathBuf,
        /// One .npy per model input, in model.inputs order; the first axis is the batch.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// One .npy per model output, in model.outputs order. Without it the outputs are
        /// printed.
        #[arg(long)]
        output: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
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
            let mut out = String::new();
            host.structure()
                .summary(&options, &mut |line| {
                    out.push_str(&line.to_string());
                    out.push('\n');
                })
                .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
            std::io::stdout().write_all(out.as_bytes())?;
            Ok(())
        }
        Command::Predict {
            model,
            input,
            output,
        } => predict(&model, &input, &output),
        Command::Export {
            model,
            output,
            rust,
        } => export(&model, &output, rust.as_deref()),
        Command::Inspect { model } => inspect(&model),
        Command::Run {
            qemu,
            model,
            input,
            output,
        } => run_qemu(&qemu, &model, &input, &output),
    }
}

/// `kiln run --qemu`: the firmware runner lives in this repository's `firmware-examples/`
/// (set `KILN_FIRMWARE` to use another checkout); its script builds the runner, exports the
/// model, runs QEMU with the instruction-counting plugin and converts the outputs.
fn run_qemu(board: &str, model: &Path, inputs: &[PathBuf], outputs: &[PathBuf]) -> Result<()> {
    if !matches!(board, "m4" | "m3") {
        bail!("--qemu takes m4 (mps2-an386, Cortex-M4F) or m3 (lm3s6965evb, Cortex-M3), not {board:?}");
    }
    let firmware = std::env::var_os("KILN_FIRMWARE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware-examples"));
    let script = firmware.join("scripts/run-model.sh");
    if !script.exists() {
        bail!("{}: the runner firmware is not there (set KILN_FIRMWARE to a kiln checkout's firmware-examples)", script.display());
    }
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(&script).arg(board).arg(model);
    for input in inputs {
        cmd.arg("--input").arg(input);
    }
    for out in outputs {
        cmd.arg("--output").arg(out);
    }
    cmd.env("KILN", std::env::current_exe()?);
    let status = cmd
        .status()
        .with_context(|| format!("{}: cannot run", script.display()))?;
    if !status.success() {
        bail!("{}: the run on QEMU failed ({status})", model.display());
    }
    Ok(())
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

fn predict(model: &Path, inputs: &[PathBuf], outputs: &[PathBuf]) -> Result<()> {
    let host = load_model(model)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); predict needs a .keras archive",
            model.display()
        );
    }
    let graph = host.graph().with_context(|| model.display().to_string())?;
    let n_in = graph.input_nodes().len();
    let n_out = graph.output_nodes().len();
    if inputs.len() != n_in {
        bail!(
            "{}: the model has {n_in} input(s) but {} --input file(s) were given",
            model.display(),
            inputs.len()
        );
    }
    if !outputs.is_empty() && outputs.len() != n_out {
        bail!(
            "{}: the model has {n_out} output(s) but {} --output file(s) were given",
            model.display(),
            outputs.len()
        );
    }
    let arrays = inputs
        .iter()
        .map(npy::read_f32)
        .collect::<Result<Vec<_>, _>>()?;
    let mut shapes = Vec::new();
    for (path, array) in inputs.iter().zip(&arrays) {
        let dims: Vec<Option<u32>> = array.shape.iter().map(|&d| u32::try_from(d).ok()).collect();
        let shape = Shape::new(&dims).with_context(|| {
            format!(
                "{}: rank {} is above kiln's limit",
                path.display(),
                dims.len()
            )
        })?;
        shapes.push(shape);
    }
    let batch = arrays
        .first()
        .and_then(|a| a.shape.first().copied())
        .unwrap_or(0);
    for (path, array) in inputs.iter().zip(&arrays) {
        if array.shape.first().copied() != Some(batch) {
            bail!(
                "{}: batch size {:?} differs from the first input's {batch}",
                path.display(),
                array.shape.first()
            );
        }
    }
    let plan = graph
        .plan(Some(&shapes))
        .with_context(|| inputs[0].display().to_string())?;
    let sample_shapes = graph.sample_shapes(Some(&shapes))?;
    // Sizes come from the files: refuse what this machine should not try to allocate.
    const LIMIT: usize = 4 << 30;
    let output_values: usize = graph
        .output_nodes()
        .iter()
        .map(|&n| {
            sample_shapes[n as usize]
                .sample_elements()
                .unwrap_or(0)
                .saturating_mul(batch)
        })
        .fold(0, usize::saturating_add);
    if plan.arena_bytes() > LIMIT || output_values > LIMIT / 4 {
        bail!(
            "{}: running this model needs {} bytes of arena and {} output values, more than kiln predict allocates ({LIMIT} bytes)",
            model.display(),
            plan.arena_bytes(),
            output_values
        );
    }
    let mut buffers: Vec<Vec<f32>> = graph
        .output_nodes()
        .iter()
        .map(|&n| vec![0.0; sample_shapes[n as usize].sample_elements().unwrap_or(0) * batch])
        .collect();
    let mut arena = vec![0u8; plan.arena_bytes()];
    {
        let input_slices: Vec<&[f32]> = arrays.iter().map(|a| a.data.as_slice()).collect();
        let mut output_slices: Vec<&mut [f32]> =
            buffers.iter_mut().map(|b| b.as_mut_slice()).collect();
        graph
            .predict_with_shapes(Some(&shapes), &input_slices, &mut output_slices, &mut arena)
            .with_context(|| format!("{}: predict", model.display()))?;
    }
    for (j, data) in buffers.iter().enumerate() {
        let node = graph.output_nodes()[j] as usize;
        let mut dims = vec![batch];
        dims.extend(
            sample_shapes[node]
                .dims()
                .iter()
                .skip(1)
                .map(|d| d.unwrap_or(0) as usize),
        );
        match outputs.get(j) {
            Some(path) => npy::write_f32(path, &dims, data)?,
            None => print_array(j, &dims, data),
        }
    }
    Ok(())
}

fn export(model: &Path, output: &Path, rust: Option<&Path>) -> Result<()> {
    let host = load_model(model)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); export needs a .keras archive",
            model.display()
        );
    }
    let blob = kiln_host::blob::encode(&host).with_context(|| model.display().to_string())?;
    std::fs::write(output, &blob).with_context(|| output.display().to_string())?;
    let weights = host.weights().len() * 4;
    println!(
        "wrote {}: {} bytes ({} of graph, {} of weights)",
        output.display(),
        blob.len(),
        blob.len() - weights,
        weights
    );
    match host.structure().plan(None) {
        Ok(plan) => println!(
            "arena: {} bytes (lower bound {} for this execution order)",
            plan.arena_bytes(),
            plan.lower_bound_bytes()
        ),
        Err(e) => println!("arena: depends on the input shape ({e})"),
    }
    if let Some(rust) = rust {
        // include_bytes! resolves relative to the .rs file: point at the blob from there.
        let blob_path = std::fs::canonicalize(output)?;
        let rust_dir = rust
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(std::fs::canonicalize)
            .transpose()?;
        let file = match (rust_dir, blob_path.parent()) {
            (Some(dir), Some(parent)) if dir == parent => blob_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            _ => blob_path.to_string_lossy().into_owned(),
        };
        let source = kiln_host::blob::rust_source(&host, &blob, &file).with_context(|| {
            format!(
                "{}: the generated Rust needs known input shapes",
                model.display()
            )
        })?;
        std::fs::write(rust, source).with_context(|| rust.display().to_string())?;
        println!("wrote {}", rust.display());
    }
    Ok(())
}

fn inspect(model: &Path) -> Result<()> {
    let bytes = std::fs::read(model).with_context(|| model.display().to_string())?;
    if !kiln_host::blob::is_blob(&bytes) {
        bail!(
            "{}: not a kiln blob (kiln inspect reads .kiln files; see kiln summary for .keras)",
            model.display()
        );
    }
    let host = kiln_host::blob::decode(&bytes).with_context(|| model.display().to_string())?;
    let graph = host.structure();
    let crc = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    println!(
        "{}: kiln blob version {}, checksum ok (crc32 {crc:#010x})",
        model.display(),
        kiln::format::VERSION
    );
    println!(
        "model \"{}\": {} layers, {} parameters",
        graph.name(),
        graph.visible_layers().count(),
        graph.count_params()
    );
    for id in graph.visible_layers() {
        let layer = graph.layer(id).expect("visible layers exist");
        let shape = graph
            .last_node(id)
            .map(|n| n.shape.to_string())
            .unwrap_or_else(|| "?".into());
        println!(
            "  {:<32} {:<24} {:>10}",
            format!("{} ({})", layer.name, layer.class_name()),
            shape,
            graph.layer_param_count(id).unwrap_or(0)
        );
    }
    let weights = host.weights().len() * 4;
    println!(
        "flash: {} bytes = {} of weights + {} of graph and header",
        bytes.len(),
        weights,
        bytes.len() - weights
    );
    match graph.plan(None) {
        Ok(plan) => println!(
            "arena: {} bytes, lower bound {} bytes ({} f32 values live at once at most)",
            plan.arena_bytes(),
            plan.lower_bound_bytes(),
            plan.lower_bound
        ),
        Err(e) => println!("arena: depends on the input shape ({e})"),
    }
    Ok(())
}

/// Prints one output: its shape, then one line per sample.
fn print_array(index: usize, dims: &[usize], data: &[f32]) {
    let shape: Vec<String> = dims.iter().map(ToString::to_string).collect();
    println!("output {index}: shape ({})", shape.join(", "));
    let per_sample = dims.iter().skip(1).product::<usize>().max(1);
    for row in data.chunks(per_sample) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        println!("[{}]", values.join(", "));
    }
}
