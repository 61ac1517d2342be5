//! The planner against a plan without memory reuse: on random models, the outputs must be
//! bit-identical, no two tensors live at the same time may overlap, and the arena is never
//! below the lower bound.

extern crate std;

use crate::graph::Fixed;
use crate::graph::{Graph, LayerSpec};
use crate::kernels::{Activation, Padding};
use crate::layers::*;
use crate::planner::{plan_without_reuse, Plan};
use crate::{Sequential, Shape};
use proptest::prelude::*;
use std::vec::Vec;

/// One random layer for a rank-2 `(batch, features)` input.
fn vector_layer() -> impl Strategy<Value = LayerSpec<'static>> {
    prop_oneof![
        (1u32..9, 0usize..6).prop_map(|(units, act)| {
            let acts = [
                Activation::Linear,
                Activation::Relu,
                Activation::Tanh,
                Activation::Sigmoid,
                Activation::Softmax,
                Activation::Silu,
            ];
            Dense::new(units).activation(acts[act]).into()
        }),
        Just(Activation::Relu6.into()),
        Just(Dropout::new(0.25).into()),
        Just(ReLU::new().max_value(0.5).negative_slope(0.1).into()),
        Just(LeakyReLU::new().into()),
        Just(Softmax.into()),
        Just(BatchNormalization::new().into()),
        Just(Flatten.into()),
    ]
}

/// One random layer for a rank-4 image input (keeps height and width at least 2).
fn image_layer() -> impl Strategy<Value = LayerSpec<'static>> {
    prop_oneof![
        (1u32..4, any::<bool>()).prop_map(|(f, same)| Conv2D::new(f, [2, 2])
            .padding(if same { Padding::Same } else { Padding::Valid })
            .into()),
        (1u32..3).prop_map(|m| DepthwiseConv2D::new([2, 2])
            .depth_multiplier(m)
            .padding(Padding::Same)
            .into()),
        Just(
            MaxPooling2D::new([2, 2])
                .strides([1, 1])
                .padding(Padding::Same)
                .into()
        ),
        Just(
            AveragePooling2D::new([2, 2])
                .strides([1, 1])
                .padding(Padding::Same)
                .into()
        ),
        Just(Activation::Elu { alpha: 1.0 }.into()),
        Just(BatchNormalization::new().into()),
    ]
}

fn build(
    input: Input,
    layers: Vec<LayerSpec>,
    tail: &[LayerSpec],
) -> Option<Sequential<'static, Fixed<24>>> {
    let mut model = Sequential::new();
    model.add(input).ok()?;
    for l in layers.into_iter().chain(tail.iter().cloned()) {
        model.add(l).ok()?;
    }
    Some(model)
}

fn weights(n: usize, seed: u32) -> Vec<f32> {
    // BatchNormalization variances must be positive: keep every value in (0.05, 1.05).
    (0..n)
        .map(|i| {
            ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 1000.0 + 0.05
        })
        .collect()
}

fn run(
    graph: &Graph<'_, Fixed<24>>,
    plan: &Plan<Fixed<24>>,
    x: &[f32],
    out_len: usize,
) -> Vec<f32> {
    let mut arena = std::vec![0u8; plan.arena_bytes()];
    let mut y = std::vec![f32::NAN; out_len];
    let mut prepared = crate::runtime::Prepared::default();
    graph
        .prepare_in(&mut prepared, None, Some(false), Some(plan))
        .unwrap();
    prepared.predict(&[x], &mut [&mut y], &mut arena).unwrap();
    y
}

fn check(graph: &Graph<'_, Fixed<24>>, x: &[f32]) -> Result<(), TestCaseError> {
    let shapes = graph.sample_shapes(None).unwrap();
    let plan = graph.plan(None).unwrap();
    let naive = plan_without_reuse(graph, &shapes).unwrap();
    prop_assert!(plan.bytes >= plan.lower_bound);
    prop_assert!(plan.bytes <= naive.bytes);

    // Liveness from the graph, tensor by tensor: memory shared in place forms one group
    // (a pool's output shares its input's start; the rest is free once the input dies).
    let nodes = graph.nodes();
    let mut group: Vec<usize> = (0..nodes.len()).collect();
    let mut end: Vec<usize> = (0..nodes.len()).collect();
    for (i, n) in nodes.iter().enumerate() {
        for &input in &n.inputs {
            end[input as usize] = end[input as usize].max(i);
        }
        if plan.placements[i].in_place {
            group[i] = group[n.inputs[0] as usize];
        }
    }
    for &o in graph.output_nodes() {
        end[o as usize] = nodes.len();
    }
    for a in 0..nodes.len() {
        for b in a + 1..nodes.len() {
            let (pa, pb) = (plan.placements[a], plan.placements[b]);
            let live_together = b <= end[a] && pa.bytes > 0 && pb.bytes > 0;
            if live_together && group[a] != group[b] {
                prop_assert!(
                    pa.offset + pa.bytes <= pb.offset || pb.offset + pb.bytes <= pa.offset,
                    "tensors {a} and {b} overlap while both live"
                );
            }
        }
    }

    let out_len = shapes[graph.output_nodes()[0] as usize]
        .sample_elements()
        .unwrap();
    let planned = run(graph, &plan, x, out_len);
    let unplanned = run(graph, &naive, x, out_len);
    prop_assert_eq!(
        planned.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        unplanned.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn planned_vector_models_match_unplanned(features in 1u32..7, layers in proptest::collection::vec(vector_layer(), 1..10), seed in any::<u32>()) {
        let Some(mut model) = build(Input::new(&[features]), layers, &[]) else { return Ok(()) };
        let w = weights(model.count_params(), seed);
        model.set_weights(&w).unwrap();
        let x = weights(features as usize, seed ^ 7);
        check(&model, &x)?;
    }

    #[test]
    fn planned_image_models_match_unplanned(size in 3u32..7, channels in 1u32..3, layers in proptest::collection::vec(image_layer(), 1..6), seed in any::<u32>()) {
        let tail = [Flatten.into(), Dense::new(3).into()];
        let Some(mut model) = build(Input::new(&[size, size, channels]), layers, &tail) else { return Ok(()) };
        let w = weights(model.count_params(), seed);
        model.set_weights(&w).unwrap();
        let x = weights((size * size * channels) as usize, seed ^ 11);
        check(&model, &x)?;
    }
}

#[test]
fn a_pool_writes_over_its_input_and_frees_the_rest() {
    let mut model = Sequential::<Fixed<8>>::new();
    model.add(Input::new(&[8, 8, 2])).unwrap();
    model
        .add(Conv2D::new(4, [3, 3]).padding(Padding::Same))
        .unwrap();
    model.add(MaxPooling2D::new([2, 2])).unwrap();
    model.add(Conv2D::new(2, [1, 1])).unwrap();
    model.add(Flatten).unwrap();
    model.add(Dense::new(2)).unwrap();
    let plan = model.plan(None).unwrap();
    // The first Conv2D's 8×8×4 floats (1,024 bytes) are all that is ever live at once:
    // the pool's 4×4×4 go over their start, the 1×1 convolution's 4×4×2 into the rest.
    assert!(plan.placements[2].in_place);
    assert_eq!(plan.placements[3].offset, 256);
    assert_eq!((plan.bytes, plan.lower_bound), (1024, 1024));
    let w = weights(model.count_params(), 5);
    model.set_weights(&w).unwrap();
    let x = weights(8 * 8 * 2, 9);
    let shapes = model.sample_shapes(None).unwrap();
    let naive = plan_without_reuse(&model, &shapes).unwrap();
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(
        bits(run_fixed8(&model, &plan, &x)),
        bits(run_fixed8(&model, &naive, &x))
    );
}

#[test]
fn a_chain_of_pools_frees_the_block_after_the_last() {
    let mut model = Sequential::<Fixed<8>>::new();
    model.add(Input::new(&[8, 8, 1])).unwrap();
    model
        .add(Conv2D::new(16, [3, 3]).padding(Padding::Same))
        .unwrap();
    model.add(MaxPooling2D::new([2, 2])).unwrap();
    model.add(MaxPooling2D::new([2, 2])).unwrap();
    model.add(Conv2D::new(256, [1, 1])).unwrap();
    let plan = model.plan(None).unwrap();
    // 8×8×16 floats (4,096 bytes) until the second pool, its 2×2×16 (256) after: the 1×1
    // convolution's 2×2×256 (4,096) go at byte 256.
    assert!(plan.placements[2].in_place && plan.placements[3].in_place);
    assert_eq!(plan.placements[4].offset, 256);
    assert_eq!((plan.bytes, plan.lower_bound), (4352, 4352));
}

fn run_fixed8(graph: &Graph<'_, Fixed<8>>, plan: &Plan<Fixed<8>>, x: &[f32]) -> Vec<f32> {
    let mut arena = std::vec![0u8; plan.arena_bytes()];
    let mut y = std::vec![f32::NAN; 2];
    let mut prepared = crate::runtime::Prepared::default();
    graph
        .prepare_in(&mut prepared, None, Some(false), Some(plan))
        .unwrap();
    prepared.predict(&[x], &mut [&mut y], &mut arena).unwrap();
    y
}

#[test]
fn a_chain_of_activations_runs_in_place() {
    let mut model = Sequential::<Fixed<8>>::new();
    model.add(Input::new(&[4])).unwrap();
    model.add(Dense::new(6)).unwrap();
    model.add(Activation::Relu).unwrap();
    model.add(Dropout::new(0.5)).unwrap();
    model.add(Dense::new(2)).unwrap();
    let plan = model.plan(None).unwrap();
    // Dense(6) and the two in-place layers share 6 values; Dense(2) needs 2 more.
    assert_eq!(plan.bytes, 8 * 4);
    assert_eq!(plan.lower_bound, 8 * 4);
    assert!(plan.placements[2].in_place && plan.placements[3].in_place);
}

#[test]
fn too_small_arena_is_an_error_before_running() {
    let mut model = Sequential::<Fixed<4>>::new();
    model.add(Input::new(&[2])).unwrap();
    model.add(Dense::new(3)).unwrap();
    let w = [1.0f32; 9];
    model.set_weights(&w).unwrap();
    let mut out = [0.0f32; 3];
    let mut arena = [0u8; 4];
    let err = model
        .predict(&[&[1.0, 2.0]], &mut [&mut out], &mut arena)
        .unwrap_err();
    assert!(matches!(err, crate::Error::ArenaTooSmall { .. }), "{err}");
    assert_eq!(out, [0.0; 3]);
    let _ = Shape::SCALAR;
}

#[test]
fn a_short_arena_states_the_real_figures() {
    let mut model = Sequential::<Fixed<4>>::new();
    model.add(Input::new(&[2])).unwrap();
    model.add(Dense::new(8)).unwrap();
    let w = [0.5f32; 24];
    model.set_weights(&w).unwrap();
    assert_eq!(model.arena_bytes().unwrap(), 35);
    // 31 bytes starting one byte past a 4-byte boundary: 28 of them are usable for f32s.
    let mut backing = [0u32; 10];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut backing);
    let mut out = [0.0f32; 8];
    let err = model
        .predict(&[&[1.0, 2.0]], &mut [&mut out], &mut bytes[1..32])
        .unwrap_err();
    assert_eq!(
        std::format!("{err}"),
        "the arena has 31 bytes (28 usable once aligned) but this model needs 32: declare 35 bytes, which cover any alignment"
    );
    // The declared size works wherever the arena starts.
    for start in 0..4 {
        model
            .predict(
                &[&[1.0, 2.0]],
                &mut [&mut out],
                &mut bytes[start..start + 35],
            )
            .unwrap();
    }
}
