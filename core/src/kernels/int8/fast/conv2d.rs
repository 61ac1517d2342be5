//! Int8 CONV_2D, fast: the contract and bits of
//! [`int8::conv2d`](fn@crate::kernels::int8::conv2d).

use super::dsp::{self, Filters, Gather, Isa};
use super::fully_connected::{dot1, dot4 as dot4_plain};
use super::{Channel, Requantizer, PACK_WORDS, WINDOW};
use crate::kernels::conv2d::Conv2dGeometry;
use crate::kernels::int8::quant::OutputStage;

/// [`int8::conv2d`](fn@crate::kernels::int8::conv2d), faster: the same slice-length
/// contract (debug builds assert it, release builds return without writing) and the same
/// output bytes.
pub fn conv2d(
    g: &Conv2dGeometry,
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    stage: &OutputStage<'_>,
    output: &mut [i8],
) {
    let ok = g.input_len() == Some(input.len())
        && g.kernel_len() == Some(filter.len())
        && g.output_len() == Some(output.len())
        && bias.is_none_or(|b| b.len() == g.out_c)
        && stage.fits(g.out_c)
        && g.windows_fit();
    debug_assert!(
        ok,
        "int8 conv2d: slice lengths break the contract for {g:?}"
    );
    if !ok || g.out_c == 0 {
        return;
    }
    let r = Requantizer::new(stage);
    #[cfg(kiln_dsp)]
    if packs(g, input_offset) {
        packed::<dsp::Arm>(g, input, input_offset, filter, bias, &r, output);
        return;
    }
    #[cfg(kiln_dsp)]
    if rows(g, input_offset) {
        windows_as_rows::<dsp::Arm>(g, input, input_offset, filter, bias, &r, output);
        return;
    }
    #[cfg(kiln_dsp)]
    {
        // the rare layers the DSP path does not take: the reference kernel, the least flash
        let _ = r;
        crate::kernels::int8::conv2d(g, input, input_offset, filter, bias, stage, output);
    }
    #[cfg(not(kiln_dsp))]
    plain(g, input, input_offset, filter, bias, &r, output);
}

/// The longest window [`windows_as_rows`] copies out (3×3×128).
pub(crate) const ROW_WINDOW: usize = 1152;

/// A window too long to pack four at a time (more than [`WINDOW`] taps, up to
/// [`ROW_WINDOW`]), whose padding can be written as the input zero point.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn rows(g: &Conv2dGeometry, input_offset: i32) -> bool {
    window_within(g, input_offset, WINDOW + 1..=ROW_WINDOW)
}

/// The layer's window has `taps` taps or a number in that range, and padding can be
/// written as the input zero point (`−offset`, an int8), whose lanes are then 0.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
fn window_within(
    g: &Conv2dGeometry,
    input_offset: i32,
    taps: core::ops::RangeInclusive<usize>,
) -> bool {
    let window = g
        .kernel_h
        .checked_mul(g.kernel_w)
        .and_then(|t| t.checked_mul(g.in_c));
    window.is_some_and(|w| taps.contains(&w)) && (-127..=128).contains(&input_offset)
}

/// Long windows ([`rows`]): each output pixel's window copied out as one input row (taps
/// outside the input as the zero point, which adds nothing), then FULLY_CONNECTED's
/// kernel over the filter's rows (a CONV_2D filter is FULLY_CONNECTED's weights, one row
/// per output channel, with the same requantization). Out of line, so its window buffer is
/// on the stack only when it runs.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
#[inline(never)]
pub(crate) fn windows_as_rows<I: Isa>(
    g: &Conv2dGeometry,
    input: &[i8],
    input_offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let l = g.kernel_h * g.kernel_w * g.in_c;
    let pad = input_offset.wrapping_neg() as u8;
    let bytes: &[u8] = bytemuck::cast_slice(input);
    let whole = Whole::new(g);
    let mut win = [0u8; ROW_WINDOW + 4];
    let mut pixels = output.chunks_exact_mut(g.out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(out) = pixels.next() else { return };
            let w = gather(g, bytes, (oy, ox), whole.at(oy, ox), pad, l, &mut win);
            let Some(row) = w.get(..l) else { return };
            let row: &[i8] = bytemuck::cast_slice(row);
            super::fully_connected::packed::<I>(row, input_offset, filter, bias, l, r, out);
        }
    }
}

/// The DSP path takes this layer: its window fits the buffer, and padding can be written
/// as the input zero point (`−offset`, an int8), whose lanes are then 0.
#[cfg_attr(not(kiln_dsp), allow(dead_code))]
pub(crate) fn packs(g: &Conv2dGeometry, input_offset: i32) -> bool {
    window_within(g, input_offset, 1..=WINDOW)
}

/// Each kernel row's taps inside the input, as runs of consecutive inputs: for
/// `dilation_w = 1` one run of `(kx_hi − kx_lo) · in_c` per kernel row, else one run of
/// `in_c` per tap. `f(input_at, window_at, len)`.
#[inline(always)]
fn runs(g: &Conv2dGeometry, oy: usize, ox: usize, mut f: impl FnMut(usize, usize, usize)) {
    let (ky_lo, ky_hi) = g.kernel_rows(oy);
    let (kx_lo, kx_hi) = g.kernel_cols(ox);
    let in_c = g.in_c;
    for ky in ky_lo..ky_hi {
        let iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
        if g.dilation_w == 1 {
            let ix = ox * g.stride_w + kx_lo - g.pad_left;
            f(
                (iy * g.in_w + ix) * in_c,
                (ky * g.kernel_w + kx_lo) * in_c,
                (kx_hi - kx_lo) * in_c,
            );
        } else {
            for kx in kx_lo..kx_hi {
                let ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
                f(
                    (iy * g.in_w + ix) * in_c,
                    (ky * g.kernel_w + kx) * in_c,
                    in_c,
                );
            }
        }
    }
}

/// Words (i32) of the plain path's window buffer: four windows of up to 72 taps, or two of
/// up to 144.
const PLAIN_WORDS: usize = 288;

/// Per block of `P` output pixels (4 or 2, as many as the buffer holds windows of), the
/// windows gathered with the offset added (padded taps 0), interleaved tap by tap; then
/// `C = 4 / P` filters per pass over them, so each pass loads each tap's inputs once for
/// `C` filters and each weight once for `P` pixels: four sums per pass. Windows longer
/// than 144 taps go run by run, one pixel at a time.
#[cfg_attr(kiln_dsp, allow(dead_code))]
fn plain(
    g: &Conv2dGeometry,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let l = g.kernel_h * g.kernel_w * g.in_c;
    if l == 0 || l > PLAIN_WORDS {
        return plain_runs(g, input, offset, filter, bias, r, output);
    }
    // (A window of 145 to 288 taps goes run by run: one block shape fewer to link, on a
    // Cortex-M3 whose all-ops firmware is near its 256 KiB of flash.)
    match PLAIN_WORDS / l {
        1 => plain_runs(g, input, offset, filter, bias, r, output),
        2 | 3 => blocks::<2, 2>(g, input, offset, filter, bias, r, output),
        _ => blocks::<4, 1>(g, input, offset, filter, bias, r, output),
    }
}

/// [`plain`] for `P` pixels and `C` filters per pass.
#[allow(clippy::too_many_arguments)]
fn blocks<const P: usize, const C: usize>(
    g: &Conv2dGeometry,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let out_c = g.out_c;
    let l = g.kernel_h * g.kernel_w * g.in_c;
    let bias_of = |c: usize| bias.and_then(|b| b.get(c)).copied().unwrap_or(0);
    let mut buf = [0i32; PLAIN_WORDS];
    let xs = &mut buf[..P * l];
    let whole = Whole::new(g);
    let pixels = g.out_h * g.out_w;
    let (mut oy, mut ox) = (0, 0);
    let mut p0 = 0;
    while p0 < pixels {
        let n = P.min(pixels - p0);
        for q in 0..P {
            if q >= n {
                xs.iter_mut().skip(q).step_by(P).for_each(|x| *x = 0);
                continue;
            }
            if !whole.at(oy, ox) {
                xs.iter_mut().skip(q).step_by(P).for_each(|x| *x = 0);
            }
            runs(g, oy, ox, |at, t, len| {
                let (Some(x), Some(d)) = (input.get(at..at + len), xs.get_mut(P * t..)) else {
                    return;
                };
                for (d, &x) in d.chunks_exact_mut(P).zip(x) {
                    d[q % P] = i32::from(x).wrapping_add(offset);
                }
            });
            ox += 1;
            if ox == g.out_w {
                (oy, ox) = (oy + 1, 0);
            }
        }
        let xs = &*xs;
        let block = output
            .get_mut(p0 * out_c..(p0 + n) * out_c)
            .unwrap_or(&mut []);
        let mut oc = 0;
        while oc < out_c {
            let c = C.min(out_c - oc);
            let mut acc = [[0i32; P]; C];
            for (k, a) in acc.iter_mut().enumerate().take(c) {
                *a = [bias_of(oc + k); P];
            }
            let row = |k: usize| {
                let at = (oc + k.min(c - 1)) * l;
                filter.get(at..at + l).unwrap_or(&[])
            };
            dot_block::<P, C>(xs, core::array::from_fn(row), &mut acc);
            for (k, a) in acc.iter().enumerate().take(c) {
                let out = block.iter_mut().skip(oc + k).step_by(out_c);
                r.apply_each(r.channel(oc + k), oc + k, a, out);
            }
            oc += c;
        }
        p0 += n;
    }
}

/// `acc[c][p] += Σ_i rows[c][i] · xs[P·i + p]`, wrapping.
#[inline(always)]
fn dot_block<const P: usize, const C: usize>(
    xs: &[i32],
    rows: [&[i8]; C],
    acc: &mut [[i32; P]; C],
) {
    // the four sums as one array, pixel-minor
    let mut a = [0i32; 4];
    for (k, v) in a.iter_mut().enumerate() {
        *v = acc
            .get(k / P)
            .and_then(|r| r.get(k % P))
            .copied()
            .unwrap_or(0);
    }
    match (P, C) {
        (4, 1) => dsp::dot_4x1(xs, rows[0], &mut a),
        (2, 2) => dsp::dot_2x2(xs, rows[0], rows[1 % C], &mut a),
        _ => {
            // (P = 1, C = 4) each input once for four rows
            let (w0, w1, w2, w3) = (rows[0], rows[1 % C], rows[2 % C], rows[3 % C]);
            for ((((x, &b0), &b1), &b2), &b3) in xs.chunks_exact(P).zip(w0).zip(w1).zip(w2).zip(w3)
            {
                dsp::no_unroll();
                let x = x[0];
                a[0] = a[0].wrapping_add(i32::from(b0).wrapping_mul(x));
                a[1] = a[1].wrapping_add(i32::from(b1).wrapping_mul(x));
                a[2] = a[2].wrapping_add(i32::from(b2).wrapping_mul(x));
                a[3] = a[3].wrapping_add(i32::from(b3).wrapping_mul(x));
            }
        }
    }
    for (k, &v) in a.iter().enumerate() {
        if let Some(r) = acc.get_mut(k / P).and_then(|r| r.get_mut(k % P)) {
            *r = v;
        }
    }
}

/// Windows too long for the buffer: per output pixel, four filters per pass over the
/// window's runs.
fn plain_runs(
    g: &Conv2dGeometry,
    input: &[i8],
    offset: i32,
    filter: &[i8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    output: &mut [i8],
) {
    let out_c = g.out_c;
    let l = g.kernel_h * g.kernel_w * g.in_c;
    let bias_of = |c: usize| bias.and_then(|b| b.get(c)).copied().unwrap_or(0);
    let mut pixels = output.chunks_exact_mut(out_c);
    for oy in 0..g.out_h {
        for ox in 0..g.out_w {
            let Some(pixel) = pixels.next() else { return };
            let mut quads = pixel.chunks_exact_mut(4);
            let mut oc = 0;
            for y4 in &mut quads {
                let mut acc = [
                    bias_of(oc),
                    bias_of(oc + 1),
                    bias_of(oc + 2),
                    bias_of(oc + 3),
                ];
                let rows = filter.get(oc * l..(oc + 4) * l).unwrap_or(&[]);
                runs(g, oy, ox, |at, t, n| {
                    let row = |k: usize| rows.get(k * l + t..k * l + t + n).unwrap_or(&[]);
                    if let Some(x) = input.get(at..at + n) {
                        dot4_plain(x, offset, [row(0), row(1), row(2), row(3)], &mut acc);
                    }
                });
                for (k, (y, &a)) in y4.iter_mut().zip(&acc).enumerate() {
                    *y = r.apply(r.channel(oc + k), oc + k, a);
                }
                oc += 4;
            }
            for y in quads.into_remainder() {
                let row = filter.get(oc * l..(oc + 1) * l).unwrap_or(&[]);
                let mut acc = bias_of(oc);
                runs(g, oy, ox, |at, t, n| {
                    if let (Some(x), Some(w)) = (input.get(at..at + n), row.get(t..t + n)) {
                        acc = dot1(x, offset, w, acc);
                    }
                });
                *y = r.apply(r.channel(oc), oc, acc);
                oc += 1;
            }
        }
    }
}

/// The DSP path ([`packs`] holds): up to 16 output pixels' windows packed into one
/// buffer, four pixels' words interleaved (padding as zero lanes), then each filter run
/// over each four at once ([`Isa::dot_groups4`]): each weight word is loaded and split
/// once per four pixels, each channel's requantization decoded once per block.
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
    let out_c = g.out_c;
    let l = g.kernel_h * g.kernel_w * g.in_c;
    let words = l.div_ceil(4);
    if words == 0 || words > PACK_WORDS / 8 {
        return;
    }
    // Four-pixel groups per block, as many as the buffer holds (at most four).
    let groups = (PACK_WORDS / (8 * words)).min(4);
    let stride = 8 * words;
    // Every run of a window starts and ends on a word (of any window, or of whole
    // windows): pack straight from the input.
    let direct_any = g.dilation_w == 1 && g.in_c % 4 == 0;
    let direct_whole = g.dilation_w == 1 && (g.kernel_w * g.in_c) % 4 == 0;
    let input: &[u8] = bytemuck::cast_slice(input);
    let filter: &[u8] = bytemuck::cast_slice(filter);
    let pad = offset.wrapping_neg() as u8;
    let pair = dsp::offset_pair(offset);
    // A window, and room for `gather`'s last word-sized copy.
    let mut win = [0u8; WINDOW + 4];
    // Whole windows whose runs do not fall on words: where each tap is from the
    // window's first input, and which words are four consecutive inputs.
    let table = if direct_any { None } else { Table::new(g, l) };
    let rounds = Rounds::new(r, out_c, filter, l);
    let mut xs = [0u32; PACK_WORDS];
    let pixels = g.out_h * g.out_w;
    let whole = Whole::new(g);
    let mut p0 = 0;
    let (mut oy, mut ox) = (0, 0);
    while p0 < pixels {
        let n = (4 * groups).min(pixels - p0);
        let used = n.div_ceil(4);
        for (grp, region) in xs.chunks_exact_mut(stride).take(used).enumerate() {
            // Four windows side by side in one output row, all inside the input, through
            // the table: one address, four gathers (the usual case, in a tight loop).
            if let Some(t) = table.as_ref().filter(|_| {
                4 * grp + 4 <= n && ox + 4 <= g.out_w && whole.at(oy, ox) && whole.at(oy, ox + 3)
            }) {
                let first = ((oy * g.stride_h - g.pad_top) * g.in_w + ox * g.stride_w - g.pad_left)
                    * g.in_c;
                let step = g.stride_w * g.in_c;
                let pad4 = u32::from(pad) * 0x0101_0101;
                let mut all = true;
                for k in 0..4 {
                    let src = input.get(first + k * step..).unwrap_or(&[]);
                    let dst = region.get_mut(k..).unwrap_or(&mut []);
                    all &= I::gather(&t.gather, src, pair, pad4, dst);
                }
                if all {
                    ox += 4;
                    if ox == g.out_w {
                        (oy, ox) = (oy + 1, 0);
                    }
                    continue;
                }
            }
            for k in 0..4 {
                if 4 * grp + k >= n {
                    for x in region.chunks_exact_mut(8) {
                        x[k] = 0;
                        x[4 + k] = 0;
                    }
                    continue;
                }
                let inside = whole.at(oy, ox);
                if direct_any || (direct_whole && inside) {
                    pack_runs::<I>(g, input, (oy, ox), inside, pair, region, k);
                } else if !(inside
                    && table
                        .as_ref()
                        .is_some_and(|t| t.pack::<I>(g, input, (oy, ox), pad, pair, region, k)))
                {
                    let w = gather(g, input, (oy, ox), inside, pad, l, &mut win);
                    for (v, x) in w.chunks_exact(4).zip(region.chunks_exact_mut(8)) {
                        let v = dsp::word(v);
                        x[k] = I::sxtab16(pair, v);
                        x[4 + k] = I::sxtab16_ror8(pair, v);
                    }
                }
                ox += 1;
                if ox == g.out_w {
                    (oy, ox) = (oy + 1, 0);
                }
            }
        }
        let xs = xs.get(..used * stride).unwrap_or(&[]);
        let block = output
            .get_mut(p0 * out_c..(p0 + n) * out_c)
            .unwrap_or(&mut []);
        filters::<I>(
            xs,
            words,
            l,
            out_c,
            filter,
            bias,
            r,
            rounds.as_ref(),
            block,
            n,
        );
        p0 += n;
    }
}

/// A stage whose every channel is [`Channel::Round`] and whose clamp is the int8 range,
/// for [`Isa::filters4`] (which reads the multiplier pairs from the stage), and the
/// filter's last rows padded with zeros to whole words (`filters4` reads whole words;
/// past the filter's end there are none).
pub(crate) struct Rounds {
    /// Channels whose rows the filter holds whole words of.
    whole_rows: usize,
    /// Rows `whole_rows..`, from `tail[0]`, `l` apart.
    tail: [u8; WINDOW + 16],
}

impl Rounds {
    fn new(r: &Requantizer<'_, '_>, out_c: usize, filter: &[u8], l: usize) -> Option<Rounds> {
        if !r.full || l == 0 || !(0..out_c).all(|c| matches!(r.channel(c), Channel::Round { .. })) {
            return None;
        }
        let words = l.div_ceil(4);
        let whole_rows = match filter.len().checked_sub(4 * words) {
            Some(room) => out_c.min(room / l + 1),
            None => 0,
        };
        let mut t = Rounds {
            whole_rows,
            tail: [0; WINDOW + 16],
        };
        let rest = filter.get(whole_rows * l..)?;
        if (out_c - whole_rows).saturating_sub(1) * l + 4 * words > t.tail.len() {
            return None;
        }
        t.tail[..rest.len()].copy_from_slice(rest);
        Some(t)
    }
}

/// Every filter over a block's packed windows (groups of four), into `block`, the
/// block's `n` output pixels: [`Isa::filters4`] for the whole groups and the channels
/// whose rows it can read whole, when `rounds` has their parameters; the rest channel by
/// channel. Out of line: inside the packing loops its values would not stay in
/// registers.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn filters<I: Isa>(
    xs: &[u32],
    words: usize,
    l: usize,
    out_c: usize,
    filter: &[u8],
    bias: Option<&[i32]>,
    r: &Requantizer<'_, '_>,
    rounds: Option<&Rounds>,
    block: &mut [i8],
    n: usize,
) {
    let stride = 8 * words;
    let used = n.div_ceil(4).min(xs.len() / stride.max(1)).min(4);
    let (fast_groups, fast_rows) = match rounds {
        Some(t) if n / 4 > 0 => {
            // The channels whose whole rows (4 · words bytes) the filter holds, then
            // the last one or few from the padded copy of their rows.
            let w = t.whole_rows;
            let pairs = r.stage.multipliers;
            let step = if r.per_tensor { 0 } else { 2 };
            let f = Filters {
                xs,
                words,
                groups: n / 4,
                rows: filter,
                l,
                channels: w,
                pairs,
                step,
                bias: bias.and_then(|b| b.get(..w)),
                offset: r.offset,
            };
            let tail = Filters {
                rows: &t.tail,
                channels: out_c - w,
                pairs: pairs.get(w * step..).unwrap_or(&[]),
                bias: bias.and_then(|b| b.get(w..)),
                ..f
            };
            let done = (w == 0 || I::filters4(&f, block, out_c))
                && (w == out_c || I::filters4(&tail, block.get_mut(w..).unwrap_or(&mut []), out_c));
            if done {
                (n / 4, out_c)
            } else {
                (0, 0)
            }
        }
        _ => (0, 0),
    };
    let mut sums = [[0i32; 4]; 4];
    for oc in 0..out_c {
        // the groups `filters4` left to this channel
        let g0 = if oc < fast_rows { fast_groups } else { 0 };
        if g0 >= used {
            continue;
        }
        let sums = &mut sums[g0..used];
        let xs = xs.get(g0 * stride..).unwrap_or(&[]);
        let b = bias.and_then(|b| b.get(oc)).copied().unwrap_or(0);
        let row = filter.get(oc * l..).unwrap_or(&[]);
        // Whole words of this row inside the filter (all but the last row's last
        // word; the bytes past a row's end meet zero lanes).
        let full = words.min(row.len() / 4);
        if full == words {
            I::dot_groups4(xs, words, row, b, sums);
        } else {
            for (x, acc) in xs.chunks_exact(stride).zip(sums.iter_mut()) {
                *acc = [b; 4];
                I::dot_pixels4(x.get(..8 * full).unwrap_or(&[]), row, acc);
                tail4::<I>(x, row, full, l, acc);
            }
        }
        let block = block.get_mut(4 * g0 * out_c..).unwrap_or(&mut []);
        store::<I>(r, oc, out_c, sums, block);
    }
}

/// Requantizes channel `oc`'s sums of a block (group `g`'s four for pixels `4g..4g + 4`)
/// into `block`, the block's output pixels.
#[inline(always)]
fn store<I: Isa>(
    r: &Requantizer<'_, '_>,
    oc: usize,
    out_c: usize,
    sums: &[[i32; 4]],
    block: &mut [i8],
) {
    let ch = r.channel(oc);
    let mut at = oc;
    match ch {
        Channel::Round { m, e, bias } => {
            for &acc in sums {
                for (k, a) in acc.into_iter().enumerate() {
                    let y = r.round::<I>(m, e, bias, a);
                    if let Some(o) = block.get_mut(at + k * out_c) {
                        *o = y;
                    }
                }
                at += 4 * out_c;
            }
        }
        _ => {
            for &acc in sums {
                for (k, y) in r.apply4_cold(ch, oc, acc).into_iter().enumerate() {
                    if let Some(o) = block.get_mut(at + k * out_c) {
                        *o = y;
                    }
                }
                at += 4 * out_c;
            }
        }
    }
}

/// Packs output pixel `(oy, ox)`'s window (`whole`: inside the input) straight from the input into lane `k` of `region`
/// (word `j`'s even pair at `region[8j + k]`, odd pair at `region[8j + 4 + k]`); the
/// window's runs all start and end on a word. Padded taps are zero lanes.
#[inline(always)]
fn pack_runs<I: Isa>(
    g: &Conv2dGeometry,
    input: &[u8],
    (oy, ox): (usize, usize),
    whole: bool,
    pair: u32,
    region: &mut [u32],
    k: usize,
) {
    let k = k & 3;
    if !whole {
        for x in region.chunks_exact_mut(8) {
            x[k] = 0;
            x[4 + k] = 0;
        }
    }
    runs(g, oy, ox, |at, t, n| {
        let Some(src) = input.get(at..at + n) else {
            return;
        };
        for (v, x) in src
            .chunks_exact(4)
            .zip(region.chunks_exact_mut(8).skip(t / 4))
        {
            let v = dsp::word(v);
            x[k] = I::sxtab16(pair, v);
            x[4 + k] = I::sxtab16_ror8(pair, v);
        }
    });
}

/// How each word of a whole window is read from the input, for windows whose runs do
/// not start and end on words (`in_c` 1 or 3, say): one unaligned load of four
/// consecutive inputs, or the first `s` bytes of one load and the rest of a second (the
/// next run's first inputs), through [`Isa::gather`]; a last word past the window's end
/// (its rest the zero point) separately. Offsets are from the window's first input.
struct Table {
    gather: Gather,
}

impl Table {
    /// `None` if a window's span does not fit in 16 bits or a word spans three runs.
    fn new(g: &Conv2dGeometry, l: usize) -> Option<Table> {
        let (in_c, row) = (g.in_c, g.kernel_w * g.in_c);
        let at = |i: usize| {
            let (ky, rest) = (i / row, i % row);
            let (kx, ci) = (rest / in_c, rest % in_c);
            (ky * g.dilation_h * g.in_w + kx * g.dilation_w) * in_c + ci
        };
        let mut words = [(0u16, 0u16, 0u32); 64];
        let (mut count, mut span, mut last) = (0, 0, None);
        for j in 0..l.div_ceil(4) {
            let first = at(4 * j);
            // taps of this word that follow the first in the input
            let mut s = 1;
            while s < 4 && 4 * j + s < l && at(4 * j + s) == first + s {
                s += 1;
            }
            let mask = u32::MAX >> (32 - 8 * s as u32);
            if s < 4 && 4 * j + s >= l {
                // the window ends in this word (its last)
                last = Some((u16::try_from(first).ok()?, mask));
                span = span.max(first + 4);
                continue;
            }
            let b = if s == 4 {
                first
            } else {
                let second = at(4 * j + s);
                // the rest of the word must follow `second`, inside the window
                if 4 * j + 4 > l || second < s {
                    return None;
                }
                for i in s + 1..4 {
                    if at(4 * j + i) != second + (i - s) {
                        return None;
                    }
                }
                second - s
            };
            span = span.max(first + 4).max(b + 4);
            *words.get_mut(count)? = (u16::try_from(first).ok()?, u16::try_from(b).ok()?, mask);
            count += 1;
        }
        Some(Table {
            gather: Gather::new(&words[..count], last, span)?,
        })
    }

    /// [`pack_runs`] for a whole window through the table; `false` (nothing written)
    /// where its loads would run past the input's end.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn pack<I: Isa>(
        &self,
        g: &Conv2dGeometry,
        input: &[u8],
        (oy, ox): (usize, usize),
        pad: u8,
        pair: u32,
        region: &mut [u32],
        k: usize,
    ) -> bool {
        let first =
            ((oy * g.stride_h - g.pad_top) * g.in_w + ox * g.stride_w - g.pad_left) * g.in_c;
        let src = input.get(first..).unwrap_or(&[]);
        let dst = region.get_mut(k & 3..).unwrap_or(&mut []);
        I::gather(&self.gather, src, pair, u32::from(pad) * 0x0101_0101, dst)
    }
}

/// The output rows and columns whose windows lie wholly inside the input (each a
/// range: the windows at the edges reach into the padding).
struct Whole {
    rows: (usize, usize),
    cols: (usize, usize),
}

impl Whole {
    fn new(g: &Conv2dGeometry) -> Whole {
        let range = |n: usize, taps: &dyn Fn(usize) -> (usize, usize), k: usize| {
            let inside = |o: usize| taps(o) == (0, k);
            let lo = (0..n).find(|&o| inside(o)).unwrap_or(n);
            let hi = (lo..n).find(|&o| !inside(o)).unwrap_or(n);
            (lo, hi)
        };
        Whole {
            rows: range(g.out_h, &|o| g.kernel_rows(o), g.kernel_h),
            cols: range(g.out_w, &|o| g.kernel_cols(o), g.kernel_w),
        }
    }

    #[inline(always)]
    fn at(&self, oy: usize, ox: usize) -> bool {
        (self.rows.0..self.rows.1).contains(&oy) && (self.cols.0..self.cols.1).contains(&ox)
    }
}

/// Output pixel `(oy, ox)`'s window (taps in filter order `ky`, `kx`, `ci`) into `w`, padded
/// taps and the bytes after the `l` taps set to `pad`; returns the window's whole words.
/// A whole window's runs follow each other, so each is copied in words, the last word
/// running into the next run's place (rewritten next) or past `l` (padded after).
#[inline(always)]
fn gather<'w>(
    g: &Conv2dGeometry,
    input: &[u8],
    (oy, ox): (usize, usize),
    whole: bool,
    pad: u8,
    l: usize,
    w: &'w mut [u8],
) -> &'w [u8] {
    let span = 4 * l.div_ceil(4);
    if !whole {
        if let Some(w) = w.get_mut(..span) {
            w.fill(pad);
        }
    }
    runs(g, oy, ox, |at, t, n| {
        let over = 4 * n.div_ceil(4);
        match (whole, w.get_mut(t..t + over), input.get(at..at + over)) {
            (true, Some(d), Some(s)) => {
                for (d, s) in d.chunks_exact_mut(4).zip(s.chunks_exact(4)) {
                    d.copy_from_slice(s);
                }
            }
            _ => {
                if let (Some(d), Some(s)) = (w.get_mut(t..t + n), input.get(at..at + n)) {
                    for (d, s) in d.iter_mut().zip(s) {
                        *d = *s;
                    }
                }
            }
        }
    });
    if let Some(tail) = w.get_mut(l..span) {
        tail.fill(pad);
    }
    w.get(..span).unwrap_or(&[])
}

/// The last partial word of a row (from `row[4 * full]` to `row[l]`), read byte by byte,
/// against the four packed windows `x`.
#[inline(never)]
fn tail4<I: Isa>(x: &[u32], row: &[u8], full: usize, l: usize, acc: &mut [i32; 4]) {
    let Some(x) = x.get(8 * full..8 * full + 8) else {
        return;
    };
    let bytes = row.get(4 * full..l.min(row.len())).unwrap_or(&[]);
    let mut b = [0u8; 4];
    let k = bytes.len().min(4);
    b[..k].copy_from_slice(&bytes[..k]);
    let v = u32::from_le_bytes(b);
    let (even, odd) = (I::sxtb16(v), I::sxtb16_ror8(v));
    for (q, a) in acc.iter_mut().enumerate() {
        *a = I::smlad(even, x[q], *a);
        *a = I::smlad(odd, x[4 + q], *a);
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

    #[allow(clippy::too_many_arguments)]
    fn check(
        (h, w, in_c): (usize, usize, usize),
        out_c: usize,
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        (dh, dw): (usize, usize),
        same: bool,
        seed: u64,
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let Some(g) =
            Conv2dGeometry::new((h, w, in_c), out_c, (kh, kw), (sh, sw), (dh, dw), padding)
        else {
            return;
        };
        let mut rng = Rng(seed | 1);
        let requant = REQUANTS[rng.below(3) as usize];
        let per_tensor = rng.below(2) == 0;
        let words = words(&mut rng, requant, out_c, per_tensor);
        let stage = stage(&mut rng, requant, &words);
        let input = rng.i8s(g.input_len().unwrap());
        let filter = rng.i8s(g.kernel_len().unwrap());
        let bias: Vec<i32> = (0..out_c)
            .map(|_| rng.next() as i32 >> rng.below(32))
            .collect();
        let bias = (rng.below(4) != 0).then_some(bias.as_slice());
        let offset = input_offset(&mut rng);
        let mut want = vec![0i8; g.output_len().unwrap()];
        int8::conv2d(&g, &input, offset, &filter, bias, &stage, &mut want);
        let mut got = vec![0x55i8; want.len()];
        conv2d(&g, &input, offset, &filter, bias, &stage, &mut got);
        assert_eq!(got, want, "plain: {g:?}, offset {offset}, {stage:?}");
        if packs(&g, offset) {
            let mut got = vec![0x55i8; want.len()];
            let r = Requantizer::new(&stage);
            packed::<Emulated>(&g, &input, offset, &filter, bias, &r, &mut got);
            assert_eq!(got, want, "dsp: {g:?}, offset {offset}, {stage:?}");
        }
        if rows(&g, offset) && dsp::offset_fits_lanes(offset) {
            let mut got = vec![0x55i8; want.len()];
            let r = Requantizer::new(&stage);
            windows_as_rows::<Emulated>(&g, &input, offset, &filter, bias, &r, &mut got);
            assert_eq!(got, want, "dsp rows: {g:?}, offset {offset}, {stage:?}");
        }
    }

    proptest! {
        #[test]
        fn same_bytes_as_the_reference(
            h in 1usize..9, w in 1usize..9, in_c in 1usize..7, out_c in 1usize..11,
            kh in 1usize..4, kw in 1usize..4, sh in 1usize..3, sw in 1usize..3,
            dh in 1usize..3, dw in 1usize..3, same in any::<bool>(), seed in any::<u64>(),
        ) {
            check((h, w, in_c), out_c, (kh, kw), (sh, sw), (dh, dw), same, seed);
        }

        #[test]
        fn windows_too_long_to_pack_run_as_rows(
            h in 1usize..6, w in 1usize..6, in_c in 17usize..129, out_c in 1usize..9,
            k in 3usize..4, stride in 1usize..3, same in any::<bool>(), seed in any::<u64>(),
        ) {
            // 3×3 windows of 153..=1152 taps: past what packs, up to ROW_WINDOW
            check((h, w, in_c), out_c, (k, k), (stride, stride), (1, 1), same, seed);
        }

        #[test]
        fn long_windows(
            h in 3usize..7, w in 3usize..7, in_c in 12usize..20, out_c in 1usize..6,
            same in any::<bool>(), seed in any::<u64>(),
        ) {
            // 3×3 windows around the buffer's size (144)
            check((h, w, in_c), out_c, (3, 3), (1, 1), (1, 1), same, seed);
        }
    }

    /// Stages as real layers have them (every channel a normalized multiplier and a right
    /// shift, the int8 clamp), so that the DSP path takes its fused requantization.
    #[test]
    fn fused_requantization() {
        let mut rng = Rng(0x5eed_0001);
        for (input, out_c, k, s, same) in [
            ((8, 8, 3), 16, (3, 3), (1, 1), false),
            ((7, 7, 16), 32, (3, 3), (1, 1), true),
            ((11, 6, 1), 8, (10, 4), (2, 2), true),
            ((5, 5, 64), 64, (1, 1), (1, 1), false),
            ((6, 5, 3), 7, (2, 3), (1, 2), true),
            ((9, 4, 8), 65, (3, 1), (2, 1), false),
        ] {
            let padding = if same { Padding::Same } else { Padding::Valid };
            let g = Conv2dGeometry::new(input, out_c, k, s, (1, 1), padding).unwrap();
            for round in 0..6 {
                let requant = Requant::Multiplier(Rounding::Double);
                let scales: Vec<f64> = (0..out_c)
                    .map(|_| {
                        libm::ldexp(
                            1.0 + rng.below(1000) as f64 / 1000.0,
                            -(rng.below(14) as i32) - 2,
                        )
                    })
                    .collect();
                let mut words = Vec::new();
                for &sc in &scales[..if round % 2 == 0 { 1 } else { out_c }] {
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
                let filter = rng.i8s(g.kernel_len().unwrap());
                let bias: Vec<i32> = (0..out_c).map(|_| rng.i32_in(-5000, 5000)).collect();
                let bias = (round % 3 != 0).then_some(bias.as_slice());
                let offset = rng.i32_in(-127, 128);
                let r = Requantizer::new(&stage);
                assert!(
                    out_c > 64
                        || Rounds::new(
                            &r,
                            out_c,
                            bytemuck::cast_slice(&filter),
                            g.kernel_h * g.kernel_w * g.in_c
                        )
                        .is_some()
                );
                let mut want = vec![0i8; g.output_len().unwrap()];
                int8::conv2d(&g, &input, offset, &filter, bias, &stage, &mut want);
                let mut got = vec![0x55i8; want.len()];
                packed::<Emulated>(&g, &input, offset, &filter, bias, &r, &mut got);
                assert_eq!(got, want, "{g:?}");
            }
        }
    }

    #[test]
    fn bench_shapes() {
        for (i, (input, out_c, k, s)) in [
            ((8, 8, 3), 16, (3, 3), (1, 1)),
            ((7, 7, 16), 32, (3, 3), (1, 1)),
            ((11, 6, 1), 8, (10, 4), (2, 2)),
            ((5, 5, 64), 64, (1, 1), (1, 1)),
            ((4, 4, 17), 3, (5, 5), (1, 1)),
            // windows past the plain path's buffer (400 taps): run by run
            ((7, 6, 16), 5, (5, 5), (1, 1)),
        ]
        .into_iter()
        .enumerate()
        {
            for same in [false, true] {
                check(input, out_c, k, s, (1, 1), same, 0x9e37_79b9 + i as u64);
            }
        }
    }
}
