//! Shape arithmetic the layers share: image axes, spatial output sizes, merges and
//! concatenation (Keras's rules).

// Each helper serves some op families; a build without them does not use it.
#![cfg_attr(not(feature = "all-ops"), allow(dead_code))]

use crate::graph::config::Padding;
use crate::shape::{Dim, Shape};

/// The shape of an element-wise merge of `a` and `b`: equal, with `None` where one side
/// does not know an axis the other does.
pub(crate) fn merge_shapes(a: &Shape, b: &Shape) -> Option<Shape> {
    if a.rank() != b.rank() {
        return None;
    }
    let mut out = *a;
    for axis in 0..a.rank() {
        match (a.dim(axis), b.dim(axis)) {
            (Some(x), Some(y)) if x != y => return None,
            (None, other) => out = out.with_dim(axis, other).ok()?,
            _ => {}
        }
    }
    Some(out)
}

pub(crate) fn concatenate_shape(axis: i8, inputs: &[Shape]) -> Option<Shape> {
    let first = inputs.first()?;
    if inputs.len() < 2 {
        return None;
    }
    let rank = first.rank() as i32;
    let axis = if axis < 0 {
        rank + axis as i32
    } else {
        axis as i32
    };
    if axis < 1 || axis >= rank {
        return None;
    }
    let axis = axis as usize;
    let mut out = *first;
    let mut total = Some(0u32);
    for shape in inputs {
        if shape.rank() != first.rank() {
            return None;
        }
        for other in (0..first.rank()).filter(|&a| a != axis) {
            match (out.dim(other), shape.dim(other)) {
                (Some(x), Some(y)) if x != y => return None,
                (None, known) => out = out.with_dim(other, known).ok()?,
                _ => {}
            }
        }
        total = match (total, shape.dim(axis)) {
            (Some(t), Some(d)) => t.checked_add(d),
            _ => None,
        };
    }
    out.with_dim(axis, total).ok()
}

/// `(height, width, channels)` of a rank-4 channels-last shape; channels must be known.
pub(crate) fn image_axes(shape: &Shape) -> Option<(Dim, Dim, u32)> {
    if shape.rank() != 4 {
        return None;
    }
    Some((shape.dim(1), shape.dim(2), shape.dim(3)?))
}

/// `Some(None)` for an unknown input axis, `None` when the output would be empty.
pub(crate) fn spatial_out(
    input: Dim,
    kernel: u16,
    stride: u16,
    dilation: u16,
    padding: Padding,
) -> Option<Dim> {
    match input {
        None => Some(None),
        Some(n) => crate::kernels::padding::output_size(
            n as usize,
            kernel as usize,
            stride as usize,
            dilation as usize,
            padding,
        )
        .map(|o| Some(o as u32)),
    }
}

pub(crate) fn image_shape(
    input: &Shape,
    h: Option<Dim>,
    w: Option<Dim>,
    c: Option<u32>,
) -> Option<Shape> {
    Shape::new(&[input.dim(0), h?, w?, c]).ok()
}

/// Output height and width of a window (kernel or pool) sliding over `(h, w)`.
pub(crate) fn window_out(
    (h, w): (Dim, Dim),
    window: [u16; 2],
    strides: [u16; 2],
    dilation: [u16; 2],
    padding: Padding,
) -> (Option<Dim>, Option<Dim>) {
    (
        spatial_out(h, window[0], strides[0], dilation[0], padding),
        spatial_out(w, window[1], strides[1], dilation[1], padding),
    )
}
