//! The raw view of a `.tflite` flatbuffer: the schema's tables as typed, bounds-checked
//! accessors over the bytes, and their [`Verifiable`] implementations.
//!
//! Only the tables and fields the reader uses are described. Field `n` of a table (its
//! declaration order in TFLite's `schema.fbs`, a union counting as two fields: its type, then
//! its value) sits at vtable offset `4 + 2n`.
//!
//! [`verify`] runs `flatbuffers`' [`Verifier`] over the whole model first; the accessors then
//! only read what it checked. They still check every index themselves (the read side of the
//! `flatbuffers` crate is `unsafe` API, which kiln does not use), so a disagreement between
//! the two can only give an [`OutOfBounds`] error, never a panic or an unchecked read.

use flatbuffers::{ForwardsUOffset, InvalidFlatbuffer, Vector, Verifiable, Verifier};

/// The vtable offset of field `id`.
const fn vt(id: u16) -> u16 {
    4 + 2 * id
}

/// A read the verifier should have ruled out, at this byte of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutOfBounds(pub usize);

type Read<T> = Result<T, OutOfBounds>;

fn array<const N: usize>(buf: &[u8], pos: usize) -> Read<[u8; N]> {
    pos.checked_add(N)
        .and_then(|end| buf.get(pos..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(OutOfBounds(pos))
}

fn u32_at(buf: &[u8], pos: usize) -> Read<u32> {
    array(buf, pos).map(u32::from_le_bytes)
}

/// Follows the `uoffset` at `pos`.
fn follow(buf: &[u8], pos: usize) -> Read<usize> {
    let offset = u32_at(buf, pos)?;
    pos.checked_add(offset as usize).ok_or(OutOfBounds(pos))
}

/// A little-endian scalar of the flatbuffer.
pub(super) trait Scalar: Sized + Copy + 'static {
    /// Its size in bytes.
    const SIZE: usize;
    /// Decodes it from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl Scalar for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn decode(bytes: &[u8]) -> Self {
                let mut le = [0u8; std::mem::size_of::<$t>()];
                le.copy_from_slice(bytes);
                <$t>::from_le_bytes(le)
            }
        }
    )*};
}
scalar!(u8, i8, u16, i32, u32, u64, i64, f32);

fn scalar_at<T: Scalar>(buf: &[u8], pos: usize) -> Read<T> {
    pos.checked_add(T::SIZE)
        .and_then(|end| buf.get(pos..end))
        .map(T::decode)
        .ok_or(OutOfBounds(pos))
}

/// A vector of scalars, as the bytes of its elements.
#[derive(Clone, Copy)]
pub(super) struct Scalars<'a, T> {
    bytes: &'a [u8],
    _t: std::marker::PhantomData<T>,
}

impl<'a, T: Scalar> Scalars<'a, T> {
    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        self.bytes.chunks_exact(T::SIZE).map(T::decode)
    }
}

/// The elements of the vector at `pos` (its length, then its elements), each `size` bytes.
fn vector_bytes(buf: &[u8], pos: usize, size: usize) -> Read<&[u8]> {
    let len = u32_at(buf, pos)? as usize;
    let start = pos.checked_add(4).ok_or(OutOfBounds(pos))?;
    len.checked_mul(size)
        .and_then(|n| start.checked_add(n))
        .and_then(|end| buf.get(start..end))
        .ok_or(OutOfBounds(pos))
}

/// A table of the flatbuffer: its position in the buffer.
#[derive(Clone, Copy)]
pub(super) struct Table<'a> {
    buf: &'a [u8],
    loc: usize,
}

impl<'a> Table<'a> {
    /// The position of field `id`, or `None` if the table does not have it.
    fn field(&self, id: u16) -> Read<Option<usize>> {
        let soffset = i32::from_le_bytes(array(self.buf, self.loc)?);
        let vtable = (self.loc as i64)
            .checked_sub(i64::from(soffset))
            .and_then(|v| usize::try_from(v).ok())
            .ok_or(OutOfBounds(self.loc))?;
        let vtable_len: u16 = scalar_at(self.buf, vtable)?;
        let slot = vt(id);
        if slot.saturating_add(2) > vtable_len {
            return Ok(None);
        }
        let offset: u16 = scalar_at(self.buf, vtable + slot as usize)?;
        if offset == 0 {
            return Ok(None);
        }
        Ok(Some(self.loc + offset as usize))
    }

    fn scalar<T: Scalar>(&self, id: u16, default: T) -> Read<T> {
        match self.field(id)? {
            Some(pos) => scalar_at(self.buf, pos),
            None => Ok(default),
        }
    }

    fn bool(&self, id: u16) -> Read<bool> {
        Ok(self.scalar::<u8>(id, 0)? != 0)
    }

    fn table(&self, id: u16) -> Read<Option<Table<'a>>> {
        match self.field(id)? {
            Some(pos) => Ok(Some(Table {
                buf: self.buf,
                loc: follow(self.buf, pos)?,
            })),
            None => Ok(None),
        }
    }

    fn scalars<T: Scalar>(&self, id: u16) -> Read<Option<Scalars<'a, T>>> {
        match self.field(id)? {
            Some(pos) => Ok(Some(Scalars {
                bytes: vector_bytes(self.buf, follow(self.buf, pos)?, T::SIZE)?,
                _t: std::marker::PhantomData,
            })),
            None => Ok(None),
        }
    }

    fn bytes(&self, id: u16) -> Read<Option<&'a [u8]>> {
        match self.field(id)? {
            Some(pos) => Ok(Some(vector_bytes(self.buf, follow(self.buf, pos)?, 1)?)),
            None => Ok(None),
        }
    }

    fn string(&self, id: u16) -> Read<Option<&'a str>> {
        let Some(pos) = self.field(id)? else {
            return Ok(None);
        };
        let at = follow(self.buf, pos)?;
        let bytes = vector_bytes(self.buf, at, 1)?;
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| OutOfBounds(at))
    }

    fn tables(&self, id: u16) -> Read<Tables<'a>> {
        let Some(pos) = self.field(id)? else {
            return Ok(Tables {
                buf: self.buf,
                offsets: &[],
                start: 0,
            });
        };
        let at = follow(self.buf, pos)?;
        Ok(Tables {
            buf: self.buf,
            offsets: vector_bytes(self.buf, at, 4)?,
            start: at + 4,
        })
    }
}

/// A vector of tables (an absent vector is empty).
#[derive(Clone, Copy)]
pub(super) struct Tables<'a> {
    buf: &'a [u8],
    /// The offsets, 4 bytes each, at `start` in `buf`.
    offsets: &'a [u8],
    start: usize,
}

impl<'a> Tables<'a> {
    /// The number of tables.
    pub fn len(&self) -> usize {
        self.offsets.len() / 4
    }

    /// Table `i`, `None` past the end.
    pub fn get(&self, i: usize) -> Option<Read<Table<'a>>> {
        (i < self.len()).then(|| {
            Ok(Table {
                buf: self.buf,
                loc: follow(self.buf, self.start + 4 * i)?,
            })
        })
    }

    /// The tables in order.
    pub fn iter(&self) -> impl Iterator<Item = Read<Table<'a>>> + 'a {
        let (buf, start) = (self.buf, self.start);
        (0..self.len()).map(move |i| {
            Ok(Table {
                buf,
                loc: follow(buf, start + 4 * i)?,
            })
        })
    }
}

/// The root table of `buf`. Call [`verify`] first.
pub(super) fn root(buf: &[u8]) -> Read<Model<'_>> {
    Ok(Model(Table {
        buf,
        loc: follow(buf, 0)?,
    }))
}

/// Runs `flatbuffers`' verifier over the model in `buf`, with bounds on the number of
/// tables, the nesting depth and the apparent size, all derived from `buf.len()`.
pub(super) fn verify(buf: &[u8]) -> Result<(), InvalidFlatbuffer> {
    let options = flatbuffers::VerifierOptions {
        // Every table takes at least 8 bytes: its vtable offset and the offset to it.
        max_tables: buf.len() / 8 + 1,
        // Model > SubGraph > Operator > options, Model > SubGraph > Tensor > quantization.
        max_depth: 8,
        // Shared vtables are counted once per table: more than the bytes, not much more.
        max_apparent_size: buf.len().saturating_mul(4).saturating_add(1 << 12),
        ignore_missing_null_terminator: false,
    };
    let mut verifier = Verifier::new(&options, buf);
    <ForwardsUOffset<Model<'_>>>::run_verifier(&mut verifier, 0)
}

macro_rules! view {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub(super) struct $name<'a>(Table<'a>);

        impl<'a> From<Table<'a>> for $name<'a> {
            fn from(table: Table<'a>) -> Self {
                $name(table)
            }
        }
    };
}

type VecOf<'a, T> = ForwardsUOffset<Vector<'a, T>>;
type TablesOf<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;

view!(
    /// `table Model`.
    Model
);

impl<'a> Model<'a> {
    const VERSION: u16 = 0;
    const OPERATOR_CODES: u16 = 1;
    const SUBGRAPHS: u16 = 2;
    const DESCRIPTION: u16 = 3;
    const BUFFERS: u16 = 4;

    pub fn version(&self) -> Read<u32> {
        self.0.scalar(Self::VERSION, 0)
    }
    pub fn operator_codes(&self) -> Read<Tables<'a>> {
        self.0.tables(Self::OPERATOR_CODES)
    }
    pub fn subgraphs(&self) -> Read<Tables<'a>> {
        self.0.tables(Self::SUBGRAPHS)
    }
    pub fn description(&self) -> Read<Option<&'a str>> {
        self.0.string(Self::DESCRIPTION)
    }
    pub fn buffers(&self) -> Read<Tables<'a>> {
        self.0.tables(Self::BUFFERS)
    }
}

impl Verifiable for Model<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("version", vt(Self::VERSION), false)?
            .visit_field::<TablesOf<OperatorCode>>(
                "operator_codes",
                vt(Self::OPERATOR_CODES),
                false,
            )?
            .visit_field::<TablesOf<SubGraph>>("subgraphs", vt(Self::SUBGRAPHS), false)?
            .visit_field::<ForwardsUOffset<&str>>("description", vt(Self::DESCRIPTION), false)?
            .visit_field::<TablesOf<Buffer>>("buffers", vt(Self::BUFFERS), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table SubGraph`.
    SubGraph
);

impl<'a> SubGraph<'a> {
    const TENSORS: u16 = 0;
    const INPUTS: u16 = 1;
    const OUTPUTS: u16 = 2;
    const OPERATORS: u16 = 3;
    const NAME: u16 = 4;

    pub fn tensors(&self) -> Read<Tables<'a>> {
        self.0.tables(Self::TENSORS)
    }
    pub fn inputs(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::INPUTS)
    }
    pub fn outputs(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::OUTPUTS)
    }
    pub fn operators(&self) -> Read<Tables<'a>> {
        self.0.tables(Self::OPERATORS)
    }
    pub fn name(&self) -> Read<Option<&'a str>> {
        self.0.string(Self::NAME)
    }
}

impl Verifiable for SubGraph<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<TablesOf<Tensor>>("tensors", vt(Self::TENSORS), false)?
            .visit_field::<VecOf<i32>>("inputs", vt(Self::INPUTS), false)?
            .visit_field::<VecOf<i32>>("outputs", vt(Self::OUTPUTS), false)?
            .visit_field::<TablesOf<Operator>>("operators", vt(Self::OPERATORS), false)?
            .visit_field::<ForwardsUOffset<&str>>("name", vt(Self::NAME), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table Tensor`.
    Tensor
);

impl<'a> Tensor<'a> {
    const SHAPE: u16 = 0;
    const TYPE: u16 = 1;
    const BUFFER: u16 = 2;
    const NAME: u16 = 3;
    const QUANTIZATION: u16 = 4;
    const IS_VARIABLE: u16 = 5;
    const SPARSITY: u16 = 6;
    const SHAPE_SIGNATURE: u16 = 7;

    pub fn shape(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::SHAPE)
    }
    pub fn dtype(&self) -> Read<i8> {
        self.0.scalar(Self::TYPE, 0)
    }
    pub fn buffer(&self) -> Read<u32> {
        self.0.scalar(Self::BUFFER, 0)
    }
    pub fn name(&self) -> Read<Option<&'a str>> {
        self.0.string(Self::NAME)
    }
    pub fn quantization(&self) -> Read<Option<Quantization<'a>>> {
        Ok(self.0.table(Self::QUANTIZATION)?.map(Quantization))
    }
    pub fn is_variable(&self) -> Read<bool> {
        self.0.bool(Self::IS_VARIABLE)
    }
    /// Whether the tensor has sparsity parameters (its table is not read).
    pub fn is_sparse(&self) -> Read<bool> {
        Ok(self.0.field(Self::SPARSITY)?.is_some())
    }
    pub fn shape_signature(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::SHAPE_SIGNATURE)
    }
}

impl Verifiable for Tensor<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<VecOf<i32>>("shape", vt(Self::SHAPE), false)?
            .visit_field::<i8>("type", vt(Self::TYPE), false)?
            .visit_field::<u32>("buffer", vt(Self::BUFFER), false)?
            .visit_field::<ForwardsUOffset<&str>>("name", vt(Self::NAME), false)?
            .visit_field::<ForwardsUOffset<Quantization>>(
                "quantization",
                vt(Self::QUANTIZATION),
                false,
            )?
            .visit_field::<bool>("is_variable", vt(Self::IS_VARIABLE), false)?
            .visit_field::<VecOf<i32>>("shape_signature", vt(Self::SHAPE_SIGNATURE), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table QuantizationParameters`.
    Quantization
);

impl<'a> Quantization<'a> {
    const SCALE: u16 = 2;
    const ZERO_POINT: u16 = 3;
    const DETAILS_TYPE: u16 = 4;
    const QUANTIZED_DIMENSION: u16 = 6;

    pub fn scale(&self) -> Read<Option<Scalars<'a, f32>>> {
        self.0.scalars(Self::SCALE)
    }
    pub fn zero_point(&self) -> Read<Option<Scalars<'a, i64>>> {
        self.0.scalars(Self::ZERO_POINT)
    }
    /// The type of the `details` union (0: none, 1: `CustomQuantization`).
    pub fn details_type(&self) -> Read<u8> {
        self.0.scalar(Self::DETAILS_TYPE, 0)
    }
    pub fn quantized_dimension(&self) -> Read<i32> {
        self.0.scalar(Self::QUANTIZED_DIMENSION, 0)
    }
}

impl Verifiable for Quantization<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<VecOf<f32>>("scale", vt(Self::SCALE), false)?
            .visit_field::<VecOf<i64>>("zero_point", vt(Self::ZERO_POINT), false)?
            .visit_field::<u8>("details_type", vt(Self::DETAILS_TYPE), false)?
            .visit_field::<i32>("quantized_dimension", vt(Self::QUANTIZED_DIMENSION), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table Buffer`.
    Buffer
);

impl<'a> Buffer<'a> {
    const DATA: u16 = 0;
    const OFFSET: u16 = 1;
    const SIZE: u16 = 2;

    pub fn data(&self) -> Read<Option<&'a [u8]>> {
        self.0.bytes(Self::DATA)
    }
    pub fn offset(&self) -> Read<u64> {
        self.0.scalar(Self::OFFSET, 0)
    }
    pub fn size(&self) -> Read<u64> {
        self.0.scalar(Self::SIZE, 0)
    }
}

impl Verifiable for Buffer<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<VecOf<u8>>("data", vt(Self::DATA), false)?
            .visit_field::<u64>("offset", vt(Self::OFFSET), false)?
            .visit_field::<u64>("size", vt(Self::SIZE), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table OperatorCode`.
    OperatorCode
);

impl<'a> OperatorCode<'a> {
    const DEPRECATED_BUILTIN_CODE: u16 = 0;
    const CUSTOM_CODE: u16 = 1;
    const VERSION: u16 = 2;
    const BUILTIN_CODE: u16 = 3;

    pub fn deprecated_builtin_code(&self) -> Read<i8> {
        self.0.scalar(Self::DEPRECATED_BUILTIN_CODE, 0)
    }
    pub fn custom_code(&self) -> Read<Option<&'a str>> {
        self.0.string(Self::CUSTOM_CODE)
    }
    pub fn version(&self) -> Read<i32> {
        self.0.scalar(Self::VERSION, 1)
    }
    pub fn builtin_code(&self) -> Read<i32> {
        self.0.scalar(Self::BUILTIN_CODE, 0)
    }
}

impl Verifiable for OperatorCode<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<i8>(
                "deprecated_builtin_code",
                vt(Self::DEPRECATED_BUILTIN_CODE),
                false,
            )?
            .visit_field::<ForwardsUOffset<&str>>("custom_code", vt(Self::CUSTOM_CODE), false)?
            .visit_field::<i32>("version", vt(Self::VERSION), false)?
            .visit_field::<i32>("builtin_code", vt(Self::BUILTIN_CODE), false)?
            .finish();
        Ok(())
    }
}

view!(
    /// `table Operator`.
    Operator
);

impl<'a> Operator<'a> {
    const OPCODE_INDEX: u16 = 0;
    const INPUTS: u16 = 1;
    const OUTPUTS: u16 = 2;
    const BUILTIN_OPTIONS_TYPE: u16 = 3;
    const BUILTIN_OPTIONS: u16 = 4;

    pub fn opcode_index(&self) -> Read<u32> {
        self.0.scalar(Self::OPCODE_INDEX, 0)
    }
    pub fn inputs(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::INPUTS)
    }
    pub fn outputs(&self) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(Self::OUTPUTS)
    }
    /// The `BuiltinOptions` union's type id (0: none).
    pub fn options_type(&self) -> Read<u8> {
        self.0.scalar(Self::BUILTIN_OPTIONS_TYPE, 0)
    }
    /// The `BuiltinOptions` table, whatever its type.
    pub fn options(&self) -> Read<Option<OptionsTable<'a>>> {
        Ok(self.0.table(Self::BUILTIN_OPTIONS)?.map(OptionsTable))
    }
}

impl Verifiable for Operator<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("opcode_index", vt(Self::OPCODE_INDEX), false)?
            .visit_field::<VecOf<i32>>("inputs", vt(Self::INPUTS), false)?
            .visit_field::<VecOf<i32>>("outputs", vt(Self::OUTPUTS), false)?
            .visit_union::<u8, _>(
                "builtin_options_type",
                vt(Self::BUILTIN_OPTIONS_TYPE),
                "builtin_options",
                vt(Self::BUILTIN_OPTIONS),
                false,
                verify_options,
            )?
            .finish();
        Ok(())
    }
}

/// `BuiltinOptions` union type ids of the options tables the reader decodes.
pub(super) mod options_id {
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const POOL_2D: u8 = 5;
    pub const FULLY_CONNECTED: u8 = 8;
    pub const SOFTMAX: u8 = 9;
    pub const CONCATENATION: u8 = 10;
    pub const ADD: u8 = 11;
    pub const RESHAPE: u8 = 17;
    pub const REDUCER: u8 = 27;
}

/// The fields of the options tables, by table: (name, id, kind).
#[derive(Clone, Copy)]
enum Kind {
    I8,
    Bool,
    I32,
    F32,
    I32s,
}

const CONV_2D: Fields = &[
    ("padding", 0, Kind::I8),
    ("stride_w", 1, Kind::I32),
    ("stride_h", 2, Kind::I32),
    ("fused_activation_function", 3, Kind::I8),
    ("dilation_w_factor", 4, Kind::I32),
    ("dilation_h_factor", 5, Kind::I32),
];
const DEPTHWISE_CONV_2D: Fields = &[
    ("padding", 0, Kind::I8),
    ("stride_w", 1, Kind::I32),
    ("stride_h", 2, Kind::I32),
    ("depth_multiplier", 3, Kind::I32),
    ("fused_activation_function", 4, Kind::I8),
    ("dilation_w_factor", 5, Kind::I32),
    ("dilation_h_factor", 6, Kind::I32),
];
const POOL_2D: Fields = &[
    ("padding", 0, Kind::I8),
    ("stride_w", 1, Kind::I32),
    ("stride_h", 2, Kind::I32),
    ("filter_width", 3, Kind::I32),
    ("filter_height", 4, Kind::I32),
    ("fused_activation_function", 5, Kind::I8),
];
const FULLY_CONNECTED: Fields = &[
    ("fused_activation_function", 0, Kind::I8),
    ("weights_format", 1, Kind::I8),
    ("keep_num_dims", 2, Kind::Bool),
    ("asymmetric_quantize_inputs", 3, Kind::Bool),
];
const SOFTMAX: Fields = &[("beta", 0, Kind::F32)];
const CONCATENATION: Fields = &[
    ("axis", 0, Kind::I32),
    ("fused_activation_function", 1, Kind::I8),
];
const ADD: Fields = &[("fused_activation_function", 0, Kind::I8)];
const RESHAPE: Fields = &[("new_shape", 0, Kind::I32s)];
const REDUCER: Fields = &[("keep_dims", 0, Kind::Bool)];

/// The fields of one options table: (name, id, kind).
type Fields = &'static [(&'static str, u16, Kind)];

fn options_fields(kind: u8) -> Option<(&'static str, Fields)> {
    Some(match kind {
        options_id::CONV_2D => ("Conv2DOptions", CONV_2D),
        options_id::DEPTHWISE_CONV_2D => ("DepthwiseConv2DOptions", DEPTHWISE_CONV_2D),
        options_id::POOL_2D => ("Pool2DOptions", POOL_2D),
        options_id::FULLY_CONNECTED => ("FullyConnectedOptions", FULLY_CONNECTED),
        options_id::SOFTMAX => ("SoftmaxOptions", SOFTMAX),
        options_id::CONCATENATION => ("ConcatenationOptions", CONCATENATION),
        options_id::ADD => ("AddOptions", ADD),
        options_id::RESHAPE => ("ReshapeOptions", RESHAPE),
        options_id::REDUCER => ("ReducerOptions", REDUCER),
        _ => return None,
    })
}

/// The name of the options table of union type id `kind`, if the reader decodes it.
pub(super) fn options_name(kind: u8) -> Option<&'static str> {
    options_fields(kind).map(|(name, _)| name)
}

/// The options table of union type `kind`, whose fields are listed in `FIELDS`.
struct OptionsOf<const KIND: u8>;

impl<const KIND: u8> Verifiable for OptionsOf<KIND> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        let Some((_, fields)) = options_fields(KIND) else {
            return Ok(());
        };
        let mut table = v.visit_table(pos)?;
        for &(name, id, kind) in fields {
            table = match kind {
                Kind::I8 => table.visit_field::<i8>(name, vt(id), false)?,
                Kind::Bool => table.visit_field::<bool>(name, vt(id), false)?,
                Kind::I32 => table.visit_field::<i32>(name, vt(id), false)?,
                Kind::F32 => table.visit_field::<f32>(name, vt(id), false)?,
                Kind::I32s => table.visit_field::<VecOf<i32>>(name, vt(id), false)?,
            };
        }
        table.finish();
        Ok(())
    }
}

/// Verifies the options table at `pos` if it is one the reader decodes; other union
/// members are not read, so not verified.
fn verify_options(kind: u8, v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
    macro_rules! dispatch {
        ($($id:ident),*) => {
            match kind {
                $(options_id::$id => v.verify_union_variant::<ForwardsUOffset<OptionsOf<{ options_id::$id }>>>(
                    options_fields(kind).map_or("", |(name, _)| name),
                    pos,
                ),)*
                _ => Ok(()),
            }
        };
    }
    dispatch!(
        CONV_2D,
        DEPTHWISE_CONV_2D,
        POOL_2D,
        FULLY_CONNECTED,
        SOFTMAX,
        CONCATENATION,
        ADD,
        RESHAPE,
        REDUCER
    )
}

/// An options table of the `BuiltinOptions` union; its fields are read by id, following
/// the table of its type (`CONV_2D`, `POOL_2D`, …, above).
#[derive(Clone, Copy)]
pub(super) struct OptionsTable<'a>(Table<'a>);

impl<'a> OptionsTable<'a> {
    pub fn i8(&self, id: u16, default: i8) -> Read<i8> {
        self.0.scalar(id, default)
    }
    pub fn i32(&self, id: u16, default: i32) -> Read<i32> {
        self.0.scalar(id, default)
    }
    pub fn f32(&self, id: u16, default: f32) -> Read<f32> {
        self.0.scalar(id, default)
    }
    pub fn bool(&self, id: u16) -> Read<bool> {
        self.0.bool(id)
    }
    pub fn i32s(&self, id: u16) -> Read<Option<Scalars<'a, i32>>> {
        self.0.scalars(id)
    }
}
