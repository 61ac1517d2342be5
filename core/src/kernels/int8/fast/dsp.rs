//! The Cortex-M4/M7 DSP instructions the int8 kernels are built from, and a portable twin
//! of each.
//!
//! The kernels are written once, generic over [`Isa`]: the single instructions
//! (`sxtb16`, `sxtab16`, `smlad`, `smlabb`, `smlatt`) and the two inner loops made of them
//! ([`Isa::dot_rows2`], [`Isa::dot_pixels4`]). [`Emulated`] computes each instruction's
//! result in plain Rust, exactly as the Armv7-M architecture reference manual defines it
//! (16-bit lanes wrap, the 32-bit accumulation wraps), and its inner loops call those
//! instructions word by word. `Arm` (`cfg(kiln_dsp)`, targets with the DSP extension:
//! Cortex-M4/M7, see `core/build.rs`) issues the instructions with `asm!`, the inner loops
//! as hand-scheduled assembly doing the same operations in the same order. Host tests run
//! the kernels on [`Emulated`] against the reference kernels; the firmware runs on `Arm`
//! under QEMU against the host's bits.
//!
//! # The packed layout
//! Four int8 values `v0 v1 v2 v3` of one word become two words of 16-bit lanes, *even*
//! `(v0, v2)` and *odd* `(v1, v3)` (low lane first), each lane `v + input_offset`
//! (`sxtab16` of the offset pair and the word, unrotated and rotated by 8). A weight word
//! `w0 w1 w2 w3` unpacks the same way (`sxtb16`, `sxtb16 ror #8`), so `smlad(even_w,
//! even_x) + smlad(odd_w, odd_x)` adds the four products `w_i · (x_i + offset)`: the
//! pairing follows the weights' bytes and the inputs are permuted to match. A lane holds
//! `x + offset` exactly when the offset is in `-32640..=32640`, which every valid model's is
//! (`input_offset = −zero_point`); the kernels check it and take their plain path if not.

// Hosts use these only in tests; the Cortex-M4 build, all but the emulation.
#![cfg_attr(not(test), allow(dead_code))]

/// What a kernel needs from the processor. The provided loops are the portable
/// definitions; an implementation may replace them with faster code of the same result.
pub(crate) trait Isa {
    /// `sxtb16 d, x`: bytes 0 and 2, sign-extended, as the low and high 16-bit lanes.
    fn sxtb16(x: u32) -> u32;
    /// `sxtb16 d, x, ror #8`: bytes 1 and 3.
    fn sxtb16_ror8(x: u32) -> u32;
    /// `sxtab16 d, a, x`: lane-wise `a + sxtb16(x)`, each lane modulo 2^16.
    fn sxtab16(a: u32, x: u32) -> u32;
    /// `sxtab16 d, a, x, ror #8`.
    fn sxtab16_ror8(a: u32, x: u32) -> u32;
    /// `smlad d, a, b, acc`: `acc + a.lo·b.lo + a.hi·b.hi` (signed 16-bit lanes), wrapping.
    fn smlad(a: u32, b: u32, acc: i32) -> i32;
    /// `smlabb d, a, b, acc`: `acc + a.lo·b.lo`, wrapping.
    fn smlabb(a: u32, b: u32, acc: i32) -> i32;
    /// `smlatt d, a, b, acc`: `acc + a.hi·b.hi`, wrapping.
    fn smlatt(a: u32, b: u32, acc: i32) -> i32;
    /// `qadd d, a, b`: `a + b`, saturating.
    fn qadd(a: i32, b: i32) -> i32;
    /// `smmulr d, a, b`: `(a · b + 2^31) >> 32`, the rounded high word of the product.
    fn smmulr(a: i32, b: i32) -> i32;
    /// `ssub8 t, a, b` then `sel d, a, b`: the larger of each pair of signed bytes.
    fn max8(a: u32, b: u32) -> u32;
    /// `ssub8 t, a, b` then `sel d, b, a`: the smaller of each pair of signed bytes.
    fn min8(a: u32, b: u32) -> u32;

    /// Two weight rows against one packed input: for each word `j < xs.len() / 2` (the
    /// packed pair `xs[2j]`, `xs[2j + 1]`), `acc[0]` adds the four products of row `wa`'s
    /// word `j` (bytes `4j..4j + 4`), `acc[1]` those of row `wb`. Rows shorter than the
    /// input leave `acc` as it is.
    #[inline(always)]
    fn dot_rows2(xs: &[u32], wa: &[u8], wb: &[u8], acc: &mut [i32; 2]) {
        let words = xs.len() / 2;
        let (Some(wa), Some(wb)) = (wa.get(..4 * words), wb.get(..4 * words)) else {
            return;
        };
        let [mut a, mut b] = *acc;
        for ((x, wa), wb) in xs
            .chunks_exact(2)
            .zip(wa.chunks_exact(4))
            .zip(wb.chunks_exact(4))
        {
            let (wa, wb) = (word(wa), word(wb));
            a = Self::smlad(Self::sxtb16(wa), x[0], a);
            a = Self::smlad(Self::sxtb16_ror8(wa), x[1], a);
            b = Self::smlad(Self::sxtb16(wb), x[0], b);
            b = Self::smlad(Self::sxtb16_ror8(wb), x[1], b);
        }
        *acc = [a, b];
    }

    /// One weight row against four packed inputs: for each word `j < xs.len() / 8`,
    /// `xs[8j + q]` is input `q`'s even pair and `xs[8j + 4 + q]` its odd pair; `acc[q]`
    /// adds the four products of the row's word `j` with input `q`'s. A row shorter than
    /// the inputs leaves `acc` as it is.
    #[inline(always)]
    fn dot_pixels4(xs: &[u32], w: &[u8], acc: &mut [i32; 4]) {
        let words = xs.len() / 8;
        let Some(w) = w.get(..4 * words) else {
            return;
        };
        let mut a = *acc;
        for (x, w) in xs.chunks_exact(8).zip(w.chunks_exact(4)) {
            let w = word(w);
            let (even, odd) = (Self::sxtb16(w), Self::sxtb16_ror8(w));
            for q in 0..4 {
                a[q] = Self::smlad(even, x[q], a[q]);
            }
            for q in 0..4 {
                a[q] = Self::smlad(odd, x[4 + q], a[q]);
            }
        }
        *acc = a;
    }

    /// [`Self::dot_pixels4`] of one weight row against `acc.len()` consecutive groups of
    /// four packed inputs (group `g` at `xs[8 · words · g..]`), each group's sums starting
    /// at `bias`. Groups the inputs do not hold, or a row shorter than `words` words, leave
    /// their sums at `bias`.
    #[inline(always)]
    fn dot_groups4(xs: &[u32], words: usize, w: &[u8], bias: i32, acc: &mut [[i32; 4]]) {
        let mut groups = xs.chunks_exact(8 * words.max(1));
        for a in acc.iter_mut() {
            *a = [bias; 4];
            if let Some(x) = groups.next() {
                Self::dot_pixels4(x, w, a);
            }
        }
    }

    /// The words of one window (`src`: from its first input, at least `g.span()` bytes)
    /// through `g`, packed (with the offset `pair`) into every eighth word of `dst`:
    /// word `j`'s even pair at `dst[8j]`, its odd pair at `dst[8j + 4]`; `pad` (the zero
    /// point in each byte) completes a last word. `false` (nothing written) if `src` or
    /// `dst` is too short.
    #[inline(always)]
    fn gather(g: &Gather, src: &[u8], pair: u32, pad: u32, dst: &mut [u32]) -> bool {
        let words = g.count + usize::from(g.last);
        if src.len() < g.span || (words > 0 && dst.len() < 8 * (words - 1) + 5) {
            return false;
        }
        for (j, (w, x)) in g.words[..words].iter().zip(dst.chunks_mut(8)).enumerate() {
            let (a, b) = ((w[0] & 0xffff) as usize, (w[0] >> 16) as usize);
            let hi = if j < g.count { word(&src[b..]) } else { pad };
            let v = (word(&src[a..]) & w[1]) | (hi & !w[1]);
            x[0] = Self::sxtab16(pair, v);
            x[4] = Self::sxtab16_ror8(pair, v);
        }
        true
    }

    /// Four channels of one depthwise output pixel: for each tap, the four input bytes
    /// at `x[x_off..]` (widened with the offset `pair`) times the four weights at
    /// `w[w_off..]`, one product per channel (`smlabb`, `smlatt`), added to `acc`.
    /// Does nothing if `x` or `w` is shorter than a tap's load.
    #[inline(always)]
    fn dw_taps(t: &Taps, x: &[u8], w: &[u8], pair: u32, acc: &mut [i32; 4]) {
        if x.len() < t.x_end || w.len() < t.w_end {
            return;
        }
        for &[xo, wo] in &t.at[..t.count] {
            let (xv, wv) = (word(&x[xo as usize..]), word(&w[wo as usize..]));
            let (xe, xo) = (Self::sxtab16(pair, xv), Self::sxtab16_ror8(pair, xv));
            let (we, wo) = (Self::sxtb16(wv), Self::sxtb16_ror8(wv));
            acc[0] = Self::smlabb(we, xe, acc[0]);
            acc[2] = Self::smlatt(we, xe, acc[2]);
            acc[1] = Self::smlabb(wo, xo, acc[1]);
            acc[3] = Self::smlatt(wo, xo, acc[3]);
        }
    }

    /// All of one depthwise output pixel's channels, four at a time: [`Self::dw_taps`]
    /// from the bias, then each sum requantized as in [`Self::filters4`] and stored in
    /// `out`. `false` (nothing written) unless [`DwPixel::fits`].
    #[inline(always)]
    fn dw_pixel(p: &DwPixel<'_>, out: &mut [i8]) -> bool {
        if !p.fits(out) {
            return false;
        }
        for g in 0..p.groups {
            let c = 4 * g;
            let mut acc = [0i32; 4];
            for (k, a) in acc.iter_mut().enumerate() {
                *a = p.bias.map_or(0, |b| b[c + k]);
            }
            Self::dw_taps(p.taps, &p.x[c..], &p.w[c..], p.pair, &mut acc);
            for (k, a) in acc.into_iter().enumerate() {
                let at = (c + k) * p.step;
                let (m, e) = (p.pairs[at], p.pairs[at + 1].wrapping_neg() as u32);
                let bias = 1i32.wrapping_shl(e.wrapping_sub(1) & 255);
                let high = Self::smmulr(Self::qadd(a, a), m);
                let v = Self::qadd(high, bias).wrapping_add(high >> 31) >> (e & 31);
                out[c + k] = Self::qadd(v, p.offset).clamp(-128, 127) as i8;
            }
        }
        true
    }

    /// Channel by channel, group by group: the group's four sums ([`Self::dot_pixels4`]
    /// from the channel's bias), each requantized as [`Channel::Round`] with the int8
    /// clamp, `qadd(smmulr(qadd(a, a), m), 2^(e−1)) − (high < 0)`, `>> e`,
    /// `qadd(offset)`, `ssat #8`, and stored at `out[(4g + k) · out_c + c]`. Does nothing
    /// unless [`Filters::fits`].
    ///
    /// [`Channel::Round`]: super::Channel::Round
    #[inline(always)]
    fn filters4(f: &Filters<'_>, out: &mut [i8], out_c: usize) -> bool {
        if !f.fits(out, out_c) {
            return false;
        }
        for c in 0..f.channels {
            let (m, shift) = (f.pairs[c * f.step], f.pairs[c * f.step + 1]);
            // what the assembly computes for any shift (the callers give 1..=31)
            let e = shift.wrapping_neg() as u32;
            let row = f.rows.get(c * f.l..).unwrap_or(&[]);
            let b = f.bias.map_or(0, |b| b[c]);
            let bias = 1i32.wrapping_shl(e.wrapping_sub(1) & 255);
            for (g, x) in f.xs.chunks_exact(8 * f.words).take(f.groups).enumerate() {
                let mut acc = [b; 4];
                Self::dot_pixels4(x, row, &mut acc);
                for (k, a) in acc.into_iter().enumerate() {
                    let high = Self::smmulr(Self::qadd(a, a), m);
                    let v = Self::qadd(high, bias).wrapping_add(high >> 31) >> (e & 31);
                    out[(4 * g + k) * out_c + c] = Self::qadd(v, f.offset).clamp(-128, 127) as i8;
                }
            }
        }
        true
    }
}

/// A block of CONV_2D work for [`Isa::filters4`]: `groups` groups of four packed
/// windows (`xs`, `8 · words` words per group), the filter rows from `rows` (row `c` at
/// `rows[c · l..]`, `4 · words` bytes of it read), and per channel its [`Channel::Round`]
/// multiplier pair from `pairs` (`(m, shift)` at `pairs[c · step..]`: step 2 per channel,
/// 0 for a per-tensor stage; `e = −shift`) and the bias (`bias[c]`, or 0). Every output is
/// clamped to the int8 range only (the stage's clamp is that range).
///
/// [`Channel::Round`]: super::Channel::Round
pub(crate) struct Filters<'a> {
    pub xs: &'a [u32],
    pub words: usize,
    pub groups: usize,
    pub rows: &'a [u8],
    pub l: usize,
    pub channels: usize,
    pub pairs: &'a [i32],
    pub step: usize,
    pub bias: Option<&'a [i32]>,
    pub offset: i32,
}

impl Filters<'_> {
    /// Every slice holds what the block reads, and `out` (from the block's first pixel's
    /// first channel, pixels `out_c` apart) every output written.
    pub(crate) fn fits(&self, out: &[i8], out_c: usize) -> bool {
        let c = self.channels;
        let reads = |n: usize, per: usize, len: usize| n.checked_mul(per).is_some_and(|v| v <= len);
        let last_row = (c.wrapping_sub(1))
            .checked_mul(self.l)
            .and_then(|v| v.checked_add(4 * self.words));
        let last_out = (4 * self.groups)
            .checked_sub(1)
            .and_then(|p| p.checked_mul(out_c))
            .and_then(|v| v.checked_add(c));
        let last_pair = (c.wrapping_sub(1))
            .checked_mul(self.step)
            .and_then(|v| v.checked_add(2));
        c >= 1
            && self.words >= 1
            && self.groups >= 1
            && (self.step == 0 || self.step == 2)
            && c <= out_c
            && self.bias.is_none_or(|b| b.len() == c)
            && reads(self.groups, 8 * self.words, self.xs.len())
            && last_row.is_some_and(|v| v <= self.rows.len())
            && last_out.is_some_and(|v| v <= out.len())
            && last_pair.is_some_and(|v| v <= self.pairs.len())
    }
}

/// Words of a window [`Gather`] holds (a window of the DSP convolution's buffer).
pub(crate) const GATHER: usize = super::PACK_WORDS / 8;

/// How to read the words of a window from the input, each as `(load(a) & mask) |
/// (load(b) & !mask)` (unaligned 4-byte loads at offsets `a` and `b` from the window's
/// first input), the last one perhaps as `(load(a) & mask) | (pad & !mask)` (the window
/// ends inside it), for [`Isa::gather`]. Built only with every load inside `span` bytes.
pub(crate) struct Gather {
    /// `a | b << 16`, `mask`; entry `count` (if `last`) is the padded last word.
    words: [[u32; 2]; GATHER + 1],
    count: usize,
    last: bool,
    span: usize,
}

impl Gather {
    /// `None` if there are more than [`GATHER`] words or a load would end past `span`.
    pub(crate) fn new(
        words: &[(u16, u16, u32)],
        last: Option<(u16, u32)>,
        span: usize,
    ) -> Option<Gather> {
        let mut g = Gather {
            words: [[0; 2]; GATHER + 1],
            count: words.len(),
            last: last.is_some(),
            span,
        };
        for (slot, &(a, b, mask)) in g
            .words
            .get_mut(..words.len().min(64))?
            .iter_mut()
            .zip(words)
        {
            if usize::from(a.max(b)) + 4 > span {
                return None;
            }
            *slot = [u32::from(a) | u32::from(b) << 16, mask];
        }
        if words.len() > GATHER {
            return None;
        }
        if let Some((a, mask)) = last {
            if usize::from(a) + 4 > span {
                return None;
            }
            g.words[words.len()] = [u32::from(a), mask];
        }
        Some(g)
    }
}

/// The taps of one DEPTHWISE_CONV_2D output pixel that fall inside the input, for
/// [`Isa::dw_taps`]: byte offsets of each tap's input pixel and of its weights, and how
/// far a four-byte load from each may reach.
pub(crate) struct Taps {
    at: [[u32; 2]; 64],
    count: usize,
    x_end: usize,
    w_end: usize,
}

impl Taps {
    pub(crate) fn new() -> Taps {
        Taps {
            at: [[0; 2]; 64],
            count: 0,
            x_end: 0,
            w_end: 0,
        }
    }

    pub(crate) fn clear(&mut self) {
        (self.count, self.x_end, self.w_end) = (0, 0, 0);
    }

    /// The taps: `[input offset, weights offset]`.
    pub(crate) fn as_slice(&self) -> &[[u32; 2]] {
        &self.at[..self.count]
    }

    /// `false` (nothing added) if the list is full or an offset does not fit in 32 bits.
    pub(crate) fn push(&mut self, x: usize, w: usize) -> bool {
        let (Some(slot), Ok(xo), Ok(wo)) = (
            self.at.get_mut(self.count),
            u32::try_from(x),
            u32::try_from(w),
        ) else {
            return false;
        };
        *slot = [xo, wo];
        self.count += 1;
        self.x_end = self.x_end.max(x + 4);
        self.w_end = self.w_end.max(w + 4);
        true
    }
}

/// One DEPTHWISE_CONV_2D output pixel for [`Isa::dw_pixel`]: its taps, the input from
/// the taps' first channel (`x`) and the weights (`w`), `groups` groups of four channels,
/// each channel's [`Channel::Round`] pair from `pairs` (`(m, shift)` at `pairs[c ·
/// step..]`, step 2 or 0; `e = −shift`), the bias (or 0), the output offset; the int8
/// clamp only.
///
/// [`Channel::Round`]: super::Channel::Round
pub(crate) struct DwPixel<'a> {
    pub taps: &'a Taps,
    pub x: &'a [u8],
    pub w: &'a [u8],
    pub pair: u32,
    pub groups: usize,
    pub pairs: &'a [i32],
    pub step: usize,
    pub bias: Option<&'a [i32]>,
    pub offset: i32,
}

impl DwPixel<'_> {
    /// Every load and store inside its slice (`out`: the pixel's `4 · groups` outputs).
    pub(crate) fn fits(&self, out: &[i8]) -> bool {
        let c = 4 * self.groups;
        let last_pair = (c.wrapping_sub(1))
            .checked_mul(self.step)
            .and_then(|v| v.checked_add(2));
        self.groups >= 1
            && self.taps.count >= 1
            && (self.step == 0 || self.step == 2)
            && out.len() >= c
            && self.bias.is_none_or(|b| b.len() >= c)
            && self.x.len() >= self.taps.x_end + 4 * (self.groups - 1)
            && self.w.len() >= self.taps.w_end + 4 * (self.groups - 1)
            && last_pair.is_some_and(|v| v <= self.pairs.len())
    }
}

/// Four bytes as a little-endian word (an unaligned `ldr` on the Cortex-M4).
#[inline(always)]
pub(crate) fn word(b: &[u8]) -> u32 {
    match b.first_chunk::<4>() {
        Some(&w) => u32::from_le_bytes(w),
        None => 0,
    }
}

/// The offset in both 16-bit lanes.
#[inline(always)]
pub(crate) fn offset_pair(offset: i32) -> u32 {
    (offset as u32 & 0xffff).wrapping_mul(0x1_0001)
}

/// `offset` keeps every `x + offset` (`x` an int8) inside a 16-bit lane.
#[inline(always)]
pub(crate) fn offset_fits_lanes(offset: i32) -> bool {
    (-32640..=32640).contains(&offset)
}

/// The architecture's definitions in plain Rust (the host's tests run the kernels on it).
pub(crate) struct Emulated;

#[inline(always)]
fn lo(x: u32) -> i32 {
    x as u16 as i16 as i32
}

#[inline(always)]
fn hi(x: u32) -> i32 {
    (x >> 16) as u16 as i16 as i32
}

#[inline(always)]
fn lanes(lo: i32, hi: i32) -> u32 {
    (lo as u32 & 0xffff) | (hi as u32) << 16
}

impl Isa for Emulated {
    #[inline(always)]
    fn sxtb16(x: u32) -> u32 {
        lanes(x as u8 as i8 as i32, (x >> 16) as u8 as i8 as i32)
    }
    #[inline(always)]
    fn sxtb16_ror8(x: u32) -> u32 {
        Self::sxtb16(x.rotate_right(8))
    }
    #[inline(always)]
    fn sxtab16(a: u32, x: u32) -> u32 {
        let s = Self::sxtb16(x);
        lanes(lo(a).wrapping_add(lo(s)), hi(a).wrapping_add(hi(s)))
    }
    #[inline(always)]
    fn sxtab16_ror8(a: u32, x: u32) -> u32 {
        Self::sxtab16(a, x.rotate_right(8))
    }
    #[inline(always)]
    fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b)).wrapping_add(hi(a) * hi(b))
    }
    #[inline(always)]
    fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(lo(a) * lo(b))
    }
    #[inline(always)]
    fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(hi(a) * hi(b))
    }
    #[inline(always)]
    fn qadd(a: i32, b: i32) -> i32 {
        a.saturating_add(b)
    }
    #[inline(always)]
    fn smmulr(a: i32, b: i32) -> i32 {
        ((a as i64 * b as i64 + (1 << 31)) >> 32) as i32
    }
    #[inline(always)]
    fn max8(a: u32, b: u32) -> u32 {
        bytewise(a, b, |x, y| x.max(y))
    }
    #[inline(always)]
    fn min8(a: u32, b: u32) -> u32 {
        bytewise(a, b, |x, y| x.min(y))
    }
}

/// `f` on each pair of signed bytes of `a` and `b`.
#[inline(always)]
fn bytewise(a: u32, b: u32, f: impl Fn(i8, i8) -> i8) -> u32 {
    let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
    u32::from_le_bytes(core::array::from_fn(|k| f(a[k] as i8, b[k] as i8) as u8))
}

/// Keeps LLVM from unrolling the loop it is called in, on Arm: for Cortex-M cores it
/// unrolls small loops by four, and the plain kernels' loops (four sums, their row
/// pointers, the inputs) then run out of registers and spill every sum. An inline
/// assembly statement counts as a call, and LLVM does not unroll loops with calls; this
/// one is empty (no instruction). Elsewhere it does nothing.
#[inline(always)]
pub(crate) fn no_unroll() {
    #[cfg(target_arch = "arm")]
    #[allow(unsafe_code)]
    // SAFETY: an empty statement: no instruction, no register, memory or flag touched.
    unsafe {
        core::arch::asm!("", options(nomem, nostack, preserves_flags));
    }
}

/// `acc[p] += Σ_i w[i] · xs[4i + p]` (four windows interleaved, one filter row), wrapping;
/// `n = min(xs.len() / 4, w.len())` taps. On Thumb-2 cores (Cortex-M3 and later) a loop
/// of `ldm` of the four inputs, `ldrsb` of the weight and four `mla`, two taps per turn:
/// 14 instructions per 8 multiply-adds.
#[inline(always)]
pub(crate) fn dot_4x1(xs: &[i32], w: &[i8], acc: &mut [i32; 4]) {
    let n = (xs.len() / 4).min(w.len());
    #[cfg(kiln_thumb2)]
    if n > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = *acc;
        // SAFETY: reads `4n` words of `xs` (aligned, `[i32]`) and `n` bytes of `w`, both
        // inside their slices (`n` is bounded by both lengths); only declared registers
        // change. `n % 2` single taps first, then `n / 2` turns of two.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!(
                "tst {n}, #1",
                "beq 1f",
                "ldm {px}!, {{r0, r1, r2, r3}}",
                "ldrsb {w}, [{pw}], #1",
                "mla {a0}, {w}, r0, {a0}",
                "mla {a1}, {w}, r1, {a1}",
                "mla {a2}, {w}, r2, {a2}",
                "mla {a3}, {w}, r3, {a3}",
                "1:",
                "lsrs {n}, {n}, #1",
                "beq 3f",
                "2:",
                "ldm {px}!, {{r0, r1, r2, r3}}",
                "ldrsb {w}, [{pw}], #1",
                "mla {a0}, {w}, r0, {a0}",
                "mla {a1}, {w}, r1, {a1}",
                "mla {a2}, {w}, r2, {a2}",
                "mla {a3}, {w}, r3, {a3}",
                "ldm {px}!, {{r0, r1, r2, r3}}",
                "ldrsb {w}, [{pw}], #1",
                "mla {a0}, {w}, r0, {a0}",
                "mla {a1}, {w}, r1, {a1}",
                "mla {a2}, {w}, r2, {a2}",
                "mla {a3}, {w}, r3, {a3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                n = inout(reg) n => _,
                px = inout(reg) xs.as_ptr() => _,
                pw = inout(reg) w.as_ptr() => _,
                w = out(reg) _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                options(nostack),
            );
        }
        *acc = [a0, a1, a2, a3];
        return;
    }
    for (x, &w) in xs.chunks_exact(4).zip(w).take(n) {
        let w = i32::from(w);
        for p in 0..4 {
            acc[p] = acc[p].wrapping_add(w.wrapping_mul(x[p]));
        }
    }
}

/// `acc[2c + p] += Σ_i w_c[i] · xs[2i + p]` (two windows interleaved, two filter rows),
/// wrapping; `n = min(xs.len() / 2, w0.len(), w1.len())` taps. On Thumb-2 cores a loop of
/// `ldrd` of the two inputs, two `ldrsb` and four `mla`, two taps per turn: 16
/// instructions per 8 multiply-adds.
#[inline(always)]
pub(crate) fn dot_2x2(xs: &[i32], w0: &[i8], w1: &[i8], acc: &mut [i32; 4]) {
    let n = (xs.len() / 2).min(w0.len()).min(w1.len());
    #[cfg(kiln_thumb2)]
    if n > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = *acc;
        // SAFETY: reads `2n` words of `xs` (aligned, `[i32]`, for `ldrd`) and `n` bytes
        // of each of `w0` and `w1`, inside their slices; only declared registers change.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!(
                "tst {n}, #1",
                "beq 1f",
                "ldrd {x0}, {x1}, [{px}], #8",
                "ldrsb {u}, [{p0}], #1",
                "ldrsb {v}, [{p1}], #1",
                "mla {a0}, {u}, {x0}, {a0}",
                "mla {a1}, {u}, {x1}, {a1}",
                "mla {a2}, {v}, {x0}, {a2}",
                "mla {a3}, {v}, {x1}, {a3}",
                "1:",
                "lsrs {n}, {n}, #1",
                "beq 3f",
                "2:",
                "ldrd {x0}, {x1}, [{px}], #8",
                "ldrsb {u}, [{p0}], #1",
                "ldrsb {v}, [{p1}], #1",
                "mla {a0}, {u}, {x0}, {a0}",
                "mla {a1}, {u}, {x1}, {a1}",
                "mla {a2}, {v}, {x0}, {a2}",
                "mla {a3}, {v}, {x1}, {a3}",
                "ldrd {x0}, {x1}, [{px}], #8",
                "ldrsb {u}, [{p0}], #1",
                "ldrsb {v}, [{p1}], #1",
                "mla {a0}, {u}, {x0}, {a0}",
                "mla {a1}, {u}, {x1}, {a1}",
                "mla {a2}, {v}, {x0}, {a2}",
                "mla {a3}, {v}, {x1}, {a3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                n = inout(reg) n => _,
                px = inout(reg) xs.as_ptr() => _,
                p0 = inout(reg) w0.as_ptr() => _,
                p1 = inout(reg) w1.as_ptr() => _,
                x0 = out(reg) _,
                x1 = out(reg) _,
                u = out(reg) _,
                v = out(reg) _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                options(nostack),
            );
        }
        *acc = [a0, a1, a2, a3];
        return;
    }
    for ((x, &u), &v) in xs.chunks_exact(2).zip(w0).zip(w1).take(n) {
        let (u, v) = (i32::from(u), i32::from(v));
        acc[0] = acc[0].wrapping_add(u.wrapping_mul(x[0]));
        acc[1] = acc[1].wrapping_add(u.wrapping_mul(x[1]));
        acc[2] = acc[2].wrapping_add(v.wrapping_mul(x[0]));
        acc[3] = acc[3].wrapping_add(v.wrapping_mul(x[1]));
    }
}

/// `acc[k] += Σ_taps w[w_off + k] · (x[x_off + k] + offset)` for four channels, wrapping
/// (the plain depthwise kernel's inner loop). On Thumb-2 cores (Cortex-M3 and later)
/// assembly: per tap one `ldrd` of its offsets, then per channel `ldrsb`, `ldrsb`, `add`,
/// `mla`: 21 instructions per tap. Does nothing if a tap's load would leave `x` or `w`.
#[inline(always)]
pub(crate) fn dw_taps_plain(t: &Taps, x: &[u8], w: &[u8], offset: i32, acc: &mut [i32; 4]) {
    if x.len() < t.x_end || w.len() < t.w_end {
        return;
    }
    #[cfg(kiln_thumb2)]
    if t.count > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = *acc;
        // SAFETY: every tap's offsets plus 4 are at most `x_end` and `w_end`, which `x`
        // and `w` hold (checked above): each `ldrsb` (offsets 0..=3 from the tap's) is
        // inside its slice; `t.at` is read `count` entries long. Only declared registers
        // change.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::asm!(
                "1:",
                "ldrd {xo}, {wo}, [{tp}], #8",
                "add {xo}, {xo}, {xb}",
                "add {wo}, {wo}, {wb}",
                "ldrsb {xv}, [{xo}]",
                "ldrsb {wv}, [{wo}]",
                "add {xv}, {xv}, {off}",
                "mla {a0}, {wv}, {xv}, {a0}",
                "ldrsb {xv}, [{xo}, #1]",
                "ldrsb {wv}, [{wo}, #1]",
                "add {xv}, {xv}, {off}",
                "mla {a1}, {wv}, {xv}, {a1}",
                "ldrsb {xv}, [{xo}, #2]",
                "ldrsb {wv}, [{wo}, #2]",
                "add {xv}, {xv}, {off}",
                "mla {a2}, {wv}, {xv}, {a2}",
                "ldrsb {xv}, [{xo}, #3]",
                "ldrsb {wv}, [{wo}, #3]",
                "add {xv}, {xv}, {off}",
                "mla {a3}, {wv}, {xv}, {a3}",
                "subs {n}, {n}, #1",
                "bne 1b",
                tp = inout(reg) t.at.as_ptr() => _,
                n = inout(reg) t.count => _,
                xb = in(reg) x.as_ptr(),
                wb = in(reg) w.as_ptr(),
                off = in(reg) offset,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                xo = out(reg) _,
                wo = out(reg) _,
                xv = out(reg) _,
                wv = out(reg) _,
                options(nostack),
            );
        }
        *acc = [a0, a1, a2, a3];
        return;
    }
    for &[xo, wo] in &t.at[..t.count] {
        let (xo, wo) = (xo as usize, wo as usize);
        for (k, a) in acc.iter_mut().enumerate() {
            let (xv, wv) = (i32::from(x[xo + k] as i8), i32::from(w[wo + k] as i8));
            *a = a.wrapping_add(wv.wrapping_mul(xv.wrapping_add(offset)));
        }
    }
}

/// Targets with the DSP extension (`cfg(kiln_dsp)`: Cortex-M4/M7), through `asm!`.
#[cfg(kiln_dsp)]
pub(crate) use arm::Arm;

#[cfg(kiln_dsp)]
#[allow(unsafe_code)]
mod arm {
    use super::Isa;
    use core::arch::asm;

    pub(crate) struct Arm;

    // Each single instruction below reads only its register operands and writes only its
    // output register: no memory, no stack, no flags (`smlad`, `smlabb` and `smlatt` set
    // the sticky Q flag on overflow, which nothing in Rust reads).
    impl Isa for Arm {
        #[inline(always)]
        fn sxtb16(x: u32) -> u32 {
            let d;
            // SAFETY: one register-to-register instruction (see the comment on the impl).
            unsafe {
                asm!("sxtb16 {d}, {x}", d = lateout(reg) d, x = in(reg) x,
                     options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn sxtb16_ror8(x: u32) -> u32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("sxtb16 {d}, {x}, ror #8", d = lateout(reg) d, x = in(reg) x,
                     options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn sxtab16(a: u32, x: u32) -> u32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("sxtab16 {d}, {a}, {x}", d = lateout(reg) d, a = in(reg) a, x = in(reg) x,
                     options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn sxtab16_ror8(a: u32, x: u32) -> u32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("sxtab16 {d}, {a}, {x}, ror #8", d = lateout(reg) d, a = in(reg) a,
                     x = in(reg) x, options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn smlad(a: u32, b: u32, acc: i32) -> i32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("smlad {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a,
                     b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("smlabb {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a,
                     b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("smlatt {d}, {a}, {b}, {c}", d = lateout(reg) d, a = in(reg) a,
                     b = in(reg) b, c = in(reg) acc, options(pure, nomem, nostack, preserves_flags));
            }
            d
        }

        #[inline(always)]
        fn qadd(a: i32, b: i32) -> i32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("qadd {d}, {a}, {b}", d = lateout(reg) d, a = in(reg) a, b = in(reg) b,
                     options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn smmulr(a: i32, b: i32) -> i32 {
            let d;
            // SAFETY: as above.
            unsafe {
                asm!("smmulr {d}, {a}, {b}", d = lateout(reg) d, a = in(reg) a, b = in(reg) b,
                     options(pure, nomem, nostack, preserves_flags));
            }
            d
        }
        #[inline(always)]
        fn max8(a: u32, b: u32) -> u32 {
            let d;
            // SAFETY: two register instructions; `ssub8` sets the APSR.GE flags that `sel`
            // reads (flags are not declared preserved), `t` is a scratch register apart
            // from the inputs.
            unsafe {
                asm!("ssub8 {t}, {a}, {b}", "sel {d}, {a}, {b}", t = out(reg) _,
                     d = lateout(reg) d, a = in(reg) a, b = in(reg) b,
                     options(pure, nomem, nostack));
            }
            d
        }
        #[inline(always)]
        fn min8(a: u32, b: u32) -> u32 {
            let d;
            // SAFETY: as for `max8`.
            unsafe {
                asm!("ssub8 {t}, {a}, {b}", "sel {d}, {b}, {a}", t = out(reg) _,
                     d = lateout(reg) d, a = in(reg) a, b = in(reg) b,
                     options(pure, nomem, nostack));
            }
            d
        }

        /// [`Isa::dot_rows2`]: one word, then two, then four per turn: `ldm` of the
        /// packed words, each weight word loaded once (`ldrd` when both rows are 4-byte
        /// aligned, `ldr` of unaligned words otherwise) and split once. Aligned: 40
        /// instructions per 32 multiply-adds in the loop (`ldm` of 4 and `ldrd` take 5 and
        /// 3 cycles on a Cortex-M4: about 52 cycles).
        #[inline(always)]
        fn dot_rows2(xs: &[u32], wa: &[u8], wb: &[u8], acc: &mut [i32; 2]) {
            let words = xs.len() / 2;
            if words == 0 || wa.len() / 4 < words || wb.len() / 4 < words {
                return;
            }
            let [mut a, mut b] = *acc;
            let aligned = (wa.as_ptr() as usize | wb.as_ptr() as usize) % 4 == 0;
            if aligned {
                // SAFETY: the code reads `2 * words` words from `xs` (4-byte aligned, as a
                // `[u32]`, for `ldm`) and `4 * words` bytes from each of `wa` and `wb`
                // (4-byte aligned here, for `ldrd`), all inside the slices (checked
                // above: `words % 2` single words, then `words % 4 / 2` pairs, then
                // `words / 4` quads); it writes only the registers it declares.
                unsafe {
                    asm!(
                        "tst {n}, #1",
                        "beq 1f",
                        "ldm {px}!, {{r0, r1}}",
                        "ldr {w}, [{pa}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "ldr {w}, [{pb}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "1:",
                        "tst {n}, #2",
                        "beq 2f",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldrd {w}, {v}, [{pa}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldrd {w}, {v}, [{pb}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "2:",
                        "lsrs {n}, {n}, #2",
                        "beq 4f",
                        "3:",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldrd {w}, {v}, [{pa}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldrd {w}, {v}, [{pb}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldrd {w}, {v}, [{pa}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldrd {w}, {v}, [{pb}], #8",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "subs {n}, {n}, #1",
                        "bne 3b",
                        "4:",
                        n = inout(reg) words => _,
                        px = inout(reg) xs.as_ptr() => _,
                        pa = inout(reg) wa.as_ptr() => _,
                        pb = inout(reg) wb.as_ptr() => _,
                        a = inout(reg) a,
                        b = inout(reg) b,
                        w = out(reg) _,
                        v = out(reg) _,
                        t = out(reg) _,
                        out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                        options(nostack),
                    );
                }
            } else {
                // SAFETY: as above, with `ldr` of unaligned weight words (which the
                // Cortex-M4/M7 allow for `ldr`, not for `ldrd`).
                unsafe {
                    asm!(
                        "tst {n}, #1",
                        "beq 1f",
                        "ldm {px}!, {{r0, r1}}",
                        "ldr {w}, [{pa}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "ldr {w}, [{pb}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "1:",
                        "tst {n}, #2",
                        "beq 2f",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldr {w}, [{pa}], #4",
                        "ldr {v}, [{pa}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldr {w}, [{pb}], #4",
                        "ldr {v}, [{pb}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "2:",
                        "lsrs {n}, {n}, #2",
                        "beq 4f",
                        "3:",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldr {w}, [{pa}], #4",
                        "ldr {v}, [{pa}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldr {w}, [{pb}], #4",
                        "ldr {v}, [{pb}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "ldr {w}, [{pa}], #4",
                        "ldr {v}, [{pa}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {a}, {t}, r0, {a}",
                        "smlad {a}, {w}, r1, {a}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {a}, {t}, r2, {a}",
                        "smlad {a}, {v}, r3, {a}",
                        "ldr {w}, [{pb}], #4",
                        "ldr {v}, [{pb}], #4",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad {b}, {t}, r0, {b}",
                        "smlad {b}, {w}, r1, {b}",
                        "sxtb16 {t}, {v}",
                        "sxtb16 {v}, {v}, ror #8",
                        "smlad {b}, {t}, r2, {b}",
                        "smlad {b}, {v}, r3, {b}",
                        "subs {n}, {n}, #1",
                        "bne 3b",
                        "4:",
                        n = inout(reg) words => _,
                        px = inout(reg) xs.as_ptr() => _,
                        pa = inout(reg) wa.as_ptr() => _,
                        pb = inout(reg) wb.as_ptr() => _,
                        a = inout(reg) a,
                        b = inout(reg) b,
                        w = out(reg) _,
                        v = out(reg) _,
                        t = out(reg) _,
                        out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                        options(nostack),
                    );
                }
            }
            *acc = [a, b];
        }

        /// [`Isa::dot_pixels4`]: per weight word, one `ldm` of the four even pairs and one
        /// of the four odd pairs, the word loaded and split once and shared by the four
        /// inputs; the odd word first, then two words per turn. 13 instructions per 16
        /// multiply-adds, plus the loop's two per two words.
        #[inline(always)]
        fn dot_pixels4(xs: &[u32], w: &[u8], acc: &mut [i32; 4]) {
            let words = xs.len() / 8;
            if words == 0 || w.len() / 4 < words {
                return;
            }
            let [mut a0, mut a1, mut a2, mut a3] = *acc;
            // SAFETY: reads `8 * words` words of `xs` (aligned, `ldm`) and `4 * words`
            // bytes of `w` (unaligned `ldr`), inside both slices (checked above); writes
            // only the registers it declares.
            unsafe {
                asm!(
                    "tst {n}, #1",
                    "beq 1f",
                    "ldr {w}, [{pw}], #4",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "sxtb16 {t}, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlad {a0}, {t}, r0, {a0}",
                    "smlad {a1}, {t}, r1, {a1}",
                    "smlad {a2}, {t}, r2, {a2}",
                    "smlad {a3}, {t}, r3, {a3}",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "smlad {a0}, {w}, r0, {a0}",
                    "smlad {a1}, {w}, r1, {a1}",
                    "smlad {a2}, {w}, r2, {a2}",
                    "smlad {a3}, {w}, r3, {a3}",
                    "1:",
                    "lsrs {n}, {n}, #1",
                    "beq 3f",
                    "2:",
                    "ldr {w}, [{pw}], #4",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "sxtb16 {t}, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlad {a0}, {t}, r0, {a0}",
                    "smlad {a1}, {t}, r1, {a1}",
                    "smlad {a2}, {t}, r2, {a2}",
                    "smlad {a3}, {t}, r3, {a3}",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "smlad {a0}, {w}, r0, {a0}",
                    "smlad {a1}, {w}, r1, {a1}",
                    "smlad {a2}, {w}, r2, {a2}",
                    "smlad {a3}, {w}, r3, {a3}",
                    "ldr {w}, [{pw}], #4",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "sxtb16 {t}, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlad {a0}, {t}, r0, {a0}",
                    "smlad {a1}, {t}, r1, {a1}",
                    "smlad {a2}, {t}, r2, {a2}",
                    "smlad {a3}, {t}, r3, {a3}",
                    "ldm {px}!, {{r0, r1, r2, r3}}",
                    "smlad {a0}, {w}, r0, {a0}",
                    "smlad {a1}, {w}, r1, {a1}",
                    "smlad {a2}, {w}, r2, {a2}",
                    "smlad {a3}, {w}, r3, {a3}",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    "3:",
                    n = inout(reg) words => _,
                    px = inout(reg) xs.as_ptr() => _,
                    pw = inout(reg) w.as_ptr() => _,
                    a0 = inout(reg) a0,
                    a1 = inout(reg) a1,
                    a2 = inout(reg) a2,
                    a3 = inout(reg) a3,
                    w = out(reg) _,
                    t = out(reg) _,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    options(nostack),
                );
            }
            *acc = [a0, a1, a2, a3];
        }

        /// [`Isa::dot_groups4`]: [`Isa::dot_pixels4`]'s loop for each group in turn, the
        /// row's start, its length and the bias reloaded from a small table (on the stack
        /// with the table's address: the loop has every register), the four sums stored
        /// with one `stm`. About 19 instructions per group besides the loop.
        #[inline(always)]
        fn dot_groups4(xs: &[u32], words: usize, w: &[u8], bias: i32, acc: &mut [[i32; 4]]) {
            let groups = acc.len();
            let fits = words.checked_mul(8).and_then(|s| s.checked_mul(groups));
            if words == 0 || groups == 0 || w.len() / 4 < words || fits.is_none_or(|n| xs.len() < n)
            {
                for a in acc.iter_mut() {
                    *a = [bias; 4];
                }
                return;
            }
            let mut table: [usize; 5] = [
                w.as_ptr() as usize,
                words,
                bias as u32 as usize,
                groups,
                acc.as_mut_ptr() as usize,
            ];
            // SAFETY: for each of the `groups` groups the code reads `8 * words` words of
            // `xs` (4-byte aligned, `ldm`; the groups are consecutive, all inside `xs` as
            // checked above) and `4 * words` bytes of `w` from its start (unaligned `ldr`,
            // inside `w`), and writes the group's four sums to `acc[g]` (`stm`: `acc` is
            // `[[i32; 4]]`, aligned, `groups` long). It reads and writes `table`, and uses
            // eight bytes of stack below `sp` that it gives back (`sp` stays 8-byte
            // aligned). Every register it changes is declared.
            unsafe {
                asm!(
                        "sub sp, sp, #8",
                        "str {t}, [sp]",
                        "1:",
                        "ldr {t}, [sp]",
                        "ldr {pw}, [{t}]",
                        "ldr {n}, [{t}, #4]",
                        "ldr r8, [{t}, #8]",
                        "mov r9, r8",
                        "mov r10, r8",
                        "mov r11, r8",
                        "tst {n}, #1",
                        "beq 2f",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "2:",
                        "lsrs {n}, {n}, #1",
                        "beq 4f",
                        "3:",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "subs {n}, {n}, #1",
                        "bne 3b",
                        "4:",
                        "ldr {t}, [sp]",
                        "ldr {w}, [{t}, #16]",
                        "stm {w}!, {{r8, r9, r10, r11}}",
                        "str {w}, [{t}, #16]",
                        "ldr {w}, [{t}, #12]",
                        "subs {w}, {w}, #1",
                        "str {w}, [{t}, #12]",
                        "bne 1b",
                        "add sp, sp, #8",
                    t = inout(reg) table.as_mut_ptr() => _,
                    px = inout(reg) xs.as_ptr() => _,
                    pw = out(reg) _,
                    n = out(reg) _,
                    w = out(reg) _,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                );
            }
        }

        /// [`Isa::filters4`] in one piece of assembly: per channel its parameters are
        /// read from the arrays into a table (on the stack with the table's address: the
        /// loops have every register); per group the [`Isa::dot_pixels4`] loop, then the
        /// four requantizations in registers (seven instructions each) and four `strb`; the
        /// loop takes one word, two, then four per turn. About 48 instructions per group and
        /// 30 per channel besides the loop's 13 per word.
        #[inline(always)]
        fn filters4(f: &super::Filters<'_>, out: &mut [i8], out_c: usize) -> bool {
            if !f.fits(out, out_c) {
                return false;
            }
            static ZERO: i32 = 0;
            let (bias, step) = match f.bias {
                Some(b) => (b.as_ptr(), 4),
                None => (&ZERO as *const i32, 0),
            };
            let mut table: [usize; 19] = [
                f.rows.as_ptr() as usize,
                f.words,
                f.groups,
                f.xs.as_ptr() as usize,
                out.as_mut_ptr() as usize,
                out_c,
                f.channels,
                f.l,
                f.pairs.as_ptr() as usize,
                4 * f.step,
                bias as usize,
                step,
                f.offset as u32 as usize,
                0,
                0,
                0,
                0,
                0,
                0,
            ];
            // SAFETY: `f.fits(out, out_c)`: for each of the `channels` channels `c` the
            // code reads `pairs[c·step..][..2]` and `bias[c]` (or the one `ZERO`, step 0),
            // the row `rows[c·l..][..4·words]` (unaligned `ldr`) and the `groups · 8 ·
            // words` words of `xs` (aligned `ldm`), all inside their slices, and writes
            // `out[(4g + k)·out_c + c]` for `g < groups`, `k < 4`, inside `out`. It reads
            // and writes `table`, and uses eight bytes of stack below `sp` that it gives
            // back (`sp` stays 8-byte aligned). Every register it changes is declared.
            unsafe {
                asm!(
                        "sub sp, sp, #8",
                        "str {t}, [sp]",
                        "1:",
                        "ldr {w}, [{t}, #40]",
                        "ldr {n}, [{w}]",
                        "str {n}, [{t}, #60]",
                        "ldr {n}, [{t}, #44]",
                        "add {w}, {w}, {n}",
                        "str {w}, [{t}, #40]",
                        "ldr {w}, [{t}, #32]",
                        "ldr {n}, [{w}]",
                        "str {n}, [{t}, #64]",
                        "ldr {n}, [{w}, #4]",
                        "rsbs {n}, {n}, #0",
                        "str {n}, [{t}, #68]",
                        "ldr {px}, [{t}, #36]",
                        "add {w}, {w}, {px}",
                        "str {w}, [{t}, #32]",
                        "subs {n}, {n}, #1",
                        "movs {w}, #1",
                        "lsls {w}, {w}, {n}",
                        "str {w}, [{t}, #72]",
                        "ldr {px}, [{t}, #12]",
                        "ldr {w}, [{t}, #16]",
                        "str {w}, [{t}, #56]",
                        "ldr {w}, [{t}, #8]",
                        "str {w}, [{t}, #52]",
                        "2:",
                        "ldr {pw}, [{t}, #0]",
                        "ldr {n}, [{t}, #4]",
                        "ldr r8, [{t}, #60]",
                        "mov r9, r8",
                        "mov r10, r8",
                        "mov r11, r8",
                        "tst {n}, #1",
                        "beq 3f",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "3:",
                        "tst {n}, #2",
                        "beq 6f",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",

                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "6:",
                        "lsrs {n}, {n}, #2",
                        "beq 5f",
                        "4:",
                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",

                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",

                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",

                        "ldr {w}, [{pw}], #4",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "sxtb16 {t}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlad r8, {t}, r0, r8",
                        "smlad r9, {t}, r1, r9",
                        "smlad r10, {t}, r2, r10",
                        "smlad r11, {t}, r3, r11",
                        "ldm {px}!, {{r0, r1, r2, r3}}",
                        "smlad r8, {w}, r0, r8",
                        "smlad r9, {w}, r1, r9",
                        "smlad r10, {w}, r2, r10",
                        "smlad r11, {w}, r3, r11",
                        "subs {n}, {n}, #1",
                        "bne 4b",
                        "5:",
                        "ldr {t}, [sp]",
                        "ldr r0, [{t}, #64]",
                        "ldr r1, [{t}, #72]",
                        "ldr r2, [{t}, #68]",
                        "ldr r3, [{t}, #48]",
                        "qadd {w}, r8, r8",
                        "smmulr {w}, {w}, r0",
                        "qadd r8, {w}, r1",
                        "add r8, r8, {w}, asr #31",
                        "asr r8, r8, r2",
                        "qadd r8, r8, r3",
                        "ssat r8, #8, r8",
                        "qadd {w}, r9, r9",
                        "smmulr {w}, {w}, r0",
                        "qadd r9, {w}, r1",
                        "add r9, r9, {w}, asr #31",
                        "asr r9, r9, r2",
                        "qadd r9, r9, r3",
                        "ssat r9, #8, r9",
                        "qadd {w}, r10, r10",
                        "smmulr {w}, {w}, r0",
                        "qadd r10, {w}, r1",
                        "add r10, r10, {w}, asr #31",
                        "asr r10, r10, r2",
                        "qadd r10, r10, r3",
                        "ssat r10, #8, r10",
                        "qadd {w}, r11, r11",
                        "smmulr {w}, {w}, r0",
                        "qadd r11, {w}, r1",
                        "add r11, r11, {w}, asr #31",
                        "asr r11, r11, r2",
                        "qadd r11, r11, r3",
                        "ssat r11, #8, r11",
                        "ldr {pw}, [{t}, #56]",
                        "ldr {n}, [{t}, #20]",
                        "strb r8, [{pw}]",
                        "strb r9, [{pw}, {n}]",
                        "add {pw}, {pw}, {n}, lsl #1",
                        "strb r10, [{pw}]",
                        "strb r11, [{pw}, {n}]",
                        "add {pw}, {pw}, {n}, lsl #1",
                        "str {pw}, [{t}, #56]",
                        "ldr {w}, [{t}, #52]",
                        "subs {w}, {w}, #1",
                        "str {w}, [{t}, #52]",
                        "bne 2b",
                        "ldr {w}, [{t}, #0]",
                        "ldr {n}, [{t}, #28]",
                        "add {w}, {w}, {n}",
                        "str {w}, [{t}, #0]",
                        "ldr {w}, [{t}, #16]",
                        "adds {w}, {w}, #1",
                        "str {w}, [{t}, #16]",
                        "ldr {w}, [{t}, #24]",
                        "subs {w}, {w}, #1",
                        "str {w}, [{t}, #24]",
                        "bne 1b",
                        "add sp, sp, #8",
                    t = inout(reg) table.as_mut_ptr() => _,
                    px = out(reg) _,
                    pw = out(reg) _,
                    n = out(reg) _,
                    w = out(reg) _,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                );
            }
            true
        }

        /// [`Isa::dw_pixel`] in one piece of assembly: per group of four channels the
        /// bias (`ldm`), the [`Isa::dw_taps`] loop, then each sum requantized with its
        /// channel's pair (14 instructions) and stored; the table of pointers on the stack
        /// with its address (the loop has every register). About 90 instructions per
        /// group besides the taps' 13 each.
        #[inline(always)]
        fn dw_pixel(p: &super::DwPixel<'_>, out: &mut [i8]) -> bool {
            if !p.fits(out) {
                return false;
            }
            static ZERO: [i32; 4] = [0; 4];
            let (bias, bstep) = match p.bias {
                Some(b) => (b.as_ptr(), 16),
                None => (ZERO.as_ptr(), 0),
            };
            let mut table: [usize; 12] = [
                p.taps.at.as_ptr() as usize,
                p.taps.count,
                p.x.as_ptr() as usize,
                p.w.as_ptr() as usize,
                bias as usize,
                bstep,
                p.pairs.as_ptr() as usize,
                4 * p.step,
                p.offset as u32 as usize,
                out.as_mut_ptr() as usize,
                p.groups,
                p.pair as usize,
            ];
            // SAFETY: `p.fits(out)`: group `g` reads the four bytes at each tap's offsets
            // plus `4g` in `x` and `w` (inside: `x_end`/`w_end` bound every tap's load and
            // the slices hold `4 · (groups − 1)` more), four bias words (or `ZERO`, step
            // 0), the pairs of channels `4g..4g + 4` (inside `pairs`), and writes
            // `out[4g..4g + 4]` (inside `out`). It reads and writes `table`, and uses eight
            // bytes of stack below `sp` that it gives back (`sp` stays 8-byte aligned).
            // Every register it changes is declared.
            unsafe {
                asm!(
                        "sub sp, sp, #8",
                        "str {tp}, [sp]",
                        "1:",
                        "ldr {tp}, [sp]",
                        "ldr {w}, [{tp}, #16]",
                        "ldm {w}, {{r8, r9, r10, r11}}",
                        "ldr {x}, [{tp}, #20]",
                        "add {w}, {w}, {x}",
                        "str {w}, [{tp}, #16]",
                        "ldr {n}, [{tp}, #4]",
                        "ldr {xb}, [{tp}, #8]",
                        "ldr {wb}, [{tp}, #12]",
                        "ldr {pair}, [{tp}, #44]",
                        "ldr {tp}, [{tp}, #0]",
                        "2:",
                        "ldrd {xo}, {wo}, [{tp}], #8",
                        "ldr {x}, [{xb}, {xo}]",
                        "ldr {w}, [{wb}, {wo}]",
                        "sxtab16 {xo}, {pair}, {x}",
                        "sxtab16 {x}, {pair}, {x}, ror #8",
                        "sxtb16 {wo}, {w}",
                        "sxtb16 {w}, {w}, ror #8",
                        "smlabb r8, {wo}, {xo}, r8",
                        "smlatt r10, {wo}, {xo}, r10",
                        "smlabb r9, {w}, {x}, r9",
                        "smlatt r11, {w}, {x}, r11",
                        "subs {n}, {n}, #1",
                        "bne 2b",
                        "ldr {n}, [sp]",
                        "adds {xb}, {xb}, #4",
                        "str {xb}, [{n}, #8]",
                        "adds {wb}, {wb}, #4",
                        "str {wb}, [{n}, #12]",
                        "ldr {tp}, [{n}, #24]",
                        "ldr {pair}, [{n}, #32]",
                        "ldr {n}, [{n}, #28]",
                        "ldr {xb}, [{tp}]",
                        "ldr {wb}, [{tp}, #4]",
                        "add {tp}, {tp}, {n}",
                        "rsbs {wb}, {wb}, #0",
                        "subs {xo}, {wb}, #1",
                        "movs {wo}, #1",
                        "lsls {wo}, {wo}, {xo}",
                        "qadd {x}, r8, r8",
                        "smmulr {x}, {x}, {xb}",
                        "qadd r8, {x}, {wo}",
                        "add r8, r8, {x}, asr #31",
                        "asr r8, r8, {wb}",
                        "qadd r8, r8, {pair}",
                        "ssat r8, #8, r8",
                        "ldr {xb}, [{tp}]",
                        "ldr {wb}, [{tp}, #4]",
                        "add {tp}, {tp}, {n}",
                        "rsbs {wb}, {wb}, #0",
                        "subs {xo}, {wb}, #1",
                        "movs {wo}, #1",
                        "lsls {wo}, {wo}, {xo}",
                        "qadd {x}, r9, r9",
                        "smmulr {x}, {x}, {xb}",
                        "qadd r9, {x}, {wo}",
                        "add r9, r9, {x}, asr #31",
                        "asr r9, r9, {wb}",
                        "qadd r9, r9, {pair}",
                        "ssat r9, #8, r9",
                        "ldr {xb}, [{tp}]",
                        "ldr {wb}, [{tp}, #4]",
                        "add {tp}, {tp}, {n}",
                        "rsbs {wb}, {wb}, #0",
                        "subs {xo}, {wb}, #1",
                        "movs {wo}, #1",
                        "lsls {wo}, {wo}, {xo}",
                        "qadd {x}, r10, r10",
                        "smmulr {x}, {x}, {xb}",
                        "qadd r10, {x}, {wo}",
                        "add r10, r10, {x}, asr #31",
                        "asr r10, r10, {wb}",
                        "qadd r10, r10, {pair}",
                        "ssat r10, #8, r10",
                        "ldr {xb}, [{tp}]",
                        "ldr {wb}, [{tp}, #4]",
                        "add {tp}, {tp}, {n}",
                        "rsbs {wb}, {wb}, #0",
                        "subs {xo}, {wb}, #1",
                        "movs {wo}, #1",
                        "lsls {wo}, {wo}, {xo}",
                        "qadd {x}, r11, r11",
                        "smmulr {x}, {x}, {xb}",
                        "qadd r11, {x}, {wo}",
                        "add r11, r11, {x}, asr #31",
                        "asr r11, r11, {wb}",
                        "qadd r11, r11, {pair}",
                        "ssat r11, #8, r11",
                        "ldr {w}, [sp]",
                        "str {tp}, [{w}, #24]",
                        "ldr {x}, [{w}, #36]",
                        "strb r8, [{x}], #1",
                        "strb r9, [{x}], #1",
                        "strb r10, [{x}], #1",
                        "strb r11, [{x}], #1",
                        "str {x}, [{w}, #36]",
                        "ldr {n}, [{w}, #40]",
                        "subs {n}, {n}, #1",
                        "str {n}, [{w}, #40]",
                        "bne 1b",
                        "add sp, sp, #8",
                    tp = inout(reg) table.as_mut_ptr() => _,
                    n = out(reg) _,
                    xb = out(reg) _,
                    wb = out(reg) _,
                    pair = out(reg) _,
                    xo = out(reg) _,
                    wo = out(reg) _,
                    x = out(reg) _,
                    w = out(reg) _,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                );
            }
            true
        }

        /// [`Isa::dw_taps`]: 13 instructions per tap for four products.
        #[inline(always)]
        fn dw_taps(t: &super::Taps, x: &[u8], w: &[u8], pair: u32, acc: &mut [i32; 4]) {
            if x.len() < t.x_end || w.len() < t.w_end || t.count == 0 {
                return;
            }
            let [mut a0, mut a1, mut a2, mut a3] = *acc;
            // SAFETY: every tap's offsets plus 4 are at most `x_end` and `w_end` (kept by
            // `Taps::push`), which `x` and `w` hold (checked above): each unaligned `ldr`
            // is inside its slice; `t.at` is read `count` entries long. Only declared
            // registers change.
            unsafe {
                asm!(
                    "1:",
                    "ldrd {xo}, {wo}, [{tp}], #8",
                    "ldr {x}, [{xb}, {xo}]",
                    "ldr {w}, [{wb}, {wo}]",
                    "sxtab16 {xo}, {pair}, {x}",
                    "sxtab16 {x}, {pair}, {x}, ror #8",
                    "sxtb16 {wo}, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlabb {a0}, {wo}, {xo}, {a0}",
                    "smlatt {a2}, {wo}, {xo}, {a2}",
                    "smlabb {a1}, {w}, {x}, {a1}",
                    "smlatt {a3}, {w}, {x}, {a3}",
                    "subs {n}, {n}, #1",
                    "bne 1b",
                    tp = inout(reg) t.at.as_ptr() => _,
                    n = inout(reg) t.count => _,
                    xb = in(reg) x.as_ptr(),
                    wb = in(reg) w.as_ptr(),
                    pair = in(reg) pair,
                    a0 = inout(reg) a0,
                    a1 = inout(reg) a1,
                    a2 = inout(reg) a2,
                    a3 = inout(reg) a3,
                    xo = out(reg) _,
                    wo = out(reg) _,
                    x = out(reg) _,
                    w = out(reg) _,
                    options(nostack),
                );
            }
            *acc = [a0, a1, a2, a3];
        }

        /// [`Isa::gather`]: 14 instructions per word, two unaligned loads merged under the
        /// mask, both pairs widened and stored; then the padded last word.
        #[inline(always)]
        fn gather(g: &super::Gather, src: &[u8], pair: u32, pad: u32, dst: &mut [u32]) -> bool {
            let words = g.count + usize::from(g.last);
            if src.len() < g.span || (words > 0 && dst.len() < 8 * (words - 1) + 5) {
                return false;
            }
            // SAFETY: `Gather::new` proved every offset `a`, `b` (and the last word's
            // `a`) plus 4 is at most `span`, and `src` holds `span` bytes: each unaligned
            // `ldr` is inside `src`. The stores go to `dst[8j]` and `dst[8j + 4]` for
            // `j < words`, inside `dst` (checked above). `g.words` is read `words`
            // entries long. Only declared registers change.
            unsafe {
                asm!(
                    "cmp {n}, #0",
                    "beq 2f",
                    "1:",
                    "ldrd {e}, {m}, [{tp}], #8",
                    "uxth {t}, {e}",
                    "ldr {lo}, [{src}, {t}]",
                    "lsrs {t}, {e}, #16",
                    "ldr {hi}, [{src}, {t}]",
                    "ands {lo}, {lo}, {m}",
                    "bics {hi}, {hi}, {m}",
                    "orrs {lo}, {lo}, {hi}",
                    "sxtab16 {hi}, {pair}, {lo}",
                    "sxtab16 {lo}, {pair}, {lo}, ror #8",
                    "str {lo}, [{d}, #16]",
                    "str {hi}, [{d}], #32",
                    "subs {n}, {n}, #1",
                    "bne 1b",
                    "2:",
                    "cmp {last}, #0",
                    "beq 3f",
                    "ldrd {e}, {m}, [{tp}]",
                    "ldr {lo}, [{src}, {e}]",
                    "ands {lo}, {lo}, {m}",
                    "bics {hi}, {pad}, {m}",
                    "orrs {lo}, {lo}, {hi}",
                    "sxtab16 {hi}, {pair}, {lo}",
                    "sxtab16 {lo}, {pair}, {lo}, ror #8",
                    "str {lo}, [{d}, #16]",
                    "str {hi}, [{d}]",
                    "3:",
                    tp = inout(reg) g.words.as_ptr() => _,
                    n = inout(reg) g.count => _,
                    last = in(reg) usize::from(g.last),
                    src = in(reg) src.as_ptr(),
                    d = inout(reg) dst.as_mut_ptr() => _,
                    pair = in(reg) pair,
                    pad = in(reg) pad,
                    e = out(reg) _,
                    m = out(reg) _,
                    lo = out(reg) _,
                    hi = out(reg) _,
                    t = out(reg) _,
                    options(nostack),
                );
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_by_hand() {
        type E = Emulated;
        // bytes (little-endian) 0x80 = −128, 0x7f = 127, 0xff = −1, 0x01 = 1
        let x = 0x01ff_7f80u32;
        assert_eq!(E::sxtb16(x), 0xffff_ff80); // lanes (−128, −1)
        assert_eq!(E::sxtb16_ror8(x), 0x0001_007f); // lanes (127, 1)
        assert_eq!(E::sxtab16(offset_pair(128), x), 0x007f_0000); // (0, 127)
        assert_eq!(E::sxtab16_ror8(offset_pair(-1), x), 0x0000_007e); // (126, 0)
                                                                      // lanes wrap modulo 2^16
        assert_eq!(E::sxtab16(0x7fff_7fff, 0x0001_0001), 0x8000_8000);
        let (a, b) = (lanes(-3, 7), lanes(5, -2));
        assert_eq!(E::smlad(a, b, 100), 100 - 15 - 14);
        assert_eq!(E::smlabb(a, b, 1), 1 - 15);
        assert_eq!(E::smlatt(a, b, 1), 1 - 14);
        // the accumulation wraps
        assert_eq!(
            E::smlad(lanes(-32768, -32768), lanes(-32768, -32768), i32::MAX),
            i32::MAX.wrapping_add(i32::MIN)
        );
        assert!(offset_fits_lanes(32640) && !offset_fits_lanes(32641) && offset_fits_lanes(-32640));
    }

    #[test]
    fn packed_pairs_add_the_four_products() {
        type E = Emulated;
        let xs = [3i8, -4, 5, -128];
        let ws = [-7i8, 127, -128, 2];
        let off = 9;
        let xw = word(&xs.map(|v| v as u8));
        let o = offset_pair(off);
        let packed = [E::sxtab16(o, xw), E::sxtab16_ror8(o, xw)];
        let mut acc = [1, 2];
        let wb = ws.map(|v| v as u8);
        E::dot_rows2(&packed, &wb, &wb, &mut acc);
        let want: i32 = xs
            .iter()
            .zip(&ws)
            .map(|(&x, &w)| w as i32 * (x as i32 + off))
            .sum();
        assert_eq!(acc, [1 + want, 2 + want]);
        let mut four = [0u32; 8];
        for q in 0..4 {
            four[q] = packed[0];
            four[4 + q] = packed[1];
        }
        let mut acc = [0, 1, 2, 3];
        E::dot_pixels4(&four, &wb, &mut acc);
        assert_eq!(acc, [want, 1 + want, 2 + want, 3 + want]);
        // a row shorter than the input adds nothing
        E::dot_pixels4(&four, &wb[..3], &mut acc);
        assert_eq!(acc, [want, 1 + want, 2 + want, 3 + want]);
    }
}
