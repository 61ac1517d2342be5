//! `keras.layers.AveragePooling2D`.

use super::pool2d::{Pair, Pool2D};

super::pool2d::pooling_layer!(
    /// `keras.layers.AveragePooling2D(pool_size)`; 'same' divides by the number of valid cells, as Keras.
    ///
    /// ```
    /// use kiln::layers::{AveragePooling2D, Input};
    /// use kiln::{Fixed, Functional, Padding};
    /// let mut f = Functional::<Fixed<4>>::new();
    /// let x = f.input(Input::new(&[28, 28, 8]))?;
    /// let y = f.call(AveragePooling2D::new([3, 3]).strides([2, 2]).padding(Padding::Same), &[x])?;
    /// assert_eq!(f.shape(y).to_string(), "(None, 14, 14, 8)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    AveragePooling2D(Pool2D, Pair),
    "average_pooling2d",
    crate::kernels::fast::average_pool2d_cells,
    backward: crate::ops::pool2d::backward::average,
    int8: crate::kernels::int8::pool2d::average_pool2d_cells
);
