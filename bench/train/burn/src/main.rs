//! One epoch of training in burn, the workload of kiln's `host-tools/benches/fit.rs`: the
//! MLP 784-128-10 (Dense 128 relu, Dense 10 softmax), 1,000 samples, batch 32 (32 steps,
//! the last of 8), SGD lr 0.01 momentum 0.9, categorical cross-entropy on the softmax's
//! probabilities (clipped to [1e-7, 1 - 1e-7] as Keras does). The same weights, inputs and
//! labels as that bench (its LCG), so the first epoch's loss can be compared with Keras's.
//!
//!   kiln-bench-burn ndarray|flex [EPOCHS]
//!
//! One warm-up epoch, then EPOCHS (default 15) timed ones; prints one JSON line with the
//! median. Built without burn's `rayon` feature: neither backend has a thread pool (see
//! bench/train.sh).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use std::time::Instant;

const N: usize = 1000;
const BATCH: usize = 32;
const LR: f64 = 0.01;

/// Deterministic values in [-1, 1): the bench's LCG.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1 << 23) as f32 - 1.0
        })
        .collect()
}

#[derive(Module, Debug)]
struct Mlp {
    dense1: Linear,
    dense2: Linear,
}

impl Mlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        softmax(self.dense2.forward(relu(self.dense1.forward(x))), 1)
    }
}

/// A Dense layer with Keras's kernel [d_in, d_out] and bias, taken from `w`.
fn dense(w: &mut &[f32], d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out).init(device);
    let (kernel, rest) = w.split_at(d_in * d_out);
    let (bias, rest) = rest.split_at(d_out);
    *w = rest;
    layer.weight = Param::from_data(TensorData::new(kernel.to_vec(), [d_in, d_out]), device);
    layer.bias = Some(Param::from_data(TensorData::new(bias.to_vec(), [d_out]), device));
    layer
}

fn main() {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "ndarray".into());
    let epochs: usize = args.next().map_or(15, |e| e.parse().expect("EPOCHS"));
    #[allow(deprecated)] // burn-ndarray is deprecated in favour of burn-flex
    let device = match backend.as_str() {
        "ndarray" => Device::ndarray(),
        "flex" => Device::flex(),
        other => panic!("unknown backend {other}: ndarray or flex"),
    }
    .autodiff();

    let weights: Vec<f32> = values(784 * 128 + 128 + 128 * 10 + 10, 1)
        .into_iter()
        .map(|w| w * 0.05)
        .collect();
    let mut w = weights.as_slice();
    let mut model = Mlp {
        dense1: dense(&mut w, 784, 128, &device),
        dense2: dense(&mut w, 128, 10, &device),
    };
    let x: Vec<f32> = values(N * 784, 2)
        .into_iter()
        .map(|v| (v + 1.0) * 0.5)
        .collect();
    let mut y = vec![0.0f32; N * 10];
    for (i, row) in y.chunks_mut(10).enumerate() {
        row[i * 7 % 10] = 1.0;
    }
    // Keras's SGD(momentum=0.9): v = 0.9 v - lr g, w += v; burn's with dampening 0 is
    // v = 0.9 v + g, w -= lr v: the same steps for a constant learning rate.
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
        }))
        .init();

    // One epoch, unshuffled, as Keras's fit(shuffle=False): each batch copied from the host
    // arrays; returns the batches' losses averaged over the samples (weighted by batch size:
    // the epoch loss Keras reports).
    let mut epoch = |model: Mlp| -> (Mlp, f32) {
        let mut model = model;
        let mut total: Option<Tensor<1>> = None;
        for start in (0..N).step_by(BATCH) {
            let b = BATCH.min(N - start);
            let xb = Tensor::<2>::from_data(
                TensorData::new(x[start * 784..(start + b) * 784].to_vec(), [b, 784]),
                &device,
            );
            let yb = Tensor::<2>::from_data(
                TensorData::new(y[start * 10..(start + b) * 10].to_vec(), [b, 10]),
                &device,
            );
            let p = model.forward(xb).clamp(1e-7, 1.0 - 1e-7);
            let loss = (yb * p.log()).sum_dim(1).mean().neg();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(LR, model, grads);
            let l = loss.detach().mul_scalar(b as f32);
            total = Some(match total {
                Some(t) => t + l,
                None => l,
            });
        }
        let mean = total.unwrap().into_scalar::<f32>() / N as f32;
        (model, mean)
    };

    let (m, first_loss) = epoch(model);
    model = m;
    let mut times = Vec::with_capacity(epochs);
    let mut last_loss = first_loss;
    for _ in 0..epochs {
        let t = Instant::now();
        let (m, l) = epoch(model);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        model = m;
        last_loss = l;
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if epochs % 2 == 1 {
        sorted[epochs / 2]
    } else {
        (sorted[epochs / 2 - 1] + sorted[epochs / 2]) / 2.0
    };
    // The process's threads at the end (Linux): 1 when no backend started a pool.
    let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
    println!(
        "{{\"impl\": \"burn-{backend}\", \"epochs\": {epochs}, \"median_ms\": {median:.4}, \
         \"min_ms\": {:.4}, \"first_epoch_loss\": {first_loss:.6}, \
         \"last_epoch_loss\": {last_loss:.6}, \"threads\": {threads}}}",
        sorted[0]
    );
}
