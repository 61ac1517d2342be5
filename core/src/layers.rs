//! The layers users type, with Keras's names, arguments and defaults:
//!
//! ```
//! use kiln::layers::{Dense, Input};
//! use kiln::Activation;
//! let mut model = kiln::Sequential::<kiln::Fixed<8>>::new();
//! model.add(Input::new(&[37]))?;
//! model.add(Dense::new(32).activation(Activation::Relu))?;
//! model.add(Dense::new(5).activation(Activation::Softmax))?;
//! assert_eq!(model.count_params(), 1381);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! Every builder turns into a [`LayerSpec`]; `.name("…")` and `.trainable(false)` come
//! from [`LayerBuilder`].

pub use crate::graph::layer::{
    BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Pair, Pool2D, ReLU, Reshape,
};
use crate::graph::LayerKind;
pub use crate::graph::{LayerBuilder, LayerSpec};
use crate::kernels::merge::MergeOp;
use crate::kernels::{Activation as ActivationFn, Padding};
use crate::shape::{Shape, ShapeError};

macro_rules! into_spec {
    ($($ty:ty => $kind:expr;)*) => {$(
        impl<'n> From<$ty> for LayerSpec<'n> {
            fn from(v: $ty) -> LayerSpec<'n> {
                #[allow(clippy::redundant_closure_call)]
                LayerSpec::new(($kind)(v))
            }
        }
    )*};
}

into_spec! {
    Dense => LayerKind::Dense;
    Conv2D => LayerKind::Conv2D;
    DepthwiseConv2D => LayerKind::DepthwiseConv2D;
    ReLU => LayerKind::ReLU;
    BatchNormalization => LayerKind::BatchNormalization;
    MaxPooling2D => |p: MaxPooling2D| LayerKind::MaxPooling2D(p.0);
    AveragePooling2D => |p: AveragePooling2D| LayerKind::AveragePooling2D(p.0);
    GlobalAveragePooling2D => |g: GlobalAveragePooling2D| LayerKind::GlobalAveragePooling2D { keepdims: g.keepdims };
    GlobalMaxPooling2D => |g: GlobalMaxPooling2D| LayerKind::GlobalMaxPooling2D { keepdims: g.keepdims };
    Flatten => |_| LayerKind::Flatten;
    Dropout => |d: Dropout| LayerKind::Dropout { rate: d.rate };
    Activation => |a: Activation| LayerKind::Activation(a.0);
    ActivationFn => LayerKind::Activation;
    LeakyReLU => |l: LeakyReLU| LayerKind::LeakyReLU { negative_slope: l.negative_slope };
    Softmax => |_| LayerKind::Softmax;
    RandomCrop => |r: RandomCrop| LayerKind::RandomCrop { height: r.height, width: r.width, seed: r.seed };
    Concatenate => |c: Concatenate| LayerKind::Concatenate { axis: c.axis };
    Add => |_| LayerKind::Merge(MergeOp::Add);
    Subtract => |_| LayerKind::Merge(MergeOp::Subtract);
    Multiply => |_| LayerKind::Merge(MergeOp::Multiply);
    Average => |_| LayerKind::Merge(MergeOp::Average);
    Maximum => |_| LayerKind::Merge(MergeOp::Maximum);
    Minimum => |_| LayerKind::Merge(MergeOp::Minimum);
    LayerKind => |k| k;
}

impl<'n> From<Reshape> for LayerSpec<'n> {
    fn from(r: Reshape) -> LayerSpec<'n> {
        LayerSpec::new(LayerKind::Reshape(r))
    }
}

/// `keras.Input(shape=…, batch_size=…)`: the shape without the batch axis. A shape kiln
/// cannot hold (more than `MAX_RANK - 1` axes, an axis over `MAX_DIM`) is an error when
/// the input is added.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Input {
    shape: Result<Shape, ShapeError>,
}

impl Input {
    /// `Input(shape=dims)` with every axis known.
    pub fn new(dims: &[u32]) -> Self {
        let mut shape = Shape::new(&[None]);
        for &d in dims {
            shape = shape.and_then(|s| s.push(Some(d)));
        }
        Input { shape }
    }

    /// `Input(shape=dims)` where axes may be `None`, as in `Input(shape=(None, None, 3))`.
    pub fn with_dims(dims: &[Option<u32>]) -> Self {
        let mut shape = Shape::new(&[None]);
        for &d in dims {
            shape = shape.and_then(|s| s.push(d));
        }
        Input { shape }
    }

    /// Keras's `batch_size=`.
    pub fn batch_size(self, batch: u32) -> Self {
        Input {
            shape: self.shape.and_then(|s| s.with_dim(0, Some(batch))),
        }
    }

    /// The full shape, batch axis first (`(None, 28, 28, 1)`).
    pub fn shape(&self) -> Result<Shape, ShapeError> {
        self.shape
    }
}

impl<'n> From<Input> for LayerSpec<'n> {
    fn from(input: Input) -> LayerSpec<'n> {
        match input.shape {
            Ok(shape) => LayerSpec::new(LayerKind::InputLayer(shape)),
            Err(error) => LayerSpec {
                invalid: Some(error),
                ..LayerSpec::new(LayerKind::InputLayer(Shape::SCALAR))
            },
        }
    }
}

impl Dense {
    /// `Dense(units)`: linear, with bias.
    pub fn new(units: u32) -> Self {
        Dense {
            units,
            activation: ActivationFn::Linear,
            use_bias: true,
        }
    }
    pub fn activation(self, activation: ActivationFn) -> Self {
        Dense { activation, ..self }
    }
    pub fn use_bias(self, use_bias: bool) -> Self {
        Dense { use_bias, ..self }
    }
}

impl Conv2D {
    /// `Conv2D(filters, kernel_size)`: strides 1, 'valid', linear, with bias.
    pub fn new(filters: u32, kernel_size: Pair) -> Self {
        Conv2D {
            filters,
            kernel_size,
            strides: [1, 1],
            dilation_rate: [1, 1],
            padding: Padding::Valid,
            activation: ActivationFn::Linear,
            use_bias: true,
        }
    }
    pub fn strides(self, strides: Pair) -> Self {
        Conv2D { strides, ..self }
    }
    pub fn dilation_rate(self, dilation_rate: Pair) -> Self {
        Conv2D {
            dilation_rate,
            ..self
        }
    }
    pub fn padding(self, padding: Padding) -> Self {
        Conv2D { padding, ..self }
    }
    pub fn activation(self, activation: ActivationFn) -> Self {
        Conv2D { activation, ..self }
    }
    pub fn use_bias(self, use_bias: bool) -> Self {
        Conv2D { use_bias, ..self }
    }
}

impl DepthwiseConv2D {
    /// `DepthwiseConv2D(kernel_size)`: depth_multiplier 1, strides 1, 'valid'.
    pub fn new(kernel_size: Pair) -> Self {
        DepthwiseConv2D {
            kernel_size,
            strides: [1, 1],
            dilation_rate: [1, 1],
            padding: Padding::Valid,
            depth_multiplier: 1,
            activation: ActivationFn::Linear,
            use_bias: true,
        }
    }
    pub fn strides(self, strides: Pair) -> Self {
        DepthwiseConv2D { strides, ..self }
    }
    pub fn dilation_rate(self, dilation_rate: Pair) -> Self {
        DepthwiseConv2D {
            dilation_rate,
            ..self
        }
    }
    pub fn padding(self, padding: Padding) -> Self {
        DepthwiseConv2D { padding, ..self }
    }
    pub fn depth_multiplier(self, depth_multiplier: u32) -> Self {
        DepthwiseConv2D {
            depth_multiplier,
            ..self
        }
    }
    pub fn activation(self, activation: ActivationFn) -> Self {
        DepthwiseConv2D { activation, ..self }
    }
    pub fn use_bias(self, use_bias: bool) -> Self {
        DepthwiseConv2D { use_bias, ..self }
    }
}

impl Pool2D {
    /// Pool of `pool_size`, strides = pool_size, 'valid' (Keras's defaults).
    pub fn new(pool_size: Pair) -> Self {
        Pool2D {
            pool_size,
            strides: pool_size,
            padding: Padding::Valid,
        }
    }
}

macro_rules! pool_layer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub Pool2D);

        impl $name {
            pub fn new(pool_size: Pair) -> Self {
                $name(Pool2D::new(pool_size))
            }
            pub fn strides(self, strides: Pair) -> Self {
                $name(Pool2D { strides, ..self.0 })
            }
            pub fn padding(self, padding: Padding) -> Self {
                $name(Pool2D { padding, ..self.0 })
            }
        }
    };
}
pool_layer!(
    /// `keras.layers.MaxPooling2D(pool_size)`; strides default to the pool size.
    MaxPooling2D
);
pool_layer!(
    /// `keras.layers.AveragePooling2D(pool_size)`; 'same' divides by valid cells only.
    AveragePooling2D
);

macro_rules! global_pool_layer {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name {
            pub keepdims: bool,
        }

        impl $name {
            pub fn new() -> Self {
                $name { keepdims: false }
            }
            pub fn keepdims(self, keepdims: bool) -> Self {
                $name { keepdims }
            }
        }
    };
}
global_pool_layer!(
    /// `keras.layers.GlobalAveragePooling2D()`.
    GlobalAveragePooling2D
);
global_pool_layer!(
    /// `keras.layers.GlobalMaxPooling2D()`.
    GlobalMaxPooling2D
);

/// `keras.layers.Flatten()`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Flatten;

/// `keras.layers.Dropout(rate)`: the identity at inference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f32,
}

impl Dropout {
    pub fn new(rate: f32) -> Self {
        Dropout { rate }
    }
}

/// `keras.layers.Activation(fn)`. An [`ActivationFn`] can also be added directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activation(pub ActivationFn);

impl Activation {
    pub fn new(activation: ActivationFn) -> Self {
        Activation(activation)
    }
}

impl ReLU {
    /// `ReLU()`: no maximum, slope 0, threshold 0.
    pub fn new() -> Self {
        ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        }
    }
    pub fn max_value(self, max_value: f32) -> Self {
        ReLU {
            max_value: Some(max_value),
            ..self
        }
    }
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        ReLU {
            negative_slope,
            ..self
        }
    }
    pub fn threshold(self, threshold: f32) -> Self {
        ReLU { threshold, ..self }
    }
}

impl Default for ReLU {
    fn default() -> Self {
        ReLU::new()
    }
}

/// `keras.layers.LeakyReLU(negative_slope=0.3)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    pub negative_slope: f32,
}

impl LeakyReLU {
    pub fn new() -> Self {
        LeakyReLU {
            negative_slope: 0.3,
        }
    }
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new()
    }
}

/// `keras.layers.Softmax()` over the last axis.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Softmax;

impl BatchNormalization {
    /// `BatchNormalization()`: epsilon 1e-3, momentum 0.99, center and scale.
    pub fn new() -> Self {
        BatchNormalization {
            epsilon: 1e-3,
            momentum: 0.99,
            center: true,
            scale: true,
        }
    }
    pub fn epsilon(self, epsilon: f32) -> Self {
        BatchNormalization { epsilon, ..self }
    }
    pub fn center(self, center: bool) -> Self {
        BatchNormalization { center, ..self }
    }
    pub fn scale(self, scale: bool) -> Self {
        BatchNormalization { scale, ..self }
    }
}

impl Default for BatchNormalization {
    fn default() -> Self {
        BatchNormalization::new()
    }
}

/// `keras.layers.RandomCrop(height, width, seed=None)`: the identity at inference, a random
/// crop (one offset per batch) in training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCrop {
    pub height: u32,
    pub width: u32,
    pub seed: Option<u32>,
}

impl RandomCrop {
    pub fn new(height: u32, width: u32) -> Self {
        RandomCrop {
            height,
            width,
            seed: None,
        }
    }
    pub fn seed(self, seed: u32) -> Self {
        RandomCrop {
            seed: Some(seed),
            ..self
        }
    }
}

/// `keras.layers.Concatenate(axis=-1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Concatenate {
    pub axis: i8,
}

impl Concatenate {
    pub fn new() -> Self {
        Concatenate { axis: -1 }
    }
    pub fn axis(self, axis: i8) -> Self {
        Concatenate { axis }
    }
}

impl Default for Concatenate {
    fn default() -> Self {
        Concatenate::new()
    }
}

macro_rules! merge_layer {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;
    )*};
}

merge_layer! {
    /// `keras.layers.Add()`.
    Add;
    /// `keras.layers.Subtract()`: exactly two inputs, `a - b`.
    Subtract;
    /// `keras.layers.Multiply()`.
    Multiply;
    /// `keras.layers.Average()`.
    Average;
    /// `keras.layers.Maximum()`.
    Maximum;
    /// `keras.layers.Minimum()`.
    Minimum;
}
