//! Turns a planned graph into a list of kernel calls, then runs them one sample at a time.
//! Everything that can fail is checked in [`Execution::new`]; `run_sample` only slices
//! what `new` proved to be in range.

use crate::error::Error;
use crate::graph::layer::{BatchNormalization, ReLU};
use crate::graph::{Graph, LayerId, LayerKind};
use crate::kernels::{self, Activation, Conv2dGeometry, Pool2dGeometry};
use crate::planner::{Placement, Plan};
use crate::shape::Shape;
use core::ops::Range;

/// One kernel call with its weights already sliced.
enum Op<'w> {
    /// Model input: read from the caller's buffer.
    Input,
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
    Activation {
        activation: Activation,
        last_axis: usize,
    },
    ReLU(ReLU),
    LeakyReLU {
        negative_slope: f32,
    },
}

impl Op<'_> {
    /// Applies an element-wise op to `data` in place.
    fn apply_in_place(&self, data: &mut [f32]) {
        match *self {
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
    fn apply(&self, input: &[f32], output: &mut [f32]) {
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
            Op::Input => {}
            Op::Identity | Op::Activation { .. } | Op::ReLU(_) | Op::LeakyReLU { .. } => {
                output.copy_from_slice(input);
                self.apply_in_place(output);
            }
        }
    }
}

/// Where a step reads its input.
#[derive(Clone, Copy)]
enum Source {
    None,
    /// Model input `position`, `elements` values per sample.
    Caller {
        position: usize,
        elements: usize,
    },
    Arena(Placement),
}

struct Step<'w> {
    op: Op<'w>,
    source: Source,
    output: Placement,
}

pub(super) struct Execution<'w, const N: usize> {
    steps: heapless::Vec<Step<'w>, N>,
    /// Per model output: where its values are and how many per sample.
    outputs: heapless::Vec<Source, { crate::graph::MAX_IO }>,
}

fn range(p: &Placement) -> Range<usize> {
    p.offset..p.offset + p.elements
}

impl<'w, const N: usize> Execution<'w, N> {
    pub(super) fn new(
        graph: &Graph<'w, N>,
        shapes: &[Shape],
        plan: &Plan<N>,
    ) -> Result<Self, Error> {
        let mut steps = heapless::Vec::new();
        let capacity = |_| Error::Capacity {
            what: "nodes",
            capacity: N,
        };
        for (i, node) in graph.nodes().iter().enumerate() {
            let output = plan.placements.get(i).copied().unwrap_or_default();
            let source = match node.inputs.first() {
                None => Source::None,
                Some(&input) => source_of(graph, shapes, plan, input as usize),
            };
            let input_shape = node
                .inputs
                .first()
                .and_then(|&n| shapes.get(n as usize))
                .copied();
            let op = op_for(
                graph,
                node.layer,
                input_shape,
                shapes.get(i).copied().unwrap_or(Shape::SCALAR),
            )?;
            steps.push(Step { op, source, output }).map_err(capacity)?;
        }
        let outputs = graph
            .output_nodes()
            .iter()
            .map(|&n| source_of(graph, shapes, plan, n as usize))
            .collect();
        Ok(Execution { steps, outputs })
    }

    pub(super) fn run_sample(
        &mut self,
        sample: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        arena: &mut [f32],
    ) -> Result<(), Error> {
        let caller = |position: usize, elements: usize| {
            inputs
                .get(position)
                .and_then(|data| data.get(sample * elements..(sample + 1) * elements))
                .unwrap_or(&[])
        };
        for step in &self.steps {
            if matches!(step.op, Op::Input) {
                continue;
            }
            let out = range(&step.output);
            match step.source {
                Source::None => {}
                Source::Caller { position, elements } => {
                    if let Some(output) = arena.get_mut(out) {
                        step.op.apply(caller(position, elements), output);
                    }
                }
                Source::Arena(input) if step.output.in_place => {
                    if let Some(data) = arena.get_mut(range(&input)) {
                        step.op.apply_in_place(data);
                    }
                }
                Source::Arena(input) => {
                    if let Some((input, output)) = split(arena, range(&input), out) {
                        step.op.apply(input, output);
                    }
                }
            }
        }
        for (source, out) in self.outputs.iter().zip(outputs.iter_mut()) {
            let (data, elements) = match *source {
                Source::Caller { position, elements } => (caller(position, elements), elements),
                Source::Arena(p) => (arena.get(range(&p)).unwrap_or(&[]), p.elements),
                Source::None => (&[][..], 0),
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

/// An immutable input range and a mutable output range of one arena; `None` if they
/// overlap (the planner never lets them).
fn split(
    arena: &mut [f32],
    input: Range<usize>,
    output: Range<usize>,
) -> Option<(&[f32], &mut [f32])> {
    if input.end <= output.start {
        let (low, high) = arena.split_at_mut(output.start);
        Some((low.get(input)?, high.get_mut(..output.end - output.start)?))
    } else if output.end <= input.start {
        let (low, high) = arena.split_at_mut(input.start);
        Some((high.get(..input.end - input.start)?, low.get_mut(output)?))
    } else {
        None
    }
}

fn source_of<const N: usize>(
    graph: &Graph<'_, N>,
    shapes: &[Shape],
    plan: &Plan<N>,
    node: usize,
) -> Source {
    match graph.input_nodes().iter().position(|&n| n as usize == node) {
        Some(position) => Source::Caller {
            position,
            elements: shapes
                .get(node)
                .and_then(Shape::sample_elements)
                .unwrap_or(0),
        },
        None => plan
            .placements
            .get(node)
            .map_or(Source::None, |p| Source::Arena(*p)),
    }
}

/// Slices of a layer's weight variables, in Keras's order, checked against the buffer.
fn weight_slices<'w, const N: usize>(
    graph: &Graph<'w, N>,
    layer: LayerId,
) -> Result<heapless::Vec<&'w [f32], 4>, Error> {
    let mut offset = graph.weight_offset(layer);
    let mut slices = heapless::Vec::new();
    for w in graph.layer_weights(layer) {
        let end = offset + w.elements();
        let slice = graph
            .weights()
            .get(offset..end)
            .ok_or(Error::WeightsLength {
                expected: graph.count_params(),
                found: graph.weights().len(),
            })?;
        let _ = slices.push(slice);
        offset = end;
    }
    Ok(slices)
}

fn op_for<'w, const N: usize>(
    graph: &Graph<'w, N>,
    id: LayerId,
    input: Option<Shape>,
    output: Shape,
) -> Result<Op<'w>, Error> {
    let layer = graph.layer(id).ok_or(Error::Capacity {
        what: "layers",
        capacity: N,
    })?;
    let unbuilt = || Error::Unbuilt {
        layer: layer.name.clone(),
    };
    let dim = |s: &Shape, axis: usize| s.dim(axis).map(|d| d as usize).ok_or_else(unbuilt);
    let image = |s: &Shape| -> Result<(usize, usize, usize), Error> {
        Ok((dim(s, 1)?, dim(s, 2)?, dim(s, 3)?))
    };
    let w = weight_slices(graph, id)?;
    let bad_geometry = || Error::IncompatibleInput {
        layer: layer.name.clone(),
        found: input.unwrap_or(Shape::SCALAR),
        expected: "a shape whose sizes fit in memory",
    };
    let Some(input) = input else {
        return match layer.kind {
            LayerKind::InputLayer(_) => Ok(Op::Input),
            _ => Err(unbuilt()),
        };
    };
    let last = |s: &Shape| s.last().map(|d| d as usize).ok_or_else(unbuilt);
    Ok(match layer.kind {
        LayerKind::InputLayer(_) => Op::Identity,
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
        LayerKind::Flatten | LayerKind::Reshape(_) | LayerKind::Dropout { .. } => Op::Identity,
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
