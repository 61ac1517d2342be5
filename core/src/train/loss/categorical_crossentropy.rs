//! `keras.losses.categorical_crossentropy`, as the JAX backend computes it.
//!
//! Probabilities: `q = p / Σ p` (renormalised), `c = clip(q, ε, 1 - ε)`,
//! `loss = -Σ y · log c`; the gradient is 0 where the clip holds. Logits:
//! `loss = -Σ y · log_softmax(z)`, whose gradient is `softmax(z) · Σ y - y`.

use super::EPSILON;
use crate::kernels::math;

pub(super) fn row(
    prediction: &[f32],
    target: &[f32],
    from_logits: bool,
    scale: f32,
    grad: &mut [f32],
) -> f32 {
    let y = |i: usize| target.get(i).copied().unwrap_or(0.0);
    if from_logits {
        logits(prediction, y, scale, grad)
    } else {
        probabilities(prediction, y, scale, grad)
    }
}

/// From probabilities `p`; `y(i)` is the target of class `i`.
pub(super) fn probabilities(
    p: &[f32],
    y: impl Fn(usize) -> f32,
    scale: f32,
    grad: &mut [f32],
) -> f32 {
    let sum = p.iter().fold(0.0f32, |s, &p| s + p);
    let mut loss = 0.0f32;
    // g_i = dloss/dq_i, then dloss/dp_j = (g_j - Σ g_i q_i) / Σ p.
    let mut dot = 0.0f32;
    for (i, (&p, g)) in p.iter().zip(grad.iter_mut()).enumerate() {
        let q = p / sum;
        let c = q.clamp(EPSILON, 1.0 - EPSILON);
        loss -= y(i) * math::ln(c);
        *g = if q > EPSILON && q < 1.0 - EPSILON {
            -y(i) / c
        } else {
            0.0
        };
        dot += *g * q;
    }
    for g in grad.iter_mut() {
        *g = scale * ((*g - dot) / sum);
    }
    loss
}

/// From logits `z`; `y(i)` is the target of class `i`.
pub(super) fn logits(z: &[f32], y: impl Fn(usize) -> f32, scale: f32, grad: &mut [f32]) -> f32 {
    let m = z.iter().fold(f32::NEG_INFINITY, |m, &z| m.max(z));
    let sum = z.iter().fold(0.0f32, |s, &z| s + math::exp(z - m));
    let log_sum = math::ln(sum);
    let total = (0..z.len()).fold(0.0f32, |s, i| s + y(i));
    let mut loss = 0.0f32;
    for (i, (&z, g)) in z.iter().zip(grad.iter_mut()).enumerate() {
        let log_p = (z - m) - log_sum;
        loss -= y(i) * log_p;
        *g = scale * (math::exp(log_p) * total - y(i));
    }
    loss
}
