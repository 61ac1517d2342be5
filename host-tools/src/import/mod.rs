//! Keras 3 model configs (`config.json` in a `.keras`, or `model.to_json()`) to kiln graphs.
//!
//! Every layer config is read field by field with Keras's defaults; a field kiln cannot
//! honour (channels_first, groups, an unknown activation) is an error that names the
//! layer, never silently ignored.

/// Why a model config cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "layer '{name}' has class '{class}', which kiln does not support (supported: {supported})"
    )]
    UnsupportedLayer {
        name: String,
        class: String,
        supported: &'static str,
    },
    #[error("model class '{class}' cannot be imported (supported: Sequential, Functional; a subclassed model's config holds no layer graph: rebuild it with kiln::model::Subclassed)")]
    UnsupportedModel { class: String },
    #[error("layer '{layer}': {field}: {reason}")]
    Config {
        layer: String,
        field: String,
        reason: String,
    },
    #[error("{}", in_layer(layer, error))]
    Kiln {
        layer: String,
        error: Box<kiln::Error>,
    },
    #[error("layer '{layer}': no weights found in model.weights.h5 (looked for group '{path}')")]
    MissingWeights { layer: String, path: String },
    #[error("layer '{layer}': weight {index} ({var}) in model.weights.h5 has shape {found:?}, expected {expected:?}")]
    WeightShape {
        layer: String,
        index: usize,
        var: &'static str,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("layer '{layer}': model.weights.h5 has {found} variables, expected {expected}")]
    WeightCount {
        layer: String,
        found: usize,
        expected: usize,
    },
    #[error("the model config is not a Keras model: {0}")]
    NotAModel(String),
}

/// kiln's message, prefixed with the layer when the message does not name it already.
fn in_layer(layer: &str, error: &kiln::Error) -> String {
    match error.layer() {
        Some(named) if named == crate::import::error_name(layer) => error.to_string(),
        _ => format!("layer '{layer}': {error}"),
    }
}

/// A layer name as kiln's errors quote it (long names are cut).
fn error_name(layer: &str) -> kiln::name::Name {
    kiln::name::for_error(layer)
}

/// The layer classes kiln imports.
pub const SUPPORTED_LAYERS: &str = "InputLayer, Dense, Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, ZeroPadding2D, Cropping2D, UpSampling2D, Flatten, Reshape, Dropout, Activation, ReLU, LeakyReLU, Softmax, BatchNormalization, Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, RandomCrop, Sequential, Functional";

mod layers;
mod models;
pub mod tflite;
mod weights;

pub use models::import;
pub use weights::WeightSource;

#[cfg(test)]
mod tests {
    use kiln::format::AlignedBlob;

    /// The golden blobs hold every layer kind kiln has: each must be named in the list the
    /// importer's "unsupported layer" error gives.
    #[test]
    fn the_supported_list_names_every_layer_kind_of_the_golden_blobs() {
        static A: &AlignedBlob<
            [u8; include_bytes!("../../../core/src/format/golden_v2.kiln").len()],
        > = &AlignedBlob(*include_bytes!("../../../core/src/format/golden_v2.kiln"));
        static B: &AlignedBlob<
            [u8; include_bytes!("../../../core/src/format/golden_v2_b.kiln").len()],
        > = &AlignedBlob(*include_bytes!("../../../core/src/format/golden_v2_b.kiln"));
        let listed: Vec<&str> = super::SUPPORTED_LAYERS.split(", ").collect();
        let mut seen = 0;
        for blob in [&A.0[..], &B.0[..]] {
            let graph = kiln::format::load::<kiln::Heap>(blob).expect("a golden blob loads");
            for layer in graph.all_layers() {
                let class = layer.kind.op().class_name();
                assert!(
                    listed.contains(&class),
                    "{class} is missing from SUPPORTED_LAYERS"
                );
                seen += 1;
            }
        }
        assert!(seen > 25, "the golden blobs hold {seen} layers");
    }
}
