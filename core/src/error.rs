//! The one error type of the core. Every fallible call returns `Result<_, Error>`; the
//! message names the layer, the shapes and what was expected, so a firmware log line is
//! enough to find the problem.

use crate::name::Name;
use crate::shape::Shape;
use core::fmt;

/// The most values one tensor (a layer's output or one weight variable) may have: 2^30 - 1,
/// so that its float32 bytes fit in 32 bits, as on the devices kiln runs on.
pub const MAX_TENSOR_ELEMENTS: usize = (1 << 30) - 1;

/// What went wrong, with the layer and shapes involved.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// A name longer than [`crate::name::NAME_CAPACITY`] bytes.
    NameTooLong {
        /// The name's length in bytes (UTF-8).
        length: usize,
        /// The most bytes a name may have here.
        capacity: usize,
    },
    /// A fixed capacity (layers, inputs, rank, …) is exceeded.
    Capacity {
        /// What there are too many of, in the plural (`"layers"`, `"model inputs"`, …).
        what: &'static str,
        /// The most of them this model or build holds.
        capacity: usize,
    },
    /// A layer's weights or output are bigger than kiln handles (see [`MAX_TENSOR_ELEMENTS`]).
    TooLarge {
        /// The layer whose tensor is too big.
        layer: Name,
        /// `"kernel"`, `"bias"`, … or `"output"`.
        what: &'static str,
        /// The shape of that tensor.
        shape: Shape,
    },
    /// The plan's arena does not fit the 32-bit size a blob (and a 32-bit target) records.
    ArenaTooLarge {
        /// The layer with the biggest tensor in the arena.
        layer: Name,
        /// That tensor's size in bytes.
        tensor_bytes: usize,
        /// The whole arena's size in bytes, as the plan would need it.
        arena_bytes: usize,
    },
    /// A model input has a shape the model cannot take.
    InputShape {
        /// Which model input (in `model.inputs` order).
        index: usize,
        /// The shape the model takes there.
        expected: Shape,
        /// The shape that was given.
        found: Shape,
    },
    /// Two layers of one model have the same name (Keras's message).
    DuplicateName {
        /// The repeated name.
        name: Name,
        /// How many layers carry it.
        count: usize,
    },
    /// A shape given to a layer cannot be made (an axis too big, too many axes).
    Shape {
        /// The layer the shape was for; empty for a shape made outside any layer.
        layer: Name,
        /// Why the shape cannot be made.
        error: crate::shape::ShapeError,
    },
    /// A layer's configuration is invalid (zero units, zero stride, …).
    InvalidConfig {
        /// The layer with the invalid configuration.
        layer: Name,
        /// What is wrong with it, in words.
        reason: &'static str,
    },
    /// A layer got an input whose shape it cannot take.
    IncompatibleInput {
        /// The layer that cannot take the input.
        layer: Name,
        /// The input's shape.
        found: Shape,
        /// What the layer takes, in words (`"a rank-4 input"`, …).
        expected: &'static str,
    },
    /// A layer was asked for something that needs its input shape first.
    Unbuilt {
        /// The layer without an input shape.
        layer: Name,
    },
    /// The weight buffer does not have the length (in bytes) the model needs.
    WeightsLength {
        /// The bytes of weights the model needs.
        expected: usize,
        /// The bytes the buffer has.
        found: usize,
    },
    /// The weight buffer does not start at a multiple of 4 bytes in memory.
    WeightsMisaligned,
    /// A layer needs what this build of kiln left out (an activation behind a cargo
    /// feature).
    LeftOut {
        /// The layer that needs it.
        layer: Name,
        /// What was left out and the cargo feature that brings it back.
        left_out: crate::ops::LeftOut,
    },
    /// A layer's tensors have a dtype its op has no kernel for.
    DTypeNotSupported {
        /// The layer without a kernel.
        layer: Name,
        /// The dtype of its tensors.
        dtype: crate::graph::DType,
    },
    /// A `predict` buffer's element type is not the model input's or output's dtype.
    BufferDType {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// Which input or output (in the model's order).
        index: usize,
        /// The model tensor's dtype.
        expected: crate::graph::DType,
        /// The buffer's element type.
        found: crate::graph::DType,
    },
    /// `predict` got the wrong number of input or output buffers.
    BufferCount {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// How many the model has.
        expected: usize,
        /// How many buffers were given.
        found: usize,
    },
    /// An input or output buffer has a length that does not fit the model.
    BufferLength {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// Which input or output (in the model's order).
        index: usize,
        /// The model tensor's shape (one sample's length is the product of all but the batch).
        shape: Shape,
        /// The buffer's length in values.
        found: usize,
    },
    /// Inputs disagree on the batch size.
    BatchMismatch {
        /// The batch size of the first input.
        first: usize,
        /// The different batch size of a later input.
        other: usize,
    },
    /// A dimension that must be known to run (not `None`) is unknown.
    UnknownDimension {
        /// The layer with the unknown dimension.
        layer: Name,
        /// The shape with the unknown axis.
        shape: Shape,
    },
    /// The arena lent to `predict` is smaller than the plan needs.
    ArenaTooSmall {
        /// The arena's length.
        given: usize,
        /// What is left of it once aligned for the tensors.
        usable: usize,
        /// What the plan needs, aligned.
        needed: usize,
        /// What to declare so that any placement of the arena works (`needed` plus slack).
        declare: usize,
    },
    /// `summary` cannot lay out or select what was asked.
    Summary(SummaryFailure),
    /// `get_layer` failed (the full Keras message is on [`crate::GetLayerError`]).
    NoSuchLayer,
    /// A model blob is corrupted, truncated or from another format version.
    #[cfg(feature = "format")]
    Blob(crate::format::BlobError),
    /// Training cannot start, or stopped (see [`crate::train`]).
    #[cfg(feature = "training")]
    Train(crate::train::TrainError),
}

impl Error {
    /// The layer the error names, if it names one.
    pub fn layer(&self) -> Option<&str> {
        match self {
            Error::InvalidConfig { layer, .. }
            | Error::IncompatibleInput { layer, .. }
            | Error::Unbuilt { layer }
            | Error::UnknownDimension { layer, .. }
            | Error::TooLarge { layer, .. }
            | Error::DTypeNotSupported { layer, .. }
            | Error::LeftOut { layer, .. }
            | Error::ArenaTooLarge { layer, .. } => Some(layer),
            Error::DuplicateName { name, .. } => Some(name),
            #[cfg(feature = "training")]
            Error::Train(
                crate::train::TrainError::NoBackward { layer, .. }
                | crate::train::TrainError::BatchStatistics { layer, .. }
                | crate::train::TrainError::NotFloat { layer },
            ) => Some(layer),
            Error::Shape { layer, .. } if !layer.is_empty() => Some(layer),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NameTooLong { length, capacity } => write!(
                f,
                "name of {length} bytes is too long: kiln stores names of at most {capacity} bytes"
            ),
            Error::Capacity { what, capacity } => {
                write!(f, "too many {what}: this model holds at most {capacity}")
            }
            Error::TooLarge { layer, what, shape } => write!(
                f,
                "layer '{layer}': its {what} {shape} has more values than kiln handles in one tensor ({MAX_TENSOR_ELEMENTS}, 4 GiB of float32)"
            ),
            Error::ArenaTooLarge {
                layer,
                tensor_bytes,
                arena_bytes,
            } => write!(
                f,
                "the arena would be {arena_bytes} bytes, more than the 4 GiB a blob or a 32-bit device addresses; the biggest tensor is the output of layer '{layer}' ({tensor_bytes} bytes)"
            ),
            Error::InputShape {
                index,
                expected,
                found,
            } => write!(f, "input {index}: expected {expected}, got {found}"),
            Error::DuplicateName { name, count } => write!(
                f,
                "The name \"{name}\" is used {count} times in the model. All operation names should be unique."
            ),
            Error::Shape { layer, error } if layer.is_empty() => write!(f, "{error}"),
            Error::Shape { layer, error } => write!(f, "layer '{layer}': {error}"),
            Error::InvalidConfig { layer, reason } => {
                write!(f, "layer '{layer}' has an invalid configuration: {reason}")
            }
            Error::IncompatibleInput {
                layer,
                found,
                expected,
            } => write!(
                f,
                "Input of layer '{layer}' is incompatible with the layer: expected {expected}, found shape={found}"
            ),
            Error::Unbuilt { layer } => write!(
                f,
                "layer '{layer}' is not built: give the model an Input or call build(input_shape) first"
            ),
            Error::WeightsLength { expected, found } => write!(
                f,
                "the model has {expected} bytes of weights but {found} were given"
            ),
            Error::WeightsMisaligned => f.write_str(
                "the weight buffer must start at a multiple of 4 bytes in memory (wrap a blob in kiln::format::AlignedBlob)",
            ),
            Error::LeftOut { layer, left_out } => write!(
                f,
                "layer '{layer}' needs {} but this build of kiln left it out: enable kiln's cargo feature \"{}\"",
                left_out.what, left_out.feature
            ),
            Error::DTypeNotSupported { layer, dtype } => write!(
                f,
                "layer '{layer}': kiln has no {dtype} kernel for this layer"
            ),
            Error::BufferDType {
                what,
                index,
                expected,
                found,
            } => write!(
                f,
                "{what} {index} holds {expected} values but a buffer of {found} was given"
            ),
            Error::BufferCount {
                what,
                expected,
                found,
            } => write!(f, "the model has {expected} {what}s but {found} buffers were given"),
            Error::BufferLength {
                what,
                index,
                shape,
                found,
            } => write!(
                f,
                "{what} {index} has shape {shape}: a buffer of {found} values is not a whole number of samples"
            ),
            Error::BatchMismatch { first, other } => write!(
                f,
                "all inputs must have the same batch size: found {first} and {other}"
            ),
            Error::UnknownDimension { layer, shape } => write!(
                f,
                "layer '{layer}' has shape {shape}: every dimension but the batch must be known to run; pass the input shape"
            ),
            Error::ArenaTooSmall {
                given,
                usable,
                needed,
                declare,
            } => write!(
                f,
                "the arena has {given} bytes ({usable} usable once aligned) but this model needs {needed}: declare {declare} bytes, which cover any alignment"
            ),
            Error::Summary(kind) => f.write_str(match kind {
                SummaryFailure::InsufficientWidth => "Insufficient console width to print summary.",
                SummaryFailure::LineTooLong => "summary line_length is wider than kiln lays out",
                SummaryFailure::Positions => "summary positions do not give one edge per column",
                SummaryFailure::LayerRangeNoMatch => "Passed layer_names do not match the layer names in the model.",
                SummaryFailure::Pattern => "a layer_range pattern is not a regular expression kiln supports",
                SummaryFailure::CellTooLong => "a summary cell is too long to format",
            }),
            Error::NoSuchLayer => f.write_str("No such layer"),
            #[cfg(feature = "format")]
            Error::Blob(e) => fmt::Display::fmt(e, f),
            #[cfg(feature = "training")]
            Error::Train(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// What kind of `summary` failure an [`Error::Summary`] was; the full message (with the
/// patterns) is on [`crate::summary::SummaryError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFailure {
    /// The columns do not fit the line (Keras's "Insufficient console width").
    InsufficientWidth,
    /// `line_length` is wider than kiln lays out.
    LineTooLong,
    /// `positions` do not give one edge per column.
    Positions,
    /// A `layer_range` pattern matches no layer.
    LayerRangeNoMatch,
    /// A `layer_range` pattern is not a regular expression kiln supports.
    Pattern,
    /// A cell's text is too long to format.
    CellTooLong,
}

#[cfg(feature = "summary")]
impl From<crate::summary::SummaryError<'_>> for Error {
    fn from(e: crate::summary::SummaryError<'_>) -> Self {
        use crate::summary::SummaryError as S;
        Error::Summary(match e {
            S::InsufficientWidth => SummaryFailure::InsufficientWidth,
            S::LineTooLong { .. } => SummaryFailure::LineTooLong,
            S::TooFewPositions { .. } | S::TooManyPositions | S::Position { .. } => {
                SummaryFailure::Positions
            }
            S::LayerRangeNoMatch { .. } => SummaryFailure::LayerRangeNoMatch,
            S::Pattern { .. } => SummaryFailure::Pattern,
            S::CellTooLong => SummaryFailure::CellTooLong,
        })
    }
}

/// A shape that cannot be made, outside any layer (`Shape::new(...)?`).
impl From<crate::shape::ShapeError> for Error {
    fn from(error: crate::shape::ShapeError) -> Self {
        Error::Shape {
            layer: Name::new(),
            error,
        }
    }
}

impl core::error::Error for Error {}
