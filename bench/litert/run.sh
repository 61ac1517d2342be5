#!/usr/bin/env bash
# LiteRT host latency of the benchmark models (not part of CI). See README.md.
# Usage: bash bench/litert/run.sh [--setup]   (--setup recreates the virtualenv)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv" OUT="$HERE/out" FIXTURES="$ROOT/tests/fixtures/bench"
MODELS=(mlp cnn dense1 kws)

if [[ "${1:-}" == "--setup" ]]; then rm -rf "$VENV"; fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "creating $VENV (downloads about 360 MB from PyPI)..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
fi
PY="$VENV/bin/python"

mkdir -p "$OUT"
# TensorFlow is only loaded here, in its own process; its chatter goes to out/convert.log.
echo "converting ${MODELS[*]} to $OUT/*.tflite (log: $OUT/convert.log)" >&2
KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 \
  "$PY" "$HERE/convert.py" "$FIXTURES" "$OUT" "${MODELS[@]}" > "$OUT/convert.log" 2>&1 \
  || { cat "$OUT/convert.log" >&2; exit 1; }
"$PY" "$HERE/bench.py" "$FIXTURES" "$OUT" "${MODELS[@]}"
