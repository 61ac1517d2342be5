//! `kiln inspect`: what a `.kiln` blob holds, checked.

use crate::output::Out;
use anyhow::{bail, Result};
use std::path::Path;

pub fn run(model: &Path, out: &mut Out) -> Result<()> {
    let bytes = kiln_host::formats::file::read(model)?;
    if !kiln_host::blob::is_blob(&bytes) {
        bail!(
            "{}: not a kiln blob (kiln inspect reads .kiln files; see kiln summary for .keras)",
            model.display()
        );
    }
    let host = kiln_host::blob::decode(&bytes)
        .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?;
    let graph = host.structure();
    // decode checked the header: it is there.
    let crc = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    out.line(format_args!(
        "{}: kiln blob version {}, checksum ok (crc32 {crc:#010x})",
        model.display(),
        kiln::format::VERSION
    ))?;
    out.line(format_args!(
        "model \"{}\": {} layers, {} parameters",
        graph.name(),
        graph.visible_layers().count(),
        graph.count_params()
    ))?;
    for id in graph.visible_layers() {
        let Some(layer) = graph.layer(id) else {
            continue;
        };
        let shape = graph
            .last_node(id)
            .map(|n| n.shape.to_string())
            .unwrap_or_else(|| "?".into());
        out.line(format_args!(
            "  {:<32} {:<24} {:>10}",
            format!("{} ({})", layer.name, layer.class_name()),
            shape,
            graph.layer_param_count(id).unwrap_or(0)
        ))?;
    }
    let weights = host.weights().len();
    out.line(format_args!(
        "flash: {} bytes = {} of weights + {} of graph and header",
        bytes.len(),
        weights,
        bytes.len() - weights
    ))?;
    match graph.plan(None) {
        Ok(plan) => out.line(format_args!(
            "arena: {} bytes, lower bound {} bytes live at once",
            plan.arena_bytes(),
            plan.lower_bound_bytes(),
        ))?,
        Err(e) => out.line(format_args!("arena: depends on the input shape ({e})"))?,
    }
    let features = kiln::ops::features(graph);
    out.line(format_args!(
        "kiln features: {}",
        if features.is_empty() {
            "none".to_string()
        } else {
            features.join(", ")
        }
    ))?;
    Ok(())
}
