//! Hostile `.tflite` models (sound flatbuffers, bad contents) through the importer and
//! everything after it: each is a fixture with one field changed, written back with the
//! `tflite_import` fuzz target's writer (`fuzz/src/structured.rs`) and run through that
//! target's own code (`fuzz/src/harness.rs`), which must not panic; then the importer must
//! refuse it with the error that says why. One test per bug the fuzz target found (and
//! per one found reading the importer while writing it), each failing before its fix.

#[path = "../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../fuzz/src/structured.rs"]
#[allow(dead_code)]
mod structured;

use harness::TfliteStage;
use kiln::ops::int8::{Flavor, HEADER_WORDS};
use kiln::LayerKind;
use kiln_host::formats::tflite::{self, Options, TfliteModel};
use kiln_host::import::tflite::{import_tflite, TfliteOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

/// The system allocator, noting each thread's largest allocation: a test can then say
/// that an import stayed within a bound.
struct Peak;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

// SAFETY: every call goes to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Peak = Peak;

/// The largest allocation `f` makes on this thread.
fn peak_allocation(f: impl FnOnce()) -> usize {
    PEAK.with(|p| p.set(0));
    f();
    PEAK.with(Cell::get)
}

fn fixture(name: &str) -> TfliteModel {
    fixture_file(name, "model.tflite")
}

fn fixture_file(name: &str, file: &str) -> TfliteModel {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/int8")
        .join(name)
        .join(file);
    tflite::read(&file).unwrap_or_else(|e| panic!("{e}"))
}

/// `model` written to bytes, which parse back to the same model.
fn bytes(model: &TfliteModel) -> Vec<u8> {
    let bytes = structured::write(model);
    let parsed = tflite::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&parsed, model, "the writer changed the model");
    bytes
}

/// The fuzz target on `model` (no panic), and the importer's error for each flavor, with
/// the subgraph's outputs and with every tensor as an output.
fn refused(model: &TfliteModel) -> Vec<String> {
    let stage = harness::tflite_import(&bytes(model));
    assert_eq!(stage, TfliteStage::Parsed, "some import accepted it");
    [Flavor::LiteRtReference, Flavor::Tflm]
        .into_iter()
        .flat_map(|flavor| [(flavor, false), (flavor, true)])
        .map(|(flavor, every_tensor)| {
            let options = TfliteOptions {
                flavor,
                every_tensor,
            };
            import_tflite(model, options)
                .map(|_| ())
                .expect_err("imports")
                .to_string()
        })
        .collect()
}

fn assert_refused(model: &TfliteModel, expected: &str) {
    for e in refused(model) {
        assert!(e.contains(expected), "{e}");
    }
}

#[test]
fn the_fixtures_go_all_the_way() {
    for name in ["conv_per_tensor", "pools", "residual_add", "activations"] {
        let stage = harness::tflite_import(&bytes(&fixture(name)));
        assert_eq!(stage, TfliteStage::Predicted, "{name}");
    }
}

/// Found by the fuzz target: a CONV_2D whose stride gives another output shape than the
/// file declares, followed by a MEAN. The importer took the mean's cell count from the
/// declared shape (16) while the tensor that ran had 4 cells: the int8 mean kernel's slice
/// contract broke (a debug assertion; a release build wrote nothing). Now every computed
/// tensor's shape must be the declared one.
#[test]
fn a_shape_other_than_the_declared_one_is_refused() {
    let mut model = fixture("conv_per_tensor");
    let Options::Conv2D { stride_w, .. } = &mut model.subgraphs[0].operators[3].options else {
        panic!("operator 3 is a CONV_2D");
    };
    *stride_w = 11;
    assert_refused(
        &model,
        "has shape [1, 4, 4, 6] in the file, but kiln computes (None, 4, 1, 6) for it",
    );
}

/// The same contract, from a blob: an int8 GlobalAveragePooling2D whose `requant` counts
/// other cells than its input has is refused by `prepare` (it was run, breaking the
/// kernel's slice contract).
#[test]
fn a_mean_count_other_than_the_input_cells_is_refused_at_prepare() {
    let import = import_tflite(&fixture("conv_per_tensor"), TfliteOptions::default()).unwrap();
    let graph = import.model.structure();
    let id = graph
        .all_layers()
        .iter()
        .position(|l| matches!(l.kind, LayerKind::GlobalAveragePooling2D(_)))
        .unwrap();
    let range = graph.weight_range(id as u16, "requant").unwrap();
    let mut weights = import.model.weights().to_vec();
    // MeanParams words: multiplier, shift, input zero point, output zero point, count, …
    let count_at = range.start + 4 * (HEADER_WORDS + 4);
    assert_eq!(weights[count_at..count_at + 4], 16i32.to_le_bytes());
    weights[count_at..count_at + 4].copy_from_slice(&15i32.to_le_bytes());
    let patched = kiln_host::HostGraph::from_bytes(graph.clone(), &weights);
    let e = patched
        .graph()
        .unwrap()
        .prepare(None)
        .err()
        .expect("prepares");
    assert!(
        e.to_string()
            .contains("an int8 mean whose count is the input's cells per channel"),
        "{e}"
    );
    let blob = kiln_host::blob::encode(&patched).unwrap();
    let loaded = kiln_host::blob::decode(&blob).unwrap();
    assert!(loaded.graph().unwrap().prepare(None).is_err());
}

/// A MEAN reading a tensor declared 65536 × 65536: its cell count was a `u32` product,
/// which overflowed (a panic in debug builds) before anything looked at the tensor. It is
/// counted in `usize` and refused.
#[test]
fn a_mean_over_more_cells_than_an_i32_counts_is_refused() {
    let mut model = fixture("conv_per_tensor");
    let g = &mut model.subgraphs[0];
    let mut huge = g.tensors[15].clone();
    huge.shape = vec![1, 65536, 65536, 6];
    g.tensors.push(huge);
    g.operators[4].inputs[0] = Some(g.tensors.len() - 1);
    assert_refused(&model, "a mean over 4294967296 cells per channel");
}

/// Strides, dilations and kernel sizes over 65535 were cast to `u16`, wrapping: 65536
/// became 0, 65537 became 1 (another model than the file's). They are refused.
#[test]
fn windows_and_strides_over_u16_are_refused() {
    for v in [65536, 65537, u32::MAX >> 1] {
        let mut model = fixture("conv_per_tensor");
        let Options::Conv2D { dilation_h, .. } = &mut model.subgraphs[0].operators[0].options
        else {
            panic!("operator 0 is a CONV_2D");
        };
        *dilation_h = v;
        assert_refused(
            &model,
            &format!("a window, stride or dilation of {v}, over kiln's 65535"),
        );
        let mut model = fixture("conv_per_tensor");
        let Options::DepthwiseConv2D { stride_w, .. } =
            &mut model.subgraphs[0].operators[1].options
        else {
            panic!("operator 1 is a DEPTHWISE_CONV_2D");
        };
        *stride_w = v;
        assert_refused(
            &model,
            &format!("a window, stride or dilation of {v}, over kiln's 65535"),
        );
    }
}

/// A FULLY_CONNECTED on an input declared with 2^25 values and a filter of 32: kiln's
/// Dense then has a kernel of 24 × 2^25 bytes, and the importer allocated the model's
/// whole weight buffer (768 MiB) before finding that the file's filter is not that kernel.
/// Now the variables are checked first: the import allocates about what the file holds.
#[test]
fn weights_bigger_than_the_file_are_refused_before_they_are_allocated() {
    let mut model = fixture("mlp_per_tensor");
    model.subgraphs[0].tensors[0].shape = vec![1, 1 << 25];
    let mut errors = Vec::new();
    let peak = peak_allocation(|| errors = refused(&model));
    for e in errors {
        assert!(e.contains("variable kernel does not take 768 bytes"), "{e}");
    }
    assert!(peak < 1 << 20, "an allocation of {peak} bytes");
}

/// Found by the fuzz target: the DEQUANTIZE at the end of a float-output model writing
/// back into its own int8 input tensor. The importer recorded that tensor's int8
/// quantization on kiln's float32 Dequantize node; with every tensor as an output, the
/// model imported, and kiln wrote a blob its loader refuses ("a tensor's quantization
/// parameters are invalid"). A computed tensor must now have the dtype the file declares.
#[test]
fn a_dtype_other_than_the_declared_one_is_refused() {
    let mut model = fixture_file("mlp_per_channel", "model_float_io.tflite");
    let g = &mut model.subgraphs[0];
    let last = g.operators.len() - 1;
    assert_eq!(
        g.operators[last].op,
        kiln_host::formats::tflite::BuiltinOp::Dequantize
    );
    let input = g.operators[last].inputs[0].unwrap();
    g.operators[last].outputs = vec![input];
    assert_refused(
        &model,
        "is int8 in the file, but kiln computes float32 for it",
    );
    // And a DEQUANTIZE into a tensor declared int8.
    let mut model = fixture_file("mlp_per_channel", "model_float_io.tflite");
    let g = &mut model.subgraphs[0];
    let output = g.outputs[0];
    g.tensors[output].dtype = kiln_host::formats::tflite::TensorType::Int8;
    g.tensors[output].quantization = g.tensors[input].quantization.clone();
    assert_refused(
        &model,
        "is int8 in the file, but kiln computes float32 for it",
    );
}

/// Found by the fuzz target: a float32 input declared with 393 million values, reshaped
/// three times, every tensor an output. It imports (its summary is right), and its blob
/// would need an arena of 4.7 GB: `encode` refuses it, as it should, since a blob records
/// the arena in 32 bits. The harness had asserted that every imported model exports; now
/// it takes that refusal, and only that one.
#[test]
fn a_model_too_big_for_a_blob_imports_but_does_not_export() {
    use kiln_host::formats::tflite::{BuiltinOp, Operator, Subgraph, Tensor, TensorType};
    let tensor = |name: &str| Tensor {
        name: name.into(),
        shape: vec![1, 2, 65535, 1000, 3],
        shape_signature: None,
        dtype: TensorType::Float32,
        data: None,
        quantization: None,
        is_variable: false,
    };
    let reshape = |from: usize| Operator {
        op: BuiltinOp::Reshape,
        version: 1,
        inputs: vec![Some(from)],
        outputs: vec![from + 1],
        options: Options::None,
    };
    let model = TfliteModel {
        version: 3,
        description: String::new(),
        subgraphs: vec![Subgraph {
            name: "main".into(),
            tensors: vec![tensor("x"), tensor("a"), tensor("b"), tensor("c")],
            inputs: vec![0],
            outputs: vec![3],
            operators: vec![reshape(0), reshape(1), reshape(2)],
        }],
    };
    assert_eq!(
        harness::tflite_import(&bytes(&model)),
        TfliteStage::Imported
    );
    let options = TfliteOptions {
        every_tensor: true,
        ..Default::default()
    };
    let import = import_tflite(&model, options).unwrap();
    let e = kiln_host::blob::encode(&import.model).unwrap_err();
    assert!(matches!(e, kiln::Error::ArenaTooLarge { .. }), "{e}");
}

/// Found by the fuzz target: a model of two inputs whose output is its first input. The
/// second is an input no output depends on, which has no layer in kiln's graph (as in
/// Keras's `model.layers`); kiln wrote its blob, and the loader refused it ("a node's layer
/// does not exist"). `format::write` now refuses such a graph, so `kiln export` says why.
#[test]
fn a_model_input_no_output_uses_imports_but_does_not_export() {
    let mut model = fixture("two_inputs");
    let g = &mut model.subgraphs[0];
    g.outputs = vec![g.inputs[0]];
    // The operators now compute nothing an output needs, and say so.
    let e = import_tflite(&model, TfliteOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("computes nothing the model's outputs need"),
        "{e}"
    );
    model.subgraphs[0].operators.clear();
    // With every tensor as an output, both inputs are outputs: that import runs.
    assert_eq!(
        harness::tflite_import(&bytes(&model)),
        TfliteStage::Predicted
    );
    let import = import_tflite(&model, TfliteOptions::default()).unwrap();
    let e = kiln_host::blob::encode(&import.model).unwrap_err();
    assert!(
        e.to_string()
            .contains("a model input that no output depends on cannot be written to a blob"),
        "{e}"
    );
}
