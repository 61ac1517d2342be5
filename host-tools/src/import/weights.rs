//! Weights: from `model.weights.h5` into the buffer the graph indexes.

use super::models::Model;
use super::ImportError;
use crate::formats::keras_archive::{Tensor, WeightTree};
use kiln::graph::LayerKind;

/// Where weights come from: the tree of `model.weights.h5`.
pub trait WeightSource {
    /// Variables of the layer stored at container path `path` (`…/vars/0`, `…/vars/1`).
    fn vars(&self, path: &str) -> Option<&[Tensor]>;
    /// The child groups of `path` (e.g. the groups under `layers`).
    fn children(&self, path: &str) -> Vec<String>;
    /// The `name` attribute of the `vars` group at `path`: the real layer name.
    fn name_of(&self, path: &str) -> Option<String>;
}

impl WeightSource for WeightTree {
    fn vars(&self, path: &str) -> Option<&[Tensor]> {
        self.var_group(path).map(|g| g.vars.as_slice())
    }
    fn children(&self, path: &str) -> Vec<String> {
        WeightTree::children(self, path)
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    }
    fn name_of(&self, path: &str) -> Option<String> {
        self.var_group(path).and_then(|g| g.name_attr.clone())
    }
}

/// Reads every layer's variables from `model.weights.h5` into the buffer the graph
/// indexes. Groups are found by their `name` attribute (the layer name), falling back to
/// Keras's path rule: `layers/<snake_case(class)>[_k]`, counted per class in
/// `model.layers` order, nested models one level of `layers/` deeper.
pub(super) fn read_weights(
    graph: &Model,
    source: &dyn WeightSource,
) -> Result<Vec<f32>, ImportError> {
    let mut flat = vec![0.0f32; 0];
    let top: Vec<u16> = graph.visible_layers().collect();
    read_container(graph, source, "", &top, &mut flat)?;
    // A float model's weights are f32 from end to end (the importer makes no other).
    let values = graph.weight_bytes() / 4;
    if flat.len() < values {
        flat.resize(values, 0.0);
    }
    Ok(flat)
}

fn read_container(
    graph: &Model,
    source: &dyn WeightSource,
    base: &str,
    layers: &[u16],
    flat: &mut Vec<f32>,
) -> Result<(), ImportError> {
    let container = if base.is_empty() {
        "layers".to_string()
    } else {
        format!("{base}/layers")
    };
    let by_name: std::collections::HashMap<String, String> = source
        .children(&container)
        .into_iter()
        .filter_map(|child| {
            let path = format!("{container}/{child}");
            source.name_of(&path).map(|n| (n, path))
        })
        .collect();
    let mut per_class: std::collections::HashMap<&str, usize> = Default::default();
    for &id in layers {
        let Some(layer) = graph.layer(id) else {
            continue;
        };
        let prefix = layer.kind.auto_name_prefix();
        let k = per_class.entry(prefix).or_insert(0);
        let by_rule = if *k == 0 {
            format!("{container}/{prefix}")
        } else {
            format!("{container}/{prefix}_{k}")
        };
        *k += 1;
        let path = by_name.get(layer.name.as_str()).cloned().unwrap_or(by_rule);
        if matches!(layer.kind, LayerKind::Model(_)) {
            let children: Vec<u16> = graph.nested_layers(id).collect();
            read_container(graph, source, &path, &children, flat)?;
            continue;
        }
        let specs = graph.layer_weights(id);
        if specs.is_empty() {
            continue;
        }
        let vars = source
            .vars(&path)
            .ok_or_else(|| ImportError::MissingWeights {
                layer: layer.name.to_string(),
                path: path.clone(),
            })?;
        if vars.len() != specs.len() {
            return Err(ImportError::WeightCount {
                layer: layer.name.to_string(),
                found: vars.len(),
                expected: specs.len(),
            });
        }
        // Byte offsets over 4: the model is f32 throughout.
        let mut at = graph.weight_offset(id).unwrap_or(0) / 4;
        for (index, (var, spec)) in vars.iter().zip(specs.iter()).enumerate() {
            let expected: Vec<usize> = spec
                .shape
                .dims()
                .iter()
                .map(|d| d.unwrap_or(0) as usize)
                .collect();
            if var.shape != expected || var.data.len() != spec.elements() {
                return Err(ImportError::WeightShape {
                    layer: layer.name.to_string(),
                    index,
                    var: spec.name,
                    found: var.shape.clone(),
                    expected,
                });
            }
            if flat.len() < at + var.data.len() {
                flat.resize(at + var.data.len(), 0.0);
            }
            flat[at..at + var.data.len()].copy_from_slice(&var.data);
            at += var.data.len();
        }
    }
    Ok(())
}
