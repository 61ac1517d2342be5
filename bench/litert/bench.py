"""Time LiteRT Interpreter.invoke() on one sample, one thread, builtin kernels vs XNNPACK.

Usage: bench.py FIXTURES_DIR OUT_DIR MODEL...   (run by run.sh)
Imports no TensorFlow: only ai-edge-litert and numpy are loaded in the timed process.
"""
import gc
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

WARMUP_S, LOOP_S, REPEATS = 0.5, 0.05, 31  # warm-up time, min time of one timed loop, loops
TOL = 1e-4  # max abs diff allowed between the .tflite output and Keras' y.npy

fixtures, out = Path(sys.argv[1]), Path(sys.argv[2])
manifest = {m["dir"]: m for m in json.loads((fixtures / "manifest.json").read_text())["models"]}
CONFIGS = {
    "builtin": {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES},
    "xnnpack": {},  # the default: AUTO resolver, XNNPACK delegate applied
}


def timed_loop(invoke, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        invoke()
    return time.perf_counter_ns() - t0


def calibrate(invoke):
    """Warm up, then pick a loop length n that takes at least LOOP_S."""
    end = time.perf_counter() + WARMUP_S
    while time.perf_counter() < end:
        invoke()
    n = 1
    while timed_loop(invoke, n) < LOOP_S * 1e9:
        n *= 2
    return n


def load(path, x, y, options):
    interp = Interpreter(model_path=str(path), num_threads=1, **options)
    interp.allocate_tensors()
    (inp,), (outp,) = interp.get_input_details(), interp.get_output_details()
    assert list(inp["shape"]) == list(x.shape) and inp["dtype"] == np.float32, inp
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    diff = float(np.max(np.abs(interp.get_tensor(outp["index"]) - y)))
    if diff > TOL:
        sys.exit(f"{path.name} ({options or 'default'}): max abs diff {diff:.3g} vs y.npy > {TOL}")
    ops = [o["op_name"] for o in interp._get_ops_details()]  # private API; DELEGATE = XNNPACK
    return interp.invoke, {"max_abs_diff": diff, "ops": ops}


def bench(invokes):
    """Per-invoke µs of each config; their timed loops alternate so both see the same noise."""
    loops = {cfg: calibrate(invoke) for cfg, invoke in invokes.items()}
    samples = {cfg: [] for cfg in invokes}
    gc.disable()
    for _ in range(REPEATS):
        for cfg, invoke in invokes.items():
            samples[cfg].append(timed_loop(invoke, loops[cfg]) / loops[cfg] / 1e3)
    gc.enable()
    return {cfg: {"median_us": statistics.median(s), "min_us": min(s), "max_us": max(s),
                  "invokes_per_loop": loops[cfg], "loops": REPEATS} for cfg, s in samples.items()}


def cpu_ticks():
    """(busy, total) clock ticks of the whole machine, from /proc/stat."""
    v = [int(t) for t in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)  # minus idle and iowait


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
env = {"cpu": cpu, "isa": [f for f in ("avx2", "fma", "avx512f", "avx512_vnni") if f in flags],
       "python": platform.python_version(), "num_threads": 1,
       **{p: version(p) for p in ("ai-edge-litert", "tensorflow-cpu", "keras", "numpy")}}
results = {"env": env, "models": {}}
busy0, total0, own0 = *cpu_ticks(), sum(os.times()[:2])
for name in sys.argv[3:]:
    x, y = np.load(fixtures / name / "x.npy"), np.load(fixtures / name / "y.npy")
    r, invokes = {"macs": manifest[name]["macs"]}, {}
    for cfg, options in CONFIGS.items():
        invokes[cfg], r[cfg] = load(out / f"{name}.tflite", x, y, options)
    for cfg, t in bench(invokes).items():
        r[cfg].update(t)
        print(f"{name} {cfg}: {r[cfg]['median_us']:.2f} us, max |diff| {r[cfg]['max_abs_diff']:.2e}, "
              f"ops {' '.join(r[cfg]['ops'])}", file=sys.stderr, flush=True)
    results["models"][name] = r
busy1, total1 = cpu_ticks()
own = (sum(os.times()[:2]) - own0) * os.sysconf("SC_CLK_TCK")
env["other_load"] = round(max(0.0, (busy1 - busy0 - own) / (total1 - total0)), 3)
(out / "results.json").write_text(json.dumps(results, indent=1) + "\n")

print(f"\nLiteRT host latency, one sample, num_threads=1 — ai-edge-litert {env['ai-edge-litert']}, "
      f"converted with tensorflow-cpu {env['tensorflow-cpu']} (Keras {env['keras']}), "
      f"Python {env['python']}, CPU: {cpu} ({', '.join(env['isa']) or 'no AVX2'})\n")
print("| model | MACs | builtin µs | XNNPACK µs | max abs diff vs Keras (builtin / XNNPACK) |")
print("|---|---:|---:|---:|---:|")
for name, r in results["models"].items():
    b, xn = r["builtin"], r["xnnpack"]
    print(f"| {name} | {r['macs']:,} | {b['median_us']:.2f} ({b['min_us']:.2f}) "
          f"| {xn['median_us']:.2f} ({xn['min_us']:.2f}) "
          f"| {b['max_abs_diff']:.1e} / {xn['max_abs_diff']:.1e} |")
print(f"\nµs per Interpreter.invoke(): median (fastest) of {REPEATS} timed loops of at least "
      f"{LOOP_S * 1e3:.0f} ms each, after {WARMUP_S} s warm-up, the two configurations' loops "
      "alternating.\ndense1 (one multiply-add) is the fixed cost of one invoke from Python "
      "(binding + interpreter), which every row includes.")
print(f"CPU time used by other processes during the run: {env['other_load']:.0%} of the machine's "
      f"{os.cpu_count()} cores (should be near 0% for a clean figure).")
print(f"JSON: {out / 'results.json'}")
