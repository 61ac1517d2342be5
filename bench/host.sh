#!/usr/bin/env bash
# Host latency of one predict, one thread, kiln beside LiteRT in one run: kiln through
# criterion (host-tools/benches/predict.rs), LiteRT's builtin kernels and its XNNPACK
# delegate through bench/litert/run.sh (which sets up ai-edge-litert in a virtualenv the
# first time, or again with --setup). Not part of CI. Take the figures on an idle machine.
#
#   bench/host.sh [--setup]
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A shared or virtual machine's neighbours make single runs noisy (±30% seen here): the
# two are measured in turn, ROUNDS times, and each keeps its best round.
rounds=${ROUNDS:-3}
for round in $(seq "$rounds"); do
    cargo bench --quiet -p kiln-host --bench predict -- --noplot >"$work/kiln.$round.txt" 2>&1 ||
        { cat "$work/kiln.$round.txt" >&2; exit 1; }
    bash bench/litert/run.sh "$@" >"$work/litert.txt"
    cp bench/litert/out/results.json "$work/litert.$round.json"
    set --  # --setup only once
done

python3 - "$work" "$rounds" <<'EOF'
import json, re, sys
units = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
work, rounds = sys.argv[1], int(sys.argv[2])
kiln = {}
for r in range(1, rounds + 1):
    name = None
    for line in open(f"{work}/kiln.{r}.txt", encoding="utf-8"):
        head = re.match(r"^(\w+)(\s|$)", line)  # the bench's name starts its line
        if head:
            name = head.group(1)
        t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if t and name:
            us = float(t.group(1)) * units[t.group(2)]
            kiln[name] = min(kiln.get(name, us), us)
runs = [json.load(open(f"{work}/litert.{r}.json", encoding="utf-8")) for r in range(1, rounds + 1)]
litert = runs[0]
for model, row in litert["models"].items():
    for kind in ("builtin", "xnnpack"):
        row[kind]["median_us"] = min(run["models"][model][kind]["median_us"] for run in runs)
env = litert["env"]
env["other_load"] = max(run["env"]["other_load"] for run in runs)
print(f"CPU {env['cpu']}, one thread; ai-edge-litert {env['ai-edge-litert']}; best of {rounds} "
      f"rounds each; other processes' load during the LiteRT runs at most {env['other_load']:.2f}")
print()
print("| model | MACs | kiln µs (criterion estimate) | LiteRT builtin µs | LiteRT XNNPACK µs | kiln vs builtin | kiln vs XNNPACK |")
print("|---|---:|---:|---:|---:|---:|---:|")
for model, r in litert["models"].items():
    k = kiln.get(model)
    b, x = r["builtin"]["median_us"], r["xnnpack"]["median_us"]
    ks = f"{k:.3f}" if k is not None else "–"
    vb = f"{b / k:.2f}×" if k else "–"
    vx = f"{x / k:.2f}×" if k else "–"
    print(f"| {model} | {r['macs']:,} | {ks} | {b:.3f} | {x:.3f} | {vb} | {vx} |")
print()
print("kiln vs X = X's time over kiln's: above 1.0× kiln is faster. LiteRT's figures include")
print("the fixed cost of one invoke() from Python (about 0.5 µs: the dense1 row).")
EOF
