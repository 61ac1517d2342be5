//! `keras.optimizers.SGD` as Keras 3 applies it (`optimizers/sgd.py` and
//! `base_optimizer.apply`), per variable, in float32:
//!
//! ```text
//! if weight_decay: w = w - w * weight_decay * lr     # decoupled, before the step
//! if momentum == 0: w = w - g * lr
//! else:
//!     v = v * momentum - g * lr                       # v starts at 0
//!     w = w + v                                       # nesterov=False
//!     w = w + (v * momentum - g * lr)                 # nesterov=True (the new v)
//! ```
//! Weight decay applies to every trainable variable, biases included, never to a
//! frozen or non-trainable one (BatchNormalization's moving statistics). A velocity below
//! the smallest normal float is flushed to 0, as XLA's CPU backend flushes it.

/// `keras.optimizers.SGD(learning_rate, momentum, nesterov, weight_decay)`.
///
/// ```
/// use kiln::train::Sgd;
/// let sgd = Sgd::new(0.05).momentum(0.9).nesterov(true);
/// assert_eq!(sgd.learning_rate, 0.05);
/// assert!(sgd.momentum(1.5).validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// `learning_rate` (Keras's default 0.01; stored as float32, as Keras does).
    pub learning_rate: f32,
    /// `momentum` in `[0, 1]` (default 0).
    pub momentum: f32,
    /// `nesterov` (default false).
    pub nesterov: bool,
    /// `weight_decay` (default none: 0).
    pub weight_decay: f32,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

impl Sgd {
    /// `SGD(learning_rate)`: no momentum, no weight decay.
    pub fn new(learning_rate: f32) -> Self {
        Sgd {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
    /// Keras's `momentum=`.
    pub fn momentum(self, momentum: f32) -> Self {
        Sgd { momentum, ..self }
    }
    /// Keras's `nesterov=`.
    pub fn nesterov(self, nesterov: bool) -> Self {
        Sgd { nesterov, ..self }
    }
    /// Keras's `weight_decay=`.
    pub fn weight_decay(self, weight_decay: f32) -> Self {
        Sgd {
            weight_decay,
            ..self
        }
    }

    /// Keras's checks: `momentum` in `[0, 1]`, and finite, non-negative rates.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err("`momentum` must be a float between [0, 1].");
        }
        if !self.learning_rate.is_finite() {
            return Err("the learning rate must be a finite number");
        }
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return Err("weight_decay must be a finite number >= 0");
        }
        Ok(())
    }

    #[inline(always)]
    pub(super) fn update(&self, mut w: f32, g: f32, v: f32) -> (f32, f32) {
        let lr = self.learning_rate;
        if self.weight_decay != 0.0 {
            w = w - w * self.weight_decay * lr;
        }
        if self.momentum == 0.0 {
            return (w - g * lr, v);
        }
        let v = super::flush(v * self.momentum - g * lr);
        if self.nesterov {
            (w + (v * self.momentum - g * lr), v)
        } else {
            (w + v, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_by_hand() {
        // Plain: w - g·lr.
        assert_eq!(Sgd::new(0.5).update(1.0, 2.0, 0.0), (0.0, 0.0));
        // Momentum: v = 0.9·v - g·lr; w + v.
        let sgd = Sgd::new(0.5).momentum(0.5);
        assert_eq!(sgd.update(1.0, 2.0, 1.0), (0.5, -0.5));
        // Nesterov uses the new v: w + (0.5·(-0.5) - 1) = 1 - 1.25.
        assert_eq!(sgd.nesterov(true).update(1.0, 2.0, 1.0), (-0.25, -0.5));
        // Weight decay first: 2 - 2·0.25·0.5 = 1.75.
        let wd = Sgd::new(0.5).weight_decay(0.25);
        assert_eq!(wd.update(2.0, 0.0, 0.0), (1.75, 0.0));
    }

    #[test]
    fn keras_rejects_momentum_outside_0_1() {
        assert!(Sgd::new(0.1).momentum(1.0).validate().is_ok());
        assert_eq!(
            Sgd::new(0.1).momentum(-0.1).validate(),
            Err("`momentum` must be a float between [0, 1].")
        );
    }
}
