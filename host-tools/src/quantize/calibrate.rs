//! Calibration: the rewritten float model, with every one of its tensors made a model
//! output, runs on each calibration sample on the host (kiln's float engine), and each
//! tensor's minimum and maximum over all samples and values are kept, as TensorFlow
//! Lite's calibrator keeps them.

use super::plan::{Op, Plan};
use super::{QuantizeError, Result};
use crate::formats::npy::NpyArray;
use crate::model::{HostGraph, HostModel};
use kiln::graph::{LayerKind, LayerSpec};
use kiln::{Functional, Heap, Shape};

/// Calibration data checked against the model's inputs.
pub struct Samples<'a> {
    /// Per model input: the values, sample after sample.
    pub data: Vec<&'a [f32]>,
    /// Per model input: the array's shape as kiln takes it (batch axis first).
    pub shapes: Vec<Shape>,
    /// Per model input: values per sample.
    pub per_sample: Vec<usize>,
    pub count: usize,
}

impl<'a> Samples<'a> {
    /// Checks `arrays` (one per model input of `plan`, batch axis first) against the
    /// inputs' declared shapes.
    pub fn new(plan: &Plan, arrays: &'a [NpyArray]) -> Result<Self> {
        let inputs: Vec<&Op> = plan.inputs.iter().map(|&i| &plan.ops[i]).collect();
        check_arrays(&inputs, arrays)
    }
}

/// [`Samples::new`] for the input layers `inputs`.
pub(crate) fn check_arrays<'a>(inputs: &[&Op], arrays: &'a [NpyArray]) -> Result<Samples<'a>> {
    if arrays.len() != inputs.len() {
        return Err(QuantizeError::CalibrationCount {
            expected: inputs.len(),
            found: arrays.len(),
        });
    }
    let mut shapes = Vec::new();
    let mut per_sample = Vec::new();
    let mut count = None;
    for (index, (op, array)) in inputs.iter().zip(arrays).enumerate() {
        let bad = |reason: String| QuantizeError::Calibration {
            index,
            input: op.origin.layer.clone(),
            reason,
        };
        let declared = op.kind.input_shape().unwrap_or(Shape::SCALAR);
        let sample: Vec<usize> = array.shape.iter().skip(1).copied().collect();
        let fits = array.shape.len() == declared.rank()
            && sample
                .iter()
                .zip(declared.dims().iter().skip(1))
                .all(|(&a, d)| d.is_none_or(|d| d as usize == a));
        if !fits {
            return Err(bad(format!(
                "shape {:?} does not fit the input's {declared} (the first axis is the samples)",
                array.shape
            )));
        }
        let n = array.shape.first().copied().unwrap_or(0);
        if n == 0 {
            return Err(bad("holds no sample".into()));
        }
        match count {
            Some(c) if c != n => {
                return Err(bad(format!(
                "{n} samples, but calibration array 0 has {c} (every input needs the same samples)"
            )))
            }
            _ => count = Some(n),
        }
        if let Some(at) = array.data.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "value {} of sample {} is {}",
                at % (array.data.len() / n).max(1),
                at / (array.data.len() / n).max(1),
                array.data[at]
            )));
        }
        let dims: Vec<Option<u32>> = array
            .shape
            .iter()
            .map(|&d| u32::try_from(d).ok().filter(|&d| d < u32::MAX))
            .collect();
        let shape = Shape::new(&dims)
            .ok()
            .filter(|s| s.is_sample_known())
            .ok_or_else(|| bad(format!("shape {:?} is too large for kiln", array.shape)))?;
        shapes.push(shape);
        per_sample.push(array.data.len() / n);
    }
    Ok(Samples {
        data: arrays.iter().map(|a| a.data.as_slice()).collect(),
        shapes,
        per_sample,
        count: count.unwrap_or(0),
    })
}

/// What calibration found.
#[derive(Clone, Debug)]
pub struct Calibrated {
    /// Per op of the plan: the minimum and maximum of its output over the calibration set.
    pub ranges: Vec<(f32, f32)>,
    /// Per op: its output's per-sample shape (batch axis 1) in the calibration runs.
    pub shapes: Vec<Shape>,
    pub samples: usize,
}

/// The rewritten model in float32, with every op's output a model output (in op order,
/// inputs left out). Returns the model and, per op, its output's index (`None` for the
/// model inputs).
pub fn float_model(plan: &Plan) -> Result<(HostGraph, Vec<Option<usize>>)> {
    let err = |op: &Op, e: kiln::Error| {
        QuantizeError::kiln(format!("the float model of layer '{}'", op.name), e)
    };
    let mut ws: Functional<'static, Heap> = Functional::new();
    let mut tensors = Vec::with_capacity(plan.ops.len());
    for op in &plan.ops {
        let t = if op.is_input() {
            ws.input(LayerSpec::new(op.kind).name(&op.name))
                .map_err(|e| err(op, e))?
        } else {
            let (kind, clamp_after) = op.kind_with_post();
            let inputs: Vec<kiln::Tensor> = op.inputs.iter().map(|&i| tensors[i]).collect();
            let t = ws
                .call(LayerSpec::new(kind).name(&op.name), &inputs)
                .map_err(|e| err(op, e))?;
            if clamp_after {
                let relu = match op.post {
                    kiln::Activation::Relu6 => kiln::layers::ReLU::new().max_value(6.0),
                    _ => kiln::layers::ReLU::new(),
                };
                let name = format!("{}/fused_relu", op.name);
                ws.call(LayerSpec::new(LayerKind::ReLU(relu)).name(&name), &[t])
                    .map_err(|e| err(op, e))?
            } else {
                t
            }
        };
        tensors.push(t);
    }
    let inputs: Vec<kiln::Tensor> = plan.inputs.iter().map(|&i| tensors[i]).collect();
    let mut index = vec![None; plan.ops.len()];
    let mut outputs = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        if !op.is_input() {
            index[i] = Some(outputs.len());
            outputs.push(tensors[i]);
        }
    }
    if let (true, Some(&first)) = (outputs.is_empty(), inputs.first()) {
        // A model of inputs only has nothing to quantize but its inputs.
        outputs.push(first);
    }
    let model: HostModel<'static> = ws
        .model_named(&plan.name, &inputs, &outputs)
        .map_err(|e| QuantizeError::kiln("the rewritten float model", e))?;
    let mut bytes = vec![0u8; model.weight_bytes()];
    for op in &plan.ops {
        let Some(kernel) = &op.kernel else { continue };
        let layer = layer_id(&model, &op.name)?;
        let mut put = |name: &str, values: &[f32]| -> Result<()> {
            let range = model
                .weight_range(layer, name)
                .filter(|r| r.len() == 4 * values.len())
                .ok_or_else(|| QuantizeError::Layer {
                    layer: op.name.clone(),
                    class: op.origin.class,
                    reason: format!("its float {name} does not fit the rewritten layer"),
                })?;
            bytes[range].copy_from_slice(bytemuck::cast_slice(values));
            Ok(())
        };
        put("kernel", &kernel.kernel)?;
        if let Some(bias) = &kernel.bias {
            put("bias", bias)?;
        }
    }
    Ok((HostGraph::from_bytes(model, &bytes), index))
}

/// The id of the model's layer named `name`.
pub(crate) fn layer_id(model: &HostModel<'_>, name: &str) -> Result<kiln::graph::LayerId> {
    model
        .all_layers()
        .iter()
        .position(|l| &*l.name == name)
        .map(|i| i as kiln::graph::LayerId)
        .ok_or_else(|| QuantizeError::Layer {
            layer: name.to_string(),
            class: "",
            reason: "missing from the model built from the plan".into(),
        })
}

/// Runs the rewritten float model of `plan` on every sample and records each op's range.
pub fn calibrate(plan: &Plan, samples: &Samples<'_>) -> Result<Calibrated> {
    let (host, index) = float_model(plan)?;
    let graph = host
        .graph()
        .map_err(|e| QuantizeError::kiln("the rewritten float model", e))?;
    let run_err = |e| QuantizeError::kiln("the float calibration run", e);
    let prepared = graph.prepare(Some(&samples.shapes)).map_err(run_err)?;
    let sample_shapes = graph
        .sample_shapes(Some(&samples.shapes))
        .map_err(run_err)?;
    let (_, n_out) = prepared.io_count();
    let mut buffers: Vec<Vec<f32>> = (0..n_out)
        .map(|j| vec![0.0; prepared.output_elements(j).unwrap_or(0)])
        .collect();
    let mut arena = vec![0u8; prepared.arena_bytes()];
    let mut ranges = vec![(f32::INFINITY, f32::NEG_INFINITY); plan.ops.len()];
    for s in 0..samples.count {
        let inputs: Vec<&[f32]> = samples
            .data
            .iter()
            .zip(&samples.per_sample)
            .map(|(d, &n)| &d[s * n..(s + 1) * n])
            .collect();
        {
            let mut outs: Vec<&mut [f32]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
            prepared
                .predict(&inputs, &mut outs, &mut arena)
                .map_err(run_err)?;
        }
        for (k, &i) in plan.inputs.iter().enumerate() {
            widen(&mut ranges[i], inputs[k]);
        }
        for (i, op) in plan.ops.iter().enumerate() {
            let Some(j) = index[i] else { continue };
            let values = &buffers[j];
            if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(QuantizeError::NotFinite {
                    layer: op.origin.layer.clone(),
                    class: op.origin.class,
                    value: bad,
                    sample: s,
                });
            }
            widen(&mut ranges[i], values);
        }
    }
    let mut shapes = vec![Shape::SCALAR; plan.ops.len()];
    for (k, &i) in plan.inputs.iter().enumerate() {
        shapes[i] = sample_shapes[graph.input_nodes()[k] as usize];
    }
    for (i, j) in index.iter().enumerate() {
        if let Some(j) = j {
            let node = graph.resolve(graph.output_nodes()[*j]);
            shapes[i] = sample_shapes[node as usize];
        }
    }
    Ok(Calibrated {
        ranges,
        shapes,
        samples: samples.count,
    })
}

/// The ranges TensorFlow Lite's calibrator records for the tensors of `plan` whose own
/// ranges are `ranges`.
///
/// The calibrator runs TensorFlow Lite's float kernels and logs each op's inputs after
/// the op has run. The interpreter's arena lets an in-place op (ADD: its first or second
/// input; SOFTMAX: its input) write its output over an input that nothing else reads
/// (not a model input, the output not a model output), so the range logged for that
/// input takes in the output's values as well. The converter's scales come from those
/// records; with these, kiln's are the converter's.
pub fn as_converter_records(plan: &Plan, ranges: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut readers = vec![0usize; plan.ops.len()];
    for op in &plan.ops {
        for &i in &op.inputs {
            readers[i] += 1;
        }
    }
    for &o in &plan.outputs {
        readers[o] += 1;
    }
    let mut out = ranges.to_vec();
    for (i, op) in plan.ops.iter().enumerate() {
        let shareable = match op.kind {
            LayerKind::Merge(kiln::MergeOp::Add) => 2,
            LayerKind::Softmax(_) => 1,
            LayerKind::Activation(a) if a.0 == kiln::Activation::Softmax => 1,
            _ => 0,
        };
        if shareable == 0 || plan.outputs.contains(&i) {
            continue;
        }
        let shared = op
            .inputs
            .iter()
            .take(shareable)
            .find(|&&input| readers[input] == 1 && !plan.inputs.contains(&input));
        if let Some(&input) = shared {
            out[input].0 = out[input].0.min(ranges[i].0);
            out[input].1 = out[input].1.max(ranges[i].1);
        }
    }
    out
}

fn widen(range: &mut (f32, f32), values: &[f32]) {
    for &v in values {
        range.0 = range.0.min(v);
        range.1 = range.1.max(v);
    }
}
