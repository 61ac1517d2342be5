//! Preparing a graph for runs (TensorFlow Lite Micro's `AllocateTensors`): shapes, the
//! arena plan, and every layer's step with its parameters and weight slices, worked out
//! once. What is checked here is never checked again when the model runs.

use crate::error::Error;
use crate::graph::storage::{self, List, Storage};
use crate::graph::{DType, Graph, NodeId};
use crate::name::for_error;
use crate::ops::{Cx, Step, Weights};
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
    /// The node this step computes.
    pub node: NodeId,
}

/// Where the layers that train read their weights from: a copy in RAM (`ram`, layer `l`'s
/// first byte at `at[l]`), instead of the graph's buffer (which may be in flash).
#[derive(Clone, Copy)]
pub(crate) struct WeightSource<'t, 'l> {
    pub ram: &'t [u8],
    pub at: &'l [Option<u32>],
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

/// Nothing prepared: runs refuse every buffer until [`Graph::prepare_into`] fills it.
impl<S: Storage> Default for Prepared<'_, S> {
    fn default() -> Self {
        Prepared {
            steps: Default::default(),
            inputs: Default::default(),
            outputs: Default::default(),
            plan_bytes: 0,
        }
    }
}

impl<'w, S: Storage> Graph<'w, S> {
    /// Prepares the model for runs at inference on inputs of the given shapes (`None`: the
    /// declared ones, which must then be fully known): checks everything a run needs,
    /// plans the arena and resolves every step, so that runs only compute.
    ///
    /// ```
    /// use kiln::layers::{GlobalMaxPooling1D, Input};
    /// use kiln::{Fixed, Sequential, Shape};
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::with_dims(&[None, Some(2)]))?; // any number of steps
    /// model.add(GlobalMaxPooling1D::new())?;
    /// // Runs of 3 steps (the batch axis is the buffers' business).
    /// let prepared = model.prepare(Some(&[Shape::new(&[None, Some(3), Some(2)])?]))?;
    /// let mut y = [0.0f32; 2];
    /// prepared.predict(&[&[1.0, 6.0, 5.0, 2.0, 3.0, 4.0]], &mut [&mut y], &mut [0u8; 64])?;
    /// assert_eq!(y, [5.0, 6.0]);
    /// # Ok::<(), kiln::Error>(())
    /// ```
    pub fn prepare(&self, input_shapes: Option<&[Shape]>) -> Result<Prepared<'w, S>, Error> {
        self.prepare_for(input_shapes, Some(false))
    }

    /// [`prepare`](Self::prepare) for calls with Keras's `training=` argument.
    pub fn prepare_for(
        &self,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
    ) -> Result<Prepared<'w, S>, Error> {
        let mut prepared = Prepared::default();
        self.prepare_in(&mut prepared, input_shapes, training, None)?;
        Ok(prepared)
    }

    /// [`prepare`](Self::prepare) into storage the caller keeps (on a device: a static,
    /// or the frame of `main`), so that nothing as big as the prepared model is built on
    /// the stack. On an error `prepared` is left empty.
    ///
    /// ```
    /// use kiln::layers::{Dense, Input};
    /// use kiln::runtime::Prepared;
    /// use kiln::{Fixed, Sequential};
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::new(&[2]))?;
    /// model.add(Dense::new(1))?;
    /// model.set_weights(&[0.5, -1.0, 0.25])?;
    /// let mut prepared = Prepared::default();
    /// model.prepare_into(&mut prepared, None)?;
    /// let mut y = [0.0f32];
    /// prepared.predict(&[&[2.0, 0.5]], &mut [&mut y], &mut [0u8; 16])?;
    /// assert_eq!(y, [0.75]);
    /// # Ok::<(), kiln::Error>(())
    /// ```
    pub fn prepare_into(
        &self,
        prepared: &mut Prepared<'w, S>,
        input_shapes: Option<&[Shape]>,
    ) -> Result<(), Error> {
        self.prepare_in(prepared, input_shapes, Some(false), None)
    }

    /// Prepares into `out`, with the planner's plan or (tests) a given one. Never inlined:
    /// the stack it takes is its own, not its caller's (and firmware can measure it).
    #[inline(never)]
    pub(crate) fn prepare_in(
        &self,
        out: &mut Prepared<'w, S>,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
        plan: Option<&Plan<S>>,
    ) -> Result<(), Error> {
        self.prepare_with(out, input_shapes, training, plan, None)
    }

    /// [`Self::prepare_in`] with the weights of some layers read from `ram` (training).
    #[inline(never)]
    pub(crate) fn prepare_with<'t>(
        &self,
        out: &mut Prepared<'t, S>,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
        plan: Option<&Plan<S>>,
        ram: Option<WeightSource<'t, '_>>,
    ) -> Result<(), Error>
    where
        'w: 't,
    {
        out.steps.clear();
        out.inputs.clear();
        out.outputs.clear();
        out.plan_bytes = 0;
        let result = self.fill(out, input_shapes, training, plan, ram);
        if result.is_err() {
            out.steps.clear();
            out.inputs.clear();
            out.outputs.clear();
        }
        result
    }

    fn fill<'t>(
        &self,
        out: &mut Prepared<'t, S>,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
        plan: Option<&Plan<S>>,
        ram: Option<WeightSource<'t, '_>>,
    ) -> Result<(), Error>
    where
        'w: 't,
    {
        if self.weights.len() != self.weight_len {
            return Err(Error::WeightsLength {
                expected: self.weight_len,
                found: self.weights.len(),
            });
        }
        self.check_built()?;
        let shapes = self.shapes_for(input_shapes, training)?;
        let planned;
        let plan = match plan {
            Some(plan) => plan,
            None => {
                planned = planner::plan(self, &shapes, training)?;
                &planned
            }
        };
        for i in 0..self.nodes.len() {
            let is_input = self.inputs.iter().any(|&n| n as usize == i);
            if !is_input && self.nodes[i].view_of.is_none() {
                let step = self.step_of(i, &shapes, training, ram)?;
                self.push_step(out, i, step, &shapes, plan)?;
            }
        }
        for &n in self.inputs.iter() {
            storage::push(&mut out.inputs, self.io(n, &shapes), "model inputs")?;
        }
        for &n in self.outputs.iter() {
            let output = (self.source(n, &shapes, plan), self.io(n, &shapes));
            storage::push(&mut out.outputs, output, "model outputs")?;
        }
        out.plan_bytes = plan.bytes;
        Ok(())
    }

    /// A model input or output (or any node's tensor) as a run sees it.
    fn io(&self, node: NodeId, shapes: &[Shape]) -> Io {
        let node = self.resolve(node) as usize;
        let shape = shapes.get(node).copied().unwrap_or(Shape::SCALAR);
        Io {
            shape,
            dtype: self.nodes.get(node).map_or(DType::F32, |n| n.dtype),
            elements: shape.sample_elements().unwrap_or(0),
        }
    }

    /// Where a run finds node `node`'s tensor.
    fn source(&self, node: NodeId, shapes: &[Shape], plan: &Plan<S>) -> Source {
        let resolved = self.resolve(node) as usize;
        let Io {
            dtype, elements, ..
        } = self.io(node, shapes);
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
    }

    /// Resolves node `i`'s step. Its own function (as is [`Self::push_step`]), so that
    /// its temporaries do not stack up on the caller's or on each other's.
    #[inline(never)]
    fn step_of<'t>(
        &self,
        i: usize,
        shapes: &[Shape],
        training: Option<bool>,
        ram: Option<WeightSource<'t, '_>>,
    ) -> Result<Step<'t>, Error>
    where
        'w: 't,
    {
        let node = self.nodes.get(i).ok_or(Error::NoSuchLayer)?;
        let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
        let op = layer.kind.op();
        let int8 = node
            .inputs
            .first()
            .is_some_and(|&n| self.io(n, shapes).dtype == DType::I8);
        if let Some(what) = op.math().filter(|_| !cfg!(feature = "math") && !int8) {
            return Err(Error::LeftOut {
                layer: for_error(&layer.name),
                left_out: crate::ops::LeftOut {
                    what,
                    feature: "math",
                },
            });
        }
        let dtypes = node.inputs.iter().map(|&n| self.io(n, shapes).dtype);
        if let Some(dtype) = dtypes.chain([node.dtype]).find(|&d| !op.runs(d)) {
            return Err(Error::DTypeNotSupported {
                layer: for_error(&layer.name),
                dtype,
            });
        }
        let specs = self.layer_weights(node.layer);
        let in_ram = ram.and_then(|r| {
            let at = r.at.get(node.layer as usize).copied().flatten()?;
            Some((r.ram, at as usize))
        });
        if let Some((buffer, start)) = in_ram {
            return self.prepare_step(i, node, &specs, buffer, start, shapes, training);
        }
        let start = match (specs.is_empty(), self.weight_offset(node.layer)) {
            (true, _) => 0,
            (false, Some(start)) => start,
            (false, None) => {
                return Err(Error::WeightsLength {
                    expected: self.weight_len,
                    found: self.weights.len(),
                })
            }
        };
        self.prepare_step(i, node, &specs, self.weights, start, shapes, training)
    }

    /// Prepares node `i`'s layer with its weights at `start` in `buffer`.
    #[allow(clippy::too_many_arguments)]
    fn prepare_step<'t>(
        &self,
        i: usize,
        node: &crate::graph::Node<S>,
        specs: &[crate::graph::WeightSpec],
        buffer: &'t [u8],
        start: usize,
        shapes: &[Shape],
        training: Option<bool>,
    ) -> Result<Step<'t>, Error> {
        let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
        let op = layer.kind.op();
        let tensors = |n: NodeId| {
            self.nodes
                .get(self.resolve(n) as usize)
                .map_or((DType::F32, crate::graph::Quant::None), |t| {
                    (t.dtype, t.quant)
                })
        };
        let cx = Cx {
            tensors: &tensors,
            shapes,
            inputs: &node.inputs,
            output: shapes.get(i).copied().unwrap_or(Shape::SCALAR),
            weights: Weights {
                specs,
                buffer,
                start,
            },
            training: self.node_training(i, training),
            node: i,
        };
        op.prepare(&cx)
            .map_err(|m| crate::graph::layer::incompatible(&layer.name, m))
    }

    /// Appends node `i`'s step, with where its inputs and output are, to `out`.
    #[inline(never)]
    fn push_step<'t>(
        &self,
        out: &mut Prepared<'t, S>,
        i: usize,
        step: Step<'t>,
        shapes: &[Shape],
        plan: &Plan<S>,
    ) -> Result<(), Error> {
        let node = self.nodes.get(i).ok_or(Error::NoSuchLayer)?;
        let mut inputs: S::Few<Source> = Default::default();
        for &input in node.inputs.iter() {
            storage::push(
                &mut inputs,
                self.source(input, shapes, plan),
                "inputs of one node",
            )?;
        }
        let mut output = plan.placements.get(i).copied().unwrap_or_default();
        // The plan rounds each tensor up to the arena's alignment; a step writes exactly
        // its tensor (an int8 one can be any number of bytes).
        let io = self.io(i as NodeId, shapes);
        output.bytes = output.bytes.min(io.elements * io.dtype.size());
        let placed = Placed {
            step,
            inputs,
            output,
            node: i as NodeId,
        };
        storage::push(&mut out.steps, placed, "nodes")
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
