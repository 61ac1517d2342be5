//! `keras.layers.Conv1D` (channels_last, groups 1): a Conv2D over a row one pixel high,
//! with `causal` padding besides `valid` and `same`.

use super::conv::{geometry, Params};
use super::{dim, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::{Activation, Padding};
use crate::graph::infer::spatial_out;
use crate::graph::{weight, WeightSpecs};
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.Conv1D(filters, kernel_size)`.
///
/// ```
/// use kiln::layers::{Conv1D, Input};
/// use kiln::{Fixed, Functional, Padding};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[100, 4]))?;
/// let y = f.call(Conv1D::new(16, 5).padding(Padding::Causal).dilation_rate(2), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 100, 16)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv1D {
    /// Keras's `filters`: the output's channels.
    pub filters: u32,
    /// Keras's `kernel_size`: the window's length in steps.
    pub kernel_size: u16,
    /// Keras's `strides`: steps between windows.
    pub strides: u16,
    /// Keras's `dilation_rate`: steps between the kernel's taps (1: adjacent).
    pub dilation_rate: u16,
    /// `Valid`, `Same` or `Causal`.
    pub padding: Padding,
    /// Keras's `activation`, applied after the bias (`Linear`: none).
    pub activation: Activation,
    /// Keras's `use_bias`: false leaves out the `bias` variable.
    pub use_bias: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(Conv1D {
    filters,
    kernel_size,
    strides,
    dilation_rate,
    padding,
    activation,
    use_bias
});

impl Conv1D {
    /// `Conv1D(filters, kernel_size)`: strides 1, 'valid', linear, with bias.
    pub fn new(filters: u32, kernel_size: u16) -> Self {
        Conv1D {
            filters,
            kernel_size,
            strides: 1,
            dilation_rate: 1,
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
        }
    }
    /// Keras's `strides=` (default 1).
    pub fn strides(self, strides: u16) -> Self {
        Conv1D { strides, ..self }
    }
    /// Keras's `dilation_rate=` (default 1; not together with strides above 1, as in Keras).
    pub fn dilation_rate(self, dilation_rate: u16) -> Self {
        Conv1D {
            dilation_rate,
            ..self
        }
    }
    /// Keras's `padding=` (default `Valid`).
    pub fn padding(self, padding: Padding) -> Self {
        Conv1D { padding, ..self }
    }
    /// Keras's `activation=` (default `Linear`).
    pub fn activation(self, activation: Activation) -> Self {
        Conv1D { activation, ..self }
    }
    /// Keras's `use_bias=` (default true).
    pub fn use_bias(self, use_bias: bool) -> Self {
        Conv1D { use_bias, ..self }
    }
}

impl Op for Conv1D {
    fn class_name(&self) -> &'static str {
        "Conv1D"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "conv1d"
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self.filters {
            0 => return Err("filters must be at least 1"),
            f if f > MAX_DIM => return Err("filters must be at most 4294967294"),
            _ => {}
        }
        if self.kernel_size == 0 || self.strides == 0 || self.dilation_rate == 0 {
            return Err("kernel_size, strides and dilation_rate must be at least 1");
        }
        if self.strides > 1 && self.dilation_rate > 1 {
            return Err("strides > 1 together with dilation_rate > 1 is not supported (as in Keras)");
        }
        Ok(())
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let expected = "rank 3 (batch, steps, channels) with known channels";
        if input.rank() != 3 || input.dim(2).is_none() {
            return Err(Mismatch::new(input, expected));
        }
        let steps = spatial_out(
            input.dim(1),
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            self.padding,
        )
        .ok_or(Mismatch::new(input, "steps at least the (dilated) kernel size"))?;
        Shape::new(&[input.dim(0), steps, Some(self.filters)])
            .map_err(|_| Mismatch::new(input, expected))
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let mut specs = WeightSpecs::new();
        let k = u32::from(self.kernel_size);
        weight(&mut specs, "kernel", &[k, channels, self.filters], true);
        if self.use_bias {
            weight(&mut specs, "bias", &[self.filters], true);
        }
        specs
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
        let input = cx.input();
        let (steps, channels) = (dim(&input, 1)?, dim(&input, 2)?);
        // A row one pixel high: the kernel (k, cin, filters) is Conv2D's (1, k, cin, filters).
        let geometry = geometry(
            input,
            (1, steps, channels),
            self.filters as usize,
            [1, self.kernel_size],
            [1, self.strides],
            [1, self.dilation_rate],
            self.padding,
        )?;
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Conv1D(Params {
                geometry,
                kernel: cx.weight(0)?,
                bias: self.use_bias.then(|| cx.weight(1)).transpose()?,
                activation: self.activation,
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    if let (StepArgs::Conv1D(p), [input]) = (args, inputs) {
        p.compute(input, output);
    }
}

#[cfg(feature = "training")]
mod backward {
    use super::super::conv::backward as conv;
    use super::super::{Saved, StepArgs};

    pub(super) fn output(args: &StepArgs<'_>, saved: &Saved<'_>, d: &mut [f32], z: &mut [f32]) {
        if let StepArgs::Conv1D(p) = args {
            conv::output(p, saved, d, z);
        }
    }

    pub(super) fn weights(args: &StepArgs<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        if let StepArgs::Conv1D(p) = args {
            conv::weights(p, saved, d, dw);
        }
    }

    pub(super) fn input(args: &StepArgs<'_>, _: &Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
        if let StepArgs::Conv1D(p) = args {
            conv::input(p, d, dx);
        }
    }
}
