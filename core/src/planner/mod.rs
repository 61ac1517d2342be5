//! The memory planner: where each activation tensor lives in the arena.
//!
//! A tensor is live from the node that makes it to the last node that reads it (model
//! outputs stay live to the end). Tensors are placed first-fit in node order, never
//! overlapping a tensor live at the same time. Element-wise layers whose input dies with
//! them (activations, Dropout, Flatten, Reshape, BatchNormalization) reuse that input's
//! memory in place. Model inputs are read straight from the caller's buffers and take no
//! arena space.
//!
//! The plan is for one sample: `predict` runs a batch one sample at a time, so the arena
//! does not grow with the batch.

use crate::error::Error;
use crate::graph::Graph;
use crate::shape::Shape;

/// Where one tensor lives: `elements` f32 values from `offset` (in f32 units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub offset: usize,
    pub elements: usize,
    /// True when the tensor reuses its input's memory (in place).
    pub in_place: bool,
}

/// The arena layout of a graph for one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<const N: usize> {
    /// Per node; model inputs have zero elements (they stay in the caller's buffer).
    pub placements: heapless::Vec<Placement, N>,
    /// Arena size in f32 values.
    pub elements: usize,
    /// The most values that must be live at once for this execution order: no plan for
    /// this order can be smaller.
    pub lower_bound: usize,
}

impl<const N: usize> Plan<N> {
    /// Arena bytes, plus room to align an arbitrary `[u8]` to f32.
    pub fn arena_bytes(&self) -> usize {
        self.elements
            .saturating_mul(4)
            .saturating_add(core::mem::align_of::<f32>() - 1)
    }

    pub fn lower_bound_bytes(&self) -> usize {
        self.lower_bound.saturating_mul(4)
    }
}

/// Plans the arena for `graph` whose node tensors have the per-sample `shapes`.
pub fn plan<const N: usize>(graph: &Graph<'_, N>, shapes: &[Shape]) -> Result<Plan<N>, Error> {
    let nodes = graph.nodes();
    let count = nodes.len();
    let is_model_input = |n: usize| graph.input_nodes().iter().any(|&i| i as usize == n);
    // Last node index that reads each tensor (through views); outputs live to the end.
    let mut last_use = [0usize; N];
    for (i, node) in nodes.iter().enumerate() {
        last_use[i] = i;
        for &input in &node.inputs {
            let r = graph.resolve(input) as usize;
            last_use[r] = last_use[r].max(i);
        }
    }
    for &out in graph.output_nodes() {
        last_use[graph.resolve(out) as usize] = count;
    }

    let mut placements: heapless::Vec<Placement, N> = heapless::Vec::new();
    // The tensor whose memory each node's memory belongs to (itself unless shared).
    let mut owner = [0usize; N];
    let mut arena = 0usize;
    for (i, node) in nodes.iter().enumerate() {
        let layer = graph.layer(node.layer).ok_or(Error::Capacity {
            what: "layers",
            capacity: N,
        })?;
        let shape = shapes.get(i).ok_or(Error::Capacity {
            what: "nodes",
            capacity: N,
        })?;
        let elements = shape
            .sample_elements()
            .ok_or_else(|| Error::UnknownDimension {
                layer: layer.name.clone(),
                shape: *shape,
            })?;
        owner[i] = i;
        let shared_with = if is_model_input(i) {
            None
        } else if let Some(target) = node.view_of {
            Some(graph.resolve(target) as usize)
        } else {
            match node.inputs.as_slice() {
                [input] => {
                    let input = graph.resolve(*input) as usize;
                    let input_dies_here = last_use[owner[input]] == i;
                    // RandomCrop is the identity only at inference; in training it changes
                    // the shape and needs its own memory.
                    let same_values = !matches!(layer.kind, crate::LayerKind::RandomCrop { .. })
                        || shapes.get(input) == Some(shape);
                    (layer.kind.is_in_place()
                        && same_values
                        && !is_model_input(input)
                        && input_dies_here)
                        .then_some(input)
                }
                _ => None,
            }
        };
        let placement = if is_model_input(i) {
            Placement::default()
        } else {
            match shared_with {
                Some(input) => {
                    owner[i] = owner[input];
                    // The owner's memory now lives as long as this tensor.
                    let o = owner[input];
                    last_use[o] = last_use[o].max(last_use[i]);
                    Placement {
                        offset: placements[input].offset,
                        elements: if placements[input].elements == 0 {
                            0
                        } else {
                            elements
                        },
                        in_place: true,
                    }
                }
                None => {
                    let offset = first_fit(&placements, &owner, &last_use, i, elements);
                    Placement {
                        offset,
                        elements,
                        in_place: false,
                    }
                }
            }
        };
        arena = arena.max(placement.offset.saturating_add(placement.elements));
        placements.push(placement).map_err(|_| Error::Capacity {
            what: "nodes",
            capacity: N,
        })?;
    }

    if arena == usize::MAX {
        return Err(Error::Capacity {
            what: "bytes of arena",
            capacity: usize::MAX / 4,
        });
    }
    // Lower bound: at each step, the memory of every owner live then.
    let mut lower_bound = 0;
    for step in 0..count {
        let live: usize = (0..count)
            .filter(|&t| owner[t] == t && t <= step && last_use[t] >= step)
            .map(|t| {
                // An owner's footprint is the largest tensor sharing its memory.
                (0..count)
                    .filter(|&u| owner[u] == t)
                    .map(|u| placements[u].elements)
                    .max()
                    .unwrap_or(0)
            })
            .fold(0usize, usize::saturating_add);
        lower_bound = lower_bound.max(live);
    }
    Ok(Plan {
        placements,
        elements: arena,
        lower_bound,
    })
}

/// A plan that gives every tensor its own memory: the baseline the planner is measured
/// and tested against.
pub fn plan_without_reuse<const N: usize>(
    graph: &Graph<'_, N>,
    shapes: &[Shape],
) -> Result<Plan<N>, Error> {
    let reused = plan(graph, shapes)?;
    let mut placements = heapless::Vec::new();
    let mut offset = 0usize;
    for p in &reused.placements {
        let _ = placements.push(Placement {
            offset,
            elements: p.elements,
            in_place: false,
        });
        offset += p.elements;
    }
    Ok(Plan {
        placements,
        elements: offset,
        lower_bound: reused.lower_bound,
    })
}

/// The lowest offset where `elements` values fit next to every tensor live at step `now`.
fn first_fit(
    placed: &[Placement],
    owner: &[usize],
    last_use: &[usize],
    now: usize,
    elements: usize,
) -> usize {
    let mut offset = 0usize;
    loop {
        let clash = placed.iter().enumerate().find(|(t, p)| {
            let o = owner[*t];
            p.elements > 0
                && last_use[o] >= now
                && p.offset < offset.saturating_add(elements)
                && offset < p.offset.saturating_add(p.elements)
        });
        match clash {
            Some((_, p)) => offset = p.offset.saturating_add(p.elements),
            None => return offset,
        }
    }
}
