//! What MaxPooling2D and AveragePooling2D share: their configuration and output shape.

// The pooling family's shared code; `Pair` is also the convolutions'.
#![cfg_attr(not(feature = "pool"), allow(dead_code))]

use super::{image, one, Cx, Mismatch};
use crate::graph::config::Padding;
use crate::graph::infer::{image_axes, image_shape, window_out};
use crate::kernels::Pool2dGeometry;
use crate::shape::Shape;

/// Spatial pairs `(height, width)`, as Keras's `kernel_size`, `strides`, `pool_size`.
pub type Pair = [u16; 2];

/// The configuration of a 2-D pooling layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pool2D {
    pub pool_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
}

#[cfg(feature = "format")]
crate::wire_fields!(Pool2D {
    pool_size,
    strides,
    padding
});

impl Pool2D {
    /// Pool of `pool_size`, strides = pool_size, 'valid' (Keras's defaults).
    pub fn new(pool_size: Pair) -> Self {
        Pool2D {
            pool_size,
            strides: pool_size,
            padding: Padding::Valid,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        let ok = |p: &Pair| p[0] > 0 && p[1] > 0;
        if !ok(&self.pool_size) || !ok(&self.strides) {
            Err("pool_size and strides must be at least 1")
        } else if self.padding == Padding::Causal {
            Err("padding must be 'valid' or 'same'")
        } else {
            Ok(())
        }
    }

    pub(crate) fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, Mismatch> {
        let input = one(inputs)?;
        let (h, w, ch) = image_axes(&input).ok_or(Mismatch::new(
            input,
            "rank 4 (batch, height, width, channels) with known channels",
        ))?;
        let (oh, ow) = window_out((h, w), self.pool_size, self.strides, [1, 1], self.padding);
        image_shape(&input, oh, ow, Some(ch)).ok_or(Mismatch::new(
            input,
            "height and width at least the pool size",
        ))
    }

    pub(crate) fn geometry(&self, cx: &Cx<'_, '_>) -> Result<Pool2dGeometry, Mismatch> {
        let [ph, pw] = self.pool_size;
        let [sh, sw] = self.strides;
        Pool2dGeometry::new(
            image(&cx.input())?,
            (ph as usize, pw as usize),
            (sh as usize, sw as usize),
            self.padding,
        )
        .ok_or(Mismatch::new(
            cx.input(),
            "a shape whose sizes fit in memory",
        ))
    }
}

/// A prepared global pooling step: positions per channel, and channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GlobalParams {
    pub spatial: usize,
    pub channels: usize,
}
