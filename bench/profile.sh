#!/usr/bin/env bash
# Where a `kiln run --qemu` spends its instructions, per function: the QEMU plugin's block
# profile of the counted regions (prepare and predict) summed over the runner's symbols,
# largest first. Not part of CI.
#
#   bench/profile.sh BOARD MODEL --input X.npy [more kiln run arguments]
#
# Needs llvm-nm (rustup component add llvm-tools). Functions LTO inlined into others
# count as those others.
set -euo pipefail
board=$1
shift
profile="${TMPDIR:-/tmp}/kiln-profile.$$"
trap 'rm -f "$profile" "$profile.elf"' EXIT
here="$(cd "$(dirname "$0")/.." && pwd)"
kiln="${KILN:-$here/target/release/kiln}"
KILN_QEMU_PROFILE="$profile" "$kiln" run --qemu "$board" "$@" --output "${TMPDIR:-/tmp}/kiln-profile-y.npy" |
    grep -E "executed|engine"
elf="$(cat "$profile.elf")"
nm="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-nm"
"$nm" -S -C --defined-only --radix=x "$elf" | python3 -c '
import re, sys, bisect
syms = []
for line in sys.stdin:
    p = line.split(None, 3)
    if len(p) == 4 and p[2] in "tTwW":
        syms.append((int(p[0], 16) & ~1, int(p[1], 16), re.sub(r"::h[0-9a-f]{16}$", "", p[3].strip())))
syms.sort()
starts = [s[0] for s in syms]
totals, all_insns = {}, 0
for line in open(sys.argv[1]):
    vaddr, insns, runs = line.split()
    a, n = int(vaddr, 16) & ~1, int(insns) * int(runs)
    all_insns += n
    i = bisect.bisect_right(starts, a) - 1
    name = syms[i][2] if i >= 0 and a < syms[i][0] + max(syms[i][1], 1) else "?"
    totals[name] = totals.get(name, 0) + n
print(f"{all_insns:>10}  instructions in the regions")
for name, n in sorted(totals.items(), key=lambda t: -t[1])[:25]:
    print(f"{n:>10}  {name[:120]}")
' "$profile"
