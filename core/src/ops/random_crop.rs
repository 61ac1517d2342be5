//! `keras.layers.RandomCrop(height, width)`: the identity at inference (Keras 3 returns its
//! input unchanged); in training, one random `height × width` window per batch (or a
//! centre crop and resize of an image smaller than the target, exactly as Keras).

use super::{image, one, Cx, Mismatch, Op, Rand, Run, Step, StepArgs};
use crate::kernels::{self, crop_window, SmallRng};
use crate::shape::{Shape, MAX_DIM};

/// `keras.layers.RandomCrop(height, width, seed=None)`.
///
/// ```
/// use kiln::layers::{Input, RandomCrop};
/// use kiln::{Fixed, Functional};
/// let mut f = Functional::<Fixed<4>>::new();
/// let x = f.input(Input::new(&[32, 32, 3]))?;
/// let y = f.call(RandomCrop::new(24, 24), &[x])?;
/// assert_eq!(f.shape(y).to_string(), "(None, 24, 24, 3)"); // predict: the input, uncropped
/// # Ok::<(), kiln::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCrop {
    /// Keras's `height`: the rows a training call keeps.
    pub height: u32,
    /// Keras's `width`: the columns a training call keeps.
    pub width: u32,
    /// Keras's `seed`: kept for the configuration; a run's windows come from the
    /// [`SmallRng`] given to [`Graph::call`](crate::Graph::call).
    pub seed: Option<u32>,
}

#[cfg(feature = "format")]
crate::wire_fields!(RandomCrop {
    height,
    width,
    seed
});

impl RandomCrop {
    /// `RandomCrop(height, width)`, without a seed.
    pub fn new(height: u32, width: u32) -> Self {
        RandomCrop {
            height,
            width,
            seed: None,
        }
    }
    /// Keras's `seed=`.
    pub fn seed(self, seed: u32) -> Self {
        RandomCrop {
            seed: Some(seed),
            ..self
        }
    }
}

/// A prepared RandomCrop in training: the image, the target, and the node (the window
/// comes from the call's seed and the node, the same for every sample of a call).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Params {
    image: (usize, usize, usize),
    target: (usize, usize),
    node: usize,
}

impl Op for RandomCrop {
    fn class_name(&self) -> &'static str {
        "RandomCrop"
    }

    fn auto_name_prefix(&self) -> &'static str {
        "random_crop"
    }

    fn validate(&self) -> Result<(), &'static str> {
        if self.height == 0 || self.width == 0 {
            Err("height and width must be at least 1")
        } else if self.height > MAX_DIM || self.width > MAX_DIM {
            Err("height and width must be at most 4294967294")
        } else {
            Ok(())
        }
    }

    /// Keras 3 declares the crop size as the output shape (summary shows it).
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        if input.rank() != 4 {
            return Err(Mismatch::new(
                input,
                "rank 4 (batch, height, width, channels)",
            ));
        }
        input
            .with_dim(1, Some(self.height))
            .and_then(|s| s.with_dim(2, Some(self.width)))
            .map_err(|_| Mismatch::new(input, "an input whose output has every axis below 2^32"))
    }

    /// At inference the layer returns its input unchanged.
    fn inference_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        self.output_shape(inputs)?;
        one(inputs)
    }

    /// In training it changes the shape and needs its own memory.
    fn in_place(&self, training: bool) -> bool {
        !training
    }

    fn trains_by_default(&self) -> bool {
        true
    }

    fn prepare<'w>(&self, cx: &Cx<'_, 'w>) -> Result<Step<'w>, Mismatch> {
        if !cx.training {
            return Ok(Step::COPY);
        }
        Ok(Step {
            run: Run::Compute(run),
            args: StepArgs::RandomCrop(self::Params {
                image: image(&cx.input())?,
                target: (self.height as usize, self.width as usize),
                node: cx.node,
            }),
        })
    }
}

fn run(args: &StepArgs<'_>, inputs: &[&[f32]], output: &mut [f32], rand: &mut Rand<'_>) {
    let (StepArgs::RandomCrop(p), [input]) = (args, inputs) else {
        return;
    };
    // The same window for every sample of this call.
    let mut rng = SmallRng::new(rand.call_seed ^ ((p.node as u64) << 17));
    let (h, w, _) = p.image;
    let window = crop_window(h, w, p.target.0, p.target.1, &mut rng);
    kernels::crop(input, p.image, window, p.target, output);
}
