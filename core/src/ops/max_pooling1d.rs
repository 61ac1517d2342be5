//! `keras.layers.MaxPooling1D(pool_size, strides, padding)`: 2-D pooling over a row one pixel high.

use super::pool1d::Pool1D;

super::pool2d::pooling_layer!(
    /// `keras.layers.MaxPooling1D(pool_size, strides, padding)`.
    MaxPooling1D(Pool1D, u16),
    "max_pooling1d",
    crate::kernels::fast::max_pool2d
);
