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
        Some(super::Backward::input(backward))
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
