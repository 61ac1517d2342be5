//! A structure-aware mutator for `.tflite` files: parse with kiln's reader, change a field
//! of the model (a shape, a scale, a stride, an operator's inputs, …), and write the model
//! back with `flatbuffers`' builder. Byte flips of a flatbuffer mostly break its structure
//! and stop at the verifier; these changes keep it sound, so they reach the importer.
//!
//! Only the fuzz targets use this (it is not part of the corpus replay): a corpus file is a
//! plain `.tflite` file, whatever made it.

use flatbuffers::{FlatBufferBuilder, WIPOffset};
use kiln_host::formats::tflite::{
    Activation, BuiltinOp, Operator, Options, Padding, Quantization, Subgraph, Tensor, TensorType,
    TfliteModel, WeightsFormat,
};

/// The vtable offset of field `id`.
fn vt(id: u16) -> u16 {
    4 + 2 * id
}

/// The schema's code of a tensor type.
fn type_code(t: TensorType) -> i8 {
    match t {
        TensorType::Float32 => 0,
        TensorType::Float16 => 1,
        TensorType::Int32 => 2,
        TensorType::UInt8 => 3,
        TensorType::Int64 => 4,
        TensorType::String => 5,
        TensorType::Bool => 6,
        TensorType::Int16 => 7,
        TensorType::Int8 => 9,
        TensorType::Float64 => 10,
        TensorType::Other(code) => code,
    }
}

fn padding_code(p: Padding) -> i8 {
    match p {
        Padding::Same => 0,
        Padding::Valid => 1,
    }
}

fn activation_code(a: Activation) -> i8 {
    match a {
        Activation::None => 0,
        Activation::Relu => 1,
        Activation::ReluN1To1 => 2,
        Activation::Relu6 => 3,
        Activation::Tanh => 4,
        Activation::SignBit => 5,
    }
}

/// Writes `model` as a `.tflite` flatbuffer: each tensor's data in its own buffer (buffer 0
/// the empty one), one operator code per distinct (operator, version).
pub fn write(model: &TfliteModel) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::with_capacity(4096);
    let mut codes: Vec<(BuiltinOp, i32)> = Vec::new();
    let mut buffers: Vec<&[u8]> = vec![&[]];
    let mut subgraphs = Vec::new();
    for graph in &model.subgraphs {
        subgraphs.push(write_subgraph(&mut fbb, graph, &mut codes, &mut buffers));
    }
    let subgraphs = fbb.create_vector(&subgraphs);
    let codes: Vec<_> = codes
        .iter()
        .map(|(op, version)| {
            let custom = match op {
                BuiltinOp::Custom(name) => Some(fbb.create_string(name)),
                _ => None,
            };
            let code = op.code();
            let t = fbb.start_table();
            fbb.push_slot_always(vt(0), code.clamp(0, 127) as i8);
            if let Some(c) = custom {
                fbb.push_slot_always(vt(1), c);
            }
            fbb.push_slot_always(vt(2), *version);
            fbb.push_slot_always(vt(3), code);
            fbb.end_table(t)
        })
        .collect();
    let codes = fbb.create_vector(&codes);
    let buffers: Vec<WIPOffset<_>> = buffers
        .iter()
        .map(|data| {
            let data = (!data.is_empty()).then(|| fbb.create_vector(data));
            let t = fbb.start_table();
            if let Some(data) = data {
                fbb.push_slot_always(vt(0), data);
            }
            fbb.end_table(t)
        })
        .collect();
    let buffers = fbb.create_vector(&buffers);
    let description = fbb.create_string(&model.description);
    let t = fbb.start_table();
    fbb.push_slot_always(vt(0), model.version);
    fbb.push_slot_always(vt(1), codes);
    fbb.push_slot_always(vt(2), subgraphs);
    fbb.push_slot_always(vt(3), description);
    fbb.push_slot_always(vt(4), buffers);
    let root = fbb.end_table(t);
    fbb.finish(root, Some("TFL3"));
    fbb.finished_data().to_vec()
}

fn write_subgraph<'m>(
    fbb: &mut FlatBufferBuilder<'_>,
    graph: &'m Subgraph,
    codes: &mut Vec<(BuiltinOp, i32)>,
    buffers: &mut Vec<&'m [u8]>,
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let tensors: Vec<_> = graph
        .tensors
        .iter()
        .map(|t| write_tensor(fbb, t, buffers))
        .collect();
    let tensors = fbb.create_vector(&tensors);
    let operators: Vec<_> = graph
        .operators
        .iter()
        .map(|op| {
            let code = match codes
                .iter()
                .position(|(o, v)| *o == op.op && *v == op.version)
            {
                Some(i) => i,
                None => {
                    codes.push((op.op.clone(), op.version));
                    codes.len() - 1
                }
            };
            write_operator(fbb, op, code as u32)
        })
        .collect();
    let operators = fbb.create_vector(&operators);
    let io = |list: &[usize]| list.iter().map(|&t| t as i32).collect::<Vec<i32>>();
    let inputs = fbb.create_vector(&io(&graph.inputs));
    let outputs = fbb.create_vector(&io(&graph.outputs));
    let name = fbb.create_string(&graph.name);
    let t = fbb.start_table();
    fbb.push_slot_always(vt(0), tensors);
    fbb.push_slot_always(vt(1), inputs);
    fbb.push_slot_always(vt(2), outputs);
    fbb.push_slot_always(vt(3), operators);
    fbb.push_slot_always(vt(4), name);
    fbb.end_table(t)
}

fn write_tensor<'m>(
    fbb: &mut FlatBufferBuilder<'_>,
    t: &'m Tensor,
    buffers: &mut Vec<&'m [u8]>,
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let buffer = match &t.data {
        Some(data) => {
            buffers.push(data);
            buffers.len() as u32 - 1
        }
        None => 0,
    };
    let shape = fbb.create_vector(&t.shape);
    let signature = t.shape_signature.as_ref().map(|s| fbb.create_vector(s));
    let name = fbb.create_string(&t.name);
    let quant = t.quantization.as_ref().map(|q| {
        let scale = fbb.create_vector(&q.scale);
        let zero = fbb.create_vector(&q.zero_point);
        let table = fbb.start_table();
        fbb.push_slot_always(vt(2), scale);
        fbb.push_slot_always(vt(3), zero);
        fbb.push_slot_always(vt(6), q.quantized_dimension);
        fbb.end_table(table)
    });
    let table = fbb.start_table();
    fbb.push_slot_always(vt(0), shape);
    fbb.push_slot_always(vt(1), type_code(t.dtype));
    fbb.push_slot_always(vt(2), buffer);
    fbb.push_slot_always(vt(3), name);
    if let Some(q) = quant {
        fbb.push_slot_always(vt(4), q);
    }
    if t.is_variable {
        fbb.push_slot_always(vt(5), true);
    }
    if let Some(s) = signature {
        fbb.push_slot_always(vt(7), s);
    }
    fbb.end_table(table)
}

fn write_operator(
    fbb: &mut FlatBufferBuilder<'_>,
    op: &Operator,
    code: u32,
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let inputs: Vec<i32> = op
        .inputs
        .iter()
        .map(|t| t.map_or(-1, |t| t as i32))
        .collect();
    let outputs: Vec<i32> = op.outputs.iter().map(|&t| t as i32).collect();
    let inputs = fbb.create_vector(&inputs);
    let outputs = fbb.create_vector(&outputs);
    let options = write_options(fbb, &op.options);
    let t = fbb.start_table();
    fbb.push_slot_always(vt(0), code);
    fbb.push_slot_always(vt(1), inputs);
    fbb.push_slot_always(vt(2), outputs);
    if let Some((kind, table)) = options {
        fbb.push_slot_always(vt(3), kind);
        fbb.push_slot_always(vt(4), table);
    }
    fbb.end_table(t)
}

/// The options table and its union type id (field ids from the reader's `view.rs`).
fn write_options(
    fbb: &mut FlatBufferBuilder<'_>,
    options: &Options,
) -> Option<(u8, WIPOffset<flatbuffers::TableFinishedWIPOffset>)> {
    let new_shape = match options {
        Options::Reshape { new_shape } if !new_shape.is_empty() => {
            Some(fbb.create_vector(new_shape))
        }
        _ => None,
    };
    let t = fbb.start_table();
    let kind = match *options {
        Options::None => {
            let _ = fbb.end_table(t);
            return None;
        }
        Options::Conv2D {
            padding,
            stride_w,
            stride_h,
            activation,
            dilation_w,
            dilation_h,
        } => {
            fbb.push_slot_always(vt(0), padding_code(padding));
            fbb.push_slot_always(vt(1), stride_w as i32);
            fbb.push_slot_always(vt(2), stride_h as i32);
            fbb.push_slot_always(vt(3), activation_code(activation));
            fbb.push_slot_always(vt(4), dilation_w as i32);
            fbb.push_slot_always(vt(5), dilation_h as i32);
            1
        }
        Options::DepthwiseConv2D {
            padding,
            stride_w,
            stride_h,
            depth_multiplier,
            activation,
            dilation_w,
            dilation_h,
        } => {
            fbb.push_slot_always(vt(0), padding_code(padding));
            fbb.push_slot_always(vt(1), stride_w as i32);
            fbb.push_slot_always(vt(2), stride_h as i32);
            fbb.push_slot_always(vt(3), depth_multiplier);
            fbb.push_slot_always(vt(4), activation_code(activation));
            fbb.push_slot_always(vt(5), dilation_w as i32);
            fbb.push_slot_always(vt(6), dilation_h as i32);
            2
        }
        Options::Pool2D {
            padding,
            stride_w,
            stride_h,
            filter_w,
            filter_h,
            activation,
        } => {
            fbb.push_slot_always(vt(0), padding_code(padding));
            fbb.push_slot_always(vt(1), stride_w as i32);
            fbb.push_slot_always(vt(2), stride_h as i32);
            fbb.push_slot_always(vt(3), filter_w as i32);
            fbb.push_slot_always(vt(4), filter_h as i32);
            fbb.push_slot_always(vt(5), activation_code(activation));
            5
        }
        Options::FullyConnected {
            activation,
            weights_format,
            keep_num_dims,
            asymmetric_quantize_inputs,
        } => {
            fbb.push_slot_always(vt(0), activation_code(activation));
            let format: i8 = match weights_format {
                WeightsFormat::Default => 0,
                WeightsFormat::Shuffled4x16Int8 => 1,
            };
            fbb.push_slot_always(vt(1), format);
            fbb.push_slot_always(vt(2), keep_num_dims);
            fbb.push_slot_always(vt(3), asymmetric_quantize_inputs);
            8
        }
        Options::Softmax { beta } => {
            fbb.push_slot_always(vt(0), beta);
            9
        }
        Options::Concatenation { axis, activation } => {
            fbb.push_slot_always(vt(0), axis);
            fbb.push_slot_always(vt(1), activation_code(activation));
            10
        }
        Options::Add { activation } => {
            fbb.push_slot_always(vt(0), activation_code(activation));
            11
        }
        Options::Reshape { .. } => {
            if let Some(s) = new_shape {
                fbb.push_slot_always(vt(0), s);
            }
            17
        }
        Options::Reducer { keep_dims } => {
            fbb.push_slot_always(vt(0), keep_dims);
            27
        }
        Options::Other(kind) => kind,
    };
    Some((kind, fbb.end_table(t)))
}

/// A small deterministic generator (the mutator's seed from libFuzzer).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        Rng(u64::from(seed) ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<T: Copy>(&mut self, values: &[T]) -> T {
        values[self.below(values.len())]
    }
}

/// Integers that break arithmetic: edges of the types kiln casts to and from.
const INTS: &[i64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    127,
    128,
    255,
    256,
    32767,
    32768,
    65535,
    65536,
    65537,
    1 << 20,
    1 << 24,
    i32::MAX as i64,
    -1,
    -2,
    -127,
    -128,
    -129,
    -32768,
    i32::MIN as i64,
    u32::MAX as i64,
    i64::MAX,
    i64::MIN,
];

/// Scales that break quantization arithmetic.
const SCALES: &[f32] = &[
    0.0,
    -0.0,
    -1.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MIN_POSITIVE,
    1e-45,
    1e-38,
    1e-30,
    1e-12,
    1e-6,
    1.0 / 256.0,
    0.00390625,
    0.0078125,
    0.1,
    0.5,
    1.0,
    2.0,
    1e6,
    1e12,
    1e30,
    f32::MAX,
];

impl Rng {
    fn int(&mut self) -> i64 {
        if self.chance(3) {
            self.below(20) as i64
        } else {
            self.pick(INTS)
        }
    }

    fn i32(&mut self) -> i32 {
        self.int().clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }

    fn dim(&mut self) -> i32 {
        match self.below(4) {
            0 | 1 => self.below(9) as i32,
            2 => self.pick(&[
                16,
                32,
                64,
                100,
                255,
                256,
                1000,
                4096,
                65535,
                65536,
                1 << 20,
                1 << 25,
                1 << 28,
            ]),
            _ => self.i32().max(0),
        }
    }

    fn scale(&mut self) -> f32 {
        match self.below(3) {
            0 => self.pick(SCALES),
            1 => f32::from_bits(self.next() as u32),
            _ => {
                let e = self.below(40) as i32 - 30;
                (1.0 + self.below(1000) as f32 / 1000.0) * 2f32.powi(e)
            }
        }
    }

    fn activation(&mut self) -> Activation {
        self.pick(&[
            Activation::None,
            Activation::Relu,
            Activation::Relu6,
            Activation::ReluN1To1,
            Activation::Tanh,
            Activation::SignBit,
        ])
    }

    fn padding(&mut self) -> Padding {
        self.pick(&[Padding::Same, Padding::Valid])
    }

    /// A stride, dilation or window: positive, as the reader requires, mostly small.
    fn positive(&mut self) -> u32 {
        match self.below(3) {
            0 => 1 + self.below(4) as u32,
            1 => self.pick(&[1, 2, 3, 5, 8, 16, 255, 256, 65535, 65536, 65537, 1 << 20]),
            _ => self.i32().max(1) as u32,
        }
    }
}

/// The element count of a shape, if it is small enough to hold data for.
fn elements(shape: &[i32]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))
        .filter(|&n| n <= 1 << 16)
}

/// Gives a constant tensor data of its shape's size again (repeating what it had), and a
/// per-channel quantization as many scales as its axis has; `false` when the shape is too
/// big to hold data.
fn refit(t: &mut Tensor, rng: &mut Rng) -> bool {
    if let (Some(data), Some(size)) = (&mut t.data, t.dtype.size()) {
        let Some(n) = elements(&t.shape) else {
            return false;
        };
        let old = std::mem::take(data);
        *data = (0..n * size)
            .map(|i| {
                if old.is_empty() {
                    rng.next() as u8
                } else {
                    old[i % old.len()]
                }
            })
            .collect();
        if data.is_empty() {
            t.data = None;
        }
    }
    if let Some(q) = &mut t.quantization {
        if q.scale.len() > 1 {
            let axis = usize::try_from(q.quantized_dimension).unwrap_or(0);
            match t.shape.get(axis).and_then(|&d| usize::try_from(d).ok()) {
                Some(n) if n > 1 && n <= 1 << 16 => {
                    let s = q.scale[0];
                    let z = q.zero_point[0];
                    q.scale.resize(n, s);
                    q.zero_point.resize(n, z);
                }
                _ => {
                    q.scale.truncate(1);
                    q.zero_point.truncate(1);
                }
            }
        }
    }
    true
}

/// The options an operator kind has, with ordinary values.
fn default_options(op: &BuiltinOp, rng: &mut Rng) -> Options {
    match op {
        BuiltinOp::Conv2D => Options::Conv2D {
            padding: rng.padding(),
            stride_w: 1,
            stride_h: 1,
            activation: Activation::None,
            dilation_w: 1,
            dilation_h: 1,
        },
        BuiltinOp::DepthwiseConv2D => Options::DepthwiseConv2D {
            padding: rng.padding(),
            stride_w: 1,
            stride_h: 1,
            depth_multiplier: 1,
            activation: Activation::None,
            dilation_w: 1,
            dilation_h: 1,
        },
        BuiltinOp::MaxPool2D | BuiltinOp::AveragePool2D => Options::Pool2D {
            padding: rng.padding(),
            stride_w: 1 + rng.below(2) as u32,
            stride_h: 1 + rng.below(2) as u32,
            filter_w: 1 + rng.below(3) as u32,
            filter_h: 1 + rng.below(3) as u32,
            activation: Activation::None,
        },
        BuiltinOp::FullyConnected => Options::FullyConnected {
            activation: Activation::None,
            weights_format: WeightsFormat::Default,
            keep_num_dims: rng.chance(4),
            asymmetric_quantize_inputs: false,
        },
        BuiltinOp::Softmax => Options::Softmax { beta: 1.0 },
        BuiltinOp::Concatenation => Options::Concatenation {
            axis: rng.below(5) as i32 - 1,
            activation: Activation::None,
        },
        BuiltinOp::Add => Options::Add {
            activation: Activation::None,
        },
        BuiltinOp::Reshape => Options::Reshape { new_shape: vec![] },
        BuiltinOp::Mean => Options::Reducer {
            keep_dims: rng.chance(2),
        },
        _ => Options::None,
    }
}

/// The operators kiln imports.
const OPS: &[BuiltinOp] = &[
    BuiltinOp::Quantize,
    BuiltinOp::Dequantize,
    BuiltinOp::FullyConnected,
    BuiltinOp::Conv2D,
    BuiltinOp::DepthwiseConv2D,
    BuiltinOp::Reshape,
    BuiltinOp::Concatenation,
    BuiltinOp::MaxPool2D,
    BuiltinOp::AveragePool2D,
    BuiltinOp::Relu,
    BuiltinOp::Relu6,
    BuiltinOp::Add,
    BuiltinOp::Mean,
    BuiltinOp::Pad,
    BuiltinOp::PadV2,
    BuiltinOp::Softmax,
    BuiltinOp::Logistic,
    BuiltinOp::Tanh,
];

/// One random change to a field of `model`'s first subgraph.
pub fn mutate(model: &mut TfliteModel, rng: &mut Rng) {
    let Some(g) = model.subgraphs.first_mut() else {
        return;
    };
    let n_tensors = g.tensors.len();
    match rng.below(16) {
        // A dimension of a tensor: changed, added or removed.
        0..=2 => {
            let Some(t) = g.tensors.get_mut(rng.below(n_tensors)) else {
                return;
            };
            let saved = t.clone();
            match rng.below(6) {
                0 if !t.shape.is_empty() => {
                    t.shape.remove(rng.below(t.shape.len()));
                }
                1 if t.shape.len() < 8 => {
                    let at = rng.below(t.shape.len() + 1);
                    let d = rng.dim();
                    t.shape.insert(at, d);
                }
                _ if !t.shape.is_empty() => {
                    let at = rng.below(t.shape.len());
                    t.shape[at] = rng.dim();
                }
                _ => t.shape.push(rng.dim()),
            }
            if let Some(s) = &mut t.shape_signature {
                s.resize(t.shape.len(), 1);
            }
            if !refit(t, rng) {
                *t = saved;
            }
        }
        // A quantization: scales, zero points, axis, or none at all.
        3..=5 => {
            let Some(t) = g.tensors.get_mut(rng.below(n_tensors)) else {
                return;
            };
            let q = t.quantization.get_or_insert_with(|| Quantization {
                scale: vec![0.5],
                zero_point: vec![0],
                quantized_dimension: 0,
            });
            match rng.below(6) {
                0 | 1 => {
                    let k = rng.below(q.scale.len());
                    q.scale[k] = rng.scale();
                }
                2 => {
                    let k = rng.below(q.zero_point.len());
                    q.zero_point[k] = rng.int();
                }
                3 => {
                    // Per channel along some axis, or per tensor.
                    let axis = rng.below(t.shape.len().max(1));
                    q.quantized_dimension = axis as i32;
                    let n = if rng.chance(2) {
                        t.shape.get(axis).map_or(1, |&d| d.clamp(1, 4096) as usize)
                    } else {
                        1 + rng.below(4)
                    };
                    let s = q.scale[0];
                    q.scale = (0..n)
                        .map(|_| if rng.chance(4) { rng.scale() } else { s })
                        .collect();
                    q.zero_point = vec![0; n];
                }
                4 => q.quantized_dimension = rng.i32(),
                _ => t.quantization = None,
            }
        }
        // A tensor's type.
        6 => {
            let Some(t) = g.tensors.get_mut(rng.below(n_tensors)) else {
                return;
            };
            let saved = t.clone();
            t.dtype = rng.pick(&[
                TensorType::Int8,
                TensorType::Float32,
                TensorType::Int32,
                TensorType::UInt8,
                TensorType::Int16,
                TensorType::Int64,
                TensorType::Bool,
                TensorType::Other(17),
            ]);
            if !refit(t, rng) {
                *t = saved;
            }
        }
        // Constant data: a value set to an edge, or a constant added or removed.
        7 | 8 => {
            let Some(t) = g.tensors.get_mut(rng.below(n_tensors)) else {
                return;
            };
            match &mut t.data {
                Some(data) if !rng.chance(8) => {
                    let size = t.dtype.size().unwrap_or(1);
                    let at = rng.below(data.len() / size) * size;
                    let value = if t.dtype == TensorType::Int32 && rng.chance(2) {
                        // Axes, paddings, shapes: small ints.
                        rng.below(8) as i64 - 2
                    } else {
                        rng.int()
                    };
                    let bytes = value.to_le_bytes();
                    for (k, b) in data[at..at + size].iter_mut().enumerate() {
                        *b = bytes.get(k).copied().unwrap_or(0);
                    }
                }
                Some(_) => t.data = None,
                None => {
                    t.data = Some(vec![]);
                    if !refit(t, rng) || t.data.as_ref().is_some_and(Vec::is_empty) {
                        t.data = None;
                    }
                }
            }
        }
        // An operator's options.
        9..=11 => {
            let k = rng.below(g.operators.len());
            let Some(op) = g.operators.get_mut(k) else {
                return;
            };
            mutate_options(&mut op.options, rng);
        }
        // An operator's inputs or outputs.
        12 | 13 => {
            let k = rng.below(g.operators.len());
            let Some(op) = g.operators.get_mut(k) else {
                return;
            };
            let t = rng.below(n_tensors);
            match rng.below(5) {
                0 if !op.inputs.is_empty() => {
                    let i = rng.below(op.inputs.len());
                    op.inputs[i] = if rng.chance(4) { None } else { Some(t) };
                }
                1 => op.inputs.push(Some(t)),
                2 if !op.inputs.is_empty() => {
                    op.inputs.remove(rng.below(op.inputs.len()));
                }
                3 if !op.outputs.is_empty() => {
                    let i = rng.below(op.outputs.len());
                    op.outputs[i] = t;
                }
                _ => op.outputs.push(t),
            }
        }
        // An operator: another kind, copied, removed, or moved.
        14 => {
            let n = g.operators.len();
            if n == 0 {
                return;
            }
            let k = rng.below(n);
            match rng.below(4) {
                0 => {
                    let op = OPS[rng.below(OPS.len())].clone();
                    g.operators[k].options = default_options(&op, rng);
                    g.operators[k].op = op;
                }
                1 => {
                    let op = g.operators[k].clone();
                    g.operators.insert(rng.below(n + 1), op);
                }
                2 => {
                    g.operators.remove(k);
                }
                _ => g.operators.swap(k, rng.below(n)),
            }
        }
        // The subgraph's inputs and outputs, or a tensor copied.
        _ => match rng.below(4) {
            0 if !g.inputs.is_empty() => {
                let i = rng.below(g.inputs.len());
                g.inputs[i] = rng.below(n_tensors);
            }
            1 if !g.outputs.is_empty() => {
                let i = rng.below(g.outputs.len());
                g.outputs[i] = rng.below(n_tensors);
            }
            2 => g.outputs.push(rng.below(n_tensors)),
            _ => {
                if let Some(t) = g.tensors.get(rng.below(n_tensors)).cloned() {
                    g.tensors.push(t);
                }
            }
        },
    }
}

fn mutate_options(options: &mut Options, rng: &mut Rng) {
    match options {
        Options::Conv2D {
            padding,
            stride_w,
            stride_h,
            activation,
            dilation_w,
            dilation_h,
        } => match rng.below(6) {
            0 => *padding = rng.padding(),
            1 => *stride_w = rng.positive(),
            2 => *stride_h = rng.positive(),
            3 => *activation = rng.activation(),
            4 => *dilation_w = rng.positive(),
            _ => *dilation_h = rng.positive(),
        },
        Options::DepthwiseConv2D {
            padding,
            stride_w,
            stride_h,
            depth_multiplier,
            activation,
            dilation_w,
            dilation_h,
        } => match rng.below(7) {
            0 => *padding = rng.padding(),
            1 => *stride_w = rng.positive(),
            2 => *stride_h = rng.positive(),
            3 => *depth_multiplier = rng.i32(),
            4 => *activation = rng.activation(),
            5 => *dilation_w = rng.positive(),
            _ => *dilation_h = rng.positive(),
        },
        Options::Pool2D {
            padding,
            stride_w,
            stride_h,
            filter_w,
            filter_h,
            activation,
        } => match rng.below(6) {
            0 => *padding = rng.padding(),
            1 => *stride_w = rng.positive(),
            2 => *stride_h = rng.positive(),
            3 => *filter_w = rng.positive(),
            4 => *filter_h = rng.positive(),
            _ => *activation = rng.activation(),
        },
        Options::FullyConnected {
            activation,
            weights_format,
            keep_num_dims,
            asymmetric_quantize_inputs,
        } => match rng.below(4) {
            0 => *activation = rng.activation(),
            1 => {
                *weights_format =
                    rng.pick(&[WeightsFormat::Default, WeightsFormat::Shuffled4x16Int8])
            }
            2 => *keep_num_dims = !*keep_num_dims,
            _ => *asymmetric_quantize_inputs = !*asymmetric_quantize_inputs,
        },
        Options::Softmax { beta } => *beta = rng.scale(),
        Options::Concatenation { axis, activation } => {
            if rng.chance(4) {
                *activation = rng.activation();
            } else {
                *axis = if rng.chance(2) {
                    rng.below(9) as i32 - 4
                } else {
                    rng.i32()
                };
            }
        }
        Options::Add { activation } => *activation = rng.activation(),
        Options::Reshape { new_shape } => {
            if new_shape.is_empty() || rng.chance(3) {
                new_shape.push(rng.dim());
            } else {
                let k = rng.below(new_shape.len());
                new_shape[k] = rng.i32();
            }
        }
        Options::Reducer { keep_dims } => *keep_dims = !*keep_dims,
        Options::None | Options::Other(_) => {}
    }
}
