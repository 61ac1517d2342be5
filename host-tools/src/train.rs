//! Training on the host with the core's trainer (the same code a device runs): the
//! compile configuration from flags or from a `.keras` file's `compile_config`, `fit`
//! and `evaluate` on `.npy` data, and Keras's `History.history`.

use kiln::train::{Adam, Compile, Data, EpochLogs, FitOptions, Loss, Metric, Optimizer, Sgd};
use serde_json::{Map, Value};

use crate::model::HostGraph;

/// What `compile()` was given, by output name where Keras keys it so.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileConfig {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// One loss per output, in the model's output order.
    pub losses: Vec<Loss>,
    /// One weight per output (empty: 1.0 each).
    pub loss_weights: Vec<f32>,
    /// Metrics per output (the same list for every output when compiled with a list).
    pub metrics: Vec<Vec<Metric>>,
}

/// Why a compile configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CompileConfigError {
    #[error("optimizer {0} is not supported (kiln trains with SGD and Adam)")]
    Optimizer(String),
    #[error("loss {0} is not supported (kiln has mean_squared_error, mean_absolute_error, categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy)")]
    Loss(String),
    #[error("metric {0} is not supported (kiln has accuracy, mae, mse)")]
    Metric(String),
    #[error("{0}")]
    Shape(String),
    #[error("{0} is not supported by kiln's training (it would change the arithmetic); compile without it")]
    Unsupported(String),
}

impl CompileConfig {
    /// The core's compile.
    pub fn compile(&self) -> Compile {
        let mut compile = Compile::new(self.optimizer);
        for &loss in &self.losses {
            compile = compile.loss(loss);
        }
        if !self.loss_weights.is_empty() {
            compile = compile.loss_weights(&self.loss_weights);
        }
        for (k, metrics) in self.metrics.iter().enumerate() {
            for &m in metrics {
                compile = compile.output_metric(k as u8, m);
            }
        }
        compile
    }

    /// Reads Keras's `compile_config` (from a `.keras` file's `config.json`) for a model
    /// whose outputs are `outputs`; `None` when the model was saved uncompiled.
    pub fn from_keras(
        config: &Value,
        outputs: &[String],
    ) -> Result<Option<Self>, CompileConfigError> {
        let Some(cc) = config
            .get("compile_config")
            .filter(|c| c.as_object().is_some_and(|o| !o.is_empty()))
        else {
            return Ok(None);
        };
        let optimizer = optimizer(cc.get("optimizer").unwrap_or(&Value::Null))?;
        if cc
            .get("weighted_metrics")
            .is_some_and(|m| !m.is_null() && m.as_array().is_none_or(|a| !a.is_empty()))
        {
            return Err(CompileConfigError::Unsupported(format!(
                "weighted_metrics={}",
                cc["weighted_metrics"]
            )));
        }
        let per_output = |v: &Value| -> Vec<Value> {
            match v {
                Value::Object(by_name) if !by_name.contains_key("class_name") => outputs
                    .iter()
                    .map(|o| by_name.get(o).cloned().unwrap_or(Value::Null))
                    .collect(),
                Value::Array(list) if outputs.len() > 1 && list.len() == outputs.len() => {
                    list.clone()
                }
                other => vec![other.clone(); outputs.len()],
            }
        };
        let losses = per_output(cc.get("loss").unwrap_or(&Value::Null))
            .iter()
            .map(loss)
            .collect::<Result<Vec<_>, _>>()?;
        let loss_weights = match cc.get("loss_weights") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => per_output(v)
                .iter()
                .map(|w| w.as_f64().unwrap_or(1.0) as f32)
                .collect(),
        };
        let metrics = match cc.get("metrics") {
            None | Some(Value::Null) => vec![Vec::new(); outputs.len()],
            Some(Value::Array(list)) if list.iter().all(|m| !m.is_array()) => {
                vec![list.iter().map(metric).collect::<Result<Vec<_>, _>>()?; outputs.len()]
            }
            Some(v) => per_output(v)
                .iter()
                .map(|m| match m {
                    Value::Null => Ok(Vec::new()),
                    Value::Array(list) => list.iter().map(metric).collect(),
                    one => Ok(vec![metric(one)?]),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Some(CompileConfig {
            optimizer,
            losses,
            loss_weights,
            metrics,
        }))
    }
}

fn optimizer(v: &Value) -> Result<Optimizer, CompileConfigError> {
    let name = v
        .get("class_name")
        .and_then(Value::as_str)
        .or_else(|| v.as_str())
        .unwrap_or("?");
    let c = v.get("config").cloned().unwrap_or(Value::Null);
    // What would change the update and kiln does not do: refused, not ignored.
    for key in [
        "clipnorm",
        "global_clipnorm",
        "clipvalue",
        "loss_scale_factor",
        "gradient_accumulation_steps",
    ] {
        if c.get(key).is_some_and(|v| !v.is_null()) {
            return Err(CompileConfigError::Unsupported(format!(
                "the optimizer's {key}={}",
                c[key]
            )));
        }
    }
    if c.get("use_ema").and_then(Value::as_bool) == Some(true) {
        return Err(CompileConfigError::Unsupported(
            "the optimizer's use_ema=True".into(),
        ));
    }
    let f = |key: &str, default: f64| c.get(key).and_then(Value::as_f64).unwrap_or(default) as f32;
    match name.to_ascii_lowercase().as_str() {
        "sgd" => Ok(Optimizer::Sgd(Sgd {
            learning_rate: f("learning_rate", 0.01),
            momentum: f("momentum", 0.0),
            nesterov: c.get("nesterov").and_then(Value::as_bool).unwrap_or(false),
            weight_decay: f("weight_decay", 0.0),
        })),
        "adam" if c.get("amsgrad").and_then(Value::as_bool) != Some(true) => {
            Ok(Optimizer::Adam(Adam {
                learning_rate: f("learning_rate", 0.001),
                beta_1: f("beta_1", 0.9),
                beta_2: f("beta_2", 0.999),
                epsilon: f("epsilon", 1e-7),
                weight_decay: f("weight_decay", 0.0),
            }))
        }
        _ => Err(CompileConfigError::Optimizer(format!("{name} {c}"))),
    }
}

fn loss(v: &Value) -> Result<Loss, CompileConfigError> {
    let (name, from_logits) = match v {
        Value::String(s) => (s.as_str(), false),
        Value::Object(o) => {
            let c = o.get("config").cloned().unwrap_or(Value::Null);
            if c.get("label_smoothing")
                .and_then(Value::as_f64)
                .is_some_and(|l| l != 0.0)
            {
                return Err(CompileConfigError::Unsupported(format!(
                    "the loss's label_smoothing={}",
                    c["label_smoothing"]
                )));
            }
            if c.get("reduction")
                .and_then(Value::as_str)
                .is_some_and(|r| r != "sum_over_batch_size")
            {
                return Err(CompileConfigError::Unsupported(format!(
                    "the loss's reduction={}",
                    c["reduction"]
                )));
            }
            if c.get("ignore_class").is_some_and(|v| !v.is_null()) {
                return Err(CompileConfigError::Unsupported(format!(
                    "the loss's ignore_class={}",
                    c["ignore_class"]
                )));
            }
            (
                o.get("class_name").and_then(Value::as_str).unwrap_or("?"),
                c.get("from_logits")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            )
        }
        _ => ("?", false),
    };
    Loss::from_keras_name(name, from_logits).ok_or_else(|| CompileConfigError::Loss(v.to_string()))
}

fn metric(v: &Value) -> Result<Metric, CompileConfigError> {
    v.as_str()
        .and_then(Metric::from_keras_name)
        .ok_or_else(|| CompileConfigError::Metric(v.to_string()))
}

/// Keras's `History.history` as it builds it: `loss`, `<output>_loss` per output of a
/// multi-output model (unweighted), the metrics by their compile names (prefixed by the
/// output's name when there are several outputs), `val_` for the validation data; keys in
/// alphabetical order.
pub fn history(
    config: &CompileConfig,
    outputs: &[String],
    epochs: &[EpochLogs],
) -> Map<String, Value> {
    let mut history = Map::new();
    let mut push = |key: String, value: f32| {
        let entry = history
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::from(f64::from(value)));
        }
    };
    for epoch in epochs {
        for (prefix, logs) in [
            ("", Some(&epoch.train)),
            ("val_", epoch.validation.as_ref()),
        ] {
            let Some(logs) = logs else { continue };
            for (key, value) in log_entries(config, outputs, logs) {
                push(format!("{prefix}{key}"), value);
            }
        }
    }
    history
}

/// The logs as Keras names them (see [`history`]), in kiln's order.
pub fn log_entries(
    config: &CompileConfig,
    outputs: &[String],
    logs: &kiln::train::Logs,
) -> Vec<(String, f32)> {
    let mut entries = vec![("loss".to_string(), logs.loss)];
    let several = outputs.len() > 1;
    if several {
        for (name, &value) in outputs.iter().zip(&logs.output_losses) {
            entries.push((format!("{name}_loss"), value));
        }
    }
    let names = config
        .metrics
        .iter()
        .enumerate()
        .flat_map(|(k, ms)| ms.iter().map(move |m| (k, m)));
    for ((k, metric), &value) in names.zip(&logs.metrics) {
        let name = if several {
            format!("{}_{}", outputs[k], metric.keras_name())
        } else {
            metric.keras_name().to_string()
        };
        entries.push((name, value));
    }
    entries
}

/// A trained model: the same graph with the trained weights.
pub fn trained(host: &HostGraph, weights: &[u8]) -> HostGraph {
    HostGraph::from_bytes(host.structure().clone(), weights)
}

/// Options of `fit` as Keras takes them.
pub fn fit_options(batch_size: usize, epochs: usize, shuffle: bool, seed: u64) -> FitOptions {
    FitOptions {
        batch_size,
        epochs,
        shuffle,
        seed,
    }
}

/// Why host training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainHostError {
    #[error(transparent)]
    Kiln(#[from] kiln::Error),
    #[error(
        "the model has no weights (a bare config): fit needs a .keras archive or a .kiln blob"
    )]
    NoWeights,
}

/// A fit's result: the model with its trained weights, and every epoch's logs.
pub struct Fitted {
    pub model: HostGraph,
    pub epochs: Vec<EpochLogs>,
    /// Keras's `optimizer.iterations` at the end.
    pub iterations: u64,
    /// The optimizer's state at the end, as a `.keras` saves it.
    pub optimizer: crate::formats::keras_writer::OptimizerState,
}

/// The names of the model's outputs, as Keras's `model.output_names`.
pub fn output_names(host: &HostGraph) -> Vec<String> {
    let graph = host.structure();
    graph
        .output_nodes()
        .iter()
        .map(|&n| graph.node_layer_name(n as usize).to_string())
        .collect()
}

/// `fit` on the host, with the core's trainer. `epoch` is called after each epoch;
/// `batch` after each step (epoch, step, steps, running logs).
pub fn fit(
    host: &HostGraph,
    config: &CompileConfig,
    data: Data<'_>,
    options: &FitOptions,
    validation: Option<Data<'_>>,
    callback: &mut dyn kiln::train::Callback,
) -> Result<Fitted, TrainHostError> {
    if !host.has_weights() {
        return Err(TrainHostError::NoWeights);
    }
    let graph = host.graph()?;
    // The host has the memory to run each batch at once: the same bits, faster.
    let compile = config
        .compile()
        .batch_size(options.batch_size)
        .whole_batch(true);
    let plan = graph.train_plan(&compile)?;
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut trainer = graph.compile(compile, &mut arena)?;
    let mut collect = Collect {
        inner: callback,
        epochs: Vec::new(),
    };
    let result = trainer.fit(data.x, data.y, options, validation, &mut collect);
    result?;
    let mut weights = vec![0u8; graph.weights().len()];
    trainer.write_weights(&mut weights)?;
    // Keras saves an optimizer's slots variable by variable (Adam: momentum, velocity).
    let mut planes: Vec<Vec<Vec<f32>>> = Vec::new();
    trainer.for_each_slot(|j, s| {
        if planes.len() <= j {
            planes.push(Vec::new());
        }
        planes[j].push(s.to_vec());
    });
    let variables = planes.first().map_or(0, Vec::len);
    let slots = (0..variables)
        .flat_map(|v| planes.iter().map(move |p| p[v].clone()))
        .collect();
    let optimizer = crate::formats::keras_writer::OptimizerState {
        iterations: trainer.iterations() as i64,
        learning_rate: trainer.learning_rate(),
        slots,
    };
    Ok(Fitted {
        model: trained(host, &weights),
        epochs: collect.epochs,
        iterations: trainer.iterations(),
        optimizer,
    })
}

/// `evaluate` on the host.
pub fn evaluate(
    host: &HostGraph,
    config: &CompileConfig,
    data: Data<'_>,
    batch_size: usize,
) -> Result<kiln::train::Logs, TrainHostError> {
    if !host.has_weights() {
        return Err(TrainHostError::NoWeights);
    }
    let graph = host.graph()?;
    // Evaluate runs at inference: the batch size does not change the arena.
    let compile = config.compile().batch_size(batch_size.min(256));
    let plan = graph.train_plan(&compile)?;
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut trainer = graph.compile(compile, &mut arena)?;
    Ok(trainer.evaluate(&data, batch_size)?)
}

struct Collect<'c> {
    inner: &'c mut dyn kiln::train::Callback,
    epochs: Vec<EpochLogs>,
}

impl kiln::train::Callback for Collect<'_> {
    fn on_batch_end(&mut self, epoch: usize, step: usize, steps: usize, logs: &kiln::train::Logs) {
        self.inner.on_batch_end(epoch, step, steps, logs);
    }
    fn on_epoch_end(&mut self, epoch: usize, logs: &EpochLogs) {
        self.epochs.push(logs.clone());
        self.inner.on_epoch_end(epoch, logs);
    }
}

/// The training arena of `host` compiled with `config` for batches of `batch_size`.
pub fn train_plan(
    host: &HostGraph,
    config: &CompileConfig,
    batch_size: usize,
) -> Result<kiln::train::TrainPlan<kiln::Heap>, kiln::Error> {
    host.structure()
        .train_plan(&config.compile().batch_size(batch_size))
}

/// What `kiln export --train` and `kiln inspect` print about a training arena.
pub fn budget_lines(plan: &kiln::train::TrainPlan<kiln::Heap>, batch_size: usize) -> Vec<String> {
    vec![
        format!(
            "training arena: {} bytes (TRAIN_ARENA_BYTES, batch size {batch_size}), lower bound {} bytes",
            plan.train_arena_bytes(),
            plan.lower_bound()
        ),
        format!(
            "  trainable weights {} (TRAINABLE_BYTES), their gradients {}, optimizer slots {}",
            plan.trainable_bytes(),
            plan.gradient_bytes(),
            plan.slot_bytes()
        ),
        format!(
            "  one sample's activations {}, their gradients {}, scratch {}",
            plan.activation_bytes(),
            plan.activation_gradient_bytes(),
            plan.scratch_bytes()
        ),
        if plan.lanes() == 1 {
            "  frozen weights stay in flash; one sample at a time: the arena does not grow with the batch size".to_string()
        } else {
            format!("  frozen weights stay in flash; a BatchNormalization trains: the whole batch ({}) is held at once", plan.lanes())
        },
    ]
}
