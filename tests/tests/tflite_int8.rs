//! Int8 `.tflite` models made by the real TensorFlow converter
//! (tests/fixtures/generate_int8.py): kiln gives LiteRT's reference kernels'
//! (`BUILTIN_REF`) bits, for every tensor the model computes, not only its outputs.

use kiln_host::formats::npy;
use kiln_host::formats::tflite;
use kiln_host::import::tflite::{import_tflite, TfliteImport, TfliteOptions};
use kiln_tests::{fixtures, json};
use std::path::Path;

fn try_import(file: &Path, every_tensor: bool) -> Result<TfliteImport, String> {
    let parsed = tflite::read(file).map_err(|e| e.to_string())?;
    let options = TfliteOptions {
        every_tensor,
        ..Default::default()
    };
    import_tflite(&parsed, options).map_err(|e| format!("{}: {e}", file.display()))
}

fn import(file: &Path, every_tensor: bool) -> TfliteImport {
    try_import(file, every_tensor).unwrap_or_else(|e| panic!("{e}"))
}

fn int8_inputs(dir: &Path) -> Vec<Vec<i8>> {
    input_files(dir)
        .iter()
        .map(|f| {
            let array = npy::read_f32(dir.join(f)).unwrap();
            array.int8.unwrap_or_else(|| panic!("{f} is not int8"))
        })
        .collect()
}

/// Runs the int8 model of `dir` with every tensor as an output on the samples of its
/// `x_int8*.npy` and compares each tensor with the generator's dump; returns one line per
/// tensor that differs.
fn compare_every_tensor(dir: &Path) -> Vec<String> {
    let file = dir.join("model.tflite");
    let import = match try_import(&file, true) {
        Ok(import) => import,
        Err(e) => return vec![e],
    };
    let graph = import.model.graph().expect("weights");
    let info = json(&dir.join("tensors.json"));
    let inputs = int8_inputs(dir);
    let inputs: Vec<&[i8]> = inputs.iter().map(Vec::as_slice).collect();
    let prepared = match graph.prepare(None) {
        Ok(p) => p,
        Err(e) => return vec![format!("{}: {e}", file.display())],
    };
    let batch = inputs[0].len() / prepared.input_elements(0).unwrap();
    let mut arena = vec![0u8; prepared.arena_bytes()];
    let (_, n_out) = prepared.io_count();
    assert_eq!(n_out, import.tensors.len());
    let mut outputs: Vec<Vec<i8>> = (0..n_out)
        .map(|j| vec![0; prepared.output_elements(j).unwrap() * batch])
        .collect();
    {
        let mut slices: Vec<&mut [i8]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
        prepared.predict(&inputs, &mut slices, &mut arena).unwrap();
    }
    let mut failures = Vec::new();
    for (&(tensor, _), got) in import.tensors.iter().zip(&outputs) {
        let entry = &info["tensors"][tensor];
        let Some(path) = entry["file"].as_str() else {
            continue;
        };
        let want = npy::read_f32(dir.join(path)).unwrap_or_else(|e| panic!("{e}"));
        let want = want.int8.expect("an int8 tensor");
        let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        if got.len() != want.len() || differ > 0 {
            let producer = &entry["producer"];
            failures.push(format!(
                "{}: tensor {tensor} ('{}', made by operator {} {}): {differ} of {} values differ",
                file.display(),
                entry["name"].as_str().unwrap_or(""),
                producer["index"],
                producer["op"].as_str().unwrap_or("(input)"),
                want.len()
            ));
        }
    }
    failures
}

const MODELS: &[&str] = &[
    "mlp_per_channel",
    "mlp_per_tensor",
    "dense_autoencoder",
    "conv_same_valid",
    "conv_per_tensor",
    "depthwise_stack",
    "pools",
    "residual_add",
    "concat_pad",
    "activations",
    "two_inputs",
    "random_0",
    "random_1",
    "random_2",
    "random_3",
    "random_4",
    "random_5",
];

fn input_files(dir: &Path) -> Vec<String> {
    if dir.join("x_int8.npy").exists() {
        vec!["x_int8.npy".into()]
    } else {
        (0..)
            .map(|i| format!("x_int8_{i}.npy"))
            .take_while(|f| dir.join(f).exists())
            .collect()
    }
}

#[test]
fn every_tensor_is_litert_reference_bits() {
    let mut failures = Vec::new();
    for name in MODELS {
        failures.extend(compare_every_tensor(&fixtures("int8").join(name)));
    }
    assert!(
        failures.is_empty(),
        "{} tensors differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The models with float32 inputs and outputs (a QUANTIZE first, a DEQUANTIZE last) give
/// LiteRT's float32 outputs exactly.
#[test]
fn float_io_models_give_litert_reference_outputs() {
    for name in ["mlp_per_channel", "conv_same_valid"] {
        let dir = fixtures("int8").join(name);
        let import = import(&dir.join("model_float_io.tflite"), false);
        let graph = import.model.graph().unwrap();
        let x = npy::read_f32(dir.join("x.npy")).unwrap();
        let want = npy::read_f32(dir.join("y_float_io.npy")).unwrap();
        let mut y = vec![0f32; want.data.len()];
        let mut arena = vec![0u8; graph.arena_bytes().unwrap()];
        graph
            .predict(&[&x.data], &mut [&mut y], &mut arena)
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&want.data), "{name}");
    }
}

/// Every bench model's int8 `.tflite` (MLP, CNN, KWS DS-CNN, MLPerf Tiny's ResNet-8 and VWW
/// MobileNetV1) gives LiteRT's outputs.
#[test]
fn bench_models_give_litert_reference_outputs() {
    for name in ["mlp", "cnn", "kws", "resnet8", "vww"] {
        let dir = fixtures("bench").join(name);
        let import = import(&dir.join("model_int8.tflite"), false);
        let graph = import.model.graph().unwrap();
        let x = npy::read_f32(dir.join("x_int8.npy")).unwrap().int8.unwrap();
        let want = npy::read_f32(dir.join("y_int8.npy")).unwrap().int8.unwrap();
        let mut y = vec![0i8; want.len()];
        let mut arena = vec![0u8; graph.arena_bytes().unwrap()];
        graph.predict(&[&x], &mut [&mut y], &mut arena).unwrap();
        assert_eq!(y, want, "{name}");
    }
}

/// Run for their outputs only, the int8 pools go over their input's memory where their
/// windows read ahead of what they write (every pool of the `pools` model does), freeing
/// the rest of it, and every model still gives LiteRT's outputs.
#[test]
fn pools_over_their_inputs_memory_give_litert_reference_outputs() {
    for name in MODELS {
        let dir = fixtures("int8").join(name);
        let import = import(&dir.join("model.tflite"), false);
        let graph = import.model.graph().unwrap();
        let plan = graph.plan(None).unwrap();
        let pools_in_place = graph
            .nodes()
            .iter()
            .zip(plan.placements.iter())
            .filter(|(node, p)| {
                let class = graph.layer(node.layer).unwrap().class_name();
                class.ends_with("Pooling2D") && !class.starts_with("Global") && p.in_place
            })
            .count();
        if *name == "pools" {
            assert_eq!(pools_in_place, 4, "{name}: pools in place");
            // The first convolution's 13×13×6 output is the most the arena holds at once
            // (1,014 bytes, aligned to 1,016): each pool writes over it, nothing beside it.
            assert_eq!(
                (plan.bytes, plan.lower_bound),
                (1016, 1016),
                "{name}: arena"
            );
        }
        let inputs = int8_inputs(&dir);
        let inputs: Vec<&[i8]> = inputs.iter().map(Vec::as_slice).collect();
        let prepared = graph.prepare(None).unwrap();
        let mut arena = vec![0u8; prepared.arena_bytes()];
        let batch = inputs[0].len() / prepared.input_elements(0).unwrap();
        let (_, n_out) = prepared.io_count();
        let mut outputs: Vec<Vec<i8>> = (0..n_out)
            .map(|j| vec![0; prepared.output_elements(j).unwrap() * batch])
            .collect();
        {
            let mut slices: Vec<&mut [i8]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
            prepared.predict(&inputs, &mut slices, &mut arena).unwrap();
        }
        let files: Vec<String> = if dir.join("y_int8.npy").exists() {
            vec!["y_int8.npy".into()]
        } else {
            (0..n_out).map(|j| format!("y_int8_{j}.npy")).collect()
        };
        for (j, file) in files.iter().enumerate() {
            let want = npy::read_f32(dir.join(file)).unwrap().int8.unwrap();
            assert_eq!(outputs[j], want, "{name}: output {j}");
        }
    }
}
