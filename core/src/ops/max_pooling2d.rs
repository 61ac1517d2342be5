//! `keras.layers.MaxPooling2D`.

use super::pool2d::{Pair, Pool2D};

super::pool2d::pooling_layer!(
    /// `keras.layers.MaxPooling2D(pool_size)`; strides default to the pool size.
    MaxPooling2D(Pool2D, Pair),
    "max_pooling2d",
    crate::kernels::fast::max_pool2d,
    int8: crate::kernels::int8::max_pool2d
);
