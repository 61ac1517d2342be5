//! Layers: what each Keras layer is configured with, the weights it owns and the shape it
//! produces. A layer holds no weight values: those live in one flat buffer (the order of
//! Keras's `model.get_weights()`), so the same graph describes a model in RAM, in flash or in
//! a file.

use super::infer::{concatenate_shape, image_axes, image_shape, merge_shapes, reshape, window_out};
use crate::error::Error;
use crate::graph::ModelKind;
use crate::kernels::merge::MergeOp;
use crate::kernels::{Activation, Padding};
use crate::name::for_error;
use crate::shape::{Dim, Shape, MAX_DIM, MAX_RANK};

/// Spatial pairs `(height, width)`, as Keras's `kernel_size`, `strides`, `pool_size`.
pub type Pair = [u16; 2];

/// `keras.layers.Dense`.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    pub units: u32,
    pub activation: Activation,
    pub use_bias: bool,
}

/// `keras.layers.Conv2D` (channels_last, groups 1).
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2D {
    pub filters: u32,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub dilation_rate: Pair,
    pub padding: Padding,
    pub activation: Activation,
    pub use_bias: bool,
}

/// `keras.layers.DepthwiseConv2D`.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthwiseConv2D {
    pub kernel_size: Pair,
    pub strides: Pair,
    pub dilation_rate: Pair,
    pub padding: Padding,
    pub depth_multiplier: u32,
    pub activation: Activation,
    pub use_bias: bool,
}

/// `keras.layers.MaxPooling2D` and `AveragePooling2D`.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2D {
    pub pool_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
}

/// `keras.layers.ReLU`: `max_value` if x ≥ max_value, x if x ≥ threshold, else
/// `negative_slope * (x - threshold)`.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReLU {
    pub max_value: Option<f32>,
    pub negative_slope: f32,
    pub threshold: f32,
}

/// `keras.layers.BatchNormalization` (inference arithmetic; last axis only).
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormalization {
    pub epsilon: f32,
    pub momentum: f32,
    pub center: bool,
    pub scale: bool,
}

/// `keras.layers.Reshape`'s `target_shape` (without the batch axis); `-1` is inferred.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "format",
    serde(try_from = "ReshapeWire", into = "ReshapeWire")
)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reshape {
    dims: [i32; MAX_RANK - 1],
    rank: u8,
}

impl Reshape {
    /// `None` when the target has more than `MAX_RANK - 1` axes.
    pub fn new(target_shape: &[i32]) -> Option<Reshape> {
        if target_shape.len() > MAX_RANK - 1 {
            return None;
        }
        let mut dims = [0; MAX_RANK - 1];
        dims[..target_shape.len()].copy_from_slice(target_shape);
        Some(Reshape {
            dims,
            rank: target_shape.len() as u8,
        })
    }

    pub fn target_shape(&self) -> &[i32] {
        self.dims.get(..self.rank as usize).unwrap_or(&self.dims)
    }
}

/// The flash format's form of a Reshape target, checked when a blob is read.
#[cfg(feature = "format")]
#[derive(serde::Serialize, serde::Deserialize)]
struct ReshapeWire {
    dims: [i32; MAX_RANK - 1],
    rank: u8,
}

#[cfg(feature = "format")]
impl From<Reshape> for ReshapeWire {
    fn from(r: Reshape) -> Self {
        ReshapeWire {
            dims: r.dims,
            rank: r.rank,
        }
    }
}

#[cfg(feature = "format")]
impl TryFrom<ReshapeWire> for Reshape {
    type Error = &'static str;
    fn try_from(w: ReshapeWire) -> Result<Reshape, &'static str> {
        Reshape::new(
            w.dims
                .get(..w.rank as usize)
                .ok_or("reshape rank above MAX_RANK - 1")?,
        )
        .ok_or("reshape rank above MAX_RANK - 1")
    }
}

/// Every layer kind kiln runs. The variant names are Keras's class names.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// `keras.Input`: the full shape, batch axis first (`(None, 37)`).
    InputLayer(Shape),
    Dense(Dense),
    Conv2D(Conv2D),
    DepthwiseConv2D(DepthwiseConv2D),
    MaxPooling2D(Pool2D),
    AveragePooling2D(Pool2D),
    GlobalAveragePooling2D {
        keepdims: bool,
    },
    GlobalMaxPooling2D {
        keepdims: bool,
    },
    Flatten,
    Reshape(Reshape),
    /// Identity at inference.
    Dropout {
        rate: f32,
    },
    Activation(Activation),
    ReLU(ReLU),
    LeakyReLU {
        negative_slope: f32,
    },
    /// Softmax over the last axis.
    Softmax,
    BatchNormalization(BatchNormalization),
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`: inputs of one shape.
    Merge(MergeOp),
    /// `Concatenate(axis)`; a negative axis counts from the end.
    Concatenate {
        axis: i8,
    },
    /// `RandomCrop(height, width)`: the identity at inference (Keras 3 behaviour).
    RandomCrop {
        height: u32,
        width: u32,
        seed: Option<u32>,
    },
    /// A model used as a layer; its layers have this one as `parent`.
    Model(ModelKind),
}

/// One weight variable of a layer, in Keras's order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSpec {
    /// Keras's variable name: `kernel`, `bias`, `gamma`, `beta`, `moving_mean`, …
    pub name: &'static str,
    pub shape: Shape,
    /// False for BatchNormalization's moving statistics, whatever the layer's flag.
    pub trainable: bool,
}

impl WeightSpec {
    pub fn elements(&self) -> usize {
        self.shape.elements().unwrap_or(0)
    }
}

/// The weights of one layer: at most four variables.
pub type WeightSpecs = heapless::Vec<WeightSpec, 4>;

impl LayerKind {
    /// Keras's class name, as `summary()` prints it.
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerKind::InputLayer(_) => "InputLayer",
            LayerKind::Dense(_) => "Dense",
            LayerKind::Conv2D(_) => "Conv2D",
            LayerKind::DepthwiseConv2D(_) => "DepthwiseConv2D",
            LayerKind::MaxPooling2D(_) => "MaxPooling2D",
            LayerKind::AveragePooling2D(_) => "AveragePooling2D",
            LayerKind::GlobalAveragePooling2D { .. } => "GlobalAveragePooling2D",
            LayerKind::GlobalMaxPooling2D { .. } => "GlobalMaxPooling2D",
            LayerKind::Flatten => "Flatten",
            LayerKind::Reshape(_) => "Reshape",
            LayerKind::Dropout { .. } => "Dropout",
            LayerKind::Activation(_) => "Activation",
            LayerKind::ReLU(_) => "ReLU",
            LayerKind::LeakyReLU { .. } => "LeakyReLU",
            LayerKind::Softmax => "Softmax",
            LayerKind::BatchNormalization(_) => "BatchNormalization",
            LayerKind::Merge(op) => match op {
                MergeOp::Add => "Add",
                MergeOp::Subtract => "Subtract",
                MergeOp::Multiply => "Multiply",
                MergeOp::Average => "Average",
                MergeOp::Maximum => "Maximum",
                MergeOp::Minimum => "Minimum",
            },
            LayerKind::Concatenate { .. } => "Concatenate",
            LayerKind::RandomCrop { .. } => "RandomCrop",
            LayerKind::Model(kind) => kind.class_name(),
        }
    }

    /// The prefix of Keras's automatic names (`ReLU` → `re_lu`).
    pub fn auto_name_prefix(&self) -> &'static str {
        match self {
            LayerKind::InputLayer(_) => "input_layer",
            LayerKind::Dense(_) => "dense",
            LayerKind::Conv2D(_) => "conv2d",
            LayerKind::DepthwiseConv2D(_) => "depthwise_conv2d",
            LayerKind::MaxPooling2D(_) => "max_pooling2d",
            LayerKind::AveragePooling2D(_) => "average_pooling2d",
            LayerKind::GlobalAveragePooling2D { .. } => "global_average_pooling2d",
            LayerKind::GlobalMaxPooling2D { .. } => "global_max_pooling2d",
            LayerKind::Flatten => "flatten",
            LayerKind::Reshape(_) => "reshape",
            LayerKind::Dropout { .. } => "dropout",
            LayerKind::Activation(_) => "activation",
            LayerKind::ReLU(_) => "re_lu",
            LayerKind::LeakyReLU { .. } => "leaky_re_lu",
            LayerKind::Softmax => "softmax",
            LayerKind::BatchNormalization(_) => "batch_normalization",
            LayerKind::Merge(op) => match op {
                MergeOp::Add => "add",
                MergeOp::Subtract => "subtract",
                MergeOp::Multiply => "multiply",
                MergeOp::Average => "average",
                MergeOp::Maximum => "maximum",
                MergeOp::Minimum => "minimum",
            },
            LayerKind::Concatenate { .. } => "concatenate",
            LayerKind::RandomCrop { .. } => "random_crop",
            LayerKind::Model(ModelKind::Sequential) => "sequential",
            LayerKind::Model(_) => "functional",
        }
    }

    /// Checks what can be checked without an input shape (zero sizes, bad rates).
    pub fn validate(&self, layer: &str) -> Result<(), Error> {
        let bad = |reason| {
            Err(Error::InvalidConfig {
                layer: for_error(layer),
                reason,
            })
        };
        let pair_ok = |p: &Pair| p[0] > 0 && p[1] > 0;
        let too_big = |n: u32| n > MAX_DIM;
        // Keras refuses negative values; NaN is refused too (it would only make NaNs).
        let negative = |v: f32| v.is_nan() || v < 0.0;
        match self {
            LayerKind::Dense(d) if d.units == 0 => bad("units must be at least 1"),
            LayerKind::Dense(d) if too_big(d.units) => bad("units must be at most 4294967294"),
            LayerKind::Conv2D(c) if c.filters == 0 => bad("filters must be at least 1"),
            LayerKind::Conv2D(c) if too_big(c.filters) => bad("filters must be at most 4294967294"),
            LayerKind::DepthwiseConv2D(c) if too_big(c.depth_multiplier) => {
                bad("depth_multiplier must be at most 4294967294")
            }
            LayerKind::RandomCrop { height, width, .. } if too_big(*height) || too_big(*width) => {
                bad("height and width must be at most 4294967294")
            }
            LayerKind::ReLU(r) if r.max_value.is_some_and(negative) => {
                bad("max_value of a ReLU layer cannot be a negative value")
            }
            LayerKind::ReLU(r) if negative(r.negative_slope) => {
                bad("negative_slope of a ReLU layer cannot be None or a negative value")
            }
            LayerKind::ReLU(r) if negative(r.threshold) => {
                bad("threshold of a ReLU layer cannot be None or a negative value")
            }
            LayerKind::LeakyReLU { negative_slope } if negative(*negative_slope) => bad(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative value",
            ),
            LayerKind::Conv2D(c)
                if !pair_ok(&c.kernel_size)
                    || !pair_ok(&c.strides)
                    || !pair_ok(&c.dilation_rate) =>
            {
                bad("kernel_size, strides and dilation_rate must be at least 1")
            }
            LayerKind::Conv2D(c)
                if (c.strides[0] > 1 || c.strides[1] > 1)
                    && (c.dilation_rate[0] > 1 || c.dilation_rate[1] > 1) =>
            {
                bad("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
            }
            LayerKind::DepthwiseConv2D(c)
                if !pair_ok(&c.kernel_size)
                    || !pair_ok(&c.strides)
                    || !pair_ok(&c.dilation_rate)
                    || c.depth_multiplier == 0 =>
            {
                bad("kernel_size, strides, dilation_rate and depth_multiplier must be at least 1")
            }
            LayerKind::MaxPooling2D(p) | LayerKind::AveragePooling2D(p)
                if !pair_ok(&p.pool_size) || !pair_ok(&p.strides) =>
            {
                bad("pool_size and strides must be at least 1")
            }
            LayerKind::Dropout { rate } if !(0.0..1.0).contains(rate) => {
                bad("rate must be in [0, 1)")
            }
            LayerKind::BatchNormalization(b)
                if b.epsilon.partial_cmp(&0.0) != Some(core::cmp::Ordering::Greater) =>
            {
                bad("epsilon must be > 0")
            }
            LayerKind::RandomCrop { height, width, .. } if *height == 0 || *width == 0 => {
                bad("height and width must be at least 1")
            }
            LayerKind::Reshape(r) if r.target_shape().iter().filter(|&&d| d == -1).count() > 1 => {
                bad("target_shape can contain at most one -1")
            }
            LayerKind::Reshape(r) if r.target_shape().iter().any(|&d| d == 0 || d < -1) => {
                bad("target_shape entries must be positive or -1")
            }
            _ => Ok(()),
        }
    }

    /// The output shape for the shapes of all the tensors the layer is called on.
    pub fn output_shape_of(&self, layer: &str, inputs: &[Shape]) -> Result<Shape, Error> {
        let incompatible = |found: Shape, expected| Error::IncompatibleInput {
            layer: for_error(layer),
            found,
            expected,
        };
        let first = inputs.first().copied().unwrap_or(Shape::SCALAR);
        match self {
            LayerKind::InputLayer(shape) if inputs.is_empty() => Ok(*shape),
            LayerKind::InputLayer(_) => Err(incompatible(
                first,
                "no input tensor (an InputLayer starts the model)",
            )),
            LayerKind::Merge(op) => {
                let count_ok = match op {
                    MergeOp::Subtract => inputs.len() == 2,
                    _ => inputs.len() >= 2,
                };
                if !count_ok {
                    return Err(incompatible(
                        first,
                        match op {
                            MergeOp::Subtract => "exactly 2 input tensors",
                            _ => "at least 2 input tensors",
                        },
                    ));
                }
                let mut out = first;
                for shape in &inputs[1..] {
                    out = merge_shapes(&out, shape).ok_or_else(|| {
                        incompatible(*shape, "every input of the same shape as the first")
                    })?;
                }
                Ok(out)
            }
            LayerKind::Concatenate { axis } => concatenate_shape(*axis, inputs).ok_or_else(|| {
                incompatible(
                    first,
                    "at least 2 inputs of one rank, equal on every axis but the concatenation axis",
                )
            }),
            LayerKind::Model(_) => Err(incompatible(
                first,
                "a call through the nested model's own graph",
            )),
            _ => match inputs {
                [input] => self.output_shape(layer, input),
                _ => Err(incompatible(first, "exactly one input tensor")),
            },
        }
    }

    /// The shape a run produces: as [`output_shape_of`](Self::output_shape_of), except
    /// where Keras's inference differs from its declared shape (RandomCrop returns its
    /// input unchanged at inference).
    pub fn inference_shape_of(&self, layer: &str, inputs: &[Shape]) -> Result<Shape, Error> {
        match (self, inputs) {
            (LayerKind::RandomCrop { .. }, [input]) => {
                self.output_shape_of(layer, inputs)?;
                Ok(*input)
            }
            _ => self.output_shape_of(layer, inputs),
        }
    }

    /// The output shape for one input shape, with Keras's rules. Works on symbolic shapes
    /// (`None` axes) and on the concrete shapes of a run alike.
    pub fn output_shape(&self, layer: &str, input: &Shape) -> Result<Shape, Error> {
        let incompatible = |expected| Error::IncompatibleInput {
            layer: for_error(layer),
            found: *input,
            expected,
        };
        let too_big = || Error::IncompatibleInput {
            layer: for_error(layer),
            found: *input,
            expected: "an input whose output has every axis below 2^32",
        };
        match self {
            LayerKind::InputLayer(shape) => Ok(*shape),
            LayerKind::Dense(d) => {
                if input.rank() < 2 || input.last().is_none() {
                    return Err(incompatible("rank >= 2 with a known last axis"));
                }
                input
                    .with_dim(input.rank() - 1, Some(d.units))
                    .map_err(|_| too_big())
            }
            LayerKind::Conv2D(c) => {
                let (h, w, _) = image_axes(input).ok_or_else(|| {
                    incompatible("rank 4 (batch, height, width, channels) with known channels")
                })?;
                let (oh, ow) =
                    window_out((h, w), c.kernel_size, c.strides, c.dilation_rate, c.padding);
                image_shape(input, oh, ow, Some(c.filters)).ok_or_else(|| {
                    incompatible("height and width at least the (dilated) kernel size")
                })
            }
            LayerKind::DepthwiseConv2D(c) => {
                let (h, w, ch) = image_axes(input).ok_or_else(|| {
                    incompatible("rank 4 (batch, height, width, channels) with known channels")
                })?;
                let (oh, ow) =
                    window_out((h, w), c.kernel_size, c.strides, c.dilation_rate, c.padding);
                let out_c = ch
                    .checked_mul(c.depth_multiplier)
                    .filter(|&n| n <= MAX_DIM)
                    .ok_or_else(too_big)?;
                image_shape(input, oh, ow, Some(out_c)).ok_or_else(|| {
                    incompatible("height and width at least the (dilated) kernel size")
                })
            }
            LayerKind::MaxPooling2D(p) | LayerKind::AveragePooling2D(p) => {
                let (h, w, ch) = image_axes(input).ok_or_else(|| {
                    incompatible("rank 4 (batch, height, width, channels) with known channels")
                })?;
                let (oh, ow) = window_out((h, w), p.pool_size, p.strides, [1, 1], p.padding);
                image_shape(input, oh, ow, Some(ch))
                    .ok_or_else(|| incompatible("height and width at least the pool size"))
            }
            LayerKind::GlobalAveragePooling2D { keepdims }
            | LayerKind::GlobalMaxPooling2D { keepdims } => {
                let (_, _, ch) = image_axes(input).ok_or_else(|| {
                    incompatible("rank 4 (batch, height, width, channels) with known channels")
                })?;
                let batch = input.dim(0);
                let dims: &[Dim] = if *keepdims {
                    &[batch, Some(1), Some(1), Some(ch)]
                } else {
                    &[batch, Some(ch)]
                };
                Shape::new(dims).map_err(|_| too_big())
            }
            LayerKind::Flatten => {
                if input.rank() < 1 {
                    return Err(incompatible("rank >= 1"));
                }
                let rest = if input.rank() == 1 {
                    Some(1)
                } else {
                    input
                        .sample_elements()
                        .map(|n| u32::try_from(n).map_err(|_| too_big()))
                        .transpose()?
                };
                Shape::new(&[input.dim(0), rest]).map_err(|_| too_big())
            }
            LayerKind::Reshape(r) => reshape(r, input).ok_or_else(|| {
                incompatible("a size that target_shape can hold (same number of elements)")
            }),
            LayerKind::BatchNormalization(_) => {
                if input.rank() < 2 || input.last().is_none() {
                    return Err(incompatible("rank >= 2 with a known last axis"));
                }
                Ok(*input)
            }
            LayerKind::Softmax
            | LayerKind::Dropout { .. }
            | LayerKind::Activation(_)
            | LayerKind::ReLU(_)
            | LayerKind::LeakyReLU { .. } => Ok(*input),
            // Keras 3 declares the crop size as the output shape, but at inference the layer
            // returns its input unchanged; summary shows the declared shape, runs use this.
            LayerKind::RandomCrop { height, width, .. } => {
                if input.rank() != 4 {
                    return Err(incompatible("rank 4 (batch, height, width, channels)"));
                }
                input
                    .with_dim(1, Some(*height))
                    .and_then(|s| s.with_dim(2, Some(*width)))
                    .map_err(|_| too_big())
            }
            LayerKind::Merge(_) | LayerKind::Concatenate { .. } | LayerKind::Model(_) => {
                self.output_shape_of(layer, core::slice::from_ref(input))
            }
        }
    }

    /// The weight variables this layer creates for an input of shape `input`, in Keras's
    /// order (kernel, bias; gamma, beta, moving_mean, moving_variance).
    pub fn weights(&self, input: &Shape) -> WeightSpecs {
        let mut specs = WeightSpecs::new();
        let mut add = |name, dims: &[u32], trainable| {
            let mut shape = Shape::SCALAR;
            for &d in dims {
                shape = shape.push(Some(d)).unwrap_or(shape);
            }
            // At most four variables per layer, so this cannot overflow.
            let _ = specs.push(WeightSpec {
                name,
                shape,
                trainable,
            });
        };
        let channels = input.last().unwrap_or(0);
        match self {
            LayerKind::Dense(d) => {
                add("kernel", &[channels, d.units], true);
                if d.use_bias {
                    add("bias", &[d.units], true);
                }
            }
            LayerKind::Conv2D(c) => {
                let [kh, kw] = c.kernel_size;
                add("kernel", &[kh as u32, kw as u32, channels, c.filters], true);
                if c.use_bias {
                    add("bias", &[c.filters], true);
                }
            }
            LayerKind::DepthwiseConv2D(c) => {
                let [kh, kw] = c.kernel_size;
                add(
                    "kernel",
                    &[kh as u32, kw as u32, channels, c.depth_multiplier],
                    true,
                );
                if c.use_bias {
                    add("bias", &[channels.saturating_mul(c.depth_multiplier)], true);
                }
            }
            LayerKind::BatchNormalization(b) => {
                if b.scale {
                    add("gamma", &[channels], true);
                }
                if b.center {
                    add("beta", &[channels], true);
                }
                add("moving_mean", &[channels], false);
                add("moving_variance", &[channels], false);
            }
            _ => {}
        }
        specs
    }

    /// True for layers that create state when built (Keras overrides `build`): before
    /// that, `summary` shows them as `0 (unbuilt)` rather than `0`.
    pub fn has_build(&self) -> bool {
        matches!(
            self,
            LayerKind::Dense(_)
                | LayerKind::Conv2D(_)
                | LayerKind::DepthwiseConv2D(_)
                | LayerKind::BatchNormalization(_)
                | LayerKind::Reshape(_)
                | LayerKind::Model(_)
        )
    }

    /// True for layers whose output is their input with each value changed on its own (or,
    /// for Flatten/Reshape, the same values) and whose kernel works in place: the planner may
    /// give them their input's memory.
    pub fn is_in_place(&self) -> bool {
        matches!(
            self,
            LayerKind::Flatten
                | LayerKind::Reshape(_)
                | LayerKind::Dropout { .. }
                | LayerKind::Activation(_)
                | LayerKind::ReLU(_)
                | LayerKind::LeakyReLU { .. }
                | LayerKind::Softmax
                | LayerKind::RandomCrop { .. }
        )
    }
}
