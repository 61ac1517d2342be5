#!/usr/bin/env bash
# What kiln's engine costs per model on the emulated boards, through `kiln run` (whose
# runner is built with only the model's op families and its own graph capacity): prepare
# and predict instructions, instructions per MAC, kiln's .text (the runner's minus the same
# runner with no kiln call), the stack of load, prepare and predict, and the prepared
# model's size (storage the caller keeps, like the arena). Not part of CI.
#
#   bench/engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p kiln-host
kiln=target/release/kiln
host="$(rustc -vV | sed -n 's/^host: //p')"
(cd firmware-examples && cargo run --quiet -p kiln-example-models --example host --target "$host" -- \
    export sine "$work" >/dev/null && cargo run --quiet -p kiln-example-models --example host \
    --target "$host" -- export two_inputs "$work" >/dev/null && cargo run --quiet \
    -p kiln-example-models --example host --target "$host" -- export cnn "$work" >/dev/null)
bin_to_npy() { # RAW SHAPE OUT: f32 little-endian values to .npy
    local dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($2), }"
    local pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( ${#dict} + 1 + pad )))\\x00"
      printf '%s%*s\n' "$dict" "$pad" ""; cat "$1"; } >"$3"
}
echo "| model | board | MACs | prepare instr | predict instr | instr/MAC | engine .text | stack load / prepare / predict | prepared model |"
echo "|---|---|---:|---:|---:|---:|---:|---|---:|"
row() { # NAME MODEL MACS BOARD INPUT...
    local name=$1 model=$2 macs=$3 board=$4; shift 4
    local args=(); for x in "$@"; do args+=(--input "$x"); done
    if ! "$kiln" run --qemu "$board" "$model" "${args[@]}" >"$work/log" 2>"$work/err"; then
        echo "| $name | $board | $macs | – | – | – | – | – | $(tail -n1 "$work/err" | sed 's/.*says: //') |"
        return
    fi
    local prep pred text stack prepared
    prep=$(sed -n 's/^kiln run: prepare executed \([0-9]*\).*/\1/p' "$work/log")
    pred=$(sed -n 's/^kiln run: predict executed \([0-9]*\).*/\1/p' "$work/log")
    text=$(sed -n 's/^kiln run: engine .text \([0-9]*\) bytes.*/\1/p' "$work/log")
    stack=$(sed -n 's/^kiln-runner: stack: load \([0-9]*\), prepare \([0-9]*\), predict \([0-9]*\) bytes/\1 \/ \2 \/ \3/p' "$work/log")
    prepared=$(sed -n 's/^kiln-runner: the prepared model takes \([0-9]*\) bytes.*/\1/p' "$work/log")
    local per="–"; [ "$macs" != "–" ] && per=$(awk -v p="$pred" -v m="$macs" 'BEGIN { printf "%.2f", p / m }')
    echo "| $name | $board | $macs | $prep | $pred | $per | $text | $stack | $prepared |"
}
for m in mlp cnn dense1 kws; do
    macs=$(sed -n "/\"dir\": \"$m\"/,/}/s/.*\"macs\": \([0-9]*\).*/\1/p" tests/fixtures/bench/manifest.json | head -1)
    for board in m4 m3; do
        row "bench/$m" "tests/fixtures/bench/$m/model.keras" "${macs:-–}" "$board" "tests/fixtures/bench/$m/x.npy"
    done
done
for ex in sine two_inputs cnn; do
    inputs=()
    for x in "$work/$ex"-x*.bin; do
        n=$(( $(stat -c %s "$x") / 4 ))
        case $ex in sine) s="$n, 1";; two_inputs) s="1, $n";; cnn) s="1, 16, 16, 1";; esac
        bin_to_npy "$x" "$s" "$x.npy"; inputs+=("$x.npy")
    done
    for board in m4 m3; do row "example $ex" "$work/$ex.kiln" "–" "$board" "${inputs[@]}"; done
done
