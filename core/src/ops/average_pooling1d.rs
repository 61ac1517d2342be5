//! `keras.layers.AveragePooling1D(pool_size, strides, padding)`: 2-D pooling over a row one pixel high.

use super::pool1d::Pool1D;

super::pool2d::pooling_layer!(
    /// `keras.layers.AveragePooling1D(pool_size, strides, padding)`.
    AveragePooling1D(Pool1D, u16),
    "average_pooling1d",
    crate::kernels::fast::average_pool2d
);
