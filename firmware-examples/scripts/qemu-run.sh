#!/usr/bin/env bash
# Runs a firmware ELF on an emulated board, optionally counting the guest instructions
# between the kiln_marker_start and kiln_marker_end functions.
#
#   scripts/qemu-run.sh [--count[=FILE]] [--timeout SECONDS] BOARD ELF [QEMU_ARG…]
#
# BOARD: m4 | mps2-an386 (Cortex-M4F), m3 | lm3s6965evb (Cortex-M3) or m0 | microbit
# (Cortex-M0). Extra QEMU arguments follow the ELF (e.g. -append "model.kiln y.bin x.bin"
# for the runner).
# --count: loads the TCG plugin (built by scripts/build-plugin.sh) with -icount shift=0;
# it prints "kiln-insn-count: region N: C instructions" on stderr (and into FILE if
# given). KILN_COUNT_MODE=insn makes the plugin count with one callback per instruction
# (slower; the default, tb, counts whole blocks). The exit code is the firmware's (124 if
# the timeout hit).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
qemu="${QEMU_SYSTEM_ARM:-qemu-system-arm}"

count="" ; count_file="" ; seconds=60
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=1; shift ;;
        --count=*) count=1; count_file="${1#--count=}"; shift ;;
        --timeout) seconds="$2"; shift 2 ;;
        *) break ;;
    esac
done
if [ $# -lt 2 ]; then
    sed -n '2,14p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
board="$1"; elf="$2"; shift 2
case "$board" in
    m4|mps2-an386) machine=(-cpu cortex-m4 -machine mps2-an386) ;;
    m3|lm3s6965evb) machine=(-cpu cortex-m3 -machine lm3s6965evb) ;;
    m0|microbit) machine=(-cpu cortex-m0 -machine microbit) ;;
    *) echo "qemu-run: unknown board '$board' (m4, mps2-an386, m3, lm3s6965evb, m0, microbit)" >&2; exit 2 ;;
esac

# A symbol's address, with GNU nm or LLVM's.
symbol() {
    local nm_tool
    for nm_tool in nm llvm-nm "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-nm; do
        if command -v "$nm_tool" >/dev/null 2>&1; then
            "$nm_tool" "$elf" | awk -v s="$1" '$3 == s { print "0x" $1; exit }'
            return
        fi
    done
    echo "qemu-run: no nm (GNU binutils or llvm-tools) to read $elf" >&2
    exit 2
}

plugin=()
if [ -n "$count" ]; then
    start="$(symbol kiln_marker_start)"; end="$(symbol kiln_marker_end)"
    if [ -z "$start" ] || [ -z "$end" ]; then
        echo "qemu-run: $elf has no kiln_marker_start/kiln_marker_end symbols" >&2
        exit 2
    fi
    lib="$("$here/scripts/build-plugin.sh")"
    args="$lib,start=$start,end=$end"
    [ -n "$count_file" ] && args="$args,out=$count_file"
    [ -n "${KILN_COUNT_MODE:-}" ] && args="$args,mode=$KILN_COUNT_MODE"
    plugin=(-icount shift=0 -plugin "$args")
fi

exec timeout "$seconds" "$qemu" "${machine[@]}" -nographic \
    -semihosting-config enable=on,target=native "${plugin[@]}" -kernel "$elf" "$@"
