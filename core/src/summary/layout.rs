//! Column widths, computed as Keras and rich compute them.
//!
//! Keras turns `positions` into widths `w_i = int(p_i * L) - int(p_{i-1} * L)` and hands
//! them to a rich `Table(width=L)` with fixed-width columns. rich adds one space of padding
//! on each side, clamps each column to the room inside the borders, and if the total is
//! still too wide takes the excess off left to right with `ratio_reduce` (Python's
//! round-half-to-even). `summary` then prints text `cell - 2` wide.

use super::SummaryError;

/// Most columns a summary has (name, shape, params, connected to, trainable).
pub const MAX_COLUMNS: usize = 5;

/// Cell widths (padding included) for a table `line_length` wide.
pub fn cell_widths(
    line_length: usize,
    positions: &[f64],
    columns: usize,
) -> Result<heapless::Vec<usize, MAX_COLUMNS>, SummaryError<'static>> {
    let mut widths = heapless::Vec::<usize, MAX_COLUMNS>::new();
    // Edges as Python computes them: int() truncates toward zero, and Python's integers do
    // not overflow (f64 keeps every edge a table can use exactly; wider ones are clamped
    // below anyway).
    let mut current = 0.0f64;
    for (i, &p) in positions.iter().enumerate() {
        if !p.is_finite() {
            return Err(SummaryError::Position { value: p });
        }
        let edge = libm::trunc(p * line_length as f64);
        let width = edge - current;
        if width < 4.0 {
            return Err(SummaryError::InsufficientWidth);
        }
        current = edge;
        if i < columns {
            widths
                .push(width.min(usize::MAX as f64) as usize)
                .map_err(|_| SummaryError::TooManyPositions)?;
        }
    }
    if widths.len() < columns {
        return Err(SummaryError::TooFewPositions {
            expected: columns,
            found: positions.len(),
        });
    }
    let available = line_length.saturating_sub(columns + 1);
    for w in widths.iter_mut() {
        *w = w.saturating_add(2).min(available);
    }
    let total: usize = widths.iter().sum();
    if total > available {
        let excess = total - available;
        ratio_reduce(excess, &mut widths);
    }
    Ok(widths)
}

/// rich's `ratio_reduce(total, [1]*n, widths, widths)`.
fn ratio_reduce(total: usize, widths: &mut [usize]) {
    let mut remaining = total;
    let mut ratio_left = widths.iter().filter(|&&w| w > 0).count();
    for w in widths.iter_mut() {
        if *w == 0 || ratio_left == 0 {
            continue;
        }
        let share = round_half_even(remaining, ratio_left).min(*w);
        *w -= share;
        remaining -= share.min(remaining);
        ratio_left -= 1;
    }
}

/// `round(a / b)` with ties to even, in integers.
fn round_half_even(a: usize, b: usize) -> usize {
    let (q, r) = (a / b, a % b);
    match (2 * r).cmp(&b) {
        core::cmp::Ordering::Less => q,
        core::cmp::Ordering::Greater => q + 1,
        core::cmp::Ordering::Equal => q + (q % 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(l: usize, p: &[f64]) -> heapless::Vec<usize, MAX_COLUMNS> {
        cell_widths(l, p, p.len()).unwrap()
    }

    #[test]
    fn keras_notes_widths() {
        assert_eq!(widths(88, &[0.45, 0.80, 1.0]), [38, 29, 17]);
        assert_eq!(widths(108, &[0.3, 0.56, 0.74, 1.0]), [31, 27, 17, 28]);
        assert_eq!(widths(100, &[0.405, 0.72, 0.9, 1.0]), [39, 31, 16, 9]);
        assert_eq!(widths(76, &[0.45, 0.80, 1.0]), [33, 24, 15]);
        assert_eq!(widths(40, &[0.45, 0.80, 1.0]), [17, 12, 7]);
    }

    #[test]
    fn absolute_positions_collapse_to_equal_columns() {
        assert_eq!(widths(88, &[40.0, 60.0, 70.0]), [28, 28, 28]);
    }

    #[test]
    fn too_narrow_is_an_error() {
        assert_eq!(
            cell_widths(10, &[0.45, 0.8, 1.0], 3),
            Err(SummaryError::InsufficientWidth)
        );
    }

    #[test]
    fn positions_must_be_numbers() {
        assert!(matches!(
            cell_widths(80, &[0.5, f64::NAN, 1.0], 3),
            Err(SummaryError::Position { value }) if value.is_nan()
        ));
        assert!(matches!(
            cell_widths(80, &[0.5, f64::INFINITY, 1.0], 3),
            Err(SummaryError::Position { value }) if value.is_infinite()
        ));
        // Huge finite positions clamp to the line, as rich clamps them.
        assert_eq!(widths(76, &[1e300, 2e300, 3e300]), [24, 24, 24]);
    }

    #[test]
    fn banker_rounding() {
        assert_eq!(round_half_even(7, 2), 4);
        assert_eq!(round_half_even(5, 2), 2);
        assert_eq!(round_half_even(10, 3), 3);
    }
}
