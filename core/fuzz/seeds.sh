#!/usr/bin/env bash
# Writes the seed corpus of the `load_predict` target: the blobs of small fixture models,
# exported with `kiln export`, each twice: behind mode byte 0x01 (CRC repaired before
# loading, so mutations reach the graph decoder) and 0x00 (loaded as is).
#
#   core/fuzz/seeds.sh [DIR]      # default: core/fuzz/corpus/load_predict
#
# The committed corpus is these seeds grown by fuzzing and minimized with
# `cargo fuzz cmin`; see core/fuzz/README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/core/fuzz/corpus/load_predict}"
mkdir -p "$out"
fixtures="$root/tests/fixtures"
models=(
    sequential/relu_layers sequential/reshape sequential/depthwise sequential/global_pool
    sequential/conv_1ch sequential/bn_conv sequential/layer_range sequential/pool_max
    functional/merges functional/residual_cnn functional/seed_full functional/two_io
    functional/nested_functional_shared functional/nested_deep
    layers/conv1d_causal layers/pool1d layers/global_pool1d layers/separable_conv2d
    layers/zero_padding2d layers/cropping2d layers/upsampling2d
)
cargo build --quiet --manifest-path "$root/Cargo.toml" -p kiln-host
kiln="$root/target/debug/kiln"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for m in "${models[@]}"; do
    file="$fixtures/$m/model.keras"
    [ -f "$file" ] || file="$fixtures/$m/model.json"
    name="${m//\//-}"
    "$kiln" export "$file" -o "$tmp/$name.kiln" >/dev/null
    { printf '\x01'; cat "$tmp/$name.kiln"; } >"$out/$name-repair"
    { printf '\x00'; cat "$tmp/$name.kiln"; } >"$out/$name-raw"
done
echo "wrote $(ls "$out" | wc -l) seeds to $out"
