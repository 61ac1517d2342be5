//! `cnn`: a small convolutional network on a 16×16 grey image:
//!
//! ```python
//! keras.Sequential([
//!     keras.Input(shape=(16, 16, 1)),
//!     layers.Conv2D(8, 3, activation="relu"),
//!     layers.MaxPooling2D(),
//!     layers.Conv2D(8, 3, activation="relu"),
//!     layers.GlobalAveragePooling2D(),
//!     layers.Dense(4, activation="softmax"),
//! ], name="small_cnn")
//! ```
//!
//! Weights are deterministic pseudo-random values ([`crate::pseudo_random`]); the input
//! is a drawn "X".

use crate::{measured_predict, print_arena, print_summary, print_values, Board, Failure};
use kiln::layers::{Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D};
use kiln::{Activation, Error, Graph, Sequential};

pub const MAX_LAYERS: usize = 8;
/// Arena lent to `predict` (the plan is printed at run time).
pub const ARENA_BYTES: usize = 8 * 1024;
/// Conv 3·3·1·8 + 8, conv 3·3·8·8 + 8, dense 8·4 + 4.
pub const WEIGHT_COUNT: usize = 80 + 584 + 36;
pub static WEIGHTS: [f32; WEIGHT_COUNT] = crate::pseudo_random(0x5EED_0003, 0.8);

pub const SIDE: usize = 16;
/// A 16×16 "X": both diagonals at 1.0, their neighbours at 0.5.
pub static IMAGE: [f32; SIDE * SIDE] = {
    let mut img = [0.0f32; SIDE * SIDE];
    let mut r = 0;
    while r < SIDE {
        let mut c = 0;
        while c < SIDE {
            let d1 = r.abs_diff(c);
            let d2 = r.abs_diff(SIDE - 1 - c);
            img[r * SIDE + c] = if d1 == 0 || d2 == 0 {
                1.0
            } else if d1 == 1 || d2 == 1 {
                0.5
            } else {
                0.0
            };
            c += 1;
        }
        r += 1;
    }
    img
};

pub fn build() -> Result<Graph<'static, kiln::Fixed<MAX_LAYERS>>, Error> {
    let mut model = Sequential::<kiln::Fixed<MAX_LAYERS>>::named("small_cnn")?;
    model.add(Input::new(&[SIDE as u32, SIDE as u32, 1]))?;
    model.add(Conv2D::new(8, [3, 3]).activation(Activation::Relu))?;
    model.add(MaxPooling2D::new([2, 2]))?;
    model.add(Conv2D::new(8, [3, 3]).activation(Activation::Relu))?;
    model.add(GlobalAveragePooling2D::new())?;
    model.add(Dense::new(4).activation(Activation::Softmax))?;
    model.set_weights(&WEIGHTS)?;
    Ok(model.into_graph())
}

pub fn run<S: kiln::Storage>(
    board: &mut dyn Board,
    model: &Graph<'_, S>,
    arena: &mut [u8],
) -> Result<(), Failure> {
    print_summary(board, model)?;
    print_arena(board, model)?;
    let mut probabilities = [0.0f32; 4];
    measured_predict(board, model, &[&IMAGE], &mut [&mut probabilities], arena)?;
    let total: f32 = probabilities.iter().sum();
    if !(0.999..=1.001).contains(&total) {
        return Err(Failure::Check("softmax outputs do not sum to 1"));
    }
    print_values(board, "probabilities", &probabilities);
    Ok(())
}
