#!/usr/bin/env bash
# Builds every firmware example and the generic runner for both emulated boards, runs each
# under QEMU (with a timeout) with the instruction-count plugin, and checks:
#   * every run exits 0;
#   * the printed outputs are bit-identical to the same code run on the host
#     (models/examples/host.rs), and the runner's output file to the host's predict;
#   * the instruction count of the measured predict is the same on three runs: two with the
#     plugin's default block counting, one with a callback per instruction.
# Each example runs twice per board: "blob" (the default build: the model is a blob in
# flash, loaded with kiln::format::load) and "api" (--no-default-features --features
# examples: the model is built in the firmware with kiln's API); and once more as a blob
# through the runner. fine_tune (the fine-tune package: kiln's fit on the device) runs as
# blob and api too; its measured region is the whole fit, and its expected lines are
# checked (the loss falls, the accuracy on the user samples goes from 1/3 to 1, the frozen
# layers are unchanged, a too small arena is refused).
# Then prints a table: section sizes (size -A), stack high-water mark, arena, instructions
# per inference. Exits non-zero if anything failed.
#
#   scripts/run-examples.sh [--keep DIR]     (DIR: keep the outputs and counts there)
#
# Installs qemu-system-arm and the Rust targets first when missing (scripts/install-qemu.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
t0=$(date +%s.%N)

work=""
if [ "${1:-}" = "--keep" ] && [ -n "${2:-}" ]; then
    work="$(mkdir -p "$2" && cd "$2" && pwd)"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi

examples=(sine two_inputs cnn)
boards=(mps2-an386:thumbv7em-none-eabihf lm3s6965evb:thumbv7m-none-eabi)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
elapsed() { echo "$(date +%s.%N) $1" | awk '{ printf "%.1f", $1 - $2 }'; }

echo "== setup"
scripts/install-qemu.sh
plugin="$(scripts/build-plugin.sh)"
echo "plugin: $plugin"
host="$(rustc -vV | sed -n 's/^host: //p')"

echo "== build"
t_build=$(date +%s.%N)
# Two builds per board: the examples built with kiln's API in the firmware
# (--no-default-features --features examples), kept aside, then the default one (models
# from blobs, and the runner). Cargo caches both, so reruns only copy files.
for b in "${boards[@]}"; do
    target="${b#*:}"
    cargo build --quiet --release --target "$target" --bins --no-default-features --features examples
    mkdir -p "$work/api-$target"
    for ex in "${examples[@]}"; do cp "target/$target/release/$ex" "$work/api-$target/$ex"; done
    cargo build --quiet --release --target "$target" --bins
    # fine_tune is a package of its own (kiln's training, its model's op families only).
    cargo build --quiet --release --target "$target" -p fine-tune --no-default-features
    cp "target/$target/release/fine_tune" "$work/api-$target/fine_tune"
    cargo build --quiet --release --target "$target" -p fine-tune
done
cargo build --quiet -p kiln-example-models --example host --target "$host"
host_bin="$here/target/$host/debug/examples/host"
mkdir -p "$work/blobs"
for ex in "${examples[@]}"; do
    "$host_bin" run "$ex" >"$work/$ex.host"
    "$host_bin" export "$ex" "$work/blobs" >/dev/null
done
"$host_bin" run fine_tune >"$work/fine_tune.host"
echo "built in $(elapsed "$t_build") s"

# The lines the firmware prints that the host does not.
board_lines='^kiln |^stack:|: ok$'

# run BOARD ELF NAME [QEMU_ARG…]: three counted runs; sets $count; stdout in $work/NAME.out.
run() {
    local board="$1" elf="$2" name="$3"; shift 3
    local c1 c2 c3 rc mode
    for i in 1 2 3; do
        rm -f "$work/$name.count$i"
        mode=tb; [ "$i" = 3 ] && mode=insn
        set +e
        KILN_COUNT_MODE=$mode "$here/scripts/qemu-run.sh" --count="$work/$name.count$i" --timeout 60 "$board" "$elf" "$@" \
            >"$work/$name.out" 2>"$work/$name.err"
        rc=$?
        set -e
        if [ $rc -ne 0 ]; then
            fail "$name: exit code $rc"
            cat "$work/$name.out" "$work/$name.err" | tail -n 20
            count="-"
            return 1
        fi
    done
    c1="$(sed -n 's/^kiln-insn-count: region [0-9]*: \([0-9]*\) instructions$/\1/p' "$work/$name.count1" | tail -n1)"
    c2="$(sed -n 's/^kiln-insn-count: region [0-9]*: \([0-9]*\) instructions$/\1/p' "$work/$name.count2" | tail -n1)"
    c3="$(sed -n 's/^kiln-insn-count: region [0-9]*: \([0-9]*\) instructions$/\1/p' "$work/$name.count3" | tail -n1)"
    if [ -z "$c1" ] || [ "$c1" != "$c2" ] || [ "$c1" != "$c3" ]; then
        fail "$name: instruction counts differ between runs ('$c1', '$c2', per-instruction '$c3')"
    fi
    count="$c1"
}

sizes() { # ELF -> "text rodata data bss"
    size -A "$1" | awk '$1==".text"{t=$2} $1==".rodata"{r=$2} $1==".data"{d=$2} $1==".bss"{b=$2}
                        END { printf "%d %d %d %d", t, r, d, b }'
}

rows=()
t_run=$(date +%s.%N)
for b in "${boards[@]}"; do
    board="${b%%:*}"; target="${b#*:}"
    dir="$here/target/$target/release"
    echo "== $board ($target)"
    for ex in "${examples[@]}"; do
      for variant in blob api; do
        if [ "$variant" = blob ]; then elf="$dir/$ex"; else elf="$work/api-$target/$ex"; fi
        name="$board-$ex-$variant"
        if run "$board" "$elf" "$name"; then
            if diff <(grep -Ev "$board_lines" "$work/$name.out") "$work/$ex.host" >"$work/$name.diff"; then
                bits="same"
            else
                bits="DIFFERENT"; fail "$name: outputs differ from the host's (see $work/$name.diff)"
            fi
            stack="$(sed -n 's/^stack: \([0-9]*\) bytes.*/\1/p' "$work/$name.out")"
            arena="$(sed -n 's/^arena: \([0-9]*\) bytes planned, lower bound \([0-9]*\).*/\1\/\2/p' "$work/$name.out")"
            [ "$variant" = blob ] &&
                echo "--- $ex: $(grep -E '^(y|classes|probabilities)\[' "$work/$name.out" | tr '\n' ' ' | cut -c1-160)"
            rows+=("$ex($variant) $board $(sizes "$elf") $stack $arena $count $bits")
        fi
      done
        # The same model as a blob, through the generic runner.
        name="$board-runner-$ex"
        inputs=()
        for x in "$work/blobs/$ex"-x*.bin; do inputs+=("$(basename "$x")"); done
        # QEMU opens the runner's files relative to its working directory.
        cd "$work/blobs"
        if run "$board" "$dir/runner" "$name" -append "$ex.kiln $name.bin ${inputs[*]}"; then
            cd "$here"
            if cmp -s "$work/blobs/$name.bin" "$work/blobs/$ex-y.bin"; then
                bits="same"
            else
                bits="DIFFERENT"; fail "$name: output file differs from the host's predict"
            fi
            stack="$(sed -n 's/^kiln-runner: stack \([0-9]*\) bytes.*/\1/p' "$work/$name.out")"
            arena="$(sed -n 's/^kiln-runner: arena \([0-9]*\) bytes planned, lower bound \([0-9]*\).*/\1\/\2/p' "$work/$name.out")"
            blob="$(stat -c %s "$work/blobs/$ex.kiln")"
            rows+=("runner:$ex $board $(sizes "$dir/runner") $stack $arena $count $bits blob=$blob")
        else
            cd "$here"
        fi
    done
done

echo "== fine_tune (kiln's fit on the device: the frozen features in flash, the head trained)"
# The lines the example must print, whatever the board (the bits are checked against the host).
fine_tune_expected=(
    '^a [0-9]*-byte arena is refused: compile needs [0-9]* bytes once aligned \(declare [0-9]*\)$'
    '^before fine-tuning: loss 1\.0915 \(0x[0-9a-f]{8}\), accuracy 0\.3333 on the 12 user samples$'
    '^fit: 45 SGD steps '
    '^after fine-tuning: loss 0\.00[0-9]* \(0x[0-9a-f]{8}\), accuracy 1\.0000 on the 12 user samples$'
    '^frozen layers: 344 weights unchanged'
    '^head: 27 trained weights, FNV-1a 0x[0-9a-f]{8}$'
    '^fine_tune: ok$'
)
for b in "${boards[@]}"; do
    board="${b%%:*}"; target="${b#*:}"
    for variant in blob api; do
        if [ "$variant" = blob ]; then elf="target/$target/release/fine_tune"; else elf="$work/api-$target/fine_tune"; fi
        name="$board-fine_tune-$variant"
        if run "$board" "$elf" "$name"; then
            if diff <(grep -Ev "$board_lines" "$work/$name.out") "$work/fine_tune.host" >"$work/$name.diff"; then
                bits="same"
            else
                bits="DIFFERENT"; fail "$name: outputs differ from the host's (see $work/$name.diff)"
            fi
            for line in "${fine_tune_expected[@]}"; do
                grep -Eq "$line" "$work/$name.out" || fail "$name: no line matching '$line'"
            done
            steps="$(sed -n 's/^fit: \([0-9]*\) SGD steps.*/\1/p' "$work/$name.out")"
            stack="$(sed -n 's/^stack: \([0-9]*\) bytes.*/\1/p' "$work/$name.out")"
            arena="$(sed -n 's/^training arena: \([0-9]*\) bytes (TRAIN_ARENA_BYTES), lower bound \([0-9]*\).*/\1\/\2/p' "$work/$name.out")"
            per_step="-"; [ -n "$steps" ] && [ "$count" != "-" ] && per_step=$((count / steps))
            [ "$variant" = blob ] &&
                echo "--- fine_tune on $board: fit $count instructions, $steps steps, $per_step per SGD step; $(grep -E '^(before|after) fine-tuning' "$work/$name.out" | sed 's/ on the 12 user samples//' | tr '\n' ';')"
            rows+=("fine_tune($variant) $board $(sizes "$elf") $stack $arena $count $bits per-step=$per_step")
        fi
    done
done
echo "ran in $(elapsed "$t_run") s"

echo "== with_alloc (embedded-alloc for the application, kiln allocation-free)"
for b in "${boards[@]}"; do
    board="${b%%:*}"; target="${b#*:}"
    set +e
    "$here/scripts/qemu-run.sh" --timeout 60 "$board" "target/$target/release/with_alloc" >"$work/with_alloc.out" 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ] || ! grep -q '^with_alloc: ok$' "$work/with_alloc.out" || ! grep -q 'bytes used before predict' "$work/with_alloc.out"; then
        fail "with_alloc on $board (exit $rc)"; cat "$work/with_alloc.out"
    else
        echo "with_alloc on $board: ok, $(size -A "target/$target/release/with_alloc" | awk '$1==".text"{print $2}') bytes of .text, $(grep -o 'heap: [0-9]* bytes used before predict, [0-9]* after' "$work/with_alloc.out")"
    fi
done

echo
echo "== results (sizes in bytes from size -A; arena = planned/lower bound; instructions = one predict between the markers, -icount shift=0; fine_tune: the training arena, and the whole fit)"
printf '%-18s %-12s %8s %8s %6s %8s %7s %11s %13s %s\n' \
    example board .text .rodata .data .bss stack arena instructions host-bits
for r in "${rows[@]}"; do
    # shellcheck disable=SC2086
    printf '%-18s %-12s %8s %8s %6s %8s %7s %11s %13s %s %s\n' $r
done
echo
echo "total $(elapsed "$t0") s; $failures failure(s)"
[ "$failures" -eq 0 ]
