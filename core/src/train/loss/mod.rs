//! Keras's losses, one file each, with Keras's default reduction
//! (`"sum_over_batch_size"`): each row of the last axis gives one value (the loss's own
//! mean over that axis), and the batch's loss is their sum over the number of rows.
//!
//! Each file computes one row: its value and `scale · dvalue/dprediction`, where the
//! trainer's `scale` folds in the reduction and the output's loss weight.

mod binary_crossentropy;
mod categorical_crossentropy;
mod mean_absolute_error;
mod mean_squared_error;
mod sparse_categorical_crossentropy;

/// `keras.backend.epsilon()`: where the cross-entropies clip probabilities.
pub(crate) const EPSILON: f32 = 1e-7;

/// A Keras loss, as `compile(loss=…)` names it.
///
/// ```
/// use kiln::train::Loss;
/// let loss = Loss::from_keras_name("categorical_crossentropy", true).unwrap();
/// assert_eq!(loss, Loss::CategoricalCrossentropy { from_logits: true });
/// assert_eq!(loss.keras_name(), "categorical_crossentropy");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// `mean_squared_error` (`"mse"`): `mean((y - p)², axis=-1)`.
    MeanSquaredError,
    /// `mean_absolute_error` (`"mae"`): `mean(|y - p|, axis=-1)`.
    MeanAbsoluteError,
    /// `categorical_crossentropy` on one-hot (or soft) targets.
    CategoricalCrossentropy {
        /// The predictions are logits (Keras's `from_logits=True`), not probabilities.
        from_logits: bool,
    },
    /// `sparse_categorical_crossentropy`: the target is one class index per row.
    SparseCategoricalCrossentropy {
        /// The predictions are logits.
        from_logits: bool,
    },
    /// `binary_crossentropy`: `mean` over the last axis of each value's cross-entropy.
    BinaryCrossentropy {
        /// The predictions are logits.
        from_logits: bool,
    },
}

impl Loss {
    /// The loss of a Keras name or alias (`"mse"`, `"mean_squared_error"`, …), with
    /// `from_logits` for the cross-entropies (ignored by the others).
    pub fn from_keras_name(name: &str, from_logits: bool) -> Option<Loss> {
        Some(match name {
            "mean_squared_error" | "mse" | "MeanSquaredError" => Loss::MeanSquaredError,
            "mean_absolute_error" | "mae" | "MeanAbsoluteError" => Loss::MeanAbsoluteError,
            "categorical_crossentropy" | "CategoricalCrossentropy" => {
                Loss::CategoricalCrossentropy { from_logits }
            }
            "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
                Loss::SparseCategoricalCrossentropy { from_logits }
            }
            "binary_crossentropy" | "BinaryCrossentropy" => {
                Loss::BinaryCrossentropy { from_logits }
            }
            _ => return None,
        })
    }

    /// Keras's function name for the loss.
    pub fn keras_name(&self) -> &'static str {
        match self {
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
        }
    }

    /// True when the loss reads the model's outputs as logits.
    pub fn from_logits(&self) -> bool {
        match *self {
            Loss::CategoricalCrossentropy { from_logits }
            | Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::BinaryCrossentropy { from_logits } => from_logits,
            _ => false,
        }
    }

    /// True when the targets are class indices (one per row) rather than one value per
    /// prediction.
    pub fn sparse(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// Target values per row of `width` predictions.
    pub fn target_width(&self, width: usize) -> usize {
        if self.sparse() {
            1
        } else {
            width
        }
    }

    /// One row's loss, and `scale · dloss/dprediction` written to `grad` (same length as
    /// `prediction`). A sparse target is a class index that must be in range (the caller
    /// checks it).
    pub(crate) fn row(
        &self,
        prediction: &[f32],
        target: &[f32],
        scale: f32,
        grad: &mut [f32],
    ) -> f32 {
        match *self {
            Loss::MeanSquaredError => mean_squared_error::row(prediction, target, scale, grad),
            Loss::MeanAbsoluteError => mean_absolute_error::row(prediction, target, scale, grad),
            Loss::CategoricalCrossentropy { from_logits } => {
                categorical_crossentropy::row(prediction, target, from_logits, scale, grad)
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                let class = target.first().map_or(0, |&c| c as usize);
                sparse_categorical_crossentropy::row(prediction, class, from_logits, scale, grad)
            }
            Loss::BinaryCrossentropy { from_logits } => {
                binary_crossentropy::row(prediction, target, from_logits, scale, grad)
            }
        }
    }

    /// One row's loss value, without the gradient (evaluate).
    pub(crate) fn value(&self, prediction: &[f32], target: &[f32], scratch: &mut [f32]) -> f32 {
        let grad = scratch.get_mut(..prediction.len()).unwrap_or(&mut []);
        self.row(prediction, target, 0.0, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::backward::check::{assert_gradient, finite_difference};
    use proptest::prelude::*;

    fn value(loss: Loss, p: &[f32], y: &[f32]) -> f32 {
        let mut g = [0.0f32; 8];
        loss.row(p, y, 1.0, &mut g[..p.len()])
    }

    #[cfg_attr(
        feature = "fast-math",
        ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm"
    )]
    #[test]
    fn keras_values_from_the_notes() {
        // KERAS-NOTES §5: CCE on [[0,1,0],[1,0,0]] vs [[.05,.95,0],[.1,.8,.1]].
        let cce = Loss::CategoricalCrossentropy { from_logits: false };
        let a = value(cce, &[0.05, 0.95, 0.0], &[0.0, 1.0, 0.0]);
        let b = value(cce, &[0.1, 0.8, 0.1], &[1.0, 0.0, 0.0]);
        assert!((a - 0.051_293_3).abs() < 1e-6, "{a}");
        assert!((b - core::f32::consts::LN_10).abs() < 1e-6, "{b}"); // -ln(0.1)
        assert!(((a + b) / 2.0 - 1.176_939_2).abs() < 1e-6);
        // Renormalised: doubling the probabilities changes nothing.
        assert_eq!(value(cce, &[0.2, 1.6, 0.2], &[1.0, 0.0, 0.0]), b);
        let mse = value(Loss::MeanSquaredError, &[1.0, 2.0], &[0.0, 4.0]);
        assert_eq!(mse, 2.5);
        let mae = value(Loss::MeanAbsoluteError, &[1.0, 2.0], &[0.0, 4.0]);
        assert_eq!(mae, 1.5);
        let sparse = Loss::SparseCategoricalCrossentropy { from_logits: false };
        assert_eq!(value(sparse, &[0.1, 0.8, 0.1], &[0.0]), b);
    }

    #[cfg_attr(
        feature = "fast-math",
        ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm"
    )]
    #[test]
    fn logits_and_probabilities_agree_away_from_the_clip() {
        let z = [0.5f32, -1.0, 2.0];
        let mut p = z;
        crate::Activation::Softmax.apply(&mut p, 3);
        let y = [0.0f32, 0.0, 1.0];
        let from_p = value(Loss::CategoricalCrossentropy { from_logits: false }, &p, &y);
        let from_z = value(Loss::CategoricalCrossentropy { from_logits: true }, &z, &y);
        assert!((from_p - from_z).abs() < 1e-6);
        let s = [1.0 / (1.0 + libm::expf(-0.3))];
        let bce_p = value(Loss::BinaryCrossentropy { from_logits: false }, &s, &[1.0]);
        let bce_z = value(
            Loss::BinaryCrossentropy { from_logits: true },
            &[0.3],
            &[1.0],
        );
        assert!((bce_p - bce_z).abs() < 1e-6);
    }

    proptest! {
        #[cfg_attr(feature = "fast-math", ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm")]
        #[test]
        fn gradients_match_finite_differences(
            p in proptest::collection::vec(0.05f32..0.9, 4),
            z in proptest::collection::vec(-3.0f32..3.0, 4),
            y in proptest::collection::vec(0.0f32..1.0, 4),
            class in 0usize..4,
        ) {
            let one_hot: [f32; 4] = core::array::from_fn(|i| if i == class { 1.0 } else { 0.0 });
            let cases: [(Loss, &[f32], &[f32]); 9] = [
                (Loss::MeanSquaredError, &z, &y),
                (Loss::MeanAbsoluteError, &z, &y),
                (Loss::CategoricalCrossentropy { from_logits: false }, &p, &one_hot),
                (Loss::CategoricalCrossentropy { from_logits: true }, &z, &y),
                (Loss::SparseCategoricalCrossentropy { from_logits: false }, &p, &[class as f32]),
                (Loss::SparseCategoricalCrossentropy { from_logits: true }, &z, &[class as f32]),
                (Loss::BinaryCrossentropy { from_logits: false }, &p, &y),
                (Loss::BinaryCrossentropy { from_logits: true }, &z, &y),
                (Loss::CategoricalCrossentropy { from_logits: false }, &p, &y),
            ];
            for (loss, prediction, target) in cases {
                // MAE has a kink where p = y.
                if loss == Loss::MeanAbsoluteError
                    && prediction.iter().zip(target).any(|(p, y)| (p - y).abs() < 0.05)
                {
                    continue;
                }
                let mut grad = [0.0f32; 4];
                loss.row(prediction, target, 1.0, &mut grad);
                let numeric = finite_difference(prediction, &[1.0], 1, |p, out| {
                    let mut g = [0.0f32; 4];
                    out[0] = loss.row(p, target, 1.0, &mut g);
                });
                assert_gradient(&grad, &numeric, loss.keras_name());
            }
        }
    }
}
