//! The graph's bytes in a blob (format version 2), kept apart from the IR: every type that
//! goes into a blob says here, or in its op's file, how it is written, field by field and
//! with explicit tags, so reordering a Rust enum or struct never changes a blob.
//!
//! The encoding is postcard's (its wire format v1): unsigned integers as LEB128 varints
//! (`u8` as one byte), signed ones zigzagged, `f32` as 4 little-endian bytes, `bool` as
//! one byte 0 or 1, `Option` as a byte 0 (none) or 1 then the value, a string or a list as
//! its length (varint) then its bytes or items, an enum as its tag (varint) then its
//! fields. The layout:
//!
//! ```text
//! graph  = name:str kind:ModelKind layers:[layer] nodes:[node] inputs:[u16] outputs:[u16] weight_bytes:u32
//! layer  = name:str kind:LayerKind trainable:bool parent:Option<u16> weights_at:Option<u32>
//! node   = layer:u16 inputs:[u16] shape:[Option<u32>] view_of:Option<u16> training:Option<bool> dtype:u8 quant:Quant
//! ```
//!
//! Reading checks each list's length against the storage before taking an item: a blob
//! with more layers than a `Fixed<N>` graph holds is a [`BlobError::Capacity`] naming both
//! counts. Reading writes straight into the graph's lists, one item at a time, so it needs
//! little stack whatever the graph's size.

use super::BlobError;
use crate::graph::config::{Activation, MergeOp, Padding};
use crate::graph::storage::{List, Storage, Text};
use crate::graph::{DType, Graph, Layer, LayerKind, ModelKind, Node, NodeId, Quant};
use crate::shape::{Shape, MAX_RANK};

/// Writes a blob's bytes into a caller's buffer; past its end it only counts.
pub struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(out: &'b mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Bytes written (or that would have been, when the buffer is too small).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when everything written fit the buffer.
    pub(crate) fn fits(&self) -> bool {
        self.len <= self.out.len()
    }

    pub fn u8(&mut self, byte: u8) {
        if let Some(b) = self.out.get_mut(self.len) {
            *b = byte;
        }
        self.len = self.len.saturating_add(1);
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.u8(b);
        }
    }

    pub fn varint(&mut self, mut value: u32) {
        while value >= 0x80 {
            self.u8(value as u8 | 0x80);
            value >>= 7;
        }
        self.u8(value as u8);
    }

    /// A length, a tag or an index (a varint).
    pub fn len_of(&mut self, n: usize) {
        self.varint(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Reads a blob's bytes; every read is checked and a short or bad read is an error.
pub struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub fn u8(&mut self) -> Result<u8, BlobError> {
        let b = *self.bytes.get(self.at).ok_or(BlobError::Malformed)?;
        self.at += 1;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'b [u8], BlobError> {
        let end = self.at.checked_add(n).ok_or(BlobError::Malformed)?;
        let bytes = self.bytes.get(self.at..end).ok_or(BlobError::Malformed)?;
        self.at = end;
        Ok(bytes)
    }

    /// A varint of at most 32 bits, in its shortest form (so one value has one encoding).
    pub fn varint(&mut self) -> Result<u32, BlobError> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.u8()?;
            let bits = u32::from(b & 0x7f);
            if i == 4 && bits > 0x0f {
                return Err(BlobError::Malformed);
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(BlobError::Malformed);
                }
                return Ok(value);
            }
        }
        Err(BlobError::Malformed)
    }

    /// A length, a tag or an index.
    pub fn len_of(&mut self) -> Result<usize, BlobError> {
        Ok(self.varint()? as usize)
    }
}

/// A type with a form in the blob.
pub trait Wire: Sized {
    fn encode(&self, w: &mut Writer<'_>);
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError>;
}

impl Wire for u8 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        r.u8()
    }
}

impl Wire for i8 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(*self as u8);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        Ok(r.u8()? as i8)
    }
}

impl Wire for bool {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(*self));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(BlobError::Malformed),
        }
    }
}

impl Wire for u16 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.varint(u32::from(*self));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        u16::try_from(r.varint()?).map_err(|_| BlobError::Malformed)
    }
}

impl Wire for u32 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.varint(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        r.varint()
    }
}

impl Wire for i32 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.varint(((*self << 1) ^ (*self >> 31)) as u32);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        let z = r.varint()?;
        Ok((z >> 1) as i32 ^ -((z & 1) as i32))
    }
}

impl Wire for f32 {
    fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(&self.to_le_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(r.bytes(4)?);
        Ok(f32::from_le_bytes(b))
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            None => w.u8(0),
            Some(value) => {
                w.u8(1);
                value.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r)?)),
            _ => Err(BlobError::Malformed),
        }
    }
}

/// A pair (kernel sizes, strides): two items, no length.
impl<T: Wire + Copy> Wire for [T; 2] {
    fn encode(&self, w: &mut Writer<'_>) {
        self[0].encode(w);
        self[1].encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        Ok([T::decode(r)?, T::decode(r)?])
    }
}

/// A shape: its axes as a list of `Option<u32>` (`None` is an unknown axis).
impl Wire for Shape {
    fn encode(&self, w: &mut Writer<'_>) {
        w.len_of(self.rank());
        for axis in 0..self.rank() {
            self.dim(axis).encode(w);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        let rank = r.len_of()?;
        let mut dims = [None; MAX_RANK];
        for d in dims.get_mut(..rank).ok_or(BlobError::Malformed)? {
            *d = Option::<u32>::decode(r)?;
        }
        Shape::new(&dims[..rank]).map_err(|_| BlobError::Malformed)
    }
}

/// Writes and reads an enum whose variants have no fields, by pinned tags.
macro_rules! tagged {
    ($ty:ty { $($variant:ident = $tag:literal),* $(,)? }) => {
        impl Wire for $ty {
            fn encode(&self, w: &mut Writer<'_>) {
                w.varint(match self { $( <$ty>::$variant => $tag, )* });
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
                match r.varint()? {
                    $( $tag => Ok(<$ty>::$variant), )*
                    _ => Err(BlobError::Malformed),
                }
            }
        }
    };
}

tagged!(ModelKind { Sequential = 0, Functional = 1, Subclassed = 2 });
tagged!(Padding { Valid = 0, Same = 1, Causal = 2 });
tagged!(MergeOp { Add = 0, Subtract = 1, Multiply = 2, Average = 3, Maximum = 4, Minimum = 5 });

impl Wire for DType {
    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(*self as u8);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        DType::from_tag(r.u8()?).ok_or(BlobError::Malformed)
    }
}

impl Wire for Quant {
    fn encode(&self, w: &mut Writer<'_>) {
        match *self {
            Quant::None => w.varint(0),
            Quant::PerTensor { scale, zero_point } => {
                w.varint(1);
                scale.encode(w);
                zero_point.encode(w);
            }
            Quant::PerAxis { axis, scales } => {
                w.varint(2);
                axis.encode(w);
                scales.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        Ok(match r.varint()? {
            0 => Quant::None,
            1 => Quant::PerTensor {
                scale: f32::decode(r)?,
                zero_point: i32::decode(r)?,
            },
            2 => Quant::PerAxis {
                axis: u8::decode(r)?,
                scales: u8::decode(r)?,
            },
            _ => return Err(BlobError::Malformed),
        })
    }
}

impl Wire for Activation {
    fn encode(&self, w: &mut Writer<'_>) {
        use Activation as A;
        w.varint(match *self {
            A::Linear => 0,
            A::Relu => 1,
            A::Relu6 => 2,
            A::Sigmoid => 3,
            A::Tanh => 4,
            A::Softmax => 5,
            A::LogSoftmax => 6,
            A::LeakyRelu { .. } => 7,
            A::Elu { .. } => 8,
            A::Selu => 9,
            A::Gelu { .. } => 10,
            A::Silu => 11,
            A::HardSigmoid => 12,
            A::HardSilu => 13,
            A::Softplus => 14,
            A::Softsign => 15,
            A::Exponential => 16,
            A::Mish => 17,
        });
        match *self {
            A::LeakyRelu {
                negative_slope: parameter,
            }
            | A::Elu { alpha: parameter } => parameter.encode(w),
            A::Gelu { approximate } => approximate.encode(w),
            _ => {}
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, BlobError> {
        use Activation as A;
        let activation = match r.varint()? {
            0 => A::Linear,
            1 => A::Relu,
            2 => A::Relu6,
            3 => A::Sigmoid,
            4 => A::Tanh,
            5 => A::Softmax,
            6 => A::LogSoftmax,
            7 => A::LeakyRelu {
                negative_slope: f32::decode(r)?,
            },
            8 => A::Elu {
                alpha: f32::decode(r)?,
            },
            9 => A::Selu,
            10 => A::Gelu {
                approximate: bool::decode(r)?,
            },
            11 => A::Silu,
            12 => A::HardSigmoid,
            13 => A::HardSilu,
            14 => A::Softplus,
            15 => A::Softsign,
            16 => A::Exponential,
            17 => A::Mish,
            _ => return Err(BlobError::Malformed),
        };
        // (Whether this build computes it is for `validate`: an int8 layer needs no libm.)
        Ok(activation)
    }
}

/// Writes and reads a layer configuration field by field, in the order given (which is
/// the wire order, whatever the struct's declaration order): `wire_fields!(Dense { units,
/// activation, use_bias })`, `wire_fields!(MaxPooling2D(0))` for a newtype,
/// `wire_fields!(Flatten {})` for a unit struct.
#[macro_export]
#[doc(hidden)]
macro_rules! wire_fields {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $crate::format::wire::Wire for $ty {
            fn encode(&self, _w: &mut $crate::format::wire::Writer<'_>) {
                $( $crate::format::wire::Wire::encode(&self.$field, _w); )*
            }
            fn decode(
                _r: &mut $crate::format::wire::Reader<'_>,
            ) -> Result<Self, $crate::format::BlobError> {
                Ok($ty { $( $field: $crate::format::wire::Wire::decode(_r)?, )* })
            }
        }
    };
    ($ty:ident(0)) => {
        impl $crate::format::wire::Wire for $ty {
            fn encode(&self, w: &mut $crate::format::wire::Writer<'_>) {
                $crate::format::wire::Wire::encode(&self.0, w);
            }
            fn decode(
                r: &mut $crate::format::wire::Reader<'_>,
            ) -> Result<Self, $crate::format::BlobError> {
                Ok($ty($crate::format::wire::Wire::decode(r)?))
            }
        }
    };
}

/// Writes a graph's wire form.
pub(super) fn encode_graph<S: Storage>(g: &Graph<'_, S>, w: &mut Writer<'_>) {
    str(w, &g.name);
    g.kind.encode(w);
    w.len_of(g.layers.len());
    for l in g.layers.iter() {
        str(w, &l.name);
        l.kind.encode(w);
        l.trainable.encode(w);
        l.parent.encode(w);
        l.weights_at.encode(w);
    }
    w.len_of(g.nodes.len());
    for n in g.nodes.iter() {
        n.layer.encode(w);
        ids(w, &n.inputs);
        n.shape.encode(w);
        n.view_of.encode(w);
        n.training.encode(w);
        n.dtype.encode(w);
        n.quant.encode(w);
    }
    ids(w, &g.inputs);
    ids(w, &g.outputs);
    u32::try_from(g.weight_len).unwrap_or(u32::MAX).encode(w);
}

fn str(w: &mut Writer<'_>, text: &str) {
    w.len_of(text.len());
    w.bytes(text.as_bytes());
}

fn ids(w: &mut Writer<'_>, ids: &[NodeId]) {
    w.len_of(ids.len());
    for id in ids {
        id.encode(w);
    }
}

/// Reads a graph's wire form into `g` (an empty graph of storage `S`).
pub(super) fn decode_graph<S: Storage>(
    g: &mut Graph<'_, S>,
    r: &mut Reader<'_>,
) -> Result<(), BlobError> {
    g.name = name(r)?;
    g.kind = ModelKind::decode(r)?;
    let layers = length::<S::List<Layer<S>>, _>(r, "layers")?;
    for _ in 0..layers {
        let layer = Layer {
            name: name(r)?,
            kind: LayerKind::decode(r)?,
            trainable: bool::decode(r)?,
            parent: Option::decode(r)?,
            weights_at: Option::decode(r)?,
        };
        push(&mut g.layers, layer, "layers")?;
    }
    let nodes = length::<S::List<Node<S>>, _>(r, "nodes")?;
    for _ in 0..nodes {
        let node = Node {
            layer: u16::decode(r)?,
            inputs: id_list::<S>(r)?,
            shape: Shape::decode(r)?,
            view_of: Option::decode(r)?,
            training: Option::decode(r)?,
            dtype: DType::decode(r)?,
            quant: Quant::decode(r)?,
        };
        push(&mut g.nodes, node, "nodes")?;
    }
    g.inputs = id_list::<S>(r)?;
    g.outputs = id_list::<S>(r)?;
    g.weight_len = u32::decode(r)? as usize;
    Ok(())
}

fn name<T: Text>(r: &mut Reader<'_>) -> Result<T, BlobError> {
    let len = r.len_of()?;
    let text = core::str::from_utf8(r.bytes(len)?).map_err(|_| BlobError::Malformed)?;
    T::from_str(text).ok_or(BlobError::Capacity {
        what: "bytes in a name",
        needed: len,
        capacity: T::CAPACITY.unwrap_or(usize::MAX),
    })
}

/// A list's length, refused when over the capacity of list type `L`.
fn length<L: List<T>, T>(r: &mut Reader<'_>, what: &'static str) -> Result<usize, BlobError> {
    let len = r.len_of()?;
    match L::CAPACITY {
        Some(capacity) if len > capacity => Err(BlobError::Capacity {
            what,
            needed: len,
            capacity,
        }),
        _ => Ok(len),
    }
}

fn push<T, L: List<T>>(list: &mut L, item: T, what: &'static str) -> Result<(), BlobError> {
    list.push(item).map_err(|_| BlobError::Capacity {
        what,
        needed: list.len() + 1,
        capacity: L::CAPACITY.unwrap_or(usize::MAX),
    })
}

fn id_list<S: Storage>(r: &mut Reader<'_>) -> Result<S::Few<NodeId>, BlobError> {
    let what = "tensors in one list of inputs or outputs";
    let len = length::<S::Few<NodeId>, _>(r, what)?;
    let mut list = S::Few::<NodeId>::default();
    for _ in 0..len {
        push(&mut list, u16::decode(r)?, what)?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Wire + PartialEq + core::fmt::Debug>(value: T) -> usize {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        value.encode(&mut w);
        let len = w.len();
        let mut r = Reader::new(&buf[..len]);
        assert_eq!(T::decode(&mut r).unwrap(), value);
        assert_eq!(r.position(), len);
        len
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(round_trip(0u32), 1);
        assert_eq!(round_trip(127u32), 1);
        assert_eq!(round_trip(128u32), 2);
        assert_eq!(round_trip(u32::MAX), 5);
        assert_eq!(round_trip(-1i32), 1);
        assert_eq!(round_trip(i32::MIN), 5);
        assert_eq!(round_trip(Some(1.5f32)), 5);
        assert_eq!(round_trip(Option::<u16>::None), 1);
        round_trip(Shape::batched(&[28, 28, 1]).unwrap());
        round_trip(Activation::Gelu { approximate: true });
        round_trip(Activation::LeakyRelu {
            negative_slope: 0.25,
        });
        round_trip(Quant::PerTensor {
            scale: 0.5,
            zero_point: -128,
        });
    }

    /// The bytes are postcard's: the same values through postcard give the same bytes.
    #[test]
    fn the_encoding_is_postcards() {
        extern crate std;
        #[derive(serde::Serialize)]
        struct Sample<'a> {
            byte: u8,
            small: i8,
            flag: bool,
            id: u16,
            count: u32,
            offset: i32,
            value: f32,
            maybe: Option<u32>,
            none: Option<bool>,
            pair: [u16; 2],
            name: &'a str,
            ids: &'a [u16],
        }
        let sample = Sample {
            byte: 200,
            small: -5,
            flag: true,
            id: 40_000,
            count: 1 << 30,
            offset: -70_000,
            value: -1.25,
            maybe: Some(300),
            none: None,
            pair: [3, 1000],
            name: "dense_1",
            ids: &[0, 127, 128, 65_535],
        };
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        sample.byte.encode(&mut w);
        sample.small.encode(&mut w);
        sample.flag.encode(&mut w);
        sample.id.encode(&mut w);
        sample.count.encode(&mut w);
        sample.offset.encode(&mut w);
        sample.value.encode(&mut w);
        sample.maybe.encode(&mut w);
        sample.none.encode(&mut w);
        sample.pair.encode(&mut w);
        str(&mut w, sample.name);
        ids(&mut w, sample.ids);
        let n = w.len();
        assert_eq!(&buf[..n], &postcard::to_allocvec(&sample).unwrap()[..]);
    }

    #[test]
    fn overlong_and_overflowing_varints_are_refused() {
        // 0 written in two bytes, and a value past 32 bits.
        for bytes in [
            &[0x80u8, 0x00][..],
            &[0xff, 0xff, 0xff, 0xff, 0x1f],
            &[0x80; 6],
        ] {
            assert_eq!(Reader::new(bytes).varint(), Err(BlobError::Malformed));
        }
        assert_eq!(
            bool::decode(&mut Reader::new(&[2])),
            Err(BlobError::Malformed)
        );
        assert_eq!(
            u16::decode(&mut Reader::new(&[0x80, 0x80, 0x04])),
            Err(BlobError::Malformed)
        );
    }
}
