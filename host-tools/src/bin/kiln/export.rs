//! `kiln export`: a model as a `.kiln` blob for flashing, and the Rust that includes it.

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln_host::formats::npy;
use kiln_host::load::load_model_with;
use kiln_host::quantize::{self, Granularity, QuantizeError, QuantizeOptions, Ranges};
use kiln_host::HostGraph;
use std::path::{Path, PathBuf};

/// `--per-tensor`: which kernels get one scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PerTensor {
    /// Dense layers' kernels (convolutions stay per channel).
    Dense,
    /// Every kernel.
    All,
}

/// `--train` and what goes with it.
pub struct Train {
    pub batch_size: usize,
    pub compile: crate::fit::CompileFlags,
}

/// `--int8` and what goes with it.
pub struct Int8 {
    pub calibration: Vec<PathBuf>,
    pub per_tensor: Option<PerTensor>,
}

pub fn run(
    model: &Path,
    output: &Path,
    rust: Option<&Path>,
    flavor: kiln::ops::int8::Flavor,
    int8: Option<&Int8>,
    train: Option<&Train>,
    out: &mut Out,
) -> Result<()> {
    let mut writes = vec![("-o", output)];
    writes.extend(rust.map(|r| ("--rust", r)));
    let mut reads = vec![("the model", model)];
    if let Some(int8) = int8 {
        reads.extend(
            int8.calibration
                .iter()
                .map(|p| ("a --calibration", p.as_path())),
        );
    }
    crate::paths::check_outputs(&reads, &writes)?;
    let host = load_model_with(model, flavor)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); export needs a .keras archive",
            model.display()
        );
    }
    let host = match int8 {
        Some(int8) => quantize_model(&host, model, int8, flavor, out)?,
        None => host,
    };
    let training = match train {
        Some(train) => {
            let (_, config, _) = crate::fit::compiled_for(model, &train.compile, false)?;
            let plan = kiln_host::train::train_plan(&host, &config, train.batch_size)
                .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?;
            Some((plan, train.batch_size))
        }
        None => None,
    };
    for (_, path) in &writes {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                bail!(
                    "{}: cannot write: {} is not a directory",
                    path.display(),
                    dir.display()
                );
            }
        }
    }
    let blob = kiln_host::blob::encode(&host).with_context(|| model.display().to_string())?;
    // Everything is checked and made before anything is written, so a failure leaves no
    // blob without its constants.
    let source = match rust {
        Some(rust) => Some(rust_source(
            &host,
            &blob,
            output,
            rust,
            model,
            training.as_ref(),
        )?),
        None => None,
    };
    std::fs::write(output, &blob).with_context(|| format!("{}: cannot write", output.display()))?;
    let weights = host.weights().len();
    out.line(format_args!(
        "wrote {}: {} bytes ({} of graph, {} of weights)",
        output.display(),
        blob.len(),
        blob.len() - weights,
        weights
    ))?;
    match host.structure().plan(None) {
        Ok(plan) => out.line(format_args!(
            "arena: {} bytes (lower bound {} for this execution order)",
            plan.arena_bytes(),
            plan.lower_bound_bytes()
        ))?,
        Err(e) => out.line(format_args!("arena: depends on the input shape ({e})"))?,
    }
    if let Some((plan, batch)) = &training {
        for line in kiln_host::train::budget_lines(plan, *batch) {
            out.line(line)?;
        }
    }
    let features = kiln::ops::features(host.structure());
    out.line(format_args!(
        "kiln features: {} (firmware: kiln = {{ default-features = false, features = [\"format\"{}] }})",
        if features.is_empty() { "none".to_string() } else { features.join(", ") },
        features.iter().map(|f| format!(", \"{f}\"")).collect::<String>()
    ))?;
    if let Some(problem) = kiln::format::fixed_problem(host.structure()) {
        out.line(format_args!(
            "note: {problem}: on a device, load this blob into kiln::Heap (feature alloc), not kiln::Fixed"
        ))?;
    }
    if let (Some(rust), Some(source)) = (rust, source) {
        std::fs::write(rust, source)
            .with_context(|| format!("{}: cannot write", rust.display()))?;
        out.line(format_args!("wrote {}", rust.display()))?;
    }
    Ok(())
}

/// `--int8`: the model quantized with the calibration files, and what was done, printed.
fn quantize_model(
    host: &HostGraph,
    model: &Path,
    int8: &Int8,
    flavor: kiln::ops::int8::Flavor,
    out: &mut Out,
) -> Result<HostGraph> {
    let arrays = int8
        .calibration
        .iter()
        .map(npy::read_f32)
        .collect::<Result<Vec<_>, _>>()?;
    let weights = match int8.per_tensor {
        None => Granularity::PerChannel,
        Some(PerTensor::Dense) => Granularity::PerTensorDense,
        Some(PerTensor::All) => Granularity::PerTensor,
    };
    let options = QuantizeOptions {
        weights,
        ranges: Ranges::LikeConverter,
        flavor,
    };
    let q = quantize::quantize(host, &arrays, &options).map_err(|e| {
        // A calibration array's problem names its file; anything else, the model's.
        let file = match &e {
            QuantizeError::Calibration { index, .. } => int8.calibration.get(*index),
            _ => None,
        };
        anyhow::Error::new(e).context(file.map_or(model, |f| f.as_path()).display().to_string())
    })?;
    let kernels = match weights {
        Granularity::PerChannel => "per output channel",
        Granularity::PerTensorDense => "per tensor for Dense, per output channel for convolutions",
        Granularity::PerTensor => "per tensor",
    };
    let n = q.report.samples;
    let samples = if n == 1 { "sample" } else { "samples" };
    out.line(format_args!(
        "int8: quantized with {n} calibration {samples}; kernels {kernels}; int8 inputs and outputs"
    ))?;
    for rewrite in &q.rewrites {
        out.line(format_args!("int8: {rewrite}"))?;
    }
    out.line(format_args!(
        "int8: error against float on the calibration set ({n} {samples}, not held-out data):"
    ))?;
    for e in &q.report.outputs {
        out.line(format_args!(
            "int8:   output {} ({}): mean abs {:.6}, max abs {:.6} (int8 scale {}, zero point {})",
            e.index, e.layer, e.mean_abs, e.max_abs, e.scale, e.zero_point
        ))?;
    }
    Ok(q.model)
}

/// The Rust file for `--rust`, whose `include_bytes!` names the blob relative to it.
fn rust_source(
    host: &kiln_host::HostGraph,
    blob: &[u8],
    output: &Path,
    rust: &Path,
    model: &Path,
    training: Option<&(kiln::train::TrainPlan<kiln::Heap>, usize)>,
) -> Result<String> {
    let absolute = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("{}: cannot resolve the path", p.display()))
    };
    let blob_path = absolute(output)?;
    let rust_path = absolute(rust)?;
    let file = match (rust_path.parent(), blob_path.parent()) {
        (Some(dir), Some(parent)) if dir == parent => blob_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => blob_path.to_string_lossy().into_owned(),
    };
    let source = match training {
        Some((plan, batch)) => {
            kiln_host::blob::rust_source_training(host, blob, &file, plan, *batch)
        }
        None => kiln_host::blob::rust_source(host, blob, &file),
    };
    source.with_context(|| {
        format!(
            "{}: the generated Rust needs known input shapes",
            model.display()
        )
    })
}
