//! `keras.losses.sparse_categorical_crossentropy`: the class index made one-hot, then
//! [`categorical_crossentropy`](super::categorical_crossentropy).

use super::categorical_crossentropy::{logits, probabilities};

pub(super) fn row(
    prediction: &[f32],
    class: usize,
    from_logits: bool,
    scale: f32,
    grad: &mut [f32],
) -> f32 {
    let one_hot = |i: usize| if i == class { 1.0 } else { 0.0 };
    if from_logits {
        logits(prediction, one_hot, scale, grad)
    } else {
        probabilities(prediction, one_hot, scale, grad)
    }
}
