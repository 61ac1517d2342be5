//! `keras.losses.mean_squared_error`: `mean((y - p)², axis=-1)`.

pub(super) fn row(prediction: &[f32], target: &[f32], scale: f32, grad: &mut [f32]) -> f32 {
    let n = prediction.len() as f32;
    let mut sum = 0.0f32;
    for ((&p, &y), g) in prediction.iter().zip(target).zip(grad.iter_mut()) {
        let diff = y - p;
        sum += diff * diff;
        *g = scale * (-2.0 * diff / n);
    }
    sum / n
}
