//! A compiled model: `fit`, `evaluate`, `train_on_batch`, `predict` with the weights it
//! trains.

use super::plan::TrainPlan;
use super::{Compile, Loss, Permutation, TrainError, MAX_METRICS, MAX_OUTPUTS};
use crate::error::Error;
use crate::graph::storage::Storage;
use crate::graph::Graph;
use crate::kernels::SmallRng;
use crate::ops::{Rand, Saved};
use crate::planner::ARENA_ALIGN;
use crate::runtime::invoke::run_step;
use crate::runtime::prepare::{Source, WeightSource};
use crate::runtime::Prepared;

/// Input or target buffers: one per model input (or output), each a whole data set,
/// batch first.
#[derive(Clone, Copy, Debug)]
pub struct Data<'d> {
    /// One buffer per model input.
    pub x: &'d [&'d [f32]],
    /// One buffer per model output: the loss's targets (class indices for a sparse loss).
    pub y: &'d [&'d [f32]],
}

/// Keras's `fit` arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// `batch_size` (Keras's default 32); the last batch may be smaller and still gets a
    /// full step.
    pub batch_size: usize,
    /// `epochs`.
    pub epochs: usize,
    /// `shuffle`: a new seeded order each epoch (see [`Permutation`]).
    pub shuffle: bool,
    /// The seed of the shuffles and of the training-mode layers (Dropout).
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            batch_size: 32,
            epochs: 1,
            shuffle: true,
            seed: 0,
        }
    }
}

/// The loss and metrics of a batch, an epoch or an `evaluate`, as Keras logs them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    /// `loss`: the weighted sum of the outputs' losses.
    pub loss: f32,
    /// `<output>_loss` per output (unweighted).
    pub output_losses: heapless::Vec<f32, MAX_OUTPUTS>,
    /// The metrics, in [`Compile::metrics`] order.
    pub metrics: heapless::Vec<f32, MAX_METRICS>,
}

/// One epoch's logs, and the validation data's when `fit` was given some.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochLogs {
    /// On the training data: running means over the epoch's batches.
    pub train: Logs,
    /// `evaluate` on the validation data after the epoch (`val_…`).
    pub validation: Option<Logs>,
}

/// What `fit` reports as it goes (Keras's callbacks). `()` ignores everything.
pub trait Callback {
    /// After each step: the epoch (from 0), the step in it (from 0), the steps per
    /// epoch, and the running logs of the epoch so far.
    fn on_batch_end(&mut self, _epoch: usize, _step: usize, _steps: usize, _logs: &Logs) {}
    /// After each epoch.
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &EpochLogs) {}
}

impl Callback for () {}

/// Keras's running means (`Mean` metrics): totals and counts in float32.
#[derive(Clone, Debug, Default)]
struct Tracker {
    loss: (f32, f32),
    outputs: [(f32, f32); MAX_OUTPUTS],
    metrics: [(f32, f32); MAX_METRICS],
}

/// Sums of one batch, per output and per metric, over rows.
#[derive(Clone, Debug, Default)]
struct BatchSums {
    rows: [f32; MAX_OUTPUTS],
    losses: [f32; MAX_OUTPUTS],
    metrics: [(f32, f32); MAX_METRICS],
}

impl Tracker {
    fn add(&mut self, compile: &Compile, outputs: usize, sums: &BatchSums, batch: usize) {
        let n = batch as f32;
        let mut loss = 0.0f32;
        for k in 0..outputs {
            let mean = sums.losses[k] / sums.rows[k];
            loss += compile.loss_weight(k) * mean;
            let t = &mut self.outputs[k];
            *t = (t.0 + mean * n, t.1 + n);
        }
        self.loss = (self.loss.0 + loss * n, self.loss.1 + n);
        for (t, s) in self.metrics.iter_mut().zip(&sums.metrics) {
            *t = (t.0 + s.0, t.1 + s.1);
        }
    }

    fn logs(&self, outputs: usize, metrics: usize) -> Logs {
        let mean = |(total, count): (f32, f32)| total / count;
        Logs {
            loss: mean(self.loss),
            output_losses: self.outputs[..outputs].iter().map(|&t| mean(t)).collect(),
            metrics: self.metrics[..metrics].iter().map(|&t| mean(t)).collect(),
        }
    }
}

/// A model compiled for training, with its arena: make it with [`Graph::compile`].
pub struct Trainer<'g, 'w, 'a, S: Storage> {
    graph: &'g Graph<'w, S>,
    compile: Compile,
    plan: TrainPlan<S>,
    arena: &'a mut [u8],
    iterations: u64,
}

impl<'w, S: Storage> Graph<'w, S> {
    /// Keras's `compile`: checks that the model can train with `compile` (one loss per
    /// output, a backward pass on every layer gradients flow through, only float32 layers
    /// training) and that `arena` holds [`TrainPlan::train_arena_bytes`], then copies the
    /// weights that train into it. Nothing of the graph's own weights is written: get
    /// the trained ones with [`Trainer::write_weights`].
    pub fn compile<'g, 'a>(
        &'g self,
        compile: Compile,
        arena: &'a mut [u8],
    ) -> Result<Trainer<'g, 'w, 'a, S>, Error> {
        let plan = self.train_plan(&compile)?;
        let given = arena.len();
        let skip = arena.as_ptr().align_offset(ARENA_ALIGN).min(given);
        let arena = &mut arena[skip..];
        let needed = plan.fixed_bytes() + plan.work_bytes();
        if arena.len() < needed {
            return Err(Error::ArenaTooSmall {
                given,
                usable: arena.len(),
                needed,
                declare: plan.train_arena_bytes(),
            });
        }
        if self.weights.len() != self.weight_len {
            return Err(Error::WeightsLength {
                expected: self.weight_len,
                found: self.weights.len(),
            });
        }
        let arena = &mut arena[..needed];
        arena.fill(0);
        for (layer, at) in plan.ram_at.iter().enumerate() {
            let (Some(at), Some(from)) = (at, self.weight_offset(layer as crate::graph::LayerId))
            else {
                continue;
            };
            let bytes: usize = self
                .layer_weights(layer as crate::graph::LayerId)
                .iter()
                .map(|w| w.bytes())
                .sum();
            let (at, source) = (*at as usize, self.weights.get(from..from + bytes));
            if let (Some(dest), Some(source)) = (arena.get_mut(at..at + bytes), source) {
                dest.copy_from_slice(source);
            }
        }
        Ok(Trainer {
            graph: self,
            compile,
            plan,
            arena,
            iterations: 0,
        })
    }
}

/// The arena split into its parts.
struct Parts<'p> {
    weights: &'p mut [u8],
    gradients: &'p mut [f32],
    slots: &'p mut [f32],
    activations: &'p mut [u8],
    activation_gradients: &'p mut [f32],
    scratch: [&'p mut [f32]; 3],
    stats: &'p mut [f32],
    gather: [&'p mut [f32]; 2],
}

fn take<'p>(rest: &mut &'p mut [u8], bytes: usize) -> &'p mut [u8] {
    let all = core::mem::take(rest);
    let (head, tail) = all.split_at_mut(bytes.min(all.len()));
    *rest = tail;
    head
}

fn floats(bytes: &mut [u8]) -> &mut [f32] {
    bytemuck::try_cast_slice_mut(bytes).unwrap_or(&mut [])
}

impl<S: Storage> Trainer<'_, '_, '_, S> {
    /// The plan of this trainer's arena.
    pub fn plan(&self) -> &TrainPlan<S> {
        &self.plan
    }

    /// Calls `f(slot, values)` with the optimizer's slots of each trainable variable (SGD's
    /// velocities: slot 0; Adam's first and second moments: slots 0 and 1), slot by slot,
    /// each in the weight buffer's order (Keras's `model.trainable_variables`); never
    /// called for an optimizer without slots (SGD without momentum).
    pub fn for_each_slot(&self, mut f: impl FnMut(usize, &[f32])) {
        let p = &self.plan;
        let start = 2 * p.weight_bytes;
        let Some(bytes) = self.arena.get(start..start + p.slot_bytes) else {
            return;
        };
        let slots: &[f32] = bytemuck::try_cast_slice(bytes).unwrap_or(&[]);
        let plane = p.weight_bytes / 4;
        for j in 0..self.compile.optimizer.slots_per_value() {
            for_each_trainable(self.graph, p, |range| {
                let (a, b) = (j * plane + range.start, j * plane + range.end);
                if let Some(values) = slots.get(a..b) {
                    f(j, values);
                }
            });
        }
    }

    /// The learning rate the optimizer steps with.
    pub fn learning_rate(&self) -> f32 {
        self.compile.optimizer.learning_rate()
    }

    /// Keras's `optimizer.iterations`: the steps applied so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Writes the model's whole weight buffer, with the trained layers' current weights,
    /// into `out` (as long as [`Graph::weights`]; e.g. to save or export the model).
    pub fn write_weights(&self, out: &mut [u8]) -> Result<(), Error> {
        let graph = self.graph;
        if out.len() != graph.weights.len() {
            return Err(Error::WeightsLength {
                expected: graph.weights.len(),
                found: out.len(),
            });
        }
        out.copy_from_slice(graph.weights);
        for (layer, at) in self.plan.ram_at.iter().enumerate() {
            let (Some(at), Some(to)) = (at, graph.weight_offset(layer as crate::graph::LayerId))
            else {
                continue;
            };
            let bytes: usize = graph
                .layer_weights(layer as crate::graph::LayerId)
                .iter()
                .map(|w| w.bytes())
                .sum();
            let at = *at as usize;
            if let (Some(dest), Some(source)) =
                (out.get_mut(to..to + bytes), self.arena.get(at..at + bytes))
            {
                dest.copy_from_slice(source);
            }
        }
        Ok(())
    }
}

/// The arena's parts for `plan`.
fn parts<'p, S: Storage>(p: &TrainPlan<S>, arena: &'p mut [u8]) -> Parts<'p> {
    let mut rest: &mut [u8] = arena;
    let weights = take(&mut rest, p.weight_bytes);
    let gradients = floats(take(&mut rest, p.weight_bytes));
    let slots = floats(take(&mut rest, p.slot_bytes));
    let activations = take(&mut rest, p.lanes * p.activations.bytes);
    let activation_gradients = floats(take(&mut rest, p.lanes * p.grad_bytes));
    let s0 = floats(take(&mut rest, p.scratch * 4));
    let s1 = floats(take(&mut rest, p.work * 4));
    let s2 = floats(take(&mut rest, p.scratch * 4));
    let stats = floats(take(&mut rest, p.stats * 4));
    let g0 = floats(take(&mut rest, p.gather * 4));
    let g1 = floats(take(&mut rest, p.gather * 4));
    Parts {
        weights,
        gradients,
        slots,
        activations,
        activation_gradients,
        scratch: [s0, s1, s2],
        stats,
        gather: [g0, g1],
    }
}

/// Samples in `data`, checked against the model's inputs and the losses' targets.
fn samples<S: Storage>(
    compile: &Compile,
    data: &Data<'_>,
    prepared: &Prepared<'_, S>,
) -> Result<usize, Error> {
    let (inputs, outputs) = prepared.io_count();
    if data.x.len() != inputs {
        return Err(Error::BufferCount {
            what: "input",
            expected: inputs,
            found: data.x.len(),
        });
    }
    if data.y.len() != outputs {
        return Err(Error::BufferCount {
            what: "target",
            expected: outputs,
            found: data.y.len(),
        });
    }
    let mut samples = None;
    for (i, x) in data.x.iter().enumerate() {
        let per = prepared.input_elements(i).unwrap_or(0);
        if per == 0 || x.len() % per != 0 {
            return Err(Error::BufferLength {
                what: "input",
                index: i,
                shape: prepared
                    .inputs
                    .get(i)
                    .map_or(crate::Shape::SCALAR, |io| io.shape.with_batch(None)),
                found: x.len(),
            });
        }
        let n = x.len() / per;
        match samples {
            Some(first) if first != n => return Err(Error::BatchMismatch { first, other: n }),
            _ => samples = Some(n),
        }
    }
    let samples = samples.unwrap_or(0);
    for (k, y) in data.y.iter().enumerate() {
        let loss = compile.losses().get(k).copied();
        let per = loss.map_or(0, |loss| target_per_sample(prepared, k, loss));
        if y.len() != per * samples {
            return Err(Error::Train(TrainError::TargetLength {
                output: k,
                per_sample: per,
                found: y.len(),
                samples,
            }));
        }
    }
    if samples == 0 {
        return Err(Error::Train(TrainError::Options("the data has no samples")));
    }
    Ok(samples)
}

impl<S: Storage> Trainer<'_, '_, '_, S> {
    /// Keras's `train_on_batch`: one optimizer step on all of `data` as one batch.
    /// Returns the batch's loss and metrics (from the forward pass before the update).
    pub fn train_on_batch(&mut self, data: &Data<'_>) -> Result<Logs, Error> {
        let mut tracker = Tracker::default();
        let mut rng = SmallRng::new(self.iterations);
        // Every sample: `step` checks the data against the model it prepares anyway.
        let all = Permutation::identity(usize::MAX);
        self.step(data, &all, 0..usize::MAX, &mut rng, &mut tracker)?;
        let outputs = self.graph.outputs.len();
        Ok(tracker.logs(outputs, self.compile.metrics(outputs).count()))
    }

    fn count(&mut self, data: &Data<'_>) -> Result<usize, Error> {
        let mut prepared = Prepared::default();
        let graph = self.graph;
        graph.prepare_with(
            &mut prepared,
            None,
            Some(true),
            Some(&self.plan.activations),
            None,
        )?;
        samples(&self.compile, data, &prepared)
    }

    /// Keras's `fit(x, y, batch_size, epochs, shuffle, validation_data)`: returns the last
    /// epoch's logs, and reports every step and epoch to `callback`. An error stops it
    /// with the weights of the last step that was applied.
    pub fn fit(
        &mut self,
        x: &[&[f32]],
        y: &[&[f32]],
        options: &FitOptions,
        validation: Option<Data<'_>>,
        callback: &mut dyn Callback,
    ) -> Result<EpochLogs, Error> {
        if options.batch_size == 0 {
            return Err(Error::Train(TrainError::Options(
                "batch_size must be at least 1",
            )));
        }
        let data = Data { x, y };
        let n = self.count(&data)?;
        let steps = n.div_ceil(options.batch_size);
        let outputs = self.graph.outputs.len();
        let metrics = self.compile.metrics(outputs).count();
        let mut rng = SmallRng::new(options.seed);
        let mut last = EpochLogs::default();
        for epoch in 0..options.epochs {
            let order = if options.shuffle {
                Permutation::new(
                    n,
                    options.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                )
            } else {
                Permutation::identity(n)
            };
            let mut tracker = Tracker::default();
            for step in 0..steps {
                let start = step * options.batch_size;
                let end = (start + options.batch_size).min(n);
                self.step(&data, &order, start..end, &mut rng, &mut tracker)?;
                callback.on_batch_end(epoch, step, steps, &tracker.logs(outputs, metrics));
            }
            last = EpochLogs {
                train: tracker.logs(outputs, metrics),
                validation: match validation {
                    Some(v) => Some(self.evaluate(&v, options.batch_size)?),
                    None => None,
                },
            };
            callback.on_epoch_end(epoch, &last);
        }
        Ok(last)
    }

    /// Keras's `evaluate(x, y, batch_size)`: the loss and metrics at inference, averaged
    /// as Keras does (the loss over batches, weighted by their sizes).
    pub fn evaluate(&mut self, data: &Data<'_>, batch_size: usize) -> Result<Logs, Error> {
        if batch_size == 0 {
            return Err(Error::Train(TrainError::Options(
                "batch_size must be at least 1",
            )));
        }
        let graph = self.graph;
        let outputs = graph.outputs.len();
        let compile = &self.compile;
        let metric_list: heapless::Vec<(usize, super::Metric), MAX_METRICS> =
            compile.metrics(outputs).collect();
        let plan = &self.plan;
        let weight_bytes = plan.weight_bytes;
        let fixed = plan.fixed_bytes();
        let (head, work) = self.arena.split_at_mut(fixed);
        let ram = &head[..weight_bytes];
        let mut prepared = Prepared::default();
        let source = WeightSource {
            ram,
            at: &plan.ram_at,
        };
        graph.prepare_with(
            &mut prepared,
            None,
            Some(false),
            Some(&plan.inference),
            Some(source),
        )?;
        let n = samples(compile, data, &prepared)?;
        let (activations, scratch) = work.split_at_mut(plan.inference.bytes);
        let scratch = floats(scratch);
        let mut tracker = Tracker::default();
        let mut rng = SmallRng::new(0);
        let mut start = 0;
        while start < n {
            let end = (start + batch_size).min(n);
            let mut sums = BatchSums::default();
            for sample in start..end {
                forward(&prepared, data, sample, activations, &mut rng);
                for k in 0..outputs {
                    let (width, _) = output_rows(&prepared, k);
                    let prediction = output_values(&prepared, k, data, sample, activations);
                    let loss = compile.losses()[k];
                    let tw = loss.target_width(width);
                    let per = target_per_sample(&prepared, k, loss);
                    let target = data.y[k]
                        .get(sample * per..(sample + 1) * per)
                        .unwrap_or(&[]);
                    check_labels(loss, target, width, k, sample)?;
                    for (p, t) in prediction
                        .chunks(width.max(1))
                        .zip(target.chunks(tw.max(1)))
                    {
                        sums.losses[k] += loss.value(p, t, scratch);
                        sums.rows[k] += 1.0;
                        for (m, &(output, metric)) in metric_list.iter().enumerate() {
                            if output == k {
                                sums.metrics[m].0 += metric.row(loss, p, t);
                                sums.metrics[m].1 += 1.0;
                            }
                        }
                    }
                }
            }
            tracker.add(compile, outputs, &sums, end - start);
            start = end;
        }
        Ok(tracker.logs(outputs, metric_list.len()))
    }

    /// One optimizer step on the samples at `positions` of `order` (clamped to the data's
    /// samples, which it checks against the model).
    fn step(
        &mut self,
        data: &Data<'_>,
        order: &Permutation,
        mut positions: core::ops::Range<usize>,
        rng: &mut SmallRng,
        tracker: &mut Tracker,
    ) -> Result<(), Error> {
        let graph = self.graph;
        let outputs = graph.outputs.len();
        let compile = &self.compile;
        let step_number = self.iterations + 1;
        let plan = &self.plan;
        let Parts {
            weights,
            gradients,
            slots,
            activations,
            activation_gradients,
            mut scratch,
            stats,
            mut gather,
        } = parts(plan, self.arena);
        gradients.fill(0.0);
        let mut sums = BatchSums::default();
        let batch;
        {
            let mut prepared = Prepared::default();
            let source = WeightSource {
                ram: &*weights,
                at: &plan.ram_at,
            };
            graph.prepare_with(
                &mut prepared,
                None,
                Some(true),
                Some(&plan.activations),
                Some(source),
            )?;
            let n = samples(compile, data, &prepared)?;
            positions = positions.start.min(n)..positions.end.min(n);
            batch = positions.len();
            if plan.lanes > 1 && batch > plan.lanes {
                return Err(Error::Train(TrainError::Options(
                    "the batch is larger than the batch size the training arena was planned for (Compile::batch_size)",
                )));
            }
            // One draw per batch: a RandomCrop takes one window for the whole batch.
            let call_seed = u64::from(rng.next_u32()) << 32 | u64::from(rng.next_u32());
            let mut chunk = positions.start;
            while chunk < positions.end {
                let lanes = (positions.end - chunk).min(plan.lanes);
                let mut pass = Pass {
                    graph,
                    plan,
                    prepared: &prepared,
                    data,
                    order,
                    first: chunk,
                    batch_start: positions.start,
                    call_seed,
                    lanes,
                    activations: &mut *activations,
                    activation_gradients: &mut *activation_gradients,
                    scratch: {
                        let [a, b, c] = &mut scratch;
                        [&mut **a, &mut **b, &mut **c]
                    },
                    stats: &mut *stats,
                    gather: {
                        let [a, b] = &mut gather;
                        [&mut **a, &mut **b]
                    },
                };
                pass.forward();
                pass.activation_gradients.fill(0.0);
                pass.losses(compile, batch, &mut sums)?;
                pass.backward(gradients);
                chunk += lanes;
            }
        }
        // All or nothing: check everything, then apply.
        let loss_total: f32 = (0..outputs)
            .map(|k| compile.loss_weight(k) * sums.losses[k] / sums.rows[k])
            .sum();
        if !loss_total.is_finite() {
            return Err(non_finite("loss", step_number));
        }
        let finite = |v: &[f32]| v.iter().fold(true, |ok, x| ok & x.is_finite());
        if !finite(gradients) || !finite(stats) {
            return Err(non_finite("gradient", step_number));
        }
        let optimizer = compile.optimizer;
        let values = floats(weights);
        // Slot plane j of value i is at j · (weights that train) + i.
        let plane = plan.weight_bytes / 4;
        let (s0, s1) = slots.split_at_mut(plane.min(slots.len()));
        let mut ok = true;
        for_each_trainable(graph, plan, |r| {
            let (w, g) = (&mut values[r.clone()], &gradients[r.clone()]);
            let planes = [
                s0.get_mut(r.clone()).unwrap_or(&mut []),
                s1.get_mut(r).unwrap_or(&mut []),
            ];
            ok &= optimizer.step::<false>(w, g, planes, step_number);
        });
        if !ok {
            return Err(non_finite("weight", step_number));
        }
        for_each_trainable(graph, plan, |r| {
            let (w, g) = (&mut values[r.clone()], &gradients[r.clone()]);
            let planes = [
                s0.get_mut(r.clone()).unwrap_or(&mut []),
                s1.get_mut(r).unwrap_or(&mut []),
            ];
            optimizer.step::<true>(w, g, planes, step_number);
        });
        update_moving_statistics(graph, plan, stats, values);
        tracker.add(compile, outputs, &sums, batch);
        self.iterations = step_number;
        Ok(())
    }
}

/// The most samples a training arena holds at once (a model with a BatchNormalization
/// that trains keeps its whole batch).
pub const MAX_LANES: usize = 256;

/// BatchNormalization's moving statistics, from the batch statistics its forward pass
/// recorded (`[momentum, mean…, variance…]` per layer): `moving · momentum + batch ·
/// (1 - momentum)`, after the step, as Keras assigns them during the forward pass (the
/// training forward pass does not read them).
fn update_moving_statistics<S: Storage>(
    graph: &Graph<'_, S>,
    plan: &TrainPlan<S>,
    stats: &[f32],
    weights: &mut [f32],
) {
    for (node, at) in plan.stats_at.iter().enumerate() {
        let (Some(at), Some(n)) = (at, graph.nodes.get(node)) else {
            continue;
        };
        let Some(block_at) = plan.ram_at.get(n.layer as usize).copied().flatten() else {
            continue;
        };
        let floats: usize = graph
            .layer_weights(n.layer)
            .iter()
            .map(|w| w.elements())
            .sum();
        let channels = plan.stats_channels(node);
        let at = *at as usize;
        let (Some(block), Some(s)) = (
            weights.get_mut(block_at as usize / 4..block_at as usize / 4 + floats),
            stats.get(at..at + 1 + 2 * channels),
        ) else {
            continue;
        };
        let momentum = s[0];
        let rest = (1.0 - f64::from(momentum)) as f32;
        let (mean, variance) = s[1..].split_at(channels);
        let (head, moving_variance) = block.split_at_mut(floats - channels);
        let moving_mean = &mut head[floats - 2 * channels..];
        for (m, &b) in moving_mean.iter_mut().zip(mean) {
            *m = *m * momentum + b * rest;
        }
        for (m, &b) in moving_variance.iter_mut().zip(variance) {
            *m = *m * momentum + b * rest;
        }
    }
}

fn non_finite(what: &'static str, step: u64) -> Error {
    Error::Train(TrainError::NonFinite { what, step })
}

/// Calls `f` with the float index range of every trainable variable in the RAM copy.
fn for_each_trainable<S: Storage>(
    graph: &Graph<'_, S>,
    plan: &TrainPlan<S>,
    mut f: impl FnMut(core::ops::Range<usize>),
) {
    for (layer, at) in plan.ram_at.iter().enumerate() {
        let Some(at) = at else { continue };
        let specs = graph.layer_weights(layer as crate::graph::LayerId);
        for (spec, range) in specs.iter().zip(crate::graph::layout(&specs, *at as usize)) {
            if spec.trainable {
                f(range.start / 4..range.end / 4);
            }
        }
    }
}

/// Copies `n` floats of each of `lanes` lanes (`stride` apart, from `at`) of `from` into
/// `to`, one lane after the other.
fn gather_lanes(
    from: &[f32],
    (stride, at, n, lanes): (usize, usize, usize, usize),
    to: &mut [f32],
) {
    for lane in 0..lanes {
        let start = lane * stride + at;
        if let (Some(dest), Some(src)) = (
            to.get_mut(lane * n..(lane + 1) * n),
            from.get(start..start + n),
        ) {
            dest.copy_from_slice(src);
        }
    }
}

/// Adds lane `l`'s `n` floats of `from` to lane `l` of `to` (`stride` apart, from `at`).
fn add_lanes(to: &mut [f32], (stride, at, n, lanes): (usize, usize, usize, usize), from: &[f32]) {
    for lane in 0..lanes {
        let start = lane * stride + at;
        if let (Some(dest), Some(src)) = (
            to.get_mut(start..start + n),
            from.get(lane * n..(lane + 1) * n),
        ) {
            for (a, &b) in dest.iter_mut().zip(src) {
                *a += b;
            }
        }
    }
}

/// Writes lane `l`'s `n` floats of `values` to lane `l`'s tensor at byte `offset`.
fn scatter_lanes(
    activations: &mut [u8],
    (lane_bytes, offset, n, lanes): (usize, usize, usize, usize),
    values: &[f32],
) {
    for lane in 0..lanes {
        let at = lane * lane_bytes + offset;
        if let (Some(dest), Some(src)) = (
            activations.get_mut(at..at + n * 4),
            values.get(lane * n..(lane + 1) * n),
        ) {
            dest.copy_from_slice(bytemuck::cast_slice(src));
        }
    }
}

/// The gradients of layer `layer`'s weights, when it trains (laid out as its variables).
fn layer_gradients<'g, S: Storage>(
    graph: &Graph<'_, S>,
    plan: &TrainPlan<S>,
    layer: crate::graph::LayerId,
    gradients: &'g mut [f32],
) -> Option<&'g mut [f32]> {
    let at = plan.ram_at.get(layer as usize).copied().flatten()? as usize / 4;
    let floats: usize = graph
        .layer_weights(layer)
        .iter()
        .map(|w| w.elements())
        .sum();
    gradients.get_mut(at..at + floats)
}

/// `(width of the last axis, rows)` of output `k` per sample.
fn output_rows<S: Storage>(prepared: &Prepared<'_, S>, k: usize) -> (usize, usize) {
    let Some((_, io)) = prepared.outputs.get(k) else {
        return (0, 0);
    };
    let width = io.shape.last().unwrap_or(1) as usize;
    (width, io.elements.checked_div(width).unwrap_or(0))
}

/// Target values per sample of output `k` for `loss`.
fn target_per_sample<S: Storage>(prepared: &Prepared<'_, S>, k: usize, loss: Loss) -> usize {
    let (width, rows) = output_rows(prepared, k);
    rows * loss.target_width(width)
}

/// A sparse loss's targets must be class indices.
fn check_labels(
    loss: Loss,
    target: &[f32],
    width: usize,
    output: usize,
    sample: usize,
) -> Result<(), Error> {
    if !loss.sparse() {
        return Ok(());
    }
    for &value in target {
        if !(value >= 0.0 && value < width as f32 && value == libm::truncf(value)) {
            return Err(Error::Train(TrainError::Label {
                output,
                sample,
                value,
                classes: width,
            }));
        }
    }
    Ok(())
}

/// The bytes of model input `index` for one sample.
fn input_bytes<'d>(data: &Data<'d>, source: &Source, sample: usize) -> &'d [u8] {
    match *source {
        Source::Caller { index, bytes } => data
            .x
            .get(index)
            .map(|x| bytemuck::cast_slice::<f32, u8>(x))
            .and_then(|b| b.get(sample * bytes..(sample + 1) * bytes))
            .unwrap_or(&[]),
        Source::Arena { .. } => &[],
    }
}

/// Output `k`'s values for the sample just run.
fn output_values<'v, S: Storage>(
    prepared: &Prepared<'_, S>,
    k: usize,
    data: &Data<'v>,
    sample: usize,
    activations: &'v [u8],
) -> &'v [f32] {
    let Some((source, _)) = prepared.outputs.get(k) else {
        return &[];
    };
    let bytes = match *source {
        Source::Caller { .. } => input_bytes(data, source, sample),
        Source::Arena { offset, bytes } => activations.get(offset..offset + bytes).unwrap_or(&[]),
    };
    bytemuck::try_cast_slice(bytes).unwrap_or(&[])
}

/// Runs every step of one sample at inference (`evaluate`).
fn forward<S: Storage>(
    prepared: &Prepared<'_, S>,
    data: &Data<'_>,
    sample: usize,
    activations: &mut [u8],
    rng: &mut SmallRng,
) {
    let caller = |source: &Source| input_bytes(data, source, sample);
    let mut rand = Rand { rng, call_seed: 0 };
    for placed in prepared.steps.iter() {
        run_step(placed, &caller, activations, &mut rand);
    }
}

/// One chunk of a batch (one sample, or the whole batch when a layer needs its
/// statistics) going through the model: each lane is a sample with its own activations
/// and gradients.
struct Pass<'p, 'w, 't, S: Storage> {
    graph: &'p Graph<'w, S>,
    plan: &'p TrainPlan<S>,
    prepared: &'p Prepared<'t, S>,
    data: &'p Data<'p>,
    /// Lane `l` is sample `order.at(first + l)`.
    order: &'p Permutation,
    first: usize,
    /// The batch's first position in `order`, and its seed (drawn once per batch).
    batch_start: usize,
    call_seed: u64,
    lanes: usize,
    activations: &'p mut [u8],
    activation_gradients: &'p mut [f32],
    scratch: [&'p mut [f32]; 3],
    stats: &'p mut [f32],
    /// Where a batch's tensors are gathered for a layer that takes it as rows.
    gather: [&'p mut [f32]; 2],
}

impl<S: Storage> Pass<'_, '_, '_, S> {
    fn sample(&self, lane: usize) -> usize {
        self.order.at(self.first + lane)
    }

    fn lane_bytes(&self) -> usize {
        self.plan.activations.bytes
    }

    fn lane_floats(&self) -> usize {
        self.plan.grad_bytes / 4
    }

    /// The layer of step `k` trains with the batch's statistics.
    fn batch_step(&self, placed: &crate::runtime::prepare::Placed<'_, S>) -> bool {
        self.plan
            .stats_at
            .get(placed.node as usize)
            .copied()
            .flatten()
            .is_some()
    }

    /// The generator step `k` of lane `lane` draws from (Dropout's mask): one stream per
    /// sample of the batch and step, so the draws do not depend on the order the lanes
    /// and steps run in, and the backward pass can draw the same mask again.
    fn generator(&self, lane: usize, k: usize) -> SmallRng {
        let position = (self.first + lane - self.batch_start) as u64;
        SmallRng::with_stream(
            self.call_seed ^ position.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            k as u64,
        )
    }

    /// Every step, layer by layer, over every lane.
    fn forward(&mut self) {
        let lane_bytes = self.lane_bytes();
        for (k, placed) in self.prepared.steps.iter().enumerate() {
            if self.batch_step(placed) {
                self.batch_forward(placed);
                continue;
            }
            if self.rows_step(placed) {
                self.rows_forward(placed);
                continue;
            }
            for lane in 0..self.lanes {
                let sample = self.sample(lane);
                let mut rng = self.generator(lane, k);
                let mut rand = Rand {
                    rng: &mut rng,
                    call_seed: self.call_seed,
                };
                let data = self.data;
                let caller = |source: &Source| input_bytes(data, source, sample);
                let region = lane * lane_bytes..(lane + 1) * lane_bytes;
                if let Some(activations) = self.activations.get_mut(region) {
                    run_step(placed, &caller, activations, &mut rand);
                }
            }
        }
    }

    /// A layer that normalizes with the batch's statistics: its input gathered from
    /// every lane, normalized together, scattered back.
    fn batch_forward(&mut self, placed: &crate::runtime::prepare::Placed<'_, S>) {
        let node = placed.node as usize;
        let (Some(back), Some(source)) = (self.backward_of(node), placed.inputs.first()) else {
            return;
        };
        let Some(batch) = back.batch else { return };
        let lanes = self.lanes;
        let n = placed.output.bytes / 4;
        let at = self.plan.stats_at.get(node).copied().flatten().unwrap_or(0) as usize;
        let channels = self.plan.stats_channels(node);
        let lane_bytes = self.lane_bytes();
        let x = core::mem::take(&mut self.scratch[0]);
        self.gather_values(source, x);
        let [_, y, _] = &mut self.scratch;
        if let (Some(xs), Some(ys), Some(stats)) = (
            x.get(..lanes * n),
            y.get_mut(..lanes * n),
            self.stats.get_mut(at..at + 1 + 2 * channels),
        ) {
            (batch.forward)(&placed.step.args, xs, ys, stats);
            scatter_lanes(
                self.activations,
                (lane_bytes, placed.output.offset, n, lanes),
                ys,
            );
        }
        self.scratch[0] = x;
    }

    /// A layer that takes the batch's samples as rows of one tensor, when the lanes hold
    /// a batch.
    fn rows_step(&self, placed: &crate::runtime::prepare::Placed<'_, S>) -> bool {
        self.lanes > 1
            && self.plan.gather > 0
            && placed.inputs.len() == 1
            && matches!(placed.step.run, crate::ops::Run::Compute(_))
            && self
                .graph
                .nodes
                .get(placed.node as usize)
                .and_then(|n| self.graph.layer(n.layer))
                .is_some_and(|l| l.kind.op().batches_as_rows())
    }

    /// Copies `source` (an arena placement or the model input) of every lane into `to`,
    /// one after the other; returns the values per lane.
    fn gather_values(&self, source: &Source, to: &mut [f32]) -> usize {
        let lane_bytes = self.lane_bytes();
        let mut per = 0;
        for lane in 0..self.lanes {
            let bytes = match *source {
                Source::Caller { .. } => input_bytes(self.data, source, self.sample(lane)),
                Source::Arena { offset, bytes } => {
                    let at = lane * lane_bytes + offset;
                    self.activations.get(at..at + bytes).unwrap_or(&[])
                }
            };
            let values: &[f32] = bytemuck::try_cast_slice(bytes).unwrap_or(&[]);
            per = values.len();
            if let Some(dest) = to.get_mut(lane * per..(lane + 1) * per) {
                dest.copy_from_slice(values);
            }
        }
        per
    }

    /// The step on every lane's input at once, as rows.
    fn rows_forward(&mut self, placed: &crate::runtime::prepare::Placed<'_, S>) {
        let crate::ops::Run::Compute(f) = placed.step.run else {
            return;
        };
        let Some(source) = placed.inputs.first() else {
            return;
        };
        let x = core::mem::take(&mut self.gather[0]);
        let y = core::mem::take(&mut self.gather[1]);
        let per = self.gather_values(source, x);
        let lanes = self.lanes;
        let n = placed.output.bytes / 4;
        if let (Some(xs), Some(ys)) = (x.get(..lanes * per), y.get_mut(..lanes * n)) {
            let mut rng = SmallRng::new(0);
            let mut rand = Rand {
                rng: &mut rng,
                call_seed: self.call_seed,
            };
            f(&placed.step.args, &[xs], ys, &mut rand);
            let lane_bytes = self.lane_bytes();
            scatter_lanes(
                self.activations,
                (lane_bytes, placed.output.offset, n, lanes),
                ys,
            );
        }
        self.gather = [x, y];
    }

    /// The step's backward pass on every lane at once, as rows.
    fn rows_backward(
        &mut self,
        placed: &crate::runtime::prepare::Placed<'_, S>,
        back: crate::ops::Backward,
        k: usize,
        gradients: &mut [f32],
    ) {
        let graph = self.graph;
        let plan = self.plan;
        let node_id = placed.node as usize;
        let (Some(node), Some(source), Some(grad_at)) = (
            graph.nodes.get(node_id),
            placed.inputs.first(),
            plan.grad_at.get(node_id).copied().flatten(),
        ) else {
            return;
        };
        let (lanes, lane_floats) = (self.lanes, self.lane_floats());
        let n = placed.output.bytes / 4;
        let x = core::mem::take(&mut self.gather[0]);
        let y = core::mem::take(&mut self.gather[1]);
        let per = self.gather_values(source, x);
        let output = Source::Arena {
            offset: placed.output.offset,
            bytes: placed.output.bytes,
        };
        self.gather_values(&output, y);
        let [d, work, dx] = &mut self.scratch;
        let grad_at = grad_at as usize / 4;
        gather_lanes(
            self.activation_gradients,
            (lane_floats, grad_at, n, lanes),
            d,
        );
        let (Some(xs), Some(ys), Some(ds)) = (
            x.get(..lanes * per),
            y.get(..lanes * n),
            d.get_mut(..lanes * n),
        ) else {
            self.gather = [x, y];
            return;
        };
        let inputs = [xs];
        let rng = SmallRng::new(k as u64);
        if let Some(f) = back.output {
            let saved = Saved {
                inputs: &inputs,
                output: ys,
                rng: rng.clone(),
                work: &[],
            };
            f(&placed.step.args, &saved, ds, work);
        }
        let saved = Saved {
            inputs: &inputs,
            output: ys,
            rng,
            work,
        };
        if let (Some(f), Some(dw)) = (
            back.weights,
            layer_gradients(graph, plan, node.layer, gradients),
        ) {
            f(&placed.step.args, &saved, ds, dw);
        }
        let target = graph.resolve(node.inputs.first().copied().unwrap_or(0)) as usize;
        if let (Some(input_at), Some(dxs)) = (
            plan.grad_at.get(target).copied().flatten(),
            dx.get_mut(..lanes * per),
        ) {
            (back.input)(&placed.step.args, &saved, 0, ds, dxs);
            let at = input_at as usize / 4;
            add_lanes(
                self.activation_gradients,
                (lane_floats, at, per, lanes),
                dxs,
            );
        }
        self.gather = [x, y];
    }

    fn backward_of(&self, node: usize) -> Option<crate::ops::Backward> {
        let n = self.graph.nodes.get(node)?;
        self.graph.layer(n.layer)?.kind.op().backward()
    }

    /// The losses of every lane, and their gradients at the outputs.
    fn losses(
        &mut self,
        compile: &Compile,
        batch: usize,
        sums: &mut BatchSums,
    ) -> Result<(), Error> {
        let graph = self.graph;
        let outputs = graph.outputs.len();
        let metric_list: heapless::Vec<(usize, super::Metric), MAX_METRICS> =
            compile.metrics(outputs).collect();
        let lane_floats = self.lane_floats();
        for lane in 0..self.lanes {
            let sample = self.sample(lane);
            for k in 0..outputs {
                let loss = compile.losses()[k];
                let (width, rows) = output_rows(self.prepared, k);
                let tw = loss.target_width(width);
                let per = rows * tw;
                let target = self.data.y[k]
                    .get(sample * per..(sample + 1) * per)
                    .unwrap_or(&[]);
                check_labels(loss, target, width, k, sample)?;
                let scale = compile.loss_weight(k) / (batch * rows) as f32;
                let Some((source, _)) = self.prepared.outputs.get(k) else {
                    continue;
                };
                let node = graph.resolve(graph.outputs[k]) as usize;
                let grad_at = self.plan.grad_at.get(node).copied().flatten();
                let lane_bytes = self.lane_bytes();
                for r in 0..rows {
                    let bytes = match *source {
                        Source::Caller { .. } => input_bytes(self.data, source, sample),
                        Source::Arena { offset, bytes } => {
                            let at = lane * lane_bytes + offset;
                            self.activations.get(at..at + bytes).unwrap_or(&[])
                        }
                    };
                    let prediction: &[f32] = bytemuck::try_cast_slice(bytes).unwrap_or(&[]);
                    let Some(p) = prediction.get(r * width..(r + 1) * width) else {
                        continue;
                    };
                    let t = target.get(r * tw..(r + 1) * tw).unwrap_or(&[]);
                    let [_, _, g] = &mut self.scratch;
                    let g = g.get_mut(..p.len()).unwrap_or(&mut []);
                    sums.losses[k] += loss.row(p, t, scale, g);
                    sums.rows[k] += 1.0;
                    for (m, &(output, metric)) in metric_list.iter().enumerate() {
                        if output == k {
                            sums.metrics[m].0 += metric.row(loss, p, t);
                            sums.metrics[m].1 += 1.0;
                        }
                    }
                    if let Some(at) = grad_at {
                        let at = lane * lane_floats + at as usize / 4 + r * width;
                        let [_, _, g] = &self.scratch;
                        if let Some(dest) = self.activation_gradients.get_mut(at..at + width) {
                            for (d, &v) in dest.iter_mut().zip(g.iter()) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Every step with a gradient, last to first, over every lane.
    fn backward(&mut self, gradients: &mut [f32]) {
        for (k, placed) in self.prepared.steps.iter().enumerate().rev() {
            let node_id = placed.node as usize;
            if self.plan.grad_at.get(node_id).copied().flatten().is_none() {
                continue;
            }
            let Some(back) = self.backward_of(node_id) else {
                continue;
            };
            if self.batch_step(placed) {
                self.batch_backward(placed, back, gradients);
                continue;
            }
            if self.rows_step(placed) {
                self.rows_backward(placed, back, k, gradients);
                continue;
            }
            for lane in 0..self.lanes {
                self.backward_one(placed, back, lane, k, gradients);
            }
        }
    }

    /// Lane `lane`'s gradient through one step.
    fn backward_one(
        &mut self,
        placed: &crate::runtime::prepare::Placed<'_, S>,
        back: crate::ops::Backward,
        lane: usize,
        step: usize,
        gradients: &mut [f32],
    ) {
        let graph = self.graph;
        let plan = self.plan;
        let node_id = placed.node as usize;
        let Some(node) = graph.nodes.get(node_id) else {
            return;
        };
        let lane_bytes = self.lane_bytes();
        let lane_floats = self.lane_floats();
        let activations = &self.activations[lane * lane_bytes..(lane + 1) * lane_bytes];
        let out = &placed.output;
        let output: &[f32] = activations
            .get(out.offset..out.offset + out.bytes)
            .and_then(|b| bytemuck::try_cast_slice(b).ok())
            .unwrap_or(&[]);
        let n = output.len();
        let Some(grad_at) = plan.grad_at.get(node_id).copied().flatten() else {
            return;
        };
        let at = lane * lane_floats + grad_at as usize / 4;
        let sample = self.sample(lane);
        let rng = self.generator(lane, step);
        let [d_output, work, d_input] = &mut self.scratch;
        let (Some(d), Some(g)) = (
            d_output.get_mut(..n),
            self.activation_gradients.get(at..at + n),
        ) else {
            return;
        };
        d.copy_from_slice(g);
        let mut inputs: S::Few<&[f32]> = Default::default();
        for source in placed.inputs.iter() {
            let bytes = match *source {
                Source::Caller { .. } => input_bytes(self.data, source, sample),
                Source::Arena { offset, bytes } => {
                    activations.get(offset..offset + bytes).unwrap_or(&[])
                }
            };
            let _ = crate::graph::List::push(
                &mut inputs,
                bytemuck::try_cast_slice(bytes).unwrap_or(&[]),
            );
        }
        if let Some(f) = back.output {
            let saved = Saved {
                inputs: &inputs,
                output,
                rng: rng.clone(),
                work: &[],
            };
            f(&placed.step.args, &saved, d, work);
        }
        let saved = Saved {
            inputs: &inputs,
            output,
            rng,
            work,
        };
        if let (Some(f), Some(dw)) = (
            back.weights,
            layer_gradients(graph, plan, node.layer, gradients),
        ) {
            f(&placed.step.args, &saved, d, dw);
        }
        for (j, &input) in node.inputs.iter().enumerate() {
            let target = graph.resolve(input) as usize;
            let Some(input_at) = plan.grad_at.get(target).copied().flatten() else {
                continue;
            };
            let len = saved.inputs.get(j).map_or(0, |x| x.len());
            let Some(dx) = d_input.get_mut(..len) else {
                continue;
            };
            (back.input)(&placed.step.args, &saved, j, d, dx);
            let at = lane * lane_floats + input_at as usize / 4;
            if let Some(dest) = self.activation_gradients.get_mut(at..at + len) {
                for (a, &b) in dest.iter_mut().zip(dx.iter()) {
                    *a += b;
                }
            }
        }
    }

    /// A layer that normalizes with the batch's statistics: its gradient over every lane
    /// at once.
    fn batch_backward(
        &mut self,
        placed: &crate::runtime::prepare::Placed<'_, S>,
        back: crate::ops::Backward,
        gradients: &mut [f32],
    ) {
        let graph = self.graph;
        let plan = self.plan;
        let node_id = placed.node as usize;
        let (Some(node), Some(batch), Some(source)) =
            (graph.nodes.get(node_id), back.batch, placed.inputs.first())
        else {
            return;
        };
        let lanes = self.lanes;
        let n = placed.output.bytes / 4;
        let lane_floats = self.lane_floats();
        let grad_at = plan.grad_at.get(node_id).copied().flatten().unwrap_or(0) as usize / 4;
        let x = core::mem::take(&mut self.scratch[0]);
        self.gather_values(source, x);
        self.scratch[0] = x;
        let [x, d, dx] = &mut self.scratch;
        gather_lanes(
            self.activation_gradients,
            (lane_floats, grad_at, n, lanes),
            d,
        );
        let (Some(x), Some(d), Some(dx)) = (
            x.get(..lanes * n),
            d.get(..lanes * n),
            dx.get_mut(..lanes * n),
        ) else {
            return;
        };
        let dw = layer_gradients(graph, plan, node.layer, gradients);
        (batch.backward)(&placed.step.args, x, d, dx, dw.unwrap_or(&mut []));
        let target = graph.resolve(node.inputs.first().copied().unwrap_or(0)) as usize;
        if let Some(input_at) = plan.grad_at.get(target).copied().flatten() {
            let at = input_at as usize / 4;
            add_lanes(self.activation_gradients, (lane_floats, at, n, lanes), dx);
        }
    }
}
