"""One epoch of training in Keras 3 on JAX, the workload of kiln's host-tools/benches/fit.rs:
the MLP 784-128-10 (Dense 128 relu, Dense 10 softmax), 1,000 samples, batch 32 (32 steps, the
last of 8), SGD lr 0.01 momentum 0.9, categorical cross-entropy. The same weights, inputs and
labels as that bench (its LCG), so the first epoch's loss can be compared with burn's.

    KERAS_BACKEND=jax python bench/train/keras_jax.py [EPOCHS]

Each epoch is one model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0): one
warm-up call (it also compiles both step shapes, 32 and 8), then EPOCHS (default 15) timed
calls; prints one JSON line with the median. One thread comes from the caller
(bench/train.sh): XLA_FLAGS and taskset.
"""
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import jax  # noqa: E402


def values(n, seed):
    """Deterministic values in [-1, 1): the bench's LCG (u32 wrap-around)."""
    out = np.empty(n, dtype=np.float32)
    s = seed
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = (s >> 8) / float(1 << 23) - 1.0
    return out


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    if keras.backend.backend() != "jax":
        sys.exit(f"KERAS_BACKEND is {keras.backend.backend()}, not jax")
    n = 1000
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    flat = values(784 * 128 + 128 + 128 * 10 + 10, 1) * np.float32(0.05)
    weights, at = [], 0
    for w in model.get_weights():  # kernel (in, out), bias: the order kiln's set_weights takes
        weights.append(flat[at : at + w.size].reshape(w.shape))
        at += w.size
    model.set_weights(weights)
    x = ((values(n * 784, 2) + np.float32(1.0)) * np.float32(0.5)).reshape(n, 784)
    y = np.zeros((n, 10), dtype=np.float32)
    y[np.arange(n), np.arange(n) * 7 % 10] = 1.0
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="categorical_crossentropy",
    )

    def epoch():
        h = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        return float(h.history["loss"][-1])

    first_loss = epoch()
    times = []
    last_loss = first_loss
    for _ in range(epochs):
        t = time.perf_counter()
        last_loss = epoch()
        times.append((time.perf_counter() - t) * 1e3)
    print(
        json.dumps(
            {
                "impl": "keras-jax",
                "epochs": epochs,
                "median_ms": float(np.median(times)),
                "min_ms": min(times),
                "first_epoch_loss": first_loss,
                "last_epoch_loss": last_loss,
                "keras": keras.__version__,
                "jax": jax.__version__,
                "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else "",
                "devices": [str(d) for d in jax.devices()],
                "threads": len(os.listdir("/proc/self/task")),
            }
        )
    )


if __name__ == "__main__":
    main()
