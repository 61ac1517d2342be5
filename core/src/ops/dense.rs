//! `keras.layers.Dense`: `activation(x · kernel + bias)` on the last axis.

use super::int8::Typed;
use super::{dim, int8, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::graph::config::Activation;
use crate::graph::layer::int8_weights;
use crate::graph::{weight, DType, WeightSpecs};
use crate::kernels;
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.Dense(units)`.
///
/// ```
/// use kiln::layers::{Dense, Input};
/// use kiln::{Activation, Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[16]))?;
/// let y = f.call(Dense::new(8).activation(Activation::Relu), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 8)");
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    /// Keras's `units`: the size of the output's last axis.
    pub units: u32,
    /// Keras's `activation`, applied after the bias (`Linear`: none).
    pub activation: Activation,
    /// Keras's `use_bias`: false leaves out the `bias` variable.
    pub use_bias: bool,
}

#[cfg(feature = "format")]
crate::wire_fields!(Dense {
    units,
    activation,
    use_bias
});

impl Dense {
    /// `Dense(units)`: linear, with bias.
    pub fn new(units: u32) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
        }
    }
    /// Keras's `activation=` (default `Linear`).
    pub fn activation(self, activation: Activation) -> Self {
        Dense { activation, ..self }
    }
    /// Keras's `use_bias=` (default true).
    pub fn use_bias(self, use_bias: bool) -> Self {
        Dense { use_bias, ..self }
    }
}

/// A prepared float32 Dense step (an int8 one is `(in_features, Kernel)`: TensorFlow
/// Lite's FULLY_CONNECTED, kernel `(units, in)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params<'w> {
    in_features: usize,
    kernel: &'w [f32],
    bias: Option<&'w [f32]>,
    activation: Activation,
}

impl Op for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "dense"
    }

    fn validate(&self) -> Result<(), &'static str> {
        match self.units {
            0 => Err("units must be at least 1"),
            u if u > MAX_DIM => Err("units must be at most 4294967294"),
            _ => Ok(()),
        }
    }

    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        if input.rank() < 2 || input.last().is_none() {
            return Err(Mismatch::new(input, "rank >= 2 with a known last axis"));
        }
        input
            .with_dim(input.rank() - 1, Some(self.units))
            .map_err(|_| Mismatch::new(input, "units that fit an axis"))
    }

    fn weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        let mut specs = WeightSpecs::new();
        weight(&mut specs, "kernel", &[channels, self.units], true);
        if self.use_bias {
            weight(&mut specs, "bias", &[self.units], true);
        }
        specs
    }

    fn int8_weights(&self, input: &Shape) -> WeightSpecs {
        let channels = input.last().unwrap_or(0);
        int8_weights(&[self.units, channels], 0, self.use_bias)
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
    fn batches_as_rows(&self) -> bool {
        true
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
        let in_features = dim(&input, input.rank().saturating_sub(1))?;
        if cx.is_int8() {
            let kernel = int8::kernel(cx, self.use_bias, self.units as usize)?;
            return Ok(Step {
                run: Run::Int8(run_int8),
                args: StepArgs::Dense(Typed::I8((in_features, kernel))),
            });
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::Dense(Typed::F32(Params {
                in_features,
                kernel: cx.weight(0)?,
                bias: self.use_bias.then(|| cx.weight(1)).transpose()?,
                activation: self.activation,
            })),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], _: &mut Rand<'_>) {
    let (StepArgs::Dense(Typed::F32(p)), [input]) = (args, inputs) else {
        return;
    };
    kernels::fast::dense(input, p.in_features, p.kernel, p.bias, output, p.activation);
}

fn run_int8(args: &StepArgs<'_>, inputs: &[&[i8]], output: &mut [i8]) {
    let (StepArgs::Dense(Typed::I8((in_features, k))), [input]) = (args, inputs) else {
        return;
    };
    kernels::int8::fast::fully_connected(
        input,
        k.input_offset,
        k.kernel,
        k.bias,
        *in_features,
        &k.stage,
        output,
    );
}

#[cfg(feature = "training")]
mod backward {
    use super::super::{Saved, StepArgs};
    use super::{Activation, Typed};
    use crate::kernels::backward::dense::{dense_input, dense_weights};

    pub(super) fn output(args: &StepArgs<'_>, saved: &Saved<'_>, d: &mut [f32], z: &mut [f32]) {
        let (StepArgs::Dense(Typed::F32(p)), [x]) = (args, saved.inputs) else {
            return;
        };
        let units = p.kernel.len() / p.in_features.max(1);
        let z = z.get_mut(..d.len()).unwrap_or(&mut []);
        let pre = p.activation.backward_needs_input().then(|| {
            crate::kernels::fast::dense(x, p.in_features, p.kernel, p.bias, z, Activation::Linear);
            &*z
        });
        p.activation.backward(pre, saved.output, d, units);
    }

    pub(super) fn weights(args: &StepArgs<'_>, saved: &Saved<'_>, d: &[f32], dw: &mut [f32]) {
        let (StepArgs::Dense(Typed::F32(p)), [x]) = (args, saved.inputs) else {
            return;
        };
        let (d_kernel, d_bias) = dw.split_at_mut(p.kernel.len().min(dw.len()));
        let d_bias = p.bias.map(|_| d_bias);
        dense_weights(x, d, p.in_features, d_kernel, d_bias);
    }

    pub(super) fn input(args: &StepArgs<'_>, _: &Saved<'_>, _: usize, d: &[f32], dx: &mut [f32]) {
        if let StepArgs::Dense(Typed::F32(p)) = args {
            dense_input(p.kernel, d, p.in_features, dx);
        }
    }
}
