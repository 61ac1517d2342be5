//! `keras.layers.ZeroPadding2D(padding)`: rows and columns of zeros around an image.

use super::int8::same_quantization;
use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::DType;
use crate::kernels::spatial::{self, margins, Margins};
use crate::shape::{Dim, Shape};

/// `keras.layers.ZeroPadding2D`: `padding = [[top, bottom], [left, right]]`, as Keras
/// stores it (`ZeroPadding2D(1)` is `[[1, 1], [1, 1]]`).
///
/// ```
/// use kiln::layers::{Input, ZeroPadding2D};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[28, 28, 3]))?;
/// let y = f.call(ZeroPadding2D::new([[1, 1], [2, 0]]), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 30, 30, 3)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZeroPadding2D {
    /// Keras's `padding`: rows of zeros above and below, columns left and right.
    pub padding: [[u16; 2]; 2],
}

#[cfg(feature = "format")]
crate::wire_fields!(ZeroPadding2D { padding });

impl ZeroPadding2D {
    /// `ZeroPadding2D(((top, bottom), (left, right)))`.
    pub fn new(padding: [[u16; 2]; 2]) -> Self {
        ZeroPadding2D { padding }
    }
}

/// A prepared step: the input image and the margins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    image: (usize, usize, usize),
    margins: Margins,
    /// What an int8 pad holds.
    zero_point: i32,
}

/// `axis + before + after`, unknown when the axis is.
fn grown(axis: Dim, [before, after]: [u16; 2]) -> Option<Dim> {
    match axis {
        None => Some(None),
        Some(n) => Some(Some(n.checked_add(u32::from(before) + u32::from(after))?)),
    }
}

impl Op for ZeroPadding2D {
    fn class_name(&self) -> &'static str {
        "ZeroPadding2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "zero_padding2d"
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, c) = image_input(&input)?;
        let too_big = Mismatch::new(input, "a padded size below 2^32");
        let h = grown(h, self.padding[0]).ok_or(too_big)?;
        let w = grown(w, self.padding[1]).ok_or(too_big)?;
        Shape::new(&[input.dim(0), h, w, Some(c)]).map_err(|_| too_big)
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward::input(backward))
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let params = Params {
            image: image(&cx.input())?,
            margins: margins(self.padding),
            zero_point: 0,
        };
        if cx.is_int8() {
            // TensorFlow Lite's PAD: the padding is the input's zero (its zero point), and
            // the output keeps the input's quantization.
            let zero_point = same_quantization(cx)?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::ZeroPadding2D(Params { zero_point, ..params }),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::ZeroPadding2D(params),
        })
    }
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let (StepArgs::ZeroPadding2D(p), [input]) = (args, inputs) {
        let fill = p.zero_point.clamp(-128, 127) as i8;
        spatial::pad2d(input, p.image, p.margins, fill, output);
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::ZeroPadding2D(p), [input]) = (args, inputs) {
        spatial::zero_padding2d(input, p.image, p.margins, output);
    }
}

#[cfg(feature = "training")]
fn backward(args: &StepArgs<'_>, _: &super::Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
    if let StepArgs::ZeroPadding2D(p) = args {
        crate::kernels::backward::spatial::zero_padding2d(d, p.image, p.margins, dx);
    }
}
