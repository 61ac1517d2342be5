//! What an int8 step is made of (TensorFlow Lite's quantization: `real = scale·(q − zero
//! point)`). An int8 tensor has one scale and zero point ([`Quant::PerTensor`] on its node);
//! a layer's int8 kernel is symmetric per output channel (or per tensor), its bias int32 at
//! scale `input scale × kernel scale`.
//!
//! Everything a kernel derives from those scales is worked out on the host when the model
//! is exported (TensorFlow Lite does it in double precision) and kept in the layer's int32
//! variable `requant`, so that a device does no float arithmetic, not even at prepare:
//!
//! | words | what |
//! |---|---|
//! | 0 | how accumulators are scaled: a [`Requant`] (which runtime's rounding is reproduced) |
//! | 1 | flags: [`PER_TENSOR`] |
//! | 2, 3 | the output's clamp `act_min`, `act_max` (the fused activation, quantized) |
//! | 4… | the op's own: a (multiplier, shift) pair per output channel for Dense and the convolutions ([`write_channel_requant`]); the words of the kernel's parameters for the others (`to_words` of [`crate::kernels::int8`]'s params) |

// (Each helper serves some of the op features; a build with a few of them uses a few.)
#![cfg_attr(not(feature = "all-ops"), allow(dead_code))]

use super::Mismatch;
use crate::graph::config::Activation;
use crate::graph::Quant;
use crate::kernels::int8::quant::{activation_range, FusedActivation, OutputStage};
pub use crate::kernels::int8::quant::{Flavor, Requant};

/// Words of `requant` before the op's own.
pub const HEADER_WORDS: usize = 4;

/// Flag: the kernel has one scale for all its output channels.
pub const PER_TENSOR: i32 = 1;

/// The first words of an int8 layer's `requant`.
///
/// ```
/// use kiln::ops::int8::{write_channel_requant, Flavor, Header, HEADER_WORDS};
/// use kiln::Activation;
/// // A convolution's output at scale 0.05, zero point -128, with a fused ReLU6.
/// let requant = Flavor::LiteRtReference.conv();
/// let header = Header::new(requant, 0, Activation::Relu6, 0.05, -128).unwrap();
/// assert_eq!((header.act_min, header.act_max), (-128, -8)); // 6.0 is -128 + 120
/// // Its `requant` variable for 2 output channels, one multiplier pair each.
/// let mut words = [0; HEADER_WORDS + 2 * 2];
/// let pairs: Vec<i32> = [0.004, 0.002].iter().flat_map(|&s| requant.words(s)).collect();
/// assert!(write_channel_requant(&mut words, header, 2, &pairs));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// How the kernel scales its accumulators (which runtime's rounding it reproduces).
    pub requant: Requant,
    /// Flags: [`PER_TENSOR`] or 0.
    pub flags: i32,
    /// The output's lower clamp on its int8 scale (the fused activation's floor).
    pub act_min: i32,
    /// The output's upper clamp on its int8 scale (the fused activation's ceiling).
    pub act_max: i32,
}

impl Header {
    /// The header of an output of `scale` and `zero_point` clamped by `activation`
    /// (`None`: the activation has no int8 form).
    pub fn new(
        requant: Requant,
        flags: i32,
        activation: Activation,
        scale: f32,
        zero_point: i32,
    ) -> Option<Self> {
        let fused = match activation {
            Activation::Linear => FusedActivation::None,
            Activation::Relu => FusedActivation::Relu,
            Activation::Relu6 => FusedActivation::Relu6,
            _ => return None,
        };
        let (act_min, act_max) = activation_range(fused, scale, zero_point)?;
        Some(Header {
            requant,
            flags,
            act_min,
            act_max,
        })
    }

    fn words(&self) -> [i32; HEADER_WORDS] {
        [
            self.requant.to_word(),
            self.flags,
            self.act_min,
            self.act_max,
        ]
    }
}

/// The zero point of an int8 tensor's quantization.
pub(crate) fn zero_point(quant: Quant) -> Option<i32> {
    match quant {
        Quant::PerTensor { zero_point, .. } => Some(zero_point),
        _ => None,
    }
}

/// The zero point of a step whose inputs and output are all quantized alike (an int8 pad,
/// concatenation, reshape or max pool: TensorFlow Lite's converter makes them so).
pub(crate) fn same_quantization(cx: &super::Cx<'_, '_>) -> Result<i32, Mismatch> {
    let output = cx.output_tensor().1;
    let alike = (0..cx.inputs.len()).all(|k| cx.input_tensor(k).1 == output);
    match zero_point(output) {
        Some(zero_point) if alike => Ok(zero_point),
        _ => Err(Mismatch::new(
            cx.input(),
            "int8 inputs quantized as the output is (one scale and zero point)",
        )),
    }
}

/// The header and the op's own words of `requant`, checked to hold `op_words` words.
pub(crate) fn split(words: &[i32], op_words: usize) -> Option<(Header, &[i32])> {
    match words {
        [requant, flags, act_min, act_max, rest @ ..] if rest.len() == op_words => {
            let act_min = (*act_min).clamp(-128, 127);
            Some((
                Header {
                    requant: Requant::from_word(*requant)?,
                    flags: *flags,
                    act_min,
                    act_max: (*act_max).clamp(act_min, 127),
                },
                rest,
            ))
        }
        _ => None,
    }
}

/// The header and the op's own `op_words` words of variable `requant_index`.
pub(crate) fn op_words<'w>(
    cx: &super::Cx<'_, 'w>,
    requant_index: usize,
    op_words: usize,
) -> Result<(Header, &'w [i32]), Mismatch> {
    let words = cx.typed_weight::<i32>(requant_index, "the int8 layer's requant words")?;
    split(words, op_words).ok_or(Mismatch::new(
        cx.input(),
        "requant words that hold the layer's int8 parameters",
    ))
}

/// The op words of `requant` as the fixed-size array a kernel's params decode from.
pub(crate) fn op_array<'w, const N: usize>(cx: &super::Cx<'_, 'w>) -> Result<[i32; N], Mismatch> {
    let words = op_words(cx, 0, N)?.1;
    <[i32; N]>::try_from(words).map_err(|_| Mismatch::new(cx.input(), "the int8 parameters"))
}

/// A lookup table of 256 int8 values kept in `requant`'s op words (LOGISTIC, TANH).
pub(crate) fn table<'w>(cx: &super::Cx<'_, 'w>) -> Result<&'w [i8; 256], Mismatch> {
    let words = op_words(cx, 0, 64)?.1;
    let bytes: &'w [i8] = bytemuck::cast_slice(words);
    bytes
        .try_into()
        .map_err(|_| Mismatch::new(cx.input(), "a 256-value int8 table"))
}

/// A prepared step of a layer with float32 and int8 kernels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Typed<F, I> {
    F32(F),
    I8(I),
}

/// What an int8 Dense or convolution computes with, besides its geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Kernel<'w> {
    pub kernel: &'w [i8],
    pub bias: Option<&'w [i32]>,
    /// Minus the input's zero point.
    pub input_offset: i32,
    pub stage: OutputStage<'w>,
}

/// The [`Kernel`] of an int8 layer whose variables are `kernel`, `bias` (if `use_bias`),
/// `requant`, with `channels` output channels.
pub(crate) fn kernel<'w>(
    cx: &super::Cx<'_, 'w>,
    use_bias: bool,
    channels: usize,
) -> Result<Kernel<'w>, Mismatch> {
    let bias = use_bias.then(|| cx.typed_weight(1, "an int32 bias"));
    let (input_offset, stage) = channel_stage(cx, 1 + usize::from(use_bias), channels)?;
    Ok(Kernel {
        kernel: cx.typed_weight(0, "an int8 kernel")?,
        bias: bias.transpose()?,
        input_offset,
        stage,
    })
}

/// What the prepare of an int8 layer with a kernel reads: the input's offset and the
/// output stage (per-channel multipliers, output zero point, clamp, rounding).
pub(crate) fn channel_stage<'w>(
    cx: &super::Cx<'_, 'w>,
    requant_index: usize,
    channels: usize,
) -> Result<(i32, OutputStage<'w>), Mismatch> {
    let bad = Mismatch::new(
        cx.input(),
        "int8 tensors with their quantization parameters",
    );
    let input_zero = zero_point(cx.input_tensor(0).1).ok_or(bad)?;
    let output_zero = zero_point(cx.output_tensor().1).ok_or(bad)?;
    let words = cx.typed_weight::<i32>(requant_index, "the int8 layer's requant words")?;
    let (header, pairs) = split(words, 2 * channels).ok_or(bad)?;
    Ok((
        -input_zero,
        OutputStage {
            multipliers: pairs,
            output_offset: output_zero,
            act_min: header.act_min,
            act_max: header.act_max,
            requant: header.requant,
        },
    ))
}

/// Writes the `requant` words of an int8 Dense or convolution with `channels` output
/// channels: `header`, then each channel's multiplier pair, from `pairs` (2 words per
/// channel, or 2 for all of them: a kernel quantized per tensor). Host side, at export.
/// Returns false when the lengths do not fit.
pub fn write_channel_requant(
    out: &mut [i32],
    header: Header,
    channels: usize,
    pairs: &[i32],
) -> bool {
    let fits = pairs.len() == 2 || pairs.len() == 2 * channels;
    if !fits || out.len() != HEADER_WORDS + 2 * channels {
        return false;
    }
    out[..HEADER_WORDS].copy_from_slice(&header.words());
    for (c, pair) in out[HEADER_WORDS..].chunks_exact_mut(2).enumerate() {
        let at = if pairs.len() == 2 { 0 } else { 2 * c };
        pair.copy_from_slice(&pairs[at..at + 2]);
    }
    true
}

/// Writes the `requant` words of an int8 layer without a kernel: `header`, then `words`.
pub fn write_op_requant(out: &mut [i32], header: Header, words: &[i32]) -> bool {
    if out.len() != HEADER_WORDS + words.len() {
        return false;
    }
    out[..HEADER_WORDS].copy_from_slice(&header.words());
    out[HEADER_WORDS..].copy_from_slice(words);
    true
}
