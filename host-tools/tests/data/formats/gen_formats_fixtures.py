"""Regenerates the fixtures for host-tools/tests/formats.rs.

The tests never run Python; this script is only for refreshing the committed files.

    python3 -m venv .venv-h5
    .venv-h5/bin/pip install numpy h5py keras "jax[cpu]"
    KERAS_BACKEND=jax .venv-h5/bin/python host-tools/tests/data/formats/gen_formats_fixtures.py

Writes, next to this script:
  tiny.keras           Sequential(Dense) exactly as Keras 3 wrote it (a "stored" zip); the
                       truncation/bit-flip tests mutate this one
  mlp.keras            Sequential MLP (Dense, BatchNormalization, Dropout, Dense "head") with
                       the SGD optimizer state; every weight randomized, biases too.  The
                       members are the ones Keras wrote, re-zipped with deflate to stay small
                       (Keras itself writes "stored"; the reader accepts both)
  mlp.json             model.to_json() of the same model
  nested.keras         Functional model: Conv2D (rank-4 kernel), Flatten, BatchNormalization,
                       nested Sequential (Dense + ReLU), Dense named "cls"; deflate-re-zipped
  h5_variants.zip      (deflate) variants.h5 and variants_latest.h5: h5py files with what Keras
                       does not write but a reader should survive: chunked+gzip+shuffle,
                       big-endian, float64/float16/int datasets, rank 0..4, an empty dataset,
                       11 variables ("10" sorts before "2"), fixed-length ASCII attribute,
                       a vars group without a name; the second with libver="latest"
                       (link messages, v2 object headers); plus cycle.h5 (a group hard-linked
                       into its own subtree) and badnames.h5 (a variable named "kernel"),
                       which must be rejected
  weights_expected.json  every vars group of the files above: name attribute, shapes and values
  npy/*.npy            numpy.save outputs of many dtypes, byte orders and memory orders, plus
                       npy_expected.json (values as float32, C order, or the expected error)
"""

import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261128)


def randomize(model):
    """Give every variable (biases, BN statistics included) distinct random values."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [rng.uniform(-1.0, 1.0, size=w.shape).astype(np.float32) for w in ws]
        if isinstance(layer, keras.layers.BatchNormalization):
            new[3] = np.abs(new[3]) + 0.5  # moving_variance must stay positive
        layer.set_weights(new)
        if hasattr(layer, "layers"):
            randomize(layer)


def h5_tree(raw):
    """Every group that has a `vars` child: {container_path: {name, vars:[{shape,dtype,data}]}}."""
    out = {}
    with h5py.File(io.BytesIO(raw), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Group) and name.split("/")[-1] == "vars":
                container = name[: -len("vars")].rstrip("/")
                attr = obj.attrs.get("name")
                if isinstance(attr, bytes):
                    attr = attr.decode()
                keys = sorted(obj.keys(), key=int)
                out[container] = {
                    "name": attr,
                    "vars": [
                        {
                            "shape": list(obj[k].shape),
                            "dtype": obj[k].dtype.str,
                            "data": np.asarray(obj[k][()], dtype=np.float64).ravel().tolist(),
                        }
                        for k in keys
                    ],
                }
        f.visititems(visit)
        root_vars = f.get("vars")
        if root_vars is not None:
            visit("vars", root_vars)
    return out


def describe_h5(raw, label):
    with h5py.File(io.BytesIO(raw), "r") as f:
        print(f"--- {label}: superblock version {raw[8]}")
        def show(name, obj):
            if isinstance(obj, h5py.Dataset):
                layout = obj.id.get_create_plist().get_layout()
                print(f"  {name}: {obj.dtype.str} {obj.shape} layout={layout} "
                      f"chunks={obj.chunks} compression={obj.compression}")
            else:
                print(f"  {name}/ attrs={dict(obj.attrs)}")
        f.visititems(show)


def save_keras(model, fname, deflate):
    """Save with Keras; with `deflate`, re-zip the same members compressed (keeps fixtures small)."""
    path = os.path.join(HERE, fname)
    model.save(path)
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        members = {i.filename: z.read(i.filename) for i in infos}
        print(fname, [(i.filename, i.compress_type, i.file_size) for i in infos])
    if deflate:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for i in infos:
                z.writestr(i.filename, members[i.filename])
    describe_h5(members["model.weights.h5"], fname)
    return members


expected = {}

# --- mlp.keras / mlp.json / mlp_deflate.keras ---------------------------------------------
keras.utils.set_random_seed(1)
mlp = keras.Sequential(
    [
        keras.Input((3,)),
        keras.layers.Dense(4, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(2, name="head"),
    ],
    name="mlp",
)
randomize(mlp)
mlp.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
mlp.optimizer.build(mlp.trainable_variables)
members = save_keras(mlp, "mlp.keras", deflate=True)
expected["mlp.keras"] = h5_tree(members["model.weights.h5"])
with open(os.path.join(HERE, "mlp.json"), "w") as fh:
    fh.write(mlp.to_json())

# --- tiny.keras: byte-for-byte as Keras wrote it (stored zip); the fuzz tests mutate it -------
keras.utils.set_random_seed(3)
tiny = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="tiny")
randomize(tiny)
members = save_keras(tiny, "tiny.keras", deflate=False)
expected["tiny.keras"] = h5_tree(members["model.weights.h5"])

# --- nested.keras ---------------------------------------------------------------------------
keras.utils.set_random_seed(2)
inner = keras.Sequential([keras.layers.Dense(3, name="inner_d"), keras.layers.ReLU()], name="sequential")
inp = keras.Input((4, 4, 1), name="img")
x = keras.layers.Conv2D(2, 3, name="conv")(inp)
x = keras.layers.Flatten()(x)
x = keras.layers.BatchNormalization()(x)
x = inner(x)
out = keras.layers.Dense(2, name="cls")(x)
nested = keras.Model(inp, out, name="nested")
randomize(nested)
members = save_keras(nested, "nested.keras", deflate=True)
expected["nested.keras"] = h5_tree(members["model.weights.h5"])


# --- variants.h5 / variants_latest.h5 -------------------------------------------------------
variants_zip = {}


def write_variants(fname, libver):
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver=libver) as f:
        g = f.create_group("layers/odd/vars")
        g.attrs["name"] = "odd_layer"
        g.create_dataset("0", data=np.float32(2.5))  # rank 0
        g.create_dataset("1", data=np.arange(4, dtype=">f4"))  # big-endian
        g.create_dataset("2", data=(np.arange(6, dtype="<f8") / 4).reshape(2, 3))
        g.create_dataset("3", data=np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4),
                         chunks=(1, 1, 3, 4), compression="gzip", shuffle=True)  # rank 4, chunked
        g.create_dataset("4", data=np.array([-3, 0, 7], dtype=np.int64))
        g.create_dataset("5", data=np.array([0.5, -1.25], dtype=np.float16))
        g.create_dataset("6", data=np.array([[200, 3]], dtype=np.uint8))
        g.create_dataset("7", data=np.arange(3, dtype=np.float32).reshape(1, 3, 1))  # rank 3
        g.create_dataset("8", data=np.zeros((0, 2), dtype=np.float32))  # empty
        g.create_dataset("9", data=np.float32(-1.0))
        g.create_dataset("10", data=np.float32(10.0))  # "10" sorts before "2" in HDF5
        # fixed-length ASCII attribute instead of h5py's default variable-length UTF-8
        e = f.create_group("layers/empty/vars")
        e.attrs.create("name", np.bytes_("empty_one"))
        f.create_group("layers/noname/vars")
        f.create_group("vars").attrs["name"] = "variants"
    raw = buf.getvalue()
    variants_zip[fname] = raw
    describe_h5(raw, fname)
    expected[fname] = h5_tree(raw)


write_variants("variants.h5", "earliest")
write_variants("variants_latest.h5", "latest")


def write_invalid(fname, build):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    variants_zip[fname] = buf.getvalue()


def cycle(f):
    f.create_group("layers/a/vars").attrs["name"] = "a"
    f["layers/a/back"] = f["layers"]  # a hard link to an ancestor: legal HDF5, never Keras


def badnames(f):
    g = f.create_group("layers/dense/vars")
    g.attrs["name"] = "dense"
    g.create_dataset("kernel", data=np.zeros((2, 2), np.float32))


write_invalid("cycle.h5", cycle)
write_invalid("badnames.h5", badnames)
with zipfile.ZipFile(os.path.join(HERE, "h5_variants.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for name, raw in variants_zip.items():
        z.writestr(name, raw)

with open(os.path.join(HERE, "weights_expected.json"), "w") as fh:
    json.dump(expected, fh, sort_keys=True)

# --- npy ------------------------------------------------------------------------------------
npy_dir = os.path.join(HERE, "npy")
os.makedirs(npy_dir, exist_ok=True)
npy_expected = {}


def npy(name, arr, error=None):
    np.save(os.path.join(npy_dir, name), arr, allow_pickle=arr.dtype == object)
    if error:
        npy_expected[name] = {"error": error}
    else:
        c = np.ascontiguousarray(arr)
        npy_expected[name] = {
            "shape": list(arr.shape),
            "data": np.asarray(c, dtype=np.float32).astype(np.float64).ravel().tolist(),
        }


a34 = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 4
npy("f32_3x4.npy", a34)
npy("f32be_3x4.npy", a34.astype(">f4"))
npy("f32_fortran_3x4.npy", np.asfortranarray(a34))
npy("f64_2x3x2.npy", np.linspace(-1, 1, 12).reshape(2, 3, 2))
npy("f64be_fortran_2x3x2.npy", np.asfortranarray(np.linspace(-1, 1, 12).reshape(2, 3, 2)).astype(">f8"))
npy("f16_4.npy", np.array([0.5, -2.0, 65504.0, 1e-4], dtype=np.float16))
npy("f32_scalar.npy", np.float32(1.75))
npy("f32_0x3.npy", np.zeros((0, 3), dtype=np.float32))
npy("f32_1x8x8x1.npy", rng.uniform(-1, 1, size=(1, 8, 8, 1)).astype(np.float32))
npy("f32_5.npy", np.array([1e-8, -0.0, 3.4e38, 7, 0.1], dtype=np.float32))
npy("bool_2x2.npy", np.array([[True, False], [False, True]]))
for dt in ["i1", "u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", "<u8", ">i8"]:
    vals = np.array([0, 1, 100, 127], dtype=dt)
    if dt[-2] == "i" or dt[0] == "i":
        vals = np.array([-128, -1, 0, 127], dtype=dt)
    npy("int_" + dt.replace("<", "le_").replace(">", "be_") + ".npy", vals)
npy("c8_2.npy", np.array([1 + 2j, 3], dtype="<c8"), error="dtype '<c8' is not supported")
npy("str_2.npy", np.array(["ab", "c"]), error="dtype '<U2' is not supported")
npy("object_2.npy", np.array([1, "a"], dtype=object), error="dtype '|O' is not supported")
npy("struct_2.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]), error="structured dtype")

with open(os.path.join(npy_dir, "npy_expected.json"), "w") as fh:
    json.dump(npy_expected, fh, sort_keys=True)

for fname in sorted(os.listdir(HERE)):
    p = os.path.join(HERE, fname)
    if os.path.isfile(p):
        print(f"{os.path.getsize(p):7d} {fname}")
