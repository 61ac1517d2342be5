//! The losses of kiln's `fit` on the workload of host-tools/benches/fit.rs (same model,
//! weights, data and options), for bench/train.sh to set beside burn's and Keras's: the
//! first epoch's and, after EPOCHS more, the last one's. Not timed.
//!
//!   kiln-bench-loss [EPOCHS]

use kiln::train::{Compile, Loss, Sgd};

#[path = "../../../../host-tools/benches/workload/mlp.rs"]
mod workload;

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .map_or(20, |e| e.parse().expect("EPOCHS"));
    let weights = workload::weights();
    let model = workload::model(&weights);
    let (x, y) = workload::data();
    let compile = Compile::new(Sgd::new(0.01).momentum(0.9))
        .loss(Loss::CategoricalCrossentropy { from_logits: false });
    let plan = model.train_plan(&compile).unwrap();
    let mut arena = vec![0u8; plan.train_arena_bytes()];
    let mut trainer = model.compile(compile, &mut arena).unwrap();
    let options = workload::one_epoch();
    let mut epoch = || {
        trainer
            .fit(&[&x], &[&y], &options, None, &mut ())
            .unwrap()
            .train
            .loss
    };
    let first = epoch();
    let mut last = first;
    for _ in 0..epochs {
        last = epoch();
    }
    println!(
        "{{\"impl\": \"kiln\", \"epochs\": {epochs}, \"first_epoch_loss\": {first:.6}, \
         \"last_epoch_loss\": {last:.6}}}"
    );
}
