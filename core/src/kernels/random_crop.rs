//! `keras.layers.RandomCrop(height, width)` in training (at inference it is the identity).
//!
//! Keras 3.15 (`random_crop.py`): when the image is larger than the target on both axes,
//! one window at a random offset `int(uniform(0, H - h + 1))` for the whole batch. Otherwise
//! it finds the largest centred window of the target's aspect ratio, takes up to `h × w`
//! pixels from that window's corner, and resizes what it took to `h × w` bilinearly
//! (JAX's `image.resize`: half-pixel centres, triangle weights renormalised at the edges).

use super::rng::SmallRng;

/// The pixels a crop takes: rows `top..top + rows`, columns `left..left + cols`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropWindow {
    pub top: usize,
    pub left: usize,
    pub rows: usize,
    pub cols: usize,
}

/// Where Keras crops an `in_h × in_w` image to `height × width`; `rng` draws the offset
/// (once per batch) when the image is larger on both axes.
pub fn crop_window(
    in_h: usize,
    in_w: usize,
    height: usize,
    width: usize,
    rng: &mut SmallRng,
) -> CropWindow {
    if in_h > height && in_w > width {
        let top = rng.below((in_h - height + 1) as u32) as usize;
        let left = rng.below((in_w - width + 1) as u32) as usize;
        return CropWindow {
            top,
            left,
            rows: height,
            cols: width,
        };
    }
    // Python: int(float(a * b) / c), all positive, so integer division.
    let crop_h = (in_w * height / width.max(1)).clamp(1, in_h.max(1));
    let crop_w = (in_h * width / height.max(1)).clamp(1, in_w.max(1));
    let top = (in_h - crop_h) / 2;
    let left = (in_w - crop_w) / 2;
    CropWindow {
        top,
        left,
        rows: (top + height).min(in_h) - top,
        cols: (left + width).min(in_w) - left,
    }
}

/// Crops `window` out of an `(h, w, c)` image and, if it is not `height × width`, resizes
/// it bilinearly. `output` holds `height * width * c` values.
pub fn crop(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    window: CropWindow,
    (height, width): (usize, usize),
    output: &mut [f32],
) {
    let ok = input.len() == h * w * c
        && output.len() == height * width * c
        && window.top + window.rows <= h
        && window.left + window.cols <= w
        && window.rows > 0
        && window.cols > 0;
    debug_assert!(ok, "crop: slice lengths break the contract");
    if !ok {
        return;
    }
    let pixel = |r: usize, col: usize, ch: usize| {
        input[((window.top + r) * w + window.left + col) * c + ch]
    };
    for oy in 0..height {
        let (y0, y1, wy0, wy1) = taps(oy, height, window.rows);
        for ox in 0..width {
            let (x0, x1, wx0, wx1) = taps(ox, width, window.cols);
            for ch in 0..c {
                let top = pixel(y0, x0, ch) * wx0 + pixel(y0, x1, ch) * wx1;
                let bottom = pixel(y1, x0, ch) * wx0 + pixel(y1, x1, ch) * wx1;
                output[(oy * width + ox) * c + ch] = top * wy0 + bottom * wy1;
            }
        }
    }
}

/// The two input pixels output pixel `o` of `out` reads from an axis of `len` pixels,
/// and their weights (summing to 1). Equal sizes give the pixel itself.
fn taps(o: usize, out: usize, len: usize) -> (usize, usize, f32, f32) {
    if out == len {
        return (o, o, 1.0, 0.0);
    }
    let x = (o as f32 + 0.5) * (len as f32 / out as f32) - 0.5;
    let below = libm::floorf(x);
    let frac = x - below;
    let i0 = below as isize;
    let i1 = i0 + 1;
    let last = len as isize - 1;
    match (i0 < 0, i1 > last) {
        (true, _) => (0, 0, 1.0, 0.0),
        (_, true) => (last as usize, last as usize, 1.0, 0.0),
        _ => (i0 as usize, i1 as usize, 1.0 - frac, frac),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keras 3.15.1 (JAX) `RandomCrop(h, w)(x, training=True)` on inputs smaller than the
    /// target, where the result is deterministic; `x = arange * 0.5 - 1`.
    type Case = ((usize, usize, usize), (usize, usize), &'static [f32]);
    const KERAS: &[Case] = &[
        (
            (3, 2, 2),
            (4, 5),
            &[
                1.0, 1.5, 1.1, 1.5999999, 1.5, 2.0, 1.9, 2.4, 2.0, 2.5, 1.5, 2.0, 1.5999999, 2.1,
                2.0, 2.5, 2.4, 2.9, 2.5, 3.0, 2.5, 3.0, 2.6000001, 3.1, 3.0, 3.5, 3.4, 3.9, 3.5,
                4.0, 3.0, 3.5, 3.1, 3.6, 3.5, 4.0, 3.9, 4.4, 4.0, 4.5,
            ],
        ),
        (
            (6, 3, 1),
            (4, 4),
            &[
                0.5, 0.8125, 1.1875, 1.5, 2.0, 2.3125, 2.6875, 3.0, 3.5, 3.8125, 4.1875, 4.5, 5.0,
                5.3125, 5.6875, 6.0,
            ],
        ),
        (
            (2, 2, 1),
            (4, 4),
            &[
                -1.0, -0.875, -0.625, -0.5, -0.75, -0.625, -0.375, -0.25, -0.25, -0.125, 0.125,
                0.25, 0.0, 0.125, 0.375, 0.5,
            ],
        ),
        (
            (5, 7, 1),
            (3, 9),
            &[
                2.5, 2.8333335, 3.2222223, 3.6111112, 4.0, 4.388889, 4.7777777, 5.166667, 5.5, 6.0,
                6.3333335, 6.7222223, 7.111111, 7.5, 7.888889, 8.277778, 8.666666, 9.0, 9.5,
                9.833334, 10.222222, 10.611112, 11.0, 11.388889, 11.777778, 12.166667, 12.5,
            ],
        ),
    ];

    #[test]
    fn small_inputs_match_keras() {
        let mut rng = SmallRng::new(0);
        for &((h, w, c), (th, tw), want) in KERAS {
            let x: [f32; 64] = core::array::from_fn(|i| i as f32 * 0.5 - 1.0);
            let window = crop_window(h, w, th, tw, &mut rng);
            let mut out = [0.0f32; 64];
            crop(
                &x[..h * w * c],
                (h, w, c),
                window,
                (th, tw),
                &mut out[..th * tw * c],
            );
            for (i, (a, b)) in out[..th * tw * c].iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6,
                    "{h}x{w}x{c} -> {th}x{tw} [{i}]: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn large_inputs_take_a_window_that_fits() {
        let mut rng = SmallRng::new(9);
        for _ in 0..200 {
            let win = crop_window(10, 7, 4, 3, &mut rng);
            assert_eq!((win.rows, win.cols), (4, 3));
            assert!(win.top + 4 <= 10 && win.left + 3 <= 7);
        }
        let x: [f32; 12] = core::array::from_fn(|i| i as f32);
        let mut out = [0.0f32; 4];
        crop(
            &x,
            (3, 4, 1),
            CropWindow {
                top: 1,
                left: 2,
                rows: 2,
                cols: 2,
            },
            (2, 2),
            &mut out,
        );
        assert_eq!(out, [6.0, 7.0, 10.0, 11.0]);
    }
}
