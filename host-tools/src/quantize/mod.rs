//! Post-training quantization: a float model and calibration data in, an int8 model out,
//! made the way TensorFlow Lite's converter makes one (`optimizations = [DEFAULT]`, a
//! representative dataset, `TFLITE_BUILTINS_INT8`, int8 inputs and outputs), with no
//! TensorFlow.
//!
//! The steps, each in its own file:
//!
//! 1. [`plan`]: the converter's graph rewrites on kiln's float graph. BatchNormalization
//!    folds into the Conv2D, DepthwiseConv2D or Dense before it ([`fold`]); a ReLU or
//!    ReLU6 (layer or `Activation`) fuses into the Conv2D, DepthwiseConv2D, Dense,
//!    pooling or Add before it (a relu after a relu goes); Dropout (and RandomCrop, at
//!    inference) disappears; a softmax, sigmoid or tanh activation of a Dense or
//!    convolution becomes a layer of its own; a linear layer's bias moves into the Dense
//!    after it. Each fold or fusion needs the tensor it changes to be read by that one
//!    layer only. A layer that kiln's int8 engine cannot run is an error naming it.
//! 2. [`calibrate`]: the rewritten model runs in float32 on every calibration sample and
//!    each tensor's minimum and maximum are recorded (and, by default, widened where
//!    TensorFlow Lite's calibrator widens them: [`Ranges`]).
//! 3. [`params`]: each tensor's scale and zero point, as TensorFlow Lite's quantizer
//!    computes them from the range (in f32, the range first extended to hold 0).
//!    Softmax and sigmoid outputs are fixed at scale 1/256, zero point −128, tanh at
//!    1/128, 0. A pad, reshape, flatten, max or average pool and a concatenation's inputs
//!    and output share one quantization, from the ranges the converter keeps for such a
//!    group (or the union of all its members').
//! 4. [`weights`]: kernels symmetric per output channel (or per tensor) in
//!    `[−127, 127]`, in TensorFlow Lite's layouts; biases int32 at `s_in · s_w[c]`.
//! 5. [`build`]: the int8 graph (int8 inputs and outputs) and its weight buffer, each
//!    layer's `requant` words from the core's own functions, so that they are what the
//!    runtime expects.
//! 6. [`report`]: the int8 model's dequantized outputs against the float model's, on
//!    the calibration set.
//!
//! On the converter's own fixture models (tests/tests/ptq.rs) and on held-out ones, the
//! int8 model made here has the converter's scales and zero points (within a few f32
//! ulps of calibration rounding), its kernels and biases, and so its int8 outputs.
//!
//! Not made as the converter makes it: a tensor read by two concatenations (the
//! converter requantizes it for one of them; kiln's engine has no requantize layer, so
//! both groups share one quantization), and a BatchNormalization that follows no linear
//! Conv2D, DepthwiseConv2D or Dense (the converter makes MUL and ADD of it, which kiln's
//! engine has no int8 kernel for: an error).

pub mod build;
pub mod calibrate;
pub mod fold;
pub mod params;
pub mod plan;
pub mod report;
pub mod weights;

use crate::formats::npy::NpyArray;
use crate::model::HostGraph;
use kiln::ops::int8::Flavor;

pub use params::{Rule, TensorQuant};
pub use plan::Rewrite;
pub use report::{ErrorReport, OutputError};

/// How weights are quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Granularity {
    /// One scale per output channel for every kernel (the converter's default).
    #[default]
    PerChannel,
    /// Dense kernels per tensor, convolutions per channel (the converter's
    /// `_experimental_disable_per_channel_quantization_for_dense_layers`).
    PerTensorDense,
    /// One scale per kernel (the converter's `_experimental_disable_per_channel`).
    PerTensor,
}

/// Which ranges the tensors' quantization comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ranges {
    /// The converter's: the ranges its calibrator records (a tensor that an ADD or
    /// SOFTMAX overwrites in place during the float run also takes in that op's output
    /// range: [`calibrate::as_converter_records`]), and in a group of tensors that share
    /// one quantization, the ranges its quantizer keeps ([`params::converter_sources`]).
    /// The model is then the converter's, scale for scale.
    #[default]
    LikeConverter,
    /// Each tensor's own range, and a group's union of all its members' ranges: never
    /// narrower than the calibration values (the converter's choice can clip a model
    /// input that feeds a pool and a concatenation), but a model that differs from the
    /// converter's, and not a better one in general: on 86 held-out models it was less
    /// accurate than the converter's about as often as more (5 of them by more than the
    /// converter's error × 1.25 / 1.5), as tighter ranges clip test data that the
    /// calibration set did not reach. For experiments; the CLI does not offer it.
    Own,
}

/// What [`quantize`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantizeOptions {
    /// Whose integer arithmetic the model's `requant` words reproduce (LiteRT's
    /// reference kernels by default).
    pub flavor: Flavor,
    pub weights: Granularity,
    pub ranges: Ranges,
}

impl Default for QuantizeOptions {
    fn default() -> Self {
        QuantizeOptions {
            flavor: Flavor::LiteRtReference,
            weights: Granularity::PerChannel,
            ranges: Ranges::LikeConverter,
        }
    }
}

/// An int8 model and how it was made.
#[derive(Clone, Debug)]
pub struct Quantized {
    /// The int8 model: int8 inputs and outputs, with their scales and zero points on
    /// its input and output nodes.
    pub model: HostGraph,
    /// The rewrites applied to the float graph, in graph order.
    pub rewrites: Vec<Rewrite>,
    /// Every tensor of the int8 model: its calibrated range and quantization.
    pub tensors: Vec<TensorQuant>,
    /// The int8 outputs against the float model's, on the calibration set.
    pub report: ErrorReport,
}

/// Why a model could not be quantized.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error("the model has no weights (a bare model config): quantization needs a .keras archive")]
    NoWeights,
    #[error("the model is int8 already: quantization takes a float32 model")]
    NotFloat,
    #[error("the model has no input (an unbuilt model): quantization needs one to calibrate")]
    NoInput,
    #[error("layer '{layer}' ({class}) has no int8 kernel{detail}")]
    NoInt8Kernel {
        layer: String,
        class: &'static str,
        /// Empty, or `: why` (an activation that has none, a ReLU with a slope, …).
        detail: String,
    },
    #[error("layer '{layer}' ({class}) has an int8 kernel whose parameters the quantizer does not make yet")]
    NotHandled { layer: String, class: &'static str },
    #[error("the model has {expected} input(s) but {found} calibration array(s) were given (one per model input, in model.inputs order)")]
    CalibrationCount { expected: usize, found: usize },
    #[error("calibration array {index} (model input '{input}'): {reason}")]
    Calibration {
        index: usize,
        input: String,
        reason: String,
    },
    #[error("layer '{layer}' ({class}) gives {value} on calibration sample {sample}: its range cannot be quantized")]
    NotFinite {
        layer: String,
        class: &'static str,
        value: f32,
        sample: usize,
    },
    #[error("layer '{layer}' ({class}): {reason}")]
    Layer {
        layer: String,
        class: &'static str,
        reason: String,
    },
    #[error("layer '{layer}' ({class}): kiln's int8 engine wants variable '{name}' of {expected} bytes, the quantizer made {found}")]
    Variable {
        layer: String,
        class: &'static str,
        name: String,
        expected: usize,
        found: usize,
    },
    #[error("{context}: {error}")]
    Kiln {
        context: String,
        error: Box<kiln::Error>,
    },
}

impl QuantizeError {
    pub(crate) fn kiln(context: impl Into<String>, error: kiln::Error) -> Self {
        QuantizeError::Kiln {
            context: context.into(),
            error: Box::new(error),
        }
    }
}

pub type Result<T> = std::result::Result<T, QuantizeError>;

/// Quantizes float model `model` to int8 with `calibration` (one array per model input,
/// in `model.inputs` order, batch axis first; the same number of samples in each), and
/// reports the int8 model's error against the float one on that data.
pub fn quantize(
    model: &HostGraph,
    calibration: &[NpyArray],
    options: &QuantizeOptions,
) -> Result<Quantized> {
    let plan = plan::plan(model)?;
    let samples = calibrate::Samples::new(&plan, calibration)?;
    let calibrated = calibrate::calibrate(&plan, &samples)?;
    let (ranges, sources) = match options.ranges {
        Ranges::LikeConverter => (
            calibrate::as_converter_records(&plan, &calibrated.ranges),
            params::converter_sources(&plan),
        ),
        Ranges::Own => (calibrated.ranges.clone(), vec![true; plan.ops.len()]),
    };
    let quants = params::choose(&plan, &calibrated.ranges, &ranges, &sources)?;
    let built = build::build(&plan, &calibrated, &quants, options)?;
    let mut report = report::evaluate(&built.model, model, calibration)?;
    // Name each output after the Keras layer it comes from (a Dense's softmax is a layer
    // of its own in the int8 model).
    for (e, &op) in report.outputs.iter_mut().zip(&plan.outputs) {
        e.layer = plan.ops[op].origin.layer.clone();
    }
    Ok(Quantized {
        model: built.model,
        rewrites: plan.rewrites.clone(),
        tensors: built.tensors,
        report,
    })
}
