//! The fuzz target `load_predict` (core/fuzz) on stable Rust, in the normal test run: every
//! file of its committed corpus goes through the target's own code (`harness.rs`, included
//! by path), with and without the CRC repair; then deterministic corruptions of the seed
//! models' blobs (truncations, bit flips) must be refused, and never panic.

#[path = "../../core/fuzz/src/harness.rs"]
mod harness;

use harness::{load_predict, load_predict_blob, repair_crc, Outcome};
use kiln::format::HEADER_BYTES;
use kiln_host::blob::encode;
use kiln_host::load::load_model;
use kiln_tests::{fixtures, model_file};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The models `core/fuzz/seeds.sh` exports as seeds.
const SEEDS: &[&str] = &[
    "sequential/relu_layers",
    "sequential/reshape",
    "sequential/depthwise",
    "sequential/global_pool",
    "sequential/conv_1ch",
    "sequential/bn_conv",
    "sequential/layer_range",
    "sequential/pool_max",
    "functional/merges",
    "functional/residual_cnn",
    "functional/seed_full",
    "functional/two_io",
    "functional/nested_functional_shared",
    "functional/nested_deep",
    "layers/conv1d_causal",
    "layers/pool1d",
    "layers/global_pool1d",
    "layers/separable_conv2d",
    "layers/zero_padding2d",
    "layers/cropping2d",
    "layers/upsampling2d",
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/fuzz/corpus/load_predict")
}

/// Runs `f` on a thread with a roomy stack (graphs are held by value, and this is a debug
/// build), turning a panic into its message.
fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, f)
            .expect("spawn a test thread")
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic)".into())
}

/// `f(input)` under `catch_unwind`: the outcome, or the panic's message.
fn guarded(f: impl FnOnce() -> Outcome) -> Result<Outcome, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

#[derive(Default)]
struct Tally {
    runs: usize,
    rejected: usize,
    loaded: usize,
    predicted_ok: usize,
    panics: Vec<String>,
}

impl Tally {
    fn add(&mut self, what: impl FnOnce() -> String, result: Result<Outcome, String>) {
        self.runs += 1;
        match result {
            Ok(Outcome::Rejected(_)) => self.rejected += 1,
            Ok(outcome @ Outcome::Loaded { .. }) => {
                assert!(outcome.is_loaded());
                self.loaded += 1;
                if let Outcome::Loaded {
                    predicted: Some(Ok(_)),
                } = outcome
                {
                    self.predicted_ok += 1;
                }
            }
            Err(message) => self.panics.push(format!("{}: {message}", what())),
        }
    }

    fn assert_no_panics(&self, label: &str) {
        eprintln!(
            "{label}: {} runs, {} rejected, {} loaded ({} predicted)",
            self.runs, self.rejected, self.loaded, self.predicted_ok
        );
        assert!(
            self.panics.is_empty(),
            "{label}: {} of {} inputs panicked:\n{}",
            self.panics.len(),
            self.runs,
            self.panics.join("\n")
        );
    }
}

#[test]
fn fuzz_corpus_replays_without_panics() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", corpus_dir().display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    let tally = on_big_stack(|| {
        let mut tally = Tally::default();
        for file in &files {
            let data = std::fs::read(file).unwrap();
            let name = || file.file_name().unwrap().to_string_lossy().into_owned();
            // As the fuzzer ran it, then with the other mode (CRC repaired or not).
            tally.add(name, guarded(|| load_predict(&data)));
            let mut flipped = data.clone();
            if let Some(mode) = flipped.first_mut() {
                *mode ^= 1;
            }
            tally.add(
                || format!("{} (mode bit flipped)", name()),
                guarded(|| load_predict(&flipped)),
            );
        }
        tally
    });
    tally.assert_no_panics("fuzz corpus");
    // The corpus holds the seed models, which load and run.
    assert!(tally.predicted_ok >= 10, "{}", tally.predicted_ok);
}

/// xorshift64: the same corruptions on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn corrupted_seed_blobs_are_refused_never_panic() {
    let blobs: Vec<(&str, Vec<u8>)> = SEEDS
        .iter()
        .map(|m| {
            let (suite, name) = m.split_once('/').unwrap();
            let model = load_model(model_file(&fixtures(suite).join(name)))
                .unwrap_or_else(|e| panic!("{m}: {e}"));
            (*m, encode(&model).unwrap_or_else(|e| panic!("{m}: {e}")))
        })
        .collect();
    let (refused, repaired) = on_big_stack(|| {
        let mut refused = Tally::default();
        let mut repaired = Tally::default();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for (m, blob) in &blobs {
            // The intact blob loads, with either mode byte, and runs when its input shapes
            // are known (seed_full's are not).
            for mode in [0u8, 1] {
                let data: Vec<u8> = std::iter::once(mode).chain(blob.iter().copied()).collect();
                match load_predict(&data) {
                    Outcome::Loaded { predicted } => match predicted {
                        Some(Ok(batch)) => assert_eq!(batch, 1, "{m}"),
                        Some(Err(e)) => panic!("{m}: predict failed: {e}"),
                        None => assert_eq!(*m, "functional/seed_full"),
                    },
                    Outcome::Rejected(e) => panic!("{m} (mode {mode}): {e}"),
                }
            }
            for _ in 0..20 {
                let len = rng.below(blob.len());
                let result = guarded(|| load_predict_blob(&blob[..len]));
                expect_refused(m, &format!("truncated to {len}"), &result);
                refused.add(|| format!("{m} truncated to {len}"), result);
            }
            for _ in 0..20 {
                let (at, bit) = (rng.below(blob.len()), rng.below(8));
                let mut copy = blob.clone();
                copy[at] ^= 1 << bit;
                let result = guarded(|| load_predict_blob(&copy));
                // A header that overstates the arena loads (a later kiln may plan tighter
                // than the one that wrote the blob); any other flip is refused.
                let arena = |b: &[u8]| u32::from_le_bytes(b[20..24].try_into().unwrap());
                if (20..24).contains(&at) && arena(&copy) > arena(blob) {
                    assert!(
                        matches!(result, Ok(Outcome::Loaded { .. })),
                        "{m} byte {at} bit {bit}: an overstated arena is refused"
                    );
                    continue;
                }
                expect_refused(m, &format!("byte {at} bit {bit}"), &result);
                refused.add(|| format!("{m} byte {at} bit {bit}"), result);
            }
            // Flips in the graph behind a repaired CRC reach the decoder and the validator:
            // refused, or a valid (different) model that runs; never a panic.
            let graph_len = u32::from_le_bytes(blob[8..12].try_into().unwrap()) as usize;
            for _ in 0..20 {
                let (at, bit) = (HEADER_BYTES + rng.below(graph_len), rng.below(8));
                let mut copy = blob.clone();
                copy[at] ^= 1 << bit;
                repair_crc(&mut copy);
                repaired.add(
                    || format!("{m} byte {at} bit {bit}, CRC repaired"),
                    guarded(|| load_predict_blob(&copy)),
                );
            }
            // Several flips anywhere after the header, CRC repaired.
            for _ in 0..10 {
                let mut copy = blob.clone();
                let flips: Vec<(usize, usize)> = (0..2 + rng.below(4))
                    .map(|_| {
                        (
                            HEADER_BYTES + rng.below(blob.len() - HEADER_BYTES),
                            rng.below(8),
                        )
                    })
                    .collect();
                for &(at, bit) in &flips {
                    copy[at] ^= 1 << bit;
                }
                repair_crc(&mut copy);
                repaired.add(
                    || format!("{m} flips {flips:?}, CRC repaired"),
                    guarded(|| load_predict_blob(&copy)),
                );
            }
        }
        (refused, repaired)
    });
    refused.assert_no_panics("truncated or flipped blobs");
    repaired.assert_no_panics("flipped blobs with a repaired CRC");
    assert_eq!(refused.rejected, refused.runs);
    assert!(
        refused.runs + repaired.runs >= 500,
        "{}",
        refused.runs + repaired.runs
    );
    // Most flips in a graph are caught by the decoder or the validator.
    assert!(
        repaired.rejected > repaired.runs / 3,
        "{}",
        repaired.rejected
    );
}

fn expect_refused(model: &str, what: &str, result: &Result<Outcome, String>) {
    match result {
        Ok(Outcome::Rejected(kiln::Error::Blob(_))) | Err(_) => {}
        Ok(Outcome::Rejected(e)) => panic!("{model} {what}: refused, but not as a blob error: {e}"),
        Ok(Outcome::Loaded { .. }) => panic!("{model} {what}: a corrupted blob loaded"),
    }
}
