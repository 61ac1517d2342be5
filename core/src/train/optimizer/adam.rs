//! `keras.optimizers.Adam` as Keras 3 applies it (`optimizers/adam.py`), per variable,
//! in float32, with `t = iterations + 1`:
//!
//! ```text
//! if weight_decay: w = w - w * weight_decay * lr           # decoupled, before the step
//! alpha = lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
//! m = m + (g - m) * (1 - beta_1)                            # m, v start at 0
//! v = v + (g * g - v) * (1 - beta_2)
//! w = w - (m * alpha) / (sqrt(v) + epsilon)
//! ```
//! (`1 - beta` is computed in double precision, as Python does, then rounded; a moment
//! below the smallest normal float is flushed to 0, as XLA's CPU backend flushes it;
//! `amsgrad` is not supported.)

/// `keras.optimizers.Adam(learning_rate, beta_1, beta_2, epsilon, weight_decay)`.
///
/// ```
/// use kiln::train::Adam;
/// let adam = Adam::new(0.001).beta_1(0.8);
/// assert_eq!((adam.beta_1, adam.beta_2, adam.epsilon), (0.8, 0.999, 1e-7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// `learning_rate` (Keras's default 0.001).
    pub learning_rate: f32,
    /// `beta_1` (default 0.9).
    pub beta_1: f32,
    /// `beta_2` (default 0.999).
    pub beta_2: f32,
    /// `epsilon` (default 1e-7).
    pub epsilon: f32,
    /// `weight_decay` (default none: 0).
    pub weight_decay: f32,
}

impl Default for Adam {
    fn default() -> Self {
        Adam::new(0.001)
    }
}

impl Adam {
    /// `Adam(learning_rate)` with Keras's defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.0,
        }
    }
    /// Keras's `beta_1=`.
    pub fn beta_1(self, beta_1: f32) -> Self {
        Adam { beta_1, ..self }
    }
    /// Keras's `beta_2=`.
    pub fn beta_2(self, beta_2: f32) -> Self {
        Adam { beta_2, ..self }
    }
    /// Keras's `epsilon=`.
    pub fn epsilon(self, epsilon: f32) -> Self {
        Adam { epsilon, ..self }
    }
    /// Keras's `weight_decay=`.
    pub fn weight_decay(self, weight_decay: f32) -> Self {
        Adam {
            weight_decay,
            ..self
        }
    }

    /// Finite rates, betas in `[0, 1)`, a positive epsilon.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !self.learning_rate.is_finite() {
            return Err("the learning rate must be a finite number");
        }
        if !(0.0..1.0).contains(&self.beta_1) || !(0.0..1.0).contains(&self.beta_2) {
            return Err("beta_1 and beta_2 must be in [0, 1)");
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err("epsilon must be a finite number > 0");
        }
        if !self.weight_decay.is_finite() || self.weight_decay < 0.0 {
            return Err("weight_decay must be a finite number >= 0");
        }
        Ok(())
    }

    /// What step `t` (Keras's `iterations + 1`) shares between every value.
    pub(super) fn coefficients(&self, t: u64) -> Coefficients {
        let t = t as f32;
        let beta_1_power = libm::powf(self.beta_1, t);
        let beta_2_power = libm::powf(self.beta_2, t);
        let one_minus = |beta: f32| (1.0 - f64::from(beta)) as f32;
        Coefficients {
            alpha: self.learning_rate * libm::sqrtf(1.0 - beta_2_power) / (1.0 - beta_1_power),
            one_minus_beta_1: one_minus(self.beta_1),
            one_minus_beta_2: one_minus(self.beta_2),
        }
    }

    /// One value's step with the step's coefficients: the new `(w, [m, v])`.
    #[inline(always)]
    pub(super) fn update_with(
        &self,
        c: &Coefficients,
        mut w: f32,
        g: f32,
        [m, v]: [f32; 2],
    ) -> (f32, [f32; 2]) {
        if self.weight_decay != 0.0 {
            w = w - w * self.weight_decay * self.learning_rate;
        }
        let m = super::flush(m + (g - m) * c.one_minus_beta_1);
        let v = super::flush(v + (g * g - v) * c.one_minus_beta_2);
        (w - (m * c.alpha) / (libm::sqrtf(v) + self.epsilon), [m, v])
    }

    #[cfg(test)]
    fn update(&self, w: f32, g: f32, slots: [f32; 2], t: u64) -> (f32, [f32; 2]) {
        self.update_with(&self.coefficients(t), w, g, slots)
    }
}

/// The bias-corrected step size and the moments' rates of one step.
pub(super) struct Coefficients {
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_step_moves_each_weight_by_about_the_learning_rate() {
        // t = 1: m = 0.1 g, v = 0.001 g², alpha = lr·sqrt(0.001)/0.1, so the step is
        // lr · g/|g| (up to epsilon).
        let adam = Adam::new(0.01);
        let (w, [m, v]) = adam.update(1.0, 4.0, [0.0, 0.0], 1);
        assert!((w - 0.99).abs() < 1e-6, "{w}");
        assert!(
            (m - 0.4).abs() < 1e-6 && (v - 0.016).abs() < 1e-6,
            "{m} {v}"
        );
        // A tiny gradient: epsilon shows (sqrt(v) = 3.162e-5 beside 1e-7).
        let (w, _) = adam.update(1.0, -0.001, [0.0, 0.0], 1);
        assert!((w - 1.009_968_5).abs() < 1e-6, "{w}");
    }
}
