//! The transcendental functions the activations use. By default they are `libm`'s: the
//! same results on every target, within an ulp or so of what Keras computes. With the
//! cargo feature `fast-math` they are `micromath`'s approximations (about 3 significant
//! digits, several times fewer instructions; BENCHMARKS.md has both measured): `exp` and
//! `ln` are micromath's, `tanh`, `expm1` and `ln_1p` are made from them. `erfc` (exact
//! GELU) stays libm's either way: micromath has none.
//!
//! Results then differ from Keras by more than the parity tolerance; host and device still
//! agree bit for bit, as both run the same approximation.

/// `e^x`.
#[inline]
pub fn exp(x: f32) -> f32 {
    // micromath leaves NaN to chance; an activation must keep it.
    // Past 128·ln 2 micromath's exponent overflows its bit field: the answer is +inf.
    #[cfg(feature = "fast-math")]
    return if x.is_nan() {
        x
    } else if x >= 88.72 {
        f32::INFINITY
    } else {
        micromath::F32Ext::exp(x)
    };
    #[cfg(not(feature = "fast-math"))]
    libm::expf(x)
}

/// `e^x - 1`.
#[inline]
pub fn expm1(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    return exp(x) - 1.0;
    #[cfg(not(feature = "fast-math"))]
    libm::expm1f(x)
}

/// `ln x`.
#[inline]
pub fn ln(x: f32) -> f32 {
    // libm's answers where micromath's are not defined.
    #[cfg(feature = "fast-math")]
    return match x {
        x if x.is_nan() || x < 0.0 => f32::NAN,
        0.0 => f32::NEG_INFINITY,
        f32::INFINITY => x,
        x => micromath::F32Ext::ln(x),
    };
    #[cfg(not(feature = "fast-math"))]
    libm::logf(x)
}

/// `ln(1 + x)`.
#[inline]
pub fn ln_1p(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    return ln(1.0 + x);
    #[cfg(not(feature = "fast-math"))]
    libm::log1pf(x)
}

/// `tanh x`; with `fast-math`, `1 - 2 / (e^(2x) + 1)` (exactly ±1 once `e^(2x)`
/// saturates).
#[inline]
pub fn tanh(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    return if x.is_nan() {
        x
    } else {
        1.0 - 2.0 / (exp(2.0 * x) + 1.0)
    };
    #[cfg(not(feature = "fast-math"))]
    libm::tanhf(x)
}

/// `erfc x` (libm's, with or without `fast-math`).
#[inline]
pub fn erfc(x: f32) -> f32 {
    libm::erfcf(x)
}
