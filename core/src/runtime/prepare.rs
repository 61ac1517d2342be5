//! Preparing a graph for runs (TensorFlow Lite Micro's `AllocateTensors`): shapes, the
//! arena plan, and every layer's step with its parameters and weight slices, worked out
//! once. What is checked here is never checked again when the model runs.

use crate::error::Error;
use crate::graph::storage::{self, Storage};
use crate::graph::{layout, DType, Graph, NodeId};
use crate::name::for_error;
use crate::ops::{Cx, Step, Weight};
use crate::planner::{self, Placement, Plan};
use crate::shape::Shape;

/// Where a step reads a tensor from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Source {
    /// Model input `index`: `bytes` per sample in the caller's buffer.
    Caller { index: usize, bytes: usize },
    /// `bytes` bytes at byte `offset` in the arena.
    Arena { offset: usize, bytes: usize },
}

/// A model input or output as a run sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Io {
    /// Its per-sample shape (batch axis 1).
    pub shape: Shape,
    pub dtype: DType,
    /// Values per sample.
    pub elements: usize,
}

/// One layer call, placed: its step, where its inputs are, where its output goes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Placed<'w, S: Storage> {
    pub step: Step<'w>,
    pub inputs: S::Few<Source>,
    pub output: Placement,
}

/// A model ready to run: make it once with [`Graph::prepare`], then run it any number of
/// times with [`Prepared::predict`] (or [`Prepared::call`] in training mode).
///
/// ```
/// use kiln::layers::{Dense, Input};
/// use kiln::{Activation, Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(Dense::new(1).activation(Activation::Relu))?;
/// model.set_weights(&[0.5, -1.0, 0.25])?;               // kernel (2, 1), bias (1,)
/// let prepared = model.prepare(None)?;                  // once, at boot
/// let mut arena = [0u8; 16];
/// let mut y = [0.0f32];
/// prepared.predict(&[&[2.0, 0.5]], &mut [&mut y], &mut arena)?;
/// assert_eq!(y, [0.75]);
/// # Ok::<(), kiln::Error>(())
/// ```
pub struct Prepared<'w, S: Storage> {
    pub(crate) steps: S::List<Placed<'w, S>>,
    pub(crate) inputs: S::Few<Io>,
    /// Per model output: where its values are, and what they are.
    pub(crate) outputs: S::Few<(Source, Io)>,
    /// Bytes of arena the plan needs (aligned).
    pub(crate) plan_bytes: usize,
}

impl<'w, S: Storage> Graph<'w, S> {
    /// Prepares the model for runs at inference on inputs of the given shapes (`None`: the
    /// declared ones, which must then be fully known): checks everything a run needs,
    /// plans the arena and resolves every step, so that runs only compute.
    pub fn prepare(&self, input_shapes: Option<&[Shape]>) -> Result<Prepared<'w, S>, Error> {
        self.prepare_for(input_shapes, Some(false))
    }

    /// [`prepare`](Self::prepare) for calls with Keras's `training=` argument.
    pub fn prepare_for(
        &self,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
    ) -> Result<Prepared<'w, S>, Error> {
        let plan = self.plan_for(input_shapes, training)?;
        self.prepare_with(&plan, input_shapes, training)
    }

    /// Prepares with a given plan (tests compare the planner against a plan without reuse).
    pub(crate) fn prepare_with(
        &self,
        plan: &Plan<S>,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
    ) -> Result<Prepared<'w, S>, Error> {
        if self.weights.len() != self.weight_len {
            return Err(Error::WeightsLength {
                expected: self.weight_len,
                found: self.weights.len(),
            });
        }
        let shapes = self.shapes_for(input_shapes, training)?;
        let io = |node: NodeId| -> Io {
            let node = self.resolve(node) as usize;
            let shape = shapes.get(node).copied().unwrap_or(Shape::SCALAR);
            Io {
                shape,
                dtype: self.nodes.get(node).map_or(DType::F32, |n| n.dtype),
                elements: shape.sample_elements().unwrap_or(0),
            }
        };
        let source = |node: NodeId| -> Source {
            let resolved = self.resolve(node) as usize;
            let Io {
                dtype, elements, ..
            } = io(node);
            let bytes = elements * dtype.size();
            match self.inputs.iter().position(|&n| n as usize == resolved) {
                Some(index) => Source::Caller { index, bytes },
                None => {
                    let p = plan.placements.get(resolved).copied().unwrap_or_default();
                    Source::Arena {
                        offset: p.offset,
                        bytes,
                    }
                }
            }
        };
        let mut steps: S::List<Placed<'w, S>> = Default::default();
        for (i, node) in self.nodes.iter().enumerate() {
            let is_input = self.inputs.iter().any(|&n| n as usize == i);
            if is_input || node.view_of.is_some() {
                continue;
            }
            let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
            let op = layer.kind.op();
            if let Some(what) = op.math().filter(|_| !cfg!(feature = "math")) {
                return Err(Error::LeftOut {
                    layer: for_error(&layer.name),
                    left_out: crate::ops::LeftOut {
                        what,
                        feature: "math",
                    },
                });
            }
            let dtypes = node.inputs.iter().map(|&n| io(n).dtype);
            if let Some(dtype) = dtypes.chain([node.dtype]).find(|&d| !op.runs(d)) {
                return Err(Error::DTypeNotSupported {
                    layer: for_error(&layer.name),
                    dtype,
                });
            }
            let mut input_shapes: S::Few<Shape> = Default::default();
            let mut inputs: S::Few<Source> = Default::default();
            for &input in node.inputs.iter() {
                let shape = shapes.get(input as usize).copied().unwrap_or(Shape::SCALAR);
                storage::push(&mut input_shapes, shape, "inputs of one node")?;
                storage::push(&mut inputs, source(input), "inputs of one node")?;
            }
            let weights = self.weight_slices(node.layer)?;
            let cx = Cx {
                inputs: &input_shapes,
                output: shapes.get(i).copied().unwrap_or(Shape::SCALAR),
                weights: &weights,
                training: self.node_training(i, training),
                node: i,
            };
            let step = op.prepare(&cx).map_err(|m| Error::IncompatibleInput {
                layer: for_error(&layer.name),
                found: m.found,
                expected: m.expected,
            })?;
            let output = plan.placements.get(i).copied().unwrap_or_default();
            storage::push(
                &mut steps,
                Placed {
                    step,
                    inputs,
                    output,
                },
                "nodes",
            )?;
        }
        let inputs = storage::collect(self.inputs.iter().map(|&n| io(n)), "model inputs")?;
        let outputs = storage::collect(
            self.outputs.iter().map(|&n| (source(n), io(n))),
            "model outputs",
        )?;
        Ok(Prepared {
            steps,
            inputs,
            outputs,
            plan_bytes: plan.bytes,
        })
    }

    /// A layer's weight variables, in Keras's order, checked against the buffer.
    fn weight_slices(
        &self,
        layer: crate::graph::LayerId,
    ) -> Result<heapless::Vec<Weight<'w>, 4>, Error> {
        let mut slices = heapless::Vec::new();
        let specs = self.layer_weights(layer);
        if specs.is_empty() {
            return Ok(slices);
        }
        let missing = || Error::WeightsLength {
            expected: self.weight_len,
            found: self.weights.len(),
        };
        let start = self.weight_offset(layer).ok_or_else(missing)?;
        for (spec, range) in specs.iter().zip(layout(&specs, start)) {
            let bytes = self.weights.get(range).ok_or_else(missing)?;
            let _ = slices.push(Weight { spec: *spec, bytes });
        }
        Ok(slices)
    }
}

impl<S: Storage> Prepared<'_, S> {
    /// Bytes of arena a run needs, with room to align an arbitrary `[u8]`.
    pub fn arena_bytes(&self) -> usize {
        planner::arena_bytes(self.plan_bytes)
    }

    /// How many model inputs and outputs a run takes.
    pub fn io_count(&self) -> (usize, usize) {
        (self.inputs.len(), self.outputs.len())
    }

    /// Values per sample of model input `index`.
    pub fn input_elements(&self, index: usize) -> Option<usize> {
        self.inputs.get(index).map(|io| io.elements)
    }

    /// Values per sample of model output `index`.
    pub fn output_elements(&self, index: usize) -> Option<usize> {
        self.outputs.get(index).map(|(_, io)| io.elements)
    }

    /// The dtype of model input `index`.
    pub fn input_dtype(&self, index: usize) -> Option<DType> {
        self.inputs.get(index).map(|io| io.dtype)
    }

    /// The dtype of model output `index`.
    pub fn output_dtype(&self, index: usize) -> Option<DType> {
        self.outputs.get(index).map(|(_, io)| io.dtype)
    }
}
