//! TFLite's builtin operators: the common ones by name, the rest by code.

use std::fmt;

macro_rules! builtin_ops {
    ($($variant:ident = $code:literal,)*) => {
        /// The operator an [`Operator`](super::Operator) runs, resolved from its operator
        /// code: the larger of `deprecated_builtin_code` (int8) and `builtin_code` (int32),
        /// as TFLite resolves it.
        ///
        /// The operators int8 models for microcontrollers use have a variant; every other
        /// builtin is [`BuiltinOp::Other`] with its code, and [`BuiltinOp::name`] still
        /// gives its TFLite name.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum BuiltinOp {
            $(#[doc = concat!("Builtin code ", stringify!($code), ".")] $variant,)*
            /// A custom operator (builtin code 32, `CUSTOM`), with its `custom_code`.
            Custom(String),
            /// Any other builtin code.
            Other(i32),
        }

        impl BuiltinOp {
            /// The operator of builtin code `code`; `None` for code 32 (`CUSTOM`) without a
            /// `custom_code`.
            pub(super) fn from_code(code: i32, custom_code: Option<&str>) -> Option<BuiltinOp> {
                Some(match code {
                    $($code => BuiltinOp::$variant,)*
                    CUSTOM => BuiltinOp::Custom(custom_code?.to_owned()),
                    other => BuiltinOp::Other(other),
                })
            }

            /// The builtin code (32 for a custom operator).
            pub fn code(&self) -> i32 {
                match self {
                    $(BuiltinOp::$variant => $code,)*
                    BuiltinOp::Custom(_) => CUSTOM,
                    BuiltinOp::Other(code) => *code,
                }
            }
        }
    };
}

/// The builtin code of custom operators.
const CUSTOM: i32 = 32;

builtin_ops! {
    Add = 0,
    AveragePool2D = 1,
    Concatenation = 2,
    Conv2D = 3,
    DepthwiseConv2D = 4,
    DepthToSpace = 5,
    Dequantize = 6,
    Floor = 8,
    FullyConnected = 9,
    L2Normalization = 11,
    L2Pool2D = 12,
    Logistic = 14,
    MaxPool2D = 17,
    Mul = 18,
    Relu = 19,
    ReluN1To1 = 20,
    Relu6 = 21,
    Reshape = 22,
    ResizeBilinear = 23,
    Softmax = 25,
    SpaceToDepth = 26,
    Tanh = 28,
    Pad = 34,
    Gather = 36,
    BatchToSpaceNd = 37,
    SpaceToBatchNd = 38,
    Transpose = 39,
    Mean = 40,
    Sub = 41,
    Div = 42,
    Squeeze = 43,
    StridedSlice = 45,
    Exp = 47,
    Split = 49,
    LogSoftmax = 50,
    Cast = 53,
    Prelu = 54,
    Maximum = 55,
    ArgMax = 56,
    Minimum = 57,
    PadV2 = 60,
    Slice = 65,
    TransposeConv = 67,
    Tile = 69,
    ExpandDims = 70,
    Sum = 74,
    Sqrt = 75,
    Rsqrt = 76,
    Shape = 77,
    ArgMin = 79,
    ReduceProd = 81,
    ReduceMax = 82,
    Pack = 83,
    Unpack = 88,
    ReduceMin = 89,
    Square = 92,
    ResizeNearestNeighbor = 97,
    LeakyRelu = 98,
    SquaredDifference = 99,
    MirrorPad = 100,
    Abs = 101,
    SplitV = 102,
    AddN = 106,
    Elu = 111,
    Quantize = 114,
    HardSwish = 117,
    BatchMatMul = 126,
    Gelu = 150,
}

impl BuiltinOp {
    /// TFLite's name of the operator (`"FULLY_CONNECTED"`), as its Python interpreter
    /// reports it: the custom code of a custom operator, and `"UNKNOWN"` for a builtin code
    /// this reader has no name for.
    pub fn name(&self) -> &str {
        match self {
            BuiltinOp::Custom(name) => name,
            op => usize::try_from(op.code())
                .ok()
                .and_then(|code| BUILTIN_NAMES.get(code))
                .copied()
                .unwrap_or("UNKNOWN"),
        }
    }
}

/// The name, or `builtin operator 250` for a code without one.
impl fmt::Display for BuiltinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuiltinOp::Other(code) if self.name() == "UNKNOWN" => {
                write!(f, "builtin operator {code}")
            }
            op => f.write_str(op.name()),
        }
    }
}

/// The names of builtin codes 0 to 206 (`enum BuiltinOperator` of TFLite's schema; the
/// codes after 206 differ between TFLite versions).
const BUILTIN_NAMES: [&str; 207] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
];
