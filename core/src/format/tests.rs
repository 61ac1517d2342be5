//! Round trips and corrupted blobs.

extern crate std;

use super::*;
use crate::graph::Fixed;
use crate::layers::{Add, Conv2D, Dense, Flatten, Input, LayerBuilder, MaxPooling2D};
use crate::{Activation, Functional, Sequential};
use std::vec;
use std::vec::Vec;

fn blob_of<S: crate::Storage>(graph: &Graph<'_, S>) -> Vec<u8> {
    let mut out = vec![0u8; 1 << 16];
    let n = write(graph, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Copies a blob into 16-aligned memory, as `AlignedBlob` does in flash.
fn aligned(bytes: &[u8]) -> Vec<u128> {
    let mut words = vec![0u128; bytes.len().div_ceil(16)];
    bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    words
}

fn cnn() -> (Sequential<'static, Fixed<8>>, Vec<f32>) {
    let mut m = Sequential::<Fixed<8>>::new();
    m.add(Input::new(&[6, 6, 1])).unwrap();
    m.add(Conv2D::new(2, [3, 3]).activation(Activation::Relu))
        .unwrap();
    m.add(MaxPooling2D::new([2, 2])).unwrap();
    m.add(Flatten).unwrap();
    m.add(Dense::new(3)).unwrap();
    let w = (0..m.count_params())
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.1)
        .collect();
    (m, w)
}

#[test]
fn round_trip_predicts_the_same_bits() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let bytes = blob_of(&model);
    let words = aligned(&bytes);
    let loaded: Graph<'_, Fixed<8>> = load(&bytemuck::cast_slice(&words)[..bytes.len()]).unwrap();
    let x: Vec<f32> = (0..36).map(|i| i as f32 * 0.1 - 1.0).collect();
    let run = |g: &Graph<'_, Fixed<8>>| {
        let mut y = [0.0f32; 3];
        let mut arena = vec![0u8; g.arena_bytes().unwrap()];
        g.predict(&[&x], &mut [&mut y], &mut arena).unwrap();
        y.map(f32::to_bits)
    };
    assert_eq!(run(&model), run(&loaded));
    assert_eq!(loaded.name(), "sequential");
    assert_eq!(loaded.count_params(), model.count_params());
    // The weights are borrowed from the blob, not copied.
    let start = bytes.len() - model.weight_bytes();
    assert_eq!(
        loaded.weights().as_ptr() as usize,
        words.as_ptr() as usize + start
    );
}

#[test]
fn functional_models_round_trip() {
    let mut ws = Functional::<Fixed<8>>::new();
    let a = ws.input(Input::new(&[4]).name("a")).unwrap();
    let b = ws.input(Input::new(&[4]).name("b")).unwrap();
    let sum = ws.call(Add, &[a, b]).unwrap();
    let out = ws.call(Dense::new(2), &[sum]).unwrap();
    let mut model = ws.model(&[a, b], &[out]).unwrap();
    let w = [0.5f32; 10];
    model.set_weights(&w).unwrap();
    let bytes = blob_of(&model);
    let words = aligned(&bytes);
    let loaded: Graph<'_, Fixed<8>> = load(&bytemuck::cast_slice(&words)[..bytes.len()]).unwrap();
    let mut text = std::string::String::new();
    loaded
        .summary(&crate::SummaryOptions::default(), &mut |l| {
            text.push_str(&std::format!("{l}\n"));
        })
        .unwrap();
    assert!(text.contains("│ add (Add)"), "{text}");
}

#[test]
fn every_truncation_and_bit_flip_is_a_clean_error() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let bytes = blob_of(&model);
    for len in 0..bytes.len() {
        let words = aligned(&bytes[..len]);
        let r: Result<Graph<'_, Fixed<8>>, _> = load(&bytemuck::cast_slice(&words)[..len]);
        assert!(
            matches!(r, Err(Error::Blob(_))),
            "truncated to {len}: {r:?}"
        );
    }
    // Flips in the header or payload are caught by the checks or the CRC, but for one
    // that raises the recorded arena: a blob may overstate it (a later kiln plans tighter),
    // and runs check the arena they are given against the plan, not against the header.
    let recorded = read_u32(&bytes, 20);
    for bit in (0..bytes.len() * 8).step_by(7) {
        let mut copy = bytes.clone();
        copy[bit / 8] ^= 1 << (bit % 8);
        let words = aligned(&copy);
        let r: Result<Graph<'_, Fixed<8>>, _> = load(&bytemuck::cast_slice(&words)[..copy.len()]);
        if (160..192).contains(&bit) && read_u32(&copy, 20) > recorded {
            let loaded = r.unwrap_or_else(|e| panic!("bit {bit}: {e}"));
            assert_eq!(loaded.arena_bytes().unwrap(), recorded as usize);
        } else {
            assert!(r.is_err(), "bit {bit} flipped still loads");
        }
    }
}

#[test]
fn header_errors_say_what_is_wrong() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let mut bytes = blob_of(&model);
    bytes[4] = 9;
    let words = aligned(&bytes);
    let err = load::<Fixed<8>>(&bytemuck::cast_slice(&words)[..bytes.len()]).unwrap_err();
    assert_eq!(err, Error::Blob(BlobError::Version { found: 9 }));
    assert!(std::format!("{err}").contains("version 9"));
    // One byte off alignment: the weights cannot be borrowed.
    let good = blob_of(&model);
    let mut shifted = vec![0u8; good.len() + 1];
    shifted[1..].copy_from_slice(&good);
    let words = aligned(&shifted);
    let err = load::<Fixed<8>>(&bytemuck::cast_slice(&words)[1..shifted.len()]).unwrap_err();
    assert_eq!(err, Error::Blob(BlobError::Misaligned));
}

/// Rewrites the CRC after a change, so that the change reaches the checks behind it.
fn repair_crc(bytes: &mut [u8]) {
    let end = read_u32(bytes, 12) as usize + read_u32(bytes, 16) as usize;
    let crc = CRC.checksum(&bytes[HEADER_BYTES..end]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
}

fn load_err(bytes: &[u8]) -> Error {
    let words = aligned(bytes);
    load::<Fixed<8>>(&bytemuck::cast_slice(&words)[..bytes.len()]).unwrap_err()
}

#[test]
fn bytes_inside_graph_len_that_are_not_the_graph_are_refused() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let good = blob_of(&model);
    let graph_len = read_u32(&good, 8) as usize;
    let offset = read_u32(&good, 12) as usize;
    let padding = offset - HEADER_BYTES - graph_len;
    assert!(padding > 0, "the cnn blob has padding to spend");
    // Claim one more byte of graph: that byte (a zero of the padding) is not the graph's.
    let mut bytes = good.clone();
    bytes[8..12].copy_from_slice(&(graph_len as u32 + 1).to_le_bytes());
    repair_crc(&mut bytes);
    assert_eq!(
        load_err(&bytes),
        Error::Blob(BlobError::TrailingBytes {
            graph_len: graph_len + 1,
            decoded: graph_len
        })
    );
    // Junk in the padding is refused too.
    let mut bytes = good.clone();
    bytes[HEADER_BYTES + graph_len] = 0xAA;
    repair_crc(&mut bytes);
    assert_eq!(
        load_err(&bytes),
        Error::Blob(BlobError::Header {
            what: "the padding after the graph is not zero"
        })
    );
}

#[test]
fn a_graph_too_small_for_the_blob_names_the_capacity_needed() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let bytes = blob_of(&model);
    let words = aligned(&bytes);
    let err = load::<Fixed<2>>(&bytemuck::cast_slice(&words)[..bytes.len()]).unwrap_err();
    assert_eq!(
        err,
        Error::Blob(BlobError::Capacity {
            what: "layers",
            needed: 5,
            capacity: 2
        })
    );
    assert_eq!(
        std::format!("{err}"),
        "the blob has 5 layers but this graph holds at most 2: load it into a Fixed<5> graph or larger (MAX_LAYERS in the Rust file `kiln export --rust` writes)"
    );
}

#[test]
fn header_faults_are_not_called_graph_faults() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let mut bytes = blob_of(&model);
    bytes[28] = 1;
    let err = load_err(&bytes);
    assert_eq!(
        std::format!("{err}"),
        "the blob's header is invalid: the reserved bytes 28..32 are not zero"
    );
    let mut bytes = blob_of(&model);
    let offset = read_u32(&bytes, 12);
    bytes[12..16].copy_from_slice(&(offset + 16).to_le_bytes());
    assert!(matches!(
        load_err(&bytes),
        Error::Blob(BlobError::Header { .. })
    ));
}

#[test]
fn an_arena_past_4_gib_is_refused_at_write_naming_the_layer() {
    use crate::layers::Add;
    // Two 2 GiB tensors alive while their sum is made: 6 GiB of arena.
    let mut ws = Functional::<Fixed<8>>::new();
    let x = ws.input(Input::new(&[16384, 2])).unwrap();
    let a = ws.call(Dense::new(32768).name("wide_a"), &[x]).unwrap();
    let b = ws.call(Dense::new(32768).name("wide_b"), &[x]).unwrap();
    let sum = ws.call(Add, &[a, b]).unwrap();
    let mut model = ws.model(&[x], &[sum]).unwrap();
    let w = vec![0.0f32; model.weight_bytes() / 4];
    model.set_weights(Vec::leak(w)).unwrap();
    let mut out = vec![0u8; 1 << 20];
    let err = write(&model, &mut out).unwrap_err();
    assert_eq!(
        err,
        Error::ArenaTooLarge {
            layer: crate::name::for_error("wide_a"),
            tensor_bytes: 1 << 31,
            arena_bytes: 3 * (1 << 31) + 3,
        }
    );
}

#[test]
fn a_blob_recording_more_arena_than_planned_loads_and_less_is_refused() {
    let (mut model, w) = cnn();
    model.set_weights(Vec::leak(w)).unwrap();
    let good = blob_of(&model);
    let planned = read_u32(&good, 20);
    assert!(planned > 0);
    // A blob from a kiln that planned less tightly: its firmware's ARENA_BYTES still does.
    let mut more = good.clone();
    more[20..24].copy_from_slice(&(planned + 64).to_le_bytes());
    let words = aligned(&more);
    let loaded = load::<Fixed<8>>(&bytemuck::cast_slice(&words)[..more.len()]).unwrap();
    assert_eq!(loaded.arena_bytes().unwrap(), planned as usize);
    // One byte short would leave the firmware's arena too small.
    let mut less = good.clone();
    less[20..24].copy_from_slice(&(planned - 1).to_le_bytes());
    let err = load_err(&less);
    assert_eq!(
        err,
        Error::Blob(BlobError::Arena {
            stored: planned - 1,
            planned: planned as usize
        })
    );
    assert!(std::format!("{err}").ends_with("export the model again"));
}

/// A model input that no output depends on has no layer in the model (Keras leaves its
/// InputLayer out of `model.layers`). `write` wrote such a graph, and `load` refused it
/// ("a node's layer does not exist"): now `write` refuses it (found by the host's
/// `tflite_import` fuzz target, on a `.tflite` whose output is one of its two inputs).
#[test]
fn a_model_input_no_output_uses_is_not_written() {
    let mut f = Functional::<Fixed<4>>::new();
    let a = f.input(Input::new(&[3])).unwrap();
    let b = f.input(Input::new(&[2])).unwrap();
    let y = f.call(Dense::new(1), &[a]).unwrap();
    let mut model = f.model(&[a, b], &[y]).unwrap();
    let weights = [0.5f32; 4];
    model.set_weights(&weights).unwrap();
    let mut out = vec![0u8; 1 << 12];
    let e = write(&model, &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidConfig {
                reason: "a model input that no output depends on cannot be written to a blob",
                ..
            }
        ),
        "{e}"
    );
}
