//! One model per kernel, small enough for both emulated boards (the lm3s6965evb has 256 KiB
//! of flash and 64 KiB of RAM), written as blobs with an input for `kiln run --qemu`:
//! `bench/kernels.sh` turns their instruction counts into instructions per MAC.
//!
//! ```sh
//! cargo run --release -p kiln-host --example kernel_probes -- DIR
//! ```
//!
//! Prints one line per probe: `name work unit` (`work` multiply-adds, or window elements
//! for the pools).

use kiln::layers::*;
use kiln::{Activation, Heap, Padding, Sequential};
use kiln_host::formats::npy;
use kiln_host::HostGraph;
use std::path::Path;

fn write(
    dir: &Path,
    name: &str,
    model: Sequential<'_, Heap>,
    input: &[usize],
    work: usize,
    unit: &str,
) {
    let weights: Vec<f32> = (0..model.weight_bytes() / 4)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 256.0)
        .collect();
    let host = HostGraph::new(model.graph().clone().without_weights(), weights);
    let blob = kiln_host::blob::encode(&host).expect("blob");
    std::fs::write(dir.join(format!("{name}.kiln")), blob).expect("write the blob");
    let n: usize = input.iter().product();
    let x: Vec<f32> = (0..n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0).collect();
    let mut shape = vec![1];
    shape.extend_from_slice(input);
    npy::write_f32(dir.join(format!("{name}.npy")), &shape, &x).expect("write the input");
    println!("{name} {work} {unit}");
}

fn model(input: &[u32], layers: Vec<LayerSpec<'static>>) -> Sequential<'static, Heap> {
    let mut m = Sequential::<Heap>::new();
    m.add(Input::new(input)).unwrap();
    for l in layers {
        m.add(l).unwrap();
    }
    m
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: kernel_probes DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create DIR");
    // The fixed cost of a run: one multiply.
    write(
        dir,
        "fixed",
        model(&[1], vec![Dense::new(1).into()]),
        &[1],
        1,
        "MAC",
    );
    let dense = Dense::new(64).activation(Activation::Relu);
    write(
        dir,
        "dense",
        model(&[256], vec![dense.into()]),
        &[256],
        256 * 64,
        "MAC",
    );
    let conv = Conv2D::new(16, [3, 3]).activation(Activation::Relu);
    write(
        dir,
        "conv2d",
        model(&[12, 12, 8], vec![conv.into()]),
        &[12, 12, 8],
        10 * 10 * 16 * 72,
        "MAC",
    );
    let conv1 = Conv2D::new(16, [3, 3]).padding(Padding::Same);
    write(
        dir,
        "conv2d_same",
        model(&[12, 12, 8], vec![conv1.into()]),
        &[12, 12, 8],
        34 * 34 * 8 * 16,
        "MAC (taps inside)",
    );
    let dw = DepthwiseConv2D::new([3, 3]).padding(Padding::Same);
    write(
        dir,
        "depthwise_conv2d",
        model(&[16, 16, 16], vec![dw.into()]),
        &[16, 16, 16],
        (16 * 16 * 9 - 4 * 16 * 3 + 4) * 16,
        "MAC (taps inside)",
    );
    let conv1d = Conv1D::new(16, 5).padding(Padding::Causal);
    write(
        dir,
        "conv1d",
        model(&[64, 8], vec![conv1d.into()]),
        &[64, 8],
        (64 * 5 - 10) * 8 * 16,
        "MAC (taps inside)",
    );
    write(
        dir,
        "max_pooling2d",
        model(&[16, 16, 16], vec![MaxPooling2D::new([2, 2]).into()]),
        &[16, 16, 16],
        16 * 16 * 16,
        "window element",
    );
    write(
        dir,
        "average_pooling2d",
        model(&[16, 16, 16], vec![AveragePooling2D::new([2, 2]).into()]),
        &[16, 16, 16],
        16 * 16 * 16,
        "window element",
    );
    write(
        dir,
        "global_average_pooling2d",
        model(&[16, 16, 16], vec![GlobalAveragePooling2D::new().into()]),
        &[16, 16, 16],
        16 * 16 * 16,
        "element",
    );
    write(
        dir,
        "batch_normalization",
        model(&[16, 16, 16], vec![BatchNormalization::new().into()]),
        &[16, 16, 16],
        16 * 16 * 16,
        "element",
    );
}
