//! Each tensor's scale and zero point, chosen as TensorFlow Lite's quantizer chooses them
//! (its float-scale path, the one the converter uses): asymmetric int8, the calibrated
//! range first extended to hold 0, every step in f32:
//!
//! ```text
//! min = min(min, 0); max = max(max, 0)
//! scale = (max − min) / 255
//! zero_point = round(−128 − min / scale)   (clamped to [−128, 127]; round: ties away from 0)
//! ```
//!
//! A range of nothing but zeros becomes `[−1e-6, 1e-6]` (what the converter gives such a
//! tensor). Outputs of fixed range have the converter's fixed quantization: softmax and
//! sigmoid 1/256 with zero point −128, tanh 1/128 with 0. A pad, reshape, flatten,
//! pooling window or concatenation moves values without changing them, and TensorFlow
//! Lite's int8 kernels for them need their inputs and output quantized alike: those
//! tensors form one group, quantized from the ranges TensorFlow Lite's quantizer keeps
//! for it ([`converter_sources`]: a concatenation's output range, say, for its inputs
//! too), or from the union of all the group's ranges.

use super::plan::Plan;
use super::{QuantizeError, Result};
use kiln::graph::LayerKind;
use kiln::Activation;

/// How a tensor's quantization was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// From its own calibrated range.
    Calibrated,
    /// TensorFlow Lite's fixed quantization of a softmax, sigmoid or tanh output.
    Fixed,
    /// Shared with the tensors of its group (the layers named), from their ranges'
    /// union.
    Shared(Vec<String>),
}

/// One tensor of the int8 model: the layer that computes it, its calibrated range and
/// its quantization.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorQuant {
    pub layer: String,
    pub class: &'static str,
    /// Its own range on the calibration set.
    pub min: f32,
    pub max: f32,
    pub scale: f32,
    pub zero_point: i32,
    pub rule: Rule,
}

/// TensorFlow Lite's asymmetric int8 scale and zero point for the range `[min, max]`.
pub fn asymmetric(min: f32, max: f32) -> (f32, i32) {
    let (mut min, mut max) = (min.min(0.0), max.max(0.0));
    if max - min == 0.0 {
        (min, max) = (-1e-6, 1e-6);
    }
    let (qmin, qmax) = (-128.0f32, 127.0f32);
    let scale = (max - min) / (qmax - qmin);
    let from_min = qmin - min / scale;
    let zero_point = if from_min < qmin {
        -128
    } else if from_min > qmax {
        127
    } else {
        from_min.round() as i32
    };
    (scale, zero_point)
}

/// The fixed output quantization of a softmax, sigmoid or tanh layer (the quantization
/// TensorFlow Lite's int8 kernels write).
pub fn fixed(kind: &LayerKind) -> Option<(f32, i32)> {
    use kiln::kernels::int8::{logistic, tanh};
    let softmax = (1.0 / 256.0, -128);
    match kind {
        LayerKind::Softmax(_) => Some(softmax),
        LayerKind::Activation(a) => match a.0 {
            Activation::Softmax => Some(softmax),
            Activation::Sigmoid => Some((logistic::OUTPUT_SCALE, logistic::OUTPUT_ZERO_POINT)),
            Activation::Tanh => Some((tanh::OUTPUT_SCALE, tanh::OUTPUT_ZERO_POINT)),
            _ => None,
        },
        _ => None,
    }
}

/// True for the layers whose int8 kernels keep their input's quantization.
pub fn keeps_quantization(kind: &LayerKind) -> bool {
    matches!(
        kind,
        LayerKind::Flatten(_)
            | LayerKind::Reshape(_)
            | LayerKind::ZeroPadding2D(_)
            | LayerKind::MaxPooling2D(_)
            | LayerKind::AveragePooling2D(_)
            | LayerKind::Concatenate(_)
    )
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Which tensors' ranges TensorFlow Lite's quantizer keeps where tensors must share one
/// quantization (its `RemoveRedundantStatsOps`): it drops the range of every output of a
/// one-input pad, reshape or pool (and of a fixed-range op), then, from each tensor
/// whose range it kept and that a pad, reshape, pool or concatenation computes, the
/// ranges of that op's inputs and of theirs, back through such ops. A group is then
/// quantized from the ranges that are left: a concatenation's output range, say, becomes
/// its inputs' (and their pad's and pool's inputs', a model input's included, which can
/// then clip).
pub fn converter_sources(plan: &Plan) -> Vec<bool> {
    let n = plan.ops.len();
    let mut dropped = vec![false; n];
    for (i, op) in plan.ops.iter().enumerate() {
        let one_input = keeps_quantization(&op.kind) && op.inputs.len() == 1;
        if one_input || fixed(&op.kind).is_some() {
            dropped[i] = true;
        }
    }
    let mut stack: Vec<usize> = (0..n).filter(|&i| !dropped[i]).collect();
    let mut visited = vec![false; n];
    while let Some(v) = stack.pop() {
        if std::mem::replace(&mut visited[v], true) || !keeps_quantization(&plan.ops[v].kind) {
            continue;
        }
        for &input in &plan.ops[v].inputs {
            dropped[input] = true;
            stack.push(input);
        }
    }
    dropped.iter().map(|d| !d).collect()
}

/// Every op's quantization, from the ranges to quantize from (`ranges`, per op of
/// `plan`); a group of tensors that share one quantization takes the union of its
/// members' ranges that `sources` marks (of all its members if it marks none). `own` are
/// the tensors' own ranges, for the record.
pub fn choose(
    plan: &Plan,
    own: &[(f32, f32)],
    ranges: &[(f32, f32)],
    sources: &[bool],
) -> Result<Vec<TensorQuant>> {
    let n = plan.ops.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for (i, op) in plan.ops.iter().enumerate() {
        if keeps_quantization(&op.kind) {
            for &input in &op.inputs {
                let (a, b) = (find(&mut parent, i), find(&mut parent, input));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    let empty = (f32::INFINITY, f32::NEG_INFINITY);
    let mut group_range = vec![empty; n];
    let mut all_range = vec![empty; n];
    let mut group_fixed: Vec<Option<(f32, i32, usize)>> = vec![None; n];
    for i in 0..n {
        let r = roots[i];
        let union = |a: (f32, f32), b: (f32, f32)| (a.0.min(b.0), a.1.max(b.1));
        all_range[r] = union(all_range[r], ranges[i]);
        if sources[i] {
            group_range[r] = union(group_range[r], ranges[i]);
        }
        if let Some((s, z)) = fixed(&plan.ops[i].kind) {
            match group_fixed[r] {
                Some((s0, z0, other)) if (s0, z0) != (s, z) => {
                    let op = &plan.ops[i];
                    return Err(QuantizeError::Layer {
                        layer: op.origin.layer.clone(),
                        class: op.origin.class,
                        reason: format!(
                            "its output must share one quantization with '{}', but the two have different fixed ranges",
                            plan.ops[other].origin.layer
                        ),
                    });
                }
                _ => group_fixed[r] = Some((s, z, i)),
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for (i, op) in plan.ops.iter().enumerate() {
        let r = roots[i];
        let members: Vec<String> = (0..n)
            .filter(|&j| roots[j] == r && j != i)
            .map(|j| plan.ops[j].name.clone())
            .collect();
        let ((scale, zero_point), rule) = match group_fixed[r] {
            Some((s, z, _)) if fixed(&op.kind).is_some() && members.is_empty() => {
                ((s, z), Rule::Fixed)
            }
            Some((s, z, _)) => ((s, z), Rule::Shared(members)),
            None => {
                let (lo, hi) = if group_range[r] == empty {
                    all_range[r]
                } else {
                    group_range[r]
                };
                let rule = if members.is_empty() {
                    Rule::Calibrated
                } else {
                    Rule::Shared(members)
                };
                (asymmetric(lo, hi), rule)
            }
        };
        out.push(TensorQuant {
            layer: op.name.clone(),
            class: op.kind.class_name(),
            min: own[i].0,
            max: own[i].1,
            scale,
            zero_point,
            rule,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_that_straddles_zero() {
        // [-1, 3]: scale 4/255; zero point −128 + 255/4 = −64.25 → −64.
        let (s, z) = asymmetric(-1.0, 3.0);
        assert_eq!(s, 4.0f32 / 255.0);
        assert_eq!(z, -64);
        // −128 + 1/(4/255) rounded: 255/4 = 63.75 exactly, so −64.25.
        assert_eq!((-128.0f32 + 1.0 / s).round() as i32, -64);
    }

    #[test]
    fn ranges_are_extended_to_hold_zero() {
        // All positive: [0, 2] → zero point −128; all negative: [−2, 0] → 127.
        assert_eq!(asymmetric(0.5, 2.0), (2.0 / 255.0, -128));
        assert_eq!(asymmetric(-2.0, -0.5), (2.0 / 255.0, 127));
        // ReLU6 saturated: exactly 6/255, as the converter's RELU6 outputs have.
        assert_eq!(asymmetric(0.0, 6.0).0, 0.023529412);
    }

    #[test]
    fn an_all_zero_tensor_gets_the_converters_tiny_range() {
        // The converter quantizes a tensor that is always 0 at 7.843137e-09, zero point 0.
        assert_eq!(asymmetric(0.0, 0.0), (7.843137e-9, 0));
    }

    #[test]
    fn the_converters_input_scales() {
        // tests/fixtures/int8: the calibration data's range and the model input's
        // quantization in model.tflite.
        assert_eq!(asymmetric(-2.632941, 2.9842014), (0.02202801, -8));
        assert_eq!(asymmetric(-3.6688764, 4.167373), (0.030730389, -9));
        assert_eq!(asymmetric(-4.484509, 3.9961796), (0.0332576, 7));
    }
}
