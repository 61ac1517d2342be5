//! Int8 kernels written for speed, with the reference kernels' signatures, contracts and
//! bits: FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, MEAN and ADD.
//!
//! Each output is the same wrapping int32 sum as in the reference kernel (only the order of
//! the additions changes, which wrapping addition does not notice), then the same
//! requantization, worked out with fewer instructions (`Requantizer`). Every kernel is
//! tested against its reference kernel for identical bytes on random shapes, strides,
//! padding, dilations, offsets and multipliers (both [`Requant`] kinds, per tensor and per
//! channel).
//!
//! # Which code runs where (chosen at build time)
//! * **Arm with the DSP extension** (`cfg(kiln_dsp)`: `thumbv7em-none-eabi` and
//!   `-eabihf`, Cortex-M4/M7; other Arm targets with `-C target-feature=+dsp`): the inputs
//!   are widened once into 16-bit lane pairs in a stack buffer (`sxtab16`, with the input
//!   offset added), the weights split word by word (`sxtb16`, `sxtb16 ror #8`) and two
//!   products taken per `smlad` (module `dsp`). FULLY_CONNECTED runs two output rows per pass
//!   over the packed input; CONV_2D packs four output pixels' windows and runs each
//!   filter over all four at once, so each weight word is loaded and split once per four
//!   pixels; DEPTHWISE_CONV_2D takes four channels per word (`smlabb`/`smlatt`);
//!   MAX_POOL_2D and MEAN four channels per word too (`ssub8` and `sel`; `sxtab16`).
//! * **Everywhere else** (Cortex-M3, Armv8-M Mainline without DSP such as
//!   `thumbv8m.main-none-eabi(hf)`, Cortex-M0, hosts): MAX_POOL_2D, MEAN and ADD run the
//!   reference kernels; FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D the plain kernels, four output
//!   rows/channels per pass so each input is loaded once for four products, inner loops
//!   over contiguous runs that LLVM vectorizes on hosts. On Thumb-2 cores
//!   (`cfg(kiln_thumb2)`: Cortex-M3 and later, not Armv8-M Baseline) their innermost loops
//!   are assembly (`dsp::dot_4x1`, `dsp::dot_2x2`, `dsp::dw_taps_plain`: `ldm`/`ldrd`,
//!   `ldrsb`, `mla`); elsewhere plain Rust.
//!
//! `kiln_dsp` and `kiln_thumb2` are set by the core's build script (`core/build.rs`),
//! since stable Rust sets no `target_feature` cfg for Arm. `kiln_dsp`: for a `thumbv7em`
//! target (every Armv7E-M core has the extension) unless `-C target-feature=-dsp`, for any
//! other Thumb target only with `-C target-feature=+dsp` (the extension is optional on
//! Armv8-M Mainline). `kiln_thumb2`: `thumbv7m`, `thumbv7em`, `thumbv8m.main` and
//! `thumbv8.1m.main`. The DSP kernels are also compiled on hosts in tests, on
//! `dsp::Emulated`, a portable definition of each instruction.
//!
//! # Stack
//! The DSP kernels keep their packed inputs in a stack buffer of [`PACK_WORDS`] words
//! (1,152 bytes) and, for FULLY_CONNECTED, the partial sums of up to [`GROUP`] rows (256
//! bytes); the convolution also keeps the four windows' bytes (576). A CONV_2D window
//! longer than [`WINDOW`] inputs, or inputs whose offset does not fit a 16-bit lane, take
//! the plain path instead.
//!
//! [`Requant`]: super::Requant

pub mod add;
pub mod conv2d;
pub mod depthwise_conv2d;
pub(crate) mod dsp;
pub mod fully_connected;
pub mod max_pool2d;
pub mod mean;

pub use add::add;
pub use conv2d::conv2d;
pub use depthwise_conv2d::depthwise_conv2d;
pub use fully_connected::fully_connected;
pub use max_pool2d::max_pool2d_cells;
pub use mean::mean;

use super::quant::{OutputStage, Requant, Rounding};

/// Words of the packed-input buffer: 144 weight words (576 inputs) for one input row,
/// or 36 words (a 144-input window, e.g. 3×3×16) for four.
pub const PACK_WORDS: usize = 288;

/// The longest CONV_2D window (`kernel_h · kernel_w · in_c`) the DSP path packs.
pub const WINDOW: usize = 4 * (PACK_WORDS / 8);

/// Words of FULLY_CONNECTED's packed-input buffer: 98 weight words (392 inputs) of one
/// input row per piece.
pub const FC_WORDS: usize = 196;

/// FULLY_CONNECTED rows whose partial sums are kept while the input goes past in pieces.
pub const GROUP: usize = 64;

/// One output channel's requantization, decoded from the [`OutputStage`] once per
/// channel (per block of outputs) instead of once per output.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Channel {
    /// `MultiplyByQuantizedMultiplier`, double rounding, for what real layers have: a
    /// normalized multiplier `m ≥ 2^30`, a right shift `1 ≤ e ≤ 19` (so no left shift)
    /// and an output offset in `−256..=256`. gemmlowp's high mul `(x · m + 2^30) >> 31`
    /// (its nudged, truncating division is this floor), then the divide by `2^e`, half
    /// away from zero, as `(high + 2^(e−1) − (high < 0)) >> e` with a saturating add: where
    /// it saturates (`high > 2^31 − 1 − 2^(e−1)`) the quotient is one short of
    /// `2^(31−e) ≥ 4096`, an output that saturates the int8 range either way. On the
    /// Cortex-M4 the high mul is `smmulr(qadd(x, x), m)`, exact for `|x| < 2^30`; beyond,
    /// both are past `±2^29`, so `≥ 1024` after the shift: saturated again.
    Round { m: i32, e: u32, bias: i32 },
    /// Double rounding in general: gemmlowp's `RoundingDivideByPOT` as written.
    Double {
        m: i32,
        left: u32,
        e: u32,
        mask: i32,
        half: i32,
    },
    /// Single rounding: `(x · m + 2^(total − 1)) >> total`.
    Single { m: i32, total: u32 },
    /// LiteRT's f64 FULLY_CONNECTED requantization `round(acc · scale)` estimated from
    /// `|acc| · m32`, where `m32` is the top 32 of the 53 significant bits of `scale`, and
    /// `2^s2` is the weight of one unit of the result in that product: the product is
    /// short of `|acc| · scale` by less than `|acc|` units and the f64 rounding of the
    /// reference moves it by at most `2^9` units, so unless the product falls within that
    /// of a half-integer the rounded result is the reference's. Near one the stage's own
    /// integer emulation decides.
    Float { m32: u32, s2: u32, negative: bool },
    /// Anything else (a multiplier of `i32::MIN`, an unusual f64 scale, a large output
    /// offset): the stage's own [`OutputStage::requantize`].
    Stage,
}

/// How a stage's channels are requantized (worked out once per call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Double,
    Single,
    Float,
    Stage,
}

/// [`OutputStage::requantize`], the same bits in fewer instructions for the common cases.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Requantizer<'s, 'a> {
    stage: &'s OutputStage<'a>,
    kind: Kind,
    per_tensor: bool,
    /// `output_offset`; `act_min`, `act_max` clamped to the int8 range.
    offset: i32,
    lo: i32,
    hi: i32,
    /// The clamp is the int8 range: `ssat`.
    full: bool,
    /// `|offset| ≤ 256`: [`Channel::Round`] may be used.
    round: bool,
}

impl<'s, 'a> Requantizer<'s, 'a> {
    pub(crate) fn new(stage: &'s OutputStage<'a>) -> Self {
        let offset = stage.output_offset;
        // `|offset| ≤ 2^15`: results beyond ±2^16 may be clamped there first.
        let kind = match stage.requant {
            _ if !(-32768..=32768).contains(&offset) => Kind::Stage,
            Requant::Multiplier(Rounding::Double) => Kind::Double,
            Requant::Multiplier(Rounding::Single) => Kind::Single,
            Requant::Float64 => Kind::Float,
        };
        let (lo, hi) = (
            stage.act_min.clamp(-128, 127),
            stage.act_max.clamp(-128, 127),
        );
        Requantizer {
            stage,
            kind,
            per_tensor: stage.multipliers.len() == 2,
            offset,
            lo,
            hi,
            full: lo == -128 && hi == 127,
            round: (-256..=256).contains(&offset),
        }
    }

    /// Channel `c`'s parameters (the stage's one pair if it is per tensor).
    #[inline]
    pub(crate) fn channel(&self, c: usize) -> Channel {
        let i = if self.per_tensor {
            0
        } else {
            c.wrapping_mul(2)
        };
        let words = self.stage.multipliers;
        let (Some(&w0), Some(&w1)) = (words.get(i), words.get(i.wrapping_add(1))) else {
            return Channel::Stage;
        };
        match self.kind {
            Kind::Double => {
                let (m, shift) = (w0, w1);
                if self.round && m >= 1 << 30 && (-19..=-1).contains(&shift) {
                    let e = shift.unsigned_abs();
                    return Channel::Round {
                        m,
                        e,
                        bias: 1 << (e - 1),
                    };
                }
                if m == i32::MIN {
                    return Channel::Stage;
                }
                let e = shift.saturating_neg().clamp(0, 31) as u32;
                let mask = ((1i64 << e) - 1) as i32;
                Channel::Double {
                    m,
                    left: shift.clamp(0, 31) as u32,
                    e,
                    mask,
                    half: mask >> 1,
                }
            }
            Kind::Single => Channel::Single {
                m: w0,
                total: (31 - w1.clamp(-31, 30)) as u32,
            },
            Kind::Float => {
                let bits = (w0 as u32 as u64) << 32 | w1 as u32 as u64;
                let exp = (bits >> 52 & 0x7ff) as u32;
                if !(1054 - 63..=1054 - 11).contains(&exp) {
                    return Channel::Stage;
                }
                let mantissa = bits & ((1 << 52) - 1) | 1 << 52;
                Channel::Float {
                    m32: (mantissa >> 21) as u32,
                    s2: 1054 - exp,
                    negative: bits >> 63 != 0,
                }
            }
            Kind::Stage => Channel::Stage,
        }
    }

    /// The int8 output of accumulator `acc` (bias included) of channel `c`, whose
    /// parameters are `ch` (from [`Self::channel`]): [`Channel::Round`] inline, the
    /// other kinds out of line (they are rarer, and each inlined copy costs flash).
    #[inline(always)]
    pub(crate) fn apply(&self, ch: Channel, c: usize, acc: i32) -> i8 {
        match ch {
            Channel::Round { m, e, bias } => self.finish(round(high_mul(acc, m), e, bias)),
            _ => self.apply_other(ch, c, acc),
        }
    }

    /// [`Self::apply`] for every kind.
    #[inline(never)]
    fn apply_other(&self, ch: Channel, c: usize, acc: i32) -> i8 {
        match ch {
            Channel::Round { m, e, bias } => self.finish(round(high_mul(acc, m), e, bias)),
            Channel::Double {
                m,
                left,
                e,
                mask,
                half,
            } => self.finish(double(acc, m, left, e, mask, half)),
            Channel::Single { m, total } => self.finish(single(acc, m, total)),
            Channel::Float { m32, s2, negative } => match float(acc, m32, s2, negative) {
                Some(v) => self.finish(v),
                None => self.stage.requantize(acc, c),
            },
            Channel::Stage => self.stage.requantize(acc, c),
        }
    }

    /// [`Self::apply`] to each of `acc` into `out`, the kind of requantization chosen once.
    #[inline(always)]
    pub(crate) fn apply_each<'o>(
        &self,
        ch: Channel,
        c: usize,
        acc: &[i32],
        out: impl Iterator<Item = &'o mut i8>,
    ) {
        match ch {
            Channel::Round { m, e, bias } if self.full => {
                for (y, &a) in out.zip(acc) {
                    *y = self.finish_full(round(high_mul(a, m), e, bias));
                }
            }
            Channel::Round { m, e, bias } => {
                for (y, &a) in out.zip(acc) {
                    *y = self.finish(round(high_mul(a, m), e, bias));
                }
            }
            _ => {
                for (y, &a) in out.zip(acc) {
                    *y = self.apply(ch, c, a);
                }
            }
        }
    }

    /// [`Channel::Round`] with the Cortex-M4's instructions: `qadd`, `smmulr`, `qadd`,
    /// `sub`, `asr`, `qadd`, then `ssat` (or the two clamps).
    #[inline(always)]
    pub(crate) fn round<I: dsp::Isa>(&self, m: i32, e: u32, bias: i32, acc: i32) -> i8 {
        let high = I::smmulr(I::qadd(acc, acc), m);
        let scaled = I::qadd(high, bias).wrapping_sub((high as u32 >> 31) as i32) >> e;
        let v = I::qadd(scaled, self.offset);
        if self.full {
            v.clamp(-128, 127) as i8
        } else {
            v.max(self.lo).min(self.hi) as i8
        }
    }

    /// [`Self::apply`] to four accumulators, out of line (the kinds besides
    /// [`Channel::Round`], kept out of the kernels' loops).
    #[inline(never)]
    pub(crate) fn apply4_cold(&self, ch: Channel, c: usize, acc: [i32; 4]) -> [i8; 4] {
        acc.map(|a| self.apply(ch, c, a))
    }

    /// [`Self::finish`] when the clamp is the int8 range: one `ssat`.
    #[inline(always)]
    fn finish_full(&self, scaled: i32) -> i8 {
        #[cfg(not(kiln_dsp))]
        let v = scaled.clamp(-65536, 65535) + self.offset;
        #[cfg(kiln_dsp)]
        let v = scaled.saturating_add(self.offset);
        v.clamp(-128, 127) as i8
    }

    /// `saturating_add(offset)`, `max(act_min)`, `min(act_max)`, int8 clamp, with the
    /// clamps already in the int8 range (clamping them first gives the same result for
    /// every input, even `act_min > act_max`). Without `qadd` (Cortex-M3) and with
    /// `|offset| ≤ 2^15` (every caller's), the saturating add is a clamp to ±2^16 and an
    /// add: a scaled value beyond lands on the same bound either way.
    #[inline(always)]
    fn finish(&self, scaled: i32) -> i8 {
        #[cfg(not(kiln_dsp))]
        let v = scaled.clamp(-65536, 65535) + self.offset;
        #[cfg(kiln_dsp)]
        let v = scaled.saturating_add(self.offset);
        v.max(self.lo).min(self.hi) as i8
    }
}

/// [`Channel::Round`]'s divide of the high mul `high`.
#[inline(always)]
fn round(high: i32, e: u32, bias: i32) -> i32 {
    high.saturating_add(bias)
        .wrapping_sub((high as u32 >> 31) as i32)
        >> e
}

/// [`Channel::Double`].
#[inline(always)]
fn double(acc: i32, m: i32, left: u32, e: u32, mask: i32, half: i32) -> i32 {
    let high = high_mul(acc.wrapping_shl(left), m);
    let threshold = half + (high as u32 >> 31) as i32;
    (high >> e) + i32::from((high & mask) > threshold)
}

/// [`Channel::Single`].
#[inline(always)]
fn single(acc: i32, m: i32, total: u32) -> i32 {
    ((acc as i64 * m as i64 + (1i64 << (total - 1))) >> total) as i32
}

/// [`Channel::Float`]: `None` near a half-integer.
#[inline(always)]
fn float(acc: i32, m32: u32, s2: u32, negative: bool) -> Option<i32> {
    let a = acc.unsigned_abs() as u64;
    let t = a * m32 as u64 + (1u64 << (s2 - 1));
    let unit = 1u64 << s2;
    let frac = t & (unit - 1);
    if frac < 1024 || frac + a + 1024 >= unit {
        return None;
    }
    let r = (t >> s2).min(65536) as i32;
    Some(if negative != (acc < 0) { -r } else { r })
}

/// The [`Channel::Round`] parameters of every channel (up to 64) of a stage whose every
/// channel has them and whose clamp is the int8 range.
pub(crate) struct RoundTable {
    m: [i32; 64],
    e: [u8; 64],
}

impl RoundTable {
    pub(crate) fn new(r: &Requantizer<'_, '_>, channels: usize) -> Option<RoundTable> {
        if !r.full || channels > 64 {
            return None;
        }
        let mut t = RoundTable {
            m: [0; 64],
            e: [1; 64],
        };
        for c in 0..channels {
            let Channel::Round { m, e, .. } = r.channel(c) else {
                return None;
            };
            (t.m[c], t.e[c]) = (m, e as u8);
        }
        Some(t)
    }

    /// Channel `c`'s multiplier and shift (`e ≥ 1`).
    #[inline(always)]
    pub(crate) fn get(&self, c: usize) -> (i32, u32) {
        let c = c & 63;
        (self.m[c], u32::from(self.e[c]).max(1))
    }
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul` for `m ≠ i32::MIN`:
/// `|x · m| ≤ 2^31 · (2^31 − 1)`, so the shifted sum fits in i32.
#[inline(always)]
fn high_mul(x: i32, m: i32) -> i32 {
    ((x as i64 * m as i64 + (1 << 30)) >> 31) as i32
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Random stages and data for the fast-vs-reference tests.
    extern crate std;
    use super::super::quant::{Multiplier, OutputStage, Requant, Rounding};
    use std::vec::Vec;

    /// A small deterministic generator (xorshift).
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        pub(crate) fn i8s(&mut self, n: usize) -> Vec<i8> {
            (0..n).map(|_| self.next() as i8).collect()
        }
        pub(crate) fn i32_in(&mut self, lo: i32, hi: i32) -> i32 {
            lo + self.below((hi as i64 - lo as i64 + 1) as u64) as i32
        }
    }

    /// The kinds of stage the tests draw from.
    pub(crate) const REQUANTS: [Requant; 3] = [
        Requant::Float64,
        Requant::Multiplier(Rounding::Double),
        Requant::Multiplier(Rounding::Single),
    ];

    /// Multiplier words for `channels` channels (2 words if `per_tensor`), of `requant`,
    /// for scales spread over what real layers have (and beyond: large ones, tiny ones).
    pub(crate) fn words(
        rng: &mut Rng,
        requant: Requant,
        channels: usize,
        per_tensor: bool,
    ) -> Vec<i32> {
        let n = if per_tensor { 1 } else { channels };
        let mut w = Vec::new();
        for _ in 0..n {
            let mantissa = 1.0 + rng.below(1 << 20) as f64 / (1u64 << 20) as f64;
            let exp = rng.i32_in(-40, 3);
            let scale = libm::ldexp(mantissa, exp);
            match rng.below(16) {
                // now and then a garbage pair, as a corrupt blob would give
                0 => w.extend([rng.next() as i32, rng.i32_in(-40, 40)]),
                1 => w.extend([i32::MIN, Multiplier::from_real(scale).shift]),
                _ => w.extend(requant.words(scale)),
            }
        }
        w
    }

    /// A stage over `words` with a random offset and clamp (sometimes absurd ones).
    pub(crate) fn stage<'a>(rng: &mut Rng, requant: Requant, words: &'a [i32]) -> OutputStage<'a> {
        let (offset, act_min, act_max) = match rng.below(8) {
            0 => (
                rng.next() as i32,
                rng.next() as i32 >> rng.below(32),
                rng.next() as i32,
            ),
            1 => (rng.i32_in(-40000, 40000), -128, 127),
            _ => {
                let zp = rng.i32_in(-128, 127);
                match rng.below(3) {
                    0 => (zp, -128, 127),
                    1 => (zp, zp, 127),
                    _ => (zp, zp, rng.i32_in(zp, 127)),
                }
            }
        };
        OutputStage {
            multipliers: words,
            output_offset: offset,
            act_min,
            act_max,
            requant,
        }
    }

    /// An input offset: usually minus a zero point, sometimes larger ones.
    pub(crate) fn input_offset(rng: &mut Rng) -> i32 {
        match rng.below(10) {
            0 => rng.next() as i32 >> rng.below(32),
            1 => rng.i32_in(-32641, 32641),
            _ => -rng.i32_in(-128, 127),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn requantizer_is_the_stage() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let accs = [
            0,
            1,
            -1,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1 << 30,
            -(1 << 30),
            65535,
            -65536,
        ];
        for round in 0..3000 {
            let requant = REQUANTS[round % 3];
            let words = words(&mut rng, requant, 3, round % 2 == 0);
            let stage = stage(&mut rng, requant, &words);
            let r = Requantizer::new(&stage);
            for c in 0..4 {
                let ch = r.channel(c);
                for k in 0..40 {
                    let acc = if k < accs.len() {
                        accs[k]
                    } else {
                        (rng.next() as i32) >> rng.below(32)
                    };
                    let want = stage.requantize(acc, c);
                    assert_eq!(
                        r.apply(ch, c, acc),
                        want,
                        "{stage:?} channel {c} acc {acc} {ch:?}"
                    );
                    assert_eq!(r.apply4_cold(ch, c, [acc; 4]), [want; 4]);
                    if let Channel::Round { m, e, bias } = ch {
                        assert_eq!(
                            r.round::<dsp::Emulated>(m, e, bias, acc),
                            want,
                            "{stage:?} channel {c} acc {acc} {ch:?}"
                        );
                    }
                }
            }
        }
    }
}
