//! The rules a decoded graph must follow before [`super::load`] hands it out. Each rule is
//! one that the builders (`Sequential`, `Functional`) enforce as they go; a blob did not
//! go through them, so they are checked again here.

use super::BlobError;
use crate::graph::storage::{List, Storage};
use crate::graph::{layout, DType, Graph, Quant, WEIGHT_ALIGN};
use crate::shape::Shape;

fn bad(what: &'static str, at: usize) -> BlobError {
    BlobError::Invalid {
        what,
        at: at as u16,
    }
}

pub(super) fn graph<S: Storage>(g: &Graph<'_, S>) -> Result<(), BlobError> {
    if g.nodes.is_empty() || g.inputs.is_empty() || g.outputs.is_empty() {
        return Err(bad("a model needs nodes, inputs and outputs", 0));
    }
    for (i, layer) in g.layers.iter().enumerate() {
        // A float layer whose function needs libm is refused by a build without `math`;
        // an int8 one computes it from tables and integers.
        let float = g.layer_input_dtype(i as crate::graph::LayerId) != DType::I8;
        if let Some(what) = layer
            .kind
            .op()
            .math()
            .filter(|_| float && !cfg!(feature = "math"))
        {
            return Err(BlobError::LeftOut(crate::ops::LeftOut {
                what,
                feature: "math",
            }));
        }
        if let Some(parent) = layer.parent {
            let is_container = g
                .layers
                .get(parent as usize)
                .is_some_and(|p| p.kind.nested_model().is_some());
            if parent as usize >= i || !is_container {
                return Err(bad("a layer's parent is not an earlier nested model", i));
            }
        }
        layer
            .kind
            .validate(&layer.name)
            .map_err(|_| bad("a layer's configuration is invalid", i))?;
        if g.layers[..i]
            .iter()
            .any(|other| other.parent == layer.parent && other.name == layer.name)
        {
            return Err(bad("two layers of one model have the same name", i));
        }
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let layer = g
            .layers
            .get(node.layer as usize)
            .ok_or(bad("a node's layer does not exist", i))?;
        if node.inputs.iter().any(|&input| input as usize >= i) {
            return Err(bad("a node reads a node after it", i));
        }
        match node.view_of {
            Some(target) => {
                let target = g
                    .nodes
                    .get(target as usize)
                    .filter(|_| (target as usize) < i);
                if target.map(|t| (t.shape, t.dtype)) != Some((node.shape, node.dtype)) {
                    return Err(bad("a view's shape or dtype is not its target's", i));
                }
            }
            None => {
                let mut shapes = S::Few::<Shape>::default();
                let mut dtypes = S::Few::<DType>::default();
                for &input in node.inputs.iter() {
                    let over = bad("a node has more inputs than the storage holds", i);
                    shapes
                        .push(g.nodes[input as usize].shape)
                        .map_err(|_| over)?;
                    dtypes
                        .push(g.nodes[input as usize].dtype)
                        .map_err(|_| over)?;
                }
                if layer.kind.op().output_dtype(&dtypes) != node.dtype {
                    return Err(bad("a node's dtype does not follow from its inputs", i));
                }
                let expected = layer
                    .kind
                    .output_shape_of(&layer.name, &shapes)
                    .map_err(|_| bad("a layer cannot take its inputs", i))?;
                if expected != node.shape {
                    return Err(bad("a node's shape does not follow from its inputs", i));
                }
            }
        }
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let fine = match node.quant {
            Quant::None => true,
            Quant::PerTensor { scale, zero_point } => {
                scale.is_finite() && scale > 0.0 && node.dtype != DType::F32 && {
                    let (lo, hi) = if node.dtype == DType::I8 {
                        (-128, 127)
                    } else {
                        (i32::MIN, i32::MAX)
                    };
                    (lo..=hi).contains(&zero_point)
                }
            }
            // Per-axis parameters belong to weights, not to activations.
            Quant::PerAxis { .. } => false,
        };
        if !fine {
            return Err(bad("a tensor's quantization parameters are invalid", i));
        }
    }
    for (k, &input) in g.inputs.iter().enumerate() {
        let node = g
            .nodes
            .get(input as usize)
            .ok_or(bad("a model input is not a node", k))?;
        let is_input_layer = g.layers[node.layer as usize].kind.input_shape().is_some();
        if !node.inputs.is_empty() || node.view_of.is_some() || !is_input_layer {
            return Err(bad("a model input is not an InputLayer", k));
        }
    }
    if g.outputs.iter().any(|&o| o as usize >= g.nodes.len()) {
        return Err(bad("a model output is not a node", 0));
    }
    for id in 0..g.layers.len() {
        let specs = g.layer_weights(id as u16);
        if specs.is_empty() {
            continue;
        }
        let start = g.layers[id]
            .weights_at
            .ok_or(bad("a layer with weights has no weight offset", id))?
            as usize;
        if start % WEIGHT_ALIGN != 0 {
            return Err(bad(
                "a layer's weights do not start at a multiple of 4 bytes",
                id,
            ));
        }
        let end = layout(&specs, start).last().map_or(start, |r| r.end);
        // `layout` saturates: a weight too large for the address space ends at usize::MAX.
        if end > g.weight_len {
            return Err(bad("a layer's weights run past the weight buffer", id));
        }
    }
    Ok(())
}
