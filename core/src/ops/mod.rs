//! The layers kiln runs, one file each. A file holds everything about its layer: the
//! configuration users build (`Dense::new(32)`), its Keras class name and automatic-name
//! prefix, the checks on its configuration, shape inference, the weights it creates, and
//! [`Op::prepare`], which resolves its step of a run once, with the function that runs it.
//!
//! The registry at the bottom is the one place that lists them: adding a layer is a new
//! file, one line there, and one mapping in the host's importer.
//!
//! Each layer (or small family of layers) is a cargo feature of this crate, all on by
//! default (`all-ops`), so that a firmware links only the code its model runs; `kiln export
//! --rust` lists the ones a model needs. `conv`, `pool` and `spatial` turn on a family at
//! once.
//!
//! | feature | layers |
//! |---|---|
//! | (always) | `InputLayer`, `Flatten`, `Dropout` (at inference), nested models |
//! | `dense` | `Dense` |
//! | `conv1d`, `conv2d`, `depthwise-conv2d`, `separable-conv2d` (`conv`) | `Conv1D`, `Conv2D`, `DepthwiseConv2D`, `SeparableConv2D` |
//! | `max-pooling`, `average-pooling`, `global-pooling` (`pool`) | `MaxPooling1D`/`2D`; `AveragePooling1D`/`2D`; `GlobalAveragePooling1D`/`2D`, `GlobalMaxPooling1D`/`2D` |
//! | `normalization` | `BatchNormalization` |
//! | `activations` | `Activation`, `ReLU`, `LeakyReLU`, `Softmax` |
//! | `merge`, `concatenate` | `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`; `Concatenate` |
//! | `reshape`, `zero-padding2d`, `cropping2d`, `up-sampling2d` (`spatial`) | `Reshape`, `ZeroPadding2D`, `Cropping2D`, `UpSampling2D` |
//! | `random-crop` | `RandomCrop` |
//! | `math` | the activations that need `exp`, `log`, `tanh` or `erf` (sigmoid, tanh, softmax, gelu, …), fused or as layers |
//! | `training` | calls in training mode: Dropout's random drop |
//!
//! A blob that needs a family this build left out does not load:
//! [`BlobError::LeftOut`](crate::format::BlobError::LeftOut) names the layer and the feature.

// Always built: what every model has or costs nothing to run.
mod dropout;
mod flatten;
mod input_layer;
pub mod int8;
mod model;
mod pool2d;
mod quantize;

pub use dropout::Dropout;
pub use flatten::Flatten;
pub use input_layer::InputLayer;
pub use pool2d::{Pair, Pool2D};
pub use quantize::{Dequantize, Quantize};

/// Declares each layer's module behind its cargo feature, and [`kinds`]: the layer types
/// of this build, which [`crate::layers`] re-exports.
macro_rules! layers {
    ($($feature:literal: $($module:ident => $($layer:ident),+;)+)*) => {
        $($(
            #[cfg(feature = $feature)]
            mod $module;
        )+)*

        /// The layer types this build has (each behind its feature).
        pub mod kinds {
            $($(
                #[cfg(feature = $feature)]
                pub use super::$module::{$($layer),+};
            )+)*
        }
        #[allow(unused_imports)] // (empty in a build with no layer feature)
        pub use kinds::*;
    };
}

layers! {
    "dense": dense => Dense;
    "reshape": reshape => Reshape;
    "zero-padding2d": zero_padding2d => ZeroPadding2D;
    "cropping2d": cropping2d => Cropping2D;
    "up-sampling2d": up_sampling2d => UpSampling2D;
    "conv1d": conv1d => Conv1D;
    "conv2d": conv2d => Conv2D;
    "depthwise-conv2d": depthwise_conv2d => DepthwiseConv2D;
    "separable-conv2d": separable_conv2d => SeparableConv2D;
    "max-pooling":
        max_pooling1d => MaxPooling1D;
        max_pooling2d => MaxPooling2D;
    "average-pooling":
        average_pooling1d => AveragePooling1D;
        average_pooling2d => AveragePooling2D;
    "global-pooling":
        global_pooling1d => GlobalAveragePooling1D, GlobalMaxPooling1D;
        global_pooling2d => GlobalAveragePooling2D, GlobalMaxPooling2D;
    "normalization": batch_normalization => BatchNormalization;
    "activations":
        activation => Activation;
        leaky_relu => LeakyReLU;
        relu => ReLU;
        softmax => Softmax;
    "random-crop": random_crop => RandomCrop;
    "concatenate": concatenate => Concatenate;
    "merge": merge => Add, Average, Maximum, Minimum, Multiply, Subtract;
}
#[cfg(any(
    feature = "conv1d",
    feature = "conv2d",
    feature = "depthwise-conv2d",
    feature = "separable-conv2d"
))]
mod conv;
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
mod pool1d;
#[cfg(any(feature = "max-pooling", feature = "average-pooling"))]
pub use pool1d::Pool1D;

use crate::graph::{DType, ModelKind, NodeId, Quant, WeightSpec, WeightSpecs};
use crate::kernels::SmallRng;
use crate::shape::Shape;

/// Everything kiln knows about one kind of layer.
pub trait Op {
    /// Keras's class name, as `summary()` prints it.
    fn class_name(&self) -> &'static str;

    /// The prefix of Keras's automatic names (`ReLU` → `re_lu`).
    fn auto_name_prefix(&self) -> &'static str;

    /// How many tensors a call takes.
    fn arity(&self) -> Arity {
        Arity::One
    }

    /// Checks what can be checked without an input shape (zero sizes, bad rates).
    fn validate(&self) -> Result<(), &'static str> {
        Ok(())
    }

    /// The output shape for the shapes of the tensors the layer is called on (as many as
    /// [`Op::arity`] allows), with Keras's rules; works on symbolic shapes (`None` axes)
    /// and on the concrete ones of a run alike.
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch>;

    /// The dtype of the output for inputs of dtypes `inputs`: the first input's, unless the
    /// op converts (an InputLayer gives its own).
    fn output_dtype(&self, inputs: &[DType]) -> DType {
        inputs.first().copied().unwrap_or_default()
    }

    /// The transcendental function (exp, log, tanh, erf: feature `math`) this
    /// configuration computes, by its Keras name, if it computes one.
    fn math(&self) -> Option<&'static str> {
        None
    }

    /// True when the op has a kernel for tensors of `dtype` (every op runs float32).
    fn runs(&self, dtype: DType) -> bool {
        dtype == DType::F32
    }

    /// The shape a run at inference produces, where it differs from the declared one
    /// (RandomCrop returns its input).
    fn inference_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        self.output_shape(inputs)
    }

    /// The weight variables the layer creates for an input of shape `input`, in Keras's
    /// order (kernel, bias; gamma, beta, moving_mean, moving_variance).
    fn weights(&self, _input: &Shape) -> WeightSpecs {
        WeightSpecs::new()
    }

    /// The variables of the layer on an int8 input: its weights in TensorFlow Lite's
    /// layouts and the integers its kernel takes from the quantization (`requant`), which
    /// the host works out at export (see [`int8`]).
    fn int8_weights(&self, _input: &Shape) -> WeightSpecs {
        WeightSpecs::new()
    }

    /// True for layers that create state when built (Keras overrides `build`): before
    /// that, `summary` shows them as `0 (unbuilt)` rather than `0`.
    fn has_build(&self) -> bool {
        false
    }

    /// True when the output is the input with each value changed on its own (or, for
    /// Flatten/Reshape, the same values): the planner may give it its input's memory. Its
    /// step is then [`Step::COPY`] or runs in place.
    fn in_place(&self, _training: bool) -> bool {
        false
    }

    /// [`Op::in_place`] on an int8 input (which runs at inference only).
    fn int8_in_place(&self) -> bool {
        self.in_place(false)
    }

    /// True when, on an input of shape `input`, the layer can write its (smaller) output
    /// over the start of its input's memory as it goes, each cell after the input cells it
    /// reads (a pool whose windows [read
    /// ahead](crate::kernels::Pool2dGeometry::reads_ahead)): the planner may then give it
    /// its input's memory and free the rest. Its step then gets
    /// [`Cells::Shared`](crate::kernels::Cells::Shared).
    fn pools_in_place(&self, _input: &Shape) -> bool {
        false
    }

    /// Keras's `training` default when a call says nothing (`True` for RandomCrop).
    fn trains_by_default(&self) -> bool {
        false
    }

    /// Resolves the layer's step of a run for the concrete shapes and weights in `cx`:
    /// everything the step needs is worked out here, once.
    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch>;

    /// The layer's backward pass on float32 tensors, which works from the step
    /// [`Op::prepare`] made for training (`None`: gradients cannot flow through it, so
    /// only the layers after it can train).
    #[cfg(feature = "training")]
    fn backward(&self) -> Option<Backward> {
        None
    }

    /// True for a layer that, when it trains, computes with the statistics of the whole
    /// batch (BatchNormalization): kiln's per-sample training cannot train it yet.
    #[cfg(feature = "training")]
    fn uses_batch_statistics(&self) -> bool {
        false
    }

    /// True when the layer computes each row of its last axis on its own (Dense): the
    /// samples of a batch can then go through it as one tensor of more rows, with the
    /// same arithmetic (the host trains so, a batch at a time).
    #[cfg(feature = "training")]
    fn batches_as_rows(&self) -> bool {
        false
    }

    /// Floats of scratch the backward pass needs for a call on `input` giving `output`
    /// (both one sample), beyond the largest tensor of the model.
    #[cfg(feature = "training")]
    fn backward_scratch(&self, _input: &Shape, _output: &Shape) -> usize {
        0
    }
}

/// What a layer's forward call of one sample left for its backward pass.
#[cfg(feature = "training")]
pub struct Saved<'a> {
    /// The tensors the layer was called on.
    pub inputs: &'a [&'a [f32]],
    /// What it computed.
    pub output: &'a [f32],
    /// The generator as the forward call found it (Dropout draws its mask again).
    pub rng: SmallRng,
    /// What the `output` part of the backward pass left in its scratch (empty for that
    /// part itself).
    pub work: &'a [f32],
}

/// A layer's backward pass for one sample, in up to three parts that the trainer runs in
/// this order: `output` turns dL/d(output) into the gradient the rest work from (a fused
/// activation's derivative), `weights` adds dL/d(weights) to the layer's gradient
/// buffer, and `input` writes dL/d(input k) for each input that needs one.
#[cfg(feature = "training")]
#[derive(Clone, Copy)]
pub struct Backward {
    pub(crate) output: Option<OutputBackward>,
    pub(crate) weights: Option<WeightsBackward>,
    pub(crate) input: InputBackward,
    /// For a layer that trains with the batch's statistics: its forward and backward
    /// passes over the whole batch, which replace the per-sample ones while it trains.
    pub(crate) batch: Option<BatchPass>,
}

/// The whole-batch passes of a layer that trains with the batch's statistics. Tensors
/// are the batch's samples one after the other.
#[cfg(feature = "training")]
#[derive(Clone, Copy)]
pub(crate) struct BatchPass {
    /// `(args, x, y, stats)`: writes `y` and the statistics it used.
    pub forward: fn(&StepArgs<'_>, &[f32], &mut [f32], &mut [f32]),
    /// `(args, x, dy, dx, dw)`: writes `dx`, adds to `dw` (empty when frozen).
    pub backward: BatchBackward,
}

/// See [`BatchPass::backward`].
#[cfg(feature = "training")]
pub(crate) type BatchBackward = fn(&StepArgs<'_>, &[f32], &[f32], &mut [f32], &mut [f32]);

/// Changes `d_output` in place (with `scratch`, as long as the output, to spare).
#[cfg(feature = "training")]
pub(crate) type OutputBackward = fn(&StepArgs<'_>, &Saved<'_>, &mut [f32], &mut [f32]);
/// Adds the weights' gradient (laid out as the layer's variables) to the last slice.
#[cfg(feature = "training")]
pub(crate) type WeightsBackward = fn(&StepArgs<'_>, &Saved<'_>, &[f32], &mut [f32]);
/// Writes (overwrites) the gradient of input `k` into the last slice.
#[cfg(feature = "training")]
pub(crate) type InputBackward = fn(&StepArgs<'_>, &Saved<'_>, usize, &[f32], &mut [f32]);

#[cfg(feature = "training")]
impl Backward {
    /// A backward pass that only maps the output's gradient to the inputs'.
    pub(crate) const fn input(input: InputBackward) -> Backward {
        Backward {
            output: None,
            weights: None,
            input,
            batch: None,
        }
    }

    /// The backward pass of a layer whose output is its input's values (Flatten,
    /// Reshape, Dropout at inference): the gradient passes through.
    pub(crate) const PASS: Backward = Backward::input(pass);
}

/// The gradient of an output that holds its input's values, in the same order.
#[cfg(feature = "training")]
fn pass(_: &StepArgs<'_>, _: &Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if d.len() == dx.len() {
        dx.copy_from_slice(d);
    }
}

/// How many tensors one call of a layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// None: an InputLayer starts the model.
    None,
    /// Exactly one (most layers).
    One,
    /// Two or more (merges, Concatenate).
    Many,
    /// Exactly two (Subtract).
    Two,
}

/// A shape a layer cannot take, and what it expected instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    /// The input shape the layer got.
    pub found: Shape,
    /// What it takes instead, in words (`"a rank-4 input"`, …).
    pub expected: &'static str,
}

impl Mismatch {
    pub(crate) fn new(found: Shape, expected: &'static str) -> Self {
        Mismatch { found, expected }
    }
}

/// A layer kind or activation this build of kiln left out, and the cargo feature that
/// brings it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The layer's class name or the activation's Keras name.
    pub what: &'static str,
    /// The cargo feature of kiln to enable (`"conv2d"`, `"math"`, …).
    pub feature: &'static str,
}

/// The most features [`features`] can name.
pub const MAX_FEATURES: usize = 32;
const _: () = assert!(OP_FEATURES.len() < MAX_FEATURES);

/// The cargo features of kiln a model needs, in the registry's order: its layers' op
/// features, then `math` when one computes a transcendental function.
pub fn features<S: crate::Storage>(
    graph: &crate::Graph<'_, S>,
) -> heapless::Vec<&'static str, MAX_FEATURES> {
    let uses = |feature: &str| {
        graph
            .all_layers()
            .iter()
            .any(|layer| layer.kind.feature() == Some(feature))
    };
    let mut needed = heapless::Vec::new();
    for &feature in OP_FEATURES {
        if !needed.contains(&feature) && uses(feature) {
            // Cannot fail: OP_FEATURES is shorter than the capacity (checked above).
            let _ = needed.push(feature);
        }
    }
    // An int8 layer computes its function from tables and integers, not with libm.
    let float_math = |(id, layer): (usize, &crate::Layer<S>)| {
        layer.kind.op().math().is_some()
            && graph.layer_input_dtype(id as crate::graph::LayerId) != DType::I8
    };
    if graph.all_layers().iter().enumerate().any(float_math) {
        let _ = needed.push("math");
    }
    needed
}

/// The one input of a single-input layer.
pub(crate) fn one(inputs: &[Shape]) -> Result<Shape, Mismatch> {
    match inputs {
        [input] => Ok(*input),
        _ => Err(Mismatch::new(
            inputs.first().copied().unwrap_or(Shape::SCALAR),
            "exactly one input tensor",
        )),
    }
}

/// A known axis of a concrete shape.
pub(crate) fn dim(shape: &Shape, axis: usize) -> Result<usize, Mismatch> {
    shape
        .dim(axis)
        .map(|d| d as usize)
        .ok_or(Mismatch::new(*shape, "every axis known when it runs"))
}

/// `(height, width, channels)` of a concrete rank-4 sample shape.
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn image(shape: &Shape) -> Result<(usize, usize, usize), Mismatch> {
    Ok((dim(shape, 1)?, dim(shape, 2)?, dim(shape, 3)?))
}

/// Height, width and channels of an image input to shape inference (height and width may
/// be unknown, the channels must be known).
#[allow(dead_code)] // (unused in a build with no image layer)
pub(crate) fn image_input(
    input: &Shape,
) -> Result<(crate::shape::Dim, crate::shape::Dim, u32), Mismatch> {
    crate::graph::infer::image_axes(input).ok_or(Mismatch::new(
        *input,
        "rank 4 (batch, height, width, channels) with known channels",
    ))
}

/// What [`Op::prepare`] works from: one call of the layer in a run.
pub struct Cx<'a, 'w> {
    /// Every node's shape in this run, batch axis 1 (a run goes one sample at a time).
    pub shapes: &'a [Shape],
    /// The nodes the layer is called on ([`Cx::input_shape`] gives their shapes).
    pub inputs: &'a [NodeId],
    /// The output's shape, batch axis 1.
    pub output: Shape,
    /// The layer's weight variables in Keras's order.
    pub weights: Weights<'a, 'w>,
    /// Whether this call runs in training mode.
    pub training: bool,
    /// The node's index (seeds the node's randomness).
    pub node: usize,
    /// The dtype and quantization of every node's tensor (this node's output included).
    pub tensors: &'a dyn Fn(NodeId) -> (DType, Quant),
}

impl<'w> Cx<'_, 'w> {
    /// The first input's shape.
    pub fn input(&self) -> Shape {
        self.input_shape(0)
    }

    /// Input `k`'s shape.
    pub fn input_shape(&self, k: usize) -> Shape {
        self.inputs
            .get(k)
            .and_then(|&n| self.shapes.get(n as usize))
            .copied()
            .unwrap_or(Shape::SCALAR)
    }

    /// Float32 weight variable `i`.
    pub fn weight(&self, i: usize) -> Result<&'w [f32], Mismatch> {
        self.typed_weight(i, "the float32 weights the layer was built with")
    }

    /// Weight variable `i` as elements of type `T` (its dtype must be `T`'s).
    pub fn typed_weight<T: crate::graph::Element>(
        &self,
        i: usize,
        expected: &'static str,
    ) -> Result<&'w [T], Mismatch> {
        self.weights
            .get(i)
            .filter(|(dtype, _)| *dtype == T::DTYPE)
            .and_then(|(_, bytes)| bytemuck::try_cast_slice(bytes).ok())
            .ok_or(Mismatch::new(self.input(), expected))
    }

    /// The dtype and quantization of input `k`.
    pub fn input_tensor(&self, k: usize) -> (DType, Quant) {
        self.inputs
            .get(k)
            .map_or((DType::F32, Quant::None), |&n| (self.tensors)(n))
    }

    /// The dtype and quantization of the output.
    pub fn output_tensor(&self) -> (DType, Quant) {
        (self.tensors)(self.node as NodeId)
    }

    /// True when the layer runs on int8 tensors.
    pub fn is_int8(&self) -> bool {
        self.input_tensor(0).0 == DType::I8
    }
}

/// A layer's weight variables: their specs, and the buffer they are in from `start`.
#[derive(Clone, Copy, Debug)]
pub struct Weights<'a, 'w> {
    /// The layer's variables, in Keras's order.
    pub specs: &'a [WeightSpec],
    /// The model's whole weight buffer.
    pub buffer: &'w [u8],
    /// Where the layer's first variable starts in `buffer`, in bytes.
    pub start: usize,
}

impl<'w> Weights<'_, 'w> {
    /// Variable `i`: its dtype and bytes (`None` past the variables or the buffer).
    pub fn get(&self, i: usize) -> Option<(DType, &'w [u8])> {
        let spec = self.specs.get(i)?;
        let range = crate::graph::layout(self.specs, self.start).nth(i)?;
        Some((spec.dtype, self.buffer.get(range)?))
    }
}

/// What one step of a run does, and with what.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step<'w> {
    pub(crate) run: Run,
    pub(crate) args: StepArgs<'w>,
}

impl Step<'_> {
    /// A step with nothing to compute.
    pub const NOTHING: Step<'static> = Step {
        run: Run::Nothing,
        args: StepArgs::None,
    };

    /// The output holds the input's values (Flatten, Reshape, Dropout at inference).
    pub const COPY: Step<'static> = Step {
        run: Run::Copy,
        args: StepArgs::None,
    };
}

/// How a step runs.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) enum Run {
    /// An input, or a view of another tensor.
    Nothing,
    /// The output is the input's values.
    Copy,
    /// Computes the output from the inputs.
    Compute(fn(&StepArgs<'_>, &[&[f32]], &mut [f32], &mut Rand<'_>)),
    /// Changes each value on its own, in the output's memory (which may be the input's).
    InPlace(fn(&StepArgs<'_>, &mut [f32], &mut Rand<'_>)),
    /// Computes an int8 output from int8 inputs.
    Int8(fn(&StepArgs<'_>, &[&[i8]], &mut [i8])),
    /// Changes each int8 value on its own, in the output's memory (which may be the input's).
    Int8InPlace(fn(&StepArgs<'_>, &mut [i8])),
    /// A pool: from its input to its output, or over its input's memory when the planner
    /// gave it that ([`Op::pools_in_place`]).
    Pool(fn(&StepArgs<'_>, crate::kernels::Cells<'_, f32>)),
    /// [`Run::Pool`] on int8.
    Int8Pool(fn(&StepArgs<'_>, crate::kernels::Cells<'_, i8>)),
    /// Float32 to int8 (a model's Quantize).
    Quantize(fn(&StepArgs<'_>, &[f32], &mut [i8])),
    /// Int8 to float32 (a model's Dequantize).
    Dequantize(fn(&StepArgs<'_>, &[i8], &mut [f32])),
}

/// The same way of running: the same kind, and the same function.
impl PartialEq for Run {
    fn eq(&self, other: &Run) -> bool {
        match (self, other) {
            (Run::Nothing, Run::Nothing) | (Run::Copy, Run::Copy) => true,
            (Run::Compute(a), Run::Compute(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::InPlace(a), Run::InPlace(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Int8(a), Run::Int8(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Int8InPlace(a), Run::Int8InPlace(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Pool(a), Run::Pool(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Int8Pool(a), Run::Int8Pool(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Quantize(a), Run::Quantize(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::Dequantize(a), Run::Dequantize(b)) => core::ptr::fn_addr_eq(*a, *b),
            _ => false,
        }
    }
}

/// The randomness of a call in training mode.
pub struct Rand<'r> {
    /// The generator the run was given.
    pub rng: &'r mut SmallRng,
    /// Drawn once per call: a RandomCrop takes one window for the whole batch.
    pub call_seed: u64,
}

/// Declares every layer kind, the one [`Op`] resolver, and the parameters steps carry.
macro_rules! registry {
    (@feature) => { None };
    (@feature $feature:literal) => { Some($feature) };
    ($( $(#[$doc:meta])* $name:ident = $tag:literal $(in $feature:literal)?
        ($config:ty => $params:ty), )*) => {
        /// Every layer kind kiln runs (those of the op families this build has). The
        /// variant names are Keras's class names (but `Merge`, one variant for `Add`,
        /// `Subtract`, …, and `Model`, a nested model).
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum LayerKind {
            $( $(#[$doc])* $(#[cfg(feature = $feature)])? $name($config), )*
        }

        /// The op features of the layer kinds this build has, in registry order (a
        /// feature once per kind it covers).
        const OP_FEATURES: &[&str] = &[ $( $(#[cfg(feature = $feature)] $feature,)? )* ];

        impl LayerKind {
            /// The layer's behaviour: the one place a layer kind is resolved.
            pub fn op(&self) -> &dyn Op {
                match self {
                    $( $(#[cfg(feature = $feature)])? LayerKind::$name(op) => op, )*
                }
            }

            /// The cargo feature of the layer's op family (`None`: always built).
            pub fn feature(&self) -> Option<&'static str> {
                match self {
                    $( $(#[cfg(feature = $feature)])? LayerKind::$name(_) => {
                        registry!(@feature $($feature)?)
                    } )*
                }
            }
        }

        $(
            $(#[cfg(feature = $feature)])?
            impl From<$config> for LayerKind {
                fn from(config: $config) -> LayerKind {
                    LayerKind::$name(config)
                }
            }

            $(#[cfg(feature = $feature)])?
            impl<'n> From<$config> for crate::graph::LayerSpec<'n> {
                fn from(config: $config) -> Self {
                    crate::graph::LayerSpec::new(LayerKind::$name(config))
                }
            }
        )*

        /// A layer kind in a blob: its pinned tag, then its configuration's fields.
        #[cfg(feature = "format")]
        impl crate::format::wire::Wire for LayerKind {
            fn encode(&self, w: &mut crate::format::wire::Writer<'_>) {
                match self {
                    $( $(#[cfg(feature = $feature)])? LayerKind::$name(config) => {
                        w.varint($tag);
                        config.encode(w);
                    } )*
                }
            }
            fn decode(
                r: &mut crate::format::wire::Reader<'_>,
            ) -> Result<Self, crate::format::BlobError> {
                match r.varint()? {
                    $(
                        $(#[cfg(feature = $feature)])?
                        $tag => Ok(LayerKind::$name(<$config>::decode(r)?)),
                        $(
                            #[cfg(not(feature = $feature))]
                            $tag => Err(crate::format::BlobError::LeftOut(LeftOut {
                                what: stringify!($name),
                                feature: $feature,
                            })),
                        )?
                    )*
                    tag => Err(crate::format::BlobError::UnknownLayer { tag }),
                }
            }
        }

        /// What a prepared step works with, by layer (each layer's own `Params`; `()`
        /// for a layer whose step needs nothing).
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[allow(dead_code)]
        pub(crate) enum StepArgs<'w> {
            None,
            /// Keeps the weights' lifetime when no built op borrows weights.
            Borrows(core::marker::PhantomData<&'w [u8]>),
            $( $(#[cfg(feature = $feature)])? $name($params), )*
        }
    };
}

// Each line: the variant (Keras's class name), its tag in a blob (pinned: never reused or
// renumbered), the cargo feature of its op family (none: always built), its configuration,
// and what its prepared step carries (`()`: nothing).
registry! {
    /// `keras.Input`: the full shape, batch axis first (`(None, 37)`), and the dtype.
    InputLayer = 0 (InputLayer => ()),
    /// `keras.layers.Dense`.
    Dense = 1 in "dense" (Dense => int8::Typed<dense::Params<'w>, (usize, int8::Kernel<'w>)>),
    /// `keras.layers.Conv2D`.
    Conv2D = 2 in "conv2d" (Conv2D => int8::Typed<conv::Params<'w>, (crate::kernels::Conv2dGeometry, int8::Kernel<'w>)>),
    /// `keras.layers.DepthwiseConv2D`.
    DepthwiseConv2D = 3 in "depthwise-conv2d" (DepthwiseConv2D => int8::Typed<depthwise_conv2d::Params<'w>, (crate::kernels::Conv2dGeometry, usize, int8::Kernel<'w>)>),
    /// `keras.layers.MaxPooling2D`.
    MaxPooling2D = 4 in "max-pooling" (MaxPooling2D => pool2d::PoolStep),
    /// `keras.layers.AveragePooling2D`.
    AveragePooling2D = 5 in "average-pooling" (AveragePooling2D => pool2d::PoolStep),
    /// `keras.layers.GlobalAveragePooling2D`.
    GlobalAveragePooling2D = 6 in "global-pooling" (GlobalAveragePooling2D => pool2d::GlobalParams),
    /// `keras.layers.GlobalMaxPooling2D`.
    GlobalMaxPooling2D = 7 in "global-pooling" (GlobalMaxPooling2D => pool2d::GlobalParams),
    /// `keras.layers.Flatten`.
    Flatten = 8 (Flatten => ()),
    /// `keras.layers.Reshape`.
    Reshape = 9 in "reshape" (Reshape => ()),
    /// Identity at inference.
    Dropout = 10 (Dropout => f32),
    /// `keras.layers.Activation`.
    Activation = 11 in "activations" (Activation => int8::Typed<activation::Params, activation::Int8<'w>>),
    /// `keras.layers.ReLU`.
    ReLU = 12 in "activations" (ReLU => int8::Typed<ReLU, crate::kernels::int8::relu::ReluParams>),
    /// `keras.layers.LeakyReLU`.
    LeakyReLU = 13 in "activations" (LeakyReLU => f32),
    /// Softmax over the last axis.
    Softmax = 14 in "activations" (Softmax => int8::Typed<usize, (usize, crate::kernels::int8::softmax::SoftmaxParams)>),
    /// `keras.layers.BatchNormalization`, at inference.
    BatchNormalization = 15 in "normalization"
        (BatchNormalization => batch_normalization::Params<'w>),
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`: inputs of one shape.
    Merge = 16 in "merge" (crate::graph::config::MergeOp => int8::Typed<crate::graph::config::MergeOp, crate::kernels::int8::add::AddParams>),
    /// `keras.layers.Concatenate`.
    Concatenate = 17 in "concatenate" (Concatenate => concatenate::Params),
    /// The identity at inference (Keras 3 behaviour); a random crop in training.
    RandomCrop = 18 in "random-crop" (RandomCrop => random_crop::Params),
    /// A model used as a layer; its layers have this one as `parent`.
    Model = 19 (ModelKind => ()),
    /// `keras.layers.ZeroPadding2D`.
    ZeroPadding2D = 20 in "zero-padding2d" (ZeroPadding2D => zero_padding2d::Params),
    /// `keras.layers.Cropping2D`.
    Cropping2D = 21 in "cropping2d" (Cropping2D => cropping2d::Params),
    /// `keras.layers.UpSampling2D`.
    /// Nearest-neighbour only.
    UpSampling2D = 22 in "up-sampling2d" (UpSampling2D => up_sampling2d::Params),
    /// `keras.layers.Conv1D`.
    Conv1D = 23 in "conv1d" (Conv1D => conv::Params<'w>),
    /// `keras.layers.MaxPooling1D`.
    MaxPooling1D = 24 in "max-pooling" (MaxPooling1D => pool2d::PoolStep),
    /// `keras.layers.AveragePooling1D`.
    AveragePooling1D = 25 in "average-pooling" (AveragePooling1D => pool2d::PoolStep),
    /// `keras.layers.GlobalAveragePooling1D`.
    GlobalAveragePooling1D = 26 in "global-pooling" (GlobalAveragePooling1D => pool2d::GlobalParams),
    /// `keras.layers.GlobalMaxPooling1D`.
    GlobalMaxPooling1D = 27 in "global-pooling" (GlobalMaxPooling1D => pool2d::GlobalParams),
    /// `keras.layers.SeparableConv2D`.
    SeparableConv2D = 28 in "separable-conv2d" (SeparableConv2D => separable_conv2d::Params<'w>),
    /// Float32 to int8 (TensorFlow Lite's QUANTIZE), at an int8 model's float input.
    Quantize = 29 (Quantize => quantize::Params),
    /// Int8 to float32 (TensorFlow Lite's DEQUANTIZE), at an int8 model's float output.
    Dequantize = 30 (Dequantize => quantize::Params),
}

#[cfg(all(test, feature = "all-ops"))]
mod tests {
    use crate::graph::config::Activation;
    use crate::layers::{Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D, ReLU};
    use crate::{Fixed, Sequential};

    #[test]
    fn features_name_each_op_feature_once_in_registry_order_then_math() {
        let mut model = Sequential::<Fixed<8>>::new();
        model.add(Input::new(&[8, 8, 1])).unwrap();
        model.add(Conv2D::new(2, [3, 3])).unwrap();
        model.add(ReLU::new()).unwrap();
        model.add(MaxPooling2D::new([2, 2])).unwrap();
        model.add(Conv2D::new(2, [1, 1])).unwrap();
        model.add(GlobalAveragePooling2D::new()).unwrap();
        model
            .add(Dense::new(3).activation(Activation::Softmax))
            .unwrap();
        let features = super::features(&model);
        assert_eq!(
            features.as_slice(),
            [
                "dense",
                "conv2d",
                "max-pooling",
                "global-pooling",
                "activations",
                "math"
            ]
        );
    }

    #[test]
    fn a_model_of_always_built_layers_needs_no_feature() {
        let mut model = Sequential::<Fixed<4>>::new();
        model.add(Input::new(&[2, 3])).unwrap();
        model.add(crate::layers::Flatten).unwrap();
        assert!(super::features(&model).is_empty());
    }
}
