//! `keras.layers.MaxPooling1D(pool_size, strides, padding)`: 2-D pooling over a row one pixel high.

use super::pool1d::Pool1D;

super::pool2d::pooling_layer!(
    /// `keras.layers.MaxPooling1D(pool_size, strides, padding)`.
    ///
    /// ```
    /// use kiln::layers::{Input, MaxPooling1D};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[100, 16]))?;
    /// let y = f.call(MaxPooling1D::new(4), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 25, 16)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    MaxPooling1D(Pool1D, u16),
    "max_pooling1d",
    crate::kernels::fast::max_pool2d_cells,
    backward: crate::ops::pool2d::backward::max
);
