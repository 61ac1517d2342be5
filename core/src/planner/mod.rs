//! The memory planner: where each activation tensor lives in the arena.
//!
//! A tensor is live from the node that makes it to the last node that reads it (model
//! outputs stay live to the end). Tensors are placed first-fit in node order, never
//! overlapping a tensor live at the same time. Element-wise layers whose input dies with
//! them (activations, Dropout, Flatten, Reshape, BatchNormalization) reuse that input's
//! memory in place, and so do pools whose windows read ahead of what they write: their
//! output goes over the start of the input, whose rest is free after them. Model inputs are
//! read straight from the caller's buffers and take no arena space.
//!
//! The plan is for one sample: `predict` runs a batch one sample at a time, so the arena
//! does not grow with the batch. It counts bytes: a tensor takes its elements times its
//! dtype's size, rounded up to [`ARENA_ALIGN`], so every tensor starts aligned for any
//! dtype.

use crate::error::Error;
use crate::graph::storage::{self, Storage};
use crate::graph::Graph;
use crate::name::for_error;
use crate::shape::Shape;

/// Every tensor in the arena starts at a multiple of this many bytes.
pub const ARENA_ALIGN: usize = 4;

/// Where one tensor lives: `bytes` bytes from byte `offset` of the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Where the tensor starts, in bytes from the arena's (aligned) start.
    pub offset: usize,
    /// The bytes it takes, rounded up to [`ARENA_ALIGN`].
    pub bytes: usize,
    /// True when the tensor reuses its input's memory (in place).
    pub in_place: bool,
}

/// The arena layout of a graph for one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<S: Storage> {
    /// Per node; model inputs take no bytes (they stay in the caller's buffer).
    pub placements: S::List<Placement>,
    /// Bytes the tensors span.
    pub bytes: usize,
    /// The most bytes that must be live at once for this execution order: no plan for
    /// this order can be smaller.
    pub lower_bound: usize,
}

impl<S: Storage> Plan<S> {
    /// Arena bytes to declare: the plan, plus room to align an arbitrary `[u8]`.
    pub fn arena_bytes(&self) -> usize {
        arena_bytes(self.bytes)
    }

    /// [`Plan::lower_bound`]: the most bytes live at once, which no plan for this order
    /// can go under.
    pub fn lower_bound_bytes(&self) -> usize {
        self.lower_bound
    }

    /// The first node with the biggest tensor in the arena, and that tensor's bytes.
    pub fn largest_tensor(&self) -> Option<(usize, usize)> {
        self.placements
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, p)| p.bytes)
            .filter(|(_, p)| p.bytes > 0)
            .map(|(node, p)| (node, p.bytes))
    }
}

/// Bytes of arena to declare for a plan of `bytes`: room to align an arbitrary `[u8]`.
pub fn arena_bytes(bytes: usize) -> usize {
    bytes.saturating_add(ARENA_ALIGN - 1)
}

/// Plans the arena for `graph` whose node tensors have the per-sample `shapes`.
pub fn plan<S: Storage>(
    graph: &Graph<'_, S>,
    shapes: &[Shape],
    training: Option<bool>,
) -> Result<Plan<S>, Error> {
    let nodes = graph.nodes();
    let count = nodes.len();
    let is_model_input = |n: usize| graph.input_nodes().iter().any(|&i| i as usize == n);
    // Last node index that reads each tensor (through views); outputs live to the end.
    let mut last_use: S::List<usize> = storage::filled(count, 0, "nodes")?;
    for (i, node) in nodes.iter().enumerate() {
        last_use[i] = i;
        for &input in node.inputs.iter() {
            let r = graph.resolve(input) as usize;
            last_use[r] = last_use[r].max(i);
        }
    }
    for &out in graph.output_nodes() {
        last_use[graph.resolve(out) as usize] = count;
    }

    // Pass 1: which tensors share memory (views and in-place layers), and for how long
    // each shared block lives.
    let mut owner: S::List<usize> = storage::filled(count, 0, "nodes")?;
    let mut sizes: S::List<usize> = storage::filled(count, 0, "nodes")?;
    // Per block owner: after which node, and to how many bytes, a pool shrank it.
    let mut shrink: S::List<Option<(usize, usize)>> = storage::filled(count, None, "nodes")?;
    for (i, node) in nodes.iter().enumerate() {
        let layer = graph.layer(node.layer).ok_or(Error::NoSuchLayer)?;
        let shape = shapes.get(i).ok_or(Error::NoSuchLayer)?;
        sizes[i] = shape
            .sample_elements()
            .and_then(|n| n.checked_mul(node.dtype.size()))
            .and_then(|n| n.checked_next_multiple_of(ARENA_ALIGN))
            .ok_or_else(|| Error::UnknownDimension {
                layer: for_error(&layer.name),
                shape: *shape,
            })?;
        owner[i] = i;
        if is_model_input(i) {
            sizes[i] = 0;
            continue;
        }
        let shared_with = if let Some(target) = node.view_of {
            Some(graph.resolve(target) as usize)
        } else {
            match &node.inputs[..] {
                [input] => {
                    let input = graph.resolve(*input) as usize;
                    let input_dies_here = last_use[owner[input]] == i;
                    let dtype = nodes[input].dtype;
                    let pools = shapes
                        .get(input)
                        .is_some_and(|s| layer.kind.pools_in_place(s, dtype));
                    if pools && !is_model_input(input) && input_dies_here {
                        // Written over its input's start: the rest is free after it. In a
                        // chain of pools only the last shrink is kept: the block keeps its
                        // first size until then (never less than it holds).
                        shrink[owner[input]] = Some((i, sizes[i]));
                    }
                    ((pools
                        || layer
                            .kind
                            .is_in_place(graph.node_training(i, training), dtype))
                        && !is_model_input(input)
                        && input_dies_here)
                        .then_some(input)
                }
                _ => None,
            }
        };
        if let Some(input) = shared_with {
            let o = owner[input];
            owner[i] = o;
            // The block now lives as long as this tensor.
            last_use[o] = last_use[o].max(last_use[i]);
            if sizes[o] == 0 {
                // A view of a model input: still the caller's buffer.
                sizes[i] = 0;
            }
        }
    }
    // Each block: its first and last node, its size (the biggest tensor sharing it) and
    // where a pool shrank it.
    let mut block_size: S::List<usize> = storage::filled(count, 0, "nodes")?;
    for u in 0..count {
        block_size[owner[u]] = block_size[owner[u]].max(sizes[u]);
    }
    let mut blocks: S::List<Block> = Default::default();
    let mut block_of: S::List<usize> = storage::filled(count, usize::MAX, "nodes")?;
    for i in 0..count {
        if owner[i] == i && block_size[i] > 0 {
            block_of[i] = blocks.len();
            let block = Block {
                first: i,
                last: last_use[i],
                bytes: block_size[i],
                shrink: shrink[i],
            };
            storage::push(&mut blocks, block, "nodes")?;
        }
    }

    // Pass 2: place the blocks. Two orders, keep the smaller arena: creation order
    // (first fit as the graph runs) and largest first (TensorFlow Lite Micro's
    // greedy-by-size).
    let by_creation = place::<S>(&blocks, by_creation)?;
    let by_size = place::<S>(&blocks, by_size)?;
    let (offsets, arena) = if by_size.1 < by_creation.1 {
        by_size
    } else {
        by_creation
    };
    if arena == usize::MAX {
        return Err(Error::Capacity {
            what: "bytes of arena",
            capacity: usize::MAX,
        });
    }
    let mut placements: S::List<Placement> = Default::default();
    for i in 0..count {
        let block = block_of[owner[i]];
        let placement = if sizes[i] == 0 || block == usize::MAX {
            Placement {
                in_place: owner[i] != i,
                ..Placement::default()
            }
        } else {
            Placement {
                offset: offsets[block],
                bytes: sizes[i],
                in_place: owner[i] != i,
            }
        };
        storage::push(&mut placements, placement, "nodes")?;
    }

    // Lower bound: at each step, the size of every block live then.
    let mut lower_bound = 0;
    for step in 0..count {
        let live = blocks
            .iter()
            .filter(|b| b.first <= step && b.last >= step)
            .fold(0usize, |sum, b| sum.saturating_add(b.bytes_from(step)));
        lower_bound = lower_bound.max(live);
    }
    Ok(Plan {
        placements,
        bytes: arena,
        lower_bound,
    })
}

/// Memory that tensors share, from node `first` to node `last`: `bytes` long, or, after
/// the node in `shrink`, its bytes (a pool written over its input's start frees the rest).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Block {
    first: usize,
    last: usize,
    bytes: usize,
    shrink: Option<(usize, usize)>,
}

impl Block {
    /// Its length at node `step`; it never grows, so this is also the most it takes from
    /// `step` on.
    fn bytes_from(&self, step: usize) -> usize {
        match self.shrink {
            Some((after, bytes)) if step > after => bytes,
            _ => self.bytes,
        }
    }
}

fn by_creation(a: &Block, b: &Block) -> core::cmp::Ordering {
    a.first.cmp(&b.first)
}

fn by_size(a: &Block, b: &Block) -> core::cmp::Ordering {
    b.bytes.cmp(&a.bytes).then(a.first.cmp(&b.first))
}

/// Places blocks in the order `order` gives: each at the lowest offset clear of every
/// already-placed block whose lifetime overlaps. Returns the offsets (by block index) and
/// the arena size. (A function pointer, not a closure: one copy of this code.)
#[inline(never)]
fn place<S: Storage>(
    blocks: &[Block],
    order: fn(&Block, &Block) -> core::cmp::Ordering,
) -> Result<(S::List<usize>, usize), Error> {
    let mut sequence: S::List<usize> = storage::collect(0..blocks.len(), "nodes")?;
    // Insertion sort: a model has tens of blocks, and the core's sort would add kilobytes
    // of code to every firmware.
    for i in 1..sequence.len() {
        let mut j = i;
        while j > 0 && order(&blocks[sequence[j - 1]], &blocks[sequence[j]]).is_gt() {
            sequence.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut offsets: S::List<usize> = storage::filled(blocks.len(), 0, "nodes")?;
    let mut placed: S::List<bool> = storage::filled(blocks.len(), false, "nodes")?;
    let mut arena = 0usize;
    for &b in sequence.iter() {
        let block = blocks[b];
        let mut offset = 0usize;
        // Move past any clash until none is left (offsets only grow, so this ends). Two
        // blocks live together from the later first node on, when each is at its longest.
        loop {
            let clash = (0..blocks.len()).find_map(|o| {
                let other = &blocks[o];
                let from = block.first.max(other.first);
                let (size, other_size) = (block.bytes_from(from), other.bytes_from(from));
                (placed[o]
                    && other.first <= block.last
                    && block.first <= other.last
                    && offsets[o] < offset.saturating_add(size)
                    && offset < offsets[o].saturating_add(other_size))
                .then_some(offsets[o].saturating_add(other_size))
            });
            match clash {
                Some(end) => offset = end,
                None => break,
            }
        }
        offsets[b] = offset;
        placed[b] = true;
        arena = arena.max(offset.saturating_add(block.bytes));
    }
    Ok((offsets, arena))
}

/// A plan that gives every tensor its own memory: the baseline the planner is measured
/// and tested against.
pub fn plan_without_reuse<S: Storage>(
    graph: &Graph<'_, S>,
    shapes: &[Shape],
) -> Result<Plan<S>, Error> {
    let reused = plan(graph, shapes, Some(false))?;
    let mut placements: S::List<Placement> = Default::default();
    let mut offset = 0usize;
    for p in reused.placements.iter() {
        storage::push(
            &mut placements,
            Placement {
                offset,
                bytes: p.bytes,
                in_place: false,
            },
            "nodes",
        )?;
        offset += p.bytes;
    }
    Ok(Plan {
        placements,
        bytes: offset,
        lower_bound: reused.lower_bound,
    })
}
