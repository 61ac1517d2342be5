//! Int8 DEPTHWISE_CONV_2D, fast: the contract and bits of
//! [`int8::depthwise_conv2d`](fn@crate::kernels::int8::depthwise_conv2d).

use super::dsp::{self, DwPixel, Isa, Taps};
use super::{Requantizer, RoundTable};
use crate::kernels::conv2d::Conv2dGeometry;
use crate::kernels::int8::quant::OutputStage;

/// Channels summed together by the plain path: four in registers on Cortex-M, a vector's
/// worth on hosts (LLVM vectorizes across them).
#[cfg(target_arch = "arm")]
const LANES: usize = 4;
#[cfg(not(target_arch = "arm"))]
const LANES: usize = 16;

/// [`int8::depthwise_conv2d`](fn@crate::kernels::int8::depthwise_conv2d), faster: the
/// same slice-length contract (debug builds assert it, release builds return without
/// writing) and the same output bytes.
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d(
    g: &Conv2dGeometry,
    depth_multiplier: usize,
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    output: &mut [i8],
) {
    let dm = depth_multiplier;
    let ok = dm >= 1
        && g.in_c.checked_mul(dm) == Some(g.out_c)
        && g.input_len() == Some(input.len())
        && g.depthwise_kernel_len() == Some(filter.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && stage.fits(g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "int8 depthwise_conv2d: slice lengths break the contract for {g:?}, dm {dm}"
    );
    if !ok || g.out_c == 0 {
        return;
    }
    let r = Requantizer::new(stage);
    #[cfg(kiln_dsp)]
    if dm == 1 && dsp::offset_fits_lanes(input_offset) {
        packed::<dsp::Arm>(g, input, input_offset, filter, bias, &r, output);
        return;
    }
    #[cfg(kiln_dsp)]
    {
        // depth multipliers above 1, offsets a lane cannot hold: the reference kernel
        let _ = r;
        crate::kernels::int8::depthwise_conv2d(
            g,
            dm,
            input,
            input_offset,
            filter,
            bias,
            stage,
            output,
        );
    }
    #[cfg(not(kiln_dsp))]
    plain(g, dm, input, input_offset, filter, bias, &r, output);
}

/// Calls `f(input_at, filter_at)` for each tap of output `(oy, ox)` inside the input, in
/// tap order; `input_at` is the tap's input pixel's first channel, `filter_at` the tap's
/// first weight.
#[inline(always)]
fn taps(g: &Conv2dGeometry, oy: usize, ox: usize, mut f: impl FnMut(usize, usize)) {
    let (ky_lo, ky_hi) = g.kernel_rows(oy);
    let (kx_lo, kx_hi) = g.kernel_cols(ox);
    for ky in ky_lo..ky_hi {
        let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
        for kx in kx_lo..kx_hi {
            let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
            f(
                (iy * g.in_w + ix) * g.in_c,
                (ky * g.kernel_w + kx) * g.out_c,
            );
        }
    }
}

/// [`plain`] on Cortex-M (depth multiplier 1, up to 64 taps): per output pixel its taps
/// inside the input listed once, then four channels per pass over the list
/// ([`dsp::dw_taps_plain`]), the rest one by one.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
fn listed(
    g: &Conv2dGeometry,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let out_c = g.out_c;
    let bias_of = |c: usize| bias.and_then(|b| b.get(c)).copied().unwrap_or(0);
    let bytes: (&[u8], &[u8]) = (bytemuck::cast_slice(input), bytemuck::cast_slice(filter));
    let mut list = Taps::new();
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            if !list_taps(g, oy, ox, &mut list) {
                return;
            }
            let mut blocks = pixel.chunks_exact_mut(4);
            let mut c0 = 0;
            for y in &mut blocks {
                let mut acc = [
                    bias_of(c0),
                    bias_of(c0 + 1),
                    bias_of(c0 + 2),
                    bias_of(c0 + 3),
                ];
                let x = bytes.0.get(c0..).unwrap_or(&[]);
                let w = bytes.1.get(c0..).unwrap_or(&[]);
                dsp::dw_taps_plain(&list, x, w, offset, &mut acc);
                for (k, (y, &a)) in y.iter_mut().zip(&acc).enumerate() {
                    *y = r.apply(r.channel(c0 + k), c0 + k, a);
                }
                c0 += 4;
            }
            for (k, y) in blocks.into_remainder().iter_mut().enumerate() {
                let c = c0 + k;
                let mut acc = bias_of(c);
                for &[at, wt] in list.as_slice() {
                    let (at, wt) = (at as usize, wt as usize);
                    if let (Some(&x), Some(&w)) = (input.get(at + c), filter.get(wt + c)) {
                        acc = acc.wrapping_add(
                            i32::from(w).wrapping_mul(i32::from(x).wrapping_add(offset)),
                        );
                    }
                }
                *y = r.apply(r.channel(c), c, acc);
            }
        }
    }
}

/// Lists output `(oy, ox)`'s taps inside the input in `list`; `false` if they do not fit.
fn list_taps(g: &Conv2dGeometry, oy: usize, ox: usize, list: &mut Taps) -> bool {
    list.clear();
    let mut fits = true;
    taps(g, oy, ox, |at, wt| fits &= list.push(at, wt));
    fits
}

/// Per output pixel, [`LANES`] channels at a time over the taps (depth multiplier 1);
/// one channel at a time otherwise.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(kiln_dsp, allow(dead_code))]
fn plain(
    g: &Conv2dGeometry,
    dm: usize,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    if cfg!(target_arch = "arm") && dm == 1 && g.kernel_h.saturating_mul(g.kernel_w) <= 64 {
        return listed(g, input, offset, filter, bias, r, output);
    }
    let out_c = g.out_c;
    let bias_of = |c: usize| bias.and_then(|b| b.get(c)).copied().unwrap_or(0);
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            let mut c0 = 0;
            if dm == 1 {
                let mut blocks = pixel.chunks_exact_mut(LANES);
                for y in &mut blocks {
                    let mut acc: [i32; LANES] = core::array::from_fn(|k| bias_of(c0 + k));
                    taps(g, oy, ox, |at, wt| {
                        let x = input.get(at + c0..at + c0 + LANES);
                        let w = filter.get(wt + c0..wt + c0 + LANES);
                        if let (Some(x), Some(w)) = (x, w) {
                            for ((a, &x), &w) in acc.iter_mut().zip(x).zip(w) {
                                *a = a.wrapping_add(
                                    i32::from(w).wrapping_mul(i32::from(x).wrapping_add(offset)),
                                );
                            }
                        }
                    });
                    for (k, (y, &a)) in y.iter_mut().zip(&acc).enumerate() {
                        *y = r.apply(r.channel(c0 + k), c0 + k, a);
                    }
                    c0 += LANES;
                }
            }
            for (k, y) in pixel.iter_mut().enumerate().skip(c0) {
                let ic = k / dm;
                let mut acc = bias_of(k);
                taps(g, oy, ox, |at, wt| {
                    if let (Some(&x), Some(&w)) = (input.get(at + ic), filter.get(wt + k)) {
                        acc = acc.wrapping_add(
                            i32::from(w).wrapping_mul(i32::from(x).wrapping_add(offset)),
                        );
                    }
                });
                *y = r.apply(r.channel(k), k, acc);
            }
        }
    }
}

/// The DSP path (depth multiplier 1, `offset_fits_lanes(offset)`): per output pixel the
/// list of its taps inside the input, then four channels at a time over the list
/// ([`Isa::dw_taps`]: their four inputs widened with the offset, their weights split, one
/// `smlabb`/`smlatt` per product); the last `channels % 4` as in [`plain`]. Kernels of
/// more than 64 taps take the plain path.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn packed<I: Isa>(
    g: &Conv2dGeometry,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    if g.kernel_h.saturating_mul(g.kernel_w) > 64 {
        crate::kernels::int8::depthwise_conv2d(g, 1, input, offset, filter, bias, r.stage, output);
        return;
    }
    let out_c = g.out_c;
    let input: &[u8] = bytemuck::cast_slice(input);
    let filter_bytes: &[u8] = bytemuck::cast_slice(filter);
    let pair = dsp::offset_pair(offset);
    let bias_of = |c: usize| bias.and_then(|b| b.get(c)).copied().unwrap_or(0);
    let rounds = RoundTable::new(r, out_c);
    let mut list = Taps::new();
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            if !list_taps(g, oy, ox, &mut list) {
                list.clear();
            }
            // every channel Round with the int8 clamp: one assembly pass for the pixel's
            // whole groups of four
            let mut c0 = 0;
            if rounds.is_some() && out_c >= 4 {
                let p = DwPixel {
                    taps: &list,
                    x: input,
                    w: filter_bytes,
                    pair,
                    groups: out_c / 4,
                    pairs: r.stage.multipliers,
                    step: if r.per_tensor { 0 } else { 2 },
                    bias,
                    offset: r.offset,
                };
                if I::dw_pixel(&p, pixel) {
                    c0 = 4 * (out_c / 4);
                }
            }
            let mut blocks = pixel[c0..].chunks_exact_mut(4);
            for y in &mut blocks {
                let mut acc = [
                    bias_of(c0),
                    bias_of(c0 + 1),
                    bias_of(c0 + 2),
                    bias_of(c0 + 3),
                ];
                let x = input.get(c0..).unwrap_or(&[]);
                let w = filter_bytes.get(c0..).unwrap_or(&[]);
                I::dw_taps(&list, x, w, pair, &mut acc);
                match &rounds {
                    Some(t) => {
                        for (k, (y, a)) in y.iter_mut().zip(acc).enumerate() {
                            let (m, e) = t.get(c0 + k);
                            *y = r.round::<I>(m, e, 1 << (e - 1), a);
                        }
                    }
                    None => {
                        for (k, (y, a)) in y.iter_mut().zip(acc).enumerate() {
                            *y = r.apply(r.channel(c0 + k), c0 + k, a);
                        }
                    }
                }
                c0 += 4;
            }
            for (k, y) in blocks.into_remainder().iter_mut().enumerate() {
                let c = c0 + k;
                let mut acc = bias_of(c);
                taps(g, oy, ox, |at, wt| {
                    if let (Some(&x), Some(&w)) = (input.get(at + c), filter.get(wt + c)) {
                        acc = acc.wrapping_add(
                            i32::from(w).wrapping_mul(i32::from(x as i8).wrapping_add(offset)),
                        );
                    }
                });
                *y = r.apply(r.channel(c), c, acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::dsp::Emulated;
    use super::super::test_util::*;
    use super::*;
    use crate::kernels::int8;
    use crate::kernels::int8::{Requant, Rounding};
    use crate::kernels::Padding;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Stages as real layers have them, so that the DSP path requantizes from its table.
    #[test]
    fn real_stages() {
        let mut rng = Rng(0xd3_9e11);
        for (input, k, s, same) in [
            ((25, 5, 64), (3, 3), (1, 1), true),
            ((9, 7, 12), (3, 3), (2, 2), true),
            ((6, 6, 8), (5, 2), (1, 1), false),
        ] {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let g = Conv2dGeometry::new(input, input.2, k, s, (1, 1), padding).unwrap();
            let requant = Requant::Multiplier(Rounding::Double);
            for round in 0..4 {
                let mut words = Vec::new();
                for _ in 0..if round % 2 == 0 { 1 } else { g.out_c } {
                    let sc = libm::ldexp(
                        1.0 + rng.below(1000) as f64 / 1000.0,
                        -(rng.below(12) as i32) - 3,
                    );
                    words.extend(requant.words(sc));
                }
                let stage = OutputStage {
                    multipliers: &words,
                    output_offset: rng.i32_in(-128, 127),
                    act_min: -128,
                    act_max: 127,
                    requant,
                };
                let input = rng.i8s(g.input_len().unwrap());
                let filter = rng.i8s(g.depthwise_kernel_len().unwrap());
                let bias: Vec<i32> = (0..g.out_c).map(|_| rng.i32_in(-3000, 3000)).collect();
                let offset = rng.i32_in(-127, 128);
                let mut want = vec![0i8; g.output_len().unwrap()];
                int8::depthwise_conv2d(
                    &g,
                    1,
                    &input,
                    offset,
                    &filter,
                    Some(&bias),
                    &stage,
                    &mut want,
                );
                let r = Requantizer::new(&stage);
                assert!(RoundTable::new(&r, g.out_c).is_some());
                let mut got = vec![0x55i8; want.len()];
                packed::<Emulated>(&g, &input, offset, &filter, Some(&bias), &r, &mut got);
                assert_eq!(got, want, "{g:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn same_bytes_as_the_reference(
            h in 1usize..9, w in 1usize..9, in_c in 1usize..21, dm in 1usize..4,
            kh in 1usize..4, kw in 1usize..4, sh in 1usize..3, sw in 1usize..3,
            dh in 1usize..3, dw in 1usize..3, same in any::<bool>(), seed in any::<u64>(),
        ) {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let Some(g) = Conv2dGeometry::new((h, w, in_c), in_c * dm, (kh, kw), (sh, sw), (dh, dw), padding) else {
                return Ok(());
            };
            let mut rng = Rng(seed | 1);
            let requant = REQUANTS[rng.below(3) as usize];
            let per_tensor = rng.below(2) == 0;
            let words = words(&mut rng, requant, g.out_c, per_tensor);
            let stage = stage(&mut rng, requant, &words);
            let input = rng.i8s(g.input_len().unwrap());
            let filter = rng.i8s(g.depthwise_kernel_len().unwrap());
            let bias: Vec<i32> = (0..g.out_c).map(|_| rng.next() as i32 >> rng.below(32)).collect();
            let bias = (rng.below(4) != 0).then_some(bias.as_slice());
            let offset = input_offset(&mut rng);
            let mut want = vec![0i8; g.output_len().unwrap()];
            int8::depthwise_conv2d(&g, dm, &input, offset, &filter, bias, &stage, &mut want);
            let mut got = vec![0x55i8; want.len()];
            depthwise_conv2d(&g, dm, &input, offset, &filter, bias, &stage, &mut got);
            prop_assert_eq!(&got, &want, "plain: {:?} dm {} offset {}", g, dm, offset);
            if dm == 1 {
                let r = Requantizer::new(&stage);
                let mut got = vec![0x55i8; want.len()];
                listed(&g, &input, offset, &filter, bias, &r, &mut got);
                prop_assert_eq!(&got, &want, "listed: {:?} offset {}", g, offset);
                if dsp::offset_fits_lanes(offset) {
                    let mut got = vec![0x55i8; want.len()];
                    packed::<Emulated>(&g, &input, offset, &filter, bias, &r, &mut got);
                    prop_assert_eq!(&got, &want, "dsp: {:?} offset {}", g, offset);
                }
            }
        }
    }
}
