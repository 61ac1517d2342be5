"""Convert the bench .keras models to float32 .tflite with a fixed batch of 1.

Usage: convert.py FIXTURES_DIR OUT_DIR MODEL...   (run by run.sh, KERAS_BACKEND=tensorflow)
"""
import sys
from pathlib import Path

import keras
import tensorflow as tf

fixtures, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for name in sys.argv[3:]:
    model = keras.saving.load_model(fixtures / name / "model.keras")
    # Re-wrap with a batch-1 Input so the .tflite input shape is [1, ...], not [-1, ...].
    inp = keras.Input(batch_shape=(1, *model.inputs[0].shape[1:]))
    fixed = keras.Model(inp, model(inp))
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)  # float32, no optimizations
    (out / f"{name}.tflite").write_bytes(converter.convert())
    print(f"converted {name} -> {out / name}.tflite", flush=True)
