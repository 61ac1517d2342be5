//! What MaxPooling1D and AveragePooling1D share: their configuration and output shape.
//! They run as 2-D pooling over a row one pixel high.

use super::{dim, one, Cx, Mismatch};
use crate::graph::config::Padding;
use crate::graph::infer::spatial_out;
use crate::kernels::Pool2dGeometry;
use crate::shape::Shape;

/// The configuration of a 1-D pooling layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool1D {
    /// Keras's `pool_size`: the window's length in steps.
    pub pool_size: u16,
    /// Keras's `strides`: steps between windows.
    pub strides: u16,
    /// Keras's `padding`: `Valid` or `Same`.
    pub padding: Padding,
}

#[cfg(feature = "format")]
crate::wire_fields!(Pool1D {
    pool_size,
    strides,
    padding
});

impl Pool1D {
    /// Pool of `pool_size`, strides = pool_size, 'valid' (Keras's defaults).
    pub fn new(pool_size: u16) -> Self {
        Pool1D {
            pool_size,
            strides: pool_size,
            padding: Padding::Valid,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.pool_size == 0 || self.strides == 0 {
            Err("pool_size and strides must be at least 1")
        } else if self.padding == Padding::Causal {
            Err("padding must be 'valid' or 'same'")
        } else {
            Ok(())
        }
    }

    pub(crate) fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let expected = "rank 3 (batch, steps, channels) with known channels";
        if input.rank() != 3 || input.dim(2).is_none() {
            return Err(Mismatch::new(input, expected));
        }
        let steps = spatial_out(input.dim(1), self.pool_size, self.strides, 1, self.padding)
            .ok_or(Mismatch::new(input, "steps at least the pool size"))?;
        Shape::new(&[input.dim(0), steps, input.dim(2)]).map_err(|_| Mismatch::new(input, expected))
    }

    /// The 2-D pooling geometry of a row one pixel high.
    pub(crate) fn geometry(&self, cx: &Cx<'_, '_>) -> Result<Pool2dGeometry, Mismatch> {
        self.geometry_of(&cx.input())
    }

    /// The window geometry on an input of shape `input` (one row of `steps` cells).
    #[inline(never)]
    pub(crate) fn geometry_of(&self, input: &Shape) -> Result<Pool2dGeometry, Mismatch> {
        let input = *input;
        let (steps, channels) = (dim(&input, 1)?, dim(&input, 2)?);
        Pool2dGeometry::new(
            (1, steps, channels),
            (1, usize::from(self.pool_size)),
            (1, usize::from(self.strides)),
            self.padding,
        )
        .ok_or(Mismatch::new(input, "a shape whose sizes fit in memory"))
    }
}
