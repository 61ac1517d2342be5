//! `keras.layers.Conv2D` (float32 reference), and the geometry shared with
//! `DepthwiseConv2D`.

use super::padding::{self, Padding};

/// Shapes, strides, dilations and padding of one 2-D convolution (one sample,
/// channels-last, row-major `(H, W, C)` with `C` fastest).
///
/// `pad_top`/`pad_left` are the zero rows/columns before the input; padding after it
/// is implied by `out_h`/`out_w`. [`Conv2dGeometry::new`] fills these the way Keras
/// does; a hand-built geometry is also accepted as long as the slice lengths match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Output channels (`filters`; for depthwise, `in_c * depth_multiplier`).
    pub out_c: usize,
    /// Kernel height.
    pub kernel_h: usize,
    /// Kernel width.
    pub kernel_w: usize,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Vertical dilation (`dilation_rate[0]`).
    pub dilation_h: usize,
    /// Horizontal dilation (`dilation_rate[1]`).
    pub dilation_w: usize,
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
}

impl Conv2dGeometry {
    /// The geometry Keras uses for an input `(in_h, in_w, in_c)`, `out_c` output
    /// channels, `kernel = (kh, kw)`, `strides = (sh, sw)`, `dilation = (dh, dw)` and
    /// `padding`. `None` if Keras would produce an empty output or the sizes are
    /// invalid (see [`padding::output_size`]).
    pub fn new(
        input: (usize, usize, usize),
        out_c: usize,
        kernel: (usize, usize),
        strides: (usize, usize),
        dilation: (usize, usize),
        padding: Padding,
    ) -> Option<Self> {
        let (in_h, in_w, in_c) = input;
        let (kernel_h, kernel_w) = kernel;
        let (stride_h, stride_w) = strides;
        let (dilation_h, dilation_w) = dilation;
        let g = Conv2dGeometry {
            in_h,
            in_w,
            in_c,
            out_h: padding::output_size(in_h, kernel_h, stride_h, dilation_h, padding)?,
            out_w: padding::output_size(in_w, kernel_w, stride_w, dilation_w, padding)?,
            out_c,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_top: padding::pad_before(in_h, kernel_h, stride_h, dilation_h, padding),
            pad_left: padding::pad_before(in_w, kernel_w, stride_w, dilation_w, padding),
        };
        (g.input_len().is_some()
            && g.output_len().is_some()
            && g.kernel_len().is_some()
            && g.windows_fit())
        .then_some(g)
    }

    /// `in_h * in_w * in_c` (`None` on overflow).
    pub fn input_len(&self) -> Option<usize> {
        self.in_h.checked_mul(self.in_w)?.checked_mul(self.in_c)
    }

    /// `out_h * out_w * out_c` (`None` on overflow).
    pub fn output_len(&self) -> Option<usize> {
        self.out_h.checked_mul(self.out_w)?.checked_mul(self.out_c)
    }

    /// Conv2D kernel length `kernel_h * kernel_w * in_c * out_c` (`None` on overflow).
    pub fn kernel_len(&self) -> Option<usize> {
        self.taps()?.checked_mul(self.in_c)?.checked_mul(self.out_c)
    }

    /// DepthwiseConv2D kernel length `kernel_h * kernel_w * out_c`
    /// (`= kh * kw * in_c * depth_multiplier`; `None` on overflow).
    pub fn depthwise_kernel_len(&self) -> Option<usize> {
        self.taps()?.checked_mul(self.out_c)
    }

    fn taps(&self) -> Option<usize> {
        self.kernel_h.checked_mul(self.kernel_w)
    }

    /// Every padded-input coordinate `o * stride + k * dilation` is representable.
    pub(crate) fn windows_fit(&self) -> bool {
        padding::window_span_fits(self.out_h, self.stride_h, self.kernel_h, self.dilation_h)
            && padding::window_span_fits(self.out_w, self.stride_w, self.kernel_w, self.dilation_w)
    }

    /// Input row/column read by output `(oy, ox)` at tap `(ky, kx)`, or `None` for a
    /// padded cell. Callers have checked [`Self::windows_fit`] and iterate within
    /// `out_h`/`out_w` and the kernel size, so the arithmetic cannot overflow.
    #[inline]
    pub(crate) fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let y = (oy * self.stride_h + ky * self.dilation_h).checked_sub(self.pad_top)?;
        (y < self.in_h).then_some(y)
    }

    /// See [`Self::input_row`].
    #[inline]
    pub(crate) fn input_col(&self, ox: usize, kx: usize) -> Option<usize> {
        let x = (ox * self.stride_w + kx * self.dilation_w).checked_sub(self.pad_left)?;
        (x < self.in_w).then_some(x)
    }

    /// The kernel rows `ky_lo..ky_hi` whose input row exists for output row `oy` (the
    /// others fall in the padding): those for which [`Self::input_row`] is `Some`.
    #[inline]
    pub(crate) fn kernel_rows(&self, oy: usize) -> (usize, usize) {
        taps_inside(
            oy * self.stride_h,
            self.dilation_h,
            self.pad_top,
            self.in_h,
            self.kernel_h,
        )
    }

    /// The kernel columns whose input column exists for output column `ox`.
    #[inline]
    pub(crate) fn kernel_cols(&self, ox: usize) -> (usize, usize) {
        taps_inside(
            ox * self.stride_w,
            self.dilation_w,
            self.pad_left,
            self.in_w,
            self.kernel_w,
        )
    }
}

/// The taps `k` in `0..kernel` with `pad <= start + k * dilation < pad + size`, as a
/// range (they are consecutive).
pub(crate) fn taps_inside(
    start: usize,
    dilation: usize,
    pad: usize,
    size: usize,
    kernel: usize,
) -> (usize, usize) {
    let (before, until) = (
        pad.saturating_sub(start),
        (pad + size).saturating_sub(start),
    );
    // No division for the usual dilation 1: this runs for every output pixel.
    let (lo, hi) = match dilation {
        0 | 1 => (before, until),
        d => (before.div_ceil(d), until.div_ceil(d)),
    };
    let lo = lo.min(kernel);
    (lo, hi.min(kernel).max(lo))
}

/// 2-D convolution (Keras `Conv2D`, really a cross-correlation), one sample. The
/// reference: [`fast::conv2d`](super::fast::conv2d) computes the same bits faster.
///
/// `output[oy, ox, co] = bias[co] + Σ input[iy, ix, ci] * kernel[ky, kx, ci, co]` with
/// `iy = oy * stride_h + ky * dilation_h - pad_top` (and likewise `ix`); padded cells
/// count as zero, i.e. they are skipped.
///
/// # Slice-length contract
/// * `input.len() == in_h * in_w * in_c` (`(H, W, C)`, `C` fastest);
/// * `kernel.len() == kernel_h * kernel_w * in_c * out_c`, Keras layout `(kh, kw, cin, cout)`;
/// * `bias`, if present, has `out_c` values;
/// * `output.len() == out_h * out_w * out_c`;
/// * the geometry's coordinates do not overflow `usize` (true for any geometry from
///   [`Conv2dGeometry::new`]).
///
/// Debug builds assert the contract; release builds return without writing `output`
/// when it is broken (never panic).
///
/// # Arithmetic
/// Each output starts at `bias[co]` (or `0.0`) and adds `x * w` (plain f32 multiply then
/// add, no FMA) for the taps in order `ky`, then `kx`, then `ci`, skipping padded cells.
pub fn conv2d(
    g: &Conv2dGeometry,
    input: &[f32],
    kernel: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let ok = g.input_len() == Some(input.len())
        && g.kernel_len() == Some(kernel.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && g.windows_fit();
    debug_assert!(ok, "conv2d: slice lengths break the contract for {g:?}");
    if !ok || g.out_c == 0 {
        return;
    }
    let out_c = g.out_c;
    let in_c = g.in_c;
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(acc) = pixels.next() else { return };
            match bias {
                Some(b) => acc.copy_from_slice(b),
                None => acc.fill(0.0),
            }
            if in_c == 0 {
                continue;
            }
            for ky in 0..g.kernel_h {
                let Some(iy) = g.input_row(oy, ky) else {
                    continue;
                };
                for kx in 0..g.kernel_w {
                    let Some(ix) = g.input_col(ox, kx) else {
                        continue;
                    };
                    let px = (iy * g.in_w + ix) * in_c;
                    let tap = (ky * g.kernel_w + kx) * in_c * out_c;
                    let x_px = &input[px..px + in_c];
                    let w_tap = &kernel[tap..tap + in_c * out_c];
                    for (&x, w_row) in x_px.iter().zip(w_tap.chunks_exact(out_c)) {
                        for (a, &w) in acc.iter_mut().zip(w_row) {
                            *a += x * w;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::kernels::dense::dense;
    use crate::kernels::test_util::arange;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn geom(
        input: (usize, usize, usize),
        out_c: usize,
        kernel: (usize, usize),
        strides: (usize, usize),
        dilation: (usize, usize),
        padding: Padding,
    ) -> Conv2dGeometry {
        Conv2dGeometry::new(input, out_c, kernel, strides, dilation, padding).unwrap()
    }

    fn run(g: &Conv2dGeometry, input: &[f32], kernel: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![f32::NAN; g.output_len().unwrap()];
        conv2d(g, input, kernel, bias, &mut out);
        out
    }

    /// 3×3 input 1..=9, one channel.
    fn one_to_nine() -> Vec<f32> {
        (1..=9).map(|v| v as f32).collect()
    }

    #[test]
    fn geometry_new_matches_keras() {
        let g = geom((28, 28, 1), 8, (3, 3), (1, 1), (1, 1), Padding::Valid);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (26, 26, 0, 0));
        assert_eq!(g.kernel_len(), Some(72));
        let g = geom((5, 6, 3), 4, (3, 3), (2, 2), (1, 1), Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (3, 3, 1, 0));
        assert_eq!(g.depthwise_kernel_len(), Some(36));
        assert!(
            Conv2dGeometry::new((2, 2, 1), 1, (3, 3), (1, 1), (1, 1), Padding::Valid).is_none()
        );
        assert!(Conv2dGeometry::new((4, 4, 1), 1, (3, 3), (0, 1), (1, 1), Padding::Same).is_none());
    }

    #[test]
    fn valid_3x3_input_2x2_kernel() {
        // kernel [[1,2],[3,4]]:
        // out[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, out[0,1] = 2+6+15+24 = 47,
        // out[1,0] = 4+10+21+32 = 67,           out[1,1] = 5+12+24+36 = 77.
        let g = geom((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Valid);
        let out = run(&g, &one_to_nine(), &[1.0, 2.0, 3.0, 4.0], Some(&[0.5]));
        assert_eq!(out, [37.5, 47.5, 67.5, 77.5]);
    }

    #[test]
    fn same_even_kernel_pads_bottom_right() {
        // pad_top = pad_left = 0, the padded row/column is below/right.
        // Last column: out[0,2] = 3*1 + 6*3 = 21, out[1,2] = 6 + 9*3 = 33;
        // last row: out[2,0] = 7 + 8*2 = 23, out[2,1] = 8 + 9*2 = 26; corner: 9.
        let g = geom((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (3, 3, 0, 0));
        let out = run(&g, &one_to_nine(), &[1.0, 2.0, 3.0, 4.0], None);
        assert_eq!(out, [37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0]);
    }

    #[test]
    fn stride_2_odd_input_same() {
        // 5×5 input x[r][c] = 5r + c, 3×3 ones kernel, stride 2, same: out 3×3, pad 1/1.
        let g = geom((5, 5, 1), 1, (3, 3), (2, 2), (1, 1), Padding::Same);
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (3, 3, 1, 1));
        let out = run(&g, &arange(25), &[1.0; 9], None);
        // out[0,0] = rows 0-1, cols 0-1: 0+1+5+6 = 12
        // out[0,1] = rows 0-1, cols 1-3: 1+2+3+6+7+8 = 27
        // out[0,2] = rows 0-1, cols 3-4: 3+4+8+9 = 24
        // out[1,0] = rows 1-3, cols 0-1: 5+6+10+11+15+16 = 63
        // out[1,1] = rows 1-3, cols 1-3: 9 * 12 = 108
        // out[1,2] = rows 1-3, cols 3-4: 8+9+13+14+18+19 = 81
        // out[2,0] = rows 3-4, cols 0-1: 15+16+20+21 = 72
        // out[2,1] = rows 3-4, cols 1-3: 16+17+18+21+22+23 = 117
        // out[2,2] = rows 3-4, cols 3-4: 18+19+23+24 = 84
        assert_eq!(
            out,
            [12.0, 27.0, 24.0, 63.0, 108.0, 81.0, 72.0, 117.0, 84.0]
        );
    }

    #[test]
    fn stride_2_odd_input_valid() {
        let g = geom((5, 5, 1), 1, (3, 3), (2, 2), (1, 1), Padding::Valid);
        assert_eq!((g.out_h, g.out_w), (2, 2));
        let out = run(&g, &arange(25), &[1.0; 9], None);
        // windows start at (0,0), (0,2), (2,0), (2,2); sum = 9 * centre value
        assert_eq!(out, [54.0, 72.0, 144.0, 162.0]);
    }

    #[test]
    fn dilation_2() {
        // 5×5 input x = 5r + c, kernel [[1,2],[3,4]] dilation 2 (effective 3×3), valid:
        // out[i,j] = x(i,j) + 2 x(i,j+2) + 3 x(i+2,j) + 4 x(i+2,j+2) = 10 (5i + j) + 82.
        let g = geom((5, 5, 1), 1, (2, 2), (1, 1), (2, 2), Padding::Valid);
        assert_eq!((g.out_h, g.out_w), (3, 3));
        let out = run(&g, &arange(25), &[1.0, 2.0, 3.0, 4.0], None);
        let expected: Vec<f32> = (0..3)
            .flat_map(|i| (0..3).map(move |j| (10 * (5 * i + j) + 82) as f32))
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn dilation_2_same() {
        // 3×3 input 1..=9, 2×2 kernel [[1,2],[3,4]] dilation 2: effective 3, pad 1/1.
        // out[1,1] taps (0,0),(0,2),(2,0),(2,2) = 1*1 + 3*2 + 7*3 + 9*4 = 64;
        // out[0,0] only tap (1,1) -> row 1, col 1 = 5 * 4 = 20.
        let g = geom((3, 3, 1), 1, (2, 2), (1, 1), (2, 2), Padding::Same);
        assert_eq!((g.out_h, g.pad_top), (3, 1));
        let out = run(&g, &one_to_nine(), &[1.0, 2.0, 3.0, 4.0], None);
        // out[0,1]: taps (-1,0),(-1,2),(1,0),(1,2): 4*3 + 6*4 = 36
        // out[1,0]: taps (0,-1),(0,1),(2,-1),(2,1): 2*2 + 8*4 = 36
        assert_eq!(out[0], 20.0);
        assert_eq!(out[1], 36.0);
        assert_eq!(out[3], 36.0);
        assert_eq!(out[4], 64.0);
    }

    #[test]
    fn multi_channel_in_and_out() {
        // input 1×2×2: pixels (1,2), (3,4); kernel 1×2×2×2:
        // tap 0: [[1,0],[0,1]] (identity), tap 1: [[2,1],[0,-1]]
        // co0 = 1*1 + 2*0 + 3*2 + 4*0 = 7; co1 = 1*0 + 2*1 + 3*1 + 4*(-1) = 1
        let g = geom((1, 2, 2), 2, (1, 2), (1, 1), (1, 1), Padding::Valid);
        let kernel = [1.0, 0.0, 0.0, 1.0, 2.0, 1.0, 0.0, -1.0];
        let out = run(&g, &[1.0, 2.0, 3.0, 4.0], &kernel, Some(&[10.0, 20.0]));
        assert_eq!(out, [17.0, 21.0]);
    }

    proptest! {
        /// A 1×1 convolution is a Dense layer applied to every pixel, bit for bit.
        #[test]
        fn one_by_one_kernel_is_dense_per_pixel(
            h in 1usize..5, w in 1usize..5, cin in 1usize..4, cout in 1usize..4,
            vals in proptest::collection::vec(-10.0f32..10.0, 128),
            with_bias: bool,
        ) {
            let pick = |off: usize, n: usize| -> Vec<f32> {
                (0..n).map(|i| vals[(off + 3 * i) % vals.len()]).collect()
            };
            let x = pick(0, h * w * cin);
            let k = pick(5, cin * cout);
            let b = pick(11, cout);
            let bias = with_bias.then_some(&b[..]);
            let g = geom((h, w, cin), cout, (1, 1), (1, 1), (1, 1), Padding::Valid);
            let conv = run(&g, &x, &k, bias);
            let mut dense_out = vec![0.0; h * w * cout];
            dense(&x, cin, &k, bias, &mut dense_out);
            prop_assert_eq!(conv, dense_out);
        }

        /// Agrees with a direct f64 evaluation that zero-pads explicitly.
        #[test]
        fn matches_padded_f64_reference(
            h in 1usize..7, w in 1usize..7, cin in 1usize..3, cout in 1usize..3,
            kh in 1usize..4, kw in 1usize..4, s in 1usize..3, d in 1usize..3, same: bool,
            vals in proptest::collection::vec(-2.0f32..2.0, 97),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Conv2dGeometry::new((h, w, cin), cout, (kh, kw), (s, s), (d, d), padding) else {
                return Ok(());
            };
            let pick = |off: usize, n: usize| -> Vec<f32> {
                (0..n).map(|i| vals[(off + i) % vals.len()]).collect()
            };
            let x = pick(0, h * w * cin);
            let k = pick(31, kh * kw * cin * cout);
            let b = pick(61, cout);
            let out = run(&g, &x, &k, Some(&b));
            for oy in 0..g.out_h {
                for ox in 0..g.out_w {
                    for co in 0..cout {
                        let mut acc = b[co] as f64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * s + ky * d) as isize - g.pad_top as isize;
                                let ix = (ox * s + kx * d) as isize - g.pad_left as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                for ci in 0..cin {
                                    let xv = x[((iy as usize) * w + ix as usize) * cin + ci];
                                    let kv = k[((ky * kw + kx) * cin + ci) * cout + co];
                                    acc += xv as f64 * kv as f64;
                                }
                            }
                        }
                        let got = out[(oy * g.out_w + ox) * cout + co] as f64;
                        prop_assert!((got - acc).abs() <= 1e-4, "got {} want {}", got, acc);
                    }
                }
            }
        }
    }
}
