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
//! * As in the float kernels: no allocation, no `unsafe`, no panics. Each kernel
//!   documents its slice-length contract, checks it with `debug_assert!`, and in release
//!   builds returns without writing if it is broken. Int32 accumulation wraps (C's
//!   signed overflow, undefined there, cannot happen for valid models).
//! * Run-time arithmetic is integer only (quantize/dequantize excepted). The `::new` /
//!   `from_real` / `words` constructors run on the host at export: they take the float
//!   scales and reproduce TFLite's `Prepare` (f32 where it uses float, f64 where it uses
//!   double). Every params struct encodes to a fixed `[i32; N]` (`to_words` /
//!   `from_words`) for the model blob.
//!
//! # Op by op
//!
//! | op | spec (tensorflow/lite/kernels/…) | BUILTIN_REF | TFLM default differs by |
//! |---|---|---|---|
//! | FULLY_CONNECTED | internal/reference/integer_ops/fully_connected.h `FullyConnected`, `FullyConnectedPerChannel` (float-scale overloads); fully_connected.cc | f64: `std::round((double)acc · (double)s_in·s_w/s_out)` ([`Requant::Float64`]), per tensor and per channel | integer overloads: `MultiplyByQuantizedMultiplier`, double rounding; per-tensor multiplier from the f32 product `s_in·s_w` |
//! | CONV_2D | reference/integer_ops/conv.h `ConvPerChannel`; conv.cc, kernel_util.cc `PopulateConvolutionQuantizationParams` | `MultiplyByQuantizedMultiplier`, double rounding | same |
//! | DEPTHWISE_CONV_2D | reference/integer_ops/depthwise_conv.h `DepthwiseConvPerChannel` | double rounding | same |
//! | MAX_POOL_2D | reference/integer_ops/pooling.h `MaxPool` | no rounding | same |
//! | AVERAGE_POOL_2D | reference/integer_ops/pooling.h `AveragePool` | `(sum ± n/2) / n`, C division, in-bounds cells only | same |
//! | MEAN (axes 1, 2) | reference/reduce.h `QuantizedMeanOrSum`; reduce.cc `PrepareMeanOrSum` | multiplier `s_in/s_out` folded with `1/n`, double rounding | same arithmetic (TFLM's reduce_common.cc calls the same function) |
//! | ADD | reference/integer_ops/add.h `AddFunc`; add.cc `Prepare` (left_shift 20) | three `…SmallerThanOneExp` multiplies, double rounding | same |
//! | SOFTMAX | reference/softmax.h `Softmax` (gemmlowp fixed-point exp, Q5.26 diffs); activations.cc `SoftmaxPrepare` | double rounding, multiplier capped at 2^31−1 | same function; a single-rounding build caps the multiplier at 2^30−1 |
//! | LOGISTIC | activations.cc `SigmoidPrepare`/`SigmoidEval`: a 256-entry LUT from `LUTPopulate` (f32 `1/(1+expf(−x))`) | LUT | TFLM uses reference/integer_ops/logistic.h (fixed-point, not a LUT) |
//! | TANH | activations.cc `TanhPrepare`/`TanhEval`: LUT from `LUTPopulate` (f32 `tanhf`) | LUT | TFLM uses reference/integer_ops/tanh.h (fixed-point) |
//! | QUANTIZE | reference/quantize.h `AffineQuantize` | f32 `roundf(x / scale) + zp`, clamped | same |
//! | DEQUANTIZE | reference/integer_ops/dequantize.h `Dequantize` | `(float)((double)scale · (q − zp))` | same |

pub mod add;
pub mod conv2d;
pub mod depthwise_conv2d;
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
