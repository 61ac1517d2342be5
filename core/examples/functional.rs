//! The seed's Functional example, with kiln's Rust API:
//!
//! ```python
//! inputs = keras.Input(shape=(None, None, 3))
//! processed = keras.layers.RandomCrop(width=128, height=128)(inputs)
//! conv = keras.layers.Conv2D(filters=32, kernel_size=3)(processed)
//! pooling = keras.layers.GlobalAveragePooling2D()(conv)
//! feature = keras.layers.Dense(10)(pooling)
//! full_model = keras.Model(inputs, feature)
//! backbone = keras.Model(processed, conv)
//! activations = keras.Model(conv, feature)
//! ```
//!
//! Only the `no_std` core is used. Run with `cargo run -p kiln --example functional`.

use kiln::layers::{Conv2D, Dense, GlobalAveragePooling2D, Input, RandomCrop};
use kiln::Fixed;
use kiln::{Functional, Shape, SummaryOptions};

fn main() -> Result<(), kiln::Error> {
    // The workspace holds the layers and symbolic tensors (Keras keeps them in the session).
    let mut ws = Functional::<Fixed<16>>::new();
    let inputs = ws.input(Input::with_dims(&[None, None, Some(3)]))?;
    let processed = ws.call(RandomCrop::new(128, 128), &[inputs])?;
    let conv = ws.call(Conv2D::new(32, [3, 3]), &[processed])?;
    let pooling = ws.call(GlobalAveragePooling2D::new(), &[conv])?;
    let feature = ws.call(Dense::new(10), &[pooling])?;
    let full_model = ws.model(&[inputs], &[feature])?;
    let backbone = ws.model(&[processed], &[conv])?;
    let activations = ws.model(&[conv], &[feature])?;

    for model in [&full_model, &backbone, &activations] {
        model.summary(&SummaryOptions::default(), &mut |line| println!("{line}"))?;
    }

    // The three models share one weight buffer (conv2d's 896 values, then dense's 330):
    // a weight changed for one is changed for all.
    static WEIGHTS: [f32; 1226] = {
        let mut w = [0.0; 1226];
        let mut i = 0;
        while i < w.len() {
            w[i] = ((i % 13) as f32 - 6.0) * 0.01;
            i += 1;
        }
        w
    };
    let mut full_model = full_model;
    full_model.set_weights(&WEIGHTS)?;

    // RandomCrop is the identity at inference (Keras 3), so any image size runs: a 12×10
    // image gives a 10×8 convolution, pooled to 32 features, then 10 outputs.
    let shape = Shape::new(&[Some(1), Some(12), Some(10), Some(3)])?;
    let image = [0.25f32; 12 * 10 * 3];
    let mut output = [0.0f32; 10];
    let mut arena = [0u8; 12 * 1024];
    let plan = full_model.plan(Some(&[shape]))?;
    println!(
        "arena: {} bytes (lower bound {})",
        plan.arena_bytes(),
        plan.lower_bound_bytes()
    );
    full_model.predict_with_shapes(Some(&[shape]), &[&image], &mut [&mut output], &mut arena)?;
    println!("full_model(image) = {output:?}");
    Ok(())
}
