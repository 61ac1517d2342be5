#!/usr/bin/env bash
# One epoch of training, one thread, kiln beside burn and Keras 3 on JAX in one run: the MLP
# 784-128-10 (Dense 128 relu, Dense 10 softmax), 1,000 samples, batch 32 (32 steps, the last
# of 8), SGD lr 0.01 momentum 0.9, categorical cross-entropy, the same weights, inputs and
# labels everywhere (the LCG of host-tools/benches/fit.rs). Not part of CI. Take the figures
# on an idle machine.
#
#   bench/train.sh [--setup]
#
#   kiln          cargo bench -p kiln-host --bench fit (criterion, one epoch per iteration),
#                 built twice: as usual, and with RUSTFLAGS="-C target-cpu=native" into
#                 target/native-cpu (CARGO_TARGET_DIR, which criterion also follows for
#                 its reports, so the usual build and its reports stay as they are)
#   burn          bench/train/burn: its own cargo workspace, burn 0.22.1 with the ndarray and
#                 flex backends, built without burn's `rayon` feature (no thread pool)
#   Keras on JAX  bench/train/keras_jax.py, one model.fit(..., epochs=1) per epoch; Python
#                 from $KILN_KERAS_PYTHON, else bench/train/.venv (--setup makes it from
#                 bench/train/requirements.txt), else /work/i8/.venv-keras
#   losses        bench/train/kiln-loss (untimed) gives kiln's epoch losses, to set beside
#                 burn's and Keras's: the same workload gives the same losses
#
# burn and Keras: a warm-up epoch, then the median of EPOCHS (default 20) epochs; kiln:
# criterion's median. Everything runs under `taskset -c $BENCH_CPU` (default 0), XLA with
# --xla_cpu_multi_thread_eigen=false; bench/train/measure.py records the load average and the
# CPU time other processes took during each measurement. ROUNDS (default 3). The first build of burn takes a while (18 minutes here,
# on a busy 2-core machine; each kiln build about 2.5 minutes); later runs about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rounds=${ROUNDS:-3}
epochs=${EPOCHS:-20}
cpu=${BENCH_CPU:-0}
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")  # criterion runs in host-tools/
native_dir=$target_dir/native-cpu
pin=(taskset -c "$cpu")
measure=(python3 bench/train/measure.py)

venv=bench/train/.venv
if [[ "${1:-}" == "--setup" ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/train/requirements.txt
fi
py=${KILN_KERAS_PYTHON:-}
if [[ -z "$py" ]]; then
    for p in "$venv/bin/python" /work/i8/.venv-keras/bin/python; do
        [[ -x "$p" ]] && { py=$p; break; }
    done
fi
[[ -n "$py" ]] || { echo "no Python with Keras and JAX: bench/train.sh --setup" >&2; exit 1; }

# Neither kiln nor this burn build has a thread pool; these only make sure of it.
export RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 OMP_NUM_THREADS=1
xla_flags="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

echo "building (not timed)..." >&2
cargo bench --quiet -p kiln-host --bench fit --no-run
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$native_dir" \
    cargo bench --quiet -p kiln-host --bench fit --no-run
cargo build --quiet --release --manifest-path bench/train/burn/Cargo.toml
cargo build --quiet --release --manifest-path bench/train/kiln-loss/Cargo.toml
burn=bench/train/burn/target/release/kiln-bench-burn
# kiln's losses over the same epochs (criterion's bench reports none), for the table.
bench/train/kiln-loss/target/release/kiln-bench-loss "$epochs" >"$work/kiln-loss.json"

# A shared or virtual machine's neighbours make single runs noisy: every implementation is
# measured in turn, ROUNDS times, and each keeps its best round.
estimates=criterion/fit/mlp_784_128_10_epoch/new/estimates.json
for round in $(seq "$rounds"); do
    echo "round $round of $rounds..." >&2
    "${measure[@]}" "$work/kiln.$round.load" "$cpu" -- "${pin[@]}" \
        cargo bench --quiet -p kiln-host --bench fit -- --noplot >"$work/kiln.$round.txt" 2>&1 ||
        { cat "$work/kiln.$round.txt" >&2; exit 1; }
    cp "$target_dir/$estimates" "$work/kiln.$round.json"
    RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$native_dir" \
        "${measure[@]}" "$work/kiln-native.$round.load" "$cpu" -- "${pin[@]}" \
        cargo bench --quiet -p kiln-host --bench fit -- --noplot >"$work/kiln-native.$round.txt" 2>&1 ||
        { cat "$work/kiln-native.$round.txt" >&2; exit 1; }
    cp "$native_dir/$estimates" "$work/kiln-native.$round.json"
    for backend in ndarray flex; do
        "${measure[@]}" "$work/burn-$backend.$round.load" "$cpu" -- "${pin[@]}" \
            "$burn" "$backend" "$epochs" >"$work/burn-$backend.$round.json"
    done
    XLA_FLAGS="$xla_flags" KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 \
        "${measure[@]}" "$work/keras-jax.$round.load" "$cpu" -- "${pin[@]}" \
        "$py" bench/train/keras_jax.py "$epochs" >"$work/keras-jax.$round.json" 2>"$work/keras.err" ||
        { cat "$work/keras.err" >&2; exit 1; }
done

python3 - "$work" "$rounds" "$epochs" "$cpu" <<'EOF'
import json, os, re, subprocess, sys
work, rounds, epochs, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
R = range(1, rounds + 1)
def load(name, r): return json.load(open(f"{work}/{name}.{r}.load"))
def lockver(lock, crate):
    m = re.search(rf'name = "{re.escape(crate)}"\nversion = "([^"]+)"', open(lock).read())
    return m.group(1) if m else "?"

rows = {}
kiln_loss = json.load(open(f"{work}/kiln-loss.json"))
for name in ("kiln", "kiln-native"):  # criterion's estimates, ns
    runs = [json.load(open(f"{work}/{name}.{r}.json")) for r in R]
    rows[name] = {**(kiln_loss if name == "kiln" else {}),
                  "median_ms": min(e["median"]["point_estimate"] for e in runs) / 1e6,
                  "mean_ms": min(e["mean"]["point_estimate"] for e in runs) / 1e6,
                  "spread": [round(e["median"]["point_estimate"] / 1e6, 2) for e in runs]}
for name in ("burn-ndarray", "burn-flex", "keras-jax"):
    runs = [json.load(open(f"{work}/{name}.{r}.json")) for r in R]
    best = min(runs, key=lambda j: j["median_ms"])
    rows[name] = {**best, "spread": [round(j["median_ms"], 2) for j in runs]}
loads = {n: [load(n, r) for r in R] for n in rows}
keras = rows["keras-jax"]

cpu_model = next((l.split(":", 1)[1].strip() for l in subprocess.run(
    ["lscpu"], capture_output=True, text=True).stdout.splitlines()
    if l.startswith("Model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
burn_lock = "bench/train/burn/Cargo.lock"
all_loads = [l for ls in loads.values() for l in ls]
l1 = [x for l in all_loads for x in (l["load1_before"], l["load1_after"])]

print(f"CPU {cpu_model} ({os.cpu_count()} CPUs), every run pinned to CPU {cpu}; best of {rounds} interleaved rounds each.")
print(f"{rustc}; criterion {lockver('Cargo.lock', 'criterion')}; burn "
      f"{lockver(burn_lock, 'burn')} (burn-ndarray {lockver(burn_lock, 'burn-ndarray')} with "
      f"matrixmultiply {lockver(burn_lock, 'matrixmultiply')}, burn-flex "
      f"{lockver(burn_lock, 'burn-flex')} with gemm {lockver(burn_lock, 'gemm')}); Keras "
      f"{keras['keras']} on JAX {keras['jax']} (jaxlib {keras['jaxlib']}).")
print(f"Load average (1 min) during the runs: {min(l1):.2f} to {max(l1):.2f} (it counts the "
      f"benchmark itself, about 1).")
print()
print(f"| implementation | ms per epoch | vs kiln | rounds (ms) | CPU {cpu} used by others | "
      f"machine used by others | loss, epoch 1 | loss, epoch {int(epochs) + 1} |")
print("|---|---:|---:|---|---:|---:|---:|---:|")
label = {"kiln": "kiln (criterion median)",
         "kiln-native": "kiln, `-C target-cpu=native`",
         "burn-ndarray": "burn ndarray (median of %s)" % epochs,
         "burn-flex": "burn flex (median of %s)" % epochs,
         "keras-jax": "Keras 3 on JAX, `fit` (median of %s)" % epochs}
base = rows["kiln"]["median_ms"]
for name, r in rows.items():
    ls = loads[name]
    loss = (f"{r['first_epoch_loss']:.6f} | {r['last_epoch_loss']:.6f}"
            if "first_epoch_loss" in r else "– | –")
    print(f"| {label[name]} | {r['median_ms']:.2f} | {base / r['median_ms']:.2f}× | "
          f"{' / '.join(f'{s:.2f}' for s in r['spread'])} | "
          f"{max(l['other_on_cpu'] for l in ls):.0%} | {max(l['other_on_machine'] for l in ls):.0%} | {loss} |")
print()
print("vs kiln = kiln's time over the other's: above 1.00× the other is faster than kiln.")
print("'used by others': the most, over the rounds, of the CPU time other processes took during")
print("that measurement (from /proc/stat, less the benchmark's own). Losses: the epoch's mean")
print("over its samples, from the same weights and data (kiln's from bench/train/kiln-loss,")
print("untimed, since criterion's iterations keep training the model).")
print(f"Threads at the end of a run: burn {rows['burn-ndarray']['threads']} (ndarray), "
      f"{rows['burn-flex']['threads']} (flex); the Keras process {keras['threads']}, all on CPU {cpu}.")
EOF
