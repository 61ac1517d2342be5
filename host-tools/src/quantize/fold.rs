//! BatchNormalization folded into the layer before it, as TensorFlow Lite's converter folds
//! it: a per-channel scale into the kernel, the rest into the bias.
//!
//! At inference Keras computes `y = (x − mean) · γ / √(var + ε) + β` per channel. With
//! `x = W·u + b` that is `(W · inv)·u + ((b − mean) · inv + β)`, `inv = γ / √(var + ε)`:
//! the kernel's output channel `c` is multiplied by `inv[c]`, and the bias becomes
//! `(b[c] − mean[c]) · inv[c] + β[c]` (`b = 0` for a layer without bias). Worked out in
//! f64, rounded once to f32.

/// The statistics and parameters of one BatchNormalization, per channel.
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm<'a> {
    /// `None` when the layer has `scale=False` (γ = 1).
    pub gamma: Option<&'a [f32]>,
    /// `None` when the layer has `center=False` (β = 0).
    pub beta: Option<&'a [f32]>,
    pub mean: &'a [f32],
    pub variance: &'a [f32],
    pub epsilon: f32,
}

impl BatchNorm<'_> {
    /// Channels the statistics are for.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// True when every vector has one value per channel.
    pub fn is_consistent(&self) -> bool {
        let c = self.channels();
        self.variance.len() == c
            && self.gamma.is_none_or(|g| g.len() == c)
            && self.beta.is_none_or(|b| b.len() == c)
    }

    /// `γ / √(var + ε)` per channel.
    pub fn scales(&self) -> Vec<f64> {
        (0..self.channels())
            .map(|c| {
                let gamma = self.gamma.map_or(1.0, |g| f64::from(g[c]));
                gamma / (f64::from(self.variance[c]) + f64::from(self.epsilon)).sqrt()
            })
            .collect()
    }
}

/// Folds `bn` into a kernel stored in Keras's layout, whose output channel is the
/// fastest-varying index (Dense `(in, units)`, Conv2D `(kh, kw, in, filters)`,
/// DepthwiseConv2D `(kh, kw, in, multiplier)`), and its bias (`None`: a layer without
/// one). Returns the new kernel and bias, or `None` when the lengths do not agree.
pub fn fold_batch_norm(
    kernel: &[f32],
    bias: Option<&[f32]>,
    bn: &BatchNorm<'_>,
) -> Option<(Vec<f32>, Vec<f32>)> {
    let channels = bn.channels();
    let fits = channels > 0
        && bn.is_consistent()
        && kernel.len().is_multiple_of(channels)
        && bias.is_none_or(|b| b.len() == channels);
    if !fits {
        return None;
    }
    let inv = bn.scales();
    let kernel = kernel
        .iter()
        .enumerate()
        .map(|(i, &w)| (f64::from(w) * inv[i % channels]) as f32)
        .collect();
    let bias = (0..channels)
        .map(|c| {
            let b = bias.map_or(0.0, |b| f64::from(b[c]));
            let beta = bn.beta.map_or(0.0, |b| f64::from(b[c]));
            ((b - f64::from(bn.mean[c])) * inv[c] + beta) as f32
        })
        .collect();
    Some((kernel, bias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_checked_fold() {
        // 2 inputs, 2 channels: kernel (2, 2) row-major, channel fastest.
        let kernel = [1.0, 2.0, 3.0, 4.0];
        let bias = [0.5, -1.0];
        // var + eps = 4 and 0.25 → 1/√ = 0.5 and 2; γ = [2, 1] → inv = [1, 2].
        let bn = BatchNorm {
            gamma: Some(&[2.0, 1.0]),
            beta: Some(&[0.25, 3.0]),
            mean: &[1.5, -2.0],
            variance: &[3.75, 0.0],
            epsilon: 0.25,
        };
        let (k, b) = fold_batch_norm(&kernel, Some(&bias), &bn).unwrap();
        assert_eq!(k, [1.0, 4.0, 3.0, 8.0]);
        // (0.5 − 1.5)·1 + 0.25 = −0.75; (−1 + 2)·2 + 3 = 5.
        assert_eq!(b, [-0.75, 5.0]);
    }

    #[test]
    fn without_bias_gamma_or_beta() {
        let bn = BatchNorm {
            gamma: None,
            beta: None,
            mean: &[2.0],
            variance: &[0.75],
            epsilon: 0.25,
        };
        let (k, b) = fold_batch_norm(&[3.0, -1.0], None, &bn).unwrap();
        assert_eq!(k, [3.0, -1.0]);
        assert_eq!(b, [-2.0]);
    }

    #[test]
    fn lengths_that_disagree_are_refused() {
        let bn = BatchNorm {
            gamma: None,
            beta: None,
            mean: &[0.0, 0.0],
            variance: &[1.0, 1.0],
            epsilon: 1e-3,
        };
        assert!(fold_batch_norm(&[1.0, 2.0, 3.0], None, &bn).is_none());
        assert!(fold_batch_norm(&[1.0, 2.0], Some(&[1.0]), &bn).is_none());
    }
}
