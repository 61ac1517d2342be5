//! `keras.layers.Cropping2D(cropping)`: rows and columns cut off an image's edges.

use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels::spatial::{self, margins, Margins};
use crate::shape::{Dim, Shape};

/// `keras.layers.Cropping2D`: `cropping = [[top, bottom], [left, right]]`, as Keras
/// stores it (`Cropping2D(1)` is `[[1, 1], [1, 1]]`).
///
/// ```
/// use kiln::layers::{Cropping2D, Input};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[28, 28, 3]))?;
/// let y = f.call(Cropping2D::new([[2, 2], [4, 0]]), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 24, 24, 3)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cropping2D {
    /// Keras's `cropping`: rows cut off the top and bottom, columns off the left and right.
    pub cropping: [[u16; 2]; 2],
}

#[cfg(feature = "format")]
crate::wire_fields!(Cropping2D { cropping });

impl Cropping2D {
    /// `Cropping2D(((top, bottom), (left, right)))`.
    pub fn new(cropping: [[u16; 2]; 2]) -> Self {
        Cropping2D { cropping }
    }
}

/// A prepared step: the input image and the crops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    image: (usize, usize, usize),
    crops: Margins,
}

/// `axis - before - after`, which must leave something; unknown when the axis is.
fn shrunk(axis: Dim, [before, after]: [u16; 2]) -> Option<Dim> {
    match axis {
        None => Some(None),
        Some(n) => n
            .checked_sub(u32::from(before) + u32::from(after))
            .filter(|&left| left > 0)
            .map(Some),
    }
}

impl Op for Cropping2D {
    fn class_name(&self) -> &'static str {
        "Cropping2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "cropping2d"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, c) = image_input(&input)?;
        let too_small = Mismatch::new(input, "height and width larger than the cropping");
        let h = shrunk(h, self.cropping[0]).ok_or(too_small)?;
        let w = shrunk(w, self.cropping[1]).ok_or(too_small)?;
        Shape::new(&[input.dim(0), h, w, Some(c)]).map_err(|_| too_small)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Cropping2D(Params {
                image: image(&cx.input())?,
                crops: margins(self.cropping),
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::Cropping2D(p), [input]) = (args, inputs) {
        spatial::cropping2d(input, p.image, p.crops, output);
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, _: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if let StepArgs::Cropping2D(p) = args {
        crate::kernels::backward::spatial::cropping2d_backward(d, p.image, p.crops, dx);
    }
}
