//! A full-integer TensorFlow Lite model (what TensorFlow Lite Micro firmware runs) onto
//! kiln's graph: each operator of subgraph 0 becomes the kiln layer that computes the same
//! thing, with the weights in TensorFlow Lite's layouts (FULLY_CONNECTED `(out, in)`,
//! CONV_2D `(out, kh, kw, in)`, DEPTHWISE_CONV_2D `(kh, kw, in × multiplier)`), the tensors'
//! scales and zero points on kiln's nodes, and each layer's `requant` worked out here as the
//! TensorFlow Lite kernels work it out at their Prepare.
//!
//! A model whose tensors have batch 1 takes inputs of any batch size, one sample at a time.

use crate::formats::tflite::{
    Activation as Fused, BuiltinOp, Operator, Options, Padding as TfPadding, Subgraph, Tensor,
    TensorType, TfliteModel,
};
use crate::model::{HostGraph, HostModel};
use kiln::graph::{DType, LayerId, NodeId, Quant};
use kiln::kernels::int8::add::AddParams;
use kiln::kernels::int8::logistic::{self, LogisticParams};
use kiln::kernels::int8::mean::MeanParams;
use kiln::kernels::int8::relu::ReluParams;
use kiln::kernels::int8::softmax::SoftmaxParams;
use kiln::kernels::int8::tanh::{self, TanhParams};
use kiln::layers::*;
use kiln::ops::int8::{self, Flavor, Header, Requant};
use kiln::{Activation, Functional, Heap, Padding};
use std::collections::HashMap;

/// Why a `.tflite` model cannot become a kiln model.
#[derive(Debug, thiserror::Error)]
pub enum TfliteImportError {
    #[error("the model has no subgraph")]
    NoSubgraph,
    #[error("operator {index} ({op}) has no kiln kernel")]
    Unsupported { index: usize, op: String },
    #[error("operator {index} ({op}): {reason}")]
    Operator {
        index: usize,
        op: String,
        reason: String,
    },
    #[error("tensor {index} ('{name}'): {reason}")]
    Tensor {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("operator {index} ({op}): {error}")]
    Kiln {
        index: usize,
        op: String,
        error: Box<kiln::Error>,
    },
}

type Result<T> = std::result::Result<T, TfliteImportError>;

impl Default for TfliteOptions {
    fn default() -> Self {
        TfliteOptions {
            flavor: Flavor::LiteRtReference,
            every_tensor: false,
        }
    }
}

/// How the importer builds the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TfliteOptions {
    /// Whose integer arithmetic to reproduce: LiteRT's reference kernels (the default) or
    /// TensorFlow Lite Micro's.
    pub flavor: Flavor,
    /// Make every tensor an output (tests compare each against TensorFlow Lite's).
    pub every_tensor: bool,
}

/// An imported model, and which node holds each TensorFlow Lite tensor it computes.
#[derive(Debug)]
pub struct TfliteImport {
    pub model: HostGraph,
    /// `(tensor index in the .tflite, kiln node)` of each model output: the subgraph's
    /// outputs, or with [`TfliteOptions::every_tensor`] every tensor the model computes.
    pub tensors: Vec<(usize, NodeId)>,
}

/// Builds the kiln model of `model`'s subgraph 0.
pub fn import_tflite(model: &TfliteModel, options: TfliteOptions) -> Result<TfliteImport> {
    let graph = model
        .subgraphs
        .first()
        .ok_or(TfliteImportError::NoSubgraph)?;
    let mut b = Builder {
        sg: graph,
        ws: Functional::new(),
        nodes: HashMap::new(),
        order: Vec::new(),
        weights: Vec::new(),
        flavor: options.flavor,
    };
    let mut inputs = Vec::new();
    for &t in &graph.inputs {
        inputs.push(b.input(t)?);
    }
    for (index, op) in graph.operators.iter().enumerate() {
        b.operator(index, op)?;
    }
    let outputs: Vec<kiln::Tensor> = if options.every_tensor {
        b.order.iter().map(|&(_, t)| t).collect()
    } else {
        let mut outputs = Vec::new();
        for &t in &graph.outputs {
            outputs.push(b.tensor(t, "a model output")?);
        }
        outputs
    };
    let at_end = |error| TfliteImportError::Kiln {
        index: graph.operators.len(),
        op: "the model's outputs".into(),
        error: Box::new(error),
    };
    let kiln_graph: HostModel<'static> = b.ws.model(&inputs, &outputs).map_err(at_end)?;
    // Where each variable the file gives goes. The buffer is made only once every variable
    // of every layer is one of these, of its size: its size is kiln's, from the shapes,
    // which a hostile file can make any size (a Dense on a declared input of 2^25 values).
    let mut placed = Vec::new();
    let mut given = std::collections::HashSet::new();
    for (index, layer, vars) in &b.weights {
        let id = kiln_graph
            .all_layers()
            .iter()
            .position(|l| &l.name == layer);
        let Some(id) = id else {
            // The model keeps only the layers its outputs need.
            return Err(TfliteImportError::Operator {
                index: *index,
                op: layer.clone(),
                reason: "computes nothing the model's outputs need".into(),
            });
        };
        for (name, data) in vars {
            let range = kiln_graph
                .weight_range(id as LayerId, name)
                .filter(|r| r.len() == data.len())
                .ok_or_else(|| TfliteImportError::Operator {
                    index: *index,
                    op: layer.clone(),
                    reason: format!("variable {name} does not take {} bytes", data.len()),
                })?;
            placed.push((range, data));
            given.insert((Some(id), *name));
        }
    }
    for (id, layer) in kiln_graph.all_layers().iter().enumerate() {
        for spec in kiln_graph.layer_weights(id as LayerId) {
            if !given.contains(&(Some(id), spec.name)) {
                return Err(TfliteImportError::Operator {
                    index: graph.operators.len(),
                    op: "the model's weights".into(),
                    reason: format!(
                        "layer '{}' has a variable {} of shape {} that the file does not give",
                        layer.name, spec.name, spec.shape
                    ),
                });
            }
        }
    }
    let mut bytes = vec![0u8; kiln_graph.weight_bytes()];
    for (range, data) in placed {
        bytes[range].copy_from_slice(data);
    }
    // The model's outputs, in order, are the tensors asked for.
    let asked: Vec<usize> = if options.every_tensor {
        b.order.iter().map(|&(t, _)| t).collect()
    } else {
        graph.outputs.clone()
    };
    let tensors = asked
        .into_iter()
        .zip(kiln_graph.output_nodes().iter().copied())
        .collect();
    Ok(TfliteImport {
        model: HostGraph::from_bytes(kiln_graph, &bytes),
        tensors,
    })
}

/// One layer's variables, by name, in bytes: (operator index, layer name, variables).
type LayerWeights = (usize, String, Vec<(&'static str, Vec<u8>)>);

struct Builder<'m> {
    sg: &'m Subgraph,
    ws: Functional<'static, Heap>,
    /// The kiln tensor of each TensorFlow Lite tensor computed so far.
    nodes: HashMap<usize, kiln::Tensor>,
    order: Vec<(usize, kiln::Tensor)>,
    weights: Vec<LayerWeights>,
    flavor: Flavor,
}

/// One operator being mapped: its index and name, for errors.
struct At<'o> {
    index: usize,
    op: &'o Operator,
}

impl At<'_> {
    fn err(&self, reason: impl Into<String>) -> TfliteImportError {
        TfliteImportError::Operator {
            index: self.index,
            op: self.op.op.name().to_string(),
            reason: reason.into(),
        }
    }
}

/// The (scale, zero point) of a tensor quantized per tensor.
fn per_tensor(t: &Tensor) -> Option<(f32, i32)> {
    let q = t.quantization.as_ref()?;
    match (q.scale.as_slice(), q.zero_point.as_slice()) {
        ([scale], [zero_point]) => Some((*scale, i32::try_from(*zero_point).ok()?)),
        _ => None,
    }
}

fn activation(fused: Fused) -> Option<Activation> {
    match fused {
        Fused::None => Some(Activation::Linear),
        Fused::Relu => Some(Activation::Relu),
        Fused::Relu6 => Some(Activation::Relu6),
        _ => None,
    }
}

fn padding(p: TfPadding) -> Padding {
    match p {
        TfPadding::Same => Padding::Same,
        TfPadding::Valid => Padding::Valid,
    }
}

fn le_bytes<T: bytemuck::Pod>(values: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(values).to_vec()
}

impl<'m> Builder<'m> {
    fn tensor_info(&self, index: usize) -> Result<&'m Tensor> {
        self.sg
            .tensors
            .get(index)
            .ok_or_else(|| TfliteImportError::Tensor {
                index,
                name: String::new(),
                reason: "past the subgraph's tensors".into(),
            })
    }

    fn tensor(&self, index: usize, what: &str) -> Result<kiln::Tensor> {
        self.nodes.get(&index).copied().ok_or_else(|| {
            let name = self.sg.tensors.get(index).map_or("", |t| &t.name);
            TfliteImportError::Tensor {
                index,
                name: name.to_string(),
                reason: format!("{what} that no earlier operator computes"),
            }
        })
    }

    /// The per-sample dims of a tensor whose first axis is the batch of 1.
    fn sample_dims(&self, index: usize) -> Result<Vec<u32>> {
        let t = self.tensor_info(index)?;
        let bad = |reason: &str| TfliteImportError::Tensor {
            index,
            name: t.name.clone(),
            reason: reason.into(),
        };
        match t.shape.split_first() {
            Some((1, rest)) => rest
                .iter()
                .map(|&d| u32::try_from(d).map_err(|_| bad("has a negative axis")))
                .collect(),
            _ => Err(bad(
                "has no batch axis of 1 (kiln runs one sample at a time)",
            )),
        }
    }

    fn quant_of(&self, index: usize) -> Result<(DType, Quant)> {
        let t = self.tensor_info(index)?;
        let bad = |reason: String| TfliteImportError::Tensor {
            index,
            name: t.name.clone(),
            reason,
        };
        match t.dtype {
            TensorType::Float32 => Ok((DType::F32, Quant::None)),
            TensorType::Int8 => {
                let (scale, zero_point) = per_tensor(t)
                    .filter(|(s, z)| s.is_finite() && *s > 0.0 && (-128..=127).contains(z))
                    .ok_or_else(|| bad("is int8 without one valid scale and zero point".into()))?;
                Ok((DType::I8, Quant::PerTensor { scale, zero_point }))
            }
            other => Err(bad(format!(
                "is {}: kiln runs int8 and float32 tensors",
                other.name()
            ))),
        }
    }

    fn input(&mut self, index: usize) -> Result<kiln::Tensor> {
        let dims = self.sample_dims(index)?;
        let (dtype, quant) = self.quant_of(index)?;
        let t = self
            .ws
            .input(Input::new(&dims).dtype(dtype))
            .map_err(|error| TfliteImportError::Tensor {
                index,
                name: self.sg.tensors[index].name.clone(),
                reason: error.to_string(),
            })?;
        self.record(index, t, quant);
        Ok(t)
    }

    fn record(&mut self, index: usize, t: kiln::Tensor, quant: Quant) {
        self.nodes.insert(index, t);
        self.order.push((index, t));
        // Cannot fail: `t` was just made in this workspace.
        let _ = self.ws.set_quant(t, quant);
    }

    /// Creates `layer`, calls it on `inputs`, and records its output as tensor `output`.
    fn call(
        &mut self,
        at: &At<'_>,
        layer: impl Into<kiln::graph::LayerSpec<'static>>,
        inputs: &[kiln::Tensor],
        output: usize,
    ) -> Result<(String, kiln::Tensor)> {
        let kiln_err = |error| TfliteImportError::Kiln {
            index: at.index,
            op: at.op.op.name().to_string(),
            error: Box::new(error),
        };
        let id = self.ws.layer(layer).map_err(kiln_err)?;
        let t = self.ws.apply(id, inputs).map_err(kiln_err)?;
        self.check_shape(output, t)?;
        let (_, quant) = self.quant_of(output)?;
        self.record(output, t, quant);
        Ok((self.ws.layer_name(id).to_string(), t))
    }

    /// Checks that kiln's shape and dtype of `t` are the ones the file declares for tensor
    /// `index`: the importer reads operators' parameters (a mean's cell count, a depthwise
    /// convolution's input channels) from the declared shapes, and the quantization it
    /// records on `t` from the declared tensor, so they must be what runs.
    fn check_shape(&self, index: usize, t: kiln::Tensor) -> Result<()> {
        let info = self.tensor_info(index)?;
        let computed = self.ws.dtype(t);
        let declared_dtype = match info.dtype {
            TensorType::Int8 => Some(DType::I8),
            TensorType::Float32 => Some(DType::F32),
            _ => None,
        };
        if declared_dtype != Some(computed) {
            return Err(TfliteImportError::Tensor {
                index,
                name: info.name.clone(),
                reason: format!(
                    "is {} in the file, but kiln computes {computed} for it",
                    info.dtype.name()
                ),
            });
        }
        let declared = self.sample_dims(index)?;
        let shape = self.ws.shape(t);
        let inferred: Vec<Option<u32>> = (1..shape.rank()).map(|a| shape.dim(a)).collect();
        if inferred.len() != declared.len()
            || inferred.iter().zip(&declared).any(|(i, d)| *i != Some(*d))
        {
            let t = self.tensor_info(index)?;
            return Err(TfliteImportError::Tensor {
                index,
                name: t.name.clone(),
                reason: format!(
                    "has shape {:?} in the file, but kiln computes {shape} for it",
                    t.shape
                ),
            });
        }
        Ok(())
    }

    fn constant(&self, at: &At<'_>, k: usize, dtype: TensorType) -> Result<&'m Tensor> {
        let index = at
            .op
            .inputs
            .get(k)
            .copied()
            .flatten()
            .ok_or_else(|| at.err(format!("has no input {k}")))?;
        let t = self.tensor_info(index)?;
        if t.data.is_none() || t.dtype != dtype {
            return Err(at.err(format!(
                "input {k} ('{}') is not a constant {} tensor",
                t.name,
                dtype.name()
            )));
        }
        Ok(t)
    }

    fn output(&self, at: &At<'_>) -> Result<usize> {
        match at.op.outputs.as_slice() {
            [output] => Ok(*output),
            _ => Err(at.err("has more than one output")),
        }
    }

    /// The activation inputs: the operator's first `n`, each computed before.
    fn activations(&self, at: &At<'_>, n: usize) -> Result<Vec<kiln::Tensor>> {
        (0..n)
            .map(|k| {
                let index = at
                    .op
                    .inputs
                    .get(k)
                    .copied()
                    .flatten()
                    .ok_or_else(|| at.err(format!("has no input {k}")))?;
                self.tensor(index, "an input")
            })
            .collect()
    }

    fn scale(&self, at: &At<'_>, index: usize) -> Result<(f32, i32)> {
        per_tensor(self.tensor_info(index)?)
            .ok_or_else(|| at.err(format!("tensor {index} is not quantized per tensor")))
    }

    fn operator(&mut self, index: usize, op: &'m Operator) -> Result<()> {
        let at = At { index, op };
        match (&op.op, &op.options) {
            (BuiltinOp::Quantize, _) => self.simple(&at, Quantize),
            (BuiltinOp::Dequantize, _) => self.simple(&at, Dequantize),
            (
                BuiltinOp::FullyConnected,
                Options::FullyConnected {
                    activation: act,
                    keep_num_dims,
                    ..
                },
            ) => self.fully_connected(&at, *act, *keep_num_dims),
            (
                BuiltinOp::Conv2D,
                Options::Conv2D {
                    padding: p,
                    stride_w,
                    stride_h,
                    activation: act,
                    dilation_w,
                    dilation_h,
                },
            ) => {
                let filter = self.constant(&at, 1, TensorType::Int8)?;
                let [filters, kh, kw, _] = dims4(&at, &filter.shape)?;
                let conv = Conv2D::new(filters, pair(&at, kh, kw)?)
                    .strides(pair(&at, *stride_h, *stride_w)?)
                    .dilation_rate(pair(&at, *dilation_h, *dilation_w)?)
                    .padding(padding(*p));
                let requant = self.flavor.conv();
                self.with_kernel(&at, conv, *act, requant, filter, filters)
            }
            (
                BuiltinOp::DepthwiseConv2D,
                Options::DepthwiseConv2D {
                    padding: p,
                    stride_w,
                    stride_h,
                    activation: act,
                    dilation_w,
                    dilation_h,
                    ..
                },
            ) => {
                let filter = self.constant(&at, 1, TensorType::Int8)?;
                let [_, kh, kw, out] = dims4(&at, &filter.shape)?;
                let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                let channels = self.sample_dims(input)?.last().copied().unwrap_or(0);
                if channels == 0 || out % channels != 0 {
                    return Err(at.err(format!(
                        "{out} output channels from {channels} input channels"
                    )));
                }
                let conv = DepthwiseConv2D::new(pair(&at, kh, kw)?)
                    .depth_multiplier(out / channels)
                    .strides(pair(&at, *stride_h, *stride_w)?)
                    .dilation_rate(pair(&at, *dilation_h, *dilation_w)?)
                    .padding(padding(*p));
                let requant = self.flavor.conv();
                self.with_kernel(&at, conv, *act, requant, filter, out)
            }
            (BuiltinOp::Reshape, _) => {
                let output = self.output(&at)?;
                let dims: Vec<i32> = self
                    .sample_dims(output)?
                    .iter()
                    .map(|&d| d as i32)
                    .collect();
                let reshape =
                    Reshape::new(&dims).ok_or_else(|| at.err("a shape kiln cannot hold"))?;
                self.simple(&at, reshape)
            }
            (
                BuiltinOp::Concatenation,
                Options::Concatenation {
                    axis,
                    activation: act,
                },
            ) => {
                if *act != Fused::None {
                    return Err(at.err("a fused activation on a concatenation"));
                }
                let n = op.inputs.len();
                let inputs = self.activations(&at, n)?;
                let axis = i8::try_from(*axis).map_err(|_| at.err("an axis past the rank"))?;
                let output = self.output(&at)?;
                self.call(&at, Concatenate::new().axis(axis), &inputs, output)?;
                Ok(())
            }
            (
                BuiltinOp::MaxPool2D | BuiltinOp::AveragePool2D,
                Options::Pool2D {
                    padding: p,
                    stride_w,
                    stride_h,
                    filter_w,
                    filter_h,
                    activation: act,
                },
            ) => {
                let size = pair(&at, *filter_h, *filter_w)?;
                let strides = pair(&at, *stride_h, *stride_w)?;
                let header = self.header(&at, *act)?;
                if op.op == BuiltinOp::MaxPool2D {
                    let pool = MaxPooling2D::new(size)
                        .strides(strides)
                        .padding(padding(*p));
                    self.with_words(&at, pool, header, &[])
                } else {
                    let pool = AveragePooling2D::new(size)
                        .strides(strides)
                        .padding(padding(*p));
                    self.with_words(&at, pool, header, &[])
                }
            }
            (BuiltinOp::Relu | BuiltinOp::Relu6, _) => {
                let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                let output = self.output(&at)?;
                let (act, relu) = match op.op {
                    BuiltinOp::Relu => (Fused::Relu, ReLU::new()),
                    _ => (Fused::Relu6, ReLU::new().max_value(6.0)),
                };
                let header = self.header(&at, act)?;
                let params = ReluParams::new(
                    self.scale(&at, input)?,
                    self.scale(&at, output)?,
                    (header.act_min, header.act_max),
                    self.flavor.rounding(),
                );
                self.with_words(&at, relu, header, &params.to_words())
            }
            (BuiltinOp::Add, Options::Add { activation: act }) => {
                let inputs = self.activations(&at, 2)?;
                let ids: Vec<usize> = op
                    .inputs
                    .iter()
                    .take(2)
                    .map(|i| i.unwrap_or(usize::MAX))
                    .collect();
                let (a, b) = (self.scale(&at, ids[0])?, self.scale(&at, ids[1])?);
                let output = self.output(&at)?;
                let out = self.scale(&at, output)?;
                let header = self.header(&at, *act)?;
                let params = AddParams::with_rounding(
                    [a.0, b.0, out.0],
                    [a.1, b.1, out.1],
                    header.act_min,
                    header.act_max,
                    self.flavor.rounding(),
                )
                .ok_or_else(|| at.err("scales whose multipliers TensorFlow Lite refuses"))?;
                let (name, _) = self.call(&at, Add, &inputs, output)?;
                self.push_requant(at.index, name, header, &params.to_words());
                Ok(())
            }
            (BuiltinOp::Mean, Options::Reducer { keep_dims }) => {
                let axes = self.constant(&at, 1, TensorType::Int32)?;
                let axes: Vec<i32> = axes
                    .data
                    .as_deref()
                    .unwrap_or(&[])
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                let dims = self.sample_dims(input)?;
                if dims.len() != 3 || !(axes == [1, 2] || axes == [2, 1]) {
                    return Err(at.err(format!("a mean over axes {axes:?} of a rank-{} tensor (kiln averages height and width of images)", dims.len() + 1)));
                }
                let output = self.output(&at)?;
                let (s_in, z_in) = self.scale(&at, input)?;
                let (s_out, z_out) = self.scale(&at, output)?;
                let count = dims[0] as usize * dims[1] as usize;
                let params = MeanParams::with_rounding(
                    s_in,
                    z_in,
                    s_out,
                    z_out,
                    count,
                    self.flavor.rounding(),
                )
                .ok_or_else(|| {
                    at.err(format!(
                        "a mean over {count} cells per channel (kiln averages 1 to 2^31 - 1)"
                    ))
                })?;
                let header = self.header(&at, Fused::None)?;
                self.with_words(
                    &at,
                    GlobalAveragePooling2D::new().keepdims(*keep_dims),
                    header,
                    &params.to_words(),
                )
            }
            (BuiltinOp::Pad | BuiltinOp::PadV2, _) => {
                let paddings = self.constant(&at, 1, TensorType::Int32)?;
                let p: Vec<i32> = paddings
                    .data
                    .as_deref()
                    .unwrap_or(&[])
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let margin =
                    |v: i32| u16::try_from(v).map_err(|_| at.err(format!("a padding of {v}")));
                let padding = match p.as_slice() {
                    [0, 0, t, b, l, r, 0, 0] => {
                        [[margin(*t)?, margin(*b)?], [margin(*l)?, margin(*r)?]]
                    }
                    _ => {
                        return Err(
                            at.err(format!("paddings {p:?}: kiln pads height and width only"))
                        )
                    }
                };
                if op.op == BuiltinOp::PadV2 {
                    let value = self.constant(&at, 2, TensorType::Int8)?;
                    let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                    let (_, zero) = self.scale(&at, input)?;
                    let fill = value
                        .data
                        .as_deref()
                        .and_then(|d| d.first())
                        .map(|&b| b as i8 as i32);
                    if fill != Some(zero) {
                        return Err(at.err("a pad value other than the input's zero point"));
                    }
                }
                self.simple(&at, ZeroPadding2D::new(padding))
            }
            (BuiltinOp::Softmax, Options::Softmax { beta }) => {
                let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                let (s_in, _) = self.scale(&at, input)?;
                self.fixed_output(&at, 1.0 / 256.0, -128)?;
                let params = SoftmaxParams::with_rounding(s_in, *beta, self.flavor.rounding())
                    .ok_or_else(|| at.err(format!("beta {beta} with input scale {s_in}")))?;
                let header = self.header(&at, Fused::None)?;
                self.with_words(&at, Softmax, header, &params.to_words())
            }
            (BuiltinOp::Logistic | BuiltinOp::Tanh, _) => {
                if self.flavor != Flavor::LiteRtReference {
                    return Err(at.err("TensorFlow Lite Micro's fixed-point LOGISTIC and TANH are not in kiln (LiteRT's tables are)"));
                }
                let input = op.inputs.first().copied().flatten().unwrap_or(usize::MAX);
                let (s_in, z_in) = self.scale(&at, input)?;
                let header = self.header(&at, Fused::None)?;
                if op.op == BuiltinOp::Logistic {
                    self.fixed_output(&at, logistic::OUTPUT_SCALE, logistic::OUTPUT_ZERO_POINT)?;
                    let words = LogisticParams::new(s_in, z_in).to_words();
                    self.with_words(
                        &at,
                        kiln::layers::Activation::new(Activation::Sigmoid),
                        header,
                        &words,
                    )
                } else {
                    self.fixed_output(&at, tanh::OUTPUT_SCALE, tanh::OUTPUT_ZERO_POINT)?;
                    let words = TanhParams::new(s_in, z_in).to_words();
                    self.with_words(
                        &at,
                        kiln::layers::Activation::new(Activation::Tanh),
                        header,
                        &words,
                    )
                }
            }
            (op_kind, _) => Err(TfliteImportError::Unsupported {
                index,
                op: op_kind.name().to_string(),
            }),
        }
    }

    /// Checks the output has the fixed quantization TensorFlow Lite's kernel writes.
    fn fixed_output(&self, at: &At<'_>, scale: f32, zero_point: i32) -> Result<()> {
        let output = self.output(at)?;
        let found = self.scale(at, output)?;
        if found != (scale, zero_point) {
            return Err(at.err(format!(
                "output quantized with scale {} and zero point {}, not {scale} and {zero_point}",
                found.0, found.1
            )));
        }
        Ok(())
    }

    /// The `requant` header of the operator's output, clamped by `act`.
    fn header(&self, at: &At<'_>, act: Fused) -> Result<Header> {
        let output = self.output(at)?;
        let (scale, zero_point) = self.scale(at, output)?;
        let activation = activation(act)
            .ok_or_else(|| at.err(format!("fused activation {act:?} has no int8 kernel")))?;
        Header::new(self.flavor.conv(), 0, activation, scale, zero_point)
            .ok_or_else(|| at.err("an output scale that gives no activation range"))
    }

    /// A layer of one activation input whose only variable is `requant`: `header`, then
    /// `words`.
    fn with_words(
        &mut self,
        at: &At<'_>,
        layer: impl Into<kiln::graph::LayerSpec<'static>>,
        header: Header,
        words: &[i32],
    ) -> Result<()> {
        let inputs = self.activations(at, 1)?;
        let output = self.output(at)?;
        let (name, _) = self.call(at, layer, &inputs, output)?;
        self.push_requant(at.index, name, header, words);
        Ok(())
    }

    /// Records layer `name`'s `requant`: `header`, then `words`.
    fn push_requant(&mut self, index: usize, name: String, header: Header, words: &[i32]) {
        let mut requant = vec![0i32; int8::HEADER_WORDS + words.len()];
        int8::write_op_requant(&mut requant, header, words);
        self.weights
            .push((index, name, vec![("requant", le_bytes(&requant))]));
    }

    /// A layer of one activation input and no variables.
    fn simple(
        &mut self,
        at: &At<'_>,
        layer: impl Into<kiln::graph::LayerSpec<'static>>,
    ) -> Result<()> {
        let inputs = self.activations(at, 1)?;
        let output = self.output(at)?;
        self.call(at, layer, &inputs, output)?;
        Ok(())
    }

    fn fully_connected(&mut self, at: &At<'_>, act: Fused, keep_num_dims: bool) -> Result<()> {
        let filter = self.constant(at, 1, TensorType::Int8)?;
        let units = match filter.shape.as_slice() {
            [units, _] => *units as u32,
            _ => return Err(at.err("a filter that is not (units, depth)")),
        };
        let mut input = self.activations(at, 1)?[0];
        if self.ws.shape(input).rank() > 2 && !keep_num_dims {
            // TensorFlow Lite flattens what comes before the depth; with batch 1, that is
            // a Flatten (kiln keeps the batch axis apart).
            let kiln_err = |error| TfliteImportError::Kiln {
                index: at.index,
                op: at.op.op.name().to_string(),
                error: Box::new(error),
            };
            let quant = self.ws.quant(input);
            input = self.ws.call(Flatten, &[input]).map_err(kiln_err)?;
            let _ = self.ws.set_quant(input, quant);
        }
        let dense = Dense::new(units);
        let output = self.output(at)?;
        let requant = self.flavor.fully_connected();
        self.kernel_layer(at, dense, act, requant, filter, units, &[input], output)
    }

    fn with_kernel<L>(
        &mut self,
        at: &At<'_>,
        layer: L,
        act: Fused,
        requant: Requant,
        filter: &Tensor,
        channels: u32,
    ) -> Result<()>
    where
        L: WithKernel,
    {
        let inputs = self.activations(at, 1)?;
        let output = self.output(at)?;
        self.kernel_layer(at, layer, act, requant, filter, channels, &inputs, output)
    }

    /// A Dense or convolution: its kernel, bias and `requant` from the operator's
    /// tensors.
    #[allow(clippy::too_many_arguments)]
    fn kernel_layer<L: WithKernel>(
        &mut self,
        at: &At<'_>,
        layer: L,
        act: Fused,
        requant: Requant,
        filter: &Tensor,
        channels: u32,
        inputs: &[kiln::Tensor],
        output: usize,
    ) -> Result<()> {
        let activation = activation(act)
            .ok_or_else(|| at.err(format!("fused activation {act:?} has no int8 kernel")))?;
        let bias = match at.op.inputs.get(2).copied().flatten() {
            Some(_) => Some(self.constant(at, 2, TensorType::Int32)?),
            None => None,
        };
        let input_index = at
            .op
            .inputs
            .first()
            .copied()
            .flatten()
            .unwrap_or(usize::MAX);
        let (input_scale, _) = self.scale(at, input_index)?;
        let (output_scale, output_zero) = self.scale(at, output)?;
        let q = filter
            .quantization
            .as_ref()
            .ok_or_else(|| at.err("an unquantized filter"))?;
        let c = channels as usize;
        let (kernel_scales, flags) = match q.scale.len() {
            1 => (vec![q.scale[0]; c], int8::PER_TENSOR),
            n if n == c => (q.scale.clone(), 0),
            n => return Err(at.err(format!("{n} filter scales for {c} output channels"))),
        };
        if q.zero_point.iter().any(|&z| z != 0) {
            return Err(at.err("a filter with a zero point other than 0 (not symmetric)"));
        }
        let header = Header::new(requant, flags, activation, output_scale, output_zero)
            .ok_or_else(|| at.err("an activation with no int8 form"))?;
        let mut pairs = vec![0i32; 2 * q.scale.len()];
        if !L::multipliers(input_scale, &q.scale, output_scale, requant, &mut pairs) {
            return Err(at.err("filter scales that give no multiplier"));
        }
        let mut requant = vec![0i32; int8::HEADER_WORDS + 2 * c];
        int8::write_channel_requant(&mut requant, header, c, &pairs);
        let layer = layer.with(activation, bias.is_some());
        let (name, _) = self.call(at, layer, inputs, output)?;
        let mut vars = vec![("kernel", filter.data.clone().unwrap_or_default())];
        if let Some(bias) = bias {
            vars.push(("bias", bias.data.clone().unwrap_or_default()));
        }
        vars.push(("requant", le_bytes(&requant)));
        vars.push(("kernel_scale", le_bytes(&kernel_scales)));
        self.weights.push((at.index, name, vars));
        Ok(())
    }
}

/// A kernel size, window, stride or dilation as kiln holds it (`[rows, columns]`, 16-bit).
fn pair(at: &At<'_>, rows: u32, columns: u32) -> Result<[u16; 2]> {
    let one = |v: u32| {
        u16::try_from(v).map_err(|_| {
            at.err(format!(
                "a window, stride or dilation of {v}, over kiln's 65535"
            ))
        })
    };
    Ok([one(rows)?, one(columns)?])
}

fn dims4(at: &At<'_>, shape: &[i32]) -> Result<[u32; 4]> {
    match shape {
        [a, b, c, d] if shape.iter().all(|&x| x > 0) => {
            Ok([*a as u32, *b as u32, *c as u32, *d as u32])
        }
        _ => Err(at.err(format!("a filter of shape {shape:?}, not rank 4"))),
    }
}

/// The layers with a kernel: how the importer sets their activation and bias, and
/// works out their multipliers as the runtime being reproduced does.
trait WithKernel: Into<kiln::graph::LayerSpec<'static>> {
    fn with(self, activation: Activation, use_bias: bool) -> Self;

    /// The convolutions' (`PopulateConvolutionQuantizationParams`).
    fn multipliers(
        input: f32,
        filter: &[f32],
        output: f32,
        requant: Requant,
        out: &mut [i32],
    ) -> bool {
        kiln::kernels::int8::conv2d::multipliers(input, filter, output, requant, out)
    }
}

impl WithKernel for Dense {
    fn with(self, activation: Activation, use_bias: bool) -> Self {
        self.activation(activation).use_bias(use_bias)
    }

    fn multipliers(
        input: f32,
        filter: &[f32],
        output: f32,
        requant: Requant,
        out: &mut [i32],
    ) -> bool {
        kiln::kernels::int8::fully_connected::multipliers(input, filter, output, requant, out)
    }
}

impl WithKernel for Conv2D {
    fn with(self, activation: Activation, use_bias: bool) -> Self {
        self.activation(activation).use_bias(use_bias)
    }
}

impl WithKernel for DepthwiseConv2D {
    fn with(self, activation: Activation, use_bias: bool) -> Self {
        self.activation(activation).use_bias(use_bias)
    }
}
