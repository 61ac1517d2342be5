//! Turns a planned graph into a list of kernel calls, then runs them one sample at a time.
//! Everything that can fail is checked in [`Execution::new`]; `run_sample` only slices
//! what `new` proved to be in range.

use crate::error::Error;
use crate::graph::layer::{BatchNormalization, ReLU};
use crate::graph::storage::{self, List, Storage};
use crate::graph::{Graph, LayerId, LayerKind};
use crate::kernels::merge::MergeOp;
use crate::kernels::random_crop::{crop, crop_window, CropWindow};
use crate::kernels::SmallRng;
use crate::kernels::{self, Activation, Conv2dGeometry, Pool2dGeometry};
use crate::name::for_error;
use crate::planner::{Placement, Plan};
use crate::shape::Shape;
use core::ops::Range;

/// One kernel call with its weights already sliced.
enum Op<'w, S: Storage> {
    /// Model input (read from the caller's buffer) or a view of another tensor: nothing
    /// to compute.
    Nothing,
    Merge(MergeOp),
    Concatenate {
        outer: usize,
        inner: S::Few<usize>,
    },
    Dense {
        in_features: usize,
        kernel: &'w [f32],
        bias: Option<&'w [f32]>,
        activation: Activation,
        units: usize,
    },
    Conv2D {
        g: Conv2dGeometry,
        kernel: &'w [f32],
        bias: Option<&'w [f32]>,
        activation: Activation,
    },
    Depthwise {
        g: Conv2dGeometry,
        depth_multiplier: usize,
        kernel: &'w [f32],
        bias: Option<&'w [f32]>,
        activation: Activation,
    },
    MaxPool(Pool2dGeometry),
    AvgPool(Pool2dGeometry),
    GlobalAverage {
        spatial: usize,
        channels: usize,
    },
    GlobalMax {
        spatial: usize,
        channels: usize,
    },
    BatchNorm {
        channels: usize,
        gamma: Option<&'w [f32]>,
        beta: Option<&'w [f32]>,
        mean: &'w [f32],
        variance: &'w [f32],
        epsilon: f32,
    },
    /// Flatten, Reshape, Dropout at inference: the values unchanged.
    Identity,
    /// Dropout in training.
    Dropout {
        rate: f32,
    },
    /// RandomCrop in training: this call's window of an `(h, w, c)` image.
    RandomCrop {
        image: (usize, usize, usize),
        window: CropWindow,
        target: (usize, usize),
    },
    Activation {
        activation: Activation,
        last_axis: usize,
    },
    ReLU(ReLU),
    LeakyReLU {
        negative_slope: f32,
    },
}

impl<S: Storage> Op<'_, S> {
    /// Applies an element-wise op to `data` in place.
    fn apply_in_place(&self, data: &mut [f32], rng: &mut SmallRng) {
        match *self {
            Op::Dropout { rate } => kernels::dropout::dropout(data, rate, rng),
            Op::Activation {
                activation,
                last_axis,
            } => activation.apply(data, last_axis),
            Op::ReLU(r) => kernels::relu(data, r.max_value, r.negative_slope, r.threshold),
            Op::LeakyReLU { negative_slope } => kernels::leaky_relu(data, negative_slope),
            _ => {}
        }
    }

    /// Runs an op whose output has its own memory.
    fn apply(&self, inputs: &[&[f32]], output: &mut [f32], rng: &mut SmallRng) {
        if let Op::Merge(op) = *self {
            return kernels::merge(op, inputs, output);
        }
        if let Op::Concatenate { outer, ref inner } = *self {
            return kernels::concatenate(inputs, outer, inner, output);
        }
        let input = inputs.first().copied().unwrap_or(&[]);
        if let Op::RandomCrop {
            image,
            window,
            target,
        } = *self
        {
            return crop(input, image, window, target, output);
        }
        match *self {
            Op::Dense {
                in_features,
                kernel,
                bias,
                activation,
                units,
            } => {
                kernels::dense(input, in_features, kernel, bias, output);
                activation.apply(output, units);
            }
            Op::Conv2D {
                ref g,
                kernel,
                bias,
                activation,
            } => {
                kernels::conv2d(g, input, kernel, bias, output);
                activation.apply(output, g.out_c);
            }
            Op::Depthwise {
                ref g,
                depth_multiplier,
                kernel,
                bias,
                activation,
            } => {
                kernels::depthwise_conv2d(g, depth_multiplier, input, kernel, bias, output);
                activation.apply(output, g.out_c);
            }
            Op::MaxPool(ref g) => kernels::max_pool2d(g, input, output),
            Op::AvgPool(ref g) => kernels::average_pool2d(g, input, output),
            Op::GlobalAverage { spatial, channels } => {
                kernels::global_average_pool(input, spatial, channels, output)
            }
            Op::GlobalMax { spatial, channels } => {
                kernels::global_max_pool(input, spatial, channels, output)
            }
            Op::BatchNorm {
                channels,
                gamma,
                beta,
                mean,
                variance,
                epsilon,
            } => kernels::batch_norm(
                input, channels, gamma, beta, mean, variance, epsilon, output,
            ),
            Op::Nothing | Op::Merge(_) | Op::Concatenate { .. } => {}
            Op::Identity
            | Op::Activation { .. }
            | Op::ReLU(_)
            | Op::LeakyReLU { .. }
            | Op::Dropout { .. } => {
                output.copy_from_slice(input);
                self.apply_in_place(output, rng);
            }
            Op::RandomCrop { .. } => {}
        }
    }
}

/// Where a step reads an input.
#[derive(Clone, Copy)]
enum Source {
    /// Model input `position`, `elements` values per sample.
    Caller {
        position: usize,
        elements: usize,
    },
    Arena(Placement),
}

/// A validated run of a graph. Ops are worked out again for every node of every sample
/// instead of being stored: a stored list would cost hundreds of bytes of stack per node,
/// and working one out is a few comparisons next to the kernel it calls.
pub(super) struct Execution<'g, 'w, S: Storage> {
    graph: &'g Graph<'w, S>,
    shapes: &'g [Shape],
    plan: &'g Plan<S>,
    training: Option<bool>,
    call_seed: u64,
}

fn range(p: &Placement) -> Range<usize> {
    p.offset..p.offset + p.elements
}

impl<'g, 'w, S: Storage> Execution<'g, 'w, S> {
    /// Checks that every node has a kernel, its weights and shapes it can run.
    pub(super) fn new(
        graph: &'g Graph<'w, S>,
        shapes: &'g [Shape],
        plan: &'g Plan<S>,
        training: Option<bool>,
        call_seed: u64,
    ) -> Result<Self, Error> {
        let exec = Execution {
            graph,
            shapes,
            plan,
            training,
            call_seed,
        };
        for i in 0..graph.nodes().len() {
            exec.op(i)?;
        }
        Ok(exec)
    }

    fn op(&self, i: usize) -> Result<Op<'w, S>, Error> {
        let graph = self.graph;
        let node = &graph.nodes()[i];
        if graph.input_nodes().iter().any(|&n| n as usize == i) || node.view_of.is_some() {
            return Ok(Op::Nothing);
        }
        let input_shapes: S::Few<Shape> = storage::collect(
            node.inputs.iter().map(|&n| {
                self.shapes
                    .get(n as usize)
                    .copied()
                    .unwrap_or(Shape::SCALAR)
            }),
            "inputs of one node",
        )?;
        let output = self.shapes.get(i).copied().unwrap_or(Shape::SCALAR);
        let layer = graph.layer(node.layer).map(|l| l.kind);
        if graph.node_training(i, self.training) {
            match (layer, input_shapes.first()) {
                (Some(LayerKind::Dropout { rate }), _) => return Ok(Op::Dropout { rate }),
                (Some(LayerKind::RandomCrop { height, width, .. }), Some(input)) => {
                    let dim = |s: &Shape, a| s.dim(a).map(|d| d as usize).unwrap_or(0);
                    let image = (dim(input, 1), dim(input, 2), dim(input, 3));
                    let target = (height as usize, width as usize);
                    // The same window for every sample of this call.
                    let mut rng = SmallRng::new(self.call_seed ^ ((i as u64) << 17));
                    let window = crop_window(image.0, image.1, target.0, target.1, &mut rng);
                    return Ok(Op::RandomCrop {
                        image,
                        window,
                        target,
                    });
                }
                _ => {}
            }
        }
        op_for(graph, node.layer, &input_shapes, output)
    }

    pub(super) fn run_sample(
        &self,
        sample: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [f32],
        rng: &mut SmallRng,
    ) -> Result<(), Error> {
        let caller = |position: usize, elements: usize| {
            inputs
                .get(position)
                .and_then(|data| data.get(sample * elements..(sample + 1) * elements))
                .unwrap_or(&[])
        };
        for (i, node) in self.graph.nodes().iter().enumerate() {
            let op = self.op(i)?;
            if matches!(op, Op::Nothing) {
                continue;
            }
            let placement = self.plan.placements.get(i).copied().unwrap_or_default();
            if placement.in_place {
                if let Some(data) = arena.get_mut(range(&placement)) {
                    op.apply_in_place(data, rng);
                }
                continue;
            }
            let out = range(&placement);
            if out.end > arena.len() {
                continue;
            }
            let (low, rest) = arena.split_at_mut(out.start);
            let (output, high) = rest.split_at_mut(out.end - out.start);
            let mut slices: S::Few<&[f32]> = Default::default();
            for &input in node.inputs.iter() {
                let slice = match source_of(self.graph, self.shapes, self.plan, input as usize) {
                    Source::Caller { position, elements } => caller(position, elements),
                    Source::Arena(p) if p.offset + p.elements <= out.start => {
                        low.get(range(&p)).unwrap_or(&[])
                    }
                    Source::Arena(p) if p.offset >= out.end => high
                        .get(p.offset - out.end..p.offset - out.end + p.elements)
                        .unwrap_or(&[]),
                    // The planner never overlaps an input with its output.
                    Source::Arena(_) => &[],
                };
                let _ = slices.push(slice);
            }
            op.apply(&slices, output, rng);
        }
        for (&node, out) in self.graph.output_nodes().iter().zip(outputs.iter_mut()) {
            let (data, elements) =
                match source_of(self.graph, self.shapes, self.plan, node as usize) {
                    Source::Caller { position, elements } => (caller(position, elements), elements),
                    Source::Arena(p) => (arena.get(range(&p)).unwrap_or(&[]), p.elements),
                };
            if let Some(dest) = out.get_mut(sample * elements..(sample + 1) * elements) {
                if dest.len() == data.len() {
                    dest.copy_from_slice(data);
                }
            }
        }
        Ok(())
    }
}

/// Where the tensor of `node` lives, following views to the node that computes it.
fn source_of<S: Storage>(
    graph: &Graph<'_, S>,
    shapes: &[Shape],
    plan: &Plan<S>,
    node: usize,
) -> Source {
    let node = graph.resolve(node as u16) as usize;
    match graph.input_nodes().iter().position(|&n| n as usize == node) {
        Some(position) => Source::Caller {
            position,
            elements: shapes
                .get(node)
                .and_then(Shape::sample_elements)
                .unwrap_or(0),
        },
        None => Source::Arena(plan.placements.get(node).copied().unwrap_or_default()),
    }
}

/// Slices of a layer's weight variables, in Keras's order, checked against the buffer.
fn weight_slices<'w, S: Storage>(
    graph: &Graph<'w, S>,
    layer: LayerId,
) -> Result<heapless::Vec<&'w [f32], 4>, Error> {
    let mut slices = heapless::Vec::new();
    let specs = graph.layer_weights(layer);
    if specs.is_empty() {
        return Ok(slices);
    }
    let missing = || Error::WeightsLength {
        expected: graph.weight_len(),
        found: graph.weights().len(),
    };
    let mut offset = graph.weight_offset(layer).ok_or_else(missing)?;
    for w in specs {
        let end = offset.checked_add(w.elements()).ok_or_else(missing)?;
        let _ = slices.push(graph.weights().get(offset..end).ok_or_else(missing)?);
        offset = end;
    }
    Ok(slices)
}

fn op_for<'w, S: Storage>(
    graph: &Graph<'w, S>,
    id: LayerId,
    inputs: &[Shape],
    output: Shape,
) -> Result<Op<'w, S>, Error> {
    let layer = graph.layer(id).ok_or(Error::NoSuchLayer)?;
    let unbuilt = || Error::Unbuilt {
        layer: for_error(&layer.name),
    };
    let dim = |s: &Shape, axis: usize| s.dim(axis).map(|d| d as usize).ok_or_else(unbuilt);
    let image = |s: &Shape| -> Result<(usize, usize, usize), Error> {
        Ok((dim(s, 1)?, dim(s, 2)?, dim(s, 3)?))
    };
    let w = weight_slices(graph, id)?;
    let input = inputs.first().copied();
    let bad_geometry = || Error::IncompatibleInput {
        layer: for_error(&layer.name),
        found: input.unwrap_or(Shape::SCALAR),
        expected: "a shape whose sizes fit in memory",
    };
    match layer.kind {
        LayerKind::Merge(op) => return Ok(Op::Merge(op)),
        LayerKind::Concatenate { axis } => {
            let rank = output.rank() as i32;
            let axis = if axis < 0 {
                rank + axis as i32
            } else {
                axis as i32
            } as usize;
            let after = |s: &Shape| -> Result<usize, Error> {
                (axis + 1..s.rank()).try_fold(1usize, |acc, a| Ok(acc * dim(s, a)?))
            };
            let outer =
                (1..axis).try_fold(1usize, |acc, a| Ok::<_, Error>(acc * dim(&output, a)?))?;
            let mut inner = S::Few::<usize>::default();
            for s in inputs {
                storage::push(&mut inner, dim(s, axis)? * after(s)?, "inputs of one node")?;
            }
            return Ok(Op::Concatenate { outer, inner });
        }
        LayerKind::Model(_) | LayerKind::InputLayer(_) => return Ok(Op::Nothing),
        _ => {}
    }
    let Some(input) = input else {
        return Err(unbuilt());
    };
    let last = |s: &Shape| s.last().map(|d| d as usize).ok_or_else(unbuilt);
    Ok(match layer.kind {
        LayerKind::Dense(d) => Op::Dense {
            in_features: last(&input)?,
            kernel: w.first().copied().ok_or_else(unbuilt)?,
            bias: w.get(1).copied(),
            activation: d.activation,
            units: d.units as usize,
        },
        LayerKind::Conv2D(c) => Op::Conv2D {
            g: Conv2dGeometry::new(
                image(&input)?,
                c.filters as usize,
                (c.kernel_size[0] as usize, c.kernel_size[1] as usize),
                (c.strides[0] as usize, c.strides[1] as usize),
                (c.dilation_rate[0] as usize, c.dilation_rate[1] as usize),
                c.padding,
            )
            .ok_or_else(bad_geometry)?,
            kernel: w.first().copied().ok_or_else(unbuilt)?,
            bias: w.get(1).copied(),
            activation: c.activation,
        },
        LayerKind::DepthwiseConv2D(c) => {
            let (h, wd, ch) = image(&input)?;
            Op::Depthwise {
                g: Conv2dGeometry::new(
                    (h, wd, ch),
                    ch * c.depth_multiplier as usize,
                    (c.kernel_size[0] as usize, c.kernel_size[1] as usize),
                    (c.strides[0] as usize, c.strides[1] as usize),
                    (c.dilation_rate[0] as usize, c.dilation_rate[1] as usize),
                    c.padding,
                )
                .ok_or_else(bad_geometry)?,
                depth_multiplier: c.depth_multiplier as usize,
                kernel: w.first().copied().ok_or_else(unbuilt)?,
                bias: w.get(1).copied(),
                activation: c.activation,
            }
        }
        LayerKind::MaxPooling2D(p) | LayerKind::AveragePooling2D(p) => {
            let g = Pool2dGeometry::new(
                image(&input)?,
                (p.pool_size[0] as usize, p.pool_size[1] as usize),
                (p.strides[0] as usize, p.strides[1] as usize),
                p.padding,
            )
            .ok_or_else(bad_geometry)?;
            if matches!(layer.kind, LayerKind::MaxPooling2D(_)) {
                Op::MaxPool(g)
            } else {
                Op::AvgPool(g)
            }
        }
        LayerKind::GlobalAveragePooling2D { .. } | LayerKind::GlobalMaxPooling2D { .. } => {
            let (h, wd, channels) = image(&input)?;
            let spatial = h * wd;
            if matches!(layer.kind, LayerKind::GlobalAveragePooling2D { .. }) {
                Op::GlobalAverage { spatial, channels }
            } else {
                Op::GlobalMax { spatial, channels }
            }
        }
        LayerKind::BatchNormalization(BatchNormalization {
            epsilon,
            center,
            scale,
            ..
        }) => {
            let mut vars = w.iter().copied();
            let gamma = if scale { vars.next() } else { None };
            let beta = if center { vars.next() } else { None };
            Op::BatchNorm {
                channels: last(&input)?,
                gamma,
                beta,
                mean: vars.next().ok_or_else(unbuilt)?,
                variance: vars.next().ok_or_else(unbuilt)?,
                epsilon,
            }
        }
        LayerKind::Flatten
        | LayerKind::Reshape(_)
        | LayerKind::Dropout { .. }
        | LayerKind::RandomCrop { .. } => Op::Identity,
        LayerKind::Merge(_)
        | LayerKind::Concatenate { .. }
        | LayerKind::Model(_)
        | LayerKind::InputLayer(_) => Op::Nothing,
        LayerKind::Activation(activation) => Op::Activation {
            activation,
            last_axis: last(&output)?,
        },
        LayerKind::Softmax => Op::Activation {
            activation: Activation::Softmax,
            last_axis: last(&output)?,
        },
        LayerKind::ReLU(r) => Op::ReLU(r),
        LayerKind::LeakyReLU { negative_slope } => Op::LeakyReLU { negative_slope },
    })
}
