//! Keras activations (`activation=` strings and `keras.layers.Activation`), float32
//! reference, in place.
//!
//! Each function follows the expression Keras 3 evaluates with the JAX backend
//! (`jax.nn.*`), operation by operation, in f32, with the transcendental functions of
//! [`math`]: `libm`'s, so that every target computes the same thing, or
//! micromath's approximations with feature `fast-math`.

use super::float::{clip, max_nan, relu0};
use super::math;
use super::relu::leaky_relu_scalar;
pub use crate::graph::config::Activation;

/// `np.sqrt(0.5).astype(float32)` in `jax.nn.gelu`.
const SQRT_HALF: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// `np.sqrt(2 / np.pi).astype(float32)` in `jax.nn.gelu(approximate=True)`.
const SQRT_2_OVER_PI: f32 = 0.7978845608028654_f64 as f32;

impl Activation {
    /// The activation of one value, for the element-wise activations; `None` for
    /// `Softmax` and `LogSoftmax`, and (without feature `math`) for the ones that need
    /// `exp`, `log`, `tanh` or `erf`.
    pub fn eval_scalar(self, x: f32) -> Option<f32> {
        use Activation as A;
        Some(match self {
            A::Linear => x,
            A::Relu => relu0(x),
            A::Relu6 => relu6(x),
            A::LeakyRelu { negative_slope } => leaky_relu_scalar(x, negative_slope),
            A::HardSigmoid => hard_sigmoid(x),
            A::HardSilu => x * hard_sigmoid(x),
            A::Softsign => softsign(x),
            #[cfg(feature = "math")]
            other => return transcendental::eval_scalar(other, x),
            #[cfg(not(feature = "math"))]
            _ => return None,
        })
    }

    /// Applies the activation in place.
    ///
    /// `last_axis` is the size of the tensor's last axis; only `Softmax` and
    /// `LogSoftmax` use it, normalising each consecutive chunk of `last_axis` values.
    ///
    /// # Slice-length contract
    /// For `Softmax`/`LogSoftmax`: `last_axis > 0` and `data.len()` is a multiple of
    /// `last_axis` (debug-asserted; in release a shorter final chunk is normalised on
    /// its own and `last_axis == 0` leaves `data` unchanged). Other activations accept
    /// any length and ignore `last_axis`. Without feature `math`, the activations that
    /// need it leave `data` unchanged (loading or preparing a float model refuses them;
    /// [`Activation::math`] names them).
    ///
    /// # Arithmetic (softmax)
    /// Per chunk, as `jax.nn.softmax`: `m = max` (NaN propagates), `e_i = exp(x_i - m)`,
    /// `s = Σ e_i` summed in index order from `0.0`, then `e_i / s`. `log_softmax`:
    /// `(x_i - m) - log(s)`.
    // Not inlined: every kernel that applies an activation shares this one copy.
    #[inline(never)]
    pub fn apply(self, data: &mut [f32], last_axis: usize) {
        use Activation as A;
        // The common ones get a loop of their own; the others share one loop through a
        // function pointer (less code; they are not what a hot layer runs).
        match self {
            A::Linear => {}
            A::Relu => map(data, relu0),
            A::Relu6 => map(data, relu6),
            A::LeakyRelu { negative_slope } => {
                for x in data.iter_mut() {
                    *x = leaky_relu_scalar(*x, negative_slope);
                }
            }
            A::HardSigmoid => map_by(data, hard_sigmoid),
            A::HardSilu => map_by(data, |x| x * hard_sigmoid(x)),
            A::Softsign => map_by(data, softsign),
            #[cfg(feature = "math")]
            other => transcendental::apply(other, data, last_axis),
            #[cfg(not(feature = "math"))]
            _ => {
                let _ = last_axis;
            }
        }
    }

    /// The Keras name of this activation when it computes `exp`, `log`, `tanh` or `erf`
    /// (cargo feature `math`); `None` for the piecewise-linear ones and softsign.
    pub fn math(&self) -> Option<&'static str> {
        use Activation as A;
        let piecewise = matches!(
            self,
            A::Linear
                | A::Relu
                | A::Relu6
                | A::LeakyRelu { .. }
                | A::HardSigmoid
                | A::HardSilu
                | A::Softsign
        );
        (!piecewise).then(|| self.keras_name())
    }
}

#[inline(always)]
fn map(data: &mut [f32], f: impl Fn(f32) -> f32) {
    for x in data.iter_mut() {
        *x = f(*x);
    }
}

/// [`map`] through a function pointer: one loop for all its callers.
#[inline(never)]
fn map_by(data: &mut [f32], f: fn(f32) -> f32) {
    for x in data.iter_mut() {
        *x = f(*x);
    }
}

/// The activations that need `libm`'s transcendental functions.
#[cfg(feature = "math")]
mod transcendental {
    use super::*;

    pub(super) fn eval_scalar(activation: Activation, x: f32) -> Option<f32> {
        use Activation as A;
        Some(match activation {
            A::Sigmoid => sigmoid(x),
            A::Tanh => math::tanh(x),
            A::Elu { alpha } => elu(x, alpha),
            A::Selu => selu(x),
            A::Gelu { approximate } => gelu(x, approximate),
            A::Silu => x * sigmoid(x),
            A::Softplus => softplus(x),
            A::Exponential => math::exp(x),
            A::Mish => mish(x),
            _ => return None,
        })
    }

    pub(super) fn apply(activation: Activation, data: &mut [f32], last_axis: usize) {
        use Activation as A;
        match activation {
            A::Sigmoid => map_by(data, sigmoid),
            A::Tanh => map_by(data, math::tanh),
            A::Elu { alpha } => {
                for x in data.iter_mut() {
                    *x = elu(*x, alpha);
                }
            }
            A::Selu => map_by(data, selu),
            A::Gelu { approximate: true } => map_by(data, |x| gelu(x, true)),
            A::Gelu { approximate: false } => map_by(data, |x| gelu(x, false)),
            A::Silu => map_by(data, |x| x * sigmoid(x)),
            A::Softplus => map_by(data, softplus),
            A::Exponential => map_by(data, math::exp),
            A::Mish => map_by(data, mish),
            A::Softmax | A::LogSoftmax => {
                debug_assert!(
                    last_axis > 0 && data.len() % last_axis == 0,
                    "{}: data length {} is not a multiple of last_axis {}",
                    activation.keras_name(),
                    data.len(),
                    last_axis
                );
                if last_axis == 0 {
                    return;
                }
                for row in data.chunks_mut(last_axis) {
                    if activation == A::Softmax {
                        softmax_row(row);
                    } else {
                        log_softmax_row(row);
                    }
                }
            }
            // The piecewise-linear ones are applied by `Activation::apply` itself.
            _ => {}
        }
    }

    /// SELU `alpha` (`jax.nn.selu`), rounded to f32 as JAX does.
    const SELU_ALPHA: f32 = 1.6732632423543772_f64 as f32;
    /// SELU `scale` (`jax.nn.selu`), rounded to f32 as JAX does.
    const SELU_SCALE: f32 = 1.0507009873554805_f64 as f32;

    fn selu(x: f32) -> f32 {
        SELU_SCALE * elu(x, SELU_ALPHA)
    }

    fn mish(x: f32) -> f32 {
        x * math::tanh(softplus(x))
    }
}

/// `jax.nn.soft_sign`: `x / (|x| + 1)`.
#[inline]
pub fn softsign(x: f32) -> f32 {
    x / (libm::fabsf(x) + 1.0)
}

/// `jax.nn.relu6`: `min(max(x, 0), 6)`.
#[inline]
pub fn relu6(x: f32) -> f32 {
    clip(x, 0.0, 6.0)
}

/// `jax.nn.sigmoid`: `1 / (1 + exp(-x))`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + math::exp(-x))
}

/// `jax.nn.hard_sigmoid`: `relu6(x + 3) / 6`.
#[inline]
pub fn hard_sigmoid(x: f32) -> f32 {
    relu6(x + 3.0) / 6.0
}

/// `jax.nn.elu`: `x` if `x > 0`, else `alpha * expm1(x)`.
#[inline]
pub fn elu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        alpha * math::expm1(x)
    }
}

/// `jax.nn.softplus = logaddexp(x, 0)`: `max(x, 0) + log1p(exp(-|x|))`; NaN stays NaN.
#[inline]
pub fn softplus(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    max_nan(x, 0.0) + math::ln_1p(math::exp(-libm::fabsf(x)))
}

/// `jax.nn.gelu`: exact `0.5 * x * erfc(-x * sqrt(0.5))`, or the tanh approximation
/// `x * (0.5 * (1 + tanh(sqrt(2/π) * (x + 0.044715 * x³))))`.
#[inline]
pub fn gelu(x: f32, approximate: bool) -> f32 {
    if approximate {
        let cube = x * (x * x); // lax.integer_pow(x, 3)
        let inner = SQRT_2_OVER_PI * (x + 0.044715 * cube);
        x * (0.5 * (1.0 + math::tanh(inner)))
    } else {
        0.5 * x * math::erfc(-x * SQRT_HALF)
    }
}

#[cfg(feature = "math")]
fn softmax_row(row: &mut [f32]) {
    let m = row.iter().fold(f32::NEG_INFINITY, |m, &x| max_nan(m, x));
    let mut sum = 0.0f32;
    for x in row.iter_mut() {
        *x = math::exp(*x - m);
        sum += *x;
    }
    for x in row.iter_mut() {
        *x /= sum;
    }
}

#[cfg(feature = "math")]
fn log_softmax_row(row: &mut [f32]) {
    let m = row.iter().fold(f32::NEG_INFINITY, |m, &x| max_nan(m, x));
    let mut sum = 0.0f32;
    for &x in row.iter() {
        sum += math::exp(x - m);
    }
    let log_sum = math::ln(sum);
    for x in row.iter_mut() {
        *x = (*x - m) - log_sum;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::test_util::{assert_all_close, assert_close};
    use proptest::prelude::*;
    use std::vec::Vec;

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
        Activation::Silu,
        Activation::HardSigmoid,
        Activation::HardSilu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Exponential,
        Activation::Mish,
    ];

    /// Applies `a` element-wise to `xs` and compares with `expected`.
    #[track_caller]
    fn check(a: Activation, xs: &[f32], expected: &[f32]) {
        let mut d: Vec<f32> = xs.to_vec();
        a.apply(&mut d, 1);
        assert_all_close(&d, expected);
    }

    #[test]
    fn names_round_trip() {
        for a in ALL {
            assert_eq!(
                Activation::from_keras_name(a.keras_name()),
                Some(a),
                "{a:?}"
            );
        }
        assert_eq!(Activation::from_keras_name("swish"), Some(Activation::Silu));
        assert_eq!(
            Activation::from_keras_name("hard_swish"),
            Some(Activation::HardSilu)
        );
        assert_eq!(Activation::from_keras_name("Relu"), None);
        assert_eq!(Activation::from_keras_name(""), None);
        assert_eq!(Activation::default(), Activation::Linear);
        assert_eq!(
            Activation::Gelu { approximate: true }.keras_name(),
            Activation::from_keras_name("gelu").unwrap().keras_name()
        );
    }

    // Expected values below are the mathematical functions evaluated in f64
    // (Python `math`), e.g. sigmoid(1) = 1 / (1 + e^-1).

    #[test]
    fn linear_relu_relu6() {
        check(Activation::Linear, &[-2.5, 0.0, 7.0], &[-2.5, 0.0, 7.0]);
        check(Activation::Relu, &[-2.5, 0.0, 7.0], &[0.0, 0.0, 7.0]);
        check(
            Activation::Relu6,
            &[-2.5, 0.0, 3.0, 6.0, 7.0],
            &[0.0, 0.0, 3.0, 6.0, 6.0],
        );
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn sigmoid_values() {
        check(
            Activation::Sigmoid,
            &[0.0, 1.0, -1.0, 2.0, -20.0, 100.0, -100.0],
            &[
                0.5,
                0.731_058_6,
                0.268_941_43,
                0.880_797_1,
                2.061_153_6e-9,
                1.0,
                0.0,
            ],
        );
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn tanh_values() {
        check(
            Activation::Tanh,
            &[0.0, 0.5, -2.0, 20.0],
            &[0.0, 0.462_117_16, -0.964_027_6, 1.0],
        );
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn softmax_of_1_2_3() {
        let mut d = [1.0, 2.0, 3.0];
        Activation::Softmax.apply(&mut d, 3);
        assert_all_close(&d, &[0.090_030_57, 0.244_728_48, 0.665_240_94]);
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn softmax_over_last_axis_only() {
        // two rows; the second is the first shifted by 1000 (max subtraction keeps it finite)
        let mut d = [1.0, 2.0, 3.0, 1001.0, 1002.0, 1003.0];
        Activation::Softmax.apply(&mut d, 3);
        let row = [0.090_030_57, 0.244_728_48, 0.665_240_94];
        assert_all_close(&d[..3], &row);
        assert_all_close(&d[3..], &row);
        // equal logits -> uniform; a single logit -> 1
        let mut d = [5.0, 5.0, 5.0, 5.0];
        Activation::Softmax.apply(&mut d, 4);
        assert_eq!(d, [0.25; 4]);
        let mut d = [-3.0, 7.0];
        Activation::Softmax.apply(&mut d, 1);
        assert_eq!(d, [1.0, 1.0]);
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn log_softmax_of_1_2_3() {
        let mut d = [1.0, 2.0, 3.0, -1000.0, -999.0, -998.0];
        Activation::LogSoftmax.apply(&mut d, 3);
        let row = [-2.407_606, -1.407_606, -0.407_606];
        assert_all_close(&d[..3], &row);
        assert_all_close(&d[3..], &row);
    }

    #[test]
    fn leaky_relu_default_slope() {
        let a = Activation::from_keras_name("leaky_relu").unwrap();
        check(a, &[-5.0, -1.0, 0.0, 2.0], &[-1.0, -0.2, 0.0, 2.0]);
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn elu_values() {
        // elu(-1) = e^-1 - 1 = -0.63212056; alpha 0.5 at -2: 0.5 (e^-2 - 1) = -0.43233236
        check(
            Activation::Elu { alpha: 1.0 },
            &[-1.0, 0.0, 2.0],
            &[-0.632_120_56, 0.0, 2.0],
        );
        check(
            Activation::Elu { alpha: 0.5 },
            &[-2.0, 3.0],
            &[-0.432_332_36, 3.0],
        );
        // expm1 keeps tiny negatives accurate: elu(-1e-7) = -1e-7 (not 0 or -1.19e-7)
        let y = Activation::Elu { alpha: 1.0 }.eval_scalar(-1e-7).unwrap();
        assert!((y / -1e-7 - 1.0).abs() < 1e-6, "{y}");
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn selu_values() {
        // selu(-1) = scale * alpha * (e^-1 - 1) = -1.1113307; selu(2) = 2 * scale
        check(
            Activation::Selu,
            &[-1.0, 2.0, -0.5, 0.0],
            &[-1.111_330_7, 2.101_402, -0.691_758_2, 0.0],
        );
    }

    #[test]
    fn gelu_values() {
        // exact: 0.5 x erfc(-x / sqrt 2)
        check(
            Activation::Gelu { approximate: false },
            &[1.0, -1.0, 2.0, 0.0, -10.0],
            &[0.841_344_7, -0.158_655_25, 1.954_499_7, 0.0, -7.619_853e-23],
        );
        // tanh approximation
        check(
            Activation::Gelu { approximate: true },
            &[1.0, -1.0, 2.0, 0.0],
            &[0.841_192, -0.158_808, 1.954_597_7, 0.0],
        );
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn silu_values() {
        check(
            Activation::Silu,
            &[0.0, 1.0, -1.0, 2.0],
            &[0.0, 0.731_058_6, -0.268_941_43, 1.761_594_2],
        );
    }

    #[test]
    fn hard_sigmoid_and_hard_silu() {
        // relu6(x + 3) / 6
        check(
            Activation::HardSigmoid,
            &[-4.0, -3.0, 0.0, 1.5, 3.0, 4.0],
            &[0.0, 0.0, 0.5, 0.75, 1.0, 1.0],
        );
        // x * hard_sigmoid(x)
        check(
            Activation::HardSilu,
            &[-4.0, -1.5, 0.0, 1.5, 4.0],
            &[0.0, -0.375, 0.0, 1.125, 4.0],
        );
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn softplus_values() {
        check(
            Activation::Softplus,
            &[0.0, 1.0, -1.0, 30.0, -30.0, 100.0, -100.0],
            &[
                core::f32::consts::LN_2,
                1.313_261_7,
                0.313_261_7,
                30.0,
                9.357_623e-14,
                100.0,
                0.0, // 3.72e-44, a subnormal in f32; checked below
            ],
        );
        let tiny = Activation::Softplus.eval_scalar(-100.0).unwrap();
        assert!(tiny > 0.0 && tiny < 1e-43, "{tiny}");
    }

    #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
    #[test]
    fn softsign_exponential_mish() {
        check(Activation::Softsign, &[1.0, -3.0, 0.0], &[0.5, -0.75, 0.0]);
        check(
            Activation::Exponential,
            &[0.0, 1.0, -1.0],
            &[1.0, core::f32::consts::E, 0.367_879_44],
        );
        check(
            Activation::Mish,
            &[0.0, 1.0, -1.0, 2.0],
            &[0.0, 0.865_098_4, -0.303_401_46, 1.943_959],
        );
    }

    #[test]
    fn nan_propagates_everywhere() {
        for a in ALL {
            let mut d = [f32::NAN, 1.0];
            a.apply(&mut d, 2);
            assert!(d[0].is_nan(), "{a:?}");
        }
    }

    #[test]
    fn elementwise_ignore_last_axis() {
        for a in ALL.iter().filter(|a| !a.uses_last_axis()) {
            let xs = [-2.0, -0.5, 0.25, 3.0];
            let mut d1 = xs;
            let mut d2 = xs;
            a.apply(&mut d1, 4);
            a.apply(&mut d2, 0);
            assert_eq!(d1, d2, "{a:?}");
            for (x, y) in xs.iter().zip(d1) {
                assert_close(y, a.eval_scalar(*x).unwrap());
            }
        }
        assert_eq!(Activation::Softmax.eval_scalar(1.0), None);
    }

    proptest! {
        #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
        #[test]
        fn softmax_is_a_distribution_and_matches_exp_log_softmax(
            xs in proptest::collection::vec(-30.0f32..30.0, 1..12),
        ) {
            let n = xs.len();
            let mut p = xs.clone();
            Activation::Softmax.apply(&mut p, n);
            let mut lp = xs.clone();
            Activation::LogSoftmax.apply(&mut lp, n);
            let total: f32 = p.iter().sum();
            prop_assert!((total - 1.0).abs() < 1e-5);
            for (&pi, &lpi) in p.iter().zip(&lp) {
                prop_assert!((0.0..=1.0).contains(&pi));
                prop_assert!((libm::expf(lpi) - pi).abs() < 1e-6);
            }
        }

        #[cfg(not(feature = "fast-math"))] // libm's values (fast-math: the test below)
        #[test]
        fn scalar_functions_match_f64_math(x in -20.0f32..20.0) {
            let xd = x as f64;
            let sig = 1.0 / (1.0 + (-xd).exp());
            let sp = xd.max(0.0) + (-xd.abs()).exp().ln_1p();
            let cases = [
                (Activation::Sigmoid, sig),
                (Activation::Silu, xd * sig),
                (Activation::Softplus, sp),
                (Activation::Mish, xd * sp.tanh()),
                (Activation::Tanh, xd.tanh()),
                (Activation::Elu { alpha: 1.0 }, if xd > 0.0 { xd } else { xd.exp_m1() }),
                (Activation::Softsign, xd / (xd.abs() + 1.0)),
            ];
            for (a, want) in cases {
                let got = a.eval_scalar(x).unwrap() as f64;
                prop_assert!((got - want).abs() <= 1e-6 + 1e-5 * want.abs(),
                    "{:?}({}) = {} want {}", a, x, got, want);
            }
        }
    }

    /// With `fast-math` every transcendental activation stays within `5e-3 × max(1, |y|)`
    /// of the exact value on [-12, 12] (BENCHMARKS.md has the measured errors), and NaN
    /// still gives NaN.
    #[cfg(feature = "fast-math")]
    #[test]
    fn fast_math_stays_close_and_keeps_nan() {
        extern crate std;
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        let cases: [(Activation, &dyn Fn(f64) -> f64); 8] = [
            (Activation::Sigmoid, &sig),
            (Activation::Tanh, &f64::tanh),
            (Activation::Elu { alpha: 1.0 }, &|x| {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }),
            (Activation::Silu, &|x| x * sig(x)),
            (Activation::Softplus, &softplus),
            (Activation::Exponential, &f64::exp),
            (Activation::Mish, &|x| x * softplus(x).tanh()),
            (Activation::Gelu { approximate: true }, &|x| {
                0.5 * x * (1.0 + (0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x)).tanh())
            }),
        ];
        for (a, exact) in cases {
            for i in 0..=1536 {
                let x = -12.0 + i as f32 / 64.0;
                let got = f64::from(a.eval_scalar(x).unwrap());
                let want = exact(f64::from(x));
                assert!(
                    (got - want).abs() <= 5e-3 * want.abs().max(1.0),
                    "{a:?}({x}) = {got}, exact {want}"
                );
            }
            assert!(a.eval_scalar(f32::NAN).unwrap().is_nan(), "{a:?}(NaN)");
        }
        let mut row = [1.0f32, 2.0, 3.0, f32::NAN];
        Activation::Softmax.apply(&mut row, 4);
        assert!(row.iter().all(|v| v.is_nan()));
    }
}
