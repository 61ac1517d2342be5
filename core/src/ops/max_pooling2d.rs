//! `keras.layers.MaxPooling2D`.

use super::pool2d::{Pair, Pool2D};

super::pool2d::pooling_layer!(
    /// `keras.layers.MaxPooling2D(pool_size)`; strides default to the pool size.
    ///
    /// ```
    /// use kiln::layers::{Input, MaxPooling2D};
    /// use kiln::{Fixed, Functional};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[28, 28, 8]))?;
    /// let y = f.call(MaxPooling2D::new([2, 2]), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 14, 14, 8)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    MaxPooling2D(Pool2D, Pair),
    "max_pooling2d",
    crate::kernels::fast::max_pool2d_cells,
    backward: crate::ops::pool2d::backward::max,
    int8: crate::kernels::int8::fast::max_pool2d_cells
);
