// The host fuzz targets' logic. No inner attributes or doc comments here: the file is also
// compiled as a module of `host-tools/tests/fuzz_corpus.rs` (`#[path]`), which replays the
// committed corpora on stable. A panic is the only failure.

use kiln::graph::{DType, Element};
use kiln::ops::int8::Flavor;
use kiln::runtime::Prepared;
use kiln::{Heap, LayerKind, Shape, SummaryOptions};
use kiln_host::formats::{npy as npy_format, tflite as tflite_format, WeightTree};
use kiln_host::import::import;
use kiln_host::import::tflite::{import_tflite, TfliteOptions};
use kiln_host::{HostGraph, HostModel};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// Models that plan bigger than this are imported and summarised but not run.
const MAX_ARENA: usize = 1 << 20;
/// Nor are models with more weights or input values than this.
const MAX_VALUES: usize = 1 << 20;

/// `tflite_import` does not run a model whose estimated work (multiply-adds and values
/// touched, one sample) is over this: a big model is slow, not wrong.
const MAX_WORK: usize = 1 << 23;

/// Configs the weights are read against (`import_weights`: the first byte picks one).
const CONFIGS: &[&str] = &[
    include_str!("../../../tests/fixtures/sequential/mlp/model.json"),
    include_str!("../../../tests/fixtures/sequential/bn_conv/model.json"),
    include_str!("../../../tests/fixtures/sequential/depthwise/model.json"),
    include_str!("../../../tests/fixtures/functional/nested_deep/model.json"),
    include_str!("../../../tests/fixtures/functional/two_io/model.json"),
];

/// Models the summary options are tried on (`summary_options`: a byte picks one).
const SUMMARISED: &[&str] = &[
    include_str!("../../../tests/fixtures/sequential/layer_range/model.json"),
    include_str!("../../../tests/fixtures/sequential/long_names/model.json"),
    include_str!("../../../tests/fixtures/functional/nested_deep/model.json"),
    include_str!("../../../tests/fixtures/functional/two_io/model.json"),
];

/// `import_config`: the bytes are a model config (`model.to_json()`). Whatever imports
/// must summarise, and when its shapes are known and it is small: run on zeros, export to
/// a blob, and load back from that blob with the same summary.
pub fn import_config(data: &[u8]) -> bool {
    let Ok(config) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    let Ok(model) = import(&config, None) else {
        return false;
    };
    let weights = vec![
        0.0;
        model
            .structure()
            .weight_bytes()
            .div_ceil(4)
            .min(MAX_VALUES + 1)
    ];
    exercise(&HostGraph::new(model.structure().clone(), weights));
    true
}

/// `import_weights`: the first byte picks a config, the rest is its `model.weights.h5`.
pub fn import_weights(data: &[u8]) -> bool {
    let Some((&pick, h5)) = data.split_first() else {
        return false;
    };
    let config: Value = serde_json::from_str(CONFIGS[pick as usize % CONFIGS.len()])
        .expect("the fixtures' configs are JSON");
    let Ok(tree) = WeightTree::from_h5_bytes(h5.to_vec(), Path::new("fuzz.h5")) else {
        return false;
    };
    match import(&config, Some(&tree)) {
        Ok(model) => {
            exercise(&model);
            true
        }
        Err(_) => false,
    }
}

/// `npy`: the bytes are a `.npy` file; what parses holds as many values as its shape says.
pub fn npy(data: &[u8]) -> bool {
    let Ok(array) = npy_format::parse_f32(data, Path::new("fuzz.npy")) else {
        return false;
    };
    let elements: usize = array.shape.iter().product();
    assert_eq!(array.data.len(), elements, "shape {:?}", array.shape);
    true
}

/// `tflite`: the bytes are a `.tflite` file. What parses holds what the reader validates:
/// every index in range, constant data of its shape's size, consistent quantization, and
/// at most twice the input's size in copied data.
pub fn tflite(data: &[u8]) -> bool {
    let Ok(model) = tflite_format::parse(data) else {
        return false;
    };
    assert!(!model.subgraphs.is_empty());
    let mut copied = 0;
    for graph in &model.subgraphs {
        let n = graph.tensors.len();
        assert!(graph.inputs.iter().chain(&graph.outputs).all(|&t| t < n));
        for op in &graph.operators {
            assert!(op
                .inputs
                .iter()
                .flatten()
                .chain(&op.outputs)
                .all(|&t| t < n));
        }
        for t in &graph.tensors {
            assert!(t.shape.iter().all(|&d| d >= 0), "{:?}", t.shape);
            if let Some(signature) = &t.shape_signature {
                assert_eq!(signature.len(), t.shape.len());
            }
            if let (Some(bytes), Some(size)) = (&t.data, t.dtype.size()) {
                let elements: usize = t.shape.iter().map(|&d| d as usize).product();
                assert_eq!(bytes.len(), elements * size, "{:?} {}", t.shape, t.dtype);
            }
            copied += t.data.as_ref().map_or(0, Vec::len);
            if let Some(q) = &t.quantization {
                assert_eq!(q.scale.len(), q.zero_point.len());
                if q.scale.len() > 1 {
                    let axis = q.quantized_dimension as usize;
                    assert_eq!(t.shape[axis] as usize, q.scale.len());
                }
            }
        }
    }
    assert!(copied <= 2 * data.len());
    true
}

/// How far `tflite_import` took a `.tflite` file (the furthest of its imports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TfliteStage {
    /// `parse` refused it.
    Refused,
    /// It parsed, but no import accepted it.
    Parsed,
    /// An import made a model (summarised, exported, loaded back).
    Imported,
    /// That model prepared, with an arena and inputs and outputs small enough to run.
    Prepared,
    /// It ran on the host and from its blob, with the same outputs.
    Predicted,
}

/// `tflite_import`: the bytes are a `.tflite` file, imported with both flavors, with the
/// subgraph's outputs and with every tensor as an output. What imports must summarise,
/// export to a blob that loads back as the same graph, and when it prepares and is small,
/// run from the host graph and from the loaded blob with the same output bytes. Every
/// failure on the way must be an `Err`.
pub fn tflite_import(data: &[u8]) -> TfliteStage {
    let Ok(model) = tflite_format::parse(data) else {
        return TfliteStage::Refused;
    };
    let mut reached = TfliteStage::Parsed;
    for flavor in [Flavor::LiteRtReference, Flavor::Tflm] {
        for every_tensor in [false, true] {
            let options = TfliteOptions {
                flavor,
                every_tensor,
            };
            if let Ok(import) = import_tflite(&model, options) {
                assert_eq!(
                    import.tensors.len(),
                    import.model.structure().output_nodes().len()
                );
                reached = reached.max(exercise_int8(&import.model, data));
            }
        }
    }
    reached
}

/// The blob round trip, prepare and run of an imported `.tflite` model.
fn exercise_int8(model: &HostGraph, data: &[u8]) -> TfliteStage {
    let graph = model.structure();
    for options in [
        SummaryOptions::default(),
        SummaryOptions {
            line_length: Some(40),
            show_trainable: true,
            expand_nested: true,
            ..Default::default()
        },
    ] {
        let _ = graph.summary(&options, &mut |line| {
            let _ = line.to_string();
        });
    }
    assert!(model.has_weights(), "an imported model has its weights");
    let blob = match kiln_host::blob::encode(model) {
        Ok(blob) => blob,
        // A blob records sizes in 32 bits: a model whose arena, graph or weights are over
        // 4 GiB is refused (a hostile file can declare tensors of any size).
        Err(
            kiln::Error::ArenaTooLarge { .. }
            | kiln::Error::Blob(kiln::format::BlobError::TooLarge { .. }),
        ) => return TfliteStage::Imported,
        // Nor can a blob record a model input that no output depends on (it has no layer).
        Err(kiln::Error::InvalidConfig { reason, .. })
            if reason.contains("no output depends on") =>
        {
            return TfliteStage::Imported
        }
        Err(e) => panic!("kiln cannot write the blob of a model it imported: {e}"),
    };
    // What a device does: the blob in aligned memory, loaded in place.
    let mut words = vec![0u128; blob.len().div_ceil(16)];
    let aligned: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    aligned[..blob.len()].copy_from_slice(&blob);
    let aligned = &aligned[..blob.len()];
    let loaded = kiln::format::load::<Heap>(aligned)
        .unwrap_or_else(|e| panic!("kiln cannot load the blob it wrote: {e}"));
    assert_eq!(loaded.name(), graph.name());
    assert_eq!(loaded.all_layers(), graph.all_layers());
    assert_eq!(loaded.nodes(), graph.nodes());
    assert_eq!(loaded.input_nodes(), graph.input_nodes());
    assert_eq!(loaded.output_nodes(), graph.output_nodes());
    assert_eq!(
        loaded.weights(),
        model.weights(),
        "the blob's weights differ"
    );
    let again = kiln_host::blob::decode(&blob).expect("the blob loads");
    assert_eq!(
        kiln_host::blob::encode(&again).ok().as_deref(),
        Some(blob.as_slice()),
        "the loaded blob writes another blob"
    );

    let Ok(host) = model.graph() else {
        panic!("an imported model lends its weights");
    };
    let prepared = host.prepare(None);
    let from_blob = loaded.prepare(None);
    assert_eq!(
        prepared.as_ref().map(Prepared::arena_bytes).ok(),
        from_blob.as_ref().map(Prepared::arena_bytes).ok(),
        "the host graph and its blob prepare differently"
    );
    let (Ok(prepared), Ok(from_blob)) = (prepared, from_blob) else {
        return TfliteStage::Imported;
    };
    let (n_in, n_out) = prepared.io_count();
    let dtypes: Vec<DType> = (0..n_in)
        .filter_map(|i| prepared.input_dtype(i))
        .chain((0..n_out).filter_map(|j| prepared.output_dtype(j)))
        .collect();
    let bytes = |elements: Option<usize>, dtype: Option<DType>| {
        elements
            .unwrap_or(0)
            .saturating_mul(dtype.map_or(1, DType::size))
    };
    let io_bytes = (0..n_in)
        .map(|i| bytes(prepared.input_elements(i), prepared.input_dtype(i)))
        .chain((0..n_out).map(|j| bytes(prepared.output_elements(j), prepared.output_dtype(j))));
    // A run takes its batch size from the input buffers' lengths: an input of no values
    // per sample can be prepared but never run (`predict` says so).
    let runnable = (0..n_in).all(|i| prepared.input_elements(i).is_some_and(|n| n > 0));
    let small = runnable
        && prepared.arena_bytes() <= MAX_ARENA
        && io_bytes.fold(0usize, usize::saturating_add) <= MAX_ARENA
        && work(&host).is_some_and(|w| w <= MAX_WORK);
    if !small {
        return TfliteStage::Imported;
    }
    let ran = match dtypes.first() {
        Some(DType::I8) if dtypes.iter().all(|&d| d == DType::I8) => {
            same_run::<i8>(&prepared, &from_blob, data);
            true
        }
        Some(DType::F32) if dtypes.iter().all(|&d| d == DType::F32) => {
            same_run::<f32>(&prepared, &from_blob, data);
            true
        }
        // `predict` takes buffers of one element type.
        _ => false,
    };
    if ran {
        TfliteStage::Predicted
    } else {
        TfliteStage::Prepared
    }
}

/// Inputs cut from `data` through both prepared models: one sample through the host's,
/// the same sample twice (a batch of 2) through the blob's, starting from an arena of
/// other leftovers. Each sample must give the same bytes.
fn same_run<T: Element>(host: &Prepared<'_, Heap>, blob: &Prepared<'_, Heap>, data: &[u8]) {
    let (n_in, n_out) = host.io_count();
    let zero = <T as bytemuck::Zeroable>::zeroed;
    let mut at = 0usize;
    let inputs: Vec<Vec<T>> = (0..n_in)
        .map(|i| {
            let n = host.input_elements(i).unwrap_or(0);
            let mut values = vec![zero(); n];
            for b in bytemuck::cast_slice_mut::<T, u8>(&mut values) {
                *b = data.get(at % data.len().max(1)).copied().unwrap_or(0);
                at += 1;
            }
            values
        })
        .collect();
    let run = |prepared: &Prepared<'_, Heap>, batch: usize, fill: u8| -> Vec<u8> {
        let inputs: Vec<Vec<T>> = inputs.iter().map(|x| x.repeat(batch)).collect();
        let input_refs: Vec<&[T]> = inputs.iter().map(Vec::as_slice).collect();
        let mut outputs: Vec<Vec<T>> = (0..n_out)
            .map(|j| vec![zero(); prepared.output_elements(j).unwrap_or(0) * batch])
            .collect();
        let mut refs: Vec<&mut [T]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
        let mut arena = vec![fill; prepared.arena_bytes()];
        let ran = prepared
            .predict(&input_refs, &mut refs, &mut arena)
            .unwrap_or_else(|e| panic!("a prepared model refuses a run of its own sizes: {e}"));
        assert_eq!(ran, batch);
        // Sample by sample, output after output.
        let mut bytes = Vec::new();
        for k in 0..batch {
            for o in &outputs {
                let n = o.len() / batch;
                bytes.extend_from_slice(bytemuck::cast_slice::<T, u8>(&o[k * n..(k + 1) * n]));
            }
        }
        bytes
    };
    let one = run(host, 1, 0);
    let two = run(blob, 2, 0xa5);
    assert!(
        two[..one.len()] == one[..],
        "the blob's run gives other bytes than the host graph's"
    );
    assert!(
        two[one.len()..] == one[..],
        "the second sample of a batch gives other bytes than the first"
    );
}

/// Roughly what one sample costs: multiply-adds and values touched; `None` when a shape
/// is unknown or the count overflows.
fn work(graph: &HostModel<'_>) -> Option<usize> {
    let shapes = graph.sample_shapes(None).ok()?;
    let layers = graph.all_layers();
    let mut total = 0usize;
    for (n, node) in graph.nodes().iter().enumerate() {
        let out = shapes.get(n)?.sample_elements()?;
        let input = node.inputs.first().and_then(|&i| shapes.get(i as usize));
        let depth = || input.and_then(|s| s.last()).map_or(1, |d| d as usize);
        let per_output = match &layers.get(node.layer as usize)?.kind {
            LayerKind::Conv2D(c) => {
                usize::from(c.kernel_size[0]) * usize::from(c.kernel_size[1]) * depth()
            }
            LayerKind::DepthwiseConv2D(c) => {
                usize::from(c.kernel_size[0]) * usize::from(c.kernel_size[1])
            }
            LayerKind::Dense(_) => depth(),
            LayerKind::MaxPooling2D(p) => {
                usize::from(p.0.pool_size[0]) * usize::from(p.0.pool_size[1])
            }
            LayerKind::AveragePooling2D(p) => {
                usize::from(p.0.pool_size[0]) * usize::from(p.0.pool_size[1])
            }
            _ => 1,
        };
        let read: usize = node
            .inputs
            .iter()
            .map(|&i| shapes.get(i as usize).and_then(Shape::sample_elements))
            .sum::<Option<usize>>()?;
        total = total
            .checked_add(out.checked_mul(per_output)?)?
            .checked_add(read)?;
    }
    Some(total)
}

/// `summary_options`: the bytes choose a model and `summary`'s arguments.
///
/// ```text
/// byte 0     bits 0-1 model, 2 expand_nested, 3 show_trainable, 4 layer_range,
///            5-6 terminal width (80, 200, none, 40)
/// bytes 1-2  line_length (little-endian; 0 = Keras's default)
/// byte 3     number of positions (0-7), then that many f64 (little-endian)
/// rest       the two layer_range patterns, UTF-8, separated by a zero byte
/// ```
pub fn summary_options(data: &[u8]) -> bool {
    static MODELS: OnceLock<Vec<HostGraph>> = OnceLock::new();
    let models = MODELS.get_or_init(|| {
        SUMMARISED
            .iter()
            .map(|json| {
                let config: Value = serde_json::from_str(json).expect("JSON");
                import(&config, None).expect("the fixtures import")
            })
            .collect()
    });
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let line_length = usize::from(u16::from_le_bytes([byte(1), byte(2)]));
    let count = usize::from(byte(3) % 8);
    let positions: Vec<f64> = (0..count)
        .map(|k| {
            let at = 4 + 8 * k;
            let mut bytes = [0u8; 8];
            for (j, b) in bytes.iter_mut().enumerate() {
                *b = byte(at + j);
            }
            f64::from_le_bytes(bytes)
        })
        .collect();
    let rest = data.get(4 + 8 * count..).unwrap_or(&[]);
    let text = String::from_utf8_lossy(rest);
    let (start, end) = text.split_once('\0').unwrap_or((&text, ""));
    let options = SummaryOptions {
        line_length: (line_length > 0).then_some(line_length),
        positions: (!positions.is_empty()).then_some(&positions),
        expand_nested: flags & 4 != 0,
        show_trainable: flags & 8 != 0,
        layer_range: (flags & 16 != 0).then_some([start, end]),
        terminal_columns: [80, 200, usize::MAX, 40][usize::from(flags >> 5) & 3],
    };
    let model = &models[usize::from(flags & 3) % models.len()];
    model
        .structure()
        .summary(&options, &mut |line| {
            let _ = line.to_string();
        })
        .is_ok()
}

/// Summaries, plans, a run on zeros, and the blob round trip of an imported model.
fn exercise(model: &HostGraph) {
    let graph = model.structure();
    for options in [
        SummaryOptions::default(),
        SummaryOptions {
            line_length: Some(40),
            show_trainable: true,
            expand_nested: true,
            ..Default::default()
        },
    ] {
        let _ = graph.summary(&options, &mut |line| {
            let _ = line.to_string();
        });
    }
    if !model.has_weights() || graph.weight_bytes() / 4 > MAX_VALUES {
        return;
    }
    let Ok(plan) = graph.plan(None) else {
        return;
    };
    if plan.arena_bytes() > MAX_ARENA {
        return;
    }
    let Ok(lent) = model.graph() else {
        return;
    };
    if let Ok(shapes) = lent.sample_shapes(None) {
        let size = |nodes: &[u16]| -> Vec<usize> {
            nodes
                .iter()
                .map(|&n| shapes[n as usize].sample_elements().unwrap_or(0))
                .collect()
        };
        let (ins, outs) = (size(lent.input_nodes()), size(lent.output_nodes()));
        if ins.iter().chain(&outs).sum::<usize>() <= MAX_VALUES {
            let inputs: Vec<Vec<f32>> = ins.iter().map(|&n| vec![0.0; n]).collect();
            let mut outputs: Vec<Vec<f32>> = outs.iter().map(|&n| vec![0.0; n]).collect();
            let input_refs: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
            let mut output_refs: Vec<&mut [f32]> =
                outputs.iter_mut().map(Vec::as_mut_slice).collect();
            let mut arena = vec![0u8; plan.arena_bytes()];
            let _ = lent.predict(&input_refs, &mut output_refs, &mut arena);
        }
    }
    // Every blob kiln writes, kiln reads back as the same model.
    if let Ok(blob) = kiln_host::blob::encode(model) {
        let loaded = kiln_host::blob::decode(&blob)
            .unwrap_or_else(|e| panic!("kiln cannot load the blob it wrote: {e}"));
        let text = |g: &HostGraph| {
            let mut out = String::new();
            let _ = g
                .structure()
                .summary(&SummaryOptions::default(), &mut |line| {
                    out.push_str(&line.to_string());
                    out.push('\n');
                });
            out
        };
        assert_eq!(text(model), text(&loaded), "the blob's summary differs");
    }
}
