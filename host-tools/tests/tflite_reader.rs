//! The `.tflite` reader (`kiln_host::formats::tflite`) against files the TFLite converter
//! wrote and what TFLite's own Python interpreter says about them, and against damaged and
//! hand-built malformed models.
//!
//! The fixtures are `tests/fixtures/tflite_reader/*.tflite`, each with a `.json` of the
//! interpreter's tensor and op details, written by `tests/fixtures/generate_tflite_reader.py`
//! (never run by the tests).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use kiln_host::formats::tflite::{
    self, Activation, BuiltinOp, Options, Padding, TensorType, TfliteError, TfliteModel,
    WeightsFormat,
};
use serde_json::Value;

const MODELS: &[&str] = &["mlp_int8", "cnn_int8", "float_io"];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tflite_reader")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(format!("{name}.tflite"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(name: &str) -> Value {
    let path = fixture_dir().join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn parse_ok(bytes: &[u8]) -> TfliteModel {
    tflite::parse(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(bytes: &[u8]) -> String {
    match tflite::parse(bytes) {
        Ok(_) => panic!("parsed"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// What TFLite says
// ---------------------------------------------------------------------------------------

#[test]
fn every_tensor_and_op_matches_the_tflite_interpreter() {
    for &name in MODELS {
        let model = tflite::read(fixture_dir().join(format!("{name}.tflite")))
            .unwrap_or_else(|e| panic!("{e}"));
        let want = expected(name);
        assert_eq!(model.version, 3);
        assert_eq!(model.subgraphs.len(), 1, "{name}");
        let graph = &model.subgraphs[0];

        let tensors = want["tensors"].as_array().unwrap();
        assert_eq!(graph.tensors.len(), tensors.len(), "{name}: tensor count");
        let constants = want["constant_bytes"].as_object().unwrap();
        for (i, (t, w)) in graph.tensors.iter().zip(tensors).enumerate() {
            let at = format!("{name}: tensor {i} ({})", t.name);
            assert_eq!(w["index"].as_u64().unwrap() as usize, i, "{at}");
            assert_eq!(t.name, w["name"].as_str().unwrap(), "{at}");
            let shape: Vec<i64> = t.shape.iter().map(|&d| i64::from(d)).collect();
            assert_eq!(shape, ints(&w["shape"]), "{at}: shape");
            // The interpreter reports the shape where the file has no signature.
            let signature: Vec<i64> = t
                .shape_signature
                .as_ref()
                .unwrap_or(&t.shape)
                .iter()
                .map(|&d| i64::from(d))
                .collect();
            assert_eq!(signature, ints(&w["shape_signature"]), "{at}: signature");
            assert_eq!(t.dtype.name(), w["dtype"].as_str().unwrap(), "{at}: dtype");
            let q = &w["quantization"];
            // The JSON has each float32 scale as the double it is; serde_json may read it
            // 1 ulp off as a double, never as a float32.
            let scales: Vec<f32> = q["scales"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_f64().unwrap() as f32)
                .collect();
            match &t.quantization {
                None => assert!(scales.is_empty(), "{at}: TFLite has scales {scales:?}"),
                Some(tq) => {
                    assert_eq!(tq.scale, scales, "{at}: scales");
                    assert_eq!(tq.zero_point, ints(&q["zero_points"]), "{at}: zero points");
                    assert_eq!(
                        i64::from(tq.quantized_dimension),
                        q["quantized_dimension"].as_i64().unwrap(),
                        "{at}: quantized dimension"
                    );
                }
            }
            let bytes = constants.get(&i.to_string()).map(|b| b.as_u64().unwrap());
            assert_eq!(
                t.data.as_ref().map(|d| d.len() as u64),
                bytes,
                "{at}: constant data"
            );
            assert!(!t.is_variable, "{at}");
        }

        let as_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        assert_eq!(
            as_i64(&graph.inputs),
            ints(&want["inputs"]),
            "{name}: inputs"
        );
        assert_eq!(
            as_i64(&graph.outputs),
            ints(&want["outputs"]),
            "{name}: outputs"
        );

        let ops = want["ops"].as_array().unwrap();
        assert_eq!(graph.operators.len(), ops.len(), "{name}: op count");
        for (i, (op, w)) in graph.operators.iter().zip(ops).enumerate() {
            let at = format!("{name}: op {i}");
            assert_eq!(op.op.name(), w["op_name"].as_str().unwrap(), "{at}");
            let inputs: Vec<i64> = op
                .inputs
                .iter()
                .map(|t| t.map_or(-1, |t| t as i64))
                .collect();
            assert_eq!(inputs, ints(&w["inputs"]), "{at}: inputs");
            assert_eq!(as_i64(&op.outputs), ints(&w["outputs"]), "{at}: outputs");
            assert!(op.version >= 1, "{at}");
        }
    }
}

#[test]
fn options_and_data_of_the_cnn() {
    let model = parse_ok(&fixture("cnn_int8"));
    let graph = &model.subgraphs[0];
    let ops: Vec<&BuiltinOp> = graph.operators.iter().map(|o| &o.op).collect();
    assert_eq!(
        ops,
        [
            &BuiltinOp::Conv2D,
            &BuiltinOp::DepthwiseConv2D,
            &BuiltinOp::MaxPool2D,
            &BuiltinOp::AveragePool2D,
            &BuiltinOp::Reshape,
            &BuiltinOp::FullyConnected,
            &BuiltinOp::Softmax,
        ]
    );
    let options: Vec<&Options> = graph.operators.iter().map(|o| &o.options).collect();
    assert_eq!(
        options[0],
        &Options::Conv2D {
            padding: Padding::Valid,
            stride_w: 1,
            stride_h: 1,
            activation: Activation::Relu,
            dilation_w: 1,
            dilation_h: 1,
        }
    );
    assert!(
        matches!(
            options[1],
            Options::DepthwiseConv2D {
                padding: Padding::Same,
                stride_w: 1,
                stride_h: 1,
                activation: Activation::None,
                dilation_w: 1,
                dilation_h: 1,
                ..
            }
        ),
        "{:?}",
        options[1]
    );
    assert_eq!(
        options[2],
        &Options::Pool2D {
            padding: Padding::Valid,
            stride_w: 2,
            stride_h: 2,
            filter_w: 2,
            filter_h: 2,
            activation: Activation::None,
        }
    );
    assert!(
        matches!(
            options[3],
            Options::Pool2D {
                filter_w: 1,
                filter_h: 1,
                ..
            }
        ),
        "{:?}",
        options[3]
    );
    assert!(
        matches!(options[4], Options::None | Options::Reshape { .. }),
        "{:?}",
        options[4]
    );
    assert!(
        matches!(
            options[5],
            Options::FullyConnected {
                activation: Activation::None,
                weights_format: WeightsFormat::Default,
                ..
            }
        ),
        "{:?}",
        options[5]
    );
    assert_eq!(options[6], &Options::Softmax { beta: 1.0 });

    // The conv's weights: int8 [4, 3, 3, 1] per-channel along axis 0, bias int32 [4].
    let conv = &graph.operators[0];
    let weights = &graph.tensors[conv.inputs[1].unwrap()];
    assert_eq!(weights.dtype, TensorType::Int8);
    assert_eq!(weights.data.as_ref().unwrap().len(), 4 * 3 * 3);
    let q = weights.quantization.as_ref().unwrap();
    assert_eq!((q.scale.len(), q.quantized_dimension), (4, 0));
    let bias = &graph.tensors[conv.inputs[2].unwrap()];
    assert_eq!(bias.dtype, TensorType::Int32);
    assert_eq!(bias.data.as_ref().unwrap().len(), 4 * 4);
    // Depthwise weights [1, 3, 3, 4] are quantized along the channels, axis 3.
    let dw = &graph.tensors[graph.operators[1].inputs[1].unwrap()];
    assert_eq!(dw.quantization.as_ref().unwrap().quantized_dimension, 3);
}

#[test]
fn float_io_starts_with_quantize_and_ends_with_dequantize() {
    let model = parse_ok(&fixture("float_io"));
    let graph = &model.subgraphs[0];
    assert_eq!(graph.operators.first().unwrap().op, BuiltinOp::Quantize);
    assert_eq!(graph.operators.last().unwrap().op, BuiltinOp::Dequantize);
    let input = &graph.tensors[graph.inputs[0]];
    assert_eq!(input.dtype, TensorType::Float32);
    assert_eq!(input.quantization, None);
    let fc = &graph.operators[1];
    assert_eq!(fc.op, BuiltinOp::FullyConnected);
    // The converter drops a bias of zeros: the optional input is absent.
    assert_eq!(fc.inputs[2], None);
    assert_eq!(graph.operators[2].op, BuiltinOp::Tanh);
}

#[test]
fn the_mlp_fuses_relu_into_its_first_dense() {
    let model = parse_ok(&fixture("mlp_int8"));
    let graph = &model.subgraphs[0];
    assert!(matches!(
        graph.operators[0].options,
        Options::FullyConnected {
            activation: Activation::Relu,
            ..
        }
    ));
    assert!(matches!(
        graph.operators[1].options,
        Options::FullyConnected {
            activation: Activation::None,
            ..
        }
    ));
    assert_eq!(graph.tensors[graph.inputs[0]].dtype, TensorType::Int8);
    assert!(!model.description.is_empty());
}

// ---------------------------------------------------------------------------------------
// Damaged files
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

fn no_panic(bytes: &[u8], what: &str) -> Result<TfliteModel, TfliteError> {
    catch_unwind(AssertUnwindSafe(|| tflite::parse(bytes)))
        .unwrap_or_else(|_| panic!("{what}: panicked"))
}

#[test]
fn every_truncation_is_refused() {
    for &name in MODELS {
        let bytes = fixture(name);
        for n in 0..bytes.len() {
            let result = no_panic(&bytes[..n], &format!("{name} truncated to {n} bytes"));
            let e = result.err().unwrap_or_else(|| {
                panic!("{name} truncated to {n} of {} bytes parsed", bytes.len())
            });
            let e = e.to_string();
            assert!(!e.contains('\n'), "{e}");
        }
    }
}

#[test]
fn bit_flips_and_overwrites_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for &name in MODELS {
        let bytes = fixture(name);
        let mut refused = 0;
        let mut tried = 0;
        // Every bit of the first 256 bytes (the root table, vtables, offsets) ...
        let mut flip = |at: usize, mask: u8, what: String| {
            let mut buf = bytes.clone();
            buf[at] ^= mask;
            tried += 1;
            if let Err(e) = no_panic(&buf, &what) {
                refused += 1;
                assert!(!e.to_string().contains('\n'), "{what}: {e}");
            }
        };
        for at in 0..bytes.len().min(256) {
            for bit in 0..8 {
                flip(at, 1 << bit, format!("{name} byte {at} bit {bit}"));
            }
        }
        // ... then 3,000 random flips and 1,000 random 4-byte overwrites anywhere.
        for _ in 0..3000 {
            let (at, bit) = (rng.below(bytes.len()), rng.below(8));
            flip(at, 1 << bit, format!("{name} byte {at} bit {bit}"));
        }
        for _ in 0..1000 {
            let at = rng.below(bytes.len() - 4);
            let word = [0xFFu32, 0x7FFF_FFFF, 0x8000_0000, 1 << 20][rng.below(4)];
            let mut buf = bytes.clone();
            buf[at..at + 4].copy_from_slice(&word.to_le_bytes());
            let _ = no_panic(&buf, &format!("{name} word {word:#x} at {at}"));
        }
        assert!(
            refused > tried / 10,
            "{name}: only {refused} of {tried} refused"
        );
    }
}

#[test]
fn not_tflite_files_are_named_as_such() {
    assert_eq!(
        parse_err(b"TFL3"),
        "not a TFLite model: 4 bytes, too short for a flatbuffer"
    );
    let mut bytes = fixture("mlp_int8");
    bytes[4..8].copy_from_slice(b"TFL2");
    assert_eq!(
        parse_err(&bytes),
        "not a TFLite model: its file identifier is \"TFL2\", not \"TFL3\""
    );
    assert_eq!(
        parse_err(b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
        "not a TFLite model: its file identifier is \"\\x14\\x00\\x00\\x00\", not \"TFL3\" \
         (it is a zip archive, e.g. a .keras file)"
    );
    // A root offset past the end.
    let mut bytes = fixture("mlp_int8");
    bytes[0..4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let e = parse_err(&bytes);
    assert!(e.starts_with("corrupt TFLite flatbuffer: "), "{e}");
}

#[test]
fn read_names_the_file() {
    let dir = std::env::temp_dir().join(format!("kiln-tflite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.tflite");
    std::fs::write(&path, b"not a model at all").unwrap();
    let e = tflite::read(&path).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: not a TFLite model: its file identifier is \"a mo\", not \"TFL3\"",
            path.display()
        )
    );
    let missing = dir.join("missing.tflite");
    let e = tflite::read(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read", missing.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------
// Hand-built models
// ---------------------------------------------------------------------------------------

/// The field at `id` of a table: its vtable offset.
fn vt(id: u16) -> u16 {
    4 + 2 * id
}

/// A tensor of a hand-built model.
#[derive(Clone)]
struct T {
    name: &'static str,
    shape: Vec<i32>,
    signature: Option<Vec<i32>>,
    dtype: i8,
    buffer: u32,
    /// scales, zero points, quantized dimension.
    quant: Option<(Vec<f32>, Vec<i64>, i32)>,
}

/// An operator of a hand-built model.
#[derive(Clone)]
struct Op {
    code: u32,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    /// union type id, then (field id, i32 value) pairs of the options table.
    options: Option<(u8, Vec<(u16, i32)>)>,
}

/// A buffer: inline data, or (offset, size) past the flatbuffer.
#[derive(Clone)]
enum B {
    Data(Vec<u8>),
    External(u64, u64),
}

/// A hand-built model; [`Spec::build`] writes it with `flatbuffers`' builder.
#[derive(Clone)]
struct Spec {
    version: u32,
    identifier: &'static str,
    /// (deprecated_builtin_code, builtin_code, custom_code)
    codes: Vec<(i8, i32, Option<&'static str>)>,
    buffers: Vec<B>,
    tensors: Vec<T>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    ops: Vec<Op>,
    subgraphs: usize,
    /// Whether the `subgraphs` entries all point to one subgraph table.
    shared: bool,
    /// The inputs of the subgraphs after the first, if not `inputs`.
    later_inputs: Option<Vec<i32>>,
    /// Bytes appended after the flatbuffer (for external buffers).
    tail: Vec<u8>,
}

/// FULLY_CONNECTED of an int8 [1, 4] input with [3, 4] int8 weights (per-channel) and an
/// int32 bias, to an int8 [1, 3] output.
fn base() -> Spec {
    let per_tensor = Some((vec![0.5], vec![-3], 0));
    Spec {
        version: 3,
        identifier: "TFL3",
        codes: vec![(9, 9, None)],
        buffers: vec![
            B::Data(vec![]),
            B::Data((0..12).collect()),
            B::Data(vec![0; 12]),
        ],
        tensors: vec![
            T {
                name: "input",
                shape: vec![1, 4],
                signature: Some(vec![-1, 4]),
                dtype: 9,
                buffer: 0,
                quant: per_tensor.clone(),
            },
            T {
                name: "weights",
                shape: vec![3, 4],
                signature: None,
                dtype: 9,
                buffer: 1,
                quant: Some((vec![0.1, 0.2, 0.3], vec![0, 0, 0], 0)),
            },
            T {
                name: "bias",
                shape: vec![3],
                signature: None,
                dtype: 2,
                buffer: 2,
                quant: Some((vec![0.05, 0.1, 0.15], vec![0, 0, 0], 0)),
            },
            T {
                name: "output",
                shape: vec![1, 3],
                signature: None,
                dtype: 9,
                buffer: 0,
                quant: per_tensor,
            },
        ],
        inputs: vec![0],
        outputs: vec![3],
        ops: vec![Op {
            code: 0,
            inputs: vec![0, 1, 2],
            outputs: vec![3],
            options: Some((8, vec![(0, 1)])),
        }],
        subgraphs: 1,
        shared: false,
        later_inputs: None,
        tail: vec![],
    }
}

impl Spec {
    fn build(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let codes: Vec<_> = self
            .codes
            .iter()
            .map(|&(deprecated, builtin, custom)| {
                let custom = custom.map(|c| fbb.create_string(c));
                let t = fbb.start_table();
                fbb.push_slot(vt(0), deprecated, 0);
                if let Some(c) = custom {
                    fbb.push_slot_always(vt(1), c);
                }
                fbb.push_slot(vt(2), 1i32, 0);
                fbb.push_slot(vt(3), builtin, 0);
                fbb.end_table(t)
            })
            .collect();
        let codes = fbb.create_vector(&codes);
        let mut subgraphs = Vec::new();
        for k in 0..self.subgraphs {
            let tensors: Vec<_> = self
                .tensors
                .iter()
                .map(|t| {
                    let shape = fbb.create_vector(&t.shape);
                    let signature = t.signature.as_ref().map(|s| fbb.create_vector(s));
                    let name = fbb.create_string(t.name);
                    let quant = t.quant.as_ref().map(|(scale, zero, dim)| {
                        let scale = fbb.create_vector(scale);
                        let zero = fbb.create_vector(zero);
                        let q = fbb.start_table();
                        fbb.push_slot_always(vt(2), scale);
                        fbb.push_slot_always(vt(3), zero);
                        fbb.push_slot(vt(6), *dim, 0);
                        fbb.end_table(q)
                    });
                    let table = fbb.start_table();
                    fbb.push_slot_always(vt(0), shape);
                    fbb.push_slot(vt(1), t.dtype, 0);
                    fbb.push_slot(vt(2), t.buffer, 0);
                    fbb.push_slot_always(vt(3), name);
                    if let Some(q) = quant {
                        fbb.push_slot_always(vt(4), q);
                    }
                    if let Some(s) = signature {
                        fbb.push_slot_always(vt(7), s);
                    }
                    fbb.end_table(table)
                })
                .collect();
            let tensors = fbb.create_vector(&tensors);
            let ops: Vec<_> = self
                .ops
                .iter()
                .map(|op| {
                    let inputs = fbb.create_vector(&op.inputs);
                    let outputs = fbb.create_vector(&op.outputs);
                    let options = op.options.as_ref().map(|(kind, fields)| {
                        let t = fbb.start_table();
                        for &(id, value) in fields {
                            fbb.push_slot_always(vt(id), value);
                        }
                        (*kind, fbb.end_table(t))
                    });
                    let t = fbb.start_table();
                    fbb.push_slot(vt(0), op.code, 0);
                    fbb.push_slot_always(vt(1), inputs);
                    fbb.push_slot_always(vt(2), outputs);
                    if let Some((kind, table)) = options {
                        fbb.push_slot(vt(3), kind, 0);
                        fbb.push_slot_always(vt(4), table);
                    }
                    fbb.end_table(t)
                })
                .collect();
            let ops = fbb.create_vector(&ops);
            let inputs = match (&self.later_inputs, k) {
                (Some(later), 1..) => later,
                _ => &self.inputs,
            };
            let inputs = fbb.create_vector(inputs);
            let outputs = fbb.create_vector(&self.outputs);
            let name = fbb.create_string("main");
            let t = fbb.start_table();
            fbb.push_slot_always(vt(0), tensors);
            fbb.push_slot_always(vt(1), inputs);
            fbb.push_slot_always(vt(2), outputs);
            fbb.push_slot_always(vt(3), ops);
            fbb.push_slot_always(vt(4), name);
            subgraphs.push(fbb.end_table(t));
            if self.shared {
                subgraphs.resize(self.subgraphs, subgraphs[0]);
                break;
            }
        }
        let subgraphs = fbb.create_vector(&subgraphs);
        let buffers: Vec<WIPOffset<_>> = self
            .buffers
            .iter()
            .map(|b| match b {
                B::Data(data) => {
                    let data = fbb.create_vector(data);
                    let t = fbb.start_table();
                    fbb.push_slot_always(vt(0), data);
                    fbb.end_table(t)
                }
                B::External(offset, size) => {
                    let t = fbb.start_table();
                    fbb.push_slot(vt(1), *offset, 0);
                    fbb.push_slot(vt(2), *size, 0);
                    fbb.end_table(t)
                }
            })
            .collect();
        let buffers = fbb.create_vector(&buffers);
        let description = fbb.create_string("hand-built");
        let t = fbb.start_table();
        fbb.push_slot(vt(0), self.version, 0);
        fbb.push_slot_always(vt(1), codes);
        fbb.push_slot_always(vt(2), subgraphs);
        fbb.push_slot_always(vt(3), description);
        fbb.push_slot_always(vt(4), buffers);
        let root = fbb.end_table(t);
        fbb.finish(root, Some(self.identifier));
        let mut bytes = fbb.finished_data().to_vec();
        bytes.extend_from_slice(&self.tail);
        bytes
    }

    fn err(&self) -> String {
        parse_err(&self.build())
    }
}

#[test]
fn the_hand_built_base_model_parses() {
    let model = parse_ok(&base().build());
    assert_eq!(model.description, "hand-built");
    let g = &model.subgraphs[0];
    assert_eq!(g.name, "main");
    assert_eq!(g.tensors[0].shape_signature, Some(vec![-1, 4]));
    assert_eq!(g.tensors[1].data, Some((0..12).collect()));
    assert_eq!(g.tensors[0].data, None);
    assert_eq!(g.operators[0].inputs, [Some(0), Some(1), Some(2)]);
    assert_eq!(
        g.operators[0].options,
        Options::FullyConnected {
            activation: Activation::Relu,
            weights_format: WeightsFormat::Default,
            keep_num_dims: false,
            asymmetric_quantize_inputs: false,
        }
    );
}

#[test]
fn out_of_range_indices_name_the_operator_and_tensor() {
    let mut s = base();
    s.ops[0].inputs[1] = 57;
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED) reads tensor 57, but the subgraph has 4 tensors"
    );
    let mut s = base();
    s.ops[0].inputs[2] = -2;
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED) reads tensor -2, but the subgraph has 4 tensors"
    );
    let mut s = base();
    s.ops[0].outputs[0] = -1;
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED) writes tensor -1, but the subgraph has 4 tensors"
    );
    let mut s = base();
    s.outputs = vec![3, 4];
    assert_eq!(
        s.err(),
        "output 1 is tensor 4, but the subgraph has 4 tensors"
    );
    let mut s = base();
    s.inputs = vec![9];
    assert_eq!(
        s.err(),
        "input 0 is tensor 9, but the subgraph has 4 tensors"
    );
    let mut s = base();
    s.ops[0].code = 1;
    assert_eq!(
        s.err(),
        "operator 0 uses operator code 1, but the model has 1 operator codes"
    );
    let mut s = base();
    s.tensors[1].buffer = 3;
    assert_eq!(
        s.err(),
        "tensor 1 (\"weights\"): uses buffer 3, but the model has 3 buffers"
    );
    // In a second subgraph, the subgraph is named.
    let mut s = base();
    s.subgraphs = 2;
    assert_eq!(parse_ok(&s.build()).subgraphs.len(), 2);
    s.later_inputs = Some(vec![4]);
    assert_eq!(
        s.err(),
        "subgraph 1: input 0 is tensor 4, but the subgraph has 4 tensors"
    );
    // An absent optional input is fine.
    let mut s = base();
    s.ops[0].inputs[2] = -1;
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].operators[0].inputs,
        [Some(0), Some(1), None]
    );
}

#[test]
fn shapes_data_and_quantization_must_agree() {
    let mut s = base();
    s.tensors[1].shape = vec![3, 5];
    s.tensors[1].quant = None;
    assert_eq!(
        s.err(),
        "tensor 1 (\"weights\"): constant data has 12 bytes, but shape [3, 5] of int8 needs 15"
    );
    let mut s = base();
    s.tensors[2].dtype = 9; // int8 bias of 12 bytes for 3 values
    assert_eq!(
        s.err(),
        "tensor 2 (\"bias\"): constant data has 12 bytes, but shape [3] of int8 needs 3"
    );
    let mut s = base();
    s.tensors[3].shape = vec![1, -3];
    assert_eq!(
        s.err(),
        "tensor 3 (\"output\"): shape [1, -3] has a negative dimension"
    );
    let mut s = base();
    s.tensors[0].signature = Some(vec![-1]);
    assert_eq!(
        s.err(),
        "tensor 0 (\"input\"): shape signature [-1] does not fit shape [1, 4]"
    );
    let mut s = base();
    s.tensors[0].quant = Some((vec![0.5], vec![0, 1], 0));
    assert_eq!(
        s.err(),
        "tensor 0 (\"input\"): quantization has 1 scales but 2 zero points"
    );
    let mut s = base();
    s.tensors[1].quant = Some((vec![0.1, 0.2, 0.3], vec![0, 0, 0], 1));
    assert_eq!(
        s.err(),
        "tensor 1 (\"weights\"): quantization has 3 scales along axis 1, which has size 4"
    );
    let mut s = base();
    s.tensors[1].quant = Some((vec![0.1, 0.2, 0.3], vec![0, 0, 0], 2));
    assert_eq!(
        s.err(),
        "tensor 1 (\"weights\"): quantization runs along axis 2, but shape [3, 4] has 2 axes"
    );
    // Strings and unknown types are not checked against the shape.
    let mut s = base();
    s.tensors[1].dtype = 5;
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].tensors[1].dtype,
        TensorType::String
    );
    s.tensors[1].dtype = 17;
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].tensors[1].dtype,
        TensorType::Other(17)
    );
}

#[test]
fn model_level_checks() {
    let mut s = base();
    s.version = 2;
    assert_eq!(s.err(), "schema version 2, but kiln reads version 3");
    let mut s = base();
    s.subgraphs = 0;
    assert_eq!(s.err(), "the model has no subgraph");
    let mut s = base();
    s.identifier = "TFL2";
    assert_eq!(
        s.err(),
        "not a TFLite model: its file identifier is \"TFL2\", not \"TFL3\""
    );
}

#[test]
fn operator_codes_take_the_larger_of_the_two_fields() {
    // Old files: only deprecated_builtin_code.
    let mut s = base();
    s.codes = vec![(9, 0, None)];
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].operators[0].op,
        BuiltinOp::FullyConnected
    );
    // Codes past 127: the placeholder in the old field, the code in the new one.
    s.codes = vec![(127, 150, None)];
    s.ops[0].options = None;
    let model = parse_ok(&s.build());
    assert_eq!(model.subgraphs[0].operators[0].op, BuiltinOp::Gelu);
    assert_eq!(model.subgraphs[0].operators[0].op.name(), "GELU");
    s.codes = vec![(127, 163, None)];
    let op = &parse_ok(&s.build()).subgraphs[0].operators[0].op;
    assert_eq!((op, op.name()), (&BuiltinOp::Other(163), "STABLEHLO_ADD"));
    s.codes = vec![(127, 5000, None)];
    let op = &parse_ok(&s.build()).subgraphs[0].operators[0].op;
    assert_eq!(op.to_string(), "builtin operator 5000");
    // Custom operators carry their custom code.
    s.codes = vec![(32, 32, Some("MyOp"))];
    let op = &parse_ok(&s.build()).subgraphs[0].operators[0].op;
    assert_eq!((op, op.name()), (&BuiltinOp::Custom("MyOp".into()), "MyOp"));
    s.codes = vec![(32, 32, None)];
    assert_eq!(s.err(), "operator code 0 is CUSTOM but has no custom_code");
}

#[test]
fn options_are_checked_against_the_operator() {
    let mut s = base();
    s.ops[0].options = Some((1, vec![(1, 1), (2, 1)]));
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED): has Conv2DOptions, not FullyConnectedOptions"
    );
    s.ops[0].options = Some((21, vec![]));
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED): has options of union type 21, not FullyConnectedOptions"
    );
    s.ops[0].options = Some((8, vec![(0, 9)]));
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED): fused activation 9 is not one of TFLite's (0 to 5)"
    );
    s.ops[0].options = Some((8, vec![(1, 2)]));
    assert_eq!(
        s.err(),
        "operator 0 (FULLY_CONNECTED): weights format 2 is neither DEFAULT (0) nor SHUFFLED4x16INT8 (1)"
    );
    s.ops[0].options = None;
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].operators[0].options,
        Options::None
    );

    // A CONV_2D: stride and padding checks, and the defaults of dilation.
    let mut s = base();
    s.codes = vec![(3, 3, None)];
    s.ops[0].options = Some((1, vec![(0, 1), (1, 2), (2, 2), (3, 3)]));
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].operators[0].options,
        Options::Conv2D {
            padding: Padding::Valid,
            stride_w: 2,
            stride_h: 2,
            activation: Activation::Relu6,
            dilation_w: 1,
            dilation_h: 1,
        }
    );
    s.ops[0].options = Some((1, vec![(1, 0), (2, 1)]));
    assert_eq!(s.err(), "operator 0 (CONV_2D): stride_w 0 is not positive");
    s.ops[0].options = Some((1, vec![(0, 2), (1, 1), (2, 1)]));
    assert_eq!(
        s.err(),
        "operator 0 (CONV_2D): padding 2 is neither SAME (0) nor VALID (1)"
    );
    // Options a decoded operator does not take, on an operator without decoded options.
    let mut s = base();
    s.codes = vec![(18, 18, None)];
    s.ops[0].options = Some((5, vec![]));
    assert_eq!(
        s.err(),
        "operator 0 (MUL): has Pool2DOptions, which no MUL has"
    );
    s.ops[0].options = Some((21, vec![(0, 1)]));
    assert_eq!(
        parse_ok(&s.build()).subgraphs[0].operators[0].options,
        Options::Other(21)
    );
}

#[test]
fn data_past_the_flatbuffer() {
    let mut s = base();
    // The flatbuffer's size does not depend on the offset's value: build once to learn it.
    s.buffers[1] = B::External(1 << 20, 12);
    let len = s.build().len() as u64;
    s.buffers[1] = B::External(len, 12);
    s.tail = (100..112).collect();
    let model = parse_ok(&s.build());
    assert_eq!(
        model.subgraphs[0].tensors[1].data,
        Some((100..112).collect())
    );
    s.buffers[1] = B::External(len + 1, 12);
    assert_eq!(
        s.err(),
        format!(
            "tensor 1 (\"weights\"): buffer 1 is at bytes {}..{}, past the end of the file ({} bytes)",
            len + 1,
            len + 13,
            len + 12
        )
    );
    // An offset of 0 or 1 means "no external data".
    s.buffers[1] = B::External(1, 12);
    s.tensors[1].shape = vec![3, 0];
    s.tensors[1].quant = None;
    assert_eq!(parse_ok(&s.build()).subgraphs[0].tensors[1].data, None);
}

#[test]
fn tables_shared_many_times_are_refused() {
    // A flatbuffer is a DAG: 10,000 offsets to one subgraph would read as 10,000 subgraphs
    // (40,000 tensors) from 41 KB. The verifier allows one table per 8 bytes of file, and
    // reads at most 4 times the file's bytes.
    let mut s = base();
    s.subgraphs = 10_000;
    s.shared = true;
    let bytes = s.build();
    assert!(bytes.len() < 42_000, "{}", bytes.len());
    let e = parse_err(&bytes);
    assert!(
        e.starts_with("corrupt TFLite flatbuffer: its tables ")
            && e.ends_with(" too many times for the file's size"),
        "{e}"
    );
    // A few shared entries stay within the bound.
    s.subgraphs = 3;
    assert_eq!(parse_ok(&s.build()).subgraphs.len(), 3);
}

#[test]
fn shared_buffers_are_copied_within_a_budget() {
    // Many tensors on one big buffer: at most twice the file's size is copied out.
    let mut s = base();
    s.buffers[1] = B::Data(vec![7; 4096]);
    s.tensors[1].shape = vec![1024, 4];
    s.tensors[1].quant = None;
    s.ops.clear();
    parse_ok(&s.build());
    for k in 0..8 {
        let mut t = s.tensors[1].clone();
        t.name = ["a", "b", "c", "d", "e", "f", "g", "h"][k];
        s.tensors.push(t);
    }
    let e = s.err();
    assert!(
        e.contains("the tensors' constant data adds up to more than twice the file's"),
        "{e}"
    );
}

/// Writes hand-built models (external buffers, custom and high-numbered operators, more
/// subgraphs, per-channel quantization) as seeds of the `tflite` fuzz target, into the
/// directory `KILN_TFLITE_SEEDS` names (`host-tools/fuzz/seeds.sh` runs it).
#[test]
#[ignore = "writes fuzz seeds; run by host-tools/fuzz/seeds.sh"]
fn write_fuzz_seeds() {
    let dir = PathBuf::from(std::env::var("KILN_TFLITE_SEEDS").expect("KILN_TFLITE_SEEDS"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds = vec![("hand-fc", base())];
    let mut s = base();
    s.buffers[1] = B::External(1 << 20, 12);
    let len = s.build().len() as u64;
    s.buffers[1] = B::External(len, 12);
    s.tail = (100..112).collect();
    seeds.push(("hand-external", s));
    let mut s = base();
    s.codes = vec![(32, 32, Some("MyOp")), (127, 150, None), (3, 3, None)];
    s.ops[0].options = Some((21, vec![(0, 1)]));
    s.ops.push(Op {
        code: 1,
        inputs: vec![3],
        outputs: vec![0],
        options: None,
    });
    s.ops.push(Op {
        code: 2,
        inputs: vec![0, 1, -1],
        outputs: vec![3],
        options: Some((1, vec![(0, 1), (1, 2), (2, 2), (3, 3), (4, 2), (5, 2)])),
    });
    seeds.push(("hand-codes", s));
    let mut s = base();
    s.subgraphs = 3;
    s.later_inputs = Some(vec![1, 2]);
    seeds.push(("hand-subgraphs", s));
    for (name, spec) in seeds {
        let bytes = spec.build();
        tflite::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
