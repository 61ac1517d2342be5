//! How far the int8 model is from the float one: each output of the int8 model,
//! dequantized, against the float model's, sample by sample (inputs quantized with the
//! int8 inputs' scales and zero points, as `kiln predict` does).

use super::{QuantizeError, Result};
use crate::formats::npy::NpyArray;
use crate::model::{HostGraph, HostModel};
use kiln::graph::{DType, NodeId, Quant};
use kiln::Shape;

/// One model output's error.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputError {
    /// The output's index in `model.outputs`, and the layer that computes it (from
    /// [`quantize`](super::quantize): the float model's layer).
    pub index: usize,
    pub layer: String,
    /// The int8 output's quantization.
    pub scale: f32,
    pub zero_point: i32,
    /// Mean and largest `|dequantized int8 − float|` over every value of every sample.
    pub mean_abs: f64,
    pub max_abs: f64,
    /// Values compared.
    pub values: usize,
}

/// The int8 model against the float one on a set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorReport {
    pub samples: usize,
    pub outputs: Vec<OutputError>,
}

/// Model inputs as arrays of samples: their shapes for kiln, values per sample, count.
struct Batch<'a> {
    data: Vec<&'a [f32]>,
    shapes: Vec<Shape>,
    per_sample: Vec<usize>,
    count: usize,
}

fn batch<'a>(graph: &HostModel<'_>, arrays: &'a [NpyArray]) -> Result<Batch<'a>> {
    let expected = graph.input_nodes().len();
    if arrays.len() != expected {
        return Err(QuantizeError::CalibrationCount {
            expected,
            found: arrays.len(),
        });
    }
    let mut shapes = Vec::new();
    let mut per_sample = Vec::new();
    let count = arrays
        .first()
        .and_then(|a| a.shape.first())
        .copied()
        .unwrap_or(0);
    for (index, array) in arrays.iter().enumerate() {
        let node = graph.resolve(graph.input_nodes()[index]);
        let bad = |reason: String| QuantizeError::Calibration {
            index,
            input: graph.node_layer_name(node as usize).to_string(),
            reason,
        };
        if array.shape.first() != Some(&count) || count == 0 {
            return Err(bad(format!(
                "shape {:?}: every input needs the same number of samples, at least one",
                array.shape
            )));
        }
        let dims: Vec<Option<u32>> = array
            .shape
            .iter()
            .map(|&d| u32::try_from(d).ok().filter(|&d| d < u32::MAX))
            .collect();
        shapes.push(
            Shape::new(&dims)
                .ok()
                .filter(|s| s.is_sample_known())
                .ok_or_else(|| bad(format!("shape {:?} is too large for kiln", array.shape)))?,
        );
        per_sample.push(array.data.len() / count);
    }
    Ok(Batch {
        data: arrays.iter().map(|a| a.data.as_slice()).collect(),
        shapes,
        per_sample,
        count,
    })
}

/// The scale and zero point of an int8 tensor (1, 0 for any other).
fn quant_of(graph: &HostModel<'_>, node: NodeId) -> (f32, i32) {
    match graph.nodes()[graph.resolve(node) as usize].quant {
        Quant::PerTensor { scale, zero_point } => (scale, zero_point),
        _ => (1.0, 0),
    }
}

/// Runs `host` (float32 or int8) one sample at a time on `arrays`, calling `each` with
/// the sample's index and its float outputs (an int8 model's inputs quantized and its
/// outputs dequantized with their tensors' quantization).
fn run_samples(
    host: &HostGraph,
    arrays: &[NpyArray],
    what: &str,
    mut each: impl FnMut(usize, &[Vec<f32>]),
) -> Result<()> {
    let err = |e| QuantizeError::kiln(format!("running {what}"), e);
    let graph = host.graph().map_err(err)?;
    let b = batch(&graph, arrays)?;
    let prepared = graph.prepare(Some(&b.shapes)).map_err(err)?;
    let (n_in, n_out) = prepared.io_count();
    let int8 = prepared.input_dtype(0) == Some(DType::I8);
    let mut arena = vec![0u8; prepared.arena_bytes()];
    let sizes: Vec<usize> = (0..n_out)
        .map(|j| prepared.output_elements(j).unwrap_or(0))
        .collect();
    let mut floats: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let in_q: Vec<(f32, i32)> = (0..n_in)
        .map(|k| quant_of(&graph, graph.input_nodes()[k]))
        .collect();
    let out_q: Vec<(f32, i32)> = (0..n_out)
        .map(|j| quant_of(&graph, graph.output_nodes()[j]))
        .collect();
    let mut ints_in: Vec<Vec<i8>> = b.per_sample.iter().map(|&n| vec![0; n]).collect();
    let mut ints_out: Vec<Vec<i8>> = sizes.iter().map(|&n| vec![0; n]).collect();
    for s in 0..b.count {
        let sample: Vec<&[f32]> = b
            .data
            .iter()
            .zip(&b.per_sample)
            .map(|(d, &n)| &d[s * n..(s + 1) * n])
            .collect();
        if int8 {
            for ((x, q), &(scale, zero)) in sample.iter().zip(&mut ints_in).zip(&in_q) {
                kiln::kernels::int8::quantize(x, scale, zero, q);
            }
            let ins: Vec<&[i8]> = ints_in.iter().map(Vec::as_slice).collect();
            let mut outs: Vec<&mut [i8]> = ints_out.iter_mut().map(Vec::as_mut_slice).collect();
            prepared.predict(&ins, &mut outs, &mut arena).map_err(err)?;
            for ((q, f), &(scale, zero)) in ints_out.iter().zip(&mut floats).zip(&out_q) {
                kiln::kernels::int8::dequantize(q, scale, zero, f);
            }
        } else {
            let mut outs: Vec<&mut [f32]> = floats.iter_mut().map(Vec::as_mut_slice).collect();
            prepared
                .predict(&sample, &mut outs, &mut arena)
                .map_err(err)?;
        }
        each(s, &floats);
    }
    Ok(())
}

/// The outputs of `host` on `arrays` (one array per model input, samples first), as
/// float32: an int8 model's inputs are quantized and its outputs dequantized with their
/// tensors' scales and zero points. One vector per model output, samples after samples.
pub fn predict(host: &HostGraph, arrays: &[NpyArray]) -> Result<Vec<Vec<f32>>> {
    let mut all: Vec<Vec<f32>> = Vec::new();
    run_samples(host, arrays, "the model", |_, outs| {
        all.resize(outs.len(), Vec::new());
        for (a, o) in all.iter_mut().zip(outs) {
            a.extend_from_slice(o);
        }
    })?;
    Ok(all)
}

/// Mean and largest absolute difference of `got` from `want`, in f64.
pub fn abs_error(got: &[f32], want: &[f32]) -> (f64, f64) {
    let (mut sum, mut max) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        let e = (f64::from(g) - f64::from(w)).abs();
        sum += e;
        max = max.max(e);
    }
    (sum / got.len().max(1) as f64, max)
}

/// The int8 model `int8` against the float model `float` on `arrays`.
pub fn evaluate(int8: &HostGraph, float: &HostGraph, arrays: &[NpyArray]) -> Result<ErrorReport> {
    let reference = predict(float, arrays)?;
    let graph = int8
        .graph()
        .map_err(|e| QuantizeError::kiln("the int8 model", e))?;
    let mut sums = vec![(0.0f64, 0.0f64, 0usize); graph.output_nodes().len()];
    let mut samples = 0;
    let mut mismatch = None;
    run_samples(int8, arrays, "the int8 model", |s, outs| {
        samples += 1;
        for ((j, o), acc) in outs.iter().enumerate().zip(&mut sums) {
            let Some(want) = reference
                .get(j)
                .and_then(|r| r.get(s * o.len()..(s + 1) * o.len()))
            else {
                mismatch = Some(j);
                continue;
            };
            let (mean, max) = abs_error(o, want);
            acc.0 += mean * o.len() as f64;
            acc.1 = acc.1.max(max);
            acc.2 += o.len();
        }
    })?;
    let extra = reference.len() != sums.len();
    if let Some(j) = mismatch.or_else(|| extra.then_some(reference.len().min(sums.len()))) {
        return Err(QuantizeError::Layer {
            layer: graph
                .node_layer_name(graph.output_nodes().get(j).map_or(0, |&n| n as usize))
                .to_string(),
            class: "",
            reason: format!(
                "model output {j} has no float counterpart of its size to compare with"
            ),
        });
    }
    let outputs = sums
        .iter()
        .enumerate()
        .map(|(j, &(sum, max, values))| {
            let node = graph.output_nodes()[j];
            let (scale, zero_point) = quant_of(&graph, node);
            OutputError {
                index: j,
                layer: graph
                    .node_layer_name(graph.resolve(node) as usize)
                    .to_string(),
                scale,
                zero_point,
                mean_abs: sum / values.max(1) as f64,
                max_abs: max,
                values,
            }
        })
        .collect();
    Ok(ErrorReport { samples, outputs })
}
