//! Parity with real Keras 3 on the layer fixtures (tests/fixtures/generate_layers.py):
//! ZeroPadding2D, Cropping2D, UpSampling2D, Conv1D, the 1-D pools, SeparableConv2D and the
//! stock keras.applications.MobileNet.

kiln_tests::keras_parity_tests!("layers");
