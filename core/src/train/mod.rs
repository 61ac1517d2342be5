//! Training on the device: Keras's `compile`, `fit`, `evaluate` and `train_on_batch`,
//! with Keras's arithmetic, from one arena the caller lends, whose size
//! ([`TrainPlan::train_arena_bytes`]) is known before the firmware links.
//!
//! ```
//! use kiln::layers::{Dense, Input};
//! use kiln::train::{Compile, FitOptions, Loss, Sgd};
//! use kiln::{Fixed, Sequential};
//! let mut model = Sequential::<Fixed<4>>::new();
//! model.add(Input::new(&[1]))?;
//! model.add(Dense::new(1))?;
//! let weights = [0.0f32, 0.0]; // kernel (1, 1), bias (1,)
//! model.set_weights(&weights)?;
//! let compile = Compile::new(Sgd::new(0.1)).loss(Loss::MeanSquaredError);
//! let mut arena = [0u8; 256];
//! assert!(model.train_plan(&compile)?.train_arena_bytes() <= arena.len());
//! let mut trainer = model.compile(compile, &mut arena)?;
//! // Learn y = 2x + 1.
//! let x = [0.0f32, 1.0, 2.0, 3.0];
//! let y = [1.0f32, 3.0, 5.0, 7.0];
//! let options = FitOptions { batch_size: 4, epochs: 200, ..FitOptions::default() };
//! let logs = trainer.fit(&[&x], &[&y], &options, None, &mut ())?;
//! assert!(logs.train.loss < 1e-3);
//! let mut w = [0.0f32; 2];
//! trainer.write_weights(bytemuck::cast_slice_mut(&mut w))?;
//! assert!((w[0] - 2.0).abs() < 0.05 && (w[1] - 1.0).abs() < 0.1);
//! # Ok::<(), kiln::Error>(())
//! ```
//!
//! How a step runs: the batch goes through the model one sample at a time, as `predict`
//! does; each sample's forward pass keeps every activation, the backward pass adds that
//! sample's gradient to the weight gradients, and once the whole batch is in, the
//! optimizer updates the weights. So the arena does not grow with the batch size, and
//! only the layers that train have their weights (and gradients, and optimizer slots) in
//! RAM; frozen ones are read where they are (flash).
//!
//! A step is all or nothing: a NaN or infinity in the loss, a gradient or an updated
//! weight stops it before anything is written ([`TrainError::NonFinite`]).
//!
//! What is not there yet: BatchNormalization in training mode (a trainable BN is an
//! error; a frozen one runs in inference mode, as in Keras), and the backward pass of
//! the layers whose [`Op::backward`](crate::ops::Op::backward) is `None`.

pub mod loss;
mod metrics;
pub mod optimizer;
mod plan;
mod shuffle;
#[cfg(all(test, feature = "all-ops"))]
mod tests;
mod trainer;

pub use loss::Loss;
pub use metrics::Metric;
pub use optimizer::{Adam, Optimizer, Sgd};
pub use plan::TrainPlan;
pub use shuffle::Permutation;
pub use trainer::{Callback, Data, EpochLogs, FitOptions, Logs, Trainer};

use crate::name::Name;

/// The most model outputs a compiled model trains.
pub const MAX_OUTPUTS: usize = 4;
/// The most metrics one compile holds (over all outputs).
pub const MAX_METRICS: usize = 8;

/// Keras's `compile(optimizer, loss, loss_weights, metrics)`.
///
/// ```
/// use kiln::train::{Compile, Loss, Metric, Sgd};
/// let compile = Compile::new(Sgd::new(0.05).momentum(0.9))
///     .loss(Loss::MeanSquaredError)                                  // output 0
///     .loss(Loss::CategoricalCrossentropy { from_logits: false })    // output 1
///     .loss_weights(&[1.0, 0.5])
///     .metric(Metric::Accuracy);                                     // every output
/// assert_eq!(compile.losses().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Compile {
    /// The optimizer.
    pub optimizer: Optimizer,
    losses: heapless::Vec<Loss, MAX_OUTPUTS>,
    loss_weights: heapless::Vec<f32, MAX_OUTPUTS>,
    /// `(output, metric)`; output `None` for every output.
    metrics: heapless::Vec<(Option<u8>, Metric), MAX_METRICS>,
    /// More losses, weights or metrics than fit: `compile` refuses it.
    overflow: Option<&'static str>,
    batch_size: usize,
    whole_batch: bool,
}

impl Compile {
    /// A compile with this optimizer, no loss yet.
    pub fn new(optimizer: impl Into<Optimizer>) -> Self {
        Compile {
            optimizer: optimizer.into(),
            losses: heapless::Vec::new(),
            loss_weights: heapless::Vec::new(),
            metrics: heapless::Vec::new(),
            overflow: None,
            batch_size: 32,
            whole_batch: false,
        }
    }

    /// Hold the whole batch (of up to [`Compile::batch_size`] samples) in the arena and
    /// run it layer by layer: faster where memory is plenty (a host: a Dense then takes
    /// the batch as one matrix), with the same bits as one sample at a time.
    pub fn whole_batch(mut self, whole_batch: bool) -> Self {
        self.whole_batch = whole_batch;
        self
    }

    /// True when the arena holds the whole batch (see [`Compile::whole_batch`]).
    pub fn holds_whole_batch(&self) -> bool {
        self.whole_batch
    }

    /// The largest batch `fit` and `train_on_batch` will be given (Keras's default 32).
    /// Only a model with a BatchNormalization that trains keeps a whole batch in the
    /// arena; any other trains one sample at a time, whatever the batch size.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// The batch size the arena is planned for (see [`Compile::batch_size`]).
    pub fn planned_batch_size(&self) -> usize {
        self.batch_size
    }

    /// The loss of the next output (in the model's output order).
    pub fn loss(mut self, loss: Loss) -> Self {
        if self.losses.push(loss).is_err() {
            self.overflow = Some("losses");
        }
        self
    }

    /// Keras's `loss_weights` (one per output; default 1.0 each).
    pub fn loss_weights(mut self, weights: &[f32]) -> Self {
        self.loss_weights.clear();
        if self.loss_weights.extend_from_slice(weights).is_err() {
            self.overflow = Some("loss weights");
        }
        self
    }

    /// A metric on every output.
    pub fn metric(self, metric: Metric) -> Self {
        self.push_metric(None, metric)
    }

    /// A metric on output `output` only (Keras's dict of metrics by output).
    pub fn output_metric(self, output: u8, metric: Metric) -> Self {
        self.push_metric(Some(output), metric)
    }

    fn push_metric(mut self, output: Option<u8>, metric: Metric) -> Self {
        if self.metrics.push((output, metric)).is_err() {
            self.overflow = Some("metrics");
        }
        self
    }

    /// The losses, by output.
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    /// The weight of output `k`'s loss.
    pub fn loss_weight(&self, k: usize) -> f32 {
        self.loss_weights.get(k).copied().unwrap_or(1.0)
    }

    /// The metrics, as `(output, metric)` for a model with `outputs` outputs, in the
    /// order [`Logs::metrics`] reports them: output by output, in the order given.
    pub fn metrics(&self, outputs: usize) -> impl Iterator<Item = (usize, Metric)> + '_ {
        (0..outputs).flat_map(move |k| {
            self.metrics
                .iter()
                .filter(move |(o, _)| o.is_none_or(|o| usize::from(o) == k))
                .map(move |&(_, m)| (k, m))
        })
    }

    fn check(&self, outputs: usize) -> Result<(), TrainError> {
        if let Some(what) = self.overflow {
            return Err(TrainError::Compile(match what {
                "losses" => "more losses than kiln trains outputs (MAX_OUTPUTS)",
                "loss weights" => "more loss weights than kiln trains outputs (MAX_OUTPUTS)",
                _ => "more metrics than a compile holds (MAX_METRICS)",
            }));
        }
        self.optimizer.validate().map_err(TrainError::Compile)?;
        if self.losses.len() != outputs {
            return Err(TrainError::LossCount {
                outputs,
                losses: self.losses.len(),
            });
        }
        if !self.loss_weights.is_empty() && self.loss_weights.len() != outputs {
            return Err(TrainError::Compile(
                "loss_weights must have one weight per model output",
            ));
        }
        if self.loss_weights.iter().any(|w| !w.is_finite()) {
            return Err(TrainError::Compile("loss weights must be finite"));
        }
        if self
            .metrics
            .iter()
            .any(|(o, _)| o.is_some_and(|o| usize::from(o) >= outputs))
        {
            return Err(TrainError::Compile(
                "a metric names an output the model does not have",
            ));
        }
        if self.metrics(outputs).count() > MAX_METRICS {
            return Err(TrainError::Compile(
                "more metrics than a compile holds (MAX_METRICS)",
            ));
        }
        Ok(())
    }
}

/// Why training cannot start or stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A layer on the gradient's path has no backward pass in this build of kiln.
    NoBackward {
        /// The layer.
        layer: Name,
        /// Its Keras class.
        class: &'static str,
    },
    /// A layer that would train with the batch's statistics (BatchNormalization).
    BatchStatistics {
        /// The layer.
        layer: Name,
        /// Its Keras class.
        class: &'static str,
    },
    /// A layer that would train, or that gradients flow through, is not float32.
    NotFloat {
        /// The layer.
        layer: Name,
    },
    /// The compile configuration is invalid.
    Compile(&'static str),
    /// There is not one loss per model output.
    LossCount {
        /// The model's outputs.
        outputs: usize,
        /// The losses given.
        losses: usize,
    },
    /// A class index of a sparse target is not an integer in `0..classes`.
    Label {
        /// The model output.
        output: usize,
        /// The sample (its index in the data).
        sample: usize,
        /// The value found.
        value: f32,
        /// The output's number of classes.
        classes: usize,
    },
    /// A target buffer does not have one target per sample of the inputs.
    TargetLength {
        /// The model output.
        output: usize,
        /// Values per sample the loss takes.
        per_sample: usize,
        /// The buffer's length.
        found: usize,
        /// The inputs' number of samples.
        samples: usize,
    },
    /// The options are invalid (a batch size of 0, no samples).
    Options(&'static str),
    /// A NaN or infinity appeared; the step was not applied.
    NonFinite {
        /// `"loss"`, `"gradient"` or `"weight"`.
        what: &'static str,
        /// The optimizer step (Keras's `iterations`) it would have been.
        step: u64,
    },
}

impl core::fmt::Display for TrainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TrainError::NoBackward { layer, class } => write!(
                f,
                "layer '{layer}' ({class}) has no backward pass in kiln yet: freeze it and every layer before it (trainable = false), or train a model without it"
            ),
            TrainError::BatchStatistics { layer, class } => write!(
                f,
                "layer '{layer}' ({class}) would train with the batch's statistics, which kiln's one-sample-at-a-time training does not compute yet: freeze it (trainable = false) and it runs in inference mode, as Keras runs a frozen BatchNormalization"
            ),
            TrainError::NotFloat { layer } => write!(
                f,
                "layer '{layer}' is int8: only float32 layers train; freeze it (trainable = false)"
            ),
            TrainError::Compile(reason) => write!(f, "invalid compile configuration: {reason}"),
            TrainError::LossCount { outputs, losses } => write!(
                f,
                "the model has {outputs} outputs but {losses} losses were given: give one loss per output, in the model's output order"
            ),
            TrainError::Label {
                output,
                sample,
                value,
                classes,
            } => write!(
                f,
                "output {output}, sample {sample}: the label {value} is not a class index in 0..{classes}"
            ),
            TrainError::TargetLength {
                output,
                per_sample,
                found,
                samples,
            } => write!(
                f,
                "output {output}: the targets have {found} values, but {samples} samples of {per_sample} values each were expected"
            ),
            TrainError::Options(reason) => write!(f, "invalid fit options: {reason}"),
            TrainError::NonFinite { what, step } => write!(
                f,
                "a {what} became NaN or infinite at step {step}: the step was not applied and the weights are those of the last good step"
            ),
        }
    }
}
