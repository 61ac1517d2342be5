//! `two_inputs`: a Functional model with two inputs, as sensor fusion firmware would have —
//! four accelerometer features and three audio features, each through its own `Dense`,
//! concatenated, then a softmax over three classes:
//!
//! ```python
//! motion = keras.Input(shape=(4,), name="motion")
//! audio = keras.Input(shape=(3,), name="audio")
//! m = layers.Dense(8, activation="relu", name="motion_dense")(motion)
//! a = layers.Dense(8, activation="relu", name="audio_dense")(audio)
//! x = layers.Concatenate()([m, a])
//! out = layers.Dense(3, activation="softmax", name="classes")(x)
//! model = keras.Model([motion, audio], out, name="fusion")
//! ```
//!
//! Weights are deterministic pseudo-random values ([`crate::pseudo_random`]).

use crate::{measured_predict, print_arena, print_summary, print_values, Board, Failure};
use kiln::layers::{Concatenate, Dense, Input, LayerBuilder};
use kiln::{Activation, Error, Functional, Graph};

/// Layers the model needs room for (2 Input, 3 Dense, Concatenate).
pub const MAX_LAYERS: usize = 8;
/// Arena lent to `predict` (the plan is printed at run time).
pub const ARENA_BYTES: usize = 256;
/// 4·8 + 8 + 3·8 + 8 + 16·3 + 3 weights, in layer order.
pub const WEIGHT_COUNT: usize = 123;
pub static WEIGHTS: [f32; WEIGHT_COUNT] = crate::pseudo_random(0x5EED_0002, 1.5);

pub const MOTION: [f32; 4] = [0.5, -0.25, 1.0, 0.125];
pub const AUDIO: [f32; 3] = [-1.0, 0.75, 0.3];

pub fn build() -> Result<Graph<'static, kiln::Fixed<MAX_LAYERS>>, Error> {
    let mut f = Functional::<kiln::Fixed<MAX_LAYERS>>::new();
    let motion = f.input(Input::new(&[4]).name("motion"))?;
    let audio = f.input(Input::new(&[3]).name("audio"))?;
    let m = f.call(
        Dense::new(8)
            .activation(Activation::Relu)
            .name("motion_dense"),
        &[motion],
    )?;
    let a = f.call(
        Dense::new(8)
            .activation(Activation::Relu)
            .name("audio_dense"),
        &[audio],
    )?;
    let x = f.call(Concatenate::new(), &[m, a])?;
    let out = f.call(
        Dense::new(3)
            .activation(Activation::Softmax)
            .name("classes"),
        &[x],
    )?;
    let mut model = f.model_named("fusion", &[motion, audio], &[out])?;
    model.set_weights(&WEIGHTS)?;
    Ok(model)
}

pub fn run<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
    arena: &mut [u8],
) -> Result<(), Failure> {
    print_summary(board, model)?;
    print_arena(board, model)?;
    let mut classes = [0.0f32; 3];
    measured_predict(board, model, &[&MOTION, &AUDIO], &mut [&mut classes], arena)?;
    let total: f32 = classes.iter().sum();
    if !(0.999..=1.001).contains(&total) {
        return Err(Failure::Check("softmax outputs do not sum to 1"));
    }
    print_values(board, "classes", &classes);
    Ok(())
}
