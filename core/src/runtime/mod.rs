//! Running a graph: [`prepare`](Graph::prepare) once (shapes, the arena plan, every
//! layer's step), then [`Prepared::predict`] any number of times from caller-lent buffers.
//! Nothing is written on bad input and nothing can panic. A batch runs one sample at a
//! time through the same arena.

pub(crate) mod invoke;
pub(crate) mod prepare;
#[cfg(test)]
mod tests;

pub use prepare::Prepared;

use crate::error::Error;
use crate::graph::storage::{self, Storage};
use crate::graph::{Element, Graph};
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
        let default = self
            .layer(n.layer)
            .is_some_and(|l| l.kind.op().trains_by_default());
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
                let given = input_shapes.and_then(|s| s.get(position));
                Self::input_shape(position, node.shape, given, &layer.name)?
            } else if let Some(target) = node.view_of {
                shapes
                    .get(target as usize)
                    .copied()
                    .ok_or(Error::NoSuchLayer)?
            } else if node.inputs.is_empty() {
                return Err(unbuilt(&layer.name));
            } else {
                self.computed_shape(i, &shapes, training)?
            };
            storage::push(&mut shapes, shape, "nodes")?;
        }
        Ok(shapes)
    }

    /// The per-sample shape of model input `index`, declared `declared`, for a run given
    /// `given`. Its own function, so that its error temporaries are not on the stack while
    /// the layers' shapes are worked out.
    #[inline(never)]
    fn input_shape(
        index: usize,
        declared: Shape,
        given: Option<&Shape>,
        name: &str,
    ) -> Result<Shape, Error> {
        let shape = match given {
            Some(given) => {
                // As Keras's predict: the batch and the inner (spatial) axes may differ
                // from the declared shape; the last (features/channels) must match. Layers
                // whose weights depend on a size are checked later, so a wrong size is an
                // error, never a misread.
                let last = declared.rank().saturating_sub(1);
                let compatible = given.rank() == declared.rank()
                    && given
                        .dims()
                        .iter()
                        .zip(declared.dims())
                        .enumerate()
                        .all(|(axis, (g, d))| axis != last || d.is_none() || *g == d);
                if !compatible {
                    return Err(Error::InputShape {
                        index,
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
                layer: for_error(name),
                shape,
            });
        }
        Ok(shape)
    }

    /// The shape node `i` computes from the shapes before it. Its own function (as is
    /// [`Self::weights_fit`]), so that its temporaries do not stack up on the caller's.
    #[inline(never)]
    fn computed_shape(
        &self,
        i: usize,
        shapes: &[Shape],
        training: Option<bool>,
    ) -> Result<Shape, Error> {
        let node = self.nodes.get(i).ok_or(Error::NoSuchLayer)?;
        let layer = self.layer(node.layer).ok_or(Error::NoSuchLayer)?;
        let first = node.inputs.first().and_then(|&n| shapes.get(n as usize));
        if let Some(first) = first {
            if !self.weights_fit(node.layer, first) {
                return Err(crate::graph::layer::incompatible(
                    &layer.name,
                    crate::ops::Mismatch::new(
                        *first,
                        "the input size the layer's weights were made for",
                    ),
                ));
            }
        }
        let shape_of = |inputs: &[Shape]| {
            if self.node_training(i, training) {
                layer.kind.output_shape_of(&layer.name, inputs)
            } else {
                layer.kind.inference_shape_of(&layer.name, inputs)
            }
        };
        match (&node.inputs[..], first) {
            // One input (most layers): its shape where it is, no copy.
            ([_], Some(first)) => shape_of(core::slice::from_ref(first)),
            _ => self.with_input_shapes(&node.inputs, shapes, &shape_of),
        }
    }

    /// `f` of the shapes of `inputs`, gathered (merges: several inputs).
    #[inline(never)]
    fn with_input_shapes(
        &self,
        inputs: &[crate::graph::NodeId],
        shapes: &[Shape],
        f: &dyn Fn(&[Shape]) -> Result<Shape, Error>,
    ) -> Result<Shape, Error> {
        let mut gathered: S::Few<Shape> = Default::default();
        for &input in inputs {
            let s = shapes.get(input as usize).ok_or(Error::NoSuchLayer)?;
            storage::push(&mut gathered, *s, "inputs of one node")?;
        }
        f(&gathered)
    }

    /// The weights were sized for the shape the layer was built with; a run on `input`
    /// must need exactly the same weights.
    fn weights_fit(&self, layer: crate::graph::LayerId, input: &Shape) -> bool {
        let built = self.layer_input_shape(layer);
        let same = |a: &Shape, b: &Shape| {
            a.rank() == b.rank() && (1..a.rank()).all(|axis| a.dim(axis) == b.dim(axis))
        };
        built.is_some_and(|b| same(&b, input)) || self.same_weights(layer, input)
    }

    /// [`Self::weights_fit`] for an input of another size than the built one.
    #[inline(never)]
    fn same_weights(&self, layer: crate::graph::LayerId, input: &Shape) -> bool {
        let Some(l) = self.layer(layer) else {
            return false;
        };
        let built = self.layer_weights(layer);
        let now = l.kind.weights(input, self.layer_input_dtype(layer));
        built
            .iter()
            .map(|w| w.shape)
            .eq(now.iter().map(|w| w.shape))
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
        self.check_built()?;
        let shapes = self.shapes_for(input_shapes, training)?;
        planner::plan(self, &shapes, training)
    }

    /// A model with no input cannot plan or run.
    pub(crate) fn check_built(&self) -> Result<(), Error> {
        if !self.inputs.is_empty() {
            return Ok(());
        }
        Err(match self.layers.first() {
            Some(l) => Error::Unbuilt {
                layer: for_error(&l.name),
            },
            None => Error::BufferCount {
                what: "input",
                expected: 1,
                found: 0,
            },
        })
    }

    /// Bytes of arena `predict` needs for the declared input shapes.
    pub fn arena_bytes(&self) -> Result<usize, Error> {
        Ok(self.plan(None)?.arena_bytes())
    }

    /// Keras's `predict`: `inputs[i]` holds a whole batch for model input `i` (row-major,
    /// batch first), `outputs[j]` receives model output `j`. Returns the batch size.
    ///
    /// ```
    /// use kiln::layers::{Dense, Input};
    /// use kiln::{Activation, Fixed, Sequential};
    /// // Keras's get_weights(), flat: kernel (2, 2), bias (2,), kernel (2, 1), bias (1,).
    /// let weights = [1.0, 0.0, 0.0, 1.0, 0.0, -3.0, 2.0, 5.0, 0.5];
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::new(&[2]))?;
    /// model.add(Dense::new(2).activation(Activation::Relu))?;
    /// model.add(Dense::new(1))?;
    /// model.set_weights(&weights)?;
    /// let mut arena = [0u8; 64]; // at least model.arena_bytes()?
    /// let mut y = [0.0f32; 2];
    /// let batch = model.predict(&[&[1.0, 2.0, 3.0, 4.0]], &mut [&mut y], &mut arena)?;
    /// assert_eq!((batch, y), (2, [2.5, 11.5]));
    /// # Ok::<(), kiln::Error>(())
    /// ```
    pub fn predict<T: Element>(
        &self,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.predict_with_shapes(None, inputs, outputs, arena)
    }

    /// `predict` for models with `None` axes: `input_shapes[i]` is the shape of input `i`
    /// (its batch axis is ignored; the batch comes from the buffer length). Prepares the
    /// model for this one run; to run it many times, [`prepare`](Self::prepare) it once.
    pub fn predict_with_shapes<T: Element>(
        &self,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
        arena: &mut [u8],
    ) -> Result<usize, Error> {
        self.prepare(input_shapes)?.predict(inputs, outputs, arena)
    }

    /// Keras's `model(x, training=…)`: a forward pass where Dropout (training) drops and
    /// scales, and RandomCrop (training, its default) crops one random window per batch.
    /// `rng` draws the randomness; the same seed gives the same run.
    ///
    /// ```
    /// use kiln::kernels::SmallRng;
    /// use kiln::layers::{Dropout, Input};
    /// use kiln::{Fixed, Sequential};
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::new(&[4]))?;
    /// model.add(Dropout::new(0.5))?;
    /// let (x, mut y, mut arena) = ([1.0f32; 4], [0.0f32; 4], [0u8; 64]);
    /// let mut rng = SmallRng::new(42);
    /// model.call(None, &[&x], &mut [&mut y], &mut arena, Some(true), &mut rng)?;
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0)); // dropped, or scaled by 1 / (1 - 0.5)
    /// model.call(None, &[&x], &mut [&mut y], &mut arena, Some(false), &mut rng)?;
    /// assert_eq!(y, x);
    /// # Ok::<(), kiln::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn call<T: Element>(
        &self,
        input_shapes: Option<&[Shape]>,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
        arena: &mut [u8],
        training: Option<bool>,
        rng: &mut SmallRng,
    ) -> Result<usize, Error> {
        self.prepare_for(input_shapes, training)?
            .call(inputs, outputs, arena, rng)
    }
}

/// `Error::Unbuilt` for layer `name`, built out of line (see `graph::layer::incompatible`).
#[cold]
#[inline(never)]
fn unbuilt(name: &str) -> Error {
    Error::Unbuilt {
        layer: for_error(name),
    }
}
