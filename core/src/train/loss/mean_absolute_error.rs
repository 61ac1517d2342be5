//! `keras.losses.mean_absolute_error`: `mean(|y - p|, axis=-1)`; the gradient of `|x|`
//! at 0 is 0, as in JAX.

pub(super) fn row(prediction: &[f32], target: &[f32], scale: f32, grad: &mut [f32]) -> f32 {
    let n = prediction.len() as f32;
    let mut sum = 0.0f32;
    for ((&p, &y), g) in prediction.iter().zip(target).zip(grad.iter_mut()) {
        let diff = y - p;
        sum += libm::fabsf(diff);
        let sign = if diff > 0.0 {
            -1.0
        } else if diff < 0.0 {
            1.0
        } else {
            0.0
        };
        *g = scale * sign / n;
    }
    sum / n
}
