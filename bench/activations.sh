#!/usr/bin/env bash
# Instructions per element of each transcendental activation on the emulated Cortex-M4F
# and Cortex-M3,
# with libm (the default) and with micromath (kiln's feature fast-math), and their errors
# (host-tools/examples/activation_error.rs). Not part of CI.
#
#   bench/activations.sh            (prints Markdown tables; ~5 min the first time: one
#                                    runner build per activation and setting)
#
# Each model is Input(256) -> Activation(f): predict's instructions minus those of the
# same model with `linear` (the step's fixed cost), over 256 elements. Instructions, not
# cycles: a Cortex-M4's VDIV and VSQRT take 14 cycles, most others 1.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p kiln-host
kiln=target/release/kiln
cargo run --quiet --release -p kiln-host --example activation_error -- --blobs "$work" >"$work/libm.txt"
cargo run --quiet --release -p kiln-host --features kiln/fast-math --example activation_error >"$work/fast.txt"
count() { # BOARD BLOB [FEATURES] -> predict instructions
    local extra=()
    [ -n "${3:-}" ] && extra=(--kiln-features "$3")
    "$kiln" run --qemu "$1" "$2" --input "$work/x.npy" "${extra[@]}" |
        sed -n 's/^kiln run: predict executed \([0-9]*\) instructions.*/\1/p'
}
declare -A base
for board in m4 m3; do
    base[$board]=$(count $board "$work/linear.kiln")
    base[$board-fast]=$(count $board "$work/linear.kiln" fast-math)
done
echo "| activation | M4F libm | M4F fast-math | M3 libm | M3 fast-math |"
echo "|---|---:|---:|---:|---:|"
for blob in "$work"/*.kiln; do
    name=$(basename "$blob" .kiln); [ "$name" = linear ] && continue
    row="| $name"
    for board in m4 m3; do
        a=$(count $board "$blob"); b=$(count $board "$blob" fast-math)
        row+=$(awk -v a="$a" -v b="$b" -v x="${base[$board]}" -v y="${base[$board-fast]}" \
            'BEGIN { printf " | %.1f | %.1f", (a - x) / 256, (b - y) / 256 }')
    done
    echo "$row |"
done
echo "(instructions per element: predict minus the same model with linear, over 256 elements)"
echo; echo "Errors, libm:"; cat "$work/libm.txt"
echo; echo "Errors, fast-math:"; cat "$work/fast.txt"
