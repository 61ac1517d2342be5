//! Reading TensorFlow Lite flatbuffers (`.tflite`) into a validated, plain description of
//! the model: [`parse`] for bytes, [`read`] for a file.
//!
//! The reader is in two layers, like a packet and its representation:
//! - `view` (private): typed accessors over the flatbuffer's tables, for just the tables and
//!   fields used here (field ids from TFLite's `schema.fbs`), each [`flatbuffers::Verifiable`]
//!   so that `flatbuffers`' `Verifier` checks the whole buffer, with bounds on its tables,
//!   depth and apparent size, before anything is read;
//! - this module: the owned [`TfliteModel`], built from the view and validated once, so that
//!   whoever maps it onto kiln's graph can index tensors, operator codes and buffers without
//!   checking them again.
//!
//! # What is validated
//! - the file identifier `TFL3` and schema version 3, and at least one subgraph;
//! - the flatbuffer structure (offsets, vtables, vector lengths, UTF-8 strings) of every
//!   table and field read, by the verifier;
//! - every tensor index of subgraph inputs and outputs and of operator inputs (where `-1`
//!   is an absent optional input, [`None`]) and outputs is in range, as are operator-code
//!   and buffer indices;
//! - shapes have no negative dimension (a `shape_signature` may have `-1`, and has the
//!   rank of the shape);
//! - constant data is `product(shape) × size` bytes for every fixed-size [`TensorType`]; data
//!   stored past the flatbuffer (`Buffer.offset`/`size`, models over 2 GB) lies in the file;
//! - quantization: as many scales as zero points; with more than one, `quantized_dimension`
//!   is an axis of the shape whose size is their count;
//! - the options of the operators with a decoded [`Options`] variant are of that operator's
//!   type, with known padding, activation and weights-format values and positive strides,
//!   dilations and filter sizes;
//! - sizes: no allocation is sized by a count from the file before the data it counts has
//!   been seen in the file; tables referred to many times (a flatbuffer is a DAG) are
//!   bounded by the verifier, at one table visited per 8 bytes of file and 4 times the
//!   file's bytes read; and the constant data copied out (a buffer may be shared by several
//!   tensors) adds up to at most twice the file's size.
//!
//! Not supported, and refused with a message saying so: sparse tensors and custom
//! quantization. Unknown builtin operators, options and tensor types are kept as `Other`.
//!
//! Nothing here panics, whatever the bytes (`tests/tflite_reader.rs` truncates and
//! bit-flips real files; the `tflite` fuzz target runs [`parse`]).

#![forbid(unsafe_code)]

mod ops;
mod view;

pub use ops::BuiltinOp;

use std::fmt;
use std::path::{Path, PathBuf};

use super::FormatError;
use view::{options_id, options_name, OutOfBounds, Scalars};

/// A `.tflite` model: its subgraphs, the first of which is the main one.
#[derive(Debug, Clone, PartialEq)]
pub struct TfliteModel {
    /// The schema version (always 3: other versions are refused).
    pub version: u32,
    /// The model's description (`"MLIR Converted."` from the converter), or empty.
    pub description: String,
    /// At least one subgraph; `subgraphs[0]` is the model.
    pub subgraphs: Vec<Subgraph>,
}

/// A graph of operators over tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Subgraph {
    /// The subgraph's name (`"main"`), or empty.
    pub name: String,
    /// All tensors; the indices below point into this.
    pub tensors: Vec<Tensor>,
    /// The tensors fed to the subgraph, in order.
    pub inputs: Vec<usize>,
    /// The tensors the subgraph produces, in order.
    pub outputs: Vec<usize>,
    /// The operators in execution order.
    pub operators: Vec<Operator>,
}

/// A tensor of a subgraph: an activation, or a constant when it has `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The tensor's name, or empty.
    pub name: String,
    /// The dimensions (NHWC for images), none negative; empty for a scalar.
    pub shape: Vec<i32>,
    /// The shape with `-1` for unknown dimensions (the batch, usually), when the file has it.
    pub shape_signature: Option<Vec<i32>>,
    /// The element type.
    pub dtype: TensorType,
    /// The constant data, little-endian, `product(shape) × dtype.size()` bytes for a
    /// fixed-size type; `None` for a tensor without data (an empty buffer).
    pub data: Option<Vec<u8>>,
    /// The quantization, `None` when the file has no scales.
    pub quantization: Option<Quantization>,
    /// Whether the tensor is a variable (state an operator updates).
    pub is_variable: bool,
}

/// The element type of a tensor (`enum TensorType` of the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TensorType {
    /// `FLOAT32` (0).
    Float32,
    /// `FLOAT16` (1).
    Float16,
    /// `INT32` (2).
    Int32,
    /// `UINT8` (3).
    UInt8,
    /// `INT64` (4).
    Int64,
    /// `STRING` (5): variable-size data, not checked against the shape.
    String,
    /// `BOOL` (6), one byte each.
    Bool,
    /// `INT16` (7).
    Int16,
    /// `INT8` (9).
    Int8,
    /// `FLOAT64` (10).
    Float64,
    /// Any other type code (complex, unsigned 16–64, int4, bfloat16, resource, variant, …):
    /// its data is not checked against the shape.
    Other(i8),
}

impl TensorType {
    fn from_code(code: i8) -> TensorType {
        match code {
            0 => TensorType::Float32,
            1 => TensorType::Float16,
            2 => TensorType::Int32,
            3 => TensorType::UInt8,
            4 => TensorType::Int64,
            5 => TensorType::String,
            6 => TensorType::Bool,
            7 => TensorType::Int16,
            9 => TensorType::Int8,
            10 => TensorType::Float64,
            other => TensorType::Other(other),
        }
    }

    /// The type's name as NumPy (and TFLite's Python interpreter) spells it: `"int8"`,
    /// `"float32"`, …, `"bool"`, `"string"`; `"unknown"` for [`TensorType::Other`].
    pub fn name(&self) -> &'static str {
        match self {
            TensorType::Float32 => "float32",
            TensorType::Float16 => "float16",
            TensorType::Int32 => "int32",
            TensorType::UInt8 => "uint8",
            TensorType::Int64 => "int64",
            TensorType::String => "string",
            TensorType::Bool => "bool",
            TensorType::Int16 => "int16",
            TensorType::Int8 => "int8",
            TensorType::Float64 => "float64",
            TensorType::Other(_) => "unknown",
        }
    }

    /// The size of one element in bytes; `None` for strings and other types.
    pub fn size(&self) -> Option<usize> {
        match self {
            TensorType::UInt8 | TensorType::Int8 | TensorType::Bool => Some(1),
            TensorType::Float16 | TensorType::Int16 => Some(2),
            TensorType::Float32 | TensorType::Int32 => Some(4),
            TensorType::Int64 | TensorType::Float64 => Some(8),
            TensorType::String | TensorType::Other(_) => None,
        }
    }
}

/// The name, or `type 8` for [`TensorType::Other`].
impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorType::Other(code) => write!(f, "type {code}"),
            t => f.write_str(t.name()),
        }
    }
}

/// Affine quantization: `real = scale × (q − zero_point)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantization {
    /// One scale per tensor, or one per index of `quantized_dimension`.
    pub scale: Vec<f32>,
    /// As many zero points as scales.
    pub zero_point: Vec<i64>,
    /// The axis the scales run along when there are several (checked to be an axis of the
    /// shape of that size); as the file says otherwise.
    pub quantized_dimension: i32,
}

/// An operator of a subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// What it computes.
    pub op: BuiltinOp,
    /// The version of its operator code.
    pub version: i32,
    /// The tensors it reads; `None` where an optional input is absent (`-1` in the file).
    pub inputs: Vec<Option<usize>>,
    /// The tensors it writes.
    pub outputs: Vec<usize>,
    /// Its builtin options.
    pub options: Options,
}

/// A fused activation function (`enum ActivationFunctionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `NONE`.
    None,
    /// `RELU`.
    Relu,
    /// `RELU_N1_TO_1`: clamp to [-1, 1].
    ReluN1To1,
    /// `RELU6`.
    Relu6,
    /// `TANH`.
    Tanh,
    /// `SIGN_BIT`.
    SignBit,
}

/// The padding of a convolution or pool (`enum Padding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// `SAME`: the output has `ceil(input / stride)` positions.
    Same,
    /// `VALID`: no padding.
    Valid,
}

/// The weights layout of a fully connected operator (`FullyConnectedOptionsWeightsFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightsFormat {
    /// `DEFAULT`: `[outputs, inputs]`, row-major.
    Default,
    /// `SHUFFLED4x16INT8`.
    Shuffled4x16Int8,
}

/// The builtin options of an operator. The decoded variants belong to one operator each
/// (or to a family: the 2-D pools, the reductions); any other options table is
/// [`Options::Other`] with its `BuiltinOptions` union type id.
#[derive(Debug, Clone, PartialEq)]
pub enum Options {
    /// The operator has no options table.
    None,
    /// `Conv2DOptions` of `CONV_2D`.
    Conv2D {
        /// How the input is padded.
        padding: Padding,
        /// The horizontal stride, at least 1.
        stride_w: u32,
        /// The vertical stride, at least 1.
        stride_h: u32,
        /// The fused activation.
        activation: Activation,
        /// The horizontal dilation, at least 1.
        dilation_w: u32,
        /// The vertical dilation, at least 1.
        dilation_h: u32,
    },
    /// `DepthwiseConv2DOptions` of `DEPTHWISE_CONV_2D`.
    DepthwiseConv2D {
        /// How the input is padded.
        padding: Padding,
        /// The horizontal stride, at least 1.
        stride_w: u32,
        /// The vertical stride, at least 1.
        stride_h: u32,
        /// Output channels per input channel, as stored (TFLite ≥ 2.1 ignores it and
        /// derives it from the shapes).
        depth_multiplier: i32,
        /// The fused activation.
        activation: Activation,
        /// The horizontal dilation, at least 1.
        dilation_w: u32,
        /// The vertical dilation, at least 1.
        dilation_h: u32,
    },
    /// `FullyConnectedOptions` of `FULLY_CONNECTED`.
    FullyConnected {
        /// The fused activation.
        activation: Activation,
        /// The weights layout.
        weights_format: WeightsFormat,
        /// Whether the output keeps the input's rank.
        keep_num_dims: bool,
        /// Hybrid models only: quantize inputs asymmetrically.
        asymmetric_quantize_inputs: bool,
    },
    /// `Pool2DOptions` of `AVERAGE_POOL_2D`, `MAX_POOL_2D` and `L2_POOL_2D`.
    Pool2D {
        /// How the input is padded.
        padding: Padding,
        /// The horizontal stride, at least 1.
        stride_w: u32,
        /// The vertical stride, at least 1.
        stride_h: u32,
        /// The window width, at least 1.
        filter_w: u32,
        /// The window height, at least 1.
        filter_h: u32,
        /// The fused activation.
        activation: Activation,
    },
    /// `ReshapeOptions` of `RESHAPE` (the converter also gives the shape as a second input).
    Reshape {
        /// The output shape, `-1` for the dimension to infer; empty if the table has none.
        new_shape: Vec<i32>,
    },
    /// `SoftmaxOptions` of `SOFTMAX`.
    Softmax {
        /// The inverse temperature.
        beta: f32,
    },
    /// `ConcatenationOptions` of `CONCATENATION`.
    Concatenation {
        /// The axis, negative counting from the last.
        axis: i32,
        /// The fused activation.
        activation: Activation,
    },
    /// `AddOptions` of `ADD`.
    Add {
        /// The fused activation.
        activation: Activation,
    },
    /// `ReducerOptions` of `MEAN`, `SUM`, `REDUCE_PROD`, `REDUCE_MAX` and `REDUCE_MIN`.
    Reducer {
        /// Whether reduced axes stay, with size 1.
        keep_dims: bool,
    },
    /// Another options table, by its `BuiltinOptions` union type id (not read).
    Other(u8),
}

/// Why bytes are not a usable `.tflite` model. Every message is one line saying what is
/// wrong and where, e.g. `operator 3 (CONV_2D) reads tensor 57, but the subgraph has 40
/// tensors` (operators and tensors of a subgraph other than the first are prefixed with
/// `subgraph N: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TfliteError {
    /// The bytes are not a TFLite flatbuffer: too short, or without the `TFL3` identifier.
    #[error("not a TFLite model: {0}")]
    NotTflite(String),
    /// The flatbuffer's structure is broken (truncated, an offset out of the buffer, …).
    #[error("corrupt TFLite flatbuffer: {0}")]
    Corrupt(String),
    /// The flatbuffer is sound but the model in it is not (an index out of range, data of
    /// the wrong size, …), or uses something this reader does not support.
    #[error("{0}")]
    Invalid(String),
}

/// Why [`read`] failed: the file could not be read, or its bytes are not a model.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read (missing, a directory, over the size limit, …).
    #[error(transparent)]
    File(#[from] FormatError),
    /// The file's bytes are not a usable `.tflite` model.
    #[error("{}: {error}", file.display())]
    Model {
        /// The file, as the caller spelled it.
        file: PathBuf,
        /// What is wrong with it.
        error: TfliteError,
    },
}

/// Reads and parses a `.tflite` file (at most [`super::file::MAX_FILE_BYTES`], like every
/// file kiln reads); every error names the file.
pub fn read(path: impl AsRef<Path>) -> Result<TfliteModel, ReadError> {
    let path = path.as_ref();
    let bytes = super::file::read(path)?;
    parse(&bytes).map_err(|error| ReadError::Model {
        file: path.to_path_buf(),
        error,
    })
}

/// The file identifier of TFLite flatbuffers.
const IDENTIFIER: &[u8; 4] = b"TFL3";
/// The schema version this reader knows.
const SCHEMA_VERSION: u32 = 3;

/// Parses the bytes of a `.tflite` file: verifies the flatbuffer, then builds and
/// validates the model (see the module documentation for what is checked).
pub fn parse(bytes: &[u8]) -> Result<TfliteModel, TfliteError> {
    if bytes.len() < 8 {
        return Err(TfliteError::NotTflite(format!(
            "{} bytes, too short for a flatbuffer",
            bytes.len()
        )));
    }
    let identifier = &bytes[4..8];
    if identifier != IDENTIFIER {
        let hint = if bytes.starts_with(b"PK") {
            " (it is a zip archive, e.g. a .keras file)"
        } else {
            ""
        };
        return Err(TfliteError::NotTflite(format!(
            "its file identifier is \"{}\", not \"TFL3\"{hint}",
            identifier.escape_ascii()
        )));
    }
    view::verify(bytes).map_err(|e| TfliteError::Corrupt(describe_invalid(&e, bytes.len())))?;
    Reader {
        bytes,
        data_budget: bytes.len().saturating_mul(2),
    }
    .model()
}

/// One line for a verifier error: what, and the path of fields to it.
fn describe_invalid(error: &flatbuffers::InvalidFlatbuffer, len: usize) -> String {
    use flatbuffers::{ErrorTraceDetail, InvalidFlatbuffer as E};
    let (what, trace) = match error {
        E::MissingRequiredField {
            required,
            error_trace,
        } => (format!("missing required field {required}"), error_trace),
        E::InconsistentUnion {
            field,
            field_type,
            error_trace,
        } => (
            format!("only one of the union fields {field_type} and {field} is present"),
            error_trace,
        ),
        E::Utf8Error {
            range, error_trace, ..
        } => (
            format!(
                "the string at bytes {}..{} is not UTF-8",
                range.start, range.end
            ),
            error_trace,
        ),
        E::MissingNullTerminator { range, error_trace } => (
            format!(
                "the string at bytes {}..{} has no terminating zero",
                range.start, range.end
            ),
            error_trace,
        ),
        E::Unaligned {
            position,
            unaligned_type,
            error_trace,
        } => (
            format!("the {unaligned_type} at byte {position} is misaligned"),
            error_trace,
        ),
        E::RangeOutOfBounds { range, error_trace } => (
            format!(
                "bytes {}..{} are past the end of the file ({len} bytes)",
                range.start, range.end
            ),
            error_trace,
        ),
        E::SignedOffsetOutOfBounds {
            soffset,
            position,
            error_trace,
        } => (
            format!("the vtable offset {soffset} at byte {position} points out of the file"),
            error_trace,
        ),
        E::TooManyTables => {
            return "its tables are referred to too many times for the file's size".into()
        }
        E::ApparentSizeTooLarge => {
            return "its tables refer to the same data too many times for the file's size".into()
        }
        E::DepthLimitReached => return "tables nested too deep".into(),
    };
    // The trace runs from the failing field out to the root.
    let mut path = String::new();
    for detail in trace.as_ref().iter().rev() {
        match detail {
            ErrorTraceDetail::TableField { field_name, .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(field_name);
            }
            ErrorTraceDetail::VectorElement { index, .. } => path.push_str(&format!("[{index}]")),
            ErrorTraceDetail::UnionVariant { variant, .. } => {
                path.push_str(&format!("<{variant}>"))
            }
        }
    }
    if path.is_empty() {
        what
    } else {
        format!("{what}, in {path}")
    }
}

impl From<OutOfBounds> for TfliteError {
    fn from(OutOfBounds(at): OutOfBounds) -> Self {
        TfliteError::Corrupt(format!("unverified read at byte {at}"))
    }
}

fn invalid(detail: impl Into<String>) -> TfliteError {
    TfliteError::Invalid(detail.into())
}

/// The conversion from the verified view to the plain model.
struct Reader<'a> {
    bytes: &'a [u8],
    /// Bytes of constant data that may still be copied out.
    data_budget: usize,
}

/// An operator code, resolved.
struct Code {
    op: BuiltinOp,
    version: i32,
}

impl<'a> Reader<'a> {
    fn model(mut self) -> Result<TfliteModel, TfliteError> {
        let model = view::root(self.bytes)?;
        let version = model.version()?;
        if version != SCHEMA_VERSION {
            return Err(invalid(format!(
                "schema version {version}, but kiln reads version {SCHEMA_VERSION}"
            )));
        }
        let codes = model
            .operator_codes()?
            .iter()
            .enumerate()
            .map(|(i, code)| {
                let code = view::OperatorCode::from(code?);
                let builtin = i32::from(code.deprecated_builtin_code()?).max(code.builtin_code()?);
                let op = BuiltinOp::from_code(builtin, code.custom_code()?).ok_or_else(|| {
                    invalid(format!(
                        "operator code {i} is CUSTOM but has no custom_code"
                    ))
                })?;
                Ok(Code {
                    op,
                    version: code.version()?,
                })
            })
            .collect::<Result<Vec<_>, TfliteError>>()?;
        let buffers = model.buffers()?;
        let subgraphs = model
            .subgraphs()?
            .iter()
            .enumerate()
            .map(|(s, subgraph)| self.subgraph(s, subgraph?.into(), &codes, buffers))
            .collect::<Result<Vec<_>, TfliteError>>()?;
        if subgraphs.is_empty() {
            return Err(invalid("the model has no subgraph"));
        }
        Ok(TfliteModel {
            version,
            description: model.description()?.unwrap_or_default().to_owned(),
            subgraphs,
        })
    }

    fn subgraph(
        &mut self,
        s: usize,
        subgraph: view::SubGraph<'a>,
        codes: &[Code],
        buffers: view::Tables<'a>,
    ) -> Result<Subgraph, TfliteError> {
        let at = if s == 0 {
            String::new()
        } else {
            format!("subgraph {s}: ")
        };
        let tensors = subgraph
            .tensors()?
            .iter()
            .enumerate()
            .map(|(t, tensor)| self.tensor(&at, t, tensor?.into(), buffers))
            .collect::<Result<Vec<_>, TfliteError>>()?;
        let count = tensors.len();
        let index = |what: &dyn Fn() -> String, t: i32| -> Result<usize, TfliteError> {
            match usize::try_from(t) {
                Ok(t) if t < count => Ok(t),
                _ => Err(invalid(format!(
                    "{at}{} tensor {t}, but the subgraph has {count} tensors",
                    what()
                ))),
            }
        };
        let io = |list: Option<Scalars<'a, i32>>, what: &str| {
            list.iter()
                .flat_map(|l| l.iter())
                .enumerate()
                .map(|(k, t)| index(&|| format!("{what} {k} is"), t))
                .collect::<Result<Vec<_>, TfliteError>>()
        };
        let inputs = io(subgraph.inputs()?, "input")?;
        let outputs = io(subgraph.outputs()?, "output")?;
        let operators = subgraph
            .operators()?
            .iter()
            .enumerate()
            .map(|(i, operator)| {
                let operator = view::Operator::from(operator?);
                let code_index = operator.opcode_index()?;
                let code = usize::try_from(code_index)
                    .ok()
                    .and_then(|c| codes.get(c))
                    .ok_or_else(|| {
                        invalid(format!(
                            "{at}operator {i} uses operator code {code_index}, but the model has {} operator codes",
                            codes.len()
                        ))
                    })?;
                let name = || format!("operator {i} ({})", code.op);
                let inputs = operator
                    .inputs()?
                    .iter()
                    .flat_map(|l| l.iter())
                    .map(|t| match t {
                        -1 => Ok(None),
                        t => index(&|| format!("{} reads", name()), t).map(Some),
                    })
                    .collect::<Result<Vec<_>, TfliteError>>()?;
                let outputs = operator
                    .outputs()?
                    .iter()
                    .flat_map(|l| l.iter())
                    .map(|t| index(&|| format!("{} writes", name()), t))
                    .collect::<Result<Vec<_>, TfliteError>>()?;
                let options = options(&code.op, operator)
                    .map_err(|e| match e {
                        OptionsError::Read(e) => e.into(),
                        OptionsError::Invalid(detail) => {
                            invalid(format!("{at}{}: {detail}", name()))
                        }
                    })?;
                Ok(Operator {
                    op: code.op.clone(),
                    version: code.version,
                    inputs,
                    outputs,
                    options,
                })
            })
            .collect::<Result<Vec<_>, TfliteError>>()?;
        Ok(Subgraph {
            name: subgraph.name()?.unwrap_or_default().to_owned(),
            tensors,
            inputs,
            outputs,
            operators,
        })
    }

    fn tensor(
        &mut self,
        at: &str,
        t: usize,
        tensor: view::Tensor<'a>,
        buffers: view::Tables<'a>,
    ) -> Result<Tensor, TfliteError> {
        let name = tensor.name()?.unwrap_or_default();
        let err = |detail: String| invalid(format!("{at}tensor {t} ({name:?}): {detail}"));
        let shape: Vec<i32> = tensor.shape()?.iter().flat_map(|s| s.iter()).collect();
        if shape.iter().any(|&d| d < 0) {
            return Err(err(format!("shape {shape:?} has a negative dimension")));
        }
        let shape_signature: Option<Vec<i32>> =
            tensor.shape_signature()?.map(|s| s.iter().collect());
        if let Some(signature) = &shape_signature {
            if signature.len() != shape.len() || signature.iter().any(|&d| d < -1) {
                return Err(err(format!(
                    "shape signature {signature:?} does not fit shape {shape:?}"
                )));
            }
        }
        let dtype = TensorType::from_code(tensor.dtype()?);
        if tensor.is_sparse()? {
            return Err(err("sparse tensors are not supported".into()));
        }
        let data = self.data(tensor.buffer()?, buffers).map_err(|e| match e {
            DataError::Read(e) => e.into(),
            DataError::Invalid(detail) => err(detail),
        })?;
        if let (Some(data), Some(size)) = (&data, dtype.size()) {
            let expected = shape
                .iter()
                .try_fold(size, |n, &d| n.checked_mul(d as usize));
            if expected != Some(data.len()) {
                return Err(err(format!(
                    "constant data has {} bytes, but shape {shape:?} of {dtype} needs {}",
                    data.len(),
                    expected.map_or_else(|| "more than fit in memory".into(), |n| n.to_string())
                )));
            }
        }
        let quantization = match tensor.quantization()? {
            Some(q) => quantization(q, &shape).map_err(|e| match e {
                DataError::Read(e) => e.into(),
                DataError::Invalid(detail) => err(detail),
            })?,
            None => None,
        };
        Ok(Tensor {
            name: name.to_owned(),
            shape,
            shape_signature,
            dtype,
            data,
            quantization,
            is_variable: tensor.is_variable()?,
        })
    }

    /// The constant data of buffer `index`, copied out of the file.
    fn data(
        &mut self,
        index: u32,
        buffers: view::Tables<'a>,
    ) -> Result<Option<Vec<u8>>, DataError> {
        if index == 0 && buffers.len() == 0 {
            // Buffer 0 is the empty sentinel; a model without constants may leave it out.
            return Ok(None);
        }
        let buffer = view::Buffer::from(buffers.get(index as usize).ok_or_else(|| {
            DataError::Invalid(format!(
                "uses buffer {index}, but the model has {} buffers",
                buffers.len()
            ))
        })??);
        let inline = buffer.data()?.unwrap_or_default();
        let (offset, size) = (buffer.offset()?, buffer.size()?);
        // Models over 2 GB keep the data after the flatbuffer; the offset counts from the
        // start of the file and means something only when it is over 1.
        let data = if offset > 1 {
            if !inline.is_empty() {
                return Err(DataError::Invalid(format!(
                    "buffer {index} has both inline data and an offset"
                )));
            }
            usize::try_from(offset)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(start, size)| Some((start, start.checked_add(size)?)))
                .and_then(|(start, end)| self.bytes.get(start..end))
                .ok_or_else(|| {
                    DataError::Invalid(format!(
                        "buffer {index} is at bytes {offset}..{}, past the end of the file ({} bytes)",
                        offset.saturating_add(size),
                        self.bytes.len()
                    ))
                })?
        } else {
            inline
        };
        if data.is_empty() {
            return Ok(None);
        }
        self.data_budget = self.data_budget.checked_sub(data.len()).ok_or_else(|| {
            DataError::Invalid(format!(
                "buffer {index}: the tensors' constant data adds up to more than twice the file's {} bytes (buffers shared by too many tensors)",
                self.bytes.len()
            ))
        })?;
        Ok(Some(data.to_vec()))
    }
}

/// An error of a part that does not know its tensor or operator.
enum DataError {
    Read(OutOfBounds),
    Invalid(String),
}

impl From<OutOfBounds> for DataError {
    fn from(e: OutOfBounds) -> Self {
        DataError::Read(e)
    }
}

fn quantization(
    q: view::Quantization<'_>,
    shape: &[i32],
) -> Result<Option<Quantization>, DataError> {
    let scale: Vec<f32> = q.scale()?.iter().flat_map(|s| s.iter()).collect();
    let zero_point: Vec<i64> = q.zero_point()?.iter().flat_map(|z| z.iter()).collect();
    if q.details_type()? != 0 {
        return Err(DataError::Invalid(
            "custom quantization is not supported".into(),
        ));
    }
    if scale.is_empty() && zero_point.is_empty() {
        return Ok(None);
    }
    if scale.len() != zero_point.len() {
        return Err(DataError::Invalid(format!(
            "quantization has {} scales but {} zero points",
            scale.len(),
            zero_point.len()
        )));
    }
    let quantized_dimension = q.quantized_dimension()?;
    if scale.len() > 1 {
        let dim = usize::try_from(quantized_dimension)
            .ok()
            .and_then(|d| shape.get(d));
        match dim {
            Some(&d) if d as usize == scale.len() => {}
            Some(&d) => {
                return Err(DataError::Invalid(format!(
                    "quantization has {} scales along axis {quantized_dimension}, which has size {d}",
                    scale.len()
                )))
            }
            None => {
                return Err(DataError::Invalid(format!(
                    "quantization runs along axis {quantized_dimension}, but shape {shape:?} has {} axes",
                    shape.len()
                )))
            }
        }
    }
    Ok(Some(Quantization {
        scale,
        zero_point,
        quantized_dimension,
    }))
}

enum OptionsError {
    Read(OutOfBounds),
    Invalid(String),
}

impl From<OutOfBounds> for OptionsError {
    fn from(e: OutOfBounds) -> Self {
        OptionsError::Read(e)
    }
}

/// The union type id and table name of the options an operator has.
fn expected_options(op: &BuiltinOp) -> Option<(u8, &'static str)> {
    use BuiltinOp as B;
    Some(match op {
        B::Conv2D => (options_id::CONV_2D, "Conv2DOptions"),
        B::DepthwiseConv2D => (options_id::DEPTHWISE_CONV_2D, "DepthwiseConv2DOptions"),
        B::AveragePool2D | B::MaxPool2D | B::L2Pool2D => (options_id::POOL_2D, "Pool2DOptions"),
        B::FullyConnected => (options_id::FULLY_CONNECTED, "FullyConnectedOptions"),
        B::Softmax => (options_id::SOFTMAX, "SoftmaxOptions"),
        B::Concatenation => (options_id::CONCATENATION, "ConcatenationOptions"),
        B::Add => (options_id::ADD, "AddOptions"),
        B::Reshape => (options_id::RESHAPE, "ReshapeOptions"),
        B::Mean | B::Sum | B::ReduceProd | B::ReduceMax | B::ReduceMin => {
            (options_id::REDUCER, "ReducerOptions")
        }
        _ => return None,
    })
}

fn options(op: &BuiltinOp, operator: view::Operator<'_>) -> Result<Options, OptionsError> {
    let kind = operator.options_type()?;
    let table = operator.options()?;
    let (Some(table), true) = (table, kind != 0) else {
        return Ok(Options::None);
    };
    let expected = expected_options(op);
    match expected {
        Some((id, _)) if id == kind => {}
        _ => {
            let Some(found) = options_name(kind) else {
                return match expected {
                    Some((_, name)) => Err(OptionsError::Invalid(format!(
                        "has options of union type {kind}, not {name}"
                    ))),
                    None => Ok(Options::Other(kind)),
                };
            };
            return Err(OptionsError::Invalid(match expected {
                Some((_, name)) => format!("has {found}, not {name}"),
                None => format!("has {found}, which no {op} has"),
            }));
        }
    }
    let padding = |id| match table.i8(id, 0)? {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        p => Err(OptionsError::Invalid(format!(
            "padding {p} is neither SAME (0) nor VALID (1)"
        ))),
    };
    let activation = |id| {
        Ok(match table.i8(id, 0)? {
            0 => Activation::None,
            1 => Activation::Relu,
            2 => Activation::ReluN1To1,
            3 => Activation::Relu6,
            4 => Activation::Tanh,
            5 => Activation::SignBit,
            a => {
                return Err(OptionsError::Invalid(format!(
                    "fused activation {a} is not one of TFLite's (0 to 5)"
                )))
            }
        })
    };
    let positive = |id, default, what: &str| {
        let v = table.i32(id, default)?;
        u32::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| OptionsError::Invalid(format!("{what} {v} is not positive")))
    };
    // Field ids of each table: see view.rs.
    Ok(match kind {
        options_id::CONV_2D => Options::Conv2D {
            padding: padding(0)?,
            stride_w: positive(1, 0, "stride_w")?,
            stride_h: positive(2, 0, "stride_h")?,
            activation: activation(3)?,
            dilation_w: positive(4, 1, "dilation_w_factor")?,
            dilation_h: positive(5, 1, "dilation_h_factor")?,
        },
        options_id::DEPTHWISE_CONV_2D => Options::DepthwiseConv2D {
            padding: padding(0)?,
            stride_w: positive(1, 0, "stride_w")?,
            stride_h: positive(2, 0, "stride_h")?,
            depth_multiplier: table.i32(3, 0)?,
            activation: activation(4)?,
            dilation_w: positive(5, 1, "dilation_w_factor")?,
            dilation_h: positive(6, 1, "dilation_h_factor")?,
        },
        options_id::POOL_2D => Options::Pool2D {
            padding: padding(0)?,
            stride_w: positive(1, 0, "stride_w")?,
            stride_h: positive(2, 0, "stride_h")?,
            filter_w: positive(3, 0, "filter_width")?,
            filter_h: positive(4, 0, "filter_height")?,
            activation: activation(5)?,
        },
        options_id::FULLY_CONNECTED => Options::FullyConnected {
            activation: activation(0)?,
            weights_format: match table.i8(1, 0)? {
                0 => WeightsFormat::Default,
                1 => WeightsFormat::Shuffled4x16Int8,
                w => {
                    return Err(OptionsError::Invalid(format!(
                        "weights format {w} is neither DEFAULT (0) nor SHUFFLED4x16INT8 (1)"
                    )))
                }
            },
            keep_num_dims: table.bool(2)?,
            asymmetric_quantize_inputs: table.bool(3)?,
        },
        options_id::SOFTMAX => Options::Softmax {
            beta: table.f32(0, 0.0)?,
        },
        options_id::CONCATENATION => Options::Concatenation {
            axis: table.i32(0, 0)?,
            activation: activation(1)?,
        },
        options_id::ADD => Options::Add {
            activation: activation(0)?,
        },
        options_id::RESHAPE => Options::Reshape {
            new_shape: table.i32s(0)?.iter().flat_map(|s| s.iter()).collect(),
        },
        options_id::REDUCER => Options::Reducer {
            keep_dims: table.bool(0)?,
        },
        other => Options::Other(other),
    })
}
