//! `kiln`: inspect and run Keras models from the command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kiln::{Shape, SummaryOptions};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use std::io::Write;
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
        /// A Keras 3 `.keras` archive or a `model.to_json()` file.
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
    /// Run the model on float32 .npy inputs, as Keras's model.predict().
    Predict {
        /// A Keras 3 `.keras` archive (weights are needed).
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

fn predict(model: &PathBuf, inputs: &[PathBuf], outputs: &[PathBuf]) -> Result<()> {
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
