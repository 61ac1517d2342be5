//! `cargo +nightly fuzz run tflite_import`: see `src/harness.rs`. Three in four mutations
//! are structured (`src/structured.rs`: a field of the parsed model changed, the model
//! written back), the rest libFuzzer's byte mutations. Every 2^k-th and every 100,000th
//! run prints how many inputs reached each stage.
#![no_main]

use kiln_host_fuzz::structured::{mutate, write, Rng};
use kiln_host_fuzz::TfliteStage;
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static STAGES: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let stage = kiln_host_fuzz::tflite_import(data);
    STAGES[stage as usize].fetch_add(1, Relaxed);
    let runs = RUNS.fetch_add(1, Relaxed) + 1;
    if runs.is_power_of_two() || runs % 100_000 == 0 {
        let at_least =
            |s: TfliteStage| -> u64 { STAGES[s as usize..].iter().map(|c| c.load(Relaxed)).sum() };
        eprintln!(
            "#stages runs {runs}: parsed {} imported {} prepared {} predicted {}",
            at_least(TfliteStage::Parsed),
            at_least(TfliteStage::Imported),
            at_least(TfliteStage::Prepared),
            at_least(TfliteStage::Predicted),
        );
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(seed);
    if rng.below(4) != 0 {
        if let Ok(mut model) = kiln_host::formats::tflite::parse(&data[..size]) {
            for _ in 0..1 + rng.below(3) {
                mutate(&mut model, &mut rng);
            }
            let bytes = write(&model);
            if bytes.len() <= max_size {
                data[..bytes.len()].copy_from_slice(&bytes);
                return bytes.len();
            }
        }
    }
    fuzzer_mutate(data, size, max_size)
});
