#!/usr/bin/env bash
# Instructions per multiply-add of kiln's int8 kernels on the emulated Cortex-M4F (DSP
# kernels) and Cortex-M3 (plain kernels): the int8 bench models (tests/fixtures/bench/*/
# model_int8.tflite) whole, and one-layer int8 probes made here with the TFLite converter.
# Every run's output is compared with LiteRT's reference kernels (BUILTIN_REF): the
# bench models' y_int8.npy, the probes' outputs computed here. Not part of CI.
#
#   bench/int8.sh              # bench models and probes (probes need the LiteRT venv)
#   bench/int8.sh --models     # bench models only (no Python)
#   bench/int8.sh --check N    # also N random one-layer models (shapes, strides, padding,
#                              # dilation, per-tensor/per-channel) on both boards, bits only
#
# The probes need TensorFlow (converter) and ai-edge-litert: the virtualenv of
# bench/litert/run.sh (bench/litert/.venv; `bash bench/litert/run.sh --setup` makes it), or
# KILN_LITERT_VENV=/path/to/venv. A first run builds a runner per op family and board
# (about a minute each); later runs take a few minutes.
#
# Per probe: predict's instructions minus those of a one-multiply int8 model (the fixed
# cost of a run: the call, the buffer checks, one step), over its multiply-adds.
# Instructions, not cycles: on a Cortex-M4, `ldm`/`ldrd` of n registers take 1 + n cycles,
# `ldr` 2 (1 when pipelined), `smlad`/`mla` 1; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
models_only=0
check=0
case "${1:-}" in
    --models) models_only=1 ;;
    --check) check=${2:?--check needs a count} ;;
    "") ;;
    *) echo "usage: bench/int8.sh [--models | --check N]" >&2; exit 2 ;;
esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p kiln-host
kiln=target/release/kiln

run() { # BOARD MODEL INPUT OUT -> predict instructions (empty if the run failed)
    "$kiln" run --qemu "$1" "$2" --input "$3" --output "$4" 2>"$work/err" |
        sed -n 's/^kiln run: predict executed \([0-9]*\) instructions.*/\1/p' || true
}
venv="${KILN_LITERT_VENV:-bench/litert/.venv}"
py=python3
[ -x "$venv/bin/python" ] && py="$venv/bin/python"
same() { # A.npy B.npy: the same values (the headers may differ in padding)
    "$py" - "$1" "$2" <<'EOF' 2>/dev/null || cmp -s <(tail -c +129 "$1") <(tail -c +129 "$2")
import sys, numpy as np
a, b = (np.load(p) for p in sys.argv[1:3])
sys.exit(0 if a.shape == b.shape and (a.astype(np.int64) == b.astype(np.int64)).all() else 1)
EOF
}

echo "### Bench models (whole predict)"
echo
echo "| model | MACs | M4F instructions | M4F per MAC | M3 instructions | M3 per MAC | LiteRT's bits |"
echo "|---|---:|---:|---:|---:|---:|---|"
for m in mlp cnn kws; do
    dir=tests/fixtures/bench/$m
    macs=$(sed -n "/\"dir\": \"$m\"/,/}/s/.*\"macs\": \([0-9]*\).*/\1/p" tests/fixtures/bench/manifest.json | head -1)
    row="| $m | $macs"
    bits=yes
    for board in m4 m3; do
        n=$(run $board "$dir/model_int8.tflite" "$dir/x_int8.npy" "$work/y.npy")
        if [ -z "$n" ]; then
            row+=" | – | –"; bits="run failed: $(tail -n1 "$work/err")"; continue
        fi
        same "$work/y.npy" "$dir/y_int8.npy" || bits="**differ on $board**"
        row+=$(awk -v n="$n" -v m="$macs" 'BEGIN { printf " | %d | %.2f", n, n / m }')
    done
    echo "$row | $bits |"
done
[ "$models_only" = 1 ] && exit 0

if [ ! -x "$venv/bin/python" ]; then
    echo
    echo "(no probes: no LiteRT virtualenv at $venv; see the top of this script)"
    exit 0
fi
KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 PYTHONHASHSEED=0 \
    "$venv/bin/python" - "$work" "$check" >"$work/python.log" 2>&1 <<'EOF' ||
"""One-layer int8 probes: a seeded Keras layer, converted with the real TFLite converter
(int8 input and output, a seeded calibration set), its input quantized, and LiteRT's
BUILTIN_REF output. Writes `name macs` per probe to probes.txt."""
import os, sys, warnings
import numpy as np
import tensorflow as tf
import keras
from keras import layers
from ai_edge_litert import interpreter as litert

out, checks = sys.argv[1], int(sys.argv[2])
listing = open(f"{out}/probes.txt", "w")

def probe(name, shape, layer, macs, seed, per_tensor=False):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(batch_shape=(1, *shape))
    model = keras.Model(inp, layer(inp))
    for w in model.weights:  # weights and biases of int8-friendly size
        w.assign(np.random.default_rng(seed).normal(0, 0.3, w.shape).astype(np.float32))
    rng = np.random.default_rng(seed + 1)
    cal = rng.normal(0, 1, (16, *shape)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([cal[i:i + 1]] for i in range(len(cal)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor:
        conv._experimental_disable_per_channel = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tfl = conv.convert()
    open(f"{out}/{name}.tflite", "wb").write(tfl)
    it = litert.Interpreter(model_content=tfl,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    s, z = i["quantization"]
    x = rng.normal(0, 1, (1, *shape)).astype(np.float32)
    xq = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
    it.set_tensor(i["index"], xq)
    it.invoke()
    np.save(f"{out}/{name}.x.npy", xq)
    np.save(f"{out}/{name}.y.npy", it.get_tensor(o["index"]))
    print(name, macs, file=listing, flush=True)

def conv_macs(h, w, cin, cout, k, s, d, pad, depthwise=False):
    """MACs of the taps inside the input (padded taps do no work)."""
    total = 0
    (kh, kw), (sh, sw), (dh, dw) = k, s, d
    def outs(n, k, s, d):
        span = (k - 1) * d + 1
        return -(-n // s) if pad == "same" else (n - span) // s + 1
    def before(n, k, s, d):
        o = outs(n, k, s, d)
        return max(0, ((o - 1) * s + (k - 1) * d + 1 - n) // 2) if pad == "same" else 0
    oh, ow = outs(h, kh, sh, dh), outs(w, kw, sw, dw)
    pt, pl = before(h, kh, sh, dh), before(w, kw, sw, dw)
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * sh + ky * dh - pt, ox * sw + kx * dw - pl
                    if 0 <= iy < h and 0 <= ix < w:
                        total += cout if depthwise else cin * cout
    return total

probe("fixed", (1,), layers.Dense(1), 1, 1)
probe("fully_connected", (256,), layers.Dense(64), 256 * 64, 2)
probe("fully_connected_per_tensor", (256,), layers.Dense(64), 256 * 64, 3, per_tensor=True)
probe("conv2d", (12, 12, 16), layers.Conv2D(16, 3),
      conv_macs(12, 12, 16, 16, (3, 3), (1, 1), (1, 1), "valid"), 4)
probe("conv2d_same", (12, 12, 16), layers.Conv2D(16, 3, padding="same"),
      conv_macs(12, 12, 16, 16, (3, 3), (1, 1), (1, 1), "same"), 5)
probe("conv2d_in_c3", (16, 16, 3), layers.Conv2D(16, 3),
      conv_macs(16, 16, 3, 16, (3, 3), (1, 1), (1, 1), "valid"), 6)
probe("conv2d_1x1", (8, 8, 32), layers.Conv2D(32, 1), 8 * 8 * 32 * 32, 7)
probe("depthwise_conv2d", (12, 12, 32), layers.DepthwiseConv2D(3, padding="same"),
      conv_macs(12, 12, 32, 32, (3, 3), (1, 1), (1, 1), "same", depthwise=True), 8)

rng = np.random.default_rng(1234)
for n in range(checks):
    kind = ["dense", "conv", "depthwise"][n % 3]
    h, w = (int(v) for v in rng.integers(3, 10, 2))
    c = int(rng.integers(1, 20))
    k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dil = int(rng.integers(1, 3))
    s = (1, 1) if dil > 1 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pad = ["valid", "same"][int(rng.integers(0, 2))]
    per_tensor = bool(rng.integers(0, 2))
    if kind == "dense":
        d, u = int(rng.integers(1, 300)), int(rng.integers(1, 70))
        probe(f"check{n}_dense_{d}x{u}", (d,), layers.Dense(u), d * u, 100 + n, per_tensor)
        continue
    if (k[0] - 1) * dil + 1 > h or (k[1] - 1) * dil + 1 > w:
        pad = "same"
    if kind == "conv":
        f = int(rng.integers(1, 40))
        layer = layers.Conv2D(f, k, strides=s, padding=pad, dilation_rate=dil)
        macs = conv_macs(h, w, c, f, k, s, (dil, dil), pad)
    else:
        layer = layers.DepthwiseConv2D(k, strides=s, padding=pad, dilation_rate=dil)
        macs = conv_macs(h, w, c, c, k, s, (dil, dil), pad, depthwise=True)
    try:
        probe(f"check{n}_{kind}_{h}x{w}x{c}_k{k[0]}{k[1]}_s{s[0]}{s[1]}_d{dil}_{pad}", (h, w, c),
              layer, macs, 100 + n, per_tensor)
    except Exception as e:  # a shape Keras or the converter refuses
        print(f"# skipped check {n}: {e}".replace("\n", " ")[:200], file=sys.stderr)
EOF
    { echo "bench/int8.sh: making the probes failed:" >&2; tail -n 20 "$work/python.log" >&2; exit 1; }

fixed() { awk -v n="$1" '$1 == n { print $2 }' "$work/fixed.txt"; }
: >"$work/fixed.txt"
for board in m4 m3; do
    echo "$board $(run $board "$work/fixed.tflite" "$work/fixed.x.npy" "$work/y.npy")" >>"$work/fixed.txt"
done
echo
echo "### One-layer probes (predict minus a one-multiply model's $(fixed m4) instructions on the M4F, $(fixed m3) on the M3)"
echo
echo "| probe | MACs | M4F instructions / MAC | M3 instructions / MAC | LiteRT's bits |"
echo "|---|---:|---:|---:|---|"
failed=0
while read -r name macs; do
    case "$name" in fixed | "#"*) continue ;; esac
    row="| $name | $macs"
    bits=yes
    for board in m4 m3; do
        n=$(run $board "$work/$name.tflite" "$work/$name.x.npy" "$work/y.npy")
        if [ -z "$n" ]; then
            row+=" | –"; bits="run failed: $(tail -n1 "$work/err")"; failed=1; continue
        fi
        same "$work/y.npy" "$work/$name.y.npy" || { bits="**differ on $board**"; failed=1; }
        row+=$(awk -v n="$n" -v f="$(fixed $board)" -v m="$macs" 'BEGIN { printf " | %.2f", (n - f) / m }')
    done
    case "$name" in check*) [ "$bits" = yes ] && continue ;; esac
    echo "$row | $bits |"
done <"$work/probes.txt"
checked=$(grep -c '^check' "$work/probes.txt" || true)
if [ "$check" -gt 0 ]; then
    echo
    echo "$checked random one-layer models on both boards: $([ "$failed" = 0 ] && echo "all give LiteRT's bits" || echo "SOME DIFFER (rows above)")"
fi
exit "$failed"
