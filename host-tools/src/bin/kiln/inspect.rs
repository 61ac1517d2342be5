//! `kiln inspect`: what a model holds: its layers, each tensor's dtype and quantization,
//! and the flash and arena it takes as a blob (a `.kiln` blob is checked; any other model
//! is encoded as `kiln export` would).

use crate::output::Out;
use anyhow::{Context, Result};
use kiln::graph::Quant;
use std::path::Path;

pub fn run(model: &Path, out: &mut Out) -> Result<()> {
    let bytes = kiln_host::formats::file::read(model)?;
    let (host, bytes) = if kiln_host::blob::is_blob(&bytes) {
        let host = kiln_host::blob::decode(&bytes)
            .map_err(|e| anyhow::Error::new(e).context(model.display().to_string()))?;
        // decode checked the header: it is there.
        let crc = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
        out.line(format_args!(
            "{}: kiln blob version {}, checksum ok (crc32 {crc:#010x})",
            model.display(),
            kiln::format::VERSION
        ))?;
        (host, bytes)
    } else {
        let host = kiln_host::load::load_model(model)?;
        let bytes = kiln_host::blob::encode(&host).with_context(|| model.display().to_string())?;
        out.line(format_args!(
            "{}: as a kiln blob (version {}, what kiln export writes)",
            model.display(),
            kiln::format::VERSION
        ))?;
        (host, bytes)
    };
    let graph = host.structure();
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
    out.line(format_args!("tensors:"))?;
    // Where each tensor lives in the arena, when the shapes are known.
    let plan = graph.plan(None).ok();
    for (i, node) in graph.nodes().iter().enumerate() {
        if node.view_of.is_some() {
            continue;
        }
        let quant = match node.quant {
            Quant::PerTensor { scale, zero_point } => {
                format!("scale {scale:e}, zero point {zero_point}")
            }
            _ => String::new(),
        };
        let place = match plan.as_ref().and_then(|p| p.placements.get(i)) {
            _ if graph.input_nodes().iter().any(|&n| n as usize == i) => {
                "in the caller's buffer".to_string()
            }
            Some(p) if p.in_place => {
                let over = node
                    .inputs
                    .first()
                    .map_or("", |&n| graph.node_layer_name(n as usize));
                format!(
                    "arena {}..{}, over {over}'s memory",
                    p.offset,
                    p.offset + p.bytes
                )
            }
            Some(p) => format!("arena {}..{}", p.offset, p.offset + p.bytes),
            None => String::new(),
        };
        let sep = if quant.is_empty() || place.is_empty() {
            ""
        } else {
            "; "
        };
        out.line(format_args!(
            "  {:<32} {:<8} {:<24} {quant}{sep}{place}",
            graph.node_layer_name(i),
            node.dtype.name(),
            node.shape.to_string()
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
    // The training budget: for the .keras's compile configuration, else plain SGD.
    let flags = crate::fit::CompileFlags::default();
    match crate::fit::compiled_for(model, &flags, false) {
        Ok((_, config, _)) => match kiln_host::train::train_plan(&host, &config, 32) {
            Ok(plan) => {
                for line in kiln_host::train::budget_lines(&plan, 32) {
                    out.line(line)?;
                }
            }
            Err(e) => out.line(format_args!("training: not possible as is ({e})"))?,
        },
        Err(e) => out.line(format_args!("training: {e:#}"))?,
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
