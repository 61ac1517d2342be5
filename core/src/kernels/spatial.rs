//! The layers that move an image's pixels without arithmetic (`ZeroPadding2D`,
//! `Cropping2D`, `UpSampling2D` nearest), one sample, channels-last `(H, W, C)`.
//!
//! Each copies whole pixels (`C` values) as slices: no per-value index arithmetic. Like
//! every kernel, a broken slice-length contract returns without writing (debug builds
//! assert it).

/// Rows and columns added or removed around an image: `[[top, bottom], [left, right]]`.
pub type Margins = [[usize; 2]; 2];

/// A layer's `[[top, bottom], [left, right]]` as the kernels take them.
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn margins(m: [[u16; 2]; 2]) -> Margins {
    m.map(|pair| pair.map(usize::from))
}

/// `keras.layers.ZeroPadding2D`: `output` is `input` with `top`/`bottom` rows and
/// `left`/`right` columns of zeros around it.
///
/// Contract: `input.len() == h * w * c`, `output.len() == (top + h + bottom) * (left + w +
/// right) * c`.
pub fn zero_padding2d(
    input: &[f32],
    image: (usize, usize, usize),
    pad: Margins,
    output: &mut [f32],
) {
    pad2d(input, image, pad, 0.0, output);
}

/// [`zero_padding2d`] for any element, padding with `fill` (an int8 tensor's zero is its
/// zero point).
pub fn pad2d<T: Copy>(
    input: &[T],
    (h, w, c): (usize, usize, usize),
    pad: Margins,
    fill: T,
    output: &mut [T],
) {
    let [[top, bottom], [left, right]] = pad;
    let out_w = left + w + right;
    let ok = input.len() == h * w * c && output.len() == (top + h + bottom) * out_w * c;
    debug_assert!(ok, "zero_padding2d: slice lengths break the contract");
    if !ok {
        return;
    }
    output.fill(fill);
    if w * c == 0 {
        return;
    }
    for (y, row) in input.chunks_exact(w * c).enumerate() {
        let at = ((top + y) * out_w + left) * c;
        output[at..at + w * c].copy_from_slice(row);
    }
}

/// `keras.layers.Cropping2D`: `output` is `input[top .. h - bottom, left .. w - right]`.
///
/// Contract: `input.len() == h * w * c`, the crops leave at least one row and column,
/// `output.len() == (h - top - bottom) * (w - left - right) * c`.
pub fn cropping2d(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    crop: Margins,
    output: &mut [f32],
) {
    let [[top, bottom], [left, right]] = crop;
    let (Some(out_h), Some(out_w)) = (
        h.checked_sub(top + bottom).filter(|&n| n > 0),
        w.checked_sub(left + right).filter(|&n| n > 0),
    ) else {
        debug_assert!(false, "cropping2d: the crops leave nothing");
        return;
    };
    let ok = input.len() == h * w * c && output.len() == out_h * out_w * c;
    debug_assert!(ok, "cropping2d: slice lengths break the contract");
    if !ok || c == 0 {
        return;
    }
    for (y, row) in output.chunks_exact_mut(out_w * c).enumerate() {
        let at = ((top + y) * w + left) * c;
        row.copy_from_slice(&input[at..at + out_w * c]);
    }
}

/// `keras.layers.UpSampling2D(size, interpolation="nearest")`: each pixel repeated `sh`
/// times down and `sw` times across, `y[i, j] = x[i / sh, j / sw]`.
///
/// Contract: `input.len() == h * w * c`, `output.len() == h * sh * w * sw * c`.
pub fn upsampling2d_nearest(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    (sh, sw): (usize, usize),
    output: &mut [f32],
) {
    let row = w * sw * c;
    let ok = input.len() == h * w * c && output.len() == h * sh * row;
    debug_assert!(ok, "upsampling2d: slice lengths break the contract");
    if !ok || row == 0 || sh == 0 {
        return;
    }
    for (y, out_rows) in output.chunks_exact_mut(row * sh).enumerate() {
        let (first, rest) = out_rows.split_at_mut(row);
        for (x, pixels) in first.chunks_exact_mut(sw * c).enumerate() {
            let pixel = &input[(y * w + x) * c..(y * w + x + 1) * c];
            for out in pixels.chunks_exact_mut(c) {
                out.copy_from_slice(pixel);
            }
        }
        for copy in rest.chunks_exact_mut(row) {
            copy.copy_from_slice(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_padding_puts_the_image_inside_zeros() {
        // 2×2, 1 channel, padding [[1, 0], [0, 2]].
        let mut out = [9.0f32; 3 * 4];
        zero_padding2d(&[1.0, 2.0, 3.0, 4.0], (2, 2, 1), [[1, 0], [0, 2]], &mut out);
        assert_eq!(out, [0., 0., 0., 0., 1., 2., 0., 0., 3., 4., 0., 0.]);
    }

    #[test]
    fn cropping_keeps_the_middle() {
        // 3×3 arange, crop [[1, 0], [1, 1]] → row 1..3, column 1.
        let x: [f32; 9] = core::array::from_fn(|i| i as f32);
        let mut out = [0.0f32; 2];
        cropping2d(&x, (3, 3, 1), [[1, 0], [1, 1]], &mut out);
        assert_eq!(out, [4.0, 7.0]);
    }

    #[test]
    fn nearest_upsampling_repeats_pixels() {
        // Keras: [[0, 1], [2, 3]] with size (2, 3).
        let mut out = [0.0f32; 24];
        upsampling2d_nearest(&[0.0, 1.0, 2.0, 3.0], (2, 2, 1), (2, 3), &mut out);
        let row0 = [0., 0., 0., 1., 1., 1.];
        let row1 = [2., 2., 2., 3., 3., 3.];
        assert_eq!(&out[..6], &row0);
        assert_eq!(&out[6..12], &row0);
        assert_eq!(&out[12..18], &row1);
        assert_eq!(&out[18..], &row1);
        // Two channels move together.
        let mut out = [0.0f32; 8];
        upsampling2d_nearest(&[1.0, -1.0, 2.0, -2.0], (1, 2, 2), (1, 2), &mut out);
        assert_eq!(out, [1., -1., 1., -1., 2., -2., 2., -2.]);
    }
}
