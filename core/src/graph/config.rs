//! The configuration values layers share and the IR stores: activation functions, padding
//! modes, merge operations. Their arithmetic is in `kernels/`; here is what they are.

/// A Keras activation function.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// `linear` (also `activation=None`): identity.
    #[default]
    Linear,
    /// `relu`: `max(x, 0)`.
    Relu,
    /// `relu6`: `min(max(x, 0), 6)`.
    Relu6,
    /// `sigmoid`: `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh`.
    Tanh,
    /// `softmax` over the last axis: `exp(x - max) / Σ exp(x - max)`.
    Softmax,
    /// `log_softmax` over the last axis: `(x - max) - log Σ exp(x - max)`.
    LogSoftmax,
    /// `leaky_relu`: `x` if `x >= 0`, else `negative_slope * x`. The activation
    /// string's default is `0.2` (the `LeakyReLU` *layer*'s default is `0.3`).
    LeakyRelu {
        /// Slope for negative inputs.
        negative_slope: f32,
    },
    /// `elu`: `x` if `x > 0`, else `alpha * expm1(x)`; the string's default is `alpha = 1`.
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// `selu`: `scale * elu(x, alpha)` with the fixed SELU constants.
    Selu,
    /// `gelu`. Keras 3 default `approximate = false`:
    /// `0.5 * x * erfc(-x / sqrt(2))` (= `0.5 * x * (1 + erf(x / sqrt(2)))`);
    /// approximate: `x * 0.5 * (1 + tanh(sqrt(2/π) * (x + 0.044715 x³)))`.
    Gelu {
        /// Use the tanh approximation.
        approximate: bool,
    },
    /// `silu` / `swish`: `x * sigmoid(x)`.
    Silu,
    /// `hard_sigmoid` (Keras 3): `relu6(x + 3) / 6`.
    HardSigmoid,
    /// `hard_silu` / `hard_swish`: `x * hard_sigmoid(x)`.
    HardSilu,
    /// `softplus`: `log(1 + exp(x))`, computed stably as `max(x, 0) + log1p(exp(-|x|))`.
    Softplus,
    /// `softsign`: `x / (|x| + 1)`.
    Softsign,
    /// `exponential`: `exp(x)`.
    Exponential,
    /// `mish`: `x * tanh(softplus(x))`.
    Mish,
}

impl Activation {
    /// Parses a Keras activation name, with the defaults the string form implies
    /// (`leaky_relu` → slope 0.2, `elu` → alpha 1.0, `gelu` → exact).
    /// Accepts the aliases `swish` (= `silu`) and `hard_swish` (= `hard_silu`).
    pub fn from_keras_name(name: &str) -> Option<Activation> {
        Some(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "relu6" => Activation::Relu6,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            "log_softmax" => Activation::LogSoftmax,
            "leaky_relu" => Activation::LeakyRelu {
                negative_slope: 0.2,
            },
            "elu" => Activation::Elu { alpha: 1.0 },
            "selu" => Activation::Selu,
            "gelu" => Activation::Gelu { approximate: false },
            "silu" | "swish" => Activation::Silu,
            "hard_sigmoid" => Activation::HardSigmoid,
            "hard_silu" | "hard_swish" => Activation::HardSilu,
            "softplus" => Activation::Softplus,
            "softsign" => Activation::Softsign,
            "exponential" => Activation::Exponential,
            "mish" => Activation::Mish,
            _ => return None,
        })
    }

    /// The name Keras serializes (`silu` and `hard_silu` for the aliased ones).
    /// Parameters (`negative_slope`, `alpha`, `approximate`) are not part of the name.
    pub fn keras_name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Gelu { .. } => "gelu",
            Activation::Silu => "silu",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::HardSilu => "hard_silu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Exponential => "exponential",
            Activation::Mish => "mish",
        }
    }

    /// True for the activations that mix values along the last axis (`softmax`,
    /// `log_softmax`); all others act on each value alone.
    pub fn uses_last_axis(&self) -> bool {
        matches!(self, Activation::Softmax | Activation::LogSoftmax)
    }
}

/// Keras padding mode of a convolution or pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// `padding="valid"`: windows lie entirely inside the input.
    Valid,
    /// `padding="same"`: `out = ceil(in / stride)`, zero (conv) or ignored (pool)
    /// cells around the input, the odd one at the bottom/right.
    Same,
    /// `padding="causal"` (Conv1D only): `(kernel - 1) * dilation` zero cells before the
    /// input, none after, so an output sees only inputs at or before it.
    Causal,
}

impl Padding {
    /// Parses the Keras config string (`"valid"`, `"same"` or `"causal"`, lower case as
    /// Keras writes it).
    pub fn from_keras_name(name: &str) -> Option<Padding> {
        match name {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            "causal" => Some(Padding::Causal),
            _ => None,
        }
    }

    /// The Keras config string.
    pub fn keras_name(&self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
            Padding::Causal => "causal",
        }
    }
}

/// Which merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MergeOp {
    /// `keras.layers.Add`: the sum, in input order.
    Add,
    /// Exactly two inputs: `a - b`.
    Subtract,
    /// `keras.layers.Multiply`: the product, in input order.
    Multiply,
    /// Sum in input order, then times `1 / count`.
    Average,
    /// `keras.layers.Maximum`: the largest value at each position.
    Maximum,
    /// `keras.layers.Minimum`: the smallest value at each position.
    Minimum,
}
