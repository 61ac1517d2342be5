//! `kiln predict`: Keras's `model.predict` on `.npy` inputs.

use crate::output::Out;
use anyhow::{bail, Context, Result};
use kiln::graph::{DType, Quant};
use kiln::ops::int8::Flavor;
use kiln::Shape;
use kiln_host::formats::npy::{self, NpyArray};
use kiln_host::load::load_model_with;
use kiln_host::qemu::Values;
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

    let mut inputs = read_inputs(model, input, graph.input_nodes().len())?;
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
    let (values, raw) = io.inputs(std::mem::take(&mut inputs.arrays), input)?;
    let mut arena = vec![0u8; plan.arena_bytes()];
    let shapes = Some(inputs.shapes.as_slice());
    let sizes: Vec<usize> = per_output.iter().map(|n| n * inputs.batch).collect();
    let results: Vec<Values> = match io.dtype {
        DType::I8 => {
            let ins: Vec<&[i8]> = values.iter().map(|v| v.as_i8().unwrap_or(&[])).collect();
            predict_all(&graph, shapes, &ins, &sizes, &mut arena)
                .map_err(|e| blame(e, model, input))?
                .into_iter()
                .map(Values::I8)
                .collect()
        }
        _ => {
            let ins: Vec<&[f32]> = values.iter().map(|v| v.as_f32().unwrap_or(&[])).collect();
            predict_all(&graph, shapes, &ins, &sizes, &mut arena)
                .map_err(|e| blame(e, model, input))?
                .into_iter()
                .map(Values::F32)
                .collect()
        }
    };
    for (j, values) in results.into_iter().enumerate() {
        let node = graph.output_nodes()[j] as usize;
        let mut dims = vec![inputs.batch];
        dims.extend(
            sample_shapes[node]
                .dims()
                .iter()
                .skip(1)
                .map(|d| d.unwrap_or(0) as usize),
        );
        match (io.output(j, values, raw), output.get(j)) {
            (values, Some(path)) => write_npy(path, &dims, &values)?,
            (Values::F32(v), None) => print_array(out, j, &dims, &v)?,
            (Values::I8(v), None) => print_array(out, j, &dims, &v)?,
        }
    }
    Ok(())
}

/// Runs `graph` on `inputs` of one element type, into outputs of `sizes` values.
fn predict_all<T: kiln::graph::Element + Default>(
    graph: &kiln_host::model::HostModel<'_>,
    shapes: Option<&[Shape]>,
    inputs: &[&[T]],
    sizes: &[usize],
    arena: &mut [u8],
) -> Result<Vec<Vec<T>>, kiln::Error> {
    let mut outs: Vec<Vec<T>> = sizes.iter().map(|&n| vec![T::default(); n]).collect();
    let mut slices: Vec<&mut [T]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    graph.predict_with_shapes(shapes, inputs, &mut slices, arena)?;
    Ok(outs)
}

/// Writes an output as float32 or int8 `.npy`.
pub fn write_npy(path: &Path, dims: &[usize], values: &Values) -> Result<()> {
    match values {
        Values::F32(v) => npy::write_f32(path, dims, v)?,
        Values::I8(v) => npy::write_i8(path, dims, v)?,
    }
    Ok(())
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

    /// The values a run of the model takes from `arrays` (read from `files`): an int8
    /// model takes int8 arrays as they are (`raw`: its outputs stay int8) and quantizes
    /// float32 ones with each input's scale and zero point (TensorFlow Lite's QUANTIZE);
    /// a float model refuses int8 arrays.
    pub fn inputs(&self, arrays: Vec<NpyArray>, files: &[PathBuf]) -> Result<(Vec<Values>, bool)> {
        if self.dtype != DType::I8 {
            if let Some(i) = arrays.iter().position(|a| a.int8.is_some()) {
                bail!(
                    "{}: int8 values for a float32 model input",
                    files[i].display()
                );
            }
            return Ok((
                arrays.into_iter().map(|a| Values::F32(a.data)).collect(),
                false,
            ));
        }
        let raw = arrays.iter().all(|a| a.int8.is_some());
        let values = arrays
            .into_iter()
            .zip(&self.inputs)
            .map(|(a, &(scale, zero_point))| match a.int8 {
                Some(v) if raw => Values::I8(v),
                _ => {
                    let mut q = vec![0i8; a.data.len()];
                    kiln::kernels::int8::quantize(&a.data, scale, zero_point, &mut q);
                    Values::I8(q)
                }
            })
            .collect();
        Ok((values, raw))
    }

    /// Output `j` as the user gets it: an int8 model's dequantized to float32 unless the
    /// inputs were `raw` int8.
    pub fn output(&self, j: usize, values: Values, raw: bool) -> Values {
        match values {
            Values::I8(v) if !raw => {
                let (scale, zero_point) = self.outputs.get(j).copied().unwrap_or((1.0, 0));
                let mut f = vec![0f32; v.len()];
                kiln::kernels::int8::dequantize(&v, scale, zero_point, &mut f);
                Values::F32(f)
            }
            values => values,
        }
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
