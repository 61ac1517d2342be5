//! Reading and writing NumPy `.npy` files as `f32` arrays.
//!
//! # Why a hand-written reader
//!
//! The `.npy` format is small and fully specified (NEP 1 / `numpy.lib.format`): a magic string, a
//! version, a header that is a Python dict literal (`descr`, `fortran_order`, `shape`) and the raw
//! elements. The crates were evaluated and not used:
//! - `npyz` 0.9 parses the header with `py_literal`, which pulls in `pest`, `stacker` and `psm`
//!   (the latter compiles assembly through `cc`): a large build for one dict literal. It also reads
//!   only into a Rust type that matches the stored dtype, so the conversion of every dtype to
//!   `f32` would have to be written here anyway.
//! - `ndarray-npy` 0.10 needs `ndarray` in the API and likewise reads only the matching type.
//!
//! What this module needs beyond both is control over the failure modes: a header that claims
//! a shape bigger than the file is reported as `truncated: header says 3x4 float32 (48 bytes),
//! found 20` *before* anything is allocated (a bit flip in the shape must not make the tool try to
//! allocate terabytes), and no input may make it panic. The parser is about 200 lines, has a
//! recursion limit, indexes nothing without a bounds check, and is tested against files written
//! by `numpy.save` for every supported dtype, both byte orders and both memory orders, and
//! against every truncation and a few hundred bit flips (`tests/formats.rs`). The writer produces
//! byte-for-byte what `numpy.save` writes for a C-ordered `float32` array.
//!
//! # What is accepted
//! `float16/32/64`, `(u)int8/16/32/64` and `bool`, little- or big-endian, converted to `f32` the
//! way Keras' `predict` casts inputs to `float32` (integers round to the nearest `f32`). Arrays
//! stored in Fortran order are reordered to C order. Format versions 1.0, 2.0 and 3.0. Anything
//! else (complex, strings, objects/pickles, structured dtypes, `.npz` archives) is rejected with
//! an error that names the file and the dtype. Bytes after the data are an error, as they mean the
//! header and the file disagree.

use std::path::Path;

use super::error::{FormatError, ShapeDisplay};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Nesting limit of the header literal: numpy writes depth 2 (a dict holding a tuple).
const MAX_DEPTH: usize = 16;
/// numpy pads the header so that the data starts at a multiple of this.
const ARRAY_ALIGN: usize = 64;
/// numpy leaves room for the first axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// A `.npy` array converted to `f32`, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The dimensions; empty for a scalar (shape `()`), which has one element.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` elements, last axis fastest.
    pub data: Vec<f32>,
    /// The same elements as stored, when the file holds int8 (`|i1`): an int8 model's raw
    /// values.
    pub int8: Option<Vec<i8>>,
}

/// Reads a `.npy` file and converts its elements to `f32`.
pub fn read_f32(path: impl AsRef<Path>) -> Result<NpyArray, FormatError> {
    let path = path.as_ref();
    let bytes = super::file::read(path)?;
    parse_f32(&bytes, path)
}

/// Parses the bytes of a `.npy` file; `file` is only used in error messages.
pub fn parse_f32(bytes: &[u8], file: &Path) -> Result<NpyArray, FormatError> {
    let err = |detail: String| FormatError::npy(file, detail);

    if !bytes.starts_with(MAGIC) {
        if bytes.starts_with(b"PK") {
            return Err(err("this is a .npz archive (zip), not a .npy file; \
                 save a single array with numpy.save"
                .into()));
        }
        if MAGIC.starts_with(bytes) {
            return Err(err(format!(
                "truncated: {} bytes, shorter than the .npy magic",
                bytes.len()
            )));
        }
        return Err(err(
            "not a .npy file (it does not start with \"\\x93NUMPY\")".into(),
        ));
    }
    let (major, minor) = match (bytes.get(6), bytes.get(7)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            return Err(err(
                "truncated: the file ends inside the .npy preamble".into()
            ))
        }
    };
    let len_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(err(format!(
                "unsupported .npy format version {major}.{minor} (kiln reads 1.0, 2.0 and 3.0)"
            )))
        }
    };
    let header_start = 8 + len_bytes;
    let Some(len_field) = bytes.get(8..header_start) else {
        return Err(err(
            "truncated: the file ends inside the .npy preamble".into()
        ));
    };
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    let header_end = header_start.saturating_add(header_len);
    let Some(header) = bytes.get(header_start..header_end) else {
        return Err(err(format!(
            "truncated: the preamble says the header has {header_len} bytes, found {}",
            bytes.len() - header_start
        )));
    };
    let header = if major == 3 {
        std::str::from_utf8(header)
            .map_err(|_| err("header is not valid UTF-8".into()))?
            .to_owned()
    } else {
        // Versions 1 and 2 store the header in latin-1.
        header.iter().map(|&b| b as char).collect()
    };
    let info = parse_header(&header).map_err(|e| err(format!("bad header: {e}")))?;

    let dtype = match parse_descr(&info.descr) {
        Ok(d) => d,
        Err(Unsupported) => {
            return Err(err(format!(
                "dtype '{}' is not supported (kiln reads float16/32/64, \
                 (u)int8/16/32/64 and bool)",
                info.descr
            )))
        }
    };

    let describe = |n_bytes: Option<usize>| {
        let size = match n_bytes {
            Some(n) => format!("{n} bytes"),
            None => "more bytes than fit in memory".into(),
        };
        format!(
            "header says {} {} ({size})",
            ShapeDisplay(&info.shape),
            dtype.kind.name(dtype.size)
        )
    };
    let count = info
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let n_bytes = count.and_then(|c| c.checked_mul(dtype.size));
    let data = &bytes[header_end..];
    let (count, n_bytes) = match (count, n_bytes) {
        (Some(c), Some(n)) if n <= data.len() => (c, n),
        _ => {
            return Err(err(format!(
                "truncated: {}, found {}",
                describe(n_bytes),
                data.len()
            )))
        }
    };
    if data.len() > n_bytes {
        return Err(err(format!(
            "{} unexpected bytes after the data ({})",
            data.len() - n_bytes,
            describe(Some(n_bytes))
        )));
    }

    let values: Vec<f32> = data[..n_bytes]
        .chunks_exact(dtype.size)
        .map(|e| dtype.to_f32(e))
        .collect();
    debug_assert_eq!(values.len(), count);
    let data = if info.fortran_order {
        fortran_to_c(&info.shape, &values)
    } else {
        values
    };
    // Every int8 value is exactly an f32, so the raw values come back from `data`.
    let int8 = (dtype.kind == Kind::Int && dtype.size == 1)
        .then(|| data.iter().map(|&v| v as i8).collect());
    Ok(NpyArray {
        shape: info.shape,
        data,
        int8,
    })
}

/// Writes a C-ordered little-endian `float32` `.npy` file (format 1.0, or 2.0 if the header
/// needs it), byte-for-byte what `numpy.save` writes for the same array. An empty `shape` writes
/// a scalar, which needs exactly one value.
pub fn write_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<(), FormatError> {
    let path = path.as_ref();
    let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(FormatError::npy(
            path,
            format!(
                "cannot write: shape {} needs {} values, got {}",
                ShapeDisplay(shape),
                expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                data.len()
            ),
        ));
    }
    let bytes = encode_f32(shape, data);
    std::fs::write(path, bytes).map_err(|e| FormatError::io(path, "write", e))
}

/// [`write_f32`] for an `int8` array (an int8 model's raw outputs).
pub fn write_i8(path: impl AsRef<Path>, shape: &[usize], data: &[i8]) -> Result<(), FormatError> {
    let path = path.as_ref();
    let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(FormatError::npy(
            path,
            format!(
                "cannot write: shape {} needs {} values, got {}",
                ShapeDisplay(shape),
                expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                data.len()
            ),
        ));
    }
    let bytes = encode("|i1", shape, bytemuck::cast_slice(data));
    std::fs::write(path, bytes).map_err(|e| FormatError::io(path, "write", e))
}

fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    encode("<f4", shape, &bytes)
}

/// A C-ordered `.npy` of dtype `descr` whose elements are `data` (little-endian).
fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_repr = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(", "))
        }
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_repr}, }}");
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        header.extend(std::iter::repeat_n(
            ' ',
            GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
        ));
    }
    // The header text is ASCII, so its length in bytes is its length in characters.
    let hlen = header.len() + 1; // the final '\n'
                                 // Like numpy: format 1.0 (a u16 header length) if the padded header fits, else 2.0.
    let padded = |len_bytes: usize| hlen + ARRAY_ALIGN - ((8 + len_bytes + hlen) % ARRAY_ALIGN);
    let (version, len_bytes) = if padded(2) <= u16::MAX as usize {
        (1u8, 2usize)
    } else {
        (2u8, 4usize)
    };
    let total_header = padded(len_bytes);
    let padlen = total_header - hlen;

    let mut out = Vec::with_capacity(8 + len_bytes + total_header + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if len_bytes == 2 {
        out.extend_from_slice(&(total_header as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(total_header as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// Reorders Fortran-ordered (first axis fastest) `values` to C order.
fn fortran_to_c(shape: &[usize], values: &[f32]) -> Vec<f32> {
    if shape.len() < 2 || values.is_empty() {
        return values.to_vec();
    }
    // Offset in `values` of one step along each axis. The products cannot overflow: they are
    // at most the element count, which was computed with checked arithmetic.
    let mut strides = Vec::with_capacity(shape.len());
    let mut s = 1usize;
    for &d in shape {
        strides.push(s);
        s *= d;
    }
    let mut index = vec![0usize; shape.len()];
    let mut offset = 0usize;
    let mut out = Vec::with_capacity(values.len());
    for _ in 0..values.len() {
        out.push(values.get(offset).copied().unwrap_or(f32::NAN));
        // Advance the multi-index in C order: the last axis fastest.
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            offset -= strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------
// dtype

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    Uint,
    Bool,
}

impl Kind {
    fn name(self, size: usize) -> String {
        match self {
            Kind::Float => format!("float{}", size * 8),
            Kind::Int => format!("int{}", size * 8),
            Kind::Uint => format!("uint{}", size * 8),
            Kind::Bool => "bool".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Dtype {
    kind: Kind,
    size: usize,
    big_endian: bool,
}

struct Unsupported;

fn parse_descr(descr: &str) -> Result<Dtype, Unsupported> {
    let mut chars = descr.chars();
    let (order, rest) = match chars.next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, chars.as_str()),
        _ => ('=', descr),
    };
    let big_endian = match order {
        '>' => true,
        '<' => false,
        _ => cfg!(target_endian = "big"),
    };
    let mut rc = rest.chars();
    let kind = match rc.next() {
        Some('f') => Kind::Float,
        Some('i') => Kind::Int,
        Some('u') => Kind::Uint,
        Some('b') => Kind::Bool,
        _ => return Err(Unsupported),
    };
    let size: usize = rc.as_str().parse().map_err(|_| Unsupported)?;
    let ok = match kind {
        Kind::Float => matches!(size, 2 | 4 | 8),
        Kind::Int | Kind::Uint => matches!(size, 1 | 2 | 4 | 8),
        Kind::Bool => size == 1,
    };
    if !ok {
        return Err(Unsupported);
    }
    Ok(Dtype {
        kind,
        size,
        big_endian,
    })
}

impl Dtype {
    /// Converts one element; `e` has exactly `self.size` bytes (from `chunks_exact`).
    fn to_f32(self, e: &[u8]) -> f32 {
        let mut buf = [0u8; 8];
        let n = self.size.min(8).min(e.len());
        buf[..n].copy_from_slice(&e[..n]);
        if self.big_endian {
            buf[..n].reverse();
        }
        // `buf` now holds the element little-endian, zero-extended to 8 bytes.
        let raw = u64::from_le_bytes(buf);
        match (self.kind, self.size) {
            (Kind::Float, 2) => f16_to_f32(raw as u16),
            (Kind::Float, 4) => f32::from_bits(raw as u32),
            (Kind::Float, _) => f64::from_bits(raw) as f32,
            (Kind::Int, 1) => raw as u8 as i8 as f32,
            (Kind::Int, 2) => raw as u16 as i16 as f32,
            (Kind::Int, 4) => raw as u32 as i32 as f32,
            (Kind::Int, _) => raw as i64 as f32,
            (Kind::Uint, _) => raw as f32,
            (Kind::Bool, _) => {
                if raw != 0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// IEEE 754 binary16 to binary32 (exact: every half value is a float).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = mant * 2^-24.
            let v = mant as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mant << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

// ------------------------------------------------------------------------------------------------
// header: a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }

struct HeaderInfo {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

#[derive(Debug)]
enum Lit {
    Str(String),
    Int(i128),
    Bool(bool),
    None,
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

fn parse_header(text: &str) -> Result<HeaderInfo, String> {
    let mut p = LitParser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(format!(
            "unexpected text after the dict at character {}",
            p.pos
        ));
    }
    let Lit::Dict(entries) = value else {
        return Err("it is not a dict".into());
    };
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (k, v) in entries {
        let Lit::Str(key) = k else {
            return Err("a key is not a string".into());
        };
        match key.as_str() {
            "descr" => {
                descr = Some(match v {
                    Lit::Str(s) => s,
                    Lit::Seq(_) => {
                        return Err("structured dtype (a list of fields) is not supported; \
                         save a plain numeric array"
                            .into())
                    }
                    _ => return Err("'descr' is not a string".into()),
                })
            }
            "fortran_order" => {
                fortran_order = Some(match v {
                    Lit::Bool(b) => b,
                    _ => return Err("'fortran_order' is not True or False".into()),
                })
            }
            "shape" => {
                let Lit::Seq(items) = v else {
                    return Err("'shape' is not a tuple".into());
                };
                let mut dims = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Lit::Int(n) => dims.push(usize::try_from(n).map_err(|_| {
                            format!("'shape' has the dimension {n}, which is not a valid size")
                        })?),
                        _ => return Err("'shape' holds something other than integers".into()),
                    }
                }
                shape = Some(dims);
            }
            other => return Err(format!("unexpected key '{other}'")),
        }
    }
    Ok(HeaderInfo {
        descr: descr.ok_or("no 'descr' key")?,
        fortran_order: fortran_order.ok_or("no 'fortran_order' key")?,
        shape: shape.ok_or("no 'shape' key")?,
    })
}

struct LitParser {
    chars: Vec<char>,
    pos: usize,
}

impl LitParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace() || c == '\0') {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{c}'")))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.peek() {
            Some(c) => format!("expected {wanted} at character {}, found {c:?}", self.pos),
            None => format!("expected {wanted}, found the end of the header"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        self.skip_ws();
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some('}') {
                        self.pos += 1;
                        return Ok(Lit::Dict(entries));
                    }
                    let k = self.value(depth + 1)?;
                    self.expect(':')?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some('}') => {}
                        _ => return Err(self.unexpected("',' or '}'")),
                    }
                }
            }
            Some(open @ ('(' | '[')) => {
                let close = if open == '(' { ')' } else { ']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Lit::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(self.unexpected(&format!("',' or '{close}'"))),
                    }
                }
            }
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) => s.push(c),
                                None => return Err("unterminated string".into()),
                            }
                        }
                        Some(c) if c == q => {
                            self.pos += 1;
                            return Ok(Lit::Str(s));
                        }
                        Some(c) => s.push(c),
                    }
                    self.pos += 1;
                }
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while matches!(self.peek(), Some(d) if d.is_ascii_digit()) {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                // Python 2 wrote long integers as `3L`.
                if matches!(self.peek(), Some('L' | 'l')) {
                    self.pos += 1;
                }
                text.parse::<i128>()
                    .map(Lit::Int)
                    .map_err(|_| format!("bad integer '{text}'"))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while matches!(self.peek(), Some(d) if d.is_ascii_alphanumeric() || d == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Lit::Bool(true)),
                    "False" => Ok(Lit::Bool(false)),
                    "None" => Ok(Lit::None),
                    _ => Err(format!("unexpected word '{word}'")),
                }
            }
            _ => Err(self.unexpected("a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn fortran_reorder() {
        // [[0, 1, 2], [3, 4, 5]] stored column by column.
        let f = [0.0, 3.0, 1.0, 4.0, 2.0, 5.0];
        assert_eq!(
            fortran_to_c(&[2, 3], &f),
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        );
    }

    #[test]
    fn header_literal_variants() {
        let h =
            parse_header("{\"shape\": (3L,4L,), \"fortran_order\": True, \"descr\": \"<f8\"}\n")
                .unwrap();
        assert_eq!(h.shape, vec![3, 4]);
        assert!(h.fortran_order);
        assert_eq!(h.descr, "<f8");
        assert!(
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }").is_err()
        );
        assert!(parse_header(&"(".repeat(100_000)).is_err());
        assert!(parse_header("{'descr': '<f4', 'fortran_order': False}").is_err());
    }
}
