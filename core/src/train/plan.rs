//! Where training keeps everything, in one arena: the RAM copy of the weights that train,
//! their gradients and optimizer slots, one sample's activations and their gradients,
//! scratch, and (for `evaluate`) the inference plan. Worked out at `compile`, from the
//! graph alone, so the size is known before the firmware links (`kiln export --train`).

use super::{Compile, TrainError};
use crate::error::Error;
use crate::graph::storage::{self, Storage};
use crate::graph::{DType, Graph, LayerId, NodeId};
use crate::name::for_error;
use crate::planner::{self, Placement, Plan, ARENA_ALIGN};

/// The arena of a compiled model: its parts in bytes, in the order they are laid out.
///
/// ```
/// use kiln::layers::{Dense, Input};
/// use kiln::train::{Compile, Loss, Sgd};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[3]))?;
/// model.add(Dense::new(2))?;
/// let plan = model.train_plan(&Compile::new(Sgd::new(0.1).momentum(0.9)).loss(Loss::MeanSquaredError))?;
/// assert_eq!(plan.trainable_bytes(), 8 * 4);        // kernel (3, 2) and bias (2,)
/// assert_eq!(plan.slot_bytes(), 8 * 4);             // one velocity per value
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainPlan<S: Storage> {
    /// Per layer: where its weights start in the RAM copy (`None`: read where they are).
    pub(crate) ram_at: S::List<Option<u32>>,
    /// Per node: where its gradient starts in the gradient region (`None`: none needed).
    pub(crate) grad_at: S::List<Option<u32>>,
    /// One sample's activations, each in its own place (the backward pass reads them).
    pub(crate) activations: Plan<S>,
    /// `evaluate`'s plan (inference, tensors share memory).
    pub(crate) inference: Plan<S>,
    pub(crate) weight_bytes: usize,
    pub(crate) slot_bytes: usize,
    pub(crate) grad_bytes: usize,
    /// Floats in each of the two gradient scratch buffers (the largest tensor).
    pub(crate) scratch: usize,
    /// Floats of the backward passes' own scratch.
    pub(crate) work: usize,
    /// Samples held at once: 1, or the batch size when a layer trains with the batch's
    /// statistics.
    pub(crate) lanes: usize,
    /// Per node of such a layer: where its `[momentum, mean…, variance…]` start in the
    /// statistics region (floats).
    pub(crate) stats_at: S::List<Option<u32>>,
    /// Floats of the statistics region.
    pub(crate) stats: usize,
    /// Floats of each of the two buffers a batch's tensors are gathered into (0 for one
    /// sample at a time).
    pub(crate) gather: usize,
    pub(crate) lower_bound: usize,
}

impl<S: Storage> TrainPlan<S> {
    /// Bytes of the weights that train (their layers' whole weights, copied to RAM):
    /// `TRAINABLE_BYTES`.
    pub fn trainable_bytes(&self) -> usize {
        self.weight_bytes
    }

    /// Bytes of the weights' gradients (as many as the weights).
    pub fn gradient_bytes(&self) -> usize {
        self.weight_bytes
    }

    /// Bytes of the optimizer's slots (momentum's velocities).
    pub fn slot_bytes(&self) -> usize {
        self.slot_bytes
    }

    /// Bytes of one sample's activations, kept for the backward pass.
    pub fn activation_bytes(&self) -> usize {
        self.activations.bytes
    }

    /// Bytes of the activations' gradients.
    pub fn activation_gradient_bytes(&self) -> usize {
        self.grad_bytes
    }

    /// Bytes of scratch (two buffers as long as the largest tensor, one for the layers'
    /// backward passes) and of batch statistics.
    pub fn scratch_bytes(&self) -> usize {
        (2 * self.scratch + self.work + self.stats + 2 * self.gather) * 4
    }

    /// Samples the arena holds at once: 1 (the arena does not grow with the batch), or
    /// the batch size when a BatchNormalization trains (it needs the batch's statistics).
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Channels of the batch statistics node `node` records.
    pub(crate) fn stats_channels(&self, node: usize) -> usize {
        let start = self.stats_at.get(node).copied().flatten();
        let next = self
            .stats_at
            .iter()
            .skip(node + 1)
            .find_map(|a| *a)
            .map_or(self.stats as u32, |a| a);
        start.map_or(0, |s| ((next - s) as usize).saturating_sub(1) / 2)
    }

    /// Bytes the part after the weights, gradients and slots needs: a training step's or
    /// an `evaluate`'s, whichever is bigger.
    pub(crate) fn work_bytes(&self) -> usize {
        let train = self.lanes * (self.activations.bytes + self.grad_bytes) + self.scratch_bytes();
        let eval = self.inference.bytes + self.scratch * 4;
        train.max(eval)
    }

    /// Bytes of arena `compile` needs, with room to align any `[u8]`:
    /// `TRAIN_ARENA_BYTES`.
    pub fn train_arena_bytes(&self) -> usize {
        planner::arena_bytes(self.fixed_bytes() + self.work_bytes())
    }

    /// Weights, gradients and slots.
    pub(crate) fn fixed_bytes(&self) -> usize {
        2 * self.weight_bytes + self.slot_bytes
    }

    /// What no plan of this way of training (one sample at a time, no recomputation)
    /// can go under: the weights that train, their gradients and slots, plus the most
    /// that must be live at once in a step: every tensor the backward pass reads, and the
    /// largest gradient of one layer's output together with its inputs'.
    pub fn lower_bound(&self) -> usize {
        self.fixed_bytes() + self.lower_bound
    }
}

impl<'w, S: Storage> Graph<'w, S> {
    /// The arena training this model with `compile` needs, and how it is laid out.
    pub fn train_plan(&self, compile: &Compile) -> Result<TrainPlan<S>, Error> {
        self.check_built()?;
        compile.check(self.outputs.len()).map_err(Error::Train)?;
        let train_shapes = self.shapes_for(None, Some(true))?;
        let inference_shapes = self.shapes_for(None, Some(false))?;

        // The layers that train: trainable (with every enclosing model), with weights.
        let mut ram_at: S::List<Option<u32>> = Default::default();
        let mut weight_bytes = 0usize;
        for id in 0..self.layers.len() {
            let layer = id as LayerId;
            let specs = self.layer_weights(layer);
            let trains = self.is_trainable(layer) && specs.iter().any(|w| w.trainable);
            let at = if trains {
                if specs.iter().any(|w| w.dtype != DType::F32) {
                    return Err(not_float(self, layer));
                }
                let at = weight_bytes;
                weight_bytes += specs.iter().map(|w| w.bytes()).sum::<usize>();
                Some(to_u32(at)?)
            } else {
                None
            };
            storage::push(&mut ram_at, at, "layers")?;
        }
        let slot_bytes = weight_bytes * compile.optimizer.slots_per_value();
        // A layer that trains with the batch's statistics: the whole batch at once.
        let mut stats_at: S::List<Option<u32>> = Default::default();
        let mut stats = 0usize;
        for (i, node) in self.nodes.iter().enumerate() {
            let batch = ram_at.get(node.layer as usize).copied().flatten().is_some()
                && self
                    .layer(node.layer)
                    .is_some_and(|l| l.kind.op().uses_batch_statistics());
            let at = if batch {
                let channels = train_shapes.get(i).and_then(|s| s.last()).unwrap_or(0) as usize;
                let at = stats;
                stats += 1 + 2 * channels;
                Some(to_u32(at)?)
            } else {
                None
            };
            storage::push(&mut stats_at, at, "nodes")?;
        }
        let lanes = if stats > 0 {
            compile.planned_batch_size()
        } else {
            1
        };
        if lanes > super::trainer::MAX_LANES || lanes == 0 {
            return Err(Error::Train(TrainError::Compile(
                "the batch size of a model whose BatchNormalization trains must be in 1..=256",
            )));
        }

        // Every computed node gets its own place: the backward pass reads them all.
        let mut placements: S::List<Placement> = Default::default();
        let mut offset = 0usize;
        let mut largest = 0usize;
        for (i, node) in self.nodes.iter().enumerate() {
            let shape = train_shapes.get(i).copied().unwrap_or(crate::Shape::SCALAR);
            let elements = shape.sample_elements().unwrap_or(0);
            largest = largest.max(elements);
            let is_input = self.inputs.iter().any(|&n| n as usize == i);
            let placement = if is_input || node.view_of.is_some() {
                Placement::default()
            } else {
                let bytes = (elements * node.dtype.size()).next_multiple_of(ARENA_ALIGN);
                let p = Placement {
                    offset,
                    bytes,
                    in_place: false,
                };
                offset += bytes;
                p
            };
            storage::push(&mut placements, placement, "nodes")?;
        }
        let activations = Plan {
            placements,
            bytes: offset,
            lower_bound: offset,
        };

        // Gradients: the nodes downstream of a layer that trains.
        let mut grad_at: S::List<Option<u32>> = Default::default();
        let mut grad_bytes = 0usize;
        let mut live = 0usize;
        for (i, node) in self.nodes.iter().enumerate() {
            let resolved = self.resolve(i as NodeId) as usize;
            let needs = if resolved != i {
                false // a view: its gradient is its target's
            } else {
                let own = ram_at.get(node.layer as usize).copied().flatten().is_some();
                own || node.inputs.iter().any(|&n| {
                    let n = self.resolve(n) as usize;
                    grad_at.get(n).copied().flatten().is_some()
                })
            };
            let at = if needs {
                let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
                if node.dtype != DType::F32 {
                    return Err(not_float(self, node.layer));
                }
                if layer.kind.op().backward().is_none() {
                    return Err(Error::Train(TrainError::NoBackward {
                        layer: for_error(&layer.name),
                        class: layer.class_name(),
                    }));
                }
                let bytes = train_shapes[i].sample_elements().unwrap_or(0) * 4;
                let inputs: usize = node
                    .inputs
                    .iter()
                    .map(|&n| self.resolve(n) as usize)
                    .filter(|&n| grad_at.get(n).copied().flatten().is_some())
                    .map(|n| {
                        train_shapes
                            .get(n)
                            .and_then(|s| s.sample_elements())
                            .unwrap_or(0)
                            * 4
                    })
                    .sum();
                live = live.max(bytes + inputs);
                let at = grad_bytes;
                grad_bytes += bytes;
                Some(to_u32(at)?)
            } else {
                None
            };
            storage::push(&mut grad_at, at, "nodes")?;
        }
        // What the backward pass reads: the outputs and inputs of the nodes with a
        // gradient, each once (model inputs stay in the caller's buffers).
        let mut saved = 0usize;
        let placed: &[Placement] = core::ops::Deref::deref(&activations.placements);
        for (i, placement) in placed.iter().enumerate() {
            let read = self.nodes.iter().enumerate().any(|(j, node)| {
                grad_at.get(j).copied().flatten().is_some()
                    && (j == i || node.inputs.iter().any(|&n| self.resolve(n) as usize == i))
            });
            if read {
                saved += placement.bytes;
            }
        }
        let mut work = largest;
        for (i, node) in self.nodes.iter().enumerate() {
            let (Some(layer), Some(&input)) = (
                self.layer(node.layer),
                node.inputs
                    .first()
                    .and_then(|&n| train_shapes.get(self.resolve(n) as usize)),
            ) else {
                continue;
            };
            if grad_at.get(i).copied().flatten().is_some() {
                work = work.max(layer.kind.op().backward_scratch(&input, &train_shapes[i]));
            }
        }
        let inference = planner::plan(self, &inference_shapes, Some(false))?;
        // A layer that normalizes with the batch's statistics needs every sample's input
        // and output at once.
        let mut batch_held = 0usize;
        for (i, node) in self.nodes.iter().enumerate() {
            if stats_at.get(i).copied().flatten().is_none() {
                continue;
            }
            let bytes = |n: usize| {
                train_shapes
                    .get(n)
                    .and_then(|s| s.sample_elements())
                    .unwrap_or(0)
                    * 4
            };
            let input = node
                .inputs
                .first()
                .map_or(0, |&n| bytes(self.resolve(n) as usize));
            batch_held += (lanes - 1) * (input + bytes(i));
        }
        let lower_bound = (saved + live).max(inference.lower_bound) + batch_held;
        Ok(TrainPlan {
            ram_at,
            grad_at,
            activations,
            inference,
            weight_bytes,
            slot_bytes,
            grad_bytes,
            scratch: largest * lanes,
            work: work.max(largest * lanes),
            lanes,
            stats_at,
            stats,
            gather: if compile.holds_whole_batch() && lanes > 1 {
                largest * lanes
            } else {
                0
            },
            lower_bound,
        })
    }
}

fn not_float<S: Storage>(graph: &Graph<'_, S>, layer: LayerId) -> Error {
    let name = graph
        .layer(layer)
        .map(|l| for_error(&l.name))
        .unwrap_or_default();
    Error::Train(TrainError::NotFloat { layer: name })
}

fn to_u32(bytes: usize) -> Result<u32, Error> {
    u32::try_from(bytes).map_err(|_| Error::Capacity {
        what: "bytes of training arena",
        capacity: u32::MAX as usize,
    })
}
