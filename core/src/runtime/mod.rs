//! Running a graph: `predict` from caller-lent buffers.
//!
//! Each call works out the concrete shapes, plans the arena, checks every buffer and
//! weight length, and only then runs the kernels, so nothing is written on bad input and
//! nothing can panic. A batch is run one sample at a time through the same arena.

mod execute;
#[cfg(test)]
mod tests;

use crate::error::Error;
use crate::graph::storage::{self, Storage};
use crate::graph::Graph;
use crate::kernels::SmallRng;
use crate::name::for_error;
use crate::planner::{self, Plan};
use crate::shape::Shape;

impl<S: Storage> Graph<'_, S> {
    /// Per-sample node shapes (batch axis 1) at inference for inputs of the given shapes;
    /// `None` uses the declared input shapes, which must then be fully known.
    pub fn sample_shapes(&self, input_shapes: Option<&[Shape]>) -> Result<S::List<Shape>, Error> {
        self.shapes_for(input_shapes, Some(false))
    }

    /// Whether node `node` runs in training mode for a call with `training=call`.
    ///
    /// Keras replays a Functional or Sequential graph with the call's `training` when it is
    /// given, overriding what the node recorded (a RandomCrop node records `training=True`,
    /// its default, yet `predict` does not crop); otherwise the node's own argument, then
    /// the layer's default (`True` for RandomCrop, `False` for Dropout). In a subclassed
    /// model the argument written in `call` comes first, as it does in Python.
    pub fn node_training(&self, node: usize, call: Option<bool>) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        let default = matches!(
            self.layer(n.layer).map(|l| l.kind),
            Some(crate::LayerKind::RandomCrop { .. })
        );
        let chosen = match self.kind {
            crate::ModelKind::Subclassed => n.training.or(call),
            _ => call.or(n.training),
        };
        chosen.unwrap_or(default)
    }

    /// Per-sample node shapes for a call with Keras's `training=` argument.
    pub fn shapes_for(
        &self,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
    ) -> Result<S::List<Shape>, Error> {
        if let Some(given) = input_shapes {
            if given.len() != self.inputs.len() {
                return Err(Error::BufferCount {
                    what: "input shape",
                    expected: self.inputs.len(),
                    found: given.len(),
                });
            }
        }
        let mut shapes: S::List<Shape> = Default::default();
        for (i, node) in self.nodes.iter().enumerate() {
            let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
            let position = self.inputs.iter().position(|&n| n as usize == i);
            let shape = if let Some(position) = position {
                let declared = node.shape;
                let shape =
                    match input_shapes.and_then(|s| s.get(position)) {
                        Some(given) => {
                            // As Keras's predict: the batch and the inner (spatial) axes may
                            // differ from the declared shape; the last (features/channels)
                            // must match. Layers whose weights depend on a size are checked
                            // below, so a wrong size is an error, never a misread.
                            let last = declared.rank().saturating_sub(1);
                            let compatible =
                                given.rank() == declared.rank()
                                    && given.dims().iter().zip(declared.dims()).enumerate().all(
                                        |(axis, (g, d))| axis != last || d.is_none() || *g == d,
                                    );
                            if !compatible {
                                return Err(Error::InputShape {
                                    index: position,
                                    expected: declared,
                                    found: *given,
                                });
                            }
                            *given
                        }
                        None => declared,
                    };
                let shape = shape.with_batch(Some(1));
                if !shape.is_sample_known() {
                    return Err(Error::UnknownDimension {
                        layer: for_error(&layer.name),
                        shape,
                    });
                }
                shape
            } else if let Some(target) = node.view_of {
                shapes
                    .get(target as usize)
                    .copied()
                    .ok_or(Error::NoSuchLayer)?
            } else if node.inputs.is_empty() {
                return Err(Error::Unbuilt {
                    layer: for_error(&layer.name),
                });
            } else {
                let mut inputs: S::Few<Shape> = Default::default();
                for &input in node.inputs.iter() {
                    let s = shapes.get(input as usize).ok_or(Error::NoSuchLayer)?;
                    storage::push(&mut inputs, *s, "inputs of one node")?;
                }
                // The weights were sized for the shape the layer was built with; a run on
                // another shape must need exactly the same weights.
                let built = self.layer_weights(node.layer);
                if let Some(first) = inputs.first() {
                    let now = layer.kind.weights(first);
                    if built
                        .iter()
                        .map(|w| w.shape)
                        .ne(now.iter().map(|w| w.shape))
                    {
                        return Err(Error::IncompatibleInput {
                            layer: for_error(&layer.name),
                            found: *first,
                            expected: "the input size the layer's weights were made for",
                        });
                    }
                }
                if self.node_training(i, training) {
                    layer.kind.output_shape_of(&layer.name, &inputs)?
                } else {
                    layer.kind.inference_shape_of(&layer.name, &inputs)?
                }
            };
            storage::push(&mut shapes, shape, "nodes")?;
        }
        Ok(shapes)
    }

    /// The arena plan for inputs of the given per-sample shapes (`None`: declared shapes).
    pub fn plan(&self, input_shapes: Option<&[Shape]>) -> Result<Plan<S>, Error> {
        self.plan_for(input_shapes, Some(false))
    }

    /// The arena plan for a call with Keras's `training=` argument (RandomCrop in training
    /// changes shapes, so the plan can differ from `predict`'s).
    pub fn plan_for(
        &self,
        input_shapes: Option<&[Shape]>,
        training: Option<bool>,
    ) -> Result<Plan<S>, Error> {
        if self.inputs.is_empty() {
            return Err(match self.layers.first() {
                Some(l) => Error::Unbuilt {
                    layer: for_error(&l.name),
                },
                None => Error::BufferCount {
                    what: "input",
                    expected: 1,
                    found: 0,
                },
            });
        }
        let shapes = self.shapes_for(input_shapes, training)?;
        planner::plan(self, &shapes)
    }

    /// Bytes of arena `predict` needs for the declared input shapes.
    pub fn arena_bytes(&self) -> Result<usize, Error> {
        Ok(self.plan(None)?.arena_bytes())
    }

    /// Keras's `predict`: `inputs[i]` holds a whole batch for model input `i` (row-major,
    /// batch first), `outputs[j]` receives model output `j`. Returns the batch size.
    pub fn predict(
        &self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.predict_with_shapes(None, inputs, outputs, arena)
    }

    /// `predict` for models with `None` axes: `input_shapes[i]` is the shape of input `i`
    /// (its batch axis is ignored; the batch comes from the buffer length).
    pub fn predict_with_shapes(
        &self,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        let plan = self.plan(input_shapes)?;
        self.run_planned(&plan, input_shapes, inputs, outputs, arena)
    }

    /// Keras's `model(x, training=…)`: a forward pass where Dropout (training) drops and
    /// scales, and RandomCrop (training, its default) crops one random window per batch.
    /// `rng` draws the randomness; the same seed gives the same run.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
        training: Option<bool>,
        rng: &mut SmallRng,
    ) -> Result<usize, Error> {
        let plan = self.plan_for(input_shapes, training)?;
        self.run(&plan, input_shapes, inputs, outputs, arena, training, rng)
    }

    /// `predict` with a given plan (tests compare the planner against a plan without reuse).
    pub(crate) fn run_planned(
        &self,
        plan: &Plan<S>,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.run(
            plan,
            input_shapes,
            inputs,
            outputs,
            arena,
            Some(false),
            &mut SmallRng::new(0),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        plan: &Plan<S>,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [u8],
        training: Option<bool>,
        rng: &mut SmallRng,
    ) -> Result<usize, Error> {
        let shapes = self.shapes_for(input_shapes, training)?;
        let batch = self.check_buffers(&shapes, inputs, outputs)?;
        let expected = self.weight_len;
        if self.weights.len() != expected {
            return Err(Error::WeightsLength {
                expected,
                found: self.weights.len(),
            });
        }
        let given = arena.len();
        let (_, arena, _) = bytemuck::pod_align_to_mut::<u8, f32>(arena);
        if arena.len() < plan.elements {
            return Err(Error::ArenaTooSmall {
                given,
                usable: arena.len() * 4,
                needed: plan.elements * 4,
                declare: plan.arena_bytes(),
            });
        }
        // One draw per call: RandomCrop takes one window for the whole batch.
        let call_seed = u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32());
        let exec = execute::Execution::new(self, &shapes, plan, training, call_seed)?;
        for sample in 0..batch {
            exec.run_sample(sample, inputs, outputs, arena, rng)?;
        }
        Ok(batch)
    }

    /// Checks buffer counts and lengths; returns the batch size.
    fn check_buffers(
        &self,
        shapes: &[Shape],
        inputs: &[&[f32]],
        outputs: &[&mut [f32]],
    ) -> Result<usize, Error> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::BufferCount {
                what: "input",
                expected: self.inputs.len(),
                found: inputs.len(),
            });
        }
        if outputs.len() != self.outputs.len() {
            return Err(Error::BufferCount {
                what: "output",
                expected: self.outputs.len(),
                found: outputs.len(),
            });
        }
        let per_sample = |node: u16| {
            shapes
                .get(node as usize)
                .and_then(Shape::sample_elements)
                .unwrap_or(0)
        };
        let mut batch = None;
        for (i, (&node, data)) in self.inputs.iter().zip(inputs).enumerate() {
            let size = per_sample(node);
            let shape = shapes
                .get(node as usize)
                .copied()
                .unwrap_or(Shape::SCALAR)
                .with_batch(None);
            if size == 0 || data.len() % size != 0 {
                return Err(Error::BufferLength {
                    what: "input",
                    index: i,
                    shape,
                    found: data.len(),
                });
            }
            let b = data.len() / size;
            match batch {
                None => batch = Some(b),
                Some(first) if first != b => return Err(Error::BatchMismatch { first, other: b }),
                _ => {}
            }
        }
        let batch = batch.unwrap_or(0);
        for (i, (&node, data)) in self.outputs.iter().zip(outputs).enumerate() {
            if data.len() != per_sample(node) * batch {
                return Err(Error::BufferLength {
                    what: "output",
                    index: i,
                    shape: shapes
                        .get(node as usize)
                        .copied()
                        .unwrap_or(Shape::SCALAR)
                        .with_batch(u32::try_from(batch).ok()),
                    found: data.len(),
                });
            }
        }
        Ok(batch)
    }
}
