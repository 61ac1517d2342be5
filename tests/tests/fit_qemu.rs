//! `kiln fit --qemu`: the same training on the emulated boards gives the bits the host
//! gives. One fixture (`fit/mlp_cce_probs_momentum`: Dense → softmax, categorical
//! cross-entropy, SGD with momentum, accuracy), 2 epochs of batches of 4 in order, trained
//! with the core's trainer on the host (`kiln fit`'s path) and in the training runner
//! firmware on the Cortex-M4F (hard float) and the Cortex-M3 (soft float) under QEMU
//! (`kiln fit --qemu`'s path): the trained weight buffers, the blobs written from them and
//! every epoch's logs must be identical.
//!
//! QEMU and the ARM targets are what tests/run.sh installs before it runs the tests, with
//! `KILN_REQUIRE_QEMU=1`: there a missing QEMU fails the test. Elsewhere (a plain
//! `cargo test` on a machine without them) the test says so and passes.

use kiln::train::{Data, FitOptions};
use kiln_host::formats::keras_archive::{open_model_file, ModelFile};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use kiln_host::qemu::{self, Board, RunError};
use kiln_host::train::{self, CompileConfig};
use std::path::PathBuf;
use std::sync::Once;

fn fixture() -> PathBuf {
    kiln_tests::fixtures("fit").join("mlp_cce_probs_momentum")
}

/// Whether a missing QEMU or Rust target must fail the test (tests/run.sh, CI).
fn required() -> bool {
    ["KILN_REQUIRE_QEMU", "CI"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty() && s != "0"))
}

/// The runners are built in the build tree (as tests/run.sh's `kiln run` steps build
/// theirs), unless `KILN_CACHE_DIR` says elsewhere.
fn cache_in_target_dir() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("KILN_CACHE_DIR").is_none() {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/kiln-cache");
            std::env::set_var("KILN_CACHE_DIR", dir);
        }
    });
}

fn fit_on(board: Board) {
    cache_in_target_dir();
    let dir = fixture();
    let host = load_model(dir.join("model.keras")).unwrap();
    let outputs = train::output_names(&host);
    let ModelFile::Archive(archive) = open_model_file(dir.join("model.keras")).unwrap() else {
        panic!("{}: not a .keras archive", dir.display());
    };
    // `kiln fit MODEL --x x.npy --y y.npy --batch-size 4 --epochs 2 --no-shuffle`: the
    // compile configuration of the .keras file.
    let config: CompileConfig = CompileConfig::from_keras(&archive.config, &outputs)
        .unwrap()
        .expect("the fixture was saved after compile()");
    let options = FitOptions {
        batch_size: 4,
        epochs: 2,
        shuffle: false,
        seed: 0,
    };
    let x = npy::read_f32(dir.join("x.npy")).unwrap().data;
    let y = npy::read_f32(dir.join("y.npy")).unwrap().data;
    let data = Data { x: &[&x], y: &[&y] };

    let on_host = train::fit(&host, &config, data, &options, None, &mut ()).unwrap();
    let report = match qemu::fit(board, &host, &config, data, &options, None) {
        Ok(report) => report,
        Err(RunError::Missing(what)) if !required() => {
            eprintln!("skipped: {what} (tests/run.sh installs it and requires it)");
            return;
        }
        Err(e) => panic!("kiln fit --qemu {}: {e}", board.name()),
    };

    let host_weights = on_host.model.graph().unwrap().weights().to_vec();
    assert_eq!(report.weights.len(), host_weights.len());
    let differing: Vec<usize> = report
        .weights
        .chunks_exact(4)
        .zip(host_weights.chunks_exact(4))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i)
        .collect();
    assert!(
        differing.is_empty(),
        "{}: {} of {} trained weights differ from the host's (first: index {})",
        board.name(),
        differing.len(),
        host_weights.len() / 4,
        differing[0]
    );
    // What `kiln fit -o trained.kiln` writes, from the device's weights and the host's.
    let device_model = train::trained(&host, &report.weights);
    assert_eq!(
        kiln_host::blob::encode(&device_model).unwrap(),
        kiln_host::blob::encode(&on_host.model).unwrap(),
        "{}: the written blobs differ",
        board.name()
    );
    assert_eq!(report.iterations, on_host.iterations);
    assert_eq!(report.iterations, 6);
    assert_eq!(
        report.epochs,
        on_host.epochs,
        "{}: the logs differ",
        board.name()
    );
    assert!(report.fit_instructions > 0);
    assert_eq!(report.arena_bytes, {
        let graph = host.graph().unwrap();
        graph
            .train_plan(&config.compile())
            .unwrap()
            .train_arena_bytes()
    });
    assert!(
        report
            .log
            .contains("Epoch 2/2\n3/3 - loss: 0.8984 - accuracy: 0.7000\n"),
        "{}: the device's epoch lines:\n{}",
        board.name(),
        report.log
    );
    eprintln!(
        "kiln fit --qemu {}: bit-identical to the host; {} instructions per SGD step, arena {} bytes, fit stack {} bytes",
        board.name(),
        report.instructions_per_step(),
        report.arena_bytes,
        report.fit_stack
    );
}

#[test]
fn fit_on_the_cortex_m4f_gives_the_hosts_bits() {
    fit_on(Board::M4);
}

#[test]
fn fit_on_the_cortex_m3_gives_the_hosts_bits() {
    fit_on(Board::M3);
}
