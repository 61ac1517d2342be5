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

use crate::graph::{DType, ModelKind, WeightSpec, WeightSpecs};
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
    pub weights: &'a [Weight<'w>],
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

    /// Float32 weight variable `i`.
    pub fn weight(&self, i: usize) -> Result<&'w [f32], Mismatch> {
        self.weights
            .get(i)
            .filter(|w| w.spec.dtype == DType::F32)
            .and_then(|w| bytemuck::try_cast_slice(w.bytes).ok())
            .ok_or(Mismatch::new(
                self.input(),
                "the float32 weights the layer was built with",
            ))
    }
}

/// One weight variable of a layer: what it is, and its bytes in the weight buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weight<'w> {
    pub spec: WeightSpec,
    pub bytes: &'w [u8],
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
    ($( $(#[$doc:meta])* $name:ident = $tag:literal ($config:ty $(=> $params:ty)?), )*) => {
        /// Every layer kind kiln runs. The variant names are Keras's class names (but
        /// `Merge`, one variant for `Add`, `Subtract`, …, and `Model`, a nested model).
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

        /// A layer kind in a blob: its pinned tag, then its configuration's fields.
        #[cfg(feature = "format")]
        impl crate::format::wire::Wire for LayerKind {
            fn encode(&self, w: &mut crate::format::wire::Writer<'_>) {
                match self {
                    $( LayerKind::$name(config) => {
                        w.varint($tag);
                        config.encode(w);
                    } )*
                }
            }
            fn decode(
                r: &mut crate::format::wire::Reader<'_>,
            ) -> Result<Self, crate::format::BlobError> {
                match r.varint()? {
                    $( $tag => Ok(LayerKind::$name(<$config>::decode(r)?)), )*
                    tag => Err(crate::format::BlobError::UnknownLayer { tag }),
                }
            }
        }

        /// What a prepared step works with, by layer (each layer's own `Params`).
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub(crate) enum StepArgs<'w> {
            None,
            $( $( $name($params), )? )*
        }
    };
}

// Each line: the variant (Keras's class name), its tag in a blob (pinned: never reused or
// renumbered), its configuration, and what its prepared step carries.
registry! {
    /// `keras.Input`: the full shape, batch axis first (`(None, 37)`), and the dtype.
    InputLayer = 0 (InputLayer),
    Dense = 1 (Dense => dense::Params<'w>),
    Conv2D = 2 (Conv2D => conv2d::Params<'w>),
    DepthwiseConv2D = 3 (DepthwiseConv2D => depthwise_conv2d::Params<'w>),
    MaxPooling2D = 4 (MaxPooling2D => crate::kernels::Pool2dGeometry),
    AveragePooling2D = 5 (AveragePooling2D => crate::kernels::Pool2dGeometry),
    GlobalAveragePooling2D = 6 (GlobalAveragePooling2D => global_pooling2d::Params),
    GlobalMaxPooling2D = 7 (GlobalMaxPooling2D => global_pooling2d::Params),
    Flatten = 8 (Flatten),
    Reshape = 9 (Reshape),
    /// Identity at inference.
    Dropout = 10 (Dropout => f32),
    Activation = 11 (Activation => activation::Params),
    ReLU = 12 (ReLU => ReLU),
    LeakyReLU = 13 (LeakyReLU => f32),
    /// Softmax over the last axis.
    Softmax = 14 (Softmax => usize),
    BatchNormalization = 15 (BatchNormalization => batch_normalization::Params<'w>),
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`: inputs of one shape.
    Merge = 16 (crate::graph::config::MergeOp => crate::graph::config::MergeOp),
    Concatenate = 17 (Concatenate => concatenate::Params),
    /// The identity at inference (Keras 3 behaviour); a random crop in training.
    RandomCrop = 18 (RandomCrop => random_crop::Params),
    /// A model used as a layer; its layers have this one as `parent`.
    Model = 19 (ModelKind),
}
