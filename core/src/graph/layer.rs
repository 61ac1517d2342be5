//! What the graph asks of a layer kind, through its [`Op`](crate::ops::Op): the answers
//! come from the layer's own file in `ops/`; here they get the layer's name for errors.
//! A layer holds no weight values: those live in one flat buffer (the order of Keras's
//! `model.get_weights()`), so the same graph describes a model in RAM, in flash or in a
//! file.

use super::tensor::{DType, Quant};
use crate::error::Error;
use crate::name::for_error;
use crate::ops::{Arity, Mismatch};
use crate::shape::Shape;

pub use crate::ops::{LayerKind, Pair};

/// One weight variable of a layer, in Keras's order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSpec {
    /// Keras's variable name: `kernel`, `bias`, `gamma`, `beta`, `moving_mean`, …
    pub name: &'static str,
    /// The variable's shape, in Keras's layout for float32 (`(kh, kw, in, out)` for a
    /// Conv2D kernel) and TensorFlow Lite's for int8.
    pub shape: Shape,
    /// False for BatchNormalization's moving statistics, whatever the layer's flag.
    pub trainable: bool,
    /// The element type its values are stored in.
    pub dtype: DType,
    /// How its integers map to real values (`Quant::None` for float32).
    pub quant: Quant,
    /// True for what Keras counts as a parameter; false for the integers and scales an
    /// int8 kernel takes from the quantization (`requant`, `kernel_scale`).
    pub param: bool,
}

impl WeightSpec {
    /// Values the variable holds (0 for a shape with an unknown axis).
    pub fn elements(&self) -> usize {
        self.shape.elements().unwrap_or(0)
    }

    /// Bytes the variable takes in the weight buffer.
    pub fn bytes(&self) -> usize {
        self.elements().saturating_mul(self.dtype.size())
    }
}

/// The weights of one layer: at most four variables.
pub type WeightSpecs = heapless::Vec<WeightSpec, 4>;

/// Adds f32 variable `name` of shape `dims` (an axis too big for a shape makes it unknown,
/// so that the graph refuses the layer as too large).
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn weight(specs: &mut WeightSpecs, name: &'static str, dims: &[u32], trainable: bool) {
    let mut shape = Ok(Shape::SCALAR);
    for &d in dims {
        shape = shape.and_then(|s| s.push(Some(d)));
    }
    let shape = shape.unwrap_or(Shape::new(&[None]).unwrap_or(Shape::SCALAR));
    // At most four variables per layer, so this cannot overflow.
    let _ = specs.push(WeightSpec {
        name,
        shape,
        trainable,
        dtype: DType::F32,
        quant: Quant::None,
        param: true,
    });
}

/// Adds the variables of an int8 layer with weights: `kernel` (int8, `dims`, per output
/// channel along axis `channel_axis`), `bias` (int32) when `bias`, then `requant` and
/// `kernel_scale` (see [`crate::ops::int8`]).
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn int8_weights(dims: &[u32], channel_axis: u8, bias: bool) -> WeightSpecs {
    let channels = dims.get(channel_axis as usize).copied().unwrap_or(0);
    let mut specs = WeightSpecs::new();
    let scales = 2 + u8::from(bias);
    weight(&mut specs, "kernel", dims, true);
    if bias {
        weight(&mut specs, "bias", &[channels], true);
    }
    let words = channels
        .saturating_mul(2)
        .saturating_add(crate::ops::int8::HEADER_WORDS as u32);
    weight(&mut specs, "requant", &[words], false);
    weight(&mut specs, "kernel_scale", &[channels], false);
    for (i, spec) in specs.iter_mut().enumerate() {
        match i {
            0 => {
                spec.dtype = DType::I8;
                spec.quant = Quant::PerAxis {
                    axis: channel_axis,
                    scales,
                };
            }
            _ if spec.name == "bias" || spec.name == "requant" => spec.dtype = DType::I32,
            _ => {}
        }
        spec.param = i == 0 || spec.name == "bias";
    }
    specs
}

/// The one `requant` variable (int32, `words` long) of an int8 layer without weights.
#[cfg_attr(not(feature = "all-ops"), allow(dead_code))]
pub(crate) fn int8_params(words: usize) -> WeightSpecs {
    let mut specs = WeightSpecs::new();
    weight(&mut specs, "requant", &[words as u32], false);
    for spec in specs.iter_mut() {
        spec.dtype = DType::I32;
        spec.param = false;
    }
    specs
}

/// `Error::IncompatibleInput` for layer `layer`. Cold and out of line: the error and the
/// copy of the name are built in this frame, not in every caller's.
#[cold]
#[inline(never)]
pub(crate) fn incompatible(layer: &str, m: Mismatch) -> Error {
    Error::IncompatibleInput {
        layer: for_error(layer),
        found: m.found,
        expected: m.expected,
    }
}

impl LayerKind {
    /// A float32 InputLayer of this shape (batch axis first).
    pub fn input(shape: Shape) -> LayerKind {
        LayerKind::InputLayer(crate::ops::InputLayer {
            shape,
            dtype: DType::F32,
        })
    }

    /// The shape of an InputLayer; `None` for every other kind.
    pub fn input_shape(&self) -> Option<Shape> {
        match self {
            LayerKind::InputLayer(input) => Some(input.shape),
            _ => None,
        }
    }

    /// The kind of a nested model; `None` for every other layer.
    pub fn nested_model(&self) -> Option<crate::graph::ModelKind> {
        match self {
            LayerKind::Model(kind) => Some(*kind),
            _ => None,
        }
    }

    /// Keras's class name, as `summary()` prints it.
    pub fn class_name(&self) -> &'static str {
        self.op().class_name()
    }

    /// The prefix of Keras's automatic names (`ReLU` → `re_lu`).
    pub fn auto_name_prefix(&self) -> &'static str {
        self.op().auto_name_prefix()
    }

    /// Checks what can be checked without an input shape (zero sizes, bad rates).
    pub fn validate(&self, layer: &str) -> Result<(), Error> {
        self.op().validate().map_err(|reason| Error::InvalidConfig {
            layer: for_error(layer),
            reason,
        })
    }

    /// The output shape for the shapes of all the tensors the layer is called on.
    pub fn output_shape_of(&self, layer: &str, inputs: &[Shape]) -> Result<Shape, Error> {
        self.check_arity(layer, inputs)?;
        self.op()
            .output_shape(inputs)
            .map_err(|m| incompatible(layer, m))
    }

    /// The shape a run produces: as [`output_shape_of`](Self::output_shape_of), except
    /// where Keras's inference differs from its declared shape (RandomCrop returns its
    /// input unchanged at inference).
    pub fn inference_shape_of(&self, layer: &str, inputs: &[Shape]) -> Result<Shape, Error> {
        self.check_arity(layer, inputs)?;
        self.op()
            .inference_shape(inputs)
            .map_err(|m| incompatible(layer, m))
    }

    /// The output shape for one input shape.
    pub fn output_shape(&self, layer: &str, input: &Shape) -> Result<Shape, Error> {
        self.output_shape_of(layer, core::slice::from_ref(input))
    }

    fn check_arity(&self, layer: &str, inputs: &[Shape]) -> Result<(), Error> {
        let first = inputs.first().copied().unwrap_or(Shape::SCALAR);
        let expected = match (self.op().arity(), inputs.len()) {
            (Arity::None, 0) | (Arity::One, 1) | (Arity::Two, 2) => return Ok(()),
            (Arity::Many, n) if n >= 2 => return Ok(()),
            (Arity::None, _) => "no input tensor (an InputLayer starts the model)",
            (Arity::One, _) => "exactly one input tensor",
            (Arity::Two, _) => "exactly 2 input tensors",
            (Arity::Many, _) => "at least 2 input tensors",
        };
        if let LayerKind::Model(_) = self {
            return Err(incompatible(
                layer,
                Mismatch::new(first, "a call through the nested model's own graph"),
            ));
        }
        Err(incompatible(layer, Mismatch::new(first, expected)))
    }

    /// The weight variables this layer creates for an input of shape `input` and dtype
    /// `dtype` (an int8 layer's differ: see [`crate::ops::Op::int8_weights`]).
    pub fn weights(&self, input: &Shape, dtype: DType) -> WeightSpecs {
        match dtype {
            DType::I8 => self.op().int8_weights(input),
            _ => self.op().weights(input),
        }
    }

    /// True for layers that create state when built (see [`crate::ops::Op::has_build`]).
    pub fn has_build(&self) -> bool {
        self.op().has_build()
    }

    /// True when the planner may give the layer's call its input's memory.
    pub fn is_in_place(&self, training: bool, input: DType) -> bool {
        match input {
            DType::I8 => self.op().int8_in_place(),
            _ => self.op().in_place(training),
        }
    }

    /// True when the layer's smaller output may be written over the start of its input's
    /// memory (see [`crate::ops::Op::pools_in_place`]).
    pub fn pools_in_place(&self, input: &Shape, dtype: DType) -> bool {
        self.op().runs(dtype) && self.op().pools_in_place(input)
    }
}
