//! The flash format: a model as one blob that firmware includes with `include_bytes!` and
//! loads without copying its weights. Layout and rules: `docs/FORMAT.md`.
//!
//! ```text
//!  0  magic "KILN"            16  weights_len (bytes)
//!  4  version u16, flags u16  20  arena_bytes (declared shapes; 0 if unknown)
//!  8  graph_len u32           24  crc32 of bytes 32..end
//! 12  weights_offset u32      28  reserved (0)
//! 32  graph (postcard encoding) … zero padding to a multiple of 16 … weights
//! ```
//!
//! The weights are every layer's variables, each in its own dtype, little-endian, each
//! layer's at a multiple of 4 bytes (see [`Graph::weight_range`]).
//!
//! [`load`] trusts nothing: it checks the header, the checksum, every index, every shape
//! (re-inferred from the layer configs) and every weight range before it returns a graph,
//! so a corrupted or truncated blob is an [`Error::Blob`], never a panic or a misread.

mod rust;
mod validate;
#[doc(hidden)]
pub mod wire;

pub use rust::{fixed_problem, rust_source, FixedProblem, RustSource};

use crate::error::Error;
use crate::graph::{Graph, Storage};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"KILN";
/// The format version this crate writes and reads. Version 1 (kiln before typed tensors)
/// is refused with a message to export the model again.
pub const VERSION: u16 = 2;
/// Bytes before the graph.
pub const HEADER_BYTES: usize = 32;
/// The weights start at a multiple of this many bytes (from the blob's start).
pub const WEIGHTS_ALIGN: usize = 16;

/// Wraps `include_bytes!` so the blob (and its weights) are aligned in flash:
/// `static BLOB: &AlignedBlob<[u8; N]> = &AlignedBlob(*include_bytes!("model.kiln"));`
#[repr(C, align(16))]
pub struct AlignedBlob<T: ?Sized>(pub T);

/// Why a blob cannot be written or loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// Shorter than its header says (or than a header).
    Truncated {
        /// The bytes the blob must have: a header's, or all that its header counts.
        needed: usize,
        /// The bytes given.
        found: usize,
    },
    /// Not a kiln blob.
    BadMagic,
    /// Written by another format version.
    Version {
        /// The version the blob records (this kiln reads [`VERSION`]).
        found: u16,
    },
    /// A layer kind this kiln does not know (a blob from a newer kiln).
    UnknownLayer {
        /// The layer kind's tag in the blob.
        tag: u32,
    },
    /// A layer kind or activation this build of kiln left out (a cargo feature is off).
    LeftOut(crate::ops::LeftOut),
    /// Flags this version does not know.
    Flags {
        /// The flags the blob records (this version knows none: 0).
        found: u16,
    },
    /// A header field breaks its rule (`docs/FORMAT.md`).
    Header {
        /// The rule the header breaks, in words.
        what: &'static str,
    },
    /// The payload does not match its CRC-32.
    Checksum {
        /// The CRC-32 the header records.
        stored: u32,
        /// The CRC-32 of the bytes as they are.
        computed: u32,
    },
    /// The graph bytes do not decode (postcard).
    Malformed,
    /// The graph decodes in fewer bytes than `graph_len` says: the rest is not the graph's.
    TrailingBytes {
        /// The graph's length the header records, in bytes.
        graph_len: usize,
        /// The bytes the graph decoded from.
        decoded: usize,
    },
    /// The graph has more of something than the graph storage holds (a `Fixed<N>` graph
    /// with fewer than `needed` layers or nodes, or a name longer than it stores).
    Capacity {
        /// What there is too much of (`"layers"`, `"nodes"`, `"bytes in a name"`, …).
        what: &'static str,
        /// How many the blob has.
        needed: usize,
        /// How many the graph storage holds.
        capacity: usize,
    },
    /// The graph decodes but breaks a rule (a bad index, a shape that does not follow);
    /// `at` is the layer, node or model input the rule is about.
    Invalid {
        /// The rule broken, in words.
        what: &'static str,
        /// The index of the layer, node or model input.
        at: u16,
    },
    /// The weights are not 4-byte aligned in memory: wrap the bytes in [`AlignedBlob`].
    Misaligned,
    /// The buffer given to [`write`](fn@write) is too small.
    BufferTooSmall {
        /// The blob's whole size in bytes.
        needed: usize,
    },
    /// The decoded graph needs more arena than the header records (the firmware's
    /// `ARENA_BYTES` would be too small). A blob recording more is accepted: a later kiln
    /// may plan tighter than the one that wrote it.
    Arena {
        /// The arena bytes the header records.
        stored: u32,
        /// The arena bytes the decoded graph's plan needs.
        planned: usize,
    },
    /// [`write`](fn@write): a size does not fit the 32-bit field the format records it in.
    TooLarge {
        /// `"the weights"`, `"the graph"` or `"the arena"`.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
    },
}

impl core::fmt::Display for BlobError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            BlobError::Truncated { needed, found } => write!(f, "blob is truncated: {needed} bytes needed, {found} found"),
            BlobError::BadMagic => f.write_str("not a kiln blob (the magic bytes are not \"KILN\")"),
            BlobError::Version { found } if found < VERSION => write!(f, "blob format version {found} was written by an older kiln; this kiln reads version {VERSION}: export the model again (kiln export MODEL -o MODEL.kiln)"),
            BlobError::Version { found } => write!(f, "blob format version {found} is not supported (this kiln reads version {VERSION}): it was written by a newer kiln"),
            BlobError::LeftOut(crate::ops::LeftOut { what, feature }) => write!(f, "the blob has a {what} layer but this build of kiln left it out: enable kiln's cargo feature \"{feature}\""),
            BlobError::UnknownLayer { tag } => write!(f, "the blob has a layer kind this kiln does not know (tag {tag}): it was written by a newer kiln"),
            BlobError::Flags { found } => write!(f, "blob flags {found:#06x} are not supported"),
            BlobError::Header { what } => write!(f, "the blob's header is invalid: {what}"),
            BlobError::Checksum { stored, computed } => write!(f, "blob checksum mismatch: stored {stored:#010x}, computed {computed:#010x} (the blob is corrupted)"),
            BlobError::Malformed => f.write_str("the blob's graph does not decode"),
            BlobError::TrailingBytes { graph_len, decoded } => write!(f, "the blob's graph is {decoded} bytes but the header says {graph_len}: the rest is not part of any graph"),
            BlobError::Capacity { what: "bytes in a name", needed, capacity } => write!(f, "the blob has a name of {needed} bytes but this graph stores names of at most {capacity}"),
            BlobError::Capacity { what, needed, capacity } => write!(f, "the blob has {needed} {what} but this graph holds at most {capacity}: load it into a Fixed<{needed}> graph or larger (MAX_LAYERS in the Rust file `kiln export --rust` writes)"),
            BlobError::Invalid { what, at } => write!(f, "the blob's graph is invalid at item {at}: {what}"),
            BlobError::Misaligned => f.write_str("the blob's weights are not 4-byte aligned in memory (wrap it in kiln::format::AlignedBlob)"),
            BlobError::BufferTooSmall { needed } => write!(f, "the output buffer is too small: the blob needs at least {needed} bytes"),
            BlobError::Arena { stored, planned } => write!(f, "the blob records an arena of {stored} bytes but its graph needs {planned}: export the model again"),
            BlobError::TooLarge { what, size } => write!(f, "{what} is {size} bytes, more than a blob records (at most 4,294,967,295)"),
        }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

fn read_u16(bytes: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    if let Some(s) = bytes.get(at..at + 2) {
        b.copy_from_slice(s);
    }
    u16::from_le_bytes(b)
}

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

fn blob(e: BlobError) -> Error {
    Error::Blob(e)
}

/// Writes `graph` and its weights as a blob into `out`; returns the bytes written.
pub fn write<S: Storage>(graph: &Graph<'_, S>, out: &mut [u8]) -> Result<usize, Error> {
    let weights = graph.weights();
    if weights.len() != graph.weight_bytes() {
        return Err(Error::WeightsLength {
            expected: graph.weight_bytes(),
            found: weights.len(),
        });
    }
    // A model input no output depends on has no layer in the model (Keras leaves its
    // InputLayer out of `model.layers`); a blob records each node with its layer, and
    // `load` refuses a node without one.
    if graph
        .nodes
        .iter()
        .any(|n| graph.layers.get(n.layer as usize).is_none())
    {
        return Err(Error::InvalidConfig {
            layer: crate::name::for_error(&graph.name),
            reason: "a model input that no output depends on cannot be written to a blob",
        });
    }
    let too_large = |what, size| blob(BlobError::TooLarge { what, size });
    let weights_len =
        u32::try_from(weights.len()).map_err(|_| too_large("the weights", weights.len()))?;
    // A model whose input shapes are only known at run time records no arena.
    let arena = match graph.plan(None) {
        Ok(plan) => u32::try_from(plan.arena_bytes()).map_err(|_| match plan.largest_tensor() {
            Some((node, bytes)) => Error::ArenaTooLarge {
                layer: crate::name::for_error(graph.node_layer_name(node)),
                tensor_bytes: bytes,
                arena_bytes: plan.arena_bytes(),
            },
            None => too_large("the arena", plan.arena_bytes()),
        })?,
        Err(_) => 0,
    };
    let body = out.get_mut(HEADER_BYTES..).unwrap_or(&mut []);
    let mut writer = wire::Writer::new(body);
    wire::encode_graph(graph, &mut writer);
    let graph_len = writer.len();
    let graph_fits = writer.fits();
    let weights_offset = (HEADER_BYTES + graph_len).next_multiple_of(WEIGHTS_ALIGN);
    let total = weights_offset.saturating_add(weights.len());
    if u32::try_from(weights_offset).is_err() {
        return Err(too_large("the graph", graph_len));
    }
    if !graph_fits || out.len() < total {
        return Err(blob(BlobError::BufferTooSmall { needed: total }));
    }
    out[HEADER_BYTES + graph_len..weights_offset].fill(0);
    out[weights_offset..total].copy_from_slice(weights);
    let crc = CRC.checksum(&out[HEADER_BYTES..total]);
    let header = &mut out[..HEADER_BYTES];
    header[0..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&VERSION.to_le_bytes());
    header[6..8].copy_from_slice(&0u16.to_le_bytes());
    for (at, value) in [
        (8, graph_len as u32),
        (12, weights_offset as u32),
        (16, weights_len),
        (20, arena),
        (24, crc),
        (28, 0),
    ] {
        header[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
    Ok(total)
}

/// Reads and checks a blob into a graph of storage `S` (`Fixed<N>` on a device, with `N`
/// at least the `MAX_LAYERS` that `kiln export --rust` writes); the graph borrows its
/// weights from `bytes`.
///
/// ```
/// use kiln::layers::{Dense, Input};
/// use kiln::{format, Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(Dense::new(1))?;
/// model.set_weights(&[0.5, -1.0, 0.25])?;
/// let mut blob = format::AlignedBlob([0u8; 512]);
/// let len = format::write(model.graph(), &mut blob.0)?;
/// let loaded = format::load::<Fixed<4>>(&blob.0[..len])?;
/// assert_eq!(loaded.count_params(), 3);
/// # Ok::<(), kiln::Error>(())
/// ```
#[inline(never)]
pub fn load<'a, S: Storage>(bytes: &'a [u8]) -> Result<Graph<'a, S>, Error> {
    let header = |what| blob(BlobError::Header { what });
    if bytes.len() < HEADER_BYTES {
        return Err(blob(BlobError::Truncated {
            needed: HEADER_BYTES,
            found: bytes.len(),
        }));
    }
    if bytes[0..4] != MAGIC {
        return Err(blob(BlobError::BadMagic));
    }
    let version = read_u16(bytes, 4);
    if version != VERSION {
        return Err(blob(BlobError::Version { found: version }));
    }
    let flags = read_u16(bytes, 6);
    if flags != 0 {
        return Err(blob(BlobError::Flags { found: flags }));
    }
    let graph_len = read_u32(bytes, 8) as usize;
    let weights_offset = read_u32(bytes, 12) as usize;
    let weights_len = read_u32(bytes, 16) as usize;
    let arena = read_u32(bytes, 20);
    let stored_crc = read_u32(bytes, 24);
    if read_u32(bytes, 28) != 0 {
        return Err(header("the reserved bytes 28..32 are not zero"));
    }
    let total = weights_offset
        .checked_add(weights_len)
        .ok_or(header("the weights end past this target's address space"))?;
    let graph_end = HEADER_BYTES
        .checked_add(graph_len)
        .ok_or(header("the graph ends past this target's address space"))?;
    if weights_offset % WEIGHTS_ALIGN != 0
        || weights_offset < graph_end
        || weights_offset - graph_end >= WEIGHTS_ALIGN
    {
        return Err(header(
            "the weights offset is not the first multiple of 16 after the graph",
        ));
    }
    if bytes.len() < total {
        return Err(blob(BlobError::Truncated {
            needed: total,
            found: bytes.len(),
        }));
    }
    let computed = CRC.checksum(&bytes[HEADER_BYTES..total]);
    if computed != stored_crc {
        return Err(blob(BlobError::Checksum {
            stored: stored_crc,
            computed,
        }));
    }
    if bytes[graph_end..weights_offset].iter().any(|&b| b != 0) {
        return Err(header("the padding after the graph is not zero"));
    }
    if !cfg!(target_endian = "little") {
        return Err(header("blobs are little-endian; this target is not"));
    }
    let mut graph = Graph::new_unnamed(crate::ModelKind::Sequential, "");
    let mut reader = wire::Reader::new(&bytes[HEADER_BYTES..graph_end]);
    wire::decode_graph(&mut graph, &mut reader).map_err(blob)?;
    if reader.position() != graph_len {
        return Err(blob(BlobError::TrailingBytes {
            graph_len,
            decoded: reader.position(),
        }));
    }
    validate::graph(&graph).map_err(blob)?;
    if graph.weight_len != weights_len {
        return Err(header("weights_len differs from the graph's weight bytes"));
    }
    let weights = &bytes[weights_offset..total];
    if weights.as_ptr() as usize % crate::graph::WEIGHT_ALIGN != 0 {
        return Err(blob(BlobError::Misaligned));
    }
    graph.set_weight_bytes(weights)?;
    let planned = graph.plan(None).map(|p| p.arena_bytes()).unwrap_or(0);
    if planned as u64 > u64::from(arena) {
        return Err(blob(BlobError::Arena {
            stored: arena,
            planned,
        }));
    }
    Ok(graph)
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;
