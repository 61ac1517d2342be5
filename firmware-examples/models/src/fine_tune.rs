//! `fine_tune`: on-device fine-tuning of a classifier's head. A model whose feature layers
//! were trained elsewhere and are frozen, and whose head learns a user's own classes from
//! a handful of samples recorded on the device:
//!
//! ```python
//! model = keras.Sequential([
//!     keras.Input(shape=(12,)),                                   # e.g. a sensor window's features
//!     layers.Dense(16, activation="relu", name="features_1", trainable=False),
//!     layers.Dense(8, activation="relu", name="features_2", trainable=False),
//!     layers.Dense(3, activation="softmax", name="head"),        # the user's 3 gestures
//! ], name="fine_tune")
//! model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
//!               loss="sparse_categorical_crossentropy", metrics=["accuracy"])
//! model.fit(USER_X, USER_Y, batch_size=4, epochs=EPOCHS, shuffle=True)
//! ```
//!
//! Only the head's 27 weights are copied to RAM (with their gradients and momentum); the
//! frozen layers' are read where they are (flash) and stay as they were, which the example
//! checks. The weights are deterministic pseudo-random values ([`crate::pseudo_random`]),
//! standing in for a pre-trained feature extractor; the 12 user samples are three class
//! prototypes with pseudo-random noise.

use crate::{print_summary_with, Board, Failure};
use kiln::layers::{Dense, Input, LayerBuilder};
use kiln::train::{Compile, Data, FitOptions, Logs, Loss, Metric, Sgd};
use kiln::{Activation, Error, Graph, Sequential};

/// Layers the model needs room for (Input + 3 Dense).
pub const MAX_LAYERS: usize = 4;
/// Input features per sample.
pub const FEATURES: usize = 12;
/// The user's classes.
pub const CLASSES: usize = 3;
/// The user samples built into the firmware.
pub const SAMPLES: usize = 12;
/// 12·16 + 16 + 16·8 + 8 (frozen) and 8·3 + 3 (the head) weights, in layer order.
pub const WEIGHT_COUNT: usize = FEATURES * 16 + 16 + 16 * 8 + 8 + 8 * CLASSES + CLASSES;
/// The model's weight buffer, in bytes (what `Trainer::write_weights` fills).
pub const WEIGHT_BYTES: usize = WEIGHT_COUNT * 4;
/// The head's weights: the last ones of the buffer.
pub const HEAD_WEIGHTS: usize = 8 * CLASSES + CLASSES;
/// Passes over the user samples.
pub const EPOCHS: usize = 15;
/// Samples per SGD step.
pub const BATCH_SIZE: usize = 4;
/// The SGD steps `fit` takes.
pub const STEPS: usize = EPOCHS * SAMPLES.div_ceil(BATCH_SIZE);

/// The "pre-trained" weights: features scaled for unit-size activations, a small head.
pub static WEIGHTS: [f32; WEIGHT_COUNT] = weights();

const fn weights() -> [f32; WEIGHT_COUNT] {
    let features: [f32; WEIGHT_COUNT - HEAD_WEIGHTS] = crate::pseudo_random(0x5EED_F17E, 1.2);
    let head: [f32; HEAD_WEIGHTS] = crate::pseudo_random(0x5EED_4EA3, 0.4);
    let mut w = [0.0f32; WEIGHT_COUNT];
    let mut i = 0;
    while i < features.len() {
        w[i] = features[i];
        i += 1;
    }
    while i < WEIGHT_COUNT {
        w[i] = head[i - features.len()];
        i += 1;
    }
    w
}

/// The user's samples: class `c`'s prototype plus noise, four of each class.
pub static USER_X: [f32; SAMPLES * FEATURES] = user_x();
/// Their classes (sparse labels: class indices as f32, as Keras takes them).
pub static USER_Y: [f32; SAMPLES] = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0];

const fn user_x() -> [f32; SAMPLES * FEATURES] {
    let prototypes: [f32; CLASSES * FEATURES] = crate::pseudo_random(0x5EED_C1A5, 4.0);
    let noise: [f32; SAMPLES * FEATURES] = crate::pseudo_random(0x5EED_0015, 0.8);
    let mut x = [0.0f32; SAMPLES * FEATURES];
    let mut s = 0;
    while s < SAMPLES {
        let class = s % CLASSES;
        let mut f = 0;
        while f < FEATURES {
            x[s * FEATURES + f] = prototypes[class * FEATURES + f] + noise[s * FEATURES + f];
            f += 1;
        }
        s += 1;
    }
    x
}

/// Builds the model and lends it [`WEIGHTS`]: the feature layers frozen.
pub fn build() -> Result<Graph<'static, kiln::Fixed<MAX_LAYERS>>, Error> {
    let mut model = Sequential::<kiln::Fixed<MAX_LAYERS>>::named("fine_tune")?;
    model.add(Input::new(&[FEATURES as u32]))?;
    model.add(
        Dense::new(16)
            .activation(Activation::Relu)
            .name("features_1")
            .trainable(false),
    )?;
    model.add(
        Dense::new(8)
            .activation(Activation::Relu)
            .name("features_2")
            .trainable(false),
    )?;
    model.add(
        Dense::new(CLASSES as u32)
            .activation(Activation::Softmax)
            .name("head"),
    )?;
    model.set_weights(&WEIGHTS)?;
    Ok(model.into_graph())
}

/// Keras's `compile(SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy",
/// metrics=["accuracy"])`.
pub fn compile() -> Compile {
    Compile::new(Sgd::new(0.1).momentum(0.9))
        .loss(Loss::SparseCategoricalCrossentropy { from_logits: false })
        .metric(Metric::Accuracy)
}

/// Keras's `fit(batch_size=4, epochs=EPOCHS, shuffle=True)`, with kiln's seeded shuffle.
pub const OPTIONS: FitOptions = FitOptions {
    batch_size: BATCH_SIZE,
    epochs: EPOCHS,
    shuffle: true,
    seed: 7,
};

/// FNV-1a of some bytes (32 bits): one number that tells whether two sets of weights are
/// the same bits.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5u32;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

fn print_logs(board: &mut dyn Board, when: &str, logs: &Logs) {
    let accuracy = logs.metrics.first().copied().unwrap_or(f32::NAN);
    board.print(format_args!(
        "{when}: loss {:.4} ({:#010x}), accuracy {:.4} on the {SAMPLES} user samples",
        logs.loss,
        logs.loss.to_bits(),
        accuracy
    ));
}

/// Prints the summary and the training plan, shows that an arena too small is refused,
/// evaluates the head, fine-tunes it (`fit` between the board's measurement markers:
/// instruction-count region 1), evaluates it again and prints the trained weights' hash.
/// `arena` is the training arena (at least `train_plan(...).train_arena_bytes()`);
/// `weights_out` receives the whole trained weight buffer ([`WEIGHT_BYTES`]).
pub fn run<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
    arena: &mut [u8],
    weights_out: &mut [u8],
) -> Result<(), Failure> {
    print_summary_with(board, model, true)?;
    let plan = model.train_plan(&compile())?;
    board.print(format_args!(
        "training arena: {} bytes (TRAIN_ARENA_BYTES), lower bound {} bytes; {} given",
        plan.train_arena_bytes(),
        plan.lower_bound(),
        arena.len()
    ));
    board.print(format_args!(
        "  trainable weights {} (the head's), their gradients {}, momentum {}; activations {}, their gradients {}, scratch {}",
        plan.trainable_bytes(),
        plan.gradient_bytes(),
        plan.slot_bytes(),
        plan.activation_bytes(),
        plan.activation_gradient_bytes(),
        plan.scratch_bytes()
    ));
    // An arena that is too small is an error from `compile`, not memory overwritten.
    let short = plan.lower_bound() / 2;
    match model.compile(compile(), &mut arena[..short]) {
        // (Not the whole message: how much of the arena is usable depends on its address.)
        Err(Error::ArenaTooSmall {
            needed, declare, ..
        }) => board.print(format_args!(
            "a {short}-byte arena is refused: compile needs {needed} bytes once aligned (declare {declare})"
        )),
        Err(e) => return Err(e.into()),
        Ok(_) => return Err(Failure::Check("a too small arena was accepted")),
    }

    let mut trainer = model.compile(compile(), arena)?;
    let data = Data {
        x: &[&USER_X],
        y: &[&USER_Y],
    };
    let before = trainer.evaluate(&data, BATCH_SIZE)?;
    print_logs(board, "before fine-tuning", &before);

    board.begin_measure();
    let fitted = trainer.fit(data.x, data.y, &OPTIONS, None, &mut ());
    board.end_measure();
    let last = fitted?;
    board.print(format_args!(
        "fit: {} SGD steps ({EPOCHS} epochs of {} batches of up to {BATCH_SIZE}), last epoch's loss {:.4}",
        trainer.iterations(),
        SAMPLES.div_ceil(BATCH_SIZE),
        last.train.loss
    ));
    let after = trainer.evaluate(&data, BATCH_SIZE)?;
    print_logs(board, "after fine-tuning", &after);
    let accuracy = |logs: &Logs| logs.metrics.first().copied().unwrap_or(f32::NAN);
    let improved = after.loss < before.loss && accuracy(&after) >= accuracy(&before);
    if !improved {
        return Err(Failure::Check("fine-tuning did not improve the head"));
    }

    let weights_out = weights_out
        .get_mut(..WEIGHT_BYTES)
        .ok_or(Failure::Check("the weight buffer is too small"))?;
    trainer.write_weights(weights_out)?;
    let (frozen, head) = weights_out.split_at(WEIGHT_BYTES - HEAD_WEIGHTS * 4);
    if frozen != &model.weights()[..frozen.len()] {
        return Err(Failure::Check("a frozen layer's weights changed"));
    }
    board.print(format_args!(
        "frozen layers: {} weights unchanged (read from where the model keeps them)",
        frozen.len() / 4
    ));
    board.print(format_args!(
        "head: {HEAD_WEIGHTS} trained weights, FNV-1a {:#010x}",
        fnv1a(head)
    ));
    for (i, b) in head[HEAD_WEIGHTS * 4 - CLASSES * 4..]
        .chunks_exact(4)
        .enumerate()
    {
        let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        board.print(format_args!(
            "head bias[{i}] = {v:.7} ({:#010x})",
            v.to_bits()
        ));
    }
    Ok(())
}
