//! Keras `padding='valid' | 'same'` along one spatial axis.
//!
//! Keras (JAX backend) hands the padding string to XLA, which uses TensorFlow's rule
//! (KERAS-NOTES.md §4), with the *effective* kernel size `(k - 1) * d + 1` for a
//! dilation `d`:
//!
//! * `valid`: no padding; `out = (in - eff_k) / s + 1` (floor), none if `in < eff_k`.
//! * `same`: `out = ceil(in / s)`,
//!   `pad_total = max((out - 1) * s + eff_k - in, 0)`, `pad_before = pad_total / 2`
//!   (floor), and the extra row or column, if any, goes **after** (bottom/right).
//! * `causal` (Conv1D): `eff_k - 1` cells before, none after; `out = ceil(in / s)`.
//!
//! These helpers are pure integer arithmetic, never panic, and return `None` (or 0)
//! for arguments Keras would reject (zero sizes, strides or dilations, overflow).

pub use crate::graph::config::Padding;

/// Effective (dilated) kernel extent `(kernel - 1) * dilation + 1`, or `None` if
/// `kernel` or `dilation` is 0 or the product overflows.
pub fn effective_kernel(kernel: usize, dilation: usize) -> Option<usize> {
    if kernel == 0 || dilation == 0 {
        return None;
    }
    (kernel - 1).checked_mul(dilation)?.checked_add(1)
}

/// Output length along one axis, as Keras computes it.
///
/// Returns `None` when the result would be 0 or the arguments are invalid: any of
/// `input`, `kernel`, `stride`, `dilation` is 0, `valid` with an effective kernel
/// larger than the input, or arithmetic overflow.
///
/// ```
/// use kiln::kernels::padding::{output_size, Padding};
/// assert_eq!(output_size(5, 3, 2, 1, Padding::Same), Some(3));
/// assert_eq!(output_size(5, 3, 2, 1, Padding::Valid), Some(2));
/// assert_eq!(output_size(4, 5, 1, 1, Padding::Valid), None);
/// ```
pub fn output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<usize> {
    if input == 0 || stride == 0 {
        return None;
    }
    let eff = effective_kernel(kernel, dilation)?;
    let out = match padding {
        Padding::Valid => (input.checked_sub(eff)? / stride).checked_add(1)?,
        Padding::Same | Padding::Causal => input.div_ceil(stride),
    };
    if out == 0 {
        None
    } else {
        Some(out)
    }
}

/// Total padding `pad_before + pad_after` along one axis (0 for `valid` or invalid
/// arguments).
pub fn pad_total(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> usize {
    match padding {
        Padding::Valid => 0,
        Padding::Causal => effective_kernel(kernel, dilation).map_or(0, |eff| eff - 1),
        Padding::Same => {
            let (Some(out), Some(eff)) = (
                output_size(input, kernel, stride, dilation, padding),
                effective_kernel(kernel, dilation),
            ) else {
                return 0;
            };
            // (out - 1) * s + eff - in, clamped at 0; `out >= 1` here.
            (out - 1)
                .checked_mul(stride)
                .and_then(|v| v.checked_add(eff))
                .map_or(0, |covered| covered.saturating_sub(input))
        }
    }
}

/// Padding before the first row/column (top or left): `pad_total / 2`, so the odd
/// pixel goes bottom/right. 0 for `valid` or invalid arguments.
///
/// ```
/// use kiln::kernels::padding::{pad_before, Padding};
/// // Even kernel, stride 1: pad 0 on top, 1 at the bottom.
/// assert_eq!(pad_before(4, 2, 1, 1, Padding::Same), 0);
/// assert_eq!(pad_before(5, 3, 1, 1, Padding::Same), 1);
/// ```
pub fn pad_before(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> usize {
    match padding {
        Padding::Causal => pad_total(input, kernel, stride, dilation, padding),
        _ => pad_total(input, kernel, stride, dilation, padding) / 2,
    }
}

/// Padding after the last row/column (bottom or right): `pad_total - pad_before`.
pub fn pad_after(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> usize {
    let total = pad_total(input, kernel, stride, dilation, padding);
    total - pad_before(input, kernel, stride, dilation, padding)
}

/// True if `(out - 1) * stride + (kernel - 1) * dilation` fits in `usize`, i.e. every
/// padded-input coordinate a kernel computes for this axis is representable.
pub(crate) fn window_span_fits(out: usize, stride: usize, kernel: usize, dilation: usize) -> bool {
    let last_start = out.saturating_sub(1).checked_mul(stride);
    let last_tap = kernel.saturating_sub(1).checked_mul(dilation);
    match (last_start, last_tap) {
        (Some(a), Some(b)) => a.checked_add(b).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_sizes() {
        assert_eq!(output_size(5, 3, 1, 1, Padding::Valid), Some(3));
        assert_eq!(output_size(5, 3, 2, 1, Padding::Valid), Some(2));
        assert_eq!(output_size(6, 3, 2, 1, Padding::Valid), Some(2));
        assert_eq!(output_size(7, 3, 2, 1, Padding::Valid), Some(3));
        // dilation 2: effective kernel 5
        assert_eq!(output_size(5, 3, 1, 2, Padding::Valid), Some(1));
        assert_eq!(output_size(4, 3, 1, 2, Padding::Valid), None);
        assert_eq!(output_size(4, 5, 1, 1, Padding::Valid), None);
        assert_eq!(output_size(28, 3, 1, 1, Padding::Valid), Some(26));
        assert_eq!(output_size(26, 2, 2, 1, Padding::Valid), Some(13));
        assert_eq!(pad_before(5, 3, 1, 1, Padding::Valid), 0);
        assert_eq!(pad_after(5, 3, 1, 1, Padding::Valid), 0);
    }

    #[test]
    fn same_sizes_and_pads() {
        // in=4, k=2, s=1: out 4, total 1 -> 0 before, 1 after (extra goes bottom/right)
        assert_eq!(output_size(4, 2, 1, 1, Padding::Same), Some(4));
        assert_eq!(pad_before(4, 2, 1, 1, Padding::Same), 0);
        assert_eq!(pad_after(4, 2, 1, 1, Padding::Same), 1);
        // in=5, k=3, s=2: out 3, total 2*2+3-5 = 2 -> 1/1
        assert_eq!(output_size(5, 3, 2, 1, Padding::Same), Some(3));
        assert_eq!(pad_before(5, 3, 2, 1, Padding::Same), 1);
        assert_eq!(pad_after(5, 3, 2, 1, Padding::Same), 1);
        // in=6, k=3, s=2: out 3, total 4+3-6 = 1 -> 0/1
        assert_eq!(output_size(6, 3, 2, 1, Padding::Same), Some(3));
        assert_eq!(pad_before(6, 3, 2, 1, Padding::Same), 0);
        assert_eq!(pad_after(6, 3, 2, 1, Padding::Same), 1);
        // in=3, pool 2, s=2: out 2, total 2+2-3 = 1 -> 0/1
        assert_eq!(output_size(3, 2, 2, 1, Padding::Same), Some(2));
        assert_eq!(pad_before(3, 2, 2, 1, Padding::Same), 0);
        // in=7, k=3, d=2 (eff 5), s=1: total 4 -> 2/2
        assert_eq!(output_size(7, 3, 1, 2, Padding::Same), Some(7));
        assert_eq!(pad_before(7, 3, 1, 2, Padding::Same), 2);
        // k=4, s=1: total 3 -> 1 before, 2 after
        assert_eq!(pad_before(8, 4, 1, 1, Padding::Same), 1);
        assert_eq!(pad_after(8, 4, 1, 1, Padding::Same), 2);
        // stride larger than kernel: no padding needed
        assert_eq!(output_size(6, 1, 3, 1, Padding::Same), Some(2));
        assert_eq!(pad_total(6, 1, 3, 1, Padding::Same), 0);
        // kernel larger than input is fine with same
        assert_eq!(output_size(1, 5, 1, 1, Padding::Same), Some(1));
        assert_eq!(pad_before(1, 5, 1, 1, Padding::Same), 2);
    }

    #[test]
    fn invalid_arguments() {
        for p in [Padding::Valid, Padding::Same] {
            assert_eq!(output_size(0, 1, 1, 1, p), None);
            assert_eq!(output_size(5, 0, 1, 1, p), None);
            assert_eq!(output_size(5, 1, 0, 1, p), None);
            assert_eq!(output_size(5, 2, 1, 0, p), None);
            assert_eq!(output_size(5, usize::MAX, 1, 2, p), None);
            assert_eq!(pad_before(5, 1, 0, 1, p), 0);
            assert_eq!(pad_before(usize::MAX, usize::MAX, 1, 1, p), 0);
        }
    }

    #[test]
    fn keras_names() {
        assert_eq!(Padding::from_keras_name("same"), Some(Padding::Same));
        assert_eq!(Padding::from_keras_name("valid"), Some(Padding::Valid));
        assert_eq!(Padding::from_keras_name("SAME"), None);
        assert_eq!(Padding::Same.keras_name(), "same");
        assert_eq!(Padding::Valid.keras_name(), "valid");
    }

    proptest! {
        #[test]
        fn same_covers_input(input in 1usize..64, k in 1usize..8, s in 1usize..5, d in 1usize..4) {
            let out = output_size(input, k, s, d, Padding::Same).unwrap();
            prop_assert_eq!(out, input.div_ceil(s));
            let eff = (k - 1) * d + 1;
            let before = pad_before(input, k, s, d, Padding::Same) as isize;
            let after = pad_after(input, k, s, d, Padding::Same);
            // the extra cell, if any, goes after
            prop_assert!(after as isize == before || after as isize == before + 1);
            let (input, s, eff) = (input as isize, s as isize, eff as isize);
            // the first window starts at or before row 0 and reaches into the input
            prop_assert!(before < eff);
            // the padded extent is exactly what the windows reach
            let last_end = (out as isize - 1) * s - before + eff - 1;
            if before + (after as isize) > 0 {
                prop_assert_eq!(last_end, input - 1 + after as isize);
            } else {
                prop_assert!(last_end < input);
            }
            // window starts o * s cover the input rows 0..in with the fewest windows
            prop_assert!((out as isize - 1) * s < input && out as isize * s >= input);
            // every window touches at least one real cell
            for o in 0..out as isize {
                let start = o * s - before;
                prop_assert!(start < input && start + eff > 0);
            }
            // when windows overlap or abut (eff >= s) they cover every input cell
            if eff >= s {
                prop_assert!(last_end >= input - 1);
            }
        }

        #[test]
        fn valid_windows_fit(input in 1usize..64, k in 1usize..8, s in 1usize..5, d in 1usize..4) {
            let eff = (k - 1) * d + 1;
            match output_size(input, k, s, d, Padding::Valid) {
                None => prop_assert!(eff > input),
                Some(out) => {
                    prop_assert!(eff <= input);
                    // the last window fits, one more would not
                    prop_assert!((out - 1) * s + eff <= input);
                    prop_assert!(out * s + eff > input);
                }
            }
            prop_assert_eq!(pad_before(input, k, s, d, Padding::Valid), 0);
        }
    }
}
