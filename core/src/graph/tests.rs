//! Shape inference: hand-checked cases from Keras and properties that must hold for any
//! configuration.

extern crate std;

use crate::kernels::{Activation, Padding};
use crate::ops::*;

use crate::shape::Shape;
use proptest::prelude::*;

fn infer(kind: LayerKind, input: &[Option<u32>]) -> Result<Shape, crate::Error> {
    kind.output_shape("layer", &Shape::new(input).unwrap())
}

fn conv(k: u16, s: u16, d: u16, padding: Padding) -> LayerKind {
    LayerKind::Conv2D(Conv2D {
        filters: 4,
        kernel_size: [k, k],
        strides: [s, s],
        dilation_rate: [d, d],
        padding,
        activation: Activation::Linear,
        use_bias: true,
    })
}

#[test]
fn keras_examples() {
    // KERAS-NOTES §1.3: Conv2D(8, 3) on 28×28×1, MaxPooling2D, Flatten.
    let c = infer(
        conv(3, 1, 1, Padding::Valid),
        &[None, Some(28), Some(28), Some(1)],
    )
    .unwrap();
    assert_eq!(c, Shape::batched(&[26, 26, 4]).unwrap());
    let p = infer(
        LayerKind::MaxPooling2D(MaxPooling2D(Pool2D {
            pool_size: [2, 2],
            strides: [2, 2],
            padding: Padding::Valid,
        })),
        &[None, Some(26), Some(26), Some(8)],
    )
    .unwrap();
    assert_eq!(p, Shape::batched(&[13, 13, 8]).unwrap());
    let f = infer(
        LayerKind::Flatten(Flatten),
        &[None, Some(13), Some(13), Some(8)],
    )
    .unwrap();
    assert_eq!(f, Shape::batched(&[1352]).unwrap());
    // 'same' keeps ceil(in / stride); unknown axes stay unknown.
    let s = infer(
        conv(2, 2, 1, Padding::Same),
        &[None, Some(7), None, Some(3)],
    )
    .unwrap();
    assert_eq!(s, Shape::new(&[None, Some(4), None, Some(4)]).unwrap());
    // Dense works on the last axis of any rank.
    let d = LayerKind::Dense(Dense {
        units: 5,
        activation: Activation::Linear,
        use_bias: true,
    });
    assert_eq!(
        infer(d, &[None, Some(4), Some(6)]).unwrap(),
        Shape::batched(&[4, 5]).unwrap()
    );
}

#[test]
fn incompatible_inputs_are_errors_naming_the_layer() {
    let e = infer(
        conv(3, 1, 1, Padding::Valid),
        &[None, Some(2), Some(2), Some(1)],
    )
    .unwrap_err();
    assert!(std::format!("{e}").contains("'layer'"), "{e}");
    assert!(infer(conv(3, 1, 1, Padding::Valid), &[None, Some(5), Some(1)]).is_err());
    let d = LayerKind::Dense(Dense {
        units: 5,
        activation: Activation::Linear,
        use_bias: true,
    });
    assert!(infer(d, &[None, None]).is_err());
    let r = LayerKind::Reshape(Reshape::new(&[5, -1]).unwrap());
    assert!(infer(r, &[None, Some(12)]).is_err());
}

#[test]
fn weights_follow_keras_layouts() {
    let input = Shape::batched(&[5, 5, 3]).unwrap();
    let dw = LayerKind::DepthwiseConv2D(DepthwiseConv2D {
        kernel_size: [3, 3],
        strides: [1, 1],
        dilation_rate: [1, 1],
        padding: Padding::Valid,
        depth_multiplier: 2,
        activation: Activation::Linear,
        use_bias: true,
    });
    let w = dw.weights(&input, crate::graph::DType::F32);
    assert_eq!(
        w[0].shape,
        Shape::new(&[Some(3), Some(3), Some(3), Some(2)]).unwrap()
    );
    assert_eq!(w[1].elements(), 6);
    let bn = LayerKind::BatchNormalization(BatchNormalization {
        epsilon: 1e-3,
        momentum: 0.99,
        center: true,
        scale: false,
    });
    let names: std::vec::Vec<_> = bn
        .weights(&input, crate::graph::DType::F32)
        .iter()
        .map(|w| (w.name, w.trainable))
        .collect();
    assert_eq!(
        names,
        [
            ("beta", true),
            ("moving_mean", false),
            ("moving_variance", false)
        ]
    );
}

proptest! {
    /// 'valid' output size equals the number of window positions that fit; 'same' equals
    /// ceil(in / stride).
    #[test]
    fn conv_output_matches_window_count(input in 1u32..40, k in 1u16..6, s in 1u16..4, d in 1u16..3) {
        prop_assume!(s == 1 || d == 1);
        let span = (k as u32 - 1) * d as u32 + 1;
        let valid = infer(conv(k, s, d, Padding::Valid), &[None, Some(input), Some(input), Some(2)]);
        let positions = (0..input).filter(|&start| start % s as u32 == 0 && start + span <= input).count() as u32;
        if positions == 0 {
            prop_assert!(valid.is_err());
        } else {
            prop_assert_eq!(valid.unwrap().dim(1), Some(positions));
        }
        let same = infer(conv(k, s, d, Padding::Same), &[None, Some(input), Some(input), Some(2)]).unwrap();
        prop_assert_eq!(same.dim(1), Some(input.div_ceil(s as u32)));
        prop_assert_eq!(same.dim(3), Some(4));
    }

    /// Flatten and Reshape keep the number of values; the batch axis is untouched.
    #[test]
    fn flatten_and_reshape_keep_elements(dims in proptest::collection::vec(1u32..8, 1..4), batch in proptest::option::of(1u32..4)) {
        let mut input = std::vec![batch];
        input.extend(dims.iter().map(|&d| Some(d)));
        let total: u32 = dims.iter().product();
        let flat = infer(LayerKind::Flatten(Flatten), &input).unwrap();
        prop_assert_eq!(flat.dim(0), batch);
        prop_assert_eq!(flat.sample_elements(), Some(total as usize));
        let reshaped = infer(LayerKind::Reshape(Reshape::new(&[-1, 1]).unwrap()), &input).unwrap();
        prop_assert_eq!(reshaped.dims(), &[batch, Some(total), Some(1)][..]);
        let wrong = infer(LayerKind::Reshape(Reshape::new(&[total as i32 + 1]).unwrap()), &input);
        prop_assert!(wrong.is_err());
    }

    /// Pooling with 'same' never loses a row or column; 'valid' never reads past the edge.
    #[test]
    fn pooling_sizes(input in 1u32..30, p in 1u16..5, s in 1u16..5) {
        let pool = |padding| LayerKind::AveragePooling2D(AveragePooling2D(Pool2D { pool_size: [p, p], strides: [s, s], padding }));
        let same = infer(pool(Padding::Same), &[None, Some(input), Some(input), Some(1)]).unwrap();
        prop_assert_eq!(same.dim(1), Some(input.div_ceil(s as u32)));
        match infer(pool(Padding::Valid), &[None, Some(input), Some(input), Some(1)]) {
            Ok(v) => prop_assert!((v.dim(1).unwrap() - 1) * s as u32 + p as u32 <= input),
            Err(_) => prop_assert!((p as u32) > input),
        }
    }
}
