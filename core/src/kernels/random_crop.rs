//! `keras.layers.RandomCrop(height, width)` in training mode, for one `(H, W, C)` image of
//! the batch, and the bilinear resize it falls back on (float32 reference). At inference
//! Keras 3.15's RandomCrop is the identity (KERAS-NOTES §3), so nothing runs then.
//!
//! # What Keras 3.15.1 does (JAX backend)
//! `keras/src/layers/preprocessing/image_preprocessing/random_crop.py`:
//!
//! 1. `get_random_transformation`, once per batch. When `training and H > height and
//!    W > width` (**strictly** larger on both axes), `h_start = int(uniform((), 0,
//!    H - height + 1))`, then `w_start` the same way on the width, from two float32 draws:
//!    [`crop_offset`]. Otherwise, with no randomness: `crop_height = int(float(W * height) /
//!    width)` clamped to `[1, H]`, `crop_width = int(float(H * width) / height)` clamped to
//!    `[1, W]`, `h_start = int((H - crop_height) / 2)`, `w_start = int((W - crop_width) / 2)`:
//!    [`center_offset`]. So an image as tall as the target but wider is centre-cropped, not
//!    randomly cropped.
//! 2. `transform_images` slices `images[h_start : h_start + height, w_start : w_start +
//!    width]` (the **target** extents, clipped to the image like any Python slice; the
//!    `crop_height`/`crop_width` above only place the window, they do not size it) and, if
//!    the slice is not `height × width`, resizes it with
//!    `backend.image.resize(size=(height, width))`, whose defaults are
//!    `interpolation="bilinear"`, `antialias=False`, no aspect-ratio crop or pad:
//!    [`crop`] with a [`CropWindow`]. The window is therefore *not* aspect-preserving in
//!    general: a 4×8 image cropped to 8×8 takes columns 2..8 (4×6) and stretches them.
//!
//! # The bilinear resize (`jax.image.resize(x, shape, "bilinear", antialias=False)`)
//! `jax/_src/image/scale.py`: axes whose size does not change are skipped (no
//! arithmetic). On a resized axis of `n_in → n_out` pixels, with half-pixel centres (pixel
//! `k` covers `[k, k + 1)`, its centre is `k + 0.5`), all in f32:
//! ```text
//! scale = f32(n_out / n_in)            # Python true division, then rounded to f32
//! inv   = 1 / scale
//! s     = (o + 0.5) * inv - 0.5        # input coordinate of output pixel o
//! w_j   = max(0, 1 - |s - j|)          # triangle kernel, j = 0 .. n_in - 1
//! w_j  *= 1 / Σ_j w_j                  # renormalised (so edges repeat the edge pixel)
//! ```
//! At most two taps (`floor(s)`, `floor(s) + 1`) are non-zero. JAX writes `w_j / Σ w`, but
//! XLA compiles the division by the broadcast sum as a multiplication by its reciprocal;
//! the weights here match JAX's compiled `compute_weight_mat` bit for bit for every size
//! pair up to 39 (when `n_in == 1` there is no broadcast and XLA divides: both give 1 here
//! too). The two passes are contracted width first, then height (the order of JAX's two
//! `dot_general`s): `row(a) = Σ_b w_b · x[a, b]`, `out = Σ_a w_a · row(a)`, each sum from
//! `0.0` in index order. XLA's CPU dot uses fused multiply-adds, which kiln never does, so
//! outputs differ from JAX's by an ulp or so (see the module's Keras fixtures).
//!
//! JAX's dots multiply every input by its weight, zero weights included, so one `inf` or
//! `NaN` spreads: `0 · inf = NaN`. When the window holds a non-finite value this kernel
//! evaluates those dense sums literally to give the same NaN/inf pattern (slow, but only
//! then).

use super::rng::SmallRng;

/// The pixels a crop takes from the image: rows `top..top + rows`, columns
/// `left..left + cols`. [`crop`] resizes them to the target when they are not its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropWindow {
    /// The first row taken.
    pub top: usize,
    /// The first column taken.
    pub left: usize,
    /// How many rows are taken.
    pub rows: usize,
    /// How many columns are taken.
    pub cols: usize,
}

impl CropWindow {
    /// Keras's slice `image[top : top + height, left : left + width]` of an
    /// `image_h × image_w` image: the target extents, clipped to the image.
    pub fn new(
        (top, left): (usize, usize),
        (image_h, image_w): (usize, usize),
        (height, width): (usize, usize),
    ) -> Self {
        CropWindow {
            top,
            left,
            rows: height.min(image_h.saturating_sub(top)),
            cols: width.min(image_w.saturating_sub(left)),
        }
    }
}

/// Keras's per-batch crop offset `(h_start, w_start)` in training, for an
/// `input_h × input_w` image and a `height × width` target.
///
/// When the image is strictly larger on both axes: `h_start = int(u * f32(input_h -
/// height + 1))` with `u = rng.next_f32()`, then `w_start` likewise with a second draw
/// (JAX's `uniform(0, maxval)` is `u * maxval` in f32, and the cast to int32 truncates).
/// The result is clamped to the last valid offset, which only matters if `f32` rounding of
/// a huge extent could reach it. Otherwise it returns [`center_offset`] and draws nothing.
///
/// The draws come from [`SmallRng`], not from JAX's stream: same distribution, not the
/// same offsets.
pub fn crop_offset(
    input_h: usize,
    input_w: usize,
    height: usize,
    width: usize,
    rng: &mut SmallRng,
) -> (usize, usize) {
    if input_h > height && input_w > width {
        let mut draw = |n: usize| ((rng.next_f32() * n as f32) as usize).min(n - 1);
        let top = draw((input_h - height).saturating_add(1));
        let left = draw((input_w - width).saturating_add(1));
        return (top, left);
    }
    center_offset(input_h, input_w, height, width)
}

/// The deterministic offset Keras uses when the image is not strictly larger than the
/// target on both axes (see the module documentation for the formula, computed in `f64`
/// like Python's floats). `height == 0` or `width == 0` (a division by zero in Keras,
/// rejected by the graph layer) gives `(0, 0)`.
pub fn center_offset(
    input_h: usize,
    input_w: usize,
    height: usize,
    width: usize,
) -> (usize, usize) {
    if height == 0 || width == 0 {
        return (0, 0);
    }
    // `as usize` truncates like Python's int() (all values are non-negative).
    let crop_h = ((input_w as f64 * height as f64) / width as f64) as usize;
    let crop_h = crop_h.min(input_h).max(1);
    let crop_w = ((input_h as f64 * width as f64) / height as f64) as usize;
    let crop_w = crop_w.min(input_w).max(1);
    (
        input_h.saturating_sub(crop_h) / 2,
        input_w.saturating_sub(crop_w) / 2,
    )
}

/// [`crop_offset`] and Keras's slice of the target extents from there
/// ([`CropWindow::new`]): the window [`crop`] takes for every image of the batch.
pub fn crop_window(
    in_h: usize,
    in_w: usize,
    height: usize,
    width: usize,
    rng: &mut SmallRng,
) -> CropWindow {
    let offset = crop_offset(in_h, in_w, height, width, rng);
    CropWindow::new(offset, (in_h, in_w), (height, width))
}

/// RandomCrop's `transform_images` for one `(h, w, c)` image: copies `window` and, when it
/// is not `height × width`, resizes it bilinearly to that size (module documentation).
/// `output` is `(height, width, c)`. A window of the target size is an exact copy, so this
/// is also the plain crop at an offset: `CropWindow { top, left, rows: height, cols: width }`.
///
/// # Slice-length contract
/// `input.len() == h * w * c`, `output.len() == height * width * c`, the window is
/// non-empty and inside the image (`top + rows <= h`, `left + cols <= w`, `rows, cols >= 1`),
/// without overflow. Debug builds assert it; release builds return without writing
/// `output` when it is broken.
pub fn crop(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    window: CropWindow,
    (height, width): (usize, usize),
    output: &mut [f32],
) {
    let fits = |start: usize, len: usize, size: usize| {
        len > 0 && start.checked_add(len).is_some_and(|end| end <= size)
    };
    let ok = h.checked_mul(w).and_then(|p| p.checked_mul(c)) == Some(input.len())
        && height.checked_mul(width).and_then(|p| p.checked_mul(c)) == Some(output.len())
        && fits(window.top, window.rows, h)
        && fits(window.left, window.cols, w);
    debug_assert!(ok, "crop: slice lengths break the contract");
    if !ok || output.is_empty() {
        return; // also keeps `chunks_exact*` away from size 0
    }
    let image = Window {
        input,
        w,
        c,
        window,
    };
    if window.rows == height && window.cols == width {
        for (r, out_row) in output.chunks_exact_mut(width * c).enumerate() {
            let start = image.index(r, 0, 0);
            if let Some(src) = input.get(start..start + width * c) {
                out_row.copy_from_slice(src);
            }
        }
        return;
    }
    let rows = Axis::new(window.rows, height);
    let cols = Axis::new(window.cols, width);
    if image.all_finite() {
        resize_sparse(&image, rows, cols, width, output);
    } else {
        resize_dense(&image, rows, cols, width, output);
    }
}

/// Keras's RandomCrop in training on an image that is not strictly larger than the target
/// on both axes: [`center_offset`], the target-sized slice from there clipped to the
/// image, and the bilinear resize to `height × width`. Same contract as [`crop`], with the
/// window computed here (`h, w >= 1`).
pub fn center_crop_resize(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    (height, width): (usize, usize),
    output: &mut [f32],
) {
    let offset = center_offset(h, w, height, width);
    let window = CropWindow::new(offset, (h, w), (height, width));
    crop(input, (h, w, c), window, (height, width), output);
}

/// `jax.image.resize(x, (out_h, out_w, c), "bilinear", antialias=False)` of an `(h, w, c)`
/// image (Keras's `ops.image.resize(..., interpolation="bilinear")`; module
/// documentation). Also downsamples (triangle of width 1, no low-pass filter).
///
/// # Slice-length contract
/// `h, w >= 1`, `input.len() == h * w * c`, `output.len() == out_h * out_w * c`. Debug
/// builds assert it; release builds return without writing `output` when it is broken.
pub fn resize_bilinear(
    input: &[f32],
    (h, w, c): (usize, usize, usize),
    (out_h, out_w): (usize, usize),
    output: &mut [f32],
) {
    let whole = CropWindow::new((0, 0), (h, w), (h, w));
    crop(input, (h, w, c), whole, (out_h, out_w), output);
}

/// The window of the input image that is being resized.
struct Window<'a> {
    input: &'a [f32],
    w: usize,
    c: usize,
    window: CropWindow,
}

impl Window<'_> {
    /// Index in `input` of window pixel `(r, col)`, channel `ch` (in range by `crop`'s
    /// contract).
    fn index(&self, r: usize, col: usize, ch: usize) -> usize {
        ((self.window.top + r) * self.w + self.window.left + col) * self.c + ch
    }

    fn at(&self, r: usize, col: usize, ch: usize) -> f32 {
        self.input
            .get(self.index(r, col, ch))
            .copied()
            .unwrap_or(0.0)
    }

    fn all_finite(&self) -> bool {
        (0..self.window.rows).all(|r| {
            let start = self.index(r, 0, 0);
            self.input
                .get(start..start + self.window.cols * self.c)
                .is_some_and(|row| row.iter().all(|v| v.is_finite()))
        })
    }
}

/// One axis of the resize: `n_in` window pixels to `n_out` output pixels.
#[derive(Clone, Copy)]
struct Axis {
    n_in: usize,
    /// `1 / f32(n_out / n_in)`; `None` when the sizes are equal (JAX skips the axis).
    inv_scale: Option<f32>,
}

/// The non-zero weights of one output pixel on one axis: input pixels `first` and
/// `first + 1`, the second only when `count == 2`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Taps {
    first: usize,
    count: usize,
    weights: [f32; 2],
}

impl Axis {
    fn new(n_in: usize, n_out: usize) -> Self {
        let inv_scale = (n_in != n_out).then(|| {
            let scale = (n_out as f64 / n_in as f64) as f32;
            1.0 / scale
        });
        Axis { n_in, inv_scale }
    }

    /// `None` for a skipped axis (output pixel `o` is input pixel `o`).
    fn taps(&self, o: usize) -> Option<Taps> {
        let inv = self.inv_scale?;
        let s = (o as f32 + 0.5) * inv - 0.5;
        let j0 = libm::floorf(s); // s >= -0.5, so j0 >= -1
        let weight = |j: f32| {
            let d = 1.0 - libm::fabsf(s - j);
            if d > 0.0 {
                d
            } else {
                0.0
            }
        };
        let in_range = |j: f32| j >= 0.0 && (j as usize) < self.n_in;
        let (first, mut weights, count) = match (in_range(j0), in_range(j0 + 1.0)) {
            (true, true) => (j0 as usize, [weight(j0), weight(j0 + 1.0)], 2),
            (true, false) => (j0 as usize, [weight(j0), 0.0], 1),
            (false, true) => ((j0 + 1.0) as usize, [weight(j0 + 1.0), 0.0], 1),
            (false, false) => return Some(Taps::default()), // not reachable for a resize
        };
        // Σ over all input pixels: the zeros add nothing, two terms commute. The total is
        // at least 0.5 (the nearest pixel is within half a pixel), so JAX's "total too
        // small → weight 0" and "sample outside the image → 0" cases never apply.
        let total = weights[0] + weights[1];
        if self.n_in == 1 {
            weights[0] /= total;
        } else {
            let reciprocal = 1.0 / total;
            weights[0] *= reciprocal;
            weights[1] *= reciprocal;
        }
        Some(Taps {
            first,
            count,
            weights,
        })
    }

    /// The dense weight of input pixel `j` in `taps`' output pixel (0 off the taps).
    fn weight(taps: &Taps, j: usize) -> f32 {
        match j.checked_sub(taps.first) {
            Some(k) if k < taps.count => taps.weights[k],
            _ => 0.0,
        }
    }
}

/// `Σ_k weights[k] · value(first + k)` from `0.0`, in index order.
fn weighted(taps: &Taps, value: impl Fn(usize) -> f32) -> f32 {
    let mut acc = 0.0f32;
    for k in 0..taps.count {
        acc += taps.weights[k] * value(taps.first + k);
    }
    acc
}

/// Finite windows: only the (at most) two taps per axis.
/// `output` is `(out_h, out_w, c)`, not empty.
fn resize_sparse(image: &Window, rows: Axis, cols: Axis, out_w: usize, output: &mut [f32]) {
    let c = image.c;
    for (i, out_row) in output.chunks_exact_mut(out_w * c).enumerate() {
        let row_taps = rows.taps(i);
        for (j, px) in out_row.chunks_exact_mut(c).enumerate() {
            let col_taps = cols.taps(j);
            for (ch, out) in px.iter_mut().enumerate() {
                // width first: one window row `a` contracted over its columns
                let row = |a: usize| match &col_taps {
                    None => image.at(a, j, ch),
                    Some(t) => weighted(t, |b| image.at(a, b, ch)),
                };
                *out = match &row_taps {
                    None => row(i),
                    Some(t) => weighted(t, row),
                };
            }
        }
    }
}

/// Windows holding inf or NaN: JAX's dense sums, zero weights included.
fn resize_dense(image: &Window, rows: Axis, cols: Axis, out_w: usize, output: &mut [f32]) {
    let c = image.c;
    let (n_rows, n_cols) = (image.window.rows, image.window.cols);
    for (i, out_row) in output.chunks_exact_mut(out_w * c).enumerate() {
        let row_taps = rows.taps(i);
        for (j, px) in out_row.chunks_exact_mut(c).enumerate() {
            let col_taps = cols.taps(j);
            for (ch, out) in px.iter_mut().enumerate() {
                let row = |a: usize| match &col_taps {
                    None => image.at(a, j, ch),
                    Some(t) => {
                        let mut acc = 0.0f32;
                        for b in 0..n_cols {
                            acc += Axis::weight(t, b) * image.at(a, b, ch);
                        }
                        acc
                    }
                };
                *out = match &row_taps {
                    None => row(i),
                    Some(t) => {
                        let mut acc = 0.0f32;
                        for a in 0..n_rows {
                            acc += Axis::weight(t, a) * row(a);
                        }
                        acc
                    }
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::test_util::{arange, assert_all_close};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn resized(input: &[f32], shape: (usize, usize, usize), to: (usize, usize)) -> Vec<f32> {
        let mut out = vec![f32::NAN; to.0 * to.1 * shape.2];
        resize_bilinear(input, shape, to, &mut out);
        out
    }

    #[test]
    fn axis_taps_by_hand_2_to_4() {
        // inv = 0.5; s = (o + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25.
        // o = 0: only pixel 0 is inside (weight 0.75), renormalised to 1; o = 3 likewise.
        let axis = Axis::new(2, 4);
        let t = |first, count, weights| {
            Some(Taps {
                first,
                count,
                weights,
            })
        };
        assert_eq!(axis.taps(0), t(0, 1, [1.0, 0.0]));
        assert_eq!(axis.taps(1), t(0, 2, [0.75, 0.25]));
        assert_eq!(axis.taps(2), t(0, 2, [0.25, 0.75]));
        assert_eq!(axis.taps(3), t(1, 1, [1.0, 0.0]));
        assert_eq!(Axis::new(3, 3).taps(1), None); // JAX skips an axis of unchanged size
    }

    #[test]
    fn upsample_2x2_to_4x4_by_hand() {
        // Rows [0, 4] / [8, 12]; per axis the weights are [1, 0], [.75, .25], [.25, .75],
        // [0, 1] (half-pixel centres, edges repeated). Width first: the rows become
        // [0, 1, 3, 4] and [8, 9, 11, 12]; then the height mixes them the same way.
        // Keras 3.15.1 RandomCrop(4, 4) on this image in training gives exactly this.
        let want = [
            0.0, 1.0, 3.0, 4.0, //
            2.0, 3.0, 5.0, 6.0, //
            6.0, 7.0, 9.0, 10.0, //
            8.0, 9.0, 11.0, 12.0,
        ];
        assert_eq!(resized(&[0.0, 4.0, 8.0, 12.0], (2, 2, 1), (4, 4)), want);
        let mut out = [f32::NAN; 16];
        center_crop_resize(&[0.0, 4.0, 8.0, 12.0], (2, 2, 1), (4, 4), &mut out);
        assert_eq!(out, want);
        // two channels are resized independently (channels fastest)
        let two = resized(
            &[0.0, -1.0, 4.0, -2.0, 8.0, -3.0, 12.0, -4.0],
            (2, 2, 2),
            (4, 4),
        );
        let ch0: Vec<f32> = two.iter().step_by(2).copied().collect();
        let ch1: Vec<f32> = two.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(ch0, want);
        assert_eq!(ch1, resized(&[-1.0, -2.0, -3.0, -4.0], (2, 2, 1), (4, 4)));
        assert_eq!(ch1[..4], [-1.0, -1.25, -1.75, -2.0]);
    }

    #[test]
    fn downsample_without_antialias_by_hand() {
        // 3 -> 2: inv = 1 / f32(2/3) = 1.5, s = 0.25 and 1.75:
        // 0.75 * 1 + 0.25 * 2 = 1.25 and 0.25 * 2 + 0.75 * 4 = 3.5 (Keras: [1.25, 3.5]).
        assert_eq!(resized(&[1.0, 2.0, 4.0], (3, 1, 1), (2, 1)), [1.25, 3.5]);
        // 4 -> 2: s = 0.5, 2.5: the mean of each pair (a triangle, not a box, filter)
        assert_eq!(
            resized(&[1.0, 3.0, 10.0, 20.0], (1, 4, 1), (1, 2)),
            [2.0, 15.0]
        );
        // 5 -> 3, Keras 3.15.1 (jax.image.resize): s = 1/3, 2, 11/3
        assert_all_close(
            &resized(&[1.0, 2.0, 4.0, 8.0, 16.0], (5, 1, 1), (3, 1)),
            &[1.333_333_3, 4.0, 13.333_332],
        );
    }

    /// Keras 3.15.1 (JAX) `RandomCrop(th, tw)(x, training=True)` where it is deterministic
    /// (the image is not strictly larger on both axes); `x = arange * step + shift`.
    struct Case {
        image: (usize, usize, usize),
        target: (usize, usize),
        step: f32,
        shift: f32,
        want: &'static [f32],
    }

    const KERAS: &[Case] = &[
        Case {
            image: (3, 2, 2),
            target: (4, 5),
            step: 0.5,
            shift: -1.0,
            want: &[
                1.0, 1.5, 1.1, 1.5999999, 1.5, 2.0, 1.9, 2.4, 2.0, 2.5, 1.5, 2.0, 1.5999999, 2.1,
                2.0, 2.5, 2.4, 2.9, 2.5, 3.0, 2.5, 3.0, 2.6000001, 3.1, 3.0, 3.5, 3.4, 3.9, 3.5,
                4.0, 3.0, 3.5, 3.1, 3.6, 3.5, 4.0, 3.9, 4.4, 4.0, 4.5,
            ],
        },
        Case {
            image: (6, 3, 1),
            target: (4, 4),
            step: 0.5,
            shift: -1.0,
            want: &[
                0.5, 0.8125, 1.1875, 1.5, 2.0, 2.3125, 2.6875, 3.0, 3.5, 3.8125, 4.1875, 4.5, 5.0,
                5.3125, 5.6875, 6.0,
            ],
        },
        Case {
            image: (5, 7, 1),
            target: (3, 9),
            step: 0.5,
            shift: -1.0,
            want: &[
                2.5, 2.8333335, 3.2222223, 3.6111112, 4.0, 4.388889, 4.7777777, 5.166667, 5.5, 6.0,
                6.3333335, 6.7222223, 7.111111, 7.5, 7.888889, 8.277778, 8.666666, 9.0, 9.5,
                9.833334, 10.222222, 10.611112, 11.0, 11.388889, 11.777778, 12.166667, 12.5,
            ],
        },
        // 10x4 -> 6x6: offset (3, 0), window rows 3..9 (6) x cols 0..4, width 4 -> 6 only
        Case {
            image: (10, 4, 1),
            target: (6, 6),
            step: 1.0,
            shift: 0.0,
            want: &[
                12.0, 12.5, 13.166666, 13.833334, 14.5, 15.0, 16.0, 16.5, 17.166666, 17.833334,
                18.5, 19.0, 20.0, 20.5, 21.166666, 21.833334, 22.5, 23.0, 24.0, 24.5, 25.166668,
                25.833334, 26.5, 27.0, 28.0, 28.5, 29.166666, 29.833334, 30.5, 31.0, 32.0, 32.5,
                33.166668, 33.833332, 34.5, 35.0,
            ],
        },
        // 3x5x2 -> 4x4: offset (0, 0), window 3x4, height 3 -> 4 only
        Case {
            image: (3, 5, 2),
            target: (4, 4),
            step: 0.5,
            shift: -3.0,
            want: &[
                -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 1.125, 1.625, 2.125, 2.625, 3.125,
                3.625, 4.125, 4.625, 4.875, 5.375, 5.875, 6.375, 6.875, 7.375, 7.875, 8.375, 8.0,
                8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5,
            ],
        },
        // 4x8 -> 8x8: offset (0, 2), window 4x6 (not the 4x4 aspect-ratio crop), stretched
        Case {
            image: (4, 8, 1),
            target: (8, 8),
            step: 1.0,
            shift: 0.0,
            want: &[
                2.0, 2.625, 3.375, 4.125, 4.875, 5.625, 6.375, 7.0, 4.0, 4.625, 5.375, 6.125,
                6.875, 7.625, 8.375, 9.0, 8.0, 8.625, 9.375, 10.125, 10.875, 11.625, 12.375, 13.0,
                12.0, 12.625, 13.375, 14.125, 14.875, 15.625, 16.375, 17.0, 16.0, 16.625, 17.375,
                18.125, 18.875, 19.625, 20.375, 21.0, 20.0, 20.625, 21.375, 22.125, 22.875, 23.625,
                24.375, 25.0, 24.0, 24.625, 25.375, 26.125, 26.875, 27.625, 28.375, 29.0, 26.0,
                26.625, 27.375, 28.125, 28.875, 29.625, 30.375, 31.0,
            ],
        },
        // 2x3 -> 7x5: non-dyadic scales on both axes (x given explicitly below)
        Case {
            image: (2, 3, 1),
            target: (7, 5),
            step: 0.0,
            shift: 0.0,
            want: &[
                -2.0,
                -1.75,
                -0.75,
                0.24999994,
                0.5,
                -2.0,
                -1.75,
                -0.75,
                0.24999994,
                0.5,
                -0.7142856,
                -0.62499994,
                -0.26785713,
                0.08928568,
                0.1785714,
                1.0,
                0.875,
                0.375,
                -0.12499997,
                -0.25,
                2.7142863,
                2.3750005,
                1.0178573,
                -0.3392857,
                -0.6785716,
                3.9999998,
                3.4999998,
                1.4999999,
                -0.49999985,
                -0.99999994,
                4.0,
                3.5,
                1.5,
                -0.4999999,
                -1.0,
            ],
        },
    ];

    #[test]
    fn small_inputs_match_keras() {
        let mut rng = SmallRng::new(0);
        for case in KERAS {
            let (h, w, c) = case.image;
            let (th, tw) = case.target;
            let x: Vec<f32> = if case.step == 0.0 {
                vec![1.0, -2.0, 0.5, 3.0, 4.0, -1.0]
            } else {
                arange(h * w * c)
                    .iter()
                    .map(|v| v * case.step + case.shift)
                    .collect()
            };
            let before = rng.clone();
            let window = crop_window(h, w, th, tw, &mut rng);
            assert_eq!(rng, before, "no draw on the deterministic path");
            let mut out = vec![f32::NAN; th * tw * c];
            crop(&x, case.image, window, case.target, &mut out);
            assert_all_close(&out, case.want);
            let mut again = vec![f32::NAN; th * tw * c];
            center_crop_resize(&x, case.image, case.target, &mut again);
            assert_eq!(out, again);
        }
    }

    #[test]
    fn centre_offsets_by_hand() {
        // 10x4 -> 6x6: crop_h = int(4*6/6) = 4, crop_w = min(int(10*6/6), 4) = 4 -> (3, 0)
        assert_eq!(center_offset(10, 4, 6, 6), (3, 0));
        // 4x8 -> 8x8: crop 4x4, centred: (0, 2)
        assert_eq!(center_offset(4, 8, 8, 8), (0, 2));
        // seed model, 40x36 -> 128x128: crop 36x36 -> (2, 0); window 38x36 stretched
        assert_eq!(center_offset(40, 36, 128, 128), (2, 0));
        assert_eq!(
            CropWindow::new((2, 0), (40, 36), (128, 128)),
            CropWindow {
                top: 2,
                left: 0,
                rows: 38,
                cols: 36
            }
        );
        // int() truncates: 7x5 -> 3x4: crop_h = int(5*3/4) = 3, crop_w = int(7*4/3) = 9 -> 5
        assert_eq!(center_offset(7, 5, 3, 4), (2, 0));
        // a degenerate target does not divide by zero
        assert_eq!(center_offset(7, 5, 0, 4), (0, 0));
    }

    #[test]
    fn as_tall_as_the_target_is_a_centre_crop_not_a_random_one() {
        // Keras 3.15.1: RandomCrop(4, 4) on a 4x10 arange, any seed: columns 3..7.
        let x = arange(40);
        for seed in 0..5 {
            let mut rng = SmallRng::new(seed);
            let window = crop_window(4, 10, 4, 4, &mut rng);
            assert_eq!(
                window,
                CropWindow {
                    top: 0,
                    left: 3,
                    rows: 4,
                    cols: 4
                }
            );
            let mut out = [0.0; 16];
            crop(&x, (4, 10, 1), window, (4, 4), &mut out);
            assert_eq!(
                out,
                [
                    3.0, 4.0, 5.0, 6.0, 13.0, 14.0, 15.0, 16.0, 23.0, 24.0, 25.0, 26.0, 33.0, 34.0,
                    35.0, 36.0
                ]
            );
        }
    }

    /// Keras's formula for the window's corner (`int(u * (h - target + 1))`, one draw per
    /// axis) on kiln's generator. Keras draws with JAX's threefry, which kiln does not
    /// reproduce: the offsets are Keras's distribution, not its numbers.
    #[test]
    fn crop_offsets_are_kerass_formula_on_kilns_generator() {
        // 10x7 -> 4x3: h_start = int(u0 * 7), w_start = int(u1 * 5)
        let mut rng = SmallRng::new(21);
        let mut shadow = rng.clone();
        let mut seen_top = [0u32; 7];
        let mut seen_left = [0u32; 5];
        for _ in 0..2000 {
            let (top, left) = crop_offset(10, 7, 4, 3, &mut rng);
            let u0 = shadow.next_f32();
            let u1 = shadow.next_f32();
            assert_eq!((top, left), ((u0 * 7.0) as usize, (u1 * 5.0) as usize));
            seen_top[top] += 1;
            seen_left[left] += 1;
        }
        assert_eq!(rng, shadow, "exactly two draws per call");
        // uniform: 2000/7 = 286 and 2000/5 = 400 expected per offset
        assert!(
            seen_top.iter().all(|&n| (200..380).contains(&n)),
            "{seen_top:?}"
        );
        assert!(
            seen_left.iter().all(|&n| (300..500).contains(&n)),
            "{seen_left:?}"
        );
    }

    #[test]
    fn crop_at_an_offset_is_a_copy() {
        // 3x4x2 image, value = 10 * pixel + channel; window at (1, 1), 2x2
        let x: Vec<f32> = (0..24).map(|i| (10 * (i / 2) + i % 2) as f32).collect();
        let mut out = [0.0; 8];
        let window = CropWindow {
            top: 1,
            left: 1,
            rows: 2,
            cols: 2,
        };
        crop(&x, (3, 4, 2), window, (2, 2), &mut out);
        assert_eq!(out, [50.0, 51.0, 60.0, 61.0, 90.0, 91.0, 100.0, 101.0]);
        // NaN and inf in a copied window are copied as they are
        let y = [f32::NAN, 1.0, f32::INFINITY, 2.0];
        let mut out = [0.0; 2];
        crop(
            &y,
            (2, 2, 1),
            CropWindow {
                top: 0,
                left: 0,
                rows: 2,
                cols: 1,
            },
            (2, 1),
            &mut out,
        );
        assert!(out[0].is_nan());
        assert_eq!(out[1], f32::INFINITY);
    }

    #[test]
    fn infinity_spreads_like_jax_dense_sums() {
        // jax.image.resize(arange(12).reshape(3, 4, 1) with x[1, 2] = inf, (5, 6, 1),
        // "bilinear", antialias=False): inf where both weights of that pixel are non-zero,
        // NaN (0 * inf) everywhere else.
        let mut x = arange(12);
        x[6] = f32::INFINITY;
        let out = resized(&x, (3, 4, 1), (5, 6));
        for (k, v) in out.iter().enumerate() {
            let (i, j) = (k / 6, k % 6);
            if (1..=3).contains(&i) && (2..=4).contains(&j) {
                assert_eq!(*v, f32::INFINITY, "({i}, {j})");
            } else {
                assert!(v.is_nan(), "({i}, {j}): {v}");
            }
        }
        // channels do not mix: a NaN in channel 1 leaves channel 0 as if it were finite
        let mut two: Vec<f32> = arange(24);
        two[7] = f32::NAN;
        let out = resized(&two, (3, 4, 2), (5, 6));
        let ch0: Vec<f32> = arange(24).iter().step_by(2).copied().collect();
        let want0 = resized(&ch0, (3, 4, 1), (5, 6));
        let got0: Vec<f32> = out.iter().step_by(2).copied().collect();
        assert_eq!(got0, want0);
        assert!(out.iter().skip(1).step_by(2).all(|v| v.is_nan()));
    }

    #[test]
    fn empty_target_writes_nothing() {
        let mut out: [f32; 0] = [];
        crop(
            &[1.0; 4],
            (2, 2, 1),
            CropWindow {
                top: 0,
                left: 0,
                rows: 2,
                cols: 2,
            },
            (0, 3),
            &mut out,
        );
        resize_bilinear(&[], (2, 2, 0), (3, 3), &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn window_outside_the_image_is_debug_asserted() {
        let mut out = [0.0; 4];
        let window = CropWindow {
            top: 2,
            left: 0,
            rows: 2,
            cols: 2,
        };
        crop(&[0.0; 9], (3, 3, 1), window, (2, 2), &mut out);
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn empty_window_is_debug_asserted() {
        let mut out = [0.0; 4];
        resize_bilinear(&[], (0, 3, 1), (2, 2), &mut out);
    }

    proptest! {
        #[test]
        fn dense_and_sparse_sums_agree_on_finite_images(
            h in 1usize..6, w in 1usize..6, c in 1usize..3,
            oh in 1usize..9, ow in 1usize..9,
            seed in proptest::collection::vec(-50.0f32..50.0, 64),
        ) {
            let x: Vec<f32> = (0..h * w * c).map(|i| seed[i % 64]).collect();
            let image = Window { input: &x, w, c, window: CropWindow::new((0, 0), (h, w), (h, w)) };
            let (rows, cols) = (Axis::new(h, oh), Axis::new(w, ow));
            let mut sparse = vec![0.0; oh * ow * c];
            let mut dense = vec![1.0; oh * ow * c];
            resize_sparse(&image, rows, cols, ow, &mut sparse);
            resize_dense(&image, rows, cols, ow, &mut dense);
            prop_assert_eq!(sparse, dense);
        }

        #[test]
        fn resize_is_a_convex_combination(
            h in 1usize..6, w in 1usize..6, oh in 1usize..12, ow in 1usize..12,
            seed in proptest::collection::vec(-50.0f32..50.0, 36),
        ) {
            let x: Vec<f32> = (0..h * w).map(|i| seed[i]).collect();
            let out = resized(&x, (h, w, 1), (oh, ow));
            let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let slack = 1e-5 * lo.abs().max(hi.abs());
            for v in out {
                prop_assert!(v >= lo - slack && v <= hi + slack, "{} not in [{}, {}]", v, lo, hi);
            }
            // a constant image stays (nearly) constant: the weights sum to 1 within ulps
            let k = seed[0];
            for v in resized(&vec![k; h * w], (h, w, 1), (oh, ow)) {
                prop_assert!((v - k).abs() <= 4.0 * f32::EPSILON * k.abs());
            }
        }

        #[test]
        fn same_size_is_an_exact_copy(
            h in 1usize..6, w in 1usize..6, c in 1usize..3,
            seed in proptest::collection::vec(-50.0f32..50.0, 72),
        ) {
            let x: Vec<f32> = (0..h * w * c).map(|i| seed[i]).collect();
            prop_assert_eq!(resized(&x, (h, w, c), (h, w)), x);
        }

        #[test]
        fn windows_always_fit(
            in_h in 1usize..40, in_w in 1usize..40,
            height in 1usize..40, width in 1usize..40,
            seed in any::<u64>(),
        ) {
            let window = crop_window(in_h, in_w, height, width, &mut SmallRng::new(seed));
            prop_assert!(window.rows >= 1 && window.cols >= 1);
            prop_assert!(window.top + window.rows <= in_h);
            prop_assert!(window.left + window.cols <= in_w);
            prop_assert!(window.rows <= height && window.cols <= width);
            if in_h > height && in_w > width {
                prop_assert_eq!((window.rows, window.cols), (height, width));
            }
        }
    }
}
