//! `kiln predict`: Keras's `model.predict` on `.npy` inputs.

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln::graph::{DType, Quant};
use kiln::ops::int8::Flavor;
use kiln::Shape;
use kiln_host::formats::npy::{self, NpyArray};
use kiln_host::load::load_model_with;
use std::path::{Path, PathBuf};

/// Inputs read and checked against a model: one array per model input, one batch size.
pub struct Inputs {
    pub arrays: Vec<NpyArray>,
    /// Each array's shape, batch axis first, as the model sees it.
    pub shapes: Vec<Shape>,
    pub batch: usize,
}

/// Reads one `.npy` per model input and checks what can be checked without running.
pub fn read_inputs(model: &Path, files: &[PathBuf], expected: usize) -> Result<Inputs> {
    if files.len() != expected {
        bail!(
            "{}: the model has {expected} input(s) but {} --input file(s) were given",
            model.display(),
            files.len()
        );
    }
    let arrays = files
        .iter()
        .map(npy::read_f32)
        .collect::<Result<Vec<_>, _>>()?;
    let mut shapes = Vec::new();
    for (path, array) in files.iter().zip(&arrays) {
        if array.shape.is_empty() {
            bail!(
                "{}: a 0-d array has no batch axis; predict takes one array per input, shaped (batch, …)",
                path.display()
            );
        }
        let mut dims = Vec::new();
        for (axis, &d) in array.shape.iter().enumerate() {
            match u32::try_from(d).ok().filter(|&d| d < u32::MAX) {
                Some(d) => dims.push(Some(d)),
                None => bail!(
                    "{}: axis {axis} has {d} entries, more than kiln handles ({})",
                    path.display(),
                    u32::MAX - 1
                ),
            }
        }
        let shape = Shape::new(&dims).with_context(|| {
            format!(
                "{}: rank {} is above kiln's limit of {}",
                path.display(),
                dims.len(),
                kiln::shape::MAX_RANK
            )
        })?;
        shapes.push(shape);
    }
    let batch = arrays[0].shape[0];
    for (path, array) in files.iter().zip(&arrays) {
        if array.shape[0] != batch {
            bail!(
                "{}: batch size {} differs from the first input's {batch}",
                path.display(),
                array.shape[0]
            );
        }
    }
    Ok(Inputs {
        arrays,
        shapes,
        batch,
    })
}

/// Names the file a kiln error is about: the input it names, else the model.
pub fn blame(error: kiln::Error, model: &Path, inputs: &[PathBuf]) -> anyhow::Error {
    let file = match &error {
        kiln::Error::InputShape { index, .. } => inputs.get(*index).map_or(model, |p| p),
        _ => model,
    };
    anyhow::Error::new(error).context(file.display().to_string())
}

pub fn run(
    model: &Path,
    input: &[PathBuf],
    output: &[PathBuf],
    flavor: Flavor,
    out: &mut Out,
) -> Result<()> {
    let host = load_model_with(model, flavor)?;
    if !host.has_weights() {
        bail!(
            "{}: the file has no weights (a bare model config); predict needs a .keras archive",
            model.display()
        );
    }
    let graph = host.graph().map_err(|e| blame(e, model, input))?;
    let n_out = graph.output_nodes().len();
    if !output.is_empty() && output.len() != n_out {
        bail!(
            "{}: the model has {n_out} output(s) but {} --output file(s) were given",
            model.display(),
            output.len()
        );
    }
    let mut reads = vec![("the model", model)];
    reads.extend(input.iter().map(|p| ("an --input", p.as_path())));
    let writes: Vec<(&str, &Path)> = output.iter().map(|p| ("--output", p.as_path())).collect();
    crate::paths::check_outputs(&reads, &writes)?;

    let inputs = read_inputs(model, input, graph.input_nodes().len())?;
    let plan = graph
        .plan(Some(&inputs.shapes))
        .map_err(|e| blame(e, model, input))?;
    let sample_shapes = graph
        .sample_shapes(Some(&inputs.shapes))
        .map_err(|e| blame(e, model, input))?;
    // Sizes come from the files: refuse what this machine should not try to allocate.
    const LIMIT: usize = 4 << 30;
    let per_output: Vec<usize> = graph
        .output_nodes()
        .iter()
        .map(|&n| sample_shapes[n as usize].sample_elements().unwrap_or(0))
        .collect();
    let output_values = per_output
        .iter()
        .map(|n| n.saturating_mul(inputs.batch))
        .fold(0, usize::saturating_add);
    if plan.arena_bytes() > LIMIT || output_values > LIMIT / 4 {
        bail!(
            "{}: running this model needs {} bytes of arena and {} output values, more than kiln predict allocates ({LIMIT} bytes)",
            model.display(),
            plan.arena_bytes(),
            output_values
        );
    }
    let io = Io::of(&graph, model)?;
    let mut arena = vec![0u8; plan.arena_bytes()];
    let results = match io.dtype {
        DType::I8 => {
            let raw = inputs.arrays.iter().all(|a| a.int8.is_some());
            let values: Vec<Vec<i8>> = inputs
                .arrays
                .iter()
                .zip(&io.inputs)
                .map(|(a, &(scale, zero_point))| match (&a.int8, raw) {
                    (Some(v), true) => v.clone(),
                    _ => {
                        let mut q = vec![0i8; a.data.len()];
                        kiln::kernels::int8::quantize(&a.data, scale, zero_point, &mut q);
                        q
                    }
                })
                .collect();
            let mut buffers: Vec<Vec<i8>> = per_output
                .iter()
                .map(|n| vec![0; n * inputs.batch])
                .collect();
            {
                let ins: Vec<&[i8]> = values.iter().map(Vec::as_slice).collect();
                let mut outs: Vec<&mut [i8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
                run_typed(&graph, &inputs.shapes, &ins, &mut outs, &mut arena)
                    .map_err(|e| blame(e, model, input))?;
            }
            if raw {
                Results::I8(buffers)
            } else {
                let floats = buffers
                    .iter()
                    .zip(&io.outputs)
                    .map(|(b, &(scale, zero_point))| {
                        let mut f = vec![0f32; b.len()];
                        kiln::kernels::int8::dequantize(b, scale, zero_point, &mut f);
                        f
                    })
                    .collect();
                Results::F32(floats)
            }
        }
        _ => {
            if let Some((i, _)) = inputs
                .arrays
                .iter()
                .enumerate()
                .find(|(_, a)| a.int8.is_some())
            {
                bail!(
                    "{}: int8 values for a float32 model input",
                    input[i].display()
                );
            }
            let mut buffers: Vec<Vec<f32>> = per_output
                .iter()
                .map(|n| vec![0.0; n * inputs.batch])
                .collect();
            {
                let ins: Vec<&[f32]> = inputs.arrays.iter().map(|a| a.data.as_slice()).collect();
                let mut outs: Vec<&mut [f32]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
                run_typed(&graph, &inputs.shapes, &ins, &mut outs, &mut arena)
                    .map_err(|e| blame(e, model, input))?;
            }
            Results::F32(buffers)
        }
    };
    for j in 0..n_out {
        let node = graph.output_nodes()[j] as usize;
        let mut dims = vec![inputs.batch];
        dims.extend(
            sample_shapes[node]
                .dims()
                .iter()
                .skip(1)
                .map(|d| d.unwrap_or(0) as usize),
        );
        match (&results, output.get(j)) {
            (Results::F32(b), Some(path)) => npy::write_f32(path, &dims, &b[j])?,
            (Results::I8(b), Some(path)) => npy::write_i8(path, &dims, &b[j])?,
            (Results::F32(b), None) => print_array(out, j, &dims, &b[j])?,
            (Results::I8(b), None) => print_array(out, j, &dims, &b[j])?,
        }
    }
    Ok(())
}

/// What `predict` gives: float32 values, or an int8 model's raw int8 values.
enum Results {
    F32(Vec<Vec<f32>>),
    I8(Vec<Vec<i8>>),
}

fn run_typed<T: kiln::graph::Element>(
    graph: &kiln_host::model::HostModel<'_>,
    shapes: &[Shape],
    inputs: &[&[T]],
    outputs: &mut [&mut [T]],
    arena: &mut [u8],
) -> Result<(), kiln::Error> {
    graph
        .predict_with_shapes(Some(shapes), inputs, outputs, arena)
        .map(|_| ())
}

/// A model's input and output dtype, and the quantization of each, for an int8 model.
pub struct Io {
    pub dtype: DType,
    pub inputs: Vec<(f32, i32)>,
    pub outputs: Vec<(f32, i32)>,
}

impl Io {
    /// The dtype every input and output of `graph` has (predict takes and gives one).
    pub fn of(graph: &kiln_host::model::HostModel<'_>, model: &Path) -> Result<Io> {
        let tensor = |n: kiln::graph::NodeId| {
            let node = &graph.nodes()[graph.resolve(n) as usize];
            let q = match node.quant {
                Quant::PerTensor { scale, zero_point } => (scale, zero_point),
                _ => (1.0, 0),
            };
            (node.dtype, q)
        };
        let ins: Vec<_> = graph.input_nodes().iter().map(|&n| tensor(n)).collect();
        let outs: Vec<_> = graph.output_nodes().iter().map(|&n| tensor(n)).collect();
        let dtype = ins.first().map_or(DType::F32, |t| t.0);
        if let Some(other) = ins.iter().chain(&outs).find(|t| t.0 != dtype) {
            bail!(
                "{}: the model mixes {dtype} and {} inputs and outputs; kiln predict runs models whose inputs and outputs share one dtype",
                model.display(),
                other.0
            );
        }
        Ok(Io {
            dtype,
            inputs: ins.iter().map(|t| t.1).collect(),
            outputs: outs.iter().map(|t| t.1).collect(),
        })
    }
}

/// Prints one output: its shape, then one line per sample.
fn print_array<T: std::fmt::Debug>(
    out: &mut Out,
    index: usize,
    dims: &[usize],
    data: &[T],
) -> Result<()> {
    let shape: Vec<String> = dims.iter().map(ToString::to_string).collect();
    out.line(format_args!("output {index}: shape ({})", shape.join(", ")))?;
    let per_sample = dims.iter().skip(1).product::<usize>().max(1);
    for row in data.chunks(per_sample) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        out.line(format_args!("[{}]", values.join(", ")))?;
    }
    Ok(())
}
