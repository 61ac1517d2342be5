//! `keras.layers.GlobalAveragePooling1D` and `GlobalMaxPooling1D`: one value per channel
//! over the steps (the 2-D kernels over `steps` positions).

use super::pool2d::GlobalParams as Params;
use super::{dim, one, Cx, Mismatch};
use crate::kernels;
use crate::shape::{Dim, Shape};

fn output_shape(keepdims: bool, inputs: &[Shape]) -> Result<Shape, Mismatch> {
    let input = one(inputs)?;
    let expected = "rank 3 (batch, steps, channels) with known channels";
    let channels = input
        .dim(2)
        .filter(|_| input.rank() == 3)
        .ok_or(Mismatch::new(input, expected))?;
    let batch = input.dim(0);
    let dims: &[Dim] = if keepdims {
        &[batch, Some(1), Some(channels)]
    } else {
        &[batch, Some(channels)]
    };
    Shape::new(dims).map_err(|_| Mismatch::new(input, expected))
}

fn params(cx: &Cx<'_, '_>) -> Result<Params, Mismatch> {
    let input = cx.input();
    Ok(Params {
        spatial: dim(&input, 1)?,
        channels: dim(&input, 2)?,
        mean: None,
    })
}

super::pool2d::global_pooling_layer!(
    /// `keras.layers.GlobalAveragePooling1D()`.
    ///
    /// ```
    /// use kiln::layers::{GlobalAveragePooling1D, Input};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[100, 16]))?;
    /// let y = f.call(GlobalAveragePooling1D::new(), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 16)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    GlobalAveragePooling1D,
    "global_average_pooling1d",
    kernels::fast::global_average_pool,
    backward: crate::ops::pool2d::backward::global_average
);
super::pool2d::global_pooling_layer!(
    /// `keras.layers.GlobalMaxPooling1D()`.
    ///
    /// ```
    /// use kiln::layers::{GlobalMaxPooling1D, Input};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[100, 16]))?;
    /// let y = f.call(GlobalMaxPooling1D::new().keepdims(true), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 1, 16)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    GlobalMaxPooling1D,
    "global_max_pooling1d",
    kernels::fast::global_max_pool,
    backward: crate::ops::pool2d::backward::global_max
);
