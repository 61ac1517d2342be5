//! The int8 graph: the plan's layers on int8 tensors (int8 inputs and outputs, as the
//! converter makes them with `inference_input_type=int8`), each tensor's scale and zero
//! point on its node, and each layer's variables made as the runtime reads them: the
//! kernel in TensorFlow Lite's layout, the int32 bias, `requant` (a header, then the op's
//! words, from the core's own functions: `multipliers`, `MeanParams`, `AddParams`,
//! `ReluParams`) and `kernel_scale`. This mirrors how the `.tflite` importer builds int8
//! graphs from a converter's model.

use super::calibrate::{layer_id, Calibrated};
use super::params::TensorQuant;
use super::plan::{Op, Plan};
use super::weights::{channel_first, quantize_kernel};
use super::{Granularity, QuantizeError, QuantizeOptions, Result};
use crate::model::{HostGraph, HostModel};
use kiln::graph::{DType, LayerKind, LayerSpec, Quant};
use kiln::kernels::int8::add::AddParams;
use kiln::kernels::int8::logistic::LogisticParams;
use kiln::kernels::int8::mean::MeanParams;
use kiln::kernels::int8::relu::ReluParams;
use kiln::kernels::int8::softmax::SoftmaxParams;
use kiln::kernels::int8::tanh::TanhParams;
use kiln::ops::int8::{self, Flavor, Header, Requant};
use kiln::{Activation, Functional, Heap};

/// The int8 model and its tensors' quantization.
pub struct Built {
    pub model: HostGraph,
    pub tensors: Vec<TensorQuant>,
}

/// True for the int8 layers whose variables the quantizer makes.
pub fn makes_params(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::InputLayer(_)
            | LayerKind::Dense(_)
            | LayerKind::Conv2D(_)
            | LayerKind::DepthwiseConv2D(_)
            | LayerKind::MaxPooling2D(_)
            | LayerKind::AveragePooling2D(_)
            | LayerKind::GlobalAveragePooling2D(_)
            | LayerKind::Merge(kiln::MergeOp::Add)
            | LayerKind::ReLU(_)
            | LayerKind::Softmax(_)
            | LayerKind::Concatenate(_)
            | LayerKind::Flatten(_)
            | LayerKind::Reshape(_)
            | LayerKind::ZeroPadding2D(_)
    ) || matches!(kind, LayerKind::Activation(a) if matches!(
        a.0,
        Activation::Sigmoid | Activation::Tanh | Activation::Softmax | Activation::Relu | Activation::Relu6
    ))
}

/// The int8 configuration of an op: a Dense's or convolution's fused activation and
/// bias; the others as they are.
fn int8_kind(op: &Op) -> LayerKind {
    match op.kind {
        LayerKind::InputLayer(mut input) => {
            input.dtype = DType::I8;
            LayerKind::InputLayer(input)
        }
        _ => op.kind_with_post().0,
    }
}

/// Builds the int8 model of `plan` with the quantization `quants` (per op).
pub fn build(
    plan: &Plan,
    calibrated: &Calibrated,
    quants: &[TensorQuant],
    options: &QuantizeOptions,
) -> Result<Built> {
    let mut ws: Functional<'static, Heap> = Functional::new();
    let mut tensors = Vec::with_capacity(plan.ops.len());
    for (op, q) in plan.ops.iter().zip(quants) {
        let spec = LayerSpec::new(int8_kind(op)).name(&op.name);
        let err = |e| QuantizeError::kiln(format!("the int8 layer '{}'", op.name), e);
        let t = if op.is_input() {
            ws.input(spec).map_err(err)?
        } else {
            let inputs: Vec<kiln::Tensor> = op.inputs.iter().map(|&i| tensors[i]).collect();
            ws.call(spec, &inputs).map_err(err)?
        };
        let quant = Quant::PerTensor {
            scale: q.scale,
            zero_point: q.zero_point,
        };
        ws.set_quant(t, quant).map_err(err)?;
        tensors.push(t);
    }
    let inputs: Vec<kiln::Tensor> = plan.inputs.iter().map(|&i| tensors[i]).collect();
    let outputs: Vec<kiln::Tensor> = plan.outputs.iter().map(|&i| tensors[i]).collect();
    let model: HostModel<'static> = ws
        .model_named(&plan.name, &inputs, &outputs)
        .map_err(|e| QuantizeError::kiln("the int8 model", e))?;
    let mut bytes = vec![0u8; model.weight_bytes()];
    for (i, op) in plan.ops.iter().enumerate() {
        if op.is_input() {
            continue;
        }
        let vars = variables(plan, i, calibrated, quants, options)?;
        let layer = layer_id(&model, &op.name)?;
        let class = model.all_layers()[layer as usize].class_name();
        for spec in model.layer_weights(layer).iter() {
            let range = model.weight_range(layer, spec.name).unwrap_or(0..0);
            let data = vars.iter().find(|(n, _)| *n == spec.name).map(|v| &v.1);
            match data {
                Some(data) if data.len() == range.len() => bytes[range].copy_from_slice(data),
                _ => {
                    return Err(QuantizeError::Variable {
                        layer: op.name.clone(),
                        class,
                        name: spec.name.to_string(),
                        expected: range.len(),
                        found: data.map_or(0, Vec::len),
                    })
                }
            }
        }
    }
    Ok(Built {
        model: HostGraph::from_bytes(model, &bytes),
        tensors: quants.to_vec(),
    })
}

fn le_bytes<T: bytemuck::Pod>(values: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(values).to_vec()
}

type Vars = Vec<(&'static str, Vec<u8>)>;

/// The variables of op `i`'s int8 layer, by name.
fn variables(
    plan: &Plan,
    i: usize,
    calibrated: &Calibrated,
    quants: &[TensorQuant],
    options: &QuantizeOptions,
) -> Result<Vars> {
    let op = &plan.ops[i];
    let q = |j: usize| (quants[j].scale, quants[j].zero_point);
    let (out_scale, out_zero) = q(i);
    let flavor = options.flavor;
    let fail = |reason: String| QuantizeError::Layer {
        layer: op.origin.layer.clone(),
        class: op.origin.class,
        reason,
    };
    // The header of a layer without a kernel, its output clamped by `activation`.
    let header = |activation: Activation| {
        Header::new(flavor.conv(), 0, activation, out_scale, out_zero).ok_or_else(|| {
            fail(format!(
                "output scale {out_scale} gives no int8 clamp for its activation"
            ))
        })
    };
    let requant = |header: Header, words: &[i32]| {
        let mut out = vec![0i32; int8::HEADER_WORDS + words.len()];
        int8::write_op_requant(&mut out, header, words);
        vec![("requant", le_bytes(&out))]
    };
    let input = op.inputs.first().copied();
    // TensorFlow Lite's SOFTMAX (beta 1): its parameters come from the input's scale.
    let softmax = || {
        let input = input.ok_or_else(|| fail("has no input".into()))?;
        let params =
            SoftmaxParams::with_rounding(q(input).0, 1.0, flavor.rounding()).ok_or_else(|| {
                fail(format!(
                    "an input scale ({}) TensorFlow Lite's softmax refuses",
                    q(input).0
                ))
            })?;
        Ok(requant(header(Activation::Linear)?, &params.to_words()))
    };
    match op.kind {
        LayerKind::Dense(_) | LayerKind::Conv2D(_) | LayerKind::DepthwiseConv2D(_) => {
            let kernel = op
                .kernel
                .as_ref()
                .ok_or_else(|| fail("has no kernel".into()))?;
            let (in_scale, _) = q(input.unwrap_or(i));
            let dense = matches!(op.kind, LayerKind::Dense(_));
            let per_tensor = match options.weights {
                Granularity::PerChannel => false,
                Granularity::PerTensorDense => dense,
                Granularity::PerTensor => true,
            };
            let c = kernel.channels;
            let qk = quantize_kernel(
                &kernel.kernel,
                kernel.bias.as_deref(),
                c,
                per_tensor,
                in_scale,
            );
            let values = match op.kind {
                LayerKind::DepthwiseConv2D(_) => qk.values,
                _ => channel_first(&qk.values, c),
            };
            let requant: Requant = if dense {
                flavor.fully_connected()
            } else {
                flavor.conv()
            };
            let flags = if per_tensor { int8::PER_TENSOR } else { 0 };
            let header = Header::new(requant, flags, op.post, out_scale, out_zero)
                .ok_or_else(|| fail(format!("output scale {out_scale} gives no int8 clamp")))?;
            let filter_scales = if per_tensor {
                &qk.scales[..1]
            } else {
                &qk.scales[..]
            };
            let mut pairs = vec![0i32; 2 * filter_scales.len()];
            let made = if dense {
                kiln::kernels::int8::fully_connected::multipliers(
                    in_scale,
                    filter_scales,
                    out_scale,
                    requant,
                    &mut pairs,
                )
            } else {
                kiln::kernels::int8::conv2d::multipliers(
                    in_scale,
                    filter_scales,
                    out_scale,
                    requant,
                    &mut pairs,
                )
            };
            let mut words = vec![0i32; int8::HEADER_WORDS + 2 * c];
            if !made || !int8::write_channel_requant(&mut words, header, c, &pairs) {
                return Err(fail("kernel scales that give no multipliers".into()));
            }
            let mut vars = vec![("kernel", le_bytes(&values))];
            if let Some(bias) = &qk.bias {
                vars.push(("bias", le_bytes(bias)));
            }
            vars.push(("requant", le_bytes(&words)));
            vars.push(("kernel_scale", le_bytes(&qk.scales)));
            Ok(vars)
        }
        LayerKind::MaxPooling2D(_) | LayerKind::AveragePooling2D(_) => {
            Ok(requant(header(op.post)?, &[]))
        }
        LayerKind::GlobalAveragePooling2D(_) => {
            let input = input.ok_or_else(|| fail("has no input".into()))?;
            let (in_scale, in_zero) = q(input);
            let shape = calibrated.shapes[input];
            let count = (1..shape.rank().saturating_sub(1))
                .map(|a| shape.dim(a).unwrap_or(0) as usize)
                .product();
            let params = MeanParams::with_rounding(
                in_scale,
                in_zero,
                out_scale,
                out_zero,
                count,
                flavor.rounding(),
            )
            .ok_or_else(|| fail(format!("an average over {count} cells")))?;
            Ok(requant(header(Activation::Linear)?, &params.to_words()))
        }
        LayerKind::Merge(kiln::MergeOp::Add) => {
            let [a, b] = op.inputs[..] else {
                return Err(fail(format!(
                    "{} inputs (the int8 Add takes two)",
                    op.inputs.len()
                )));
            };
            let header = header(op.post)?;
            let params = AddParams::with_rounding(
                [q(a).0, q(b).0, out_scale],
                [q(a).1, q(b).1, out_zero],
                header.act_min,
                header.act_max,
                flavor.rounding(),
            )
            .ok_or_else(|| fail("scales whose multipliers TensorFlow Lite refuses".into()))?;
            Ok(requant(header, &params.to_words()))
        }
        LayerKind::Softmax(_) => softmax(),
        LayerKind::Activation(a) if a.0 == Activation::Softmax => softmax(),
        LayerKind::Activation(a) if matches!(a.0, Activation::Sigmoid | Activation::Tanh) => {
            if flavor != Flavor::LiteRtReference {
                return Err(fail(
                    "TensorFlow Lite Micro's fixed-point LOGISTIC and TANH are not in kiln (LiteRT's tables are)".into(),
                ));
            }
            let (in_scale, in_zero) = q(input.ok_or_else(|| fail("has no input".into()))?);
            let words = match a.0 {
                Activation::Sigmoid => LogisticParams::new(in_scale, in_zero).to_words(),
                _ => TanhParams::new(in_scale, in_zero).to_words(),
            };
            Ok(requant(header(Activation::Linear)?, &words))
        }
        LayerKind::ReLU(_) | LayerKind::Activation(_) => {
            let input = input.ok_or_else(|| fail("has no input".into()))?;
            let clamp = match op.kind {
                LayerKind::ReLU(r) if r.max_value.is_some() => Activation::Relu6,
                LayerKind::Activation(a) => a.0,
                _ => Activation::Relu,
            };
            let header = header(clamp)?;
            let params = ReluParams::new(
                q(input),
                (out_scale, out_zero),
                (header.act_min, header.act_max),
                flavor.rounding(),
            );
            Ok(requant(header, &params.to_words()))
        }
        LayerKind::Concatenate(_)
        | LayerKind::Flatten(_)
        | LayerKind::Reshape(_)
        | LayerKind::ZeroPadding2D(_) => Ok(Vec::new()),
        _ => Err(QuantizeError::NotHandled {
            layer: op.origin.layer.clone(),
            class: op.origin.class,
        }),
    }
}
