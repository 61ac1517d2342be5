//! `keras.layers.Conv2D` (channels_last, groups 1).

use super::conv::{check_window, geometry, window_shape, Params};
use super::pool2d::Pair;
use super::int8::{self, Typed};
use super::{image, image_input, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::{Activation, Padding};
use crate::graph::layer::int8_weights;
use crate::graph::{weight, DType, WeightSpecs};
use crate::kernels;
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.Conv2D(filters, kernel_size)`.
///
/// ```
/// use kiln::layers::{Conv2D, Input};
/// use kiln::{Activation, Fixed, Functional, Padding};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[28, 28, 1]))?;
/// let conv = Conv2D::new(8, [3, 3]).padding(Padding::Same).activation(Activation::Relu);
/// let y = f.call(conv.strides([2, 2]), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 14, 14, 8)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2D {
    /// Keras's `filters`: the output's channels.
    pub filters: u32,
    /// Keras's `kernel_size`: the window's `[height, width]`.
    pub kernel_size: Pair,
    /// Keras's `strides`: `[rows, columns]` between windows.
    pub strides: Pair,
    /// Keras's `dilation_rate`: `[rows, columns]` between the kernel's taps (1: adjacent).
    pub dilation_rate: Pair,
    /// Keras's `padding`: `Valid` (no padding) or `Same` (an output of `ceil(input / strides)`).
    pub padding: Padding,
    /// Keras's `activation`, applied after the bias (`Linear`: none).
    pub activation: Activation,
    /// Keras's `use_bias`: false leaves out the `bias` variable.
    pub use_bias: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(Conv2D {
    filters,
    kernel_size,
    strides,
    dilation_rate,
    padding,
    activation,
    use_bias
});

impl Conv2D {
    /// `Conv2D(filters, kernel_size)`: strides 1, 'valid', linear, with bias.
    pub fn new(filters: u32, kernel_size: Pair) -> Self {
        Conv2D {
            filters,
            kernel_size,
            strides: [1, 1],
            dilation_rate: [1, 1],
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
        }
    }
    /// Keras's `strides=` (default 1).
    pub fn strides(self, strides: Pair) -> Self {
        Conv2D { strides, ..self }
    }
    /// Keras's `dilation_rate=` (default 1; not together with strides above 1, as in Keras).
    pub fn dilation_rate(self, dilation_rate: Pair) -> Self {
        Conv2D {
            dilation_rate,
            ..self
        }
    }
    /// Keras's `padding=` (default `Valid`).
    pub fn padding(self, padding: Padding) -> Self {
        Conv2D { padding, ..self }
    }
    /// Keras's `activation=` (default `Linear`).
    pub fn activation(self, activation: Activation) -> Self {
        Conv2D { activation, ..self }
    }
    /// Keras's `use_bias=` (default true).
    pub fn use_bias(self, use_bias: bool) -> Self {
        Conv2D { use_bias, ..self }
    }
}

impl Op for Conv2D {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "conv2d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self.filters {
            0 => return Err("filters must be at least 1"),
            f if f > MAX_DIM => return Err("filters must be at most 4294967294"),
            _ => {}
        }
        check_window(self.kernel_size, self.strides, self.dilation_rate, self.padding)
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, _) = image_input(&input)?;
        window_shape(
            &input,
            (h, w),
            self.filters,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let [kh, kw] = self.kernel_size;
        let mut specs = WeightSpecs::new();
        weight(
            &mut specs,
            "kernel",
            &[kh as u32, kw as u32, channels, self.filters],
            true,
        );
        if self.use_bias {
            weight(&mut specs, "bias", &[self.filters], true);
        }
        specs
    }

    fn int8_weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let [kh, kw] = self.kernel_size;
        let dims = [self.filters, kh as u32, kw as u32, channels];
        int8_weights(&dims, 0, self.use_bias)
    }

    fn runs(&self, dtype: DType) -> bool {
        matches!(dtype, DType::F32 | DType::I8)
    }

    fn has_build(&self) -> bool {
        true
    }

    fn math(&self) -> Option<&'static str> {
        self.activation.math()
    }

    #[cfg(feature = "training")]
    fn backward(&self) -> Option<super::Backward> {
        Some(super::Backward {
            output: Some(backward::output),
            weights: Some(backward::weights),
            input: backward::input,
            batch: None,
        })
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        let geometry = geometry(
            cx.input(),
            image(&cx.input())?,
            self.filters as usize,
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )?;
        if cx.is_int8() {
            let filters = self.filters as usize;
            let kernel = int8::kernel(cx, self.use_bias, filters)?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Conv2D(Typed::I8((geometry, kernel))),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Conv2D(Typed::F32(Params {
                geometry,
                kernel: cx.weight(0)?,
                bias: self.use_bias.then(|| cx.weight(1)).transpose()?,
                activation: self.activation,
            })),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::Conv2D(Typed::F32(p)), [input]) = (args, inputs) {
        p.compute(input, output);
    }
}

/// TensorFlow Lite's CONV_2D: kernel `(filters, kh, kw, in)`.
fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    if let (StepArgs::Conv2D(Typed::I8((g, k))), [input]) = (args, inputs) {
        kernels::int8::fast::conv2d(g, input, k.input_offset, k.kernel, k.bias, &k.stage, output);
    }
}

#[cfg(feature = "training")]
mod backward {
    use super::super::conv::backward as conv;
    use super::super::{Saved, StepArgs};
    use super::Typed;

    pub(super) fn output(args: &StepArgs<'_>, saved: &Saved<'_>, d: &mut [f32], z: &mut [f32]) {
        if let StepArgs::Conv2D(Typed::F32(p)) = args {
            conv::output(p, saved, d, z);
        }
    }

    pub(super) fn weights(args: &StepArgs<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        if let StepArgs::Conv2D(Typed::F32(p)) = args {
            conv::weights(p, saved, d, dw);
        }
    }

    pub(super) fn input(args: &StepArgs<'_>, _: &Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
        if let StepArgs::Conv2D(Typed::F32(p)) = args {
            conv::input(p, d, dx);
        }
    }
}
