//! The seed's subclassed example, with kiln's Rust API:
//!
//! ```python
//! class MyModel(keras.Model):
//!     def __init__(self):
//!         super().__init__()
//!         self.dense1 = keras.layers.Dense(32, activation="relu")
//!         self.dense2 = keras.layers.Dense(5, activation="softmax")
//!         self.dropout = keras.layers.Dropout(0.5)
//!
//!     def call(self, inputs, training=False):
//!         x = self.dense1(inputs)
//!         x = self.dropout(x, training=training)
//!         return self.dense2(x)
//!
//! model = MyModel()
//! ```
//!
//! Run with `cargo run -p kiln --example subclassed`.

use kiln::graph::LayerId;
use kiln::layers::{Dense, Dropout};
use kiln::model::{Call, Subclassed};
use kiln::Fixed;
use kiln::{Activation, Error, Functional, Shape, SummaryOptions, Tensor};

const N: usize = 8;

struct MyModel {
    dense1: LayerId,
    dense2: LayerId,
    dropout: LayerId,
}

impl MyModel {
    /// `__init__`: the layers, in attribute order.
    fn new(model: &mut Subclassed<'_, Fixed<N>>) -> Result<Self, Error> {
        Ok(MyModel {
            dense1: model.layer(Dense::new(32).activation(Activation::Relu))?,
            dense2: model.layer(Dense::new(5).activation(Activation::Softmax))?,
            dropout: model.layer(Dropout::new(0.5))?,
        })
    }
}

impl Call<Fixed<N>> for MyModel {
    /// `call(inputs, training=False)`.
    fn call(
        &self,
        f: &mut Functional<'_, Fixed<N>>,
        inputs: Tensor,
        training: Option<bool>,
    ) -> Result<Tensor, Error> {
        let x = f.apply(self.dense1, &[inputs])?;
        let x = f.apply_training(self.dropout, &[x], training)?;
        f.apply(self.dense2, &[x])
    }
}

fn main() -> Result<(), Error> {
    let mut subclassed = Subclassed::<Fixed<N>>::named("my_model")?;
    let my_model = MyModel::new(&mut subclassed)?;
    // Before the first call Keras shows every layer unbuilt.
    subclassed.summary(&SummaryOptions::default(), &mut |line| println!("{line}"))?;

    // `model(np.zeros((1, 3)))`: running call once traces it into a graph.
    let mut model = subclassed.trace(&my_model, Shape::new(&[Some(1), Some(3)])?)?;
    model.summary(&SummaryOptions::default(), &mut |line| println!("{line}"))?;

    static WEIGHTS: [f32; 3 * 32 + 32 + 32 * 5 + 5] = [0.05; 293];
    model.set_weights(&WEIGHTS)?;
    let mut probabilities = [0.0f32; 5];
    let mut arena = [0u8; 256];
    model.predict(&[&[1.0, 2.0, 3.0]], &mut [&mut probabilities], &mut arena)?;
    println!("predict([[1, 2, 3]]) = {probabilities:?}");
    Ok(())
}
