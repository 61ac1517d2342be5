//! Geometry shared by [`max_pool2d`](fn@super::max_pool2d) and
//! [`average_pool2d`](fn@super::average_pool2d).

use super::padding::{self, Padding};

/// Shapes, strides and padding of a 2-D pooling window (one sample, channels-last,
/// row-major `(H, W, C)`; input and output have the same `channels`).
///
/// `pad_top`/`pad_left` count the virtual cells before the input; cells outside the
/// input never take part in a window (max ignores them, average does not count them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dGeometry {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Channels (input and output).
    pub channels: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Window height (`pool_size[0]`).
    pub pool_h: usize,
    /// Window width (`pool_size[1]`).
    pub pool_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Virtual rows above the input.
    pub pad_top: usize,
    /// Virtual columns left of the input.
    pub pad_left: usize,
}

impl Pool2dGeometry {
    /// The geometry Keras uses for an input `(in_h, in_w, channels)`,
    /// `pool = (ph, pw)`, `strides = (sh, sw)` (Keras defaults `strides` to `pool_size`;
    /// pass it explicitly) and `padding`. `None` if the output would be empty or the
    /// sizes are invalid.
    pub fn new(
        input: (usize, usize, usize),
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Option<Self> {
        let (in_h, in_w, channels) = input;
        let (pool_h, pool_w) = pool;
        let (stride_h, stride_w) = strides;
        let g = Pool2dGeometry {
            in_h,
            in_w,
            channels,
            out_h: padding::output_size(in_h, pool_h, stride_h, 1, padding)?,
            out_w: padding::output_size(in_w, pool_w, stride_w, 1, padding)?,
            pool_h,
            pool_w,
            stride_h,
            stride_w,
            pad_top: padding::pad_before(in_h, pool_h, stride_h, 1, padding),
            pad_left: padding::pad_before(in_w, pool_w, stride_w, 1, padding),
        };
        (g.input_len().is_some() && g.output_len().is_some() && g.windows_fit()).then_some(g)
    }

    /// `in_h * in_w * channels` (`None` on overflow).
    pub fn input_len(&self) -> Option<usize> {
        self.in_h.checked_mul(self.in_w)?.checked_mul(self.channels)
    }

    /// `out_h * out_w * channels` (`None` on overflow).
    pub fn output_len(&self) -> Option<usize> {
        self.out_h
            .checked_mul(self.out_w)?
            .checked_mul(self.channels)
    }

    /// Every padded-input coordinate `o * stride + k` is representable.
    pub(crate) fn windows_fit(&self) -> bool {
        padding::window_span_fits(self.out_h, self.stride_h, self.pool_h, 1)
            && padding::window_span_fits(self.out_w, self.stride_w, self.pool_w, 1)
    }

    /// The contract shared by the pooling kernels.
    pub(crate) fn fits(&self, input: &[f32], output: &[f32]) -> bool {
        self.input_len() == Some(input.len())
            && self.output_len() == Some(output.len())
            && self.windows_fit()
    }

    /// Input row read by output row `oy` at window row `ky`, or `None` outside the
    /// input. Needs [`Self::windows_fit`], `oy < out_h`, `ky < pool_h`.
    #[inline]
    pub(crate) fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let y = (oy * self.stride_h + ky).checked_sub(self.pad_top)?;
        (y < self.in_h).then_some(y)
    }

    /// See [`Self::input_row`].
    #[inline]
    pub(crate) fn input_col(&self, ox: usize, kx: usize) -> Option<usize> {
        let x = (ox * self.stride_w + kx).checked_sub(self.pad_left)?;
        (x < self.in_w).then_some(x)
    }

    /// The window rows `ky_lo..ky_hi` that land inside the input for output row `oy`.
    #[inline]
    pub(crate) fn window_rows(&self, oy: usize) -> (usize, usize) {
        super::conv2d::taps_inside(oy * self.stride_h, 1, self.pad_top, self.in_h, self.pool_h)
    }

    /// The window columns that land inside the input for output column `ox`.
    #[inline]
    pub(crate) fn window_cols(&self, ox: usize) -> (usize, usize) {
        super::conv2d::taps_inside(ox * self.stride_w, 1, self.pad_left, self.in_w, self.pool_w)
    }

    /// True when every output pixel's window starts at or after that pixel's own place in
    /// row-major order (its first cell inside the input has an index, in pixels, at least
    /// the output pixel's): the output can then be written over the input's memory from its
    /// start, pixel by pixel, each after its window is read. True without padding before
    /// the input (every 'valid' pool, and 'same' ones that pad only after); checked pixel
    /// by pixel otherwise.
    #[inline(never)]
    pub fn reads_ahead(&self) -> bool {
        if !self.windows_fit() {
            return false;
        }
        if self.pad_top == 0 && self.pad_left == 0 {
            // Window (oy, ox) starts at pixel oy·stride_h·in_w + ox·stride_w, at least
            // oy·out_w + ox: out_w ≤ in_w and the strides are at least 1.
            return self.out_w <= self.in_w && self.stride_h >= 1 && self.stride_w >= 1;
        }
        (0..self.out_h).all(|oy| {
            let iy = oy * self.stride_h + self.window_rows(oy).0 - self.pad_top;
            (0..self.out_w).all(|ox| {
                let ix = ox * self.stride_w + self.window_cols(ox).0 - self.pad_left;
                iy * self.in_w + ix >= oy * self.out_w + ox
            })
        })
    }

    /// Calls `f(pixel_offset)` for each input pixel of window `(oy, ox)` in row-major
    /// window order, where `pixel_offset = (iy * in_w + ix) * channels`.
    #[inline]
    pub(crate) fn for_each_in_window(&self, oy: usize, ox: usize, mut f: impl FnMut(usize)) {
        for ky in 0..self.pool_h {
            let Some(iy) = self.input_row(oy, ky) else {
                continue;
            };
            for kx in 0..self.pool_w {
                let Some(ix) = self.input_col(ox, kx) else {
                    continue;
                };
                f((iy * self.in_w + ix) * self.channels);
            }
        }
    }
}

/// Where a pool reads and writes.
#[derive(Debug)]
pub enum Cells<'a, T> {
    /// The input and the output apart.
    Split {
        /// `in_h·in_w·channels` values.
        input: &'a [T],
        /// `out_h·out_w·channels` values.
        output: &'a mut [T],
    },
    /// The input's memory (`in_h·in_w·channels` values), the output written over its
    /// start as the pool goes: only for a geometry that [reads
    /// ahead](Pool2dGeometry::reads_ahead), so no window is overwritten before it is read.
    Shared(&'a mut [T]),
}

impl<T> Cells<'_, T> {
    /// What the pool reads.
    pub(crate) fn input(&self) -> &[T] {
        match self {
            Cells::Split { input, .. } => input,
            Cells::Shared(data) => data,
        }
    }

    /// Where the pool writes (from its start).
    pub(crate) fn output(&mut self) -> &mut [T] {
        match self {
            Cells::Split { output, .. } => output,
            Cells::Shared(data) => data,
        }
    }

    /// The slices' lengths and the geometry agree (and a shared buffer is safe to share).
    pub(crate) fn fit(&self, g: &Pool2dGeometry) -> bool {
        let lengths = match self {
            Cells::Split { input, output } => {
                g.input_len() == Some(input.len()) && g.output_len() == Some(output.len())
            }
            Cells::Shared(data) => g.input_len() == Some(data.len()) && g.reads_ahead(),
        };
        lengths && g.windows_fit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_geometries() {
        // MaxPooling2D defaults on the 26×26×8 conv output: 13×13×8
        let g = Pool2dGeometry::new((26, 26, 8), (2, 2), (2, 2), Padding::Valid).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (13, 13, 0, 0));
        assert_eq!(g.output_len(), Some(13 * 13 * 8));
        // 3×3 pool 2 stride 2 same: 2×2, extra cell bottom/right
        let g = Pool2dGeometry::new((3, 3, 1), (2, 2), (2, 2), Padding::Same).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (2, 2, 0, 0));
        // 4×5 pool 3 stride 1 same: pad 1 on each side
        let g = Pool2dGeometry::new((4, 5, 2), (3, 3), (1, 1), Padding::Same).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (4, 5, 1, 1));
        assert!(Pool2dGeometry::new((1, 1, 1), (2, 2), (2, 2), Padding::Valid).is_none());
    }

    #[test]
    fn which_pools_read_ahead_of_their_writes() {
        let g = |input, pool, strides, padding| {
            Pool2dGeometry::new(input, pool, strides, padding).unwrap()
        };
        // Valid pools, and same pools that pad only after the input.
        assert!(g((30, 30, 16), (2, 2), (2, 2), Padding::Valid).reads_ahead());
        assert!(g((5, 7, 3), (3, 2), (1, 1), Padding::Valid).reads_ahead());
        assert!(g((3, 3, 1), (2, 2), (2, 2), Padding::Same).reads_ahead());
        // 3×3 stride 2 same on 15×15 pads one cell before, yet each window still starts
        // at or after its own pixel.
        assert!(g((15, 15, 4), (3, 3), (2, 2), Padding::Same).reads_ahead());
        // Stride 1 with padding before: output pixel 1's window starts at input pixel 0.
        assert!(!g((4, 5, 2), (3, 3), (1, 1), Padding::Same).reads_ahead());
    }
}
