//! The derivative of every Keras activation, applied to a gradient in place.

use crate::graph::config::Activation;
use crate::kernels::activation::{hard_sigmoid, sigmoid};
use crate::kernels::math;

/// `SELU`'s constants as `jax.nn.selu` rounds them.
const SELU_ALPHA: f32 = 1.6732632423543772_f64 as f32;
const SELU_SCALE: f32 = 1.0507009873554805_f64 as f32;

impl Activation {
    /// True when the derivative needs the activation's input, not only its output
    /// (gelu, silu, softplus, mish, hard_silu, softsign; leaky_relu with a negative
    /// slope).
    pub fn backward_needs_input(&self) -> bool {
        use Activation as A;
        match self {
            A::Gelu { .. } | A::Silu | A::Softplus | A::Mish | A::HardSilu | A::Softsign => true,
            A::LeakyRelu { negative_slope } => {
                negative_slope.partial_cmp(&0.0) != Some(core::cmp::Ordering::Greater)
            }
            A::Elu { alpha } => alpha.partial_cmp(&0.0) != Some(core::cmp::Ordering::Greater),
            _ => false,
        }
    }

    /// Turns `d` = dL/dy into dL/dx in place, for `y = self(x)`: `output` is `y`;
    /// `input` is `x`, needed when [`Self::backward_needs_input`] (otherwise it may be
    /// `None`). Softmax and log_softmax work on chunks of `last_axis`.
    pub fn backward(self, input: Option<&[f32]>, output: &[f32], d: &mut [f32], last_axis: usize) {
        use Activation as A;
        let ok = output.len() == d.len()
            && input.is_none_or(|x| x.len() == d.len())
            && (input.is_some() || !self.backward_needs_input());
        debug_assert!(ok, "activation backward: lengths break the contract");
        if !ok {
            return;
        }
        let by_output = |d: &mut [f32], f: &dyn Fn(f32) -> f32| {
            for (g, &y) in d.iter_mut().zip(output) {
                *g *= f(y);
            }
        };
        match self {
            A::Linear => {}
            A::Relu => by_output(d, &|y| if y > 0.0 { 1.0 } else { 0.0 }),
            A::Relu6 => by_output(d, &|y| if y > 0.0 && y < 6.0 { 1.0 } else { 0.0 }),
            A::HardSigmoid => by_output(d, &|y| if y > 0.0 && y < 1.0 { 1.0 / 6.0 } else { 0.0 }),
            A::Sigmoid => by_output(d, &|y| y * (1.0 - y)),
            A::Tanh => by_output(d, &|y| 1.0 - y * y),
            A::Exponential => by_output(d, &|y| y),
            A::Elu { alpha } if alpha > 0.0 => {
                by_output(d, &|y| if y > 0.0 { 1.0 } else { y + alpha })
            }
            A::Selu => by_output(d, &|y| {
                if y > 0.0 {
                    SELU_SCALE
                } else {
                    y + SELU_SCALE * SELU_ALPHA
                }
            }),
            A::LeakyRelu { negative_slope } if negative_slope > 0.0 => {
                by_output(d, &|y| if y >= 0.0 { 1.0 } else { negative_slope })
            }
            A::Softmax | A::LogSoftmax => {
                if last_axis == 0 || d.len() % last_axis != 0 {
                    return;
                }
                for (g, y) in d.chunks_mut(last_axis).zip(output.chunks(last_axis)) {
                    if self == A::Softmax {
                        // dx_i = y_i (g_i - Σ_j g_j y_j)
                        let dot = g.iter().zip(y).fold(0.0f32, |s, (g, y)| s + g * y);
                        for (g, &y) in g.iter_mut().zip(y) {
                            *g = y * (*g - dot);
                        }
                    } else {
                        // dx_i = g_i - exp(y_i) Σ_j g_j
                        let sum = g.iter().fold(0.0f32, |s, g| s + g);
                        for (g, &y) in g.iter_mut().zip(y) {
                            *g -= math::exp(y) * sum;
                        }
                    }
                }
            }
            other => {
                let Some(input) = input else { return };
                for (g, &x) in d.iter_mut().zip(input) {
                    *g *= derivative(other, x);
                }
            }
        }
    }
}

/// `f'(x)` for the activations whose derivative needs `x`.
fn derivative(activation: Activation, x: f32) -> f32 {
    use Activation as A;
    match activation {
        A::LeakyRelu { negative_slope } => {
            if x >= 0.0 {
                1.0
            } else {
                negative_slope
            }
        }
        A::Elu { alpha } => {
            if x > 0.0 {
                1.0
            } else {
                alpha * math::exp(x)
            }
        }
        A::HardSilu => {
            let slope = if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 };
            hard_sigmoid(x) + x * slope
        }
        A::Softsign => {
            let a = libm::fabsf(x) + 1.0;
            1.0 / (a * a)
        }
        A::Silu => {
            let s = sigmoid(x);
            s + x * s * (1.0 - s)
        }
        A::Softplus => sigmoid(x),
        A::Mish => {
            let sp = crate::kernels::activation::softplus(x);
            let t = math::tanh(sp);
            t + x * (1.0 - t * t) * sigmoid(x)
        }
        A::Gelu { approximate: false } => {
            // d/dx 0.5 x erfc(-x/√2) = 0.5 erfc(-x/√2) + x φ(x)
            const INV_SQRT_2PI: f32 = 0.3989422804014327_f64 as f32;
            0.5 * math::erfc(-x * core::f32::consts::FRAC_1_SQRT_2)
                + x * INV_SQRT_2PI * math::exp(-0.5 * x * x)
        }
        A::Gelu { approximate: true } => {
            const C: f32 = 0.7978845608028654_f64 as f32;
            let inner = C * (x + 0.044715 * x * x * x);
            let t = math::tanh(inner);
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C * (1.0 + 3.0 * 0.044715 * x * x)
        }
        _ => 1.0,
    }
}

#[cfg(all(test, feature = "math"))]
mod tests {
    use super::*;
    use crate::kernels::backward::check::{assert_gradient, finite_difference};
    use proptest::prelude::*;

    const ALL: [Activation; 18] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Relu6,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::LeakyRelu {
            negative_slope: 0.2,
        },
        Activation::Elu { alpha: 1.0 },
        Activation::Selu,
        Activation::Gelu { approximate: false },
        Activation::Gelu { approximate: true },
        Activation::Silu,
        Activation::HardSigmoid,
        Activation::HardSilu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Mish,
    ];

    proptest! {
        #[cfg_attr(feature = "fast-math", ignore = "fast-math's exp, log and tanh are approximations: the exact values and finite differences are checked with libm")]
        #[test]
        fn every_derivative_matches_finite_differences(
            x in proptest::collection::vec(-2.5f32..2.5, 6),
            g in proptest::collection::vec(-1.0f32..1.0, 6),
        ) {
            // Keep away from the kinks, where a difference quotient straddles two slopes.
            prop_assume!(x.iter().all(|v| v.abs() > 0.05 && (v.abs() - 3.0).abs() > 0.05));
            for f in ALL.into_iter().chain([Activation::Exponential]) {
                let forward = |x: &[f32], y: &mut [f32]| {
                    y.copy_from_slice(x);
                    f.apply(y, 3);
                };
                let mut y = [0.0f32; 6];
                forward(&x, &mut y);
                let mut d = g.clone();
                f.backward(Some(&x), &y, &mut d, 3);
                let numeric = finite_difference(&x, &g, 6, forward);
                assert_gradient(&d, &numeric, f.keras_name());
            }
        }
    }

    #[test]
    fn relu_at_zero_has_no_gradient() {
        let mut d = [1.0f32, 1.0];
        Activation::Relu.backward(None, &[0.0, 2.0], &mut d, 2);
        assert_eq!(d, [0.0, 1.0]);
    }
}
