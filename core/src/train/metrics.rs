//! Keras's metrics `accuracy`, `mae` and `mse`, computed on the same forward pass as
//! the loss (in fit: training mode, before the batch's update) and averaged over every
//! row of an epoch.

use super::Loss;

/// A metric as `compile(metrics=[…])` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `"accuracy"` (or `"acc"`), resolved for the output as Keras resolves it: a last
    /// axis of 1 gives binary accuracy (`p > 0.5`), class-index targets sparse
    /// categorical accuracy, anything else categorical accuracy (argmax against argmax,
    /// the first index on ties).
    Accuracy,
    /// `"binary_accuracy"`: `p > 0.5` against the target, per value.
    BinaryAccuracy,
    /// `"categorical_accuracy"`: argmax against argmax.
    CategoricalAccuracy,
    /// `"sparse_categorical_accuracy"`: argmax against the class index.
    SparseCategoricalAccuracy,
    /// `"mae"`: `mean(|y - p|, axis=-1)`.
    Mae,
    /// `"mse"`: `mean((y - p)², axis=-1)`.
    Mse,
}

impl Metric {
    /// The metric of a Keras name (`"accuracy"`, `"acc"`, `"mae"`, `"mse"`, and the long
    /// forms `"mean_absolute_error"`, `"mean_squared_error"`).
    pub fn from_keras_name(name: &str) -> Option<Metric> {
        Some(match name {
            "accuracy" | "acc" => Metric::Accuracy,
            "binary_accuracy" => Metric::BinaryAccuracy,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "mae" | "mean_absolute_error" => Metric::Mae,
            "mse" | "mean_squared_error" => Metric::Mse,
            _ => return None,
        })
    }

    /// The name Keras's logs give it when compiled with its short name.
    pub fn keras_name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::Mae => "mae",
            Metric::Mse => "mse",
        }
    }

    /// One row's value for an output trained with `loss`.
    pub(crate) fn row(&self, loss: Loss, prediction: &[f32], target: &[f32]) -> f32 {
        let n = prediction.len() as f32;
        match self {
            Metric::Mae => {
                let sum = prediction
                    .iter()
                    .zip(target)
                    .fold(0.0f32, |s, (p, y)| s + libm::fabsf(y - p));
                sum / n
            }
            Metric::Mse => {
                let sum = prediction
                    .iter()
                    .zip(target)
                    .fold(0.0f32, |s, (p, y)| s + (y - p) * (y - p));
                sum / n
            }
            Metric::Accuracy if prediction.len() == 1 && !loss.sparse() => {
                Metric::BinaryAccuracy.row(loss, prediction, target)
            }
            Metric::Accuracy if loss.sparse() => {
                Metric::SparseCategoricalAccuracy.row(loss, prediction, target)
            }
            Metric::Accuracy | Metric::CategoricalAccuracy => {
                f32::from(argmax(prediction) == argmax(target))
            }
            Metric::SparseCategoricalAccuracy => {
                let truth = target.first().map_or(usize::MAX, |&c| c as usize);
                f32::from(argmax(prediction) == truth)
            }
            Metric::BinaryAccuracy => {
                let hits = prediction.iter().zip(target).fold(0.0f32, |s, (&p, &y)| {
                    let predicted = if p > 0.5 { 1.0 } else { 0.0 };
                    s + f32::from(y == predicted)
                });
                hits / n
            }
        }
    }
}

/// The first index of the largest value.
fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_is_resolved_by_the_output_and_the_loss() {
        let cce = Loss::CategoricalCrossentropy { from_logits: false };
        let sparse = Loss::SparseCategoricalCrossentropy { from_logits: false };
        let bce = Loss::BinaryCrossentropy { from_logits: false };
        let acc = Metric::Accuracy;
        assert_eq!(acc.row(cce, &[0.2, 0.7, 0.1], &[0.0, 1.0, 0.0]), 1.0);
        assert_eq!(acc.row(cce, &[0.5, 0.5, 0.0], &[0.0, 1.0, 0.0]), 0.0); // first on ties
        assert_eq!(acc.row(sparse, &[0.2, 0.7, 0.1], &[1.0]), 1.0);
        assert_eq!(acc.row(bce, &[0.5], &[0.0]), 1.0); // strictly above 0.5
        assert_eq!(acc.row(bce, &[0.51], &[1.0]), 1.0);
        assert_eq!(Metric::Mae.row(cce, &[1.0, 2.0], &[0.0, 4.0]), 1.5);
        assert_eq!(Metric::Mse.row(cce, &[1.0, 2.0], &[0.0, 4.0]), 2.5);
    }
}
