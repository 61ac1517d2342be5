//! `keras.layers.BatchNormalization` at inference, on the last axis.

use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::{weight, WeightSpecs};
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.BatchNormalization()`.
///
/// ```
/// use kiln::layers::{BatchNormalization, Input};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[10]))?;
/// model.add(BatchNormalization::new().center(false))?;
/// // gamma, moving_mean and moving_variance; the moving statistics are not trainable.
/// assert_eq!(model.param_counts(), (10, 20));
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormalization {
    /// Keras's `epsilon`: added to the variance before its square root.
    pub epsilon: f32,
    /// Keras's `momentum`: how training updates the moving statistics; kept for the
    /// configuration, unused at inference.
    pub momentum: f32,
    /// Keras's `center`: false leaves out `beta` (the offset).
    pub center: bool,
    /// Keras's `scale`: false leaves out `gamma` (the factor).
    pub scale: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(BatchNormalization {
    epsilon,
    momentum,
    center,
    scale
});

impl BatchNormalization {
    /// `BatchNormalization()`: epsilon 1e-3, momentum 0.99, center and scale.
    pub fn new() -> Self {
        BatchNormalization {
            epsilon: 1e-3,
            momentum: 0.99,
            center: true,
            scale: true,
        }
    }
    /// Keras's `epsilon=` (default 1e-3).
    pub fn epsilon(self, epsilon: f32) -> Self {
        BatchNormalization { epsilon, ..self }
    }
    /// Keras's `center=` (default true).
    pub fn center(self, center: bool) -> Self {
        BatchNormalization { center, ..self }
    }
    /// Keras's `scale=` (default true).
    pub fn scale(self, scale: bool) -> Self {
        BatchNormalization { scale, ..self }
    }
}

impl Default for BatchNormalization {
    fn default() -> Self {
        BatchNormalization::new()
    }
}

/// A prepared BatchNormalization step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params<'w> {
    channels: usize,
    gamma: Option<&'w [f32]>,
    beta: Option<&'w [f32]>,
    mean: &'w [f32],
    variance: &'w [f32],
    epsilon: f32,
    momentum: f32,
}

impl Op for BatchNormalization {
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "batch_normalization"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.epsilon > 0.0 {
            Ok(())
        } else {
            Err("epsilon must be > 0")
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        if input.rank() < 2 || input.last().is_none() {
            return Err(Mismatch::new(input, "rank >= 2 with a known last axis"));
        }
        Ok(input)
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let mut specs = WeightSpecs::new();
        if self.scale {
            weight(&mut specs, "gamma", &[channels], true);
        }
        if self.center {
            weight(&mut specs, "beta", &[channels], true);
        }
        weight(&mut specs, "moving_mean", &[channels], false);
        weight(&mut specs, "moving_variance", &[channels], false);
        specs
    }

    fn has_build(&self) -> bool {
        true
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward {
            batch: Some(super::BatchPass {
                forward: batch::forward,
                backward: batch::backward,
            }),
            ..super::Backward::input(backward)
        })
    }

    #[cfg(feature = "training")]
    fn uses_batch_statistics(&self) -> bool {
        true
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let input = cx.input();
        let mut next = 0;
        let mut take = || {
            next += 1;
            cx.weight(next - 1)
        };
        let gamma = self.scale.then(&mut take).transpose()?;
        let beta = self.center.then(&mut take).transpose()?;
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::BatchNormalization(self::Params {
                channels: dim(&input, input.rank().saturating_sub(1))?,
                gamma,
                beta,
                mean: take()?,
                variance: take()?,
                epsilon: self.epsilon,
                momentum: self.momentum,
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::BatchNormalization(p) = args {
        kernels::fast::batch_norm_in_place(
            data, p.channels, p.gamma, p.beta, p.mean, p.variance, p.epsilon,
        );
    }
}

/// At inference (a frozen layer, as Keras runs it even in fit) the layer is
/// `x · inv + (beta - mean · inv)` per channel: the gradient is `d · inv`.
#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, _: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    let StepArgs::BatchNormalization(p) = args else { return };
    if p.channels == 0 || dx.len() != d.len() {
        return;
    }
    for c in 0..p.channels {
        let mut inv = 1.0 / libm::sqrtf(p.variance[c] + p.epsilon);
        if let Some(g) = p.gamma {
            inv *= g[c];
        }
        for (g, &d) in dx.iter_mut().zip(d).skip(c).step_by(p.channels) {
            *g = d * inv;
        }
    }
}

/// Training with the batch's statistics, as Keras's `call(training=True)` on a trainable
/// layer: per channel, over every sample and every axis but the last, the mean and the
/// biased variance (`jnp.mean`, `jnp.var`) normalize the batch, and the gradient flows
/// through them.
#[cfg(feature = "training")]
mod batch {
    use super::super::StepArgs;

    /// Per channel `c`: the batch's mean and biased variance, summed in index order.
    fn moments(x: &[f32], channels: usize, c: usize) -> (f32, f32) {
        let n = (x.len() / channels) as f32;
        let sum = x.iter().skip(c).step_by(channels).fold(0.0f32, |s, &v| s + v);
        let mean = sum / n;
        let squares = x
            .iter()
            .skip(c)
            .step_by(channels)
            .fold(0.0f32, |s, &v| s + (v - mean) * (v - mean));
        (mean, squares / n)
    }

    /// `inv = gamma / sqrt(variance + epsilon)` as the inference kernel computes it.
    fn inv(gamma: Option<&[f32]>, variance: f32, epsilon: f32, c: usize) -> f32 {
        let inv = 1.0 / libm::sqrtf(variance + epsilon);
        gamma.map_or(inv, |g| inv * g[c])
    }

    /// `stats` = `[momentum, mean…, variance…]` for the moving averages.
    pub(super) fn forward(args: &StepArgs<'_>, x: &[f32], y: &mut [f32], stats: &mut [f32]) {
        let StepArgs::BatchNormalization(p) = args else { return };
        let c = p.channels;
        if c == 0 || x.len() % c != 0 || y.len() != x.len() || stats.len() != 1 + 2 * c {
            return;
        }
        stats[0] = p.momentum;
        for ch in 0..c {
            let (mean, variance) = moments(x, c, ch);
            stats[1 + ch] = mean;
            stats[1 + c + ch] = variance;
            let inv = inv(p.gamma, variance, p.epsilon, ch);
            let mut res = -mean * inv;
            if let Some(b) = p.beta {
                res += b[ch];
            }
            for (o, &v) in y.iter_mut().zip(x).skip(ch).step_by(c) {
                *o = v * inv + res;
            }
        }
    }

    /// With `x̂ = (x - mean) · r`, `r = 1 / sqrt(variance + epsilon)`, `N` values per
    /// channel: `dbeta = Σ dy`, `dgamma = Σ dy · x̂`, and
    /// `dx = r · gamma / N · (N · dy - Σ dy - x̂ · Σ dy · x̂)`.
    pub(super) fn backward(args: &StepArgs<'_>, x: &[f32], d: &[f32], dx: &mut [f32], dw: &mut [f32]) {
        let StepArgs::BatchNormalization(p) = args else { return };
        let c = p.channels;
        if c == 0 || x.len() % c != 0 || d.len() != x.len() || dx.len() != x.len() {
            return;
        }
        let n = (x.len() / c) as f32;
        for ch in 0..c {
            let (mean, variance) = moments(x, c, ch);
            let r = 1.0 / libm::sqrtf(variance + p.epsilon);
            let (mut sum, mut dot) = (0.0f32, 0.0f32);
            for (&v, &g) in x.iter().zip(d).skip(ch).step_by(c) {
                sum += g;
                dot += g * ((v - mean) * r);
            }
            let gamma = p.gamma.map_or(1.0, |g| g[ch]);
            let scale = r * gamma / n;
            for ((o, &v), &g) in dx.iter_mut().zip(x).zip(d).skip(ch).step_by(c) {
                let hat = (v - mean) * r;
                *o = scale * (n * g - sum - hat * dot);
            }
            // dw: gamma then beta (those the layer has), then the moving statistics.
            let mut at = 0;
            if p.gamma.is_some() {
                if let Some(w) = dw.get_mut(ch) {
                    *w += dot;
                }
                at += c;
            }
            if p.beta.is_some() {
                if let Some(w) = dw.get_mut(at + ch) {
                    *w += sum;
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        extern crate std;
        use super::super::Params;
        use super::*;
        use crate::kernels::backward::check::{assert_gradient, finite_difference};
        use proptest::prelude::*;
        use std::vec::Vec;

        proptest! {
            #[test]
            fn gradients_match_finite_differences(
                x in proptest::collection::vec(-2.0f32..2.0, 12),
                d in proptest::collection::vec(-1.0f32..1.0, 12),
            ) {
                // 6 values of 2 channels; a spread-out batch, so the variance is not tiny.
                prop_assume!(x.iter().step_by(2).fold(0.0f32, |m, v| m.max(v.abs())) > 0.5);
                prop_assume!(x.iter().skip(1).step_by(2).fold(0.0f32, |m, v| m.max(v.abs())) > 0.5);
                let gamma = [1.5f32, 0.5];
                let beta = [0.1f32, -0.2];
                let stats = [0.0f32; 2];
                let run = |gamma: &[f32], beta: &[f32], x: &[f32], y: &mut [f32]| {
                    let p = Params { channels: 2, gamma: Some(gamma), beta: Some(beta), mean: &stats, variance: &stats, epsilon: 1e-3, momentum: 0.99 };
                    forward(&StepArgs::BatchNormalization(p), x, y, &mut [0.0; 5]);
                };
                let p = Params { channels: 2, gamma: Some(&gamma), beta: Some(&beta), mean: &stats, variance: &stats, epsilon: 1e-3, momentum: 0.99 };
                let mut dx = [0.0f32; 12];
                let mut dw = [0.0f32; 8];
                backward(&StepArgs::BatchNormalization(p), &x, &d, &mut dx, &mut dw);
                let numeric = finite_difference(&x, &d, 12, |x, y| run(&gamma, &beta, x, y));
                assert_gradient(&dx, &numeric, "dx");
                let numeric = finite_difference(&gamma, &d, 12, |g, y| run(g, &beta, &x, y));
                assert_gradient(&dw[..2], &numeric, "dgamma");
                let numeric: Vec<f32> = finite_difference(&beta, &d, 12, |b, y| run(&gamma, b, &x, y));
                assert_gradient(&dw[2..4], &numeric, "dbeta");
            }
        }
    }
}
