//! The backward passes of the pixel-moving layers: ZeroPadding2D's gradient is the
//! middle of the output's, Cropping2D's the output's padded with zeros, UpSampling2D's
//! the sum over each pixel's copies.

use crate::kernels::spatial::{cropping2d, pad2d, Margins};

/// Writes dL/dx of [`zero_padding2d`](crate::kernels::spatial::zero_padding2d) of an
/// `image` `(h, w, c)`.
pub fn zero_padding2d(
    d_output: &[f32],
    (h, w, c): (usize, usize, usize),
    pad: Margins,
    d_input: &mut [f32],
) {
    let [[top, bottom], [left, right]] = pad;
    cropping2d(
        d_output,
        (top + h + bottom, left + w + right, c),
        pad,
        d_input,
    );
}

/// Writes dL/dx of [`cropping2d`] of an `image`.
pub fn cropping2d_backward(
    d_output: &[f32],
    (h, w, c): (usize, usize, usize),
    crop: Margins,
    d_input: &mut [f32],
) {
    let [[top, bottom], [left, right]] = crop;
    let inner = (
        h.saturating_sub(top + bottom),
        w.saturating_sub(left + right),
        c,
    );
    pad2d(d_output, inner, crop, 0.0, d_input);
}

/// Writes dL/dx of [`upsampling2d_nearest`](crate::kernels::spatial::upsampling2d_nearest).
pub fn upsampling2d_nearest(
    d_output: &[f32],
    (h, w, c): (usize, usize, usize),
    (sh, sw): (usize, usize),
    d_input: &mut [f32],
) {
    let ok = d_input.len() == h * w * c && d_output.len() == h * sh * w * sw * c;
    debug_assert!(ok, "upsampling2d backward: lengths break the contract");
    if !ok {
        return;
    }
    d_input.fill(0.0);
    let out_w = w * sw;
    for y in 0..h * sh {
        for x in 0..out_w {
            let from = &d_output[(y * out_w + x) * c..(y * out_w + x + 1) * c];
            let at = ((y / sh) * w + x / sw) * c;
            for (dx, &d) in d_input[at..at + c].iter_mut().zip(from) {
                *dx += d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_is_the_transpose_of_its_forward() {
        // Padding then its backward gives the middle back; cropping's backward pads.
        let mut dx = [0.0f32; 4];
        let d = [0., 0., 0., 0., 1., 2., 0., 0., 3., 4., 0., 0.];
        zero_padding2d(&d, (2, 2, 1), [[1, 0], [0, 2]], &mut dx);
        assert_eq!(dx, [1.0, 2.0, 3.0, 4.0]);
        let mut padded = [9.0f32; 12];
        cropping2d_backward(
            &[1.0, 2.0, 3.0, 4.0],
            (3, 4, 1),
            [[1, 0], [0, 2]],
            &mut padded,
        );
        assert_eq!(padded, d);
        let mut up = [0.0f32; 2];
        upsampling2d_nearest(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            (1, 2, 1),
            (2, 2),
            &mut up,
        );
        assert_eq!(up, [1.0 + 2.0 + 5.0 + 6.0, 3.0 + 4.0 + 7.0 + 8.0]);
    }
}
