//! Fine-tuning a quantized model: an int8 backbone (a `.tflite` or `kiln export --int8`),
//! frozen, feeding a float head that trains. `stack` joins the two end to end:
//! `float input → Quantize → backbone (int8, frozen) → Dequantize → head (float32)`,
//! so one blob runs on the device and only the head's weights go to RAM to train.

use crate::model::{HostGraph, HostModel};
use kiln::graph::{DType, LayerId};
use kiln::layers::Input;
use kiln::ops::{Dequantize, Quantize};
use kiln::{Functional, Heap};

/// Why two models cannot be stacked.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the backbone must have one input and one output (it has {0} and {1})")]
    Io(usize, usize),
    #[error("the head must have one input (it has {0})")]
    HeadInputs(usize),
    #[error("the backbone's output has {found} values per sample but the head takes {expected}")]
    Width { found: usize, expected: usize },
    #[error("{0} has no weights")]
    NoWeights(&'static str),
    #[error(transparent)]
    Kiln(#[from] kiln::Error),
}

/// The head on the backbone; the backbone frozen (`trainable = false`), the head as it
/// was. An int8 backbone gets a Quantize before it (float inputs, with its input's scale
/// and zero point) and a Dequantize after it.
pub fn stack(backbone: &HostGraph, head: &HostGraph) -> Result<HostGraph, StackError> {
    if !backbone.has_weights() {
        return Err(StackError::NoWeights("the backbone"));
    }
    if !head.has_weights() {
        return Err(StackError::NoWeights("the head"));
    }
    let (b, h) = (backbone.structure(), head.structure());
    if b.input_nodes().len() != 1 || b.output_nodes().len() != 1 {
        return Err(StackError::Io(
            b.input_nodes().len(),
            b.output_nodes().len(),
        ));
    }
    if h.input_nodes().len() != 1 {
        return Err(StackError::HeadInputs(h.input_nodes().len()));
    }
    let tensor = |g: &HostModel<'_>, n: kiln::graph::NodeId| {
        let node = &g.nodes()[g.resolve(n) as usize];
        (node.shape, node.dtype, node.quant)
    };
    let (in_shape, in_dtype, in_quant) = tensor(b, b.input_nodes()[0]);
    let (out_shape, _, _) = tensor(b, b.output_nodes()[0]);
    let (head_shape, _, _) = tensor(h, h.input_nodes()[0]);
    let width = |s: kiln::Shape| s.sample_elements().unwrap_or(0);
    if width(out_shape) != width(head_shape) {
        return Err(StackError::Width {
            found: width(out_shape),
            expected: width(head_shape),
        });
    }
    let mut b = b.clone();
    let mut h = h.clone();
    b.set_name("backbone")?;
    h.set_name("head")?;

    let mut f = Functional::<Heap>::new();
    let dims: Vec<Option<u32>> = in_shape.dims().iter().skip(1).copied().collect();
    let x = f.input(Input::with_dims(&dims))?;
    let mut t = x;
    if in_dtype == DType::I8 {
        t = f.call(Quantize, &[x])?;
        f.set_quant(t, in_quant)?;
    }
    let features = f.call_model(&b, &[t])?;
    let backbone_id = f.layer_id("backbone").ok_or(kiln::Error::NoSuchLayer)?;
    f.set_trainable(backbone_id, false);
    let features = if f.dtype(features) == DType::I8 {
        f.call(Dequantize, &[features])?
    } else {
        features
    };
    let y = f.call_model(&h, &[features])?;
    let model = f.model_named("fine_tune", &[x], &[y])?;

    // The weights: each copied layer's block from its source, in the stacked layout.
    let mut weights = vec![0u8; model.weight_bytes()];
    for (name, source, graph) in [("backbone", backbone, &b), ("head", head, &h)] {
        let container = (0..model.all_layers().len() as LayerId)
            .find(|&l| {
                model.all_layers()[l as usize].parent.is_none()
                    && &*model.all_layers()[l as usize].name == name
            })
            .ok_or(kiln::Error::NoSuchLayer)?;
        let copies: Vec<LayerId> = (0..model.all_layers().len() as LayerId)
            .filter(|&l| l != container && model.is_within(l, container))
            .collect();
        for (copy, original) in copies
            .into_iter()
            .zip(0..graph.all_layers().len() as LayerId)
        {
            let (Some(to), Some(from)) = (model.weight_offset(copy), graph.weight_offset(original))
            else {
                continue;
            };
            let specs = graph.layer_weights(original);
            let end = layout_end(&specs, from);
            let len = end - from;
            weights[to..to + len].copy_from_slice(&source.weights()[from..end]);
        }
    }
    Ok(HostGraph::from_bytes(model.without_weights(), &weights))
}

/// Where the last of `specs`'s variables ends when they start at `start`.
fn layout_end(specs: &[kiln::graph::WeightSpec], start: usize) -> usize {
    specs.iter().fold(start, |at, w| {
        at.next_multiple_of(w.dtype.align()) + w.bytes()
    })
}
