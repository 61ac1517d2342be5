//! The graph's bytes in a blob (format version 1), written from and read into a graph of
//! any [`Storage`]. postcard lays it out field by field:
//!
//! ```text
//! graph  = name:str kind:ModelKind layers:[layer] nodes:[node] inputs:[u16] outputs:[u16] weight_len:u32
//! layer  = name:str kind:LayerKind trainable:bool parent:Option<u16> weights_at:Option<u32>
//! node   = layer:u16 inputs:[u16] shape:Shape view_of:Option<u16> training:Option<bool>
//! ```
//!
//! A list is its length (a varint) then its items, so reading checks each length against
//! the storage before taking an item: a blob with more layers than a `Fixed<N>` graph holds
//! is a [`BlobError::Capacity`] naming both counts, not a decoding failure.

use super::BlobError;
use crate::graph::storage::{List, Storage, Text};
use crate::graph::{Graph, Layer, LayerKind, ModelKind, Node, NodeId};
use crate::shape::Shape;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

/// A graph's parts as read from a blob, before [`super::validate`] checks them.
pub(super) struct Decoded<S: Storage> {
    pub name: S::Name,
    pub kind: ModelKind,
    pub layers: S::List<Layer<S>>,
    pub nodes: S::List<Node<S>>,
    pub inputs: S::Few<NodeId>,
    pub outputs: S::Few<NodeId>,
    pub weight_len: u32,
}

/// Writes a graph's wire form.
pub(super) struct GraphRef<'g, 'w, S: Storage>(pub &'g Graph<'w, S>);

impl<S: Storage> Serialize for GraphRef<'_, '_, S> {
    fn serialize<Z: Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        let g = self.0;
        let weight_len = u32::try_from(g.weight_len())
            .map_err(|_| serde::ser::Error::custom("more than 2^32 weights"))?;
        let mut s = z.serialize_struct("Graph", 7)?;
        s.serialize_field("name", &*g.name)?;
        s.serialize_field("kind", &g.kind)?;
        s.serialize_field("layers", &Items(g.layers.iter().map(LayerRef)))?;
        s.serialize_field("nodes", &Items(g.nodes.iter().map(NodeRef)))?;
        s.serialize_field("inputs", &*g.inputs)?;
        s.serialize_field("outputs", &*g.outputs)?;
        s.serialize_field("weight_len", &weight_len)?;
        s.end()
    }
}

/// A sequence written from an iterator (`Clone`, as `Serialize` takes `&self`).
struct Items<I>(I);

impl<I: Iterator + Clone> Serialize for Items<I>
where
    I::Item: Serialize,
{
    fn serialize<Z: Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        z.collect_seq(self.0.clone())
    }
}

struct LayerRef<'g, S: Storage>(&'g Layer<S>);

impl<S: Storage> Serialize for LayerRef<'_, S> {
    fn serialize<Z: Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        let l = self.0;
        let mut s = z.serialize_struct("Layer", 5)?;
        s.serialize_field("name", &*l.name)?;
        s.serialize_field("kind", &l.kind)?;
        s.serialize_field("trainable", &l.trainable)?;
        s.serialize_field("parent", &l.parent)?;
        s.serialize_field("weights_at", &l.weights_at)?;
        s.end()
    }
}

struct NodeRef<'g, S: Storage>(&'g Node<S>);

impl<S: Storage> Serialize for NodeRef<'_, S> {
    fn serialize<Z: Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        let n = self.0;
        let mut s = z.serialize_struct("Node", 5)?;
        s.serialize_field("layer", &n.layer)?;
        s.serialize_field("inputs", &*n.inputs)?;
        s.serialize_field("shape", &n.shape)?;
        s.serialize_field("view_of", &n.view_of)?;
        s.serialize_field("training", &n.training)?;
        s.end()
    }
}

/// Reads a graph's wire form into storage `S`. When the storage is too small, the reason
/// goes into `why` (serde errors carry no such detail) and decoding stops.
pub(super) struct GraphSeed<'e, S> {
    pub why: &'e Cell<Option<BlobError>>,
    pub storage: PhantomData<S>,
}

impl<S> Clone for GraphSeed<'_, S> {
    fn clone(&self) -> Self {
        GraphSeed {
            why: self.why,
            storage: PhantomData,
        }
    }
}

impl<S: Storage> GraphSeed<'_, S> {
    fn refuse<E: de::Error>(&self, what: &'static str, needed: usize, capacity: usize) -> E {
        self.why.set(Some(BlobError::Capacity {
            what,
            needed,
            capacity,
        }));
        E::custom("over capacity")
    }

    fn text<T: Text, E: de::Error>(&self, text: &str) -> Result<T, E> {
        T::from_str(text).ok_or_else(|| {
            self.refuse(
                "bytes in a name",
                text.len(),
                T::CAPACITY.unwrap_or(usize::MAX),
            )
        })
    }

    fn list<'de, T, L, A>(&self, what: &'static str, seq: &mut A) -> Result<L, A::Error>
    where
        L: List<T>,
        A: SeqAccess<'de>,
        T: Deserialize<'de>,
    {
        self.list_with(what, seq, PhantomData::<T>)
    }

    /// A list whose items are read by `item` (a seed, for items that need the storage).
    fn list_with<'de, L, A, I>(
        &self,
        what: &'static str,
        seq: &mut A,
        item: I,
    ) -> Result<L, A::Error>
    where
        A: SeqAccess<'de>,
        I: DeserializeSeed<'de> + Clone,
        L: List<I::Value>,
    {
        let mut list = L::default();
        if let (Some(len), Some(capacity)) = (seq.size_hint(), L::CAPACITY) {
            if len > capacity {
                return Err(self.refuse(what, len, capacity));
            }
        }
        while let Some(value) = seq.next_element_seed(item.clone())? {
            let capacity = L::CAPACITY.unwrap_or(usize::MAX);
            list.push(value)
                .map_err(|_| self.refuse(what, capacity + 1, capacity))?;
        }
        Ok(list)
    }
}

fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    field: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::missing_field(field))
}

fn next_seeded<'de, I: DeserializeSeed<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    item: I,
    field: &'static str,
) -> Result<I::Value, A::Error> {
    seq.next_element_seed(item)?
        .ok_or_else(|| de::Error::missing_field(field))
}

/// A seed that reads one field of a struct through a closure over its `SeqAccess`.
macro_rules! struct_seed {
    ($seed:ident, $value:ty, $name:literal, [$($field:literal),*], |$this:ident, $seq:ident| $body:block) => {
        #[derive(Clone)]
        struct $seed<'e, S>(GraphSeed<'e, S>);

        impl<'de, S: Storage> DeserializeSeed<'de> for $seed<'_, S> {
            type Value = $value;
            fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_struct($name, &[$($field),*], self)
            }
        }

        impl<'de, S: Storage> Visitor<'de> for $seed<'_, S> {
            type Value = $value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($name)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut $seq: A) -> Result<$value, A::Error> {
                let $this = self.0;
                $body
            }
        }
    };
}

struct_seed!(
    LayerSeed,
    Layer<S>,
    "Layer",
    ["name", "kind", "trainable", "parent", "weights_at"],
    |this, seq| {
        let name: &str = next(&mut seq, "name")?;
        Ok(Layer {
            name: this.text(name)?,
            kind: next::<LayerKind, _>(&mut seq, "kind")?,
            trainable: next(&mut seq, "trainable")?,
            parent: next(&mut seq, "parent")?,
            weights_at: next(&mut seq, "weights_at")?,
        })
    }
);

struct_seed!(
    NodeSeed,
    Node<S>,
    "Node",
    ["layer", "inputs", "shape", "view_of", "training"],
    |this, seq| {
        Ok(Node {
            layer: next(&mut seq, "layer")?,
            inputs: next_seeded(&mut seq, FewSeed::<S>(this.clone()), "inputs")?,
            shape: next::<Shape, _>(&mut seq, "shape")?,
            view_of: next(&mut seq, "view_of")?,
            training: next(&mut seq, "training")?,
        })
    }
);

struct_seed!(
    WireSeed,
    Decoded<S>,
    "Graph",
    [
        "name",
        "kind",
        "layers",
        "nodes",
        "inputs",
        "outputs",
        "weight_len"
    ],
    |this, seq| {
        let name: &str = next(&mut seq, "name")?;
        Ok(Decoded {
            name: this.text(name)?,
            kind: next(&mut seq, "kind")?,
            layers: next_seeded(
                &mut seq,
                ListOf::<S, _>(this.clone(), "layers", LayerSeed(this.clone())),
                "layers",
            )?,
            nodes: next_seeded(
                &mut seq,
                ListOf::<S, _>(this.clone(), "nodes", NodeSeed(this.clone())),
                "nodes",
            )?,
            inputs: next_seeded(&mut seq, FewSeed::<S>(this.clone()), "inputs")?,
            outputs: next_seeded(&mut seq, FewSeed::<S>(this.clone()), "outputs")?,
            weight_len: next(&mut seq, "weight_len")?,
        })
    }
);

impl<'de, S: Storage> DeserializeSeed<'de> for GraphSeed<'_, S> {
    type Value = Decoded<S>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Decoded<S>, D::Error> {
        WireSeed(self).deserialize(d)
    }
}

/// A list of the graph's length (layers, nodes) whose items are read by seed `I`.
#[derive(Clone)]
struct ListOf<'e, S, I>(GraphSeed<'e, S>, &'static str, I);

impl<'de, S: Storage, I> DeserializeSeed<'de> for ListOf<'_, S, I>
where
    I: DeserializeSeed<'de> + Clone,
    I::Value: crate::graph::storage::Item,
{
    type Value = S::List<I::Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: Storage, I> Visitor<'de> for ListOf<'_, S, I>
where
    I: DeserializeSeed<'de> + Clone,
    I::Value: crate::graph::storage::Item,
{
    type Value = S::List<I::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.0.list_with(self.1, &mut seq, self.2)
    }
}

/// A node's inputs, or a model's inputs or outputs.
#[derive(Clone)]
struct FewSeed<'e, S>(GraphSeed<'e, S>);

impl<'de, S: Storage> DeserializeSeed<'de> for FewSeed<'_, S> {
    type Value = S::Few<NodeId>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: Storage> Visitor<'de> for FewSeed<'_, S> {
    type Value = S::Few<NodeId>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of node ids")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.0
            .list::<NodeId, _, _>("tensors in one list of inputs or outputs", &mut seq)
    }
}
