//! `kiln run --qemu`: the model on an emulated board, with the inputs `kiln predict` takes.

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln_host::load::load_model_with;
use kiln_host::qemu::{self, Board, RunInput, RunnerBuild};
use std::path::{Path, PathBuf};

pub fn run(
    board: &str,
    model: &Path,
    input: &[PathBuf],
    output: &[PathBuf],
    (all_ops, kiln_features): (bool, &[String]),
    flavor: kiln::ops::int8::Flavor,
    out: &mut Out,
) -> Result<()> {
    const EXTRA: &[&str] = &["fast-math"];
    if let Some(f) = kiln_features.iter().find(|f| !EXTRA.contains(&f.as_str())) {
        bail!(
            "--kiln-features takes {}, not {f:?} (the op families follow from the model)",
            EXTRA.join(", ")
        );
    }
    let Some(board) = Board::parse(board) else {
        bail!("--qemu takes m4 (mps2-an386, Cortex-M4F), m3 (lm3s6965evb, Cortex-M3) or m0 (microbit, Cortex-M0), not {board:?}");
    };
    let mut reads = vec![("the model", model)];
    reads.extend(input.iter().map(|p| ("an --input", p.as_path())));
    let writes: Vec<(&str, &Path)> = output.iter().map(|p| ("--output", p.as_path())).collect();
    crate::paths::check_outputs(&reads, &writes)?;

    let bytes = kiln_host::formats::file::read(model)?;
    let host = if kiln_host::blob::is_blob(&bytes) {
        kiln_host::blob::decode(&bytes)
            .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?
    } else {
        load_model_with(model, flavor)?
    };
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); run needs a .keras archive or a .kiln blob",
            model.display()
        );
    }
    let graph = host
        .graph()
        .map_err(|e| crate::predict::blame(e, model, input))?;
    let outputs_of_model = graph.output_nodes().len();
    if !output.is_empty() && output.len() != outputs_of_model {
        bail!(
            "{}: the model has {outputs_of_model} output(s) but {} --output file(s) were given",
            model.display(),
            output.len()
        );
    }
    let inputs = crate::predict::read_inputs(model, input, graph.input_nodes().len())?;
    // What predict would refuse is refused here, with the same message, before any build.
    graph
        .plan(Some(&inputs.shapes))
        .map_err(|e| crate::predict::blame(e, model, input))?;
    let blob = if kiln_host::blob::is_blob(&bytes) {
        bytes
    } else {
        kiln_host::blob::encode(&host).with_context(|| model.display().to_string())?
    };
    // An int8 model runs on int8: float32 inputs are quantized here, as `kiln predict`
    // does, and its outputs dequantized.
    let io = crate::predict::Io::of(&graph, model)?;
    let shapes: Vec<Vec<usize>> = inputs.arrays.iter().map(|a| a.shape.clone()).collect();
    let (values, raw) = io.inputs(inputs.arrays, input)?;
    let run_inputs: Vec<RunInput> = values
        .into_iter()
        .zip(shapes)
        .map(|(data, shape)| RunInput { shape, data })
        .collect();

    let mut build = if all_ops {
        RunnerBuild::all_ops()
    } else {
        RunnerBuild::for_model(&graph)
    };
    build.extra = kiln_features.to_vec();
    let report = qemu::run(board, &build, &blob, &run_inputs)
        .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?;
    out.text(&report.log)?;
    out.line(format_args!(
        "kiln run: prepare executed {} instructions on {}",
        report.prepare_instructions,
        board.name()
    ))?;
    out.line(format_args!(
        "kiln run: predict executed {} instructions on {} ({}); runner flash {} bytes + blob {} bytes",
        report.predict_instructions,
        board.name(),
        board.machine(),
        report.runner_flash,
        blob.len()
    ))?;
    out.line(format_args!(
        "kiln run: engine .text {} bytes, engine stack {} bytes",
        report.engine_text, report.engine_stack
    ))?;
    if !output.is_empty() && report.outputs.len() != output.len() {
        bail!(
            "{}: the runner gave {} outputs, {} --output files were given",
            model.display(),
            report.outputs.len(),
            output.len()
        );
    }
    for (j, (path, (shape, data))) in output.iter().zip(report.outputs).enumerate() {
        crate::predict::write_npy(path, &shape, &io.output(j, data, raw))?;
        out.line(format_args!("kiln run: wrote {}", path.display()))?;
    }
    Ok(())
}
