//! `keras.layers.AveragePooling1D(pool_size, strides, padding)`: 2-D pooling over a row one pixel high.

use super::pool1d::Pool1D;

super::pool2d::pooling_layer!(
    /// `keras.layers.AveragePooling1D(pool_size, strides, padding)`.
    ///
    /// ```
    /// use kiln::layers::{AveragePooling1D, Input};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[100, 16]))?;
    /// let y = f.call(AveragePooling1D::new(4).strides(2), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 49, 16)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    AveragePooling1D(Pool1D, u16),
    "average_pooling1d",
    crate::kernels::fast::average_pool2d_cells,
    backward: crate::ops::pool2d::backward::average
);
