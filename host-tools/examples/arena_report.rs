//! Arena, lower bound and blob size for every fixture model: the planner's numbers in
//! BENCHMARKS.md. `cargo run --release -p kiln-host --example arena_report`
//! (run from the repository root).

use kiln_host::blob::encode;
use kiln_host::load::load_model;
use std::path::Path;

fn main() {
    println!("| model | params | blob bytes | arena bytes | lower bound | without reuse | arena / lower bound |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for suite in ["sequential", "functional"] {
        let root = Path::new("tests/fixtures").join(suite);
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .expect("run from the repository root")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("model.keras").exists())
            .collect();
        dirs.sort();
        for dir in dirs {
            let Ok(model) = load_model(dir.join("model.keras")) else {
                continue;
            };
            let graph = model.structure();
            let Ok(plan) = graph.plan(None) else { continue };
            let shapes = graph.sample_shapes(None).unwrap();
            let naive = kiln::planner::plan_without_reuse(graph, &shapes).unwrap();
            let blob = encode(&model).map(|b| b.len()).unwrap_or(0);
            println!(
                "| {suite}/{} | {} | {blob} | {} | {} | {} | {:.3} |",
                dir.file_name().unwrap().to_string_lossy(),
                graph.count_params(),
                plan.arena_bytes(),
                plan.lower_bound_bytes(),
                naive.bytes,
                plan.bytes as f64 / plan.lower_bound.max(1) as f64,
            );
        }
    }
}
