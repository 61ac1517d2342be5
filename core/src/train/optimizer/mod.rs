//! Optimizers, one file each. An optimizer updates the trainable variables from their
//! gradients, with its slots (SGD's momentum, Adam's moments) in memory the trainer lends
//! it: one plane of float32 per slot, each as long as the weights that train.

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

/// The optimizer `compile` takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `keras.optimizers.SGD`.
    Sgd(Sgd),
    /// `keras.optimizers.Adam`.
    Adam(Adam),
}

impl Optimizer {
    /// Float32 slots per trainable value (SGD with momentum: one velocity; Adam: the
    /// first and second moments).
    pub fn slots_per_value(&self) -> usize {
        match self {
            Optimizer::Sgd(sgd) => usize::from(sgd.momentum != 0.0),
            Optimizer::Adam(_) => 2,
        }
    }

    /// Checks the hyper-parameters as Keras's constructor does.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            Optimizer::Sgd(sgd) => sgd.validate(),
            Optimizer::Adam(adam) => adam.validate(),
        }
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f32 {
        match self {
            Optimizer::Sgd(sgd) => sgd.learning_rate,
            Optimizer::Adam(adam) => adam.learning_rate,
        }
    }

    /// Keras's name for it (`"sgd"`, `"adam"`).
    pub fn keras_name(&self) -> &'static str {
        match self {
            Optimizer::Sgd(_) => "sgd",
            Optimizer::Adam(_) => "adam",
        }
    }

    /// The new value of one variable at step `t` (Keras's `iterations + 1`) from its
    /// value `w`, gradient `g` and slots (the first `slots_per_value` are used), as
    /// `(w, slots)`; nothing is written, so that a step can be checked whole before any
    /// of it is applied.
    pub(crate) fn update(&self, w: f32, g: f32, slots: [f32; 2], t: u64) -> (f32, [f32; 2]) {
        match self {
            Optimizer::Sgd(sgd) => {
                let (w, v) = sgd.update(w, g, slots[0]);
                (w, [v, 0.0])
            }
            Optimizer::Adam(adam) => adam.update(w, g, slots, t),
        }
    }
}

impl From<Sgd> for Optimizer {
    fn from(sgd: Sgd) -> Self {
        Optimizer::Sgd(sgd)
    }
}

impl From<Adam> for Optimizer {
    fn from(adam: Adam) -> Self {
        Optimizer::Adam(adam)
    }
}
