//! `keras.layers.ReLU` and `keras.layers.LeakyReLU` (float32 reference, in place).

use super::float::{clip, relu0};

/// Keras `ReLU` layer (and `keras.activations.relu` with arguments), in place.
///
/// Follows Keras 3's `activations.relu` (`ReLU.static_call`) step by step rather than
/// its docstring:
/// 1. if `negative_slope != 0`, `max_value` is `None` and `threshold == 0`: leaky ReLU
///    (`x` if `x >= 0`, else `negative_slope * x`), done;
/// 2. `y = x * (x > threshold ? 1 : 0)` if `threshold != 0`, else `y = max(x, 0)`;
/// 3. if `max_value` is set, `y = clip(y, 0, max_value)`;
/// 4. if `negative_slope != 0`, `y = y - negative_slope * max(threshold - x, 0)`.
///
/// So `x >= max_value` gives `max_value`, `threshold < x < max_value` gives `x`, and
/// `x < threshold` gives `negative_slope * (x - threshold)`. Where behaviour and
/// docstring differ, this follows behaviour: with `threshold != 0`, `x == threshold`
/// gives `0` (the docstring says `x`), and `x = -inf` gives NaN (`-inf * 0`).
///
/// The layer requires `max_value >= 0`, `negative_slope >= 0` and `threshold >= 0`;
/// other values are computed by the same formula. Works on any slice length.
pub fn relu(data: &mut [f32], max_value: Option<f32>, negative_slope: f32, threshold: f32) {
    if negative_slope != 0.0 && max_value.is_none() && threshold == 0.0 {
        leaky_relu(data, negative_slope);
        return;
    }
    for x in data.iter_mut() {
        *x = relu_general(*x, max_value, negative_slope, threshold);
    }
}

/// Steps 2–4 of [`relu()`] for one value.
#[inline]
fn relu_general(x: f32, max_value: Option<f32>, negative_slope: f32, threshold: f32) -> f32 {
    let mut y = if threshold != 0.0 {
        x * if x > threshold { 1.0 } else { 0.0 }
    } else {
        relu0(x)
    };
    if let Some(m) = max_value {
        // (Keras uses relu6 when max_value == 6 and threshold == 0: the same values.)
        y = clip(y, 0.0, m);
    }
    if negative_slope != 0.0 {
        // `relu(-x + threshold)`; `-x + t` and `t - x` are the same f32 value.
        y -= negative_slope * relu0(threshold - x);
    }
    y
}

/// `jax.nn.leaky_relu` on one value: `x` if `x >= 0`, else `negative_slope * x`.
#[inline]
pub fn leaky_relu_scalar(x: f32, negative_slope: f32) -> f32 {
    if x >= 0.0 {
        x
    } else {
        negative_slope * x
    }
}

/// Keras `LeakyReLU` layer, in place: `x` if `x >= 0`, else `negative_slope * x`.
///
/// The layer's default is `negative_slope = 0.3`; the `"leaky_relu"` activation string's
/// default is `0.2` (see [`Activation::LeakyRelu`](super::activation::Activation)).
/// Works on any slice length.
pub fn leaky_relu(data: &mut [f32], negative_slope: f32) {
    for x in data.iter_mut() {
        *x = leaky_relu_scalar(*x, negative_slope);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::test_util::assert_all_close;
    use std::vec::Vec;

    const XS: [f32; 5] = [-10.0, -5.0, 0.0, 5.0, 10.0];

    fn relu_of(max_value: Option<f32>, slope: f32, threshold: f32) -> [f32; 5] {
        let mut d = XS;
        relu(&mut d, max_value, slope, threshold);
        d
    }

    #[test]
    fn keras_docstring_examples() {
        // keras.activations.relu docstring, x = [-10, -5, 0, 5, 10]
        assert_eq!(relu_of(None, 0.0, 0.0), [0.0, 0.0, 0.0, 5.0, 10.0]);
        assert_eq!(relu_of(None, 0.5, 0.0), [-5.0, -2.5, 0.0, 5.0, 10.0]);
        assert_eq!(relu_of(Some(5.0), 0.0, 0.0), [0.0, 0.0, 0.0, 5.0, 5.0]);
        assert_eq!(relu_of(None, 0.0, 5.0), [0.0, 0.0, 0.0, 0.0, 10.0]);
        // keras.layers.ReLU docstring: max_value=10, negative_slope=0.5, threshold=0
        assert_eq!(relu_of(Some(10.0), 0.5, 0.0), [-5.0, -2.5, 0.0, 5.0, 10.0]);
    }

    #[test]
    fn relu6_path() {
        let mut d = [-1.0, 0.0, 3.5, 6.0, 7.0];
        relu(&mut d, Some(6.0), 0.0, 0.0);
        assert_eq!(d, [0.0, 0.0, 3.5, 6.0, 6.0]);
    }

    #[test]
    fn all_three_parameters() {
        // max 4, slope 0.5, threshold 1:
        // x=-1 -> 0 - 0.5*(1 - -1) = -1;  x=0.5 -> -0.5*0.5 = -0.25;
        // x=1 (== threshold) -> 0;  x=2 -> 2;  x=4 -> 4;  x=9 -> 4
        let mut d = [-1.0, 0.5, 1.0, 2.0, 4.0, 9.0];
        relu(&mut d, Some(4.0), 0.5, 1.0);
        assert_eq!(d, [-1.0, -0.25, 0.0, 2.0, 4.0, 4.0]);
    }

    #[test]
    fn threshold_edge_follows_keras_behaviour() {
        // x == threshold gives 0 (docstring would say x); just above keeps x
        let mut d = [2.0, 2.5, 1.5];
        relu(&mut d, None, 0.0, 2.0);
        assert_eq!(d, [0.0, 2.5, 0.0]);
        // -inf * 0 = NaN with a threshold; plain relu(-inf) = 0
        let mut d = [f32::NEG_INFINITY];
        relu(&mut d, None, 0.0, 2.0);
        assert!(d[0].is_nan());
        let mut d = [f32::NEG_INFINITY, f32::INFINITY];
        relu(&mut d, None, 0.0, 0.0);
        assert_eq!(d, [0.0, f32::INFINITY]);
    }

    #[test]
    fn slope_with_max_matches_formula() {
        // slope 0.1, max 6, no threshold: negatives scaled, positives clipped at 6
        let mut d = [-3.0, -0.5, 2.0, 6.5];
        relu(&mut d, Some(6.0), 0.1, 0.0);
        assert_all_close(&d, &[-0.3, -0.05, 2.0, 6.0]);
    }

    #[test]
    fn leaky() {
        let mut d = [-2.0, -0.5, 0.0, 3.0];
        leaky_relu(&mut d, 0.3);
        assert_all_close(&d, &[-0.6, -0.15, 0.0, 3.0]);
        let mut d: Vec<f32> = XS.to_vec();
        leaky_relu(&mut d, 0.2);
        assert_eq!(d, [-2.0, -1.0, 0.0, 5.0, 10.0]);
        let mut d = [f32::NAN];
        leaky_relu(&mut d, 0.3);
        assert!(d[0].is_nan());
    }

    #[test]
    fn nan_propagates() {
        for (m, s, t) in [
            (None, 0.0, 0.0),
            (Some(6.0), 0.0, 0.0),
            (Some(3.0), 0.2, 1.0),
        ] {
            let mut d = [f32::NAN];
            relu(&mut d, m, s, t);
            assert!(d[0].is_nan(), "{m:?} {s} {t}");
        }
    }
}
