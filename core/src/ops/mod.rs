//! The layers kiln runs, one file each. A file holds everything about its layer: the
//! configuration users build (`Dense::new(32)`), its Keras class name and automatic-name
//! prefix, the checks on its configuration, shape inference, the weights it creates, and
//! [`Op::prepare`], which resolves its step of a run once, with the function that runs it.
//!
//! The registry at the bottom is the one place that lists them: adding a layer is a new
//! file, one line there, and one mapping in the host's importer.
//!
//! Layers come in op families, each a cargo feature of this crate (all on by default), so
//! that a firmware links only the code its model runs:
//!
//! | feature | layers |
//! |---|---|
//! | (always) | `InputLayer`, `Flatten`, `Dropout` (at inference), nested models |
//! | `dense` | `Dense` |
//! | `reshape` | `Reshape`, `ZeroPadding2D`, `Cropping2D`, `UpSampling2D` |
//! | `conv` | `Conv1D`, `Conv2D`, `DepthwiseConv2D`, `SeparableConv2D` |
//! | `pool` | `MaxPooling1D`/`2D`, `AveragePooling1D`/`2D`, `GlobalAveragePooling1D`/`2D`, `GlobalMaxPooling1D`/`2D` |
//! | `normalization` | `BatchNormalization` |
//! | `merge` | `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`, `Concatenate` |
//! | `activations` | `Activation`, `ReLU`, `LeakyReLU`, `Softmax` |
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
mod model;
mod pool2d;

pub use dropout::Dropout;
pub use flatten::Flatten;
pub use input_layer::InputLayer;
pub use pool2d::{Pair, Pool2D};

/// Declares the modules of one op family and re-exports their layers.
macro_rules! family {
    ($feature:literal: $($module:ident => $($layer:ident),+;)+) => {
        $(
            #[cfg(feature = $feature)]
            mod $module;
            #[cfg(feature = $feature)]
            pub use $module::{$($layer),+};
        )+
    };
}

family!("dense": dense => Dense;);
family!("reshape":
    reshape => Reshape;
    zero_padding2d => ZeroPadding2D;
    cropping2d => Cropping2D;
    up_sampling2d => UpSampling2D;
);
family!("conv":
    conv1d => Conv1D;
    conv2d => Conv2D;
    depthwise_conv2d => DepthwiseConv2D;
    separable_conv2d => SeparableConv2D;
);
family!("pool":
    average_pooling1d => AveragePooling1D;
    average_pooling2d => AveragePooling2D;
    global_pooling1d => GlobalAveragePooling1D, GlobalMaxPooling1D;
    global_pooling2d => GlobalAveragePooling2D, GlobalMaxPooling2D;
    max_pooling1d => MaxPooling1D;
    max_pooling2d => MaxPooling2D;
    pool1d => Pool1D;
);
family!("normalization": batch_normalization => BatchNormalization;);
family!("activations":
    activation => Activation;
    leaky_relu => LeakyReLU;
    relu => ReLU;
    softmax => Softmax;
);
family!("random-crop": random_crop => RandomCrop;);
#[cfg(feature = "merge")]
mod concatenate;
#[cfg(feature = "merge")]
pub(crate) mod merge;
#[cfg(feature = "merge")]
pub use concatenate::Concatenate;

use crate::graph::{DType, ModelKind, NodeId, WeightSpec, WeightSpecs};
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

/// A layer kind or activation this build of kiln left out, and the cargo feature that
/// brings it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The layer's class name or the activation's Keras name.
    pub what: &'static str,
    pub feature: &'static str,
}

/// The cargo features of kiln a model needs, in the order of the table above: its
/// layers' op families, and `math` when one computes a transcendental function.
pub fn features<S: crate::Storage>(graph: &crate::Graph<'_, S>) -> heapless::Vec<&'static str, 16> {
    const ORDER: [&str; 9] = [
        "dense",
        "reshape",
        "conv",
        "pool",
        "normalization",
        "merge",
        "activations",
        "random-crop",
        "math",
    ];
    let mut needed = [false; ORDER.len()];
    for layer in graph.all_layers() {
        let op = layer.kind.op();
        let wants = [layer.kind.feature(), op.math().map(|_| "math")];
        for feature in wants.into_iter().flatten() {
            if let Some(i) = ORDER.iter().position(|&f| f == feature) {
                needed[i] = true;
            }
        }
    }
    ORDER
        .iter()
        .zip(needed)
        .filter(|(_, n)| *n)
        .map(|(&f, _)| f)
        .collect()
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
        self.weights
            .get(i)
            .filter(|(dtype, _)| *dtype == DType::F32)
            .and_then(|(_, bytes)| bytemuck::try_cast_slice(bytes).ok())
            .ok_or(Mismatch::new(
                self.input(),
                "the float32 weights the layer was built with",
            ))
    }
}

/// A layer's weight variables: their specs, and the buffer they are in from `start`.
#[derive(Clone, Copy, Debug)]
pub struct Weights<'a, 'w> {
    pub specs: &'a [WeightSpec],
    pub buffer: &'w [u8],
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
    Dense = 1 in "dense" (Dense => dense::Params<'w>),
    Conv2D = 2 in "conv" (Conv2D => conv2d::Params<'w>),
    DepthwiseConv2D = 3 in "conv" (DepthwiseConv2D => depthwise_conv2d::Params<'w>),
    MaxPooling2D = 4 in "pool" (MaxPooling2D => crate::kernels::Pool2dGeometry),
    AveragePooling2D = 5 in "pool" (AveragePooling2D => crate::kernels::Pool2dGeometry),
    GlobalAveragePooling2D = 6 in "pool" (GlobalAveragePooling2D => global_pooling2d::Params),
    GlobalMaxPooling2D = 7 in "pool" (GlobalMaxPooling2D => global_pooling2d::Params),
    Flatten = 8 (Flatten => ()),
    Reshape = 9 in "reshape" (Reshape => ()),
    /// Identity at inference.
    Dropout = 10 (Dropout => f32),
    Activation = 11 in "activations" (Activation => activation::Params),
    ReLU = 12 in "activations" (ReLU => ReLU),
    LeakyReLU = 13 in "activations" (LeakyReLU => f32),
    /// Softmax over the last axis.
    Softmax = 14 in "activations" (Softmax => usize),
    BatchNormalization = 15 in "normalization"
        (BatchNormalization => batch_normalization::Params<'w>),
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`: inputs of one shape.
    Merge = 16 in "merge" (crate::graph::config::MergeOp => crate::graph::config::MergeOp),
    Concatenate = 17 in "merge" (Concatenate => concatenate::Params),
    /// The identity at inference (Keras 3 behaviour); a random crop in training.
    RandomCrop = 18 in "random-crop" (RandomCrop => random_crop::Params),
    /// A model used as a layer; its layers have this one as `parent`.
    Model = 19 (ModelKind => ()),
    ZeroPadding2D = 20 in "reshape" (ZeroPadding2D => zero_padding2d::Params),
    Cropping2D = 21 in "reshape" (Cropping2D => cropping2d::Params),
    /// Nearest-neighbour only.
    UpSampling2D = 22 in "reshape" (UpSampling2D => up_sampling2d::Params),
    Conv1D = 23 in "conv" (Conv1D => conv2d::Params<'w>),
    MaxPooling1D = 24 in "pool" (MaxPooling1D => crate::kernels::Pool2dGeometry),
    AveragePooling1D = 25 in "pool" (AveragePooling1D => crate::kernels::Pool2dGeometry),
    GlobalAveragePooling1D = 26 in "pool" (GlobalAveragePooling1D => global_pooling2d::Params),
    GlobalMaxPooling1D = 27 in "pool" (GlobalMaxPooling1D => global_pooling2d::Params),
    SeparableConv2D = 28 in "conv" (SeparableConv2D => separable_conv2d::Params<'w>),
}
