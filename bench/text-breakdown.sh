#!/usr/bin/env bash
# Where a model's engine .text goes: the symbols of a `kiln run` runner minus those of the
# baseline runner (no kiln call), grouped by part of kiln. Not part of CI.
#
#   bench/text-breakdown.sh RUNNER.elf BASELINE.elf
#
# The ELFs are the ones `kiln run` caches in ~/.cache/kiln/runners ($KILN_CACHE_DIR/runners),
# named BOARD-FEATURES-nCAPACITY.elf and BOARD-baseline.elf. Functions LTO inlined into
# the runner's main count as the runner's.
set -euo pipefail
nm="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-nm"
[ -x "$nm" ] || { echo "needs llvm-nm: rustup component add llvm-tools" >&2; exit 1; }
"$nm" --size-sort -S -C --radix=d "$1" >"${TMPDIR:-/tmp}/model.syms.$$"
"$nm" --size-sort -S -C --radix=d "$2" >"${TMPDIR:-/tmp}/base.syms.$$"
trap 'rm -f "${TMPDIR:-/tmp}"/{model,base}.syms.$$' EXIT
python3 - "${TMPDIR:-/tmp}/model.syms.$$" "${TMPDIR:-/tmp}/base.syms.$$" <<'EOF'
import re, sys
def text_symbols(path):
    sizes = {}
    for line in open(path):
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in "tT":
            continue
        name = re.sub(r"::h[0-9a-f]{16}", "", parts[3].strip())
        name = re.sub(r" \(\.\d+\)$", "", name)
        sizes[name] = sizes.get(name, 0) + int(parts[1])
    return sizes
model, base = text_symbols(sys.argv[1]), text_symbols(sys.argv[2])
parts = [  # first match wins
    ("the runner's own code (main, printing)", r"kiln_firmware|^runner"),
    ("errors: names and Display", r"fmt|kiln::name"),
    ("format: load, decode, validate", r"kiln::format|Wire|from_utf8"),
    ("planner", r"kiln::planner"),
    ("kernels and layer steps (ops::*::run, kernels)", r"kiln::kernels|kiln::ops::\w+::run"),
    ("prepare: shapes, steps, weights", r"kiln::runtime::prepare|kiln..ops..\w+..\w+\$u20\$as\$u20\$kiln..ops..Op|kiln::ops|shapes_for|computed_shape|with_input_shapes|same_weights|kiln::graph|kiln::shape"),
    ("invoke (Prepared::call)", r"kiln::runtime::invoke"),
    ("other kiln", r"kiln"),
    ("core and compiler builtins", r""),
]
total = {label: 0 for label, _ in parts}
biggest = []
for name in set(model) | set(base):
    delta = model.get(name, 0) - base.get(name, 0)
    if delta == 0:
        continue
    label = next(label for label, pattern in parts if re.search(pattern, name))
    total[label] += delta
    biggest.append((delta, name))
print("| part | bytes |")
print("|---|---:|")
for label, _ in parts:
    if total[label]:
        print(f"| {label} | {total[label]:,} |")
print(f"| **engine .text (sum)** | **{sum(total.values()):,}** |")
print()
print("largest functions:")
for delta, name in sorted(biggest, reverse=True)[:15]:
    print(f"  {delta:6} {name[:110]}")
EOF
