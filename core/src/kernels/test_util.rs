//! Test-only helpers: closeness with the project's float tolerance.

extern crate std;

/// Keras parity tolerance (DESIGN.md invariant 7).
pub(crate) const RTOL: f32 = 1e-5;
/// Keras parity tolerance (DESIGN.md invariant 7).
pub(crate) const ATOL: f32 = 1e-6;

/// `|a - e| <= atol + rtol * |e|`, like `numpy.allclose`.
pub(crate) fn close(actual: f32, expected: f32) -> bool {
    if actual.is_nan() || expected.is_nan() {
        return actual.is_nan() && expected.is_nan();
    }
    if actual == expected {
        return true; // also covers equal infinities
    }
    (actual - expected).abs() <= ATOL + RTOL * expected.abs()
}

#[track_caller]
pub(crate) fn assert_close(actual: f32, expected: f32) {
    assert!(
        close(actual, expected),
        "actual {actual} (0x{:08x}) vs expected {expected}",
        actual.to_bits()
    );
}

#[track_caller]
pub(crate) fn assert_all_close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "length mismatch");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            close(a, e),
            "index {i}: actual {a} vs expected {e}\nactual:   {actual:?}\nexpected: {expected:?}"
        );
    }
}

/// `0.0, 1.0, 2.0, ...` of length `n`.
pub(crate) fn arange(n: usize) -> std::vec::Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}
