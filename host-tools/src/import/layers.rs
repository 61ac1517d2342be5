//! One layer's config: every field read with Keras's defaults, anything kiln cannot
//! honour refused with the layer's name.

use super::{ImportError, SUPPORTED_LAYERS};
use kiln::graph::{LayerKind, LayerSpec};
use kiln::ops::{
    Activation as ActivationLayer, AveragePooling1D, AveragePooling2D, BatchNormalization,
    Concatenate, Conv1D, Conv2D, Cropping2D, Dense, DepthwiseConv2D, Dropout, Flatten,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    InputLayer, LeakyReLU, MaxPooling1D, MaxPooling2D, Pool1D, Pool2D, RandomCrop, ReLU, Reshape,
    SeparableConv2D, Softmax, UpSampling2D, ZeroPadding2D,
};
use kiln::{Activation, Padding, Shape};
use serde_json::{Map, Value};
use std::fmt;

pub(super) fn layer_name(layer: &Value, index: usize) -> String {
    layer
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("<layer {index}>"))
}

/// Reads the fields of one layer's config.
struct Fields<'a> {
    layer: String,
    config: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, reason: impl fmt::Display) -> ImportError {
        ImportError::Config {
            layer: self.layer.clone(),
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.config.get(field).filter(|v| !v.is_null())
    }

    fn u32_or(&self, field: &str, default: u32) -> Result<u32, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    self.err(field, format!("expected a non-negative integer, found {v}"))
                }),
        }
    }

    fn f32_or(&self, field: &str, default: f32) -> Result<f32, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| self.err(field, format!("expected a number, found {v}"))),
        }
    }

    fn bool_or(&self, field: &str, default: bool) -> Result<bool, ImportError> {
        match self.get(field) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(field, format!("expected true or false, found {v}"))),
        }
    }

    /// `kernel_size=3` or `(3, 3)` → `[3, 3]`.
    fn pair_or(&self, field: &str, default: Option<[u16; 2]>) -> Result<[u16; 2], ImportError> {
        let bad = |v: &Value| {
            self.err(
                field,
                format!("expected an integer or a pair of integers, found {v}"),
            )
        };
        let small = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok());
        match self.get(field) {
            None => default.ok_or_else(|| self.err(field, "missing")),
            Some(v) => match v {
                Value::Array(items) if items.len() == 2 => Ok([
                    small(&items[0]).ok_or_else(|| bad(v))?,
                    small(&items[1]).ok_or_else(|| bad(v))?,
                ]),
                Value::Array(items) if items.len() == 1 => {
                    let n = small(&items[0]).ok_or_else(|| bad(v))?;
                    Ok([n, n])
                }
                other => {
                    let n = small(other).ok_or_else(|| bad(v))?;
                    Ok([n, n])
                }
            },
        }
    }

    /// A 1-D size: `3` or `[3]` → `3`.
    fn single_or(&self, field: &str, default: Option<u16>) -> Result<u16, ImportError> {
        let bad = |v: &Value| self.err(field, format!("expected an integer, found {v}"));
        let small = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok());
        match self.get(field) {
            None => default.ok_or_else(|| self.err(field, "missing")),
            Some(Value::Array(items)) if items.len() == 1 => {
                small(&items[0]).ok_or_else(|| bad(&Value::Array(items.clone())))
            }
            Some(v) => small(v).ok_or_else(|| bad(v)),
        }
    }

    /// ZeroPadding2D's `padding` / Cropping2D's `cropping`: `1`, `[rows, cols]` or
    /// `[[top, bottom], [left, right]]` → `[[top, bottom], [left, right]]`.
    fn margins(&self, field: &str) -> Result<[[u16; 2]; 2], ImportError> {
        let bad = |v: &Value| {
            self.err(
                field,
                format!("expected an integer, a pair or a pair of pairs of integers, found {v}"),
            )
        };
        let small = |v: &Value| v.as_u64().and_then(|n| u16::try_from(n).ok());
        let pair = |v: &Value| -> Option<[u16; 2]> {
            match v {
                Value::Array(items) if items.len() == 2 => {
                    Some([small(&items[0])?, small(&items[1])?])
                }
                other => small(other).map(|n| [n, n]),
            }
        };
        let value = self.get(field).ok_or_else(|| self.err(field, "missing"))?;
        match value {
            Value::Array(items) if items.len() == 2 => Ok([
                pair(&items[0]).ok_or_else(|| bad(value))?,
                pair(&items[1]).ok_or_else(|| bad(value))?,
            ]),
            other => small(other)
                .map(|n| [[n, n], [n, n]])
                .ok_or_else(|| bad(value)),
        }
    }

    fn padding(&self) -> Result<Padding, ImportError> {
        let name = self
            .get("padding")
            .and_then(Value::as_str)
            .unwrap_or("valid");
        Padding::from_keras_name(&name.to_ascii_lowercase()).ok_or_else(|| {
            self.err(
                "padding",
                format!("'{name}' is not supported (use 'valid', 'same' or, for Conv1D, 'causal')"),
            )
        })
    }

    fn activation(&self, field: &str) -> Result<Activation, ImportError> {
        match self.get(field) {
            None => Ok(Activation::Linear),
            Some(Value::String(name)) => Activation::from_keras_name(name)
                .ok_or_else(|| self.err(field, format!("activation '{name}' is not supported"))),
            Some(Value::Object(obj)) => {
                // A serialized function: {"class_name": "function", "config": "relu", ...}.
                let name = obj
                    .get("config")
                    .and_then(Value::as_str)
                    .or_else(|| obj.get("class_name").and_then(Value::as_str))
                    .unwrap_or("?");
                Activation::from_keras_name(name).ok_or_else(|| {
                    self.err(
                        field,
                        format!("activation {} is not supported", Value::Object(obj.clone())),
                    )
                })
            }
            Some(other) => {
                Err(self.err(field, format!("expected an activation name, found {other}")))
            }
        }
    }

    fn channels_last(&self) -> Result<(), ImportError> {
        match self.get("data_format").and_then(Value::as_str) {
            None | Some("channels_last") => Ok(()),
            Some(other) => Err(self.err(
                "data_format",
                format!("'{other}' is not supported (kiln runs channels_last)"),
            )),
        }
    }

    fn float32(&self) -> Result<(), ImportError> {
        let dtype = match self.get("dtype") {
            None => return Ok(()),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("float32")
                .to_string(),
            Some(other) => other.to_string(),
        };
        if dtype == "float32" {
            Ok(())
        } else {
            Err(self.err(
                "dtype",
                format!("'{dtype}' is not supported (kiln imports float32 models)"),
            ))
        }
    }
}

pub(super) fn layer_spec(layer: &Value, index: usize) -> Result<LayerSpec<'_>, ImportError> {
    let name = layer_name(layer, index);
    let class = layer
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::Config {
            layer: name.clone(),
            field: "class_name".into(),
            reason: "missing".into(),
        })?;
    let empty = Map::new();
    let config = layer
        .get("config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let f = Fields {
        layer: name.clone(),
        config,
    };
    f.float32()?;
    let kind =
        match class {
            "InputLayer" => {
                let shape = f
                    .get("batch_shape")
                    .or_else(|| f.get("batch_input_shape"))
                    .ok_or_else(|| f.err("batch_shape", "missing"))?;
                LayerKind::InputLayer(InputLayer {
                    shape: shape_from_json(shape, &name, "batch_shape")?,
                    dtype: kiln::graph::DType::F32,
                })
            }
            "Dense" => LayerKind::Dense(Dense {
                units: f.u32_or("units", 0)?,
                activation: f.activation("activation")?,
                use_bias: f.bool_or("use_bias", true)?,
            }),
            "Conv2D" => {
                f.channels_last()?;
                if f.u32_or("groups", 1)? != 1 {
                    return Err(f.err("groups", "only groups=1 is supported"));
                }
                LayerKind::Conv2D(Conv2D {
                    filters: f.u32_or("filters", 0)?,
                    kernel_size: f.pair_or("kernel_size", None)?,
                    strides: f.pair_or("strides", Some([1, 1]))?,
                    dilation_rate: f.pair_or("dilation_rate", Some([1, 1]))?,
                    padding: f.padding()?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "DepthwiseConv2D" => {
                f.channels_last()?;
                LayerKind::DepthwiseConv2D(DepthwiseConv2D {
                    kernel_size: f.pair_or("kernel_size", None)?,
                    strides: f.pair_or("strides", Some([1, 1]))?,
                    dilation_rate: f.pair_or("dilation_rate", Some([1, 1]))?,
                    padding: f.padding()?,
                    depth_multiplier: f.u32_or("depth_multiplier", 1)?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "MaxPooling2D" | "AveragePooling2D" => {
                f.channels_last()?;
                let pool_size = f.pair_or("pool_size", Some([2, 2]))?;
                let pool = Pool2D {
                    pool_size,
                    strides: f.pair_or("strides", Some(pool_size))?,
                    padding: f.padding()?,
                };
                if class == "MaxPooling2D" {
                    LayerKind::MaxPooling2D(MaxPooling2D(pool))
                } else {
                    LayerKind::AveragePooling2D(AveragePooling2D(pool))
                }
            }
            "GlobalAveragePooling2D" | "GlobalMaxPooling2D" => {
                f.channels_last()?;
                let keepdims = f.bool_or("keepdims", false)?;
                if class == "GlobalAveragePooling2D" {
                    LayerKind::GlobalAveragePooling2D(GlobalAveragePooling2D { keepdims })
                } else {
                    LayerKind::GlobalMaxPooling2D(GlobalMaxPooling2D { keepdims })
                }
            }
            "Conv1D" => {
                f.channels_last()?;
                if f.u32_or("groups", 1)? != 1 {
                    return Err(f.err("groups", "only groups=1 is supported"));
                }
                LayerKind::Conv1D(Conv1D {
                    filters: f.u32_or("filters", 0)?,
                    kernel_size: f.single_or("kernel_size", None)?,
                    strides: f.single_or("strides", Some(1))?,
                    dilation_rate: f.single_or("dilation_rate", Some(1))?,
                    padding: f.padding()?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "SeparableConv2D" => {
                f.channels_last()?;
                LayerKind::SeparableConv2D(SeparableConv2D {
                    filters: f.u32_or("filters", 0)?,
                    kernel_size: f.pair_or("kernel_size", None)?,
                    strides: f.pair_or("strides", Some([1, 1]))?,
                    dilation_rate: f.pair_or("dilation_rate", Some([1, 1]))?,
                    padding: f.padding()?,
                    depth_multiplier: f.u32_or("depth_multiplier", 1)?,
                    activation: f.activation("activation")?,
                    use_bias: f.bool_or("use_bias", true)?,
                })
            }
            "MaxPooling1D" | "AveragePooling1D" => {
                f.channels_last()?;
                let pool_size = f.single_or("pool_size", Some(2))?;
                let pool = Pool1D {
                    pool_size,
                    strides: f.single_or("strides", Some(pool_size))?,
                    padding: f.padding()?,
                };
                if class == "MaxPooling1D" {
                    LayerKind::MaxPooling1D(MaxPooling1D(pool))
                } else {
                    LayerKind::AveragePooling1D(AveragePooling1D(pool))
                }
            }
            "GlobalAveragePooling1D" | "GlobalMaxPooling1D" => {
                f.channels_last()?;
                let keepdims = f.bool_or("keepdims", false)?;
                if class == "GlobalAveragePooling1D" {
                    LayerKind::GlobalAveragePooling1D(GlobalAveragePooling1D { keepdims })
                } else {
                    LayerKind::GlobalMaxPooling1D(GlobalMaxPooling1D { keepdims })
                }
            }
            "ZeroPadding2D" => {
                f.channels_last()?;
                LayerKind::ZeroPadding2D(ZeroPadding2D::new(f.margins("padding")?))
            }
            "Cropping2D" => {
                f.channels_last()?;
                LayerKind::Cropping2D(Cropping2D::new(f.margins("cropping")?))
            }
            "UpSampling2D" => {
                f.channels_last()?;
                match f.get("interpolation").and_then(Value::as_str) {
                    None | Some("nearest") => {}
                    Some(other) => {
                        return Err(f.err(
                            "interpolation",
                            format!("'{other}' is not supported (kiln upsamples 'nearest')"),
                        ))
                    }
                }
                LayerKind::UpSampling2D(UpSampling2D::new(f.pair_or("size", Some([2, 2]))?))
            }
            "Flatten" => {
                f.channels_last()?;
                LayerKind::Flatten(Flatten)
            }
            "Reshape" => {
                let target = f
                    .get("target_shape")
                    .and_then(Value::as_array)
                    .ok_or_else(|| f.err("target_shape", "missing or not a list"))?;
                let dims: Option<Vec<i32>> = target
                    .iter()
                    .map(|d| d.as_i64().and_then(|n| i32::try_from(n).ok()))
                    .collect();
                let dims = dims.ok_or_else(|| f.err("target_shape", "expected integers"))?;
                LayerKind::Reshape(Reshape::new(&dims).ok_or_else(|| {
                    f.err(
                        "target_shape",
                        format!("rank {} is above kiln's limit", dims.len()),
                    )
                })?)
            }
            "Dropout" => LayerKind::Dropout(Dropout {
                rate: f.f32_or("rate", 0.0)?,
            }),
            "Activation" => LayerKind::Activation(ActivationLayer(f.activation("activation")?)),
            "ReLU" => LayerKind::ReLU(ReLU {
                max_value: match f.get("max_value") {
                    None => None,
                    Some(v) => Some(v.as_f64().ok_or_else(|| {
                        f.err("max_value", format!("expected a number, found {v}"))
                    })? as f32),
                },
                negative_slope: f.f32_or("negative_slope", 0.0)?,
                threshold: f.f32_or("threshold", 0.0)?,
            }),
            "LeakyReLU" => {
                let slope = match f.get("negative_slope") {
                    Some(_) => f.f32_or("negative_slope", 0.3)?,
                    None => f.f32_or("alpha", 0.3)?,
                };
                LayerKind::LeakyReLU(LeakyReLU {
                    negative_slope: slope,
                })
            }
            "Softmax" => {
                match f.get("axis") {
                    None => {}
                    Some(v) if v.as_i64() == Some(-1) => {}
                    Some(v) => {
                        return Err(f.err("axis", format!("only axis=-1 is supported, found {v}")))
                    }
                }
                LayerKind::Softmax(Softmax)
            }
            "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" => {
                use kiln::MergeOp;
                LayerKind::Merge(match class {
                    "Add" => MergeOp::Add,
                    "Subtract" => MergeOp::Subtract,
                    "Multiply" => MergeOp::Multiply,
                    "Average" => MergeOp::Average,
                    "Maximum" => MergeOp::Maximum,
                    _ => MergeOp::Minimum,
                })
            }
            "Concatenate" => {
                let axis = match f.get("axis") {
                    None => -1,
                    Some(v) => v
                        .as_i64()
                        .and_then(|a| i8::try_from(a).ok())
                        .ok_or_else(|| {
                            f.err("axis", format!("expected an integer axis, found {v}"))
                        })?,
                };
                LayerKind::Concatenate(Concatenate { axis })
            }
            "RandomCrop" => {
                f.channels_last()?;
                LayerKind::RandomCrop(RandomCrop {
                    height: f.u32_or("height", 0)?,
                    width: f.u32_or("width", 0)?,
                    seed: match f.get("seed") {
                        None => None,
                        Some(v) => {
                            Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                                || f.err("seed", format!("expected an integer, found {v}")),
                            )?)
                        }
                    },
                })
            }
            "BatchNormalization" => {
                match f.get("axis") {
                    None => {}
                    Some(v) if v.as_i64() == Some(-1) => {}
                    Some(Value::Array(a)) if a.len() == 1 && a[0].as_i64() == Some(-1) => {}
                    Some(v) => {
                        return Err(f.err(
                            "axis",
                            format!("only the last axis is supported, found {v}"),
                        ))
                    }
                }
                LayerKind::BatchNormalization(BatchNormalization {
                    epsilon: f.f32_or("epsilon", 1e-3)?,
                    momentum: f.f32_or("momentum", 0.99)?,
                    center: f.bool_or("center", true)?,
                    scale: f.bool_or("scale", true)?,
                })
            }
            other => {
                return Err(ImportError::UnsupportedLayer {
                    name,
                    class: other.to_string(),
                    supported: SUPPORTED_LAYERS,
                })
            }
        };
    let spec = LayerSpec::new(kind).trainable(f.bool_or("trainable", true)?);
    // Keras always writes the name; a config without one gets kiln's automatic name.
    let given = layer
        .get("config")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str);
    Ok(match given {
        Some(name) => spec.name(name),
        None => spec,
    })
}

/// `[null, 28, 28, 1]` → `(None, 28, 28, 1)`.
pub(super) fn shape_from_json(
    value: &Value,
    layer: &str,
    field: &str,
) -> Result<Shape, ImportError> {
    let err = |reason: String| ImportError::Config {
        layer: layer.to_string(),
        field: field.to_string(),
        reason,
    };
    let dims = value
        .as_array()
        .ok_or_else(|| err(format!("expected a list, found {value}")))?;
    let dims: Vec<Option<u32>> = dims
        .iter()
        .map(|d| match d {
            Value::Null => Ok(None),
            other => other
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n > 0)
                .map(Some)
                .ok_or_else(|| err(format!("expected positive integers or null, found {other}"))),
        })
        .collect::<Result<_, _>>()?;
    if dims.is_empty() {
        return Err(err("the shape has no batch axis".into()));
    }
    Shape::new(&dims).map_err(|e| err(e.to_string()))
}
