//! `kiln export`: a model as a `.kiln` blob for flashing, and the Rust that includes it.

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln_host::load::load_model_with;
use std::path::Path;

pub fn run(
    model: &Path,
    output: &Path,
    rust: Option<&Path>,
    flavor: kiln::ops::int8::Flavor,
    out: &mut Out,
) -> Result<()> {
    let mut writes = vec![("-o", output)];
    writes.extend(rust.map(|r| ("--rust", r)));
    crate::paths::check_outputs(&[("the model", model)], &writes)?;
    let host = load_model_with(model, flavor)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); export needs a .keras archive",
            model.display()
        );
    }
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
        Some(rust) => Some(rust_source(&host, &blob, output, rust, model)?),
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

/// The Rust file for `--rust`, whose `include_bytes!` names the blob relative to it.
fn rust_source(
    host: &kiln_host::HostGraph,
    blob: &[u8],
    output: &Path,
    rust: &Path,
    model: &Path,
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
    kiln_host::blob::rust_source(host, blob, &file).with_context(|| {
        format!(
            "{}: the generated Rust needs known input shapes",
            model.display()
        )
    })
}
