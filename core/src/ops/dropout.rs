//! `keras.layers.Dropout(rate)`: the identity at inference; in training, zeroes each value
//! with probability `rate` and scales the rest by `1 / (1 - rate)`.

use super::{one, Cx, Mismatch, Op, Step};
#[cfg(feature = "training")]
use super::{Rand, Run, StepArgs};
#[cfg(feature = "training")]
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.Dropout(rate)`.
///
/// ```
/// use kiln::layers::{Dense, Dropout, Input};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(Dropout::new(0.5))?; // the identity in predict
/// model.add(Dense::new(1))?;
/// model.set_weights(&[1.0, 1.0, 0.0])?;
/// let mut y = [0.0f32];
/// model.predict(&[&[2.0, 3.0]], &mut [&mut y], &mut [0u8; 64])?;
/// assert_eq!(y, [5.0]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    /// Keras's `rate`: the fraction of values a training call zeroes, in `[0, 1)`.
    pub rate: f32,
}

#[cfg(feature = "format")]
crate::wire_fields!(Dropout { rate });

impl Dropout {
    /// `Dropout(rate)`.
    pub fn new(rate: f32) -> Self {
        Dropout { rate }
    }
}

impl Op for Dropout {
    fn class_name(&self) -> &'static str {
        "Dropout"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "dropout"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if (0.0..1.0).contains(&self.rate) {
            Ok(())
        } else {
            Err("rate must be in [0, 1)")
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    /// Any dtype at inference: the output is the input's values.
    fn runs(&self, _dtype: crate::graph::DType) -> bool {
        true
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if !cx.training {
            return Ok(Step::COPY);
        }
        if cx.is_int8() {
            return Err(Mismatch::new(
                cx.input(),
                "a float32 input (int8 runs only at inference)",
            ));
        }
        #[cfg(feature = "training")]
        return Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::Dropout(self.rate),
        });
        #[cfg(not(feature = "training"))]
        Err(Mismatch::new(
            cx.input(),
            "a call at inference (this build of kiln left out feature \"training\")",
        ))
    }
}

#[cfg(feature = "training")]
fn run(args: &StepArgs<'_>, data: &mut [f32], rand: &mut Rand<'_>) {
    if let StepArgs::Dropout(rate) = args {
        kernels::dropout(data, *rate, rand.rng);
    }
}

/// The mask of the forward call, drawn again from the generator as that call found it:
/// a kept value's gradient is scaled as the value was, a dropped one's is 0.
#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if dx.len() != d.len() {
        return;
    }
    dx.copy_from_slice(d);
    if let StepArgs::Dropout(rate) = args {
        kernels::dropout(dx, *rate, &mut saved.rng.clone());
    }
}
