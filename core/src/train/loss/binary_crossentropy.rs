//! `keras.losses.binary_crossentropy`, as the JAX backend computes it: the mean over
//! the last axis of `-(y log p + (1 - y) log(1 - p))` with `p` clipped to `[ε, 1 - ε]`
//! (gradient 0 where the clip holds), or for logits
//! `-y · log_sigmoid(z) - (1 - y) · log_sigmoid(-z)`, whose gradient is `sigmoid(z) - y`.

use super::EPSILON;
use crate::kernels::activation::sigmoid;
use crate::kernels::math;

pub(super) fn row(
    prediction: &[f32],
    target: &[f32],
    from_logits: bool,
    scale: f32,
    grad: &mut [f32],
) -> f32 {
    let n = prediction.len() as f32;
    let mut sum = 0.0f32;
    for ((&p, &y), g) in prediction.iter().zip(target).zip(grad.iter_mut()) {
        if from_logits {
            sum += -y * log_sigmoid(p) - (1.0 - y) * log_sigmoid(-p);
            *g = scale * (sigmoid(p) - y) / n;
        } else {
            let c = p.clamp(EPSILON, 1.0 - EPSILON);
            let mut bce = y * math::ln(c);
            bce += (1.0 - y) * math::ln(1.0 - c);
            sum += -bce;
            let inside = p > EPSILON && p < 1.0 - EPSILON;
            *g = if inside {
                scale * (-(y / c) + (1.0 - y) / (1.0 - c)) / n
            } else {
                0.0
            };
        }
    }
    sum / n
}

/// `jax.nn.log_sigmoid(x) = -softplus(-x)`.
fn log_sigmoid(x: f32) -> f32 {
    -crate::kernels::activation::softplus(-x)
}
