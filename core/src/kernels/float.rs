//! Small `f32` helpers shared by the kernels (not an op).
//!
//! They reproduce XLA's semantics for `max`/`min`, which propagate NaN (unlike
//! `f32::max`, which returns the other operand).

/// `lax.max(a, b)`: NaN if either operand is NaN, else the larger one.
#[inline]
pub(crate) fn max_nan(a: f32, b: f32) -> f32 {
    if b.is_nan() || b > a {
        b
    } else {
        a
    }
}

/// `lax.min(a, b)`: NaN if either operand is NaN, else the smaller one.
#[inline]
pub(crate) fn min_nan(a: f32, b: f32) -> f32 {
    if b.is_nan() || b < a {
        b
    } else {
        a
    }
}

/// `jax.nn.relu(x) = jnp.maximum(x, 0)`; NaN stays NaN.
#[inline]
pub(crate) fn relu0(x: f32) -> f32 {
    max_nan(x, 0.0)
}

/// `jnp.clip(x, lo, hi) = minimum(maximum(x, lo), hi)`.
#[inline]
pub(crate) fn clip(x: f32, lo: f32, hi: f32) -> f32 {
    min_nan(max_nan(x, lo), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_propagates_like_xla() {
        assert!(max_nan(f32::NAN, 1.0).is_nan());
        assert!(max_nan(1.0, f32::NAN).is_nan());
        assert!(min_nan(f32::NAN, 1.0).is_nan());
        assert!(min_nan(1.0, f32::NAN).is_nan());
        assert!(relu0(f32::NAN).is_nan());
        assert_eq!(max_nan(-1.0, 2.0), 2.0);
        assert_eq!(min_nan(-1.0, 2.0), -1.0);
        assert_eq!(relu0(-3.0), 0.0);
        assert_eq!(relu0(3.0), 3.0);
        assert_eq!(clip(7.0, 0.0, 6.0), 6.0);
        assert_eq!(clip(-7.0, 0.0, 6.0), 0.0);
        assert_eq!(clip(f32::NEG_INFINITY, 0.0, 6.0), 0.0);
    }
}
