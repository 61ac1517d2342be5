//! Finite-difference gradients for the backward kernels' tests.

extern crate std;
use std::vec::Vec;

/// dL/dx by central differences in f64 of `L = Σ g · f(x)` (`f` writes `outputs` values).
pub(crate) fn finite_difference(
    x: &[f32],
    g: &[f32],
    outputs: usize,
    f: impl Fn(&[f32], &mut [f32]),
) -> Vec<f32> {
    let loss = |x: &[f32]| -> f64 {
        let mut y = std::vec![0.0f32; outputs];
        f(x, &mut y);
        y.iter()
            .zip(g)
            .map(|(&y, &g)| f64::from(y) * f64::from(g))
            .sum()
    };
    (0..x.len())
        .map(|i| {
            let h = 1e-2f32.max(x[i].abs() * 1e-2) * 0.1;
            let mut plus = x.to_vec();
            plus[i] += h;
            let mut minus = x.to_vec();
            minus[i] -= h;
            let width = f64::from(plus[i]) - f64::from(minus[i]);
            ((loss(&plus) - loss(&minus)) / width) as f32
        })
        .collect()
}

/// The analytic gradient agrees with the numeric one (f32 differences: loose).
pub(crate) fn assert_gradient(analytic: &[f32], numeric: &[f32], what: &str) {
    assert_eq!(analytic.len(), numeric.len(), "{what}");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let tolerance = 2e-3 + 2e-2 * n.abs().max(a.abs());
        assert!(
            (a - n).abs() <= tolerance,
            "{what}: gradient {i} is {a}, finite differences give {n}"
        );
    }
}
