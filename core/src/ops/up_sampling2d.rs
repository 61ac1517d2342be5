//! `keras.layers.UpSampling2D(size, interpolation="nearest")`: each pixel repeated.

use super::pool2d::Pair;
use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels::spatial;
use crate::shape::{Dim, Shape};

/// `keras.layers.UpSampling2D(size)`, nearest-neighbour (Keras's default; `bilinear` is
/// not supported).
///
/// ```
/// use kiln::layers::{Input, UpSampling2D};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[7, 7, 8]))?;
/// let y = f.call(UpSampling2D::new([2, 3]), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 14, 21, 8)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpSampling2D {
    /// Keras's `size`: how many times each row and each column is repeated.
    pub size: Pair,
}

#[cfg(feature = "format")]
crate::wire_fields!(UpSampling2D { size });

impl UpSampling2D {
    /// `UpSampling2D(size=(rows, cols))`.
    pub fn new(size: Pair) -> Self {
        UpSampling2D { size }
    }
}

/// A prepared step: the input image and the factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    image: (usize, usize, usize),
    size: (usize, usize),
}

fn scaled(axis: Dim, factor: u16) -> Option<Dim> {
    match axis {
        None => Some(None),
        Some(n) => Some(Some(n.checked_mul(u32::from(factor))?)),
    }
}

impl Op for UpSampling2D {
    fn class_name(&self) -> &'static str {
        "UpSampling2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "up_sampling2d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self.size {
            [0, _] | [_, 0] => Err("size must be at least 1"),
            _ => Ok(()),
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, c) = image_input(&input)?;
        let too_big = Mismatch::new(input, "a size below 2^32 once upsampled");
        let h = scaled(h, self.size[0]).ok_or(too_big)?;
        let w = scaled(w, self.size[1]).ok_or(too_big)?;
        Shape::new(&[input.dim(0), h, w, Some(c)]).map_err(|_| too_big)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let [sh, sw] = self.size;
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::UpSampling2D(Params {
                image: image(&cx.input())?,
                size: (usize::from(sh), usize::from(sw)),
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::UpSampling2D(p), [input]) = (args, inputs) {
        spatial::upsampling2d_nearest(input, p.image, p.size, output);
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, _: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if let StepArgs::UpSampling2D(p) = args {
        crate::kernels::backward::spatial::upsampling2d_nearest(d, p.image, p.size, dx);
    }
}
