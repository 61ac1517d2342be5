//! The layers kiln runs, one file each. A file holds everything about its layer: the
//! configuration users build (`Dense::new(32)`), its Keras class name and automatic-name
//! prefix, the checks on its configuration, shape inference, the weights it creates, and
//! [`Op::prepare`], which resolves its step of a run once, with the function that runs it.
//!
//! The registry at the bottom is the one place that lists them: adding a layer is a new
//! file, one line there, and one mapping in the host's importer.

mod activation;
mod average_pooling2d;
mod batch_normalization;
mod concatenate;
mod conv2d;
mod dense;
mod depthwise_conv2d;
mod dropout;
mod flatten;
mod global_pooling2d;
mod input_layer;
mod leaky_relu;
mod max_pooling2d;
pub(crate) mod merge;
mod model;
mod pool2d;
mod random_crop;
mod relu;
mod reshape;
mod softmax;

pub use activation::Activation;
pub use average_pooling2d::AveragePooling2D;
pub use batch_normalization::BatchNormalization;
pub use concatenate::Concatenate;
pub use conv2d::Conv2D;
pub use dense::Dense;
pub use depthwise_conv2d::DepthwiseConv2D;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use global_pooling2d::{GlobalAveragePooling2D, GlobalMaxPooling2D};
pub use input_layer::InputLayer;
pub use leaky_relu::LeakyReLU;
pub use max_pooling2d::MaxPooling2D;
pub use pool2d::{Pair, Pool2D};
pub use random_crop::RandomCrop;
pub use relu::ReLU;
pub use reshape::Reshape;
pub use softmax::Softmax;

use crate::graph::{ModelKind, WeightSpecs};
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

    /// Keras's `training` default when a call says nothing (`True` for RandomCrop).
    fn trains_by_default(&self) -> bool {
        false
    }

    /// Resolves the layer's step of a run for the concrete shapes and weights in `cx`:
    /// everything the step needs is worked out here, once.
    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch>;
}

/// How many tensors one call of a layer takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// None: an InputLayer starts the model.
    None,
    One,
    /// Two or more (merges, Concatenate).
    Many,
    /// Exactly two (Subtract).
    Two,
}

/// A shape a layer cannot take, and what it expected instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mismatch {
    pub found: Shape,
    pub expected: &'static str,
}

impl Mismatch {
    pub(crate) fn new(found: Shape, expected: &'static str) -> Self {
        Mismatch { found, expected }
    }
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
pub(crate) fn image(shape: &Shape) -> Result<(usize, usize, usize), Mismatch> {
    Ok((dim(shape, 1)?, dim(shape, 2)?, dim(shape, 3)?))
}

/// What [`Op::prepare`] works from: one call of the layer in a run.
pub struct Cx<'a, 'w> {
    /// The shapes of the inputs, batch axis 1 (a run goes one sample at a time).
    pub inputs: &'a [Shape],
    /// The output's shape, batch axis 1.
    pub output: Shape,
    /// The layer's weight variables in Keras's order, each as long as its spec says.
    pub weights: &'a [&'w [f32]],
    /// Whether this call runs in training mode.
    pub training: bool,
    /// The node's index (seeds the node's randomness).
    pub node: usize,
}

impl<'w> Cx<'_, 'w> {
    /// The first input's shape.
    pub fn input(&self) -> Shape {
        self.inputs.first().copied().unwrap_or(Shape::SCALAR)
    }

    /// Weight variable `i`.
    pub fn weight(&self, i: usize) -> Result<&'w [f32], Mismatch> {
        self.weights.get(i).copied().ok_or(Mismatch::new(
            self.input(),
            "the weights the layer was built with",
        ))
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
pub(crate) enum Run {
    /// An input, or a view of another tensor.
    Nothing,
    /// The output is the input's values.
    Copy,
    /// Computes the output from the inputs.
    Compute(fn(&StepArgs<'_>, &[&[f32]], &mut [f32], &mut Rand<'_>)),
    /// Changes each value on its own, in the output's memory (which may be the input's).
    InPlace(fn(&StepArgs<'_>, &mut [f32], &mut Rand<'_>)),
}

/// The same way of running: the same kind, and the same function.
impl PartialEq for Run {
    fn eq(&self, other: &Run) -> bool {
        match (self, other) {
            (Run::Nothing, Run::Nothing) | (Run::Copy, Run::Copy) => true,
            (Run::Compute(a), Run::Compute(b)) => core::ptr::fn_addr_eq(*a, *b),
            (Run::InPlace(a), Run::InPlace(b)) => core::ptr::fn_addr_eq(*a, *b),
            _ => false,
        }
    }
}

/// The randomness of a call in training mode.
pub struct Rand<'r> {
    pub rng: &'r mut SmallRng,
    /// Drawn once per call: a RandomCrop takes one window for the whole batch.
    pub call_seed: u64,
}

/// Declares every layer kind, the one [`Op`] resolver, and the parameters steps carry.
macro_rules! registry {
    ($( $(#[$doc:meta])* $name:ident($config:ty $(=> $params:ty)?), )*) => {
        /// Every layer kind kiln runs. The variant names are Keras's class names (but
        /// `Merge`, one variant for `Add`, `Subtract`, …, and `Model`, a nested model).
        #[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum LayerKind {
            $( $(#[$doc])* $name($config), )*
        }

        impl LayerKind {
            /// The layer's behaviour: the one place a layer kind is resolved.
            pub fn op(&self) -> &dyn Op {
                match self {
                    $( LayerKind::$name(op) => op, )*
                }
            }
        }

        $(
            impl From<$config> for LayerKind {
                fn from(config: $config) -> LayerKind {
                    LayerKind::$name(config)
                }
            }

            impl<'n> From<$config> for crate::graph::LayerSpec<'n> {
                fn from(config: $config) -> Self {
                    crate::graph::LayerSpec::new(LayerKind::$name(config))
                }
            }
        )*

        /// What a prepared step works with, by layer (each layer's own `Params`).
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub(crate) enum StepArgs<'w> {
            None,
            $( $( $name($params), )? )*
        }
    };
}

// The blob format (version 1) encodes a layer kind by its position here: new layers go
// at the end.
registry! {
    /// `keras.Input`: the full shape, batch axis first (`(None, 37)`).
    InputLayer(InputLayer),
    Dense(Dense => dense::Params<'w>),
    Conv2D(Conv2D => conv2d::Params<'w>),
    DepthwiseConv2D(DepthwiseConv2D => depthwise_conv2d::Params<'w>),
    MaxPooling2D(MaxPooling2D => crate::kernels::Pool2dGeometry),
    AveragePooling2D(AveragePooling2D => crate::kernels::Pool2dGeometry),
    GlobalAveragePooling2D(GlobalAveragePooling2D => global_pooling2d::Params),
    GlobalMaxPooling2D(GlobalMaxPooling2D => global_pooling2d::Params),
    Flatten(Flatten),
    Reshape(Reshape),
    /// Identity at inference.
    Dropout(Dropout => f32),
    Activation(Activation => activation::Params),
    ReLU(ReLU => ReLU),
    LeakyReLU(LeakyReLU => f32),
    /// Softmax over the last axis.
    Softmax(Softmax => usize),
    BatchNormalization(BatchNormalization => batch_normalization::Params<'w>),
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`: inputs of one shape.
    Merge(crate::graph::config::MergeOp => crate::graph::config::MergeOp),
    Concatenate(Concatenate => concatenate::Params),
    /// The identity at inference (Keras 3 behaviour); a random crop in training.
    RandomCrop(RandomCrop => random_crop::Params),
    /// A model used as a layer; its layers have this one as `parent`.
    Model(ModelKind),
}
