//! `keras.layers.GlobalAveragePooling2D` and `GlobalMaxPooling2D`: one value per channel.

use super::pool2d::GlobalParams as Params;
use super::{image, image_input, one, Cx, Mismatch};
use crate::kernels;
use crate::shape::{Dim, Shape};

fn output_shape(keepdims: bool, inputs: &[Shape]) -> Result<Shape, Mismatch> {
    let input = one(inputs)?;
    let (_, _, ch) = image_input(&input)?;
    let batch = input.dim(0);
    let dims: &[Dim] = if keepdims {
        &[batch, Some(1), Some(1), Some(ch)]
    } else {
        &[batch, Some(ch)]
    };
    Shape::new(dims).map_err(|_| Mismatch::new(input, "a rank-4 input"))
}

fn params(cx: &Cx<'_, '_>) -> Result<Params, Mismatch> {
    let (h, w, channels) = image(&cx.input())?;
    Ok(Params {
        spatial: h * w,
        channels,
        mean: None,
    })
}

super::pool2d::global_pooling_layer!(
    /// `keras.layers.GlobalAveragePooling2D()`.
    ///
    /// ```
    /// use kiln::layers::{GlobalAveragePooling2D, Input};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[7, 7, 32]))?;
    /// let y = f.call(GlobalAveragePooling2D::new(), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 32)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    GlobalAveragePooling2D,
    "global_average_pooling2d",
    kernels::fast::global_average_pool,
    backward: crate::ops::pool2d::backward::global_average,
    int8: kernels::int8::fast::mean
);
super::pool2d::global_pooling_layer!(
    /// `keras.layers.GlobalMaxPooling2D()`.
    ///
    /// ```
    /// use kiln::layers::{GlobalMaxPooling2D, Input};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[7, 7, 32]))?;
    /// let y = f.call(GlobalMaxPooling2D::new().keepdims(true), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 1, 1, 32)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    GlobalMaxPooling2D,
    "global_max_pooling2d",
    kernels::fast::global_max_pool,
    backward: crate::ops::pool2d::backward::global_max
);
