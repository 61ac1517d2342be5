//! Int8 reference kernels: TensorFlow Lite's quantized arithmetic, bit for bit.
//!
//! The specification is LiteRT 2.3's `BUILTIN_REF` kernels (the `kReference` kernel
//! type of the `ai-edge-litert` pip wheel, built without `TFLITE_SINGLE_ROUNDING`);
//! the [`Flavor`] / [`Requant`] / [`Rounding`] options reproduce TensorFlow Lite Micro's
//! default build (and its `TFLITE_SINGLE_ROUNDING=1` build) instead where they differ.
//! The tests check every kernel against vectors produced by LiteRT itself
//! (tests/fixtures/generate_int8_ops.py).
//!
//! # Conventions
//!
//! * TFLite quantization: `real = scale · (q − zero_point)`. Activations are int8,
//!   asymmetric, per tensor. Weights are int8 symmetric (zero point 0), per output
//!   channel or per tensor. Biases are int32 at scale `s_in · s_w[c]`, zero point 0.
//! * Offsets follow TFLite's `params`: `input_offset = −input_zero_point`,
//!   `output_offset = +output_zero_point`.
//! * Layouts are TFLite's (not Keras's): FULLY_CONNECTED filter `(out, in)` row-major;
//!   CONV_2D filter OHWI `(out_c, kh, kw, in_c)`; DEPTHWISE_CONV_2D filter
//!   `(1, kh, kw, in_c·m)` with output channel `oc = ic·m + k`. Activations are one
//!   sample, channels-last `(H, W, C)`, as in the float kernels.
//! * As in the float kernels: no allocation, no `unsafe` (but for the DSP and Thumb-2
//!   assembly in `kernels/int8/fast/dsp.rs`), no panics. Each kernel documents its
//!   slice-length contract, checks it with `debug_assert!`, and in release builds
//!   returns without writing if it is broken. Int32 accumulation wraps (C's
//!   signed overflow, undefined there, cannot happen for valid models).
//! * Run-time arithmetic is integer only (quantize/dequantize excepted). The `::new` /
//!   `from_real` / `words` constructors run on the host at export: they take the float
//!   scales and reproduce TFLite's `Prepare` (f32 where it uses float, f64 where it uses
//!   double). Every params struct encodes to a fixed `[i32; N]` (`to_words` /
//!   `from_words`) for the model blob.
//!
//! # Op by op
//!
//! Sources: the LiteRT tree (google-ai-edge/LiteRT, `tflite/kernels/…`) and TFLM's
//! copy (tensorflow/tflite-micro, `tensorflow/lite/kernels/…`, `…/micro/kernels/…`).
//! The pip wheel is built without `TFLITE_SINGLE_ROUNDING` (it is only set by a few
//! `*_single_rounding` test targets), so `MultiplyByQuantizedMultiplier` rounds twice.
//!
//! | op | spec (kernels/…) | BUILTIN_REF (`kReference`) | TFLM's default build |
//! |---|---|---|---|
//! | FULLY_CONNECTED | internal/reference/integer_ops/fully_connected.h `FullyConnected` / `FullyConnectedPerChannel`, the overloads taking float scales; fully_connected.cc `FullyConnectedInt8`, `FullyConnectedPerChannelInt8` | f64 requant, per tensor and per channel: `std::round((double)acc · ((double)s_in·(double)s_w / (double)s_out))`, ties away from zero ([`Requant::Float64`]) | the integer overloads: `MultiplyByQuantizedMultiplier`, double rounding; the per-tensor multiplier from the f32 product `s_in·s_w` |
//! | CONV_2D | reference/integer_ops/conv.h `ConvPerChannel`; kernel_util.cc `PopulateConvolutionQuantizationParams` | `MultiplyByQuantizedMultiplier`, double rounding (per-tensor weights broadcast) | same |
//! | DEPTHWISE_CONV_2D | reference/integer_ops/depthwise_conv.h `DepthwiseConvPerChannel` | double rounding | same |
//! | MAX_POOL_2D | reference/integer_ops/pooling.h `MaxPool` | no rescaling; clamp | same |
//! | AVERAGE_POOL_2D | reference/integer_ops/pooling.h `AveragePool` | `(sum ± n/2) / n` (C division), in-bounds cells only | same |
//! | MEAN (axes 1, 2) | reference/reduce.h `QuantizedMeanOrSum`; reduce.cc `PrepareMeanOrSum`, `EvalQuantizedMean` (whether or not the scales match) | `QuantizeMultiplier(s_in/s_out)` with `1/n` folded in by integer division, double rounding | same function (micro/kernels/reduce_common.cc) |
//! | ADD | reference/integer_ops/add.h `AddFunc`; add.cc `Prepare` (left_shift 20) | three `MultiplyByQuantizedMultiplierSmallerThanOneExp`, double rounding | same |
//! | SOFTMAX | reference/softmax.h `Softmax` (gemmlowp exp on Q5.26, Q12.19 sum, `GetReciprocal`); activations.cc `SoftmaxPrepare`, quantization_util.cc `PreprocessSoftmaxScaling` | double rounding; multiplier capped at 2^31 − 1 | same function (a single-rounding build caps at 2^30 − 1) |
//! | LOGISTIC | activations.cc `SigmoidPrepare`/`SigmoidEval`: common.h `LUTPopulate` of f32 `1/(1+expf(−x))`, a 256-entry table | table lookup | reference/integer_ops/logistic.h, fixed point (not implemented here) |
//! | TANH | activations.cc `TanhPrepare`/`TanhEval`: `LUTPopulate` of f32 `tanhf` | table lookup | reference/integer_ops/tanh.h, fixed point (not implemented here) |
//! | QUANTIZE | reference/quantize.h `AffineQuantize` | f32 `roundf(x / s) + zp`, clamped (x86-64 cast for NaN / out of range) | same |
//! | DEQUANTIZE | reference/integer_ops/dequantize.h `Dequantize` | `(float)((double)s · (q − zp))` | same |
//!
//! The LOGISTIC/TANH tables are computed on the host with `libm`'s `expf`/`tanhf`
//! where LiteRT uses glibc's; they agree on every vector tested (16 tables × 256
//! entries), but a last-ulp difference at a rounding boundary would change one entry.

pub mod add;
pub mod conv2d;
pub mod depthwise_conv2d;
pub mod fast;
mod fixedpoint;
pub mod fully_connected;
pub mod logistic;
pub mod lut;
pub mod mean;
pub mod pool2d;
pub mod quant;
pub mod quantize;
pub mod relu;
pub mod softmax;
pub mod tanh;
#[cfg(test)]
mod vectors;

pub use add::{add, AddParams};
pub use conv2d::conv2d;
pub use depthwise_conv2d::depthwise_conv2d;
pub use fully_connected::fully_connected;
pub use logistic::{logistic, LogisticParams};
pub use lut::Lut;
pub use mean::{mean, MeanParams};
pub use pool2d::{average_pool2d, max_pool2d};
pub use quant::{
    activation_range, multiply_by_quantized_multiplier, Flavor, FusedActivation, Multiplier,
    OutputStage, Requant, Rounding,
};
pub use quantize::{dequantize, quantize};
pub use softmax::{softmax, SoftmaxParams};
pub use tanh::{tanh, TanhParams};

#[cfg(test)]
mod robustness_tests {
    use super::*;
    use crate::kernels::{Conv2dGeometry, Padding, Pool2dGeometry};

    /// Parameters read from a corrupt blob: wrong, but never a panic (these run with
    /// overflow checks on in debug builds).
    #[test]
    fn garbage_parameters_never_panic() {
        let extremes = [i32::MIN, -65, -32, -31, -1, 0, 1, 30, 31, 32, 64, i32::MAX];
        let input = [i8::MIN, -1, 0, 1, i8::MAX, 7, -7, 100, -100];
        let g = Conv2dGeometry::new((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Same).unwrap();
        let mut out = [0i8; 9];
        for &a in &extremes {
            for &b in &extremes {
                let words = [a, b];
                for requant in [
                    Requant::Multiplier(Rounding::Double),
                    Requant::Multiplier(Rounding::Single),
                    Requant::Float64,
                ] {
                    let stage = OutputStage {
                        multipliers: &words,
                        output_offset: a,
                        act_min: b,
                        act_max: a,
                        requant,
                    };
                    fully_connected(&input, a, &input, Some(&[b]), 9, &stage, &mut out[..1]);
                    conv2d(
                        &g,
                        &input,
                        b,
                        &[127, -128, 1, -1],
                        Some(&[a]),
                        &stage,
                        &mut out,
                    );
                    depthwise_conv2d(
                        &g,
                        1,
                        &input,
                        a,
                        &[127, -128, 1, -1],
                        None,
                        &stage,
                        &mut out,
                    );
                }
                let mut w = [a; AddParams::WORDS];
                w[9] = b;
                w[12] = 0;
                let p = AddParams::from_words(w).unwrap();
                add(&input, &input, &p, &mut out);
                let mut w = [a; MeanParams::WORDS];
                w[1] = b;
                w[4] = 3;
                w[5] = 1;
                let p = MeanParams::from_words(w).unwrap();
                mean(&p, &input, &mut out[..3]);
                let p = SoftmaxParams::from_words([a, b, a, 0]).unwrap();
                softmax(&p, &input, 3, &mut out);
                let p = SoftmaxParams::from_words([b, a, b, 1]).unwrap();
                softmax(&p, &input, 9, &mut out);
                let p = Pool2dGeometry::new((3, 3, 1), (2, 2), (1, 1), Padding::Same).unwrap();
                average_pool2d(&p, &input, a, b, &mut out);
                max_pool2d(&p, &input, a, b, &mut out);
            }
        }
        let mut x = [0f32; 9];
        dequantize(&input, 1e30, i32::MIN, &mut x);
        quantize(&x, 1e-30, i32::MAX, &mut out);
        let _ = MeanParams::new(1e30, 0, 1e-30, 0, usize::MAX);
        let _ = AddParams::new(
            f32::MAX,
            i32::MIN,
            f32::MIN_POSITIVE,
            i32::MAX,
            0.0,
            0,
            0,
            0,
        );
        let _ = SoftmaxParams::new(f32::MAX, f32::MAX);
        let _ = LogisticParams::new(f32::MAX, i32::MIN);
        let _ = TanhParams::new(f32::NAN, i32::MAX);
    }

    #[test]
    fn flavors() {
        assert_eq!(Flavor::LiteRtReference.fully_connected(), Requant::Float64);
        assert_eq!(
            Flavor::LiteRtReference.conv(),
            Requant::Multiplier(Rounding::Double)
        );
        assert_eq!(
            Flavor::Tflm.fully_connected(),
            Requant::Multiplier(Rounding::Double)
        );
        assert_eq!(
            Flavor::TflmSingleRounding.conv(),
            Requant::Multiplier(Rounding::Single)
        );
        assert_eq!(Flavor::TflmSingleRounding.rounding(), Rounding::Single);
    }
}

/// Release builds: a broken slice-length contract must not panic; the kernel returns
/// without touching `output`.
#[cfg(all(test, not(debug_assertions)))]
mod release_contract_tests {
    use super::*;
    use crate::kernels::{Conv2dGeometry, Padding, Pool2dGeometry};

    #[test]
    fn broken_contracts_do_not_write() {
        let words = Requant::Float64.words(1.0);
        let stage = OutputStage {
            multipliers: &words,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
            requant: Requant::Float64,
        };
        let three = [0i32; 6];
        let stage3 = OutputStage {
            multipliers: &three,
            ..stage
        };
        let mut out = [7i8; 4];
        fully_connected(&[1, 2, 3], 0, &[1; 4], None, 2, &stage, &mut out);
        fully_connected(&[1, 2], 0, &[1; 4], None, 0, &stage, &mut out);
        fully_connected(&[1, 2], 0, &[1; 4], Some(&[1]), 2, &stage, &mut out[..2]);
        fully_connected(&[1, 2], 0, &[1; 4], None, 2, &stage3, &mut out[..2]);
        let g = Conv2dGeometry::new((3, 3, 1), 1, (2, 2), (1, 1), (1, 1), Padding::Valid).unwrap();
        conv2d(&g, &[1; 8], 0, &[1; 4], None, &stage, &mut out);
        conv2d(&g, &[1; 9], 0, &[1; 4], Some(&[1, 2]), &stage, &mut out);
        conv2d(&g, &[1; 9], 0, &[1; 4], None, &stage, &mut out[..3]);
        let huge = Conv2dGeometry {
            stride_h: usize::MAX,
            ..g
        };
        conv2d(&huge, &[1; 9], 0, &[1; 4], None, &stage, &mut out);
        depthwise_conv2d(&g, 2, &[1; 9], 0, &[1; 4], None, &stage, &mut out);
        depthwise_conv2d(&g, 0, &[1; 9], 0, &[1; 4], None, &stage, &mut out);
        let p = Pool2dGeometry::new((3, 3, 1), (2, 2), (1, 1), Padding::Valid).unwrap();
        max_pool2d(&p, &[1; 8], -128, 127, &mut out);
        average_pool2d(&p, &[1; 9], -128, 127, &mut out[..3]);
        let mp = MeanParams::new(1.0, 0, 1.0, 0, 4).unwrap();
        mean(&mp, &[1; 7], &mut out[..2]);
        let ap = AddParams::new(1.0, 0, 1.0, 0, 1.0, 0, -128, 127).unwrap();
        add(&[1; 4], &[1; 3], &ap, &mut out);
        let sp = SoftmaxParams::new(0.1, 1.0).unwrap();
        softmax(&sp, &[1; 4], 3, &mut out);
        softmax(&sp, &[1; 4], 0, &mut out);
        logistic(&LogisticParams::new(0.1, 0), &[1; 3], &mut out);
        tanh(&TanhParams::new(0.1, 0), &[1; 5], &mut out);
        quantize(&[1.0; 3], 1.0, 0, &mut out);
        assert_eq!(out, [7; 4]);
        let mut x = [7.0f32; 2];
        dequantize(&[1; 3], 1.0, 0, &mut x);
        assert_eq!(x, [7.0; 2]);
    }
}
