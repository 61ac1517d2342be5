#!/usr/bin/env bash
# Runs a model on an emulated Cortex-M through the generic runner firmware: what
# `kiln run --qemu` does, as a script.
#
#   scripts/run-model.sh m4|m3 MODEL --input X.npy [--input X1.npy …] [--output Y.npy …]
#
# MODEL: a .kiln blob, or anything `kiln export` reads (a .keras archive), exported first.
# Inputs: float32 little-endian C-order .npy files, one per model input (batch first).
# Prints the runner's report (summary, arena, outputs with their bits, stack) and the
# instructions `predict` executed (-icount shift=0, TCG plugin). With --output, writes each
# model output as .npy. Exit code: the runner's (0 ok). Environment: KILN = the kiln CLI
# (default: built from the repository with cargo), KILN_KEEP = a directory to keep the
# blob and the raw files in.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" >&2; exit 2; }
[ $# -ge 2 ] || usage
board="$1"; model="$2"; shift 2
inputs=(); outputs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --input) inputs+=("$(realpath "$2")"); shift 2 ;;
        --output) outputs+=("$(realpath -m "$2")"); shift 2 ;;
        *) usage ;;
    esac
done
[ "${#inputs[@]}" -gt 0 ] || usage
case "$board" in
    m4|mps2-an386) target=thumbv7em-none-eabihf ;;
    m3|lm3s6965evb) target=thumbv7m-none-eabi ;;
    *) echo "run-model: board is m4 or m3" >&2; exit 2 ;;
esac

if [ -n "${KILN_KEEP:-}" ]; then
    work="$(mkdir -p "$KILN_KEEP" && cd "$KILN_KEEP" && pwd)"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi

# .npy (float32, little-endian, C order) -> raw little-endian f32.
npy_data_offset() {
    local f="$1" major hlen
    if [ "$(head -c 6 "$f" | tail -c 5)" != "NUMPY" ]; then
        echo "run-model: $f is not a .npy file" >&2; exit 2
    fi
    major="$(od -An -tu1 -j6 -N1 "$f" | tr -d ' ')"
    if [ "$major" = 1 ]; then
        hlen="$(od -An -tu2 -j8 -N2 --endian=little "$f" | tr -d ' ')"; echo $((10 + hlen))
    else
        hlen="$(od -An -tu4 -j8 -N4 --endian=little "$f" | tr -d ' ')"; echo $((12 + hlen))
    fi
}
npy_to_raw() {
    local f="$1" out="$2" off header
    off="$(npy_data_offset "$f")"
    header="$(head -c "$off" "$f" | tail -c +11)"
    if ! grep -q "'descr': '<f4'" <<<"$header" || ! grep -q "'fortran_order': False" <<<"$header"; then
        echo "run-model: $f must be float32 little-endian in C order (header: $header)" >&2; exit 2
    fi
    tail -c +$((off + 1)) "$f" >"$out"
}
# raw little-endian f32 + shape "(2, 3)" -> .npy version 1.0
raw_to_npy() {
    local raw="$1" shape="$2" out="$3" dict len pad
    dict="{'descr': '<f4', 'fortran_order': False, 'shape': $shape, }"
    len=$(( ${#dict} + 1 ))
    pad=$(( (64 - (10 + len) % 64) % 64 ))
    len=$(( len + pad ))
    {
        printf '\x93NUMPY\x01\x00'
        printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8)))"
        printf '%s%*s\n' "$dict" "$pad" ""
        cat "$raw"
    } >"$out"
}

case "$model" in
    *.kiln) cp "$model" "$work/model.kiln" ;;
    *)
        kiln="${KILN:-}"
        if [ -z "$kiln" ]; then
            (cd "$repo" && cargo build --quiet --release -p kiln-host) >&2
            kiln="$repo/target/release/kiln"
        fi
        "$kiln" export "$model" -o "$work/model.kiln" >&2
        ;;
esac
names=()
for i in "${!inputs[@]}"; do
    npy_to_raw "${inputs[$i]}" "$work/x$i.bin"
    # The .npy's shape goes along (x0.bin:3x12x10x3) for models with None axes.
    off="$(npy_data_offset "${inputs[$i]}")"
    shape="$(head -c "$off" "${inputs[$i]}" | tail -c +11 |
        LC_ALL=C sed -n "s/.*'shape': (\([0-9, ]*\)).*/\1/p" | tr -d ' ' | sed 's/,$//; s/,/x/g')"
    names+=("x$i.bin${shape:+:$shape}")
done

(cd "$here" && cargo build --quiet --release --target "$target" --bin runner) >&2
elf="$here/target/$target/release/runner"
set +e
(cd "$work" && "$here/scripts/qemu-run.sh" --count="$work/count.txt" --timeout 120 "$board" "$elf" \
    -append "model.kiln y.bin ${names[*]}") | tee "$work/runner.txt"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
    echo "run-model: the runner exited with $rc" >&2
    exit "$rc"
fi
count="$(sed -n 's/^kiln-insn-count: region 1: \([0-9]*\) instructions$/\1/p' "$work/count.txt")"
flash="$(size -A "$elf" | awk '$1==".vector_table"||$1==".text"||$1==".rodata"||$1==".data"{s+=$2} END{print s}')"
echo "run-model: predict executed $count instructions on $board; runner flash $flash bytes + blob $(stat -c %s "$work/model.kiln") bytes"

# Split y.bin into the outputs' .npy files.
if [ "${#outputs[@]}" -gt 0 ]; then
    mapfile -t shapes < <(sed -n 's/^kiln-runner: output [0-9]*: shape \(([^)]*)\), \([0-9]*\) values$/\1 \2/p' "$work/runner.txt")
    if [ "${#outputs[@]}" -ne "${#shapes[@]}" ]; then
        echo "run-model: the model has ${#shapes[@]} outputs, ${#outputs[@]} --output given" >&2
        exit 2
    fi
    skip=0
    for j in "${!outputs[@]}"; do
        n="${shapes[$j]##* }"; shape="${shapes[$j]% *}"
        tail -c +$((skip * 4 + 1)) "$work/y.bin" | head -c $((n * 4)) >"$work/y$j.bin"
        raw_to_npy "$work/y$j.bin" "$shape" "${outputs[$j]}"
        skip=$((skip + n))
        echo "run-model: wrote ${outputs[$j]} $shape"
    done
fi
