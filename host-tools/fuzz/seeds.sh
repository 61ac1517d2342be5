#!/usr/bin/env bash
# Writes the seed corpora of the host fuzz targets from the repository's fixtures:
#   import_config    every fixture's model.json (the layers suite's too)
#   import_weights   a config-choice byte, then that fixture's model.weights.h5
#   npy              the fixtures' inputs and outputs and the .npy test files
#   tflite           the .tflite reader's fixtures (tests/fixtures/tflite_reader) and the
#                    hand-built models of host-tools/tests/tflite_reader.rs
#   tflite_import    every int8 .tflite fixture (tests/fixtures/int8, the bench models, the
#                    reader's), and the tflite seeds above
#   summary_options  a few option sets (see src/harness.rs for the layout)
#
#   host-tools/fuzz/seeds.sh [DIR]      # default: host-tools/fuzz/corpus
#
# The committed corpora are these seeds grown by fuzzing and minimized with `cargo fuzz
# cmin`; see README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/host-tools/fuzz/corpus}"
fixtures="$root/tests/fixtures"
mkdir -p "$out"/{import_config,import_weights,npy,summary_options,tflite,tflite_import}
for f in "$fixtures"/sequential/*/model.json "$fixtures"/functional/*/model.json "$fixtures"/layers/*/model.json; do
    name="$(basename "$(dirname "$(dirname "$f")")")-$(basename "$(dirname "$f")")"
    cp "$f" "$out/import_config/$name"
done
# The order of CONFIGS in src/harness.rs.
configs=(sequential/mlp sequential/bn_conv sequential/depthwise functional/nested_deep functional/two_io)
for i in "${!configs[@]}"; do
    { printf "\\x$(printf %02x "$i")"; unzip -p "$fixtures/${configs[$i]}/model.keras" model.weights.h5; } \
        >"$out/import_weights/${configs[$i]//\//-}"
done
for f in "$fixtures"/sequential/*/[xy]*.npy "$root"/host-tools/tests/data/formats/npy/*.npy; do
    [ "$(stat -c %s "$f")" -le 65536 ] || continue
    cp "$f" "$out/npy/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in "$fixtures"/tflite_reader/*.tflite; do
    cp "$f" "$out/tflite/$(basename "$f")"
done
KILN_TFLITE_SEEDS="$out/tflite" cargo test -q --manifest-path "$root/host-tools/Cargo.toml" \
    --test tflite_reader -- --ignored write_fuzz_seeds >/dev/null
for f in "$fixtures"/int8/*/*.tflite "$fixtures"/bench/*/model_int8.tflite "$fixtures"/tflite_reader/*.tflite; do
    name="${f#"$fixtures"/}"
    cp "$f" "$out/tflite_import/${name//\//-}"
done
cp "$out"/tflite/* "$out/tflite_import/"
printf '\x00\x00\x00\x00' >"$out/summary_options/default"
printf '\x0c\x64\x00\x00' >"$out/summary_options/expand-trainable-100"
printf '\x11\x00\x00\x00dense_1\x00dense_3' >"$out/summary_options/range"
printf '\x02\x50\x00\x03\x00\x00\x00\x00\x00\x00\xe0\x3f\x9a\x99\x99\x99\x99\x99\xe9\x3f\x00\x00\x00\x00\x00\x00\xf0\x3f' \
    >"$out/summary_options/positions"
printf '\x13\x00\x00\x00^d.*?[0-9]{1,2}$|conv\x00drop.*' >"$out/summary_options/patterns"
for t in import_config import_weights npy summary_options tflite tflite_import; do
    echo "$t: $(ls "$out/$t" | wc -l) seeds"
done
