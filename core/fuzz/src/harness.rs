// The `load_predict` fuzz target's logic. No inner attributes or doc comments here: the
// file is also compiled as a module of `tests/tests/fuzz_corpus.rs` (`#[path]`).
//
// Input layout: one mode byte, then a `.kiln` blob. An odd mode byte repairs the blob's
// CRC-32 (header bytes 24..28) before loading, so mutations of the graph and weights reach
// the postcard decoder and the validator instead of stopping at the checksum; an even one
// loads the bytes as they are (the header and CRC checks themselves).

/// Layers and nodes the fuzzed graphs may hold (`kiln::format::load::<kiln::Fixed<CAPACITY>>`).
pub const CAPACITY: usize = 32;
/// Graphs whose plan needs this much arena or more are loaded but not run.
pub const MAX_ARENA: usize = 1 << 20;
/// Nor are graphs whose input and output buffers together hold more `f32`s than this.
pub const MAX_IO_ELEMENTS: usize = 1 << 20;

const HEADER_BYTES: usize = 32;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// What one input did; a panic is the only failure.
#[derive(Debug)]
pub enum Outcome {
    /// `load` refused the blob.
    Rejected(kiln::Error),
    /// `load` accepted it; `predicted` is `predict`'s result, `None` when it was not run
    /// (unknown input axes, or arena/buffers over the limits above).
    Loaded {
        predicted: Option<Result<usize, kiln::Error>>,
    },
}

impl Outcome {
    pub fn is_loaded(&self) -> bool {
        matches!(self, Outcome::Loaded { .. })
    }
}

fn header_u32(blob: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = blob.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b) as usize)
}

/// Rewrites the CRC field of `blob` to match its payload: bytes `32 .. weights_offset +
/// 4 * weights_len` when the header's fields give an end inside the blob, else `32 ..`
/// its end. Blobs shorter than the header are left alone.
pub fn repair_crc(blob: &mut [u8]) {
    if blob.len() < HEADER_BYTES {
        return;
    }
    let declared = header_u32(blob, 12)
        .and_then(|offset| header_u32(blob, 16)?.checked_mul(4)?.checked_add(offset));
    let end = match declared {
        Some(end) if (HEADER_BYTES..=blob.len()).contains(&end) => end,
        _ => blob.len(),
    };
    let crc = CRC.checksum(&blob[HEADER_BYTES..end]);
    blob[24..28].copy_from_slice(&crc.to_le_bytes());
}

/// A copy of `bytes` starting at a 16-byte-aligned address (a fuzzer's buffer carries
/// no alignment; in flash `kiln::format::AlignedBlob` provides it): the buffer and the
/// offset of the copy in it.
fn aligned_copy(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; bytes.len() + 15];
    let at = buf.as_ptr().align_offset(16);
    assert!(at < 16, "cannot align a heap buffer");
    buf[at..at + bytes.len()].copy_from_slice(bytes);
    (buf, at)
}

/// The fuzz target: a mode byte, then a blob (see the top of this file).
pub fn load_predict(data: &[u8]) -> Outcome {
    let Some((&mode, blob)) = data.split_first() else {
        return load_predict_blob(&[]);
    };
    if mode & 1 == 1 {
        let mut blob = blob.to_vec();
        repair_crc(&mut blob);
        load_predict_blob(&blob)
    } else {
        load_predict_blob(blob)
    }
}

/// Loads `blob` (copied to aligned memory) with `load::<kiln::Fixed<CAPACITY>>` and, when it is
/// accepted and small enough, runs `predict` on inputs filled with 0.5.
pub fn load_predict_blob(blob: &[u8]) -> Outcome {
    let (buf, at) = aligned_copy(blob);
    let bytes = &buf[at..at + blob.len()];
    let graph = match kiln::format::load::<kiln::Fixed<CAPACITY>>(bytes) {
        Ok(graph) => graph,
        Err(e) => return Outcome::Rejected(e),
    };
    Outcome::Loaded {
        predicted: run(&graph),
    }
}

fn run(graph: &kiln::Graph<'_, kiln::Fixed<CAPACITY>>) -> Option<Result<usize, kiln::Error>> {
    let plan = graph.plan(None).ok()?;
    if plan.arena_bytes() >= MAX_ARENA {
        return None;
    }
    let shapes = graph.sample_shapes(None).ok()?;
    let size = |n: &u16| shapes[*n as usize].sample_elements();
    let ins: Vec<usize> = graph
        .input_nodes()
        .iter()
        .map(size)
        .collect::<Option<_>>()?;
    let outs: Vec<usize> = graph
        .output_nodes()
        .iter()
        .map(size)
        .collect::<Option<_>>()?;
    let total = ins
        .iter()
        .chain(&outs)
        .try_fold(0usize, |acc, &n| acc.checked_add(n))?;
    if total > MAX_IO_ELEMENTS {
        return None;
    }
    let ins: Vec<Vec<f32>> = ins.into_iter().map(|n| vec![0.5; n]).collect();
    let mut outs: Vec<Vec<f32>> = outs.into_iter().map(|n| vec![0.0; n]).collect();
    let mut arena = vec![0u8; plan.arena_bytes()];
    let ins: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
    let mut outs: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    Some(graph.predict(&ins, &mut outs, &mut arena))
}
