//! How far kiln's transcendental activations are from the exact values, and from Keras.
//!
//! ```sh
//! cargo run --release -p kiln-host --example activation_error                        # libm
//! cargo run --release -p kiln-host --features kiln/fast-math --example activation_error
//! cargo run --release -p kiln-host --example activation_error -- --blobs DIR         # + M4 models
//! ```
//!
//! 1. Each activation over a grid of 1,537 points in [-12, 12] (and softmax over rows of 8),
//!    against the same formula in f64: the largest absolute error, and the largest error
//!    relative to `max(|exact|, 1e-3)`.
//! 2. The Keras fixtures `sequential/activations_dense` and `activations_layers` (every
//!    activation after a Dense, Keras's own outputs): the largest difference from Keras
//!    and how many values are outside the parity tolerance.
//! 3. With `--blobs DIR`: per activation, a model `Input(256) → Activation(f)` as a blob and
//!    `x.npy` to run with `kiln run --qemu m4` (instructions per element; `bench/activations.sh`).

use kiln::layers::Input;
use kiln::{Activation, Heap, Sequential};
use kiln_host::formats::npy;
use kiln_host::load::load_model;
use std::path::{Path, PathBuf};

const ACTIVATIONS: &[(&str, Activation)] = &[
    ("sigmoid", Activation::Sigmoid),
    ("tanh", Activation::Tanh),
    ("elu", Activation::Elu { alpha: 1.0 }),
    ("selu", Activation::Selu),
    ("gelu", Activation::Gelu { approximate: false }),
    ("gelu (approximate)", Activation::Gelu { approximate: true }),
    ("silu", Activation::Silu),
    ("softplus", Activation::Softplus),
    ("exponential", Activation::Exponential),
    ("mish", Activation::Mish),
    ("softmax", Activation::Softmax),
    ("log_softmax", Activation::LogSoftmax),
];

/// The activation in f64 (softmax: over `row`).
fn exact(a: Activation, row: &[f64]) -> Vec<f64> {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    let (alpha, scale) = (1.673_263_242_354_377_3, 1.050_700_987_355_480_5);
    let each = |f: &dyn Fn(f64) -> f64| row.iter().map(|&x| f(x)).collect();
    match a {
        Activation::Sigmoid => each(&sig),
        Activation::Tanh => each(&f64::tanh),
        Activation::Elu { alpha: a } => each(&|x| {
            if x > 0.0 {
                x
            } else {
                f64::from(a) * x.exp_m1()
            }
        }),
        Activation::Selu => each(&|x| scale * if x > 0.0 { x } else { alpha * x.exp_m1() }),
        Activation::Gelu { approximate: false } => {
            each(&|x| 0.5 * x * libm::erfc(-x / 2f64.sqrt()))
        }
        Activation::Gelu { approximate: true } => each(&|x| {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        }),
        Activation::Silu => each(&|x| x * sig(x)),
        Activation::Softplus => each(&softplus),
        Activation::Exponential => each(&f64::exp),
        Activation::Mish => each(&|x| x * softplus(x).tanh()),
        Activation::Softmax | Activation::LogSoftmax => {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|x| (x - m).exp()).sum();
            row.iter()
                .map(|x| {
                    if a == Activation::Softmax {
                        (x - m).exp() / sum
                    } else {
                        (x - m) - sum.ln()
                    }
                })
                .collect()
        }
        _ => row.to_vec(),
    }
}

fn grid_errors(a: Activation) -> (f64, f64) {
    let xs: Vec<f32> = (0..1537).map(|i| -12.0 + i as f32 / 64.0).collect();
    let (mut abs, mut rel) = (0f64, 0f64);
    for row in xs.chunks(8) {
        let mut got = row.to_vec();
        a.apply(&mut got, row.len());
        let want = exact(a, &row.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
        for (g, w) in got.iter().zip(&want) {
            if !w.is_finite() {
                continue;
            }
            let e = (f64::from(*g) - w).abs();
            abs = abs.max(e);
            rel = rel.max(e / w.abs().max(1e-3));
        }
    }
    (abs, rel)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    let fast = kiln_uses_fast_math();
    println!(
        "transcendental functions: {}",
        if fast {
            "micromath (fast-math)"
        } else {
            "libm"
        }
    );
    println!("\n| activation | max abs error | max rel error |\n|---|---:|---:|");
    for &(name, a) in ACTIVATIONS {
        let (abs, rel) = grid_errors(a);
        println!("| {name} | {abs:.2e} | {rel:.2e} |");
    }

    println!("\n| Keras fixture | values | max abs diff from Keras | outside the parity tolerance |\n|---|---:|---:|---:|");
    for dir in [
        "sequential/activations_dense",
        "sequential/activations_layers",
    ] {
        let dir = repo().join("tests/fixtures").join(dir);
        let model = load_model(dir.join("model.keras")).expect("fixture model");
        let x = npy::read_f32(dir.join("x.npy")).expect("x.npy");
        let y = npy::read_f32(dir.join("y.npy")).expect("y.npy");
        let graph = model.graph().expect("weights");
        let mut got = vec![0.0f32; y.data.len()];
        let mut arena = vec![0u8; graph.arena_bytes().expect("plan")];
        graph
            .predict(&[&x.data[..]], &mut [&mut got[..]], &mut arena)
            .expect("predict");
        let row: usize = y.shape[1..].iter().product();
        let (mut worst, mut outside) = (0f32, 0usize);
        for (g, w) in got.chunks(row).zip(y.data.chunks(row)) {
            let peak = w.iter().fold(1f32, |m, v| m.max(v.abs()));
            for (a, b) in g.iter().zip(w) {
                worst = worst.max((a - b).abs());
                if (a - b).abs() > 1e-6 * peak + 1e-5 * b.abs() {
                    outside += 1;
                }
            }
        }
        println!(
            "| {} | {} | {worst:.2e} | {outside} |",
            dir.file_name().unwrap().to_string_lossy(),
            got.len()
        );
    }

    let mut args = std::env::args().skip(1);
    if let (Some(flag), Some(out)) = (args.next(), args.next()) {
        assert_eq!(flag, "--blobs", "usage: activation_error [--blobs DIR]");
        write_blobs(Path::new(&out));
    }
}

/// Whether this build's activations are micromath's: exp(1/3) differs from libm's.
fn kiln_uses_fast_math() -> bool {
    let mut v = [1.0f32 / 3.0];
    Activation::Exponential.apply(&mut v, 1);
    v[0] != libm::expf(1.0 / 3.0)
}

fn write_blobs(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the blob directory");
    let x: Vec<f32> = (0..256).map(|i| -4.0 + i as f32 / 32.0).collect();
    npy::write_f32(dir.join("x.npy"), &[1, 256], &x).expect("write x.npy");
    let all = std::iter::once(("linear", Activation::Linear)).chain(ACTIVATIONS.iter().copied());
    for (name, a) in all {
        let mut model = Sequential::<Heap>::new();
        model.add(Input::new(&[256])).unwrap();
        model.add(a).unwrap();
        model.set_weights(&[]).unwrap();
        let host = kiln_host::HostGraph::new(model.graph().clone().without_weights(), Vec::new());
        let blob = kiln_host::blob::encode(&host).expect("blob");
        let file = dir.join(format!("{}.kiln", name.replace([' ', '(', ')'], "")));
        std::fs::write(&file, blob).expect("write the blob");
    }
    println!(
        "\nwrote {} blobs and x.npy to {}",
        ACTIVATIONS.len() + 1,
        dir.display()
    );
}
