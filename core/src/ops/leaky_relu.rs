//! `keras.layers.LeakyReLU(negative_slope=0.3)`.

use super::relu::negative;
use super::{one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels;
use crate::shape::Shape;

/// `keras.layers.LeakyReLU(negative_slope=0.3)`.
///
/// ```
/// use kiln::layers::{Input, LeakyReLU};
/// use kiln::{Fixed, Sequential};
/// let mut model = Sequential::<Fixed<4>>::new();
/// model.add(Input::new(&[2]))?;
/// model.add(LeakyReLU::new().negative_slope(0.5))?;
/// let mut y = [0.0f32; 2];
/// model.predict(&[&[-2.0, 3.0]], &mut [&mut y], &mut [0u8; 64])?;
/// assert_eq!(y, [-1.0, 3.0]);
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// Keras's `negative_slope`: the factor on negative values.
    pub negative_slope: f32,
}

#[cfg(feature = "format")]
crate::wire_fields!(LeakyReLU { negative_slope });

impl LeakyReLU {
    /// `LeakyReLU()`: slope 0.3.
    pub fn new() -> Self {
        LeakyReLU {
            negative_slope: 0.3,
        }
    }
    /// Keras's `negative_slope=` (default 0.3; at least 0).
    pub fn negative_slope(self, negative_slope: f32) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new()
    }
}

impl Op for LeakyReLU {
    fn class_name(&self) -> &'static str {
        "LeakyReLU"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "leaky_re_lu"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if negative(self.negative_slope) {
            Err("The negative_slope value of a Leaky ReLU layer cannot be None or negative value")
        } else {
            Ok(())
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        one(inputs)
    }

    fn in_place(&self, _training: bool) -> bool {
        true
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, _: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::InPlace(run),
            args: StepArgs::LeakyReLU(self.negative_slope),
        })
    }
}

fn run(args: &StepArgs<'_>, data: &mut [f32], _: &mut Rand<'_>) {
    if let StepArgs::LeakyReLU(slope) = args {
        kernels::leaky_relu(data, *slope);
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, saved: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    let (StepArgs::LeakyReLU(slope), [x]) = (args, saved.inputs) else {
        return;
    };
    for ((g, &d), &x) in dx.iter_mut().zip(d).zip(*x) {
        *g = if x >= 0.0 { d } else { d * slope };
    }
}
