#!/usr/bin/env bash
# Runs the repository's Keras parity fixtures (tests/fixtures/*/*/model.keras with their
# x*.npy inputs) on both emulated boards through the generic runner, and checks that every
# output is bit-identical to `kiln predict` on the host (the .npy files are compared byte
# for byte). Prints one line per fixture and board with the instructions `predict` took.
#
#   scripts/run-parity.sh [FIXTURE_DIR…]      (default: every fixture with inputs)
#
# A fixture the runner cannot take on a board (too many layers for its capacity, inputs
# or arena larger than the board's memory, unknown input dimensions) is reported as SKIP
# with the runner's reason; a wrong bit or a crash is a FAIL. Exit code: 1 if any FAIL, or
# if fewer than KILN_PARITY_MIN_PASS runs passed (default 88, the count when every
# fixture was added: a run that skips everything must not pass).
set -euo pipefail
min_pass="${KILN_PARITY_MIN_PASS:-88}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/.." && pwd)"
t0=$(date +%s.%N)

"$here/scripts/install-qemu.sh" 2>/dev/null
(cd "$repo" && cargo build --quiet --release -p kiln-host)
export KILN="$repo/target/release/kiln"

if [ $# -gt 0 ]; then
    fixtures=("$@")
else
    fixtures=()
    for d in "$repo"/tests/fixtures/sequential/*/ "$repo"/tests/fixtures/functional/*/ \
        "$repo"/tests/fixtures/layers/*/; do
        if [ -f "$d/model.keras" ] && compgen -G "$d/x*.npy" >/dev/null; then
            fixtures+=("${d%/}")
        fi
    done
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pass=0; fail=0; skip=0
printf '%-36s %-6s %-6s %14s  %s\n' fixture board result instructions note
for d in "${fixtures[@]}"; do
    name="$(basename "$(dirname "$d")")/$(basename "$d")"
    f="$work/${name//\//_}"
    mkdir -p "$f"
    inputs=(); outputs_host=()
    for x in "$d"/x.npy "$d"/x[0-9].npy; do [ -f "$x" ] && inputs+=(--input "$x"); done
    for y in "$d"/y.npy "$d"/y[0-9].npy; do [ -f "$y" ] && outputs_host+=("$f/host-$(basename "$y")"); done
    host_out=(); for y in "${outputs_host[@]}"; do host_out+=(--output "$y"); done
    if ! "$KILN" export "$d/model.keras" -o "$f/model.kiln" >"$f/export.txt" 2>&1; then
        printf '%-36s %-6s %-6s %14s  %s\n' "$name" - SKIP - "kiln export: $(tail -n1 "$f/export.txt")"
        skip=$((skip + 1)); continue
    fi
    if ! "$KILN" predict "$f/model.kiln" "${inputs[@]}" "${host_out[@]}" >"$f/predict.txt" 2>&1; then
        printf '%-36s %-6s %-6s %14s  %s\n' "$name" - SKIP - "kiln predict: $(tail -n1 "$f/predict.txt")"
        skip=$((skip + 1)); continue
    fi
    for board in m4 m3; do
        fw_out=(); for y in "${outputs_host[@]}"; do fw_out+=(--output "${y/host-/$board-}"); done
        set +e
        # One runner with every op for all fixtures (a runner per model would be one
        # firmware build per fixture); tests/run.sh runs kiln run's per-model runners.
        "$KILN" run --qemu "$board" --all-ops "$f/model.kiln" "${inputs[@]}" "${fw_out[@]}" \
            >"$f/$board.txt" 2>"$f/$board.err"
        rc=$?
        # The all-ops runner leaves less flash for the blob than one with the model's own
        # ops (the int8 kernels of every op): a blob that does not fit gets its own runner.
        if [ $rc -ne 0 ] && grep -q "does not fit in" "$f/$board.err"; then
            "$KILN" run --qemu "$board" "$f/model.kiln" "${inputs[@]}" "${fw_out[@]}" \
                >"$f/$board.txt" 2>"$f/$board.err"
            rc=$?
        fi
        set -e
        count="$(sed -n 's/^kiln run: predict executed \([0-9]*\) instructions.*/\1/p' "$f/$board.txt")"
        reason="$(sed -n 's/^error: .*: the runner on [a-z0-9]* says: //p' "$f/$board.err")"
        if [ $rc -ne 0 ] && [ -n "$reason" ]; then
            printf '%-36s %-6s %-6s %14s  %s\n' "$name" "$board" SKIP - "$reason"
            skip=$((skip + 1)); continue
        elif [ $rc -ne 0 ]; then
            printf '%-36s %-6s %-6s %14s  %s\n' "$name" "$board" FAIL - "kiln run exit $rc: $(tail -n2 "$f/$board.err" | tr '\n' ' ')"
            fail=$((fail + 1)); continue
        fi
        same=1
        for y in "${outputs_host[@]}"; do
            cmp -s "$y" "${y/host-/$board-}" || same=0
        done
        if [ $same -eq 1 ]; then
            printf '%-36s %-6s %-6s %14s  %s\n' "$name" "$board" PASS "$count" "bit-identical to kiln predict"
            pass=$((pass + 1))
        else
            printf '%-36s %-6s %-6s %14s  %s\n' "$name" "$board" FAIL "$count" "outputs differ from kiln predict"
            fail=$((fail + 1))
        fi
    done
done
echo "$pass passed, $fail failed, $skip skipped ($(echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f", $1 - $2 }') s)"
if [ "$pass" -lt "$min_pass" ]; then
    echo "FAIL: only $pass runs passed; at least $min_pass must (KILN_PARITY_MIN_PASS)"
    exit 1
fi
[ "$fail" -eq 0 ]
