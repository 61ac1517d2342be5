//! `keras.layers.AveragePooling2D`.

use super::pool2d::{Pair, Pool2D};

super::pool2d::pooling_layer!(
    /// `keras.layers.AveragePooling2D(pool_size)`; 'same' divides by the number of valid cells, as Keras.
    AveragePooling2D(Pool2D, Pair),
    "average_pooling2d",
    crate::kernels::fast::average_pool2d,
    int8: crate::kernels::int8::average_pool2d
);
