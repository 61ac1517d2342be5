//! The flash format on every fixture model: export, load, and the same bits out of predict;
//! then thousands of blobs whose graph bytes are mutated *with a valid checksum*, so the
//! decoder and the validator (not the CRC) have to catch them — never a panic.

use kiln::format::{self, HEADER_BYTES};
use kiln_host::blob::{decode, encode};
use kiln_host::load::load_model;
use kiln_tests::parity::arrays;
use kiln_tests::{model_dirs, model_file};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn run(model: &kiln_host::HostGraph, dir: &std::path::Path) -> Option<Vec<Vec<u32>>> {
    let xs = arrays(dir, "x");
    if xs.is_empty() {
        return None;
    }
    let graph = model.graph().unwrap();
    let shapes: Vec<kiln::Shape> = xs
        .iter()
        .map(|x| {
            kiln::Shape::new(&x.shape.iter().map(|&d| Some(d as u32)).collect::<Vec<_>>()).unwrap()
        })
        .collect();
    let sample = graph.sample_shapes(Some(&shapes)).unwrap();
    let batch = xs[0].shape[0];
    let mut outs: Vec<Vec<f32>> = graph
        .output_nodes()
        .iter()
        .map(|&n| vec![0.0; sample[n as usize].sample_elements().unwrap() * batch])
        .collect();
    let mut arena = vec![0u8; graph.plan(Some(&shapes)).unwrap().arena_bytes()];
    let inputs: Vec<&[f32]> = xs.iter().map(|x| x.data.as_slice()).collect();
    let mut slices: Vec<&mut [f32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    graph
        .predict_with_shapes(Some(&shapes), &inputs, &mut slices, &mut arena)
        .unwrap();
    Some(
        outs.into_iter()
            .map(|o| o.into_iter().map(f32::to_bits).collect())
            .collect(),
    )
}

#[test]
fn every_fixture_round_trips_bit_for_bit() {
    let mut checked = 0;
    for suite in ["sequential", "functional"] {
        for dir in model_dirs(suite) {
            let original = load_model(model_file(&dir)).unwrap();
            if !original.has_weights() || original.structure().input_nodes().is_empty() {
                continue;
            }
            let blob = encode(&original).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let loaded = decode(&blob).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert_eq!(loaded.weights(), original.weights(), "{}", dir.display());
            let text = |m: &kiln_host::HostGraph| {
                let mut t = String::new();
                m.structure()
                    .summary(&kiln::SummaryOptions::default(), &mut |l| {
                        t.push_str(&format!("{l}\n"))
                    })
                    .unwrap();
                t
            };
            assert_eq!(text(&loaded), text(&original), "{}", dir.display());
            assert_eq!(
                run(&loaded, &dir),
                run(&original, &dir),
                "{}",
                dir.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} fixture models round-tripped");
}

/// A blob with `bytes[at] ^= mask` in its graph and the checksum recomputed.
fn mutate(blob: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut copy = blob.to_vec();
    copy[at] ^= mask;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&copy[HEADER_BYTES..]);
    copy[24..28].copy_from_slice(&crc.to_le_bytes());
    copy
}

#[test]
fn mutated_graphs_with_valid_checksums_never_panic() {
    let mut runs = 0;
    let mut loaded_ok = 0;
    let mut panics = Vec::new();
    let mut state = 0x9e3779b97f4a7c15u64;
    for suite in ["sequential", "functional"] {
        for dir in model_dirs(suite).into_iter().step_by(2) {
            let original = load_model(model_file(&dir)).unwrap();
            if !original.has_weights() {
                continue;
            }
            let blob = encode(&original).unwrap();
            let graph_len = u32::from_le_bytes(blob[8..12].try_into().unwrap()) as usize;
            for _ in 0..150 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = HEADER_BYTES + (state as usize % graph_len.max(1));
                let mask = 1u8 << ((state >> 32) % 8);
                let copy = mutate(&blob, at, mask);
                runs += 1;
                let result = catch_unwind(AssertUnwindSafe(|| {
                    if let Ok(m) = decode(&copy) {
                        let g = m.structure();
                        let _ = g.summary(&kiln::SummaryOptions::default(), &mut |l| {
                            let _ = l.to_string();
                        });
                        if let (Ok(plan), Ok(shapes)) = (g.plan(None), g.sample_shapes(None)) {
                            if plan.arena_bytes() < 1 << 24 {
                                let graph = m.graph().unwrap();
                                let ins: Vec<Vec<f32>> = graph
                                    .input_nodes()
                                    .iter()
                                    .map(|&n| {
                                        vec![0.5; shapes[n as usize].sample_elements().unwrap()]
                                    })
                                    .collect();
                                let mut outs: Vec<Vec<f32>> = graph
                                    .output_nodes()
                                    .iter()
                                    .map(|&n| {
                                        vec![0.0; shapes[n as usize].sample_elements().unwrap()]
                                    })
                                    .collect();
                                let mut arena = vec![0u8; plan.arena_bytes()];
                                let ins: Vec<&[f32]> = ins.iter().map(|v| v.as_slice()).collect();
                                let mut outs: Vec<&mut [f32]> =
                                    outs.iter_mut().map(|v| v.as_mut_slice()).collect();
                                let _ = graph.predict(&ins, &mut outs, &mut arena);
                            }
                        }
                        true
                    } else {
                        false
                    }
                }));
                match result {
                    Ok(true) => loaded_ok += 1,
                    Ok(false) => {}
                    Err(_) => panics.push(format!("{} byte {at} ^ {mask:#04x}", dir.display())),
                }
            }
        }
    }
    assert!(runs > 2000, "{runs}");
    assert!(
        panics.is_empty(),
        "{} of {runs} mutated blobs panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    // Most single-bit changes to a graph are caught; some (a name's letter, a float in a
    // config) give a different but valid model, which must then run cleanly.
    eprintln!(
        "{runs} mutated blobs: {loaded_ok} still valid models, {} rejected",
        runs - loaded_ok
    );
    let _ = format::VERSION;
}
