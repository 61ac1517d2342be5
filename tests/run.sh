#!/usr/bin/env bash
# Every test kiln has, on a fresh machine: installs what is missing (Rust targets and
# components, qemu-system-arm 10 from bookworm-backports), then runs formatting, lints,
# the no_std builds for Cortex-M, the host test suites, and the firmware on QEMU.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components and targets"
installed_targets=$(rustup target list --installed)
for target in thumbv7em-none-eabihf thumbv6m-none-eabi; do
    grep -qx "$target" <<<"$installed_targets" || rustup target add "$target"
done
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

step "qemu-system-arm and the Cortex-M targets"
firmware-examples/scripts/install-qemu.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "the core's API documentation builds without a broken link"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet -p kiln --no-deps

step "core builds for Cortex-M4F and Cortex-M0+ (no_std, no alloc)"
cargo build -p kiln --target thumbv7em-none-eabihf
cargo build -p kiln --target thumbv6m-none-eabi

step "core builds with each op feature alone, warning-free; a build without one refuses its models"
for feature in "" dense conv1d conv2d depthwise-conv2d separable-conv2d max-pooling average-pooling \
    global-pooling normalization activations merge concatenate reshape zero-padding2d cropping2d \
    up-sampling2d random-crop math training summary; do
    RUSTFLAGS="-D warnings" cargo build --quiet -p kiln --no-default-features --features "format,$feature" \
        --target thumbv7em-none-eabihf --target-dir target/families
done
cargo test --quiet -p kiln --no-default-features --features format,dense --test left_out
# An int8 sigmoid is a table: a build without math loads and runs it.
cargo test --quiet -p kiln --no-default-features --features format,dense,activations --test left_out
# fast-math: micromath's approximations stay close, keep NaN, and every kernel test passes.
cargo test --quiet -p kiln --features fast-math --lib

step "tests"
# QEMU is installed above: the tests that train on it (tests/tests/fit_qemu.rs) must not skip.
KILN_REQUIRE_QEMU=1 cargo test --workspace
# Kernels must not panic on broken slice contracts in release builds, where the
# debug_assert!s that catch them in the tests above are gone.
cargo test --quiet -p kiln --release --lib kernels::release_contract_tests

step "firmware examples on QEMU (mps2-an386 and lm3s6965evb), bits compared with the host"
firmware-examples/scripts/run-examples.sh

step "kiln run --qemu gives the bits kiln predict gives"
cargo build --quiet --release -p kiln-host
kiln=target/release/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# kiln run builds its runner in a cache directory; keep CI's inside the build tree.
export KILN_CACHE_DIR="$PWD/target/kiln-cache"
for model in sequential/cnn functional/two_io; do
    dir=tests/fixtures/$model
    inputs=(); host=(); for x in "$dir"/x*.npy; do inputs+=(--input "$x"); done
    outs=$(ls "$dir"/y*.npy | grep -v training | wc -l)
    "$kiln" export "$dir/model.keras" -o "$work/m.kiln" >/dev/null
    for ((j = 0; j < outs; j++)); do host+=(--output "$work/host$j.npy"); done
    "$kiln" predict "$work/m.kiln" "${inputs[@]}" "${host[@]}"
    # The m0's 16 KiB of RAM do not hold the CNN's 27 KB arena.
    boards=(m4 m3); [ "$model" = sequential/cnn ] || boards+=(m0)
    for board in "${boards[@]}"; do
        qemu=(); for ((j = 0; j < outs; j++)); do qemu+=(--output "$work/$board$j.npy"); done
        "$kiln" run --qemu "$board" "$work/m.kiln" "${inputs[@]}" "${qemu[@]}" >"$work/$board.log"
        for ((j = 0; j < outs; j++)); do cmp "$work/host$j.npy" "$work/$board$j.npy"; done
        echo "$model on $board: $(grep -o 'predict executed [0-9]* instructions' "$work/$board.log"), bit-identical"
    done
done

step "kiln fit --qemu writes the weights kiln fit writes (Cortex-M4F and Cortex-M3)"
dir=tests/fixtures/fit/mlp_cce_probs_momentum
flags=(--x "$dir/x.npy" --y "$dir/y.npy" --batch-size 4 --epochs 2 --no-shuffle)
"$kiln" fit "$dir/model.keras" "${flags[@]}" -o "$work/fit_host.kiln" --history "$work/fit_host.json" >/dev/null
for board in m4 m3; do
    "$kiln" fit "$dir/model.keras" "${flags[@]}" -o "$work/fit_$board.kiln" --history "$work/fit_$board.json" --qemu "$board" >"$work/fit_$board.log"
    cmp "$work/fit_host.kiln" "$work/fit_$board.kiln"
    cmp "$work/fit_host.json" "$work/fit_$board.json"
    echo "fit on $board: $(grep -o '[0-9]* instructions per step' "$work/fit_$board.log"), bit-identical"
done

step "int8 .tflite models on QEMU give LiteRT's reference bits (and kiln predict's)"
for dir in tests/fixtures/bench/{mlp,cnn,kws,resnet8,vww} tests/fixtures/int8/{conv_same_valid,residual_add,concat_pad,activations,two_inputs}; do
    # (Not `ls a b | head`: ls fails on the one that is missing, and pipefail stops the script.)
    for model in "$dir"/model_int8.tflite "$dir"/model.tflite; do [ -f "$model" ] && break; done
    inputs=(); for x in "$dir"/x_int8*.npy; do inputs+=(--input "$x"); done
    "$kiln" predict "$model" "${inputs[@]}" --output "$work/host.npy"
    cmp "$work/host.npy" "$dir/y_int8.npy"
    # The m0 (16 KiB of RAM) runs all but the bench CNN and KWS (arenas of 14 and 16 KB);
    # the m3 (64 KiB) not ResNet-8 (a 49 KB arena) or the VWW MobileNet (a 254 KB blob).
    case $dir in
        */bench/resnet8 | */bench/vww) boards=(m4) ;;
        */bench/cnn | */bench/kws) boards=(m4 m3) ;;
        *) boards=(m4 m3 m0) ;;
    esac
    for board in "${boards[@]}"; do
        "$kiln" run --qemu "$board" "$model" "${inputs[@]}" --output "$work/$board.npy" >"$work/$board.log"
        cmp "$dir/y_int8.npy" "$work/$board.npy"
        echo "$model on $board: $(grep -o 'predict executed [0-9]* instructions' "$work/$board.log"), LiteRT's bits"
    done
done

step "the README's own firmware runs an exported model on QEMU"
own=firmware-examples/your-own
mkdir -p "$own/model"
"$kiln" export tests/fixtures/sequential/mlp/model.keras -o "$own/model/model.kiln" --rust "$own/model/model.rs" >/dev/null
# The firmware predicts on an input of 0.5s; so does the host, from a .npy of 37 of them.
dict="{'descr': '<f4', 'fortran_order': False, 'shape': (1, 37), }"
pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
{ printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( ${#dict} + 1 + pad )))\\x00"
  printf '%s%*s\n' "$dict" "$pad" ""; for _ in $(seq 37); do printf '\x00\x00\x00\x3f'; done; } >"$work/half.npy"
want="$("$kiln" predict "$own/model/model.kiln" --input "$work/half.npy" | tail -n1)"
got="$(cd "$own" && cargo run --quiet --release 2>/dev/null)"
[ "$got" = "$want" ] || { echo "your-own firmware printed $got, kiln predict $want"; exit 1; }
echo "your-own firmware on mps2-an386: $got, as kiln predict"

step "an installed kiln runs on QEMU with no checkout"
# Install from a copy of the tree, remove the copy, run from elsewhere: the binary must
# carry everything kiln run needs.
copy="$work/checkout"
mkdir -p "$copy"
if git rev-parse --git-dir >/dev/null 2>&1; then # the files a checkout has, nothing ignored
    git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$copy"
else
    tar --exclude=./target --exclude=./.git --exclude='./.venv*' --exclude=./firmware-examples/target \
        --exclude=./firmware-examples/insn-count-plugin/target -cf - . | tar -xf - -C "$copy"
fi
cargo install --quiet --locked --path "$copy/host-tools" --root "$work/prefix" --target-dir target/install
rm -rf "$copy"
cp tests/fixtures/sequential/cnn/x.npy "$work/x.npy"
"$kiln" export tests/fixtures/sequential/cnn/model.keras -o "$work/m.kiln" >/dev/null
"$kiln" predict "$work/m.kiln" --input "$work/x.npy" --output "$work/host.npy"
(cd "$work" && KILN_CACHE_DIR="$work/cache" prefix/bin/kiln run --qemu m4 m.kiln --input x.npy --output y.npy >run.log)
cmp "$work/host.npy" "$work/y.npy"
echo "installed kiln on m4: $(grep -o 'predict executed [0-9]* instructions' "$work/run.log"), bit-identical"

# Last, so the run ends on its "N passed, N failed" line.
step "every Keras parity fixture on QEMU, both boards, bit-identical to kiln predict"
firmware-examples/scripts/run-parity.sh
