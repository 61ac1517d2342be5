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

    /// One step of the values of one variable: `w` with gradient `g` and its slot planes
    /// (`slots_per_value` of them are used), at step `t` (Keras's `iterations + 1`).
    /// With `WRITE` false nothing is written and the result says whether every new value
    /// would be finite, so that a step can be checked whole before any of it is applied.
    pub(crate) fn step<const WRITE: bool>(
        &self,
        w: &mut [f32],
        g: &[f32],
        [s0, s1]: [&mut [f32]; 2],
        t: u64,
    ) -> bool {
        let mut finite = true;
        match self {
            Optimizer::Sgd(sgd) if sgd.momentum == 0.0 => {
                for (w, &g) in w.iter_mut().zip(g) {
                    let (new, _) = sgd.update(*w, g, 0.0);
                    finite &= new.is_finite();
                    if WRITE {
                        *w = new;
                    }
                }
            }
            Optimizer::Sgd(sgd) => {
                for ((w, &g), v) in w.iter_mut().zip(g).zip(s0.iter_mut()) {
                    let (new, velocity) = sgd.update(*w, g, *v);
                    finite &= new.is_finite() & velocity.is_finite();
                    if WRITE {
                        (*w, *v) = (new, velocity);
                    }
                }
            }
            Optimizer::Adam(adam) => {
                let c = adam.coefficients(t);
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(s0.iter_mut()).zip(s1.iter_mut()) {
                    let (new, [m2, v2]) = adam.update_with(&c, *w, g, [*m, *v]);
                    finite &= new.is_finite() & m2.is_finite() & v2.is_finite();
                    if WRITE {
                        (*w, *m, *v) = (new, m2, v2);
                    }
                }
            }
        }
        finite
    }
}

/// A slot value below the smallest normal float becomes 0, as XLA's CPU backend (and so
/// Keras on JAX) flushes them: a unit that stopped learning has its momentum decay
/// geometrically into the subnormal range, where each multiply costs a host CPU a hundred
/// cycles or more. On every target the same, so host and device keep the same bits.
#[inline(always)]
pub(crate) fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
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
