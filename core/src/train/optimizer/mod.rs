//! Optimizers, one file each. An optimizer updates the trainable variables from their
//! gradients, with its slots (momentum) in memory the trainer lends it.

mod sgd;

pub use sgd::Sgd;

/// The optimizer `compile` takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `keras.optimizers.SGD`.
    Sgd(Sgd),
}

impl Optimizer {
    /// Float32 slots per trainable value (SGD with momentum: one velocity).
    pub fn slots_per_value(&self) -> usize {
        match self {
            Optimizer::Sgd(sgd) => usize::from(sgd.momentum != 0.0),
        }
    }

    /// Checks the hyper-parameters as Keras's constructor does.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            Optimizer::Sgd(sgd) => sgd.validate(),
        }
    }

    /// The new value of one variable from its value `w`, gradient `g` and slots
    /// (`slots_per_value` of them), as `(w, slot)`; nothing is written, so that a step
    /// can be checked whole before any of it is applied.
    pub(crate) fn update(&self, w: f32, g: f32, slot: f32) -> (f32, f32) {
        match self {
            Optimizer::Sgd(sgd) => sgd.update(w, g, slot),
        }
    }
}

impl From<Sgd> for Optimizer {
    fn from(sgd: Sgd) -> Self {
        Optimizer::Sgd(sgd)
    }
}
