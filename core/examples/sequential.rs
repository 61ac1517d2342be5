//! The seed's Sequential example, with kiln's Rust API:
//!
//! ```python
//! model = keras.Sequential([
//!     keras.Input(shape=(None, None, 3)),
//!     keras.layers.Conv2D(filters=32, kernel_size=3),
//! ])
//! ```
//!
//! Everything below uses only the `no_std` core: the model, its weights and the arena are
//! plain arrays whose sizes are known at compile time. Run with
//! `cargo run -p kiln --example sequential`.

use kiln::layers::{Conv2D, Input};
use kiln::Fixed;
use kiln::{Sequential, Shape, SummaryOptions};

/// Conv2D(32, 3) on 3 channels: 3*3*3*32 kernel + 32 bias.
const PARAMS: usize = 896;

fn main() -> Result<(), kiln::Error> {
    let mut model = Sequential::<Fixed<4>>::new();
    model.add(Input::with_dims(&[None, None, Some(3)]))?;
    model.add(Conv2D::new(32, [3, 3]))?;

    // Keras's default table in a pipe is 76 wide; a wide terminal gives 88.
    model
        .summary(&SummaryOptions::default(), &mut |line| println!("{line}"))
        .map_err(kiln::Error::from)?;

    // Weights in Keras's get_weights() order: kernel (3, 3, 3, 32), then bias (32,).
    // A real model would take them from `kiln export`; here a fixed pattern will do.
    static WEIGHTS: [f32; PARAMS] = {
        let mut w = [0.0; PARAMS];
        let mut i = 0;
        while i < PARAMS {
            w[i] = ((i % 11) as f32 - 5.0) * 0.01;
            i += 1;
        }
        w
    };
    model.set_weights(&WEIGHTS)?;

    // The input has `None` height and width, so its shape is given at run time: one 5×4
    // RGB image gives a (1, 3, 2, 32) output.
    let input_shape = Shape::new(&[Some(1), Some(5), Some(4), Some(3)])?;
    let image = [0.5f32; 5 * 4 * 3];
    let mut output = [0.0f32; 3 * 2 * 32];
    let mut arena = [0u8; 1024];
    let plan = model.plan(Some(&[input_shape]))?;
    println!(
        "arena: {} bytes needed (lower bound {}), {} lent",
        plan.arena_bytes(),
        plan.lower_bound_bytes(),
        arena.len()
    );
    model.predict_with_shapes(
        Some(&[input_shape]),
        &[&image],
        &mut [&mut output],
        &mut arena,
    )?;
    println!("first output pixel: {:?}", &output[..4]);
    Ok(())
}
