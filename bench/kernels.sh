#!/usr/bin/env bash
# Instructions per multiply-add (or per element for pools) of each kernel on the emulated
# Cortex-M4F and Cortex-M3, from one-layer models small enough for both boards
# (host-tools/examples/kernel_probes.rs). Not part of CI; about 5 minutes the first time
# (a runner build per op family and board).
#
#   bench/kernels.sh
#
# Per probe: predict's instructions minus those of a one-multiply model (the fixed cost of
# a run), over the work. Instructions, not cycles: on a Cortex-M4, VLDM of n registers
# takes 1 + n cycles, VMLA 1 (3 when the next one needs its result), VDIV 14.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release -p kiln-host
kiln=target/release/kiln
cargo run --quiet --release -p kiln-host --example kernel_probes -- "$work" >"$work/probes.txt"
count() { # BOARD NAME -> predict instructions
    "$kiln" run --qemu "$1" "$work/$2.kiln" --input "$work/$2.npy" |
        sed -n 's/^kiln run: predict executed \([0-9]*\) instructions.*/\1/p'
}
declare -A fixed
for board in m4 m3; do fixed[$board]=$(count $board fixed); done
echo "| kernel | work | M4F instructions / unit | M3 instructions / unit |"
echo "|---|---:|---:|---:|"
while read -r name amount unit; do
    [ "$name" = fixed ] && continue
    row="| $name | $amount $unit"
    for board in m4 m3; do
        n=$(count $board "$name")
        row+=$(awk -v n="$n" -v f="${fixed[$board]}" -v w="$amount" 'BEGIN { printf " | %.2f", (n - f) / w }')
    done
    echo "$row |"
done <"$work/probes.txt"
echo "(fixed cost of a run, subtracted: ${fixed[m4]} instructions on the M4F, ${fixed[m3]} on the M3)"
