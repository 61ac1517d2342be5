//! Writing a Keras 3 `.keras` archive with new weights: what `kiln fit … -o trained.keras`
//! saves, in a form real Keras 3 loads with `keras.saving.load_model`.
//!
//! # How
//!
//! kiln has no Keras config writer: the archive that was trained (`source`) gives
//! `config.json`, `metadata.json` and every other member, copied byte for byte. Only
//! `model.weights.h5` is written anew, with the *same tree* of groups, attributes and
//! datasets as the source's (read with `hdf5-reader`, as [`super::weights`] does), and
//! new values in the datasets that hold the model's variables and the optimizer's.
//!
//! Which dataset element goes to which place of kiln's weight buffer is not worked out again
//! here: the importer's own walk ([`crate::import::import`]) decides it. The source's
//! `model.weights.h5` is handed to the importer with every element replaced by a distinct
//! marker (an `f32` whose bits are the element's number), and where each marker lands in
//! the imported buffer is where that element lives. Writing is then the reading run
//! backwards, whatever path rule or name lookup the importer uses.
//!
//! The HDF5 file is written with `hdf5-pure` (0.47, pure Rust, no C library), bounded to the
//! HDF5 1.8 format (superblock version 2), which h5py, the HDF5 C library from 1.8 on, and
//! kiln's own reader all read. Keras (h5py) wrote the source in the 1.0 format; the groups,
//! names, attributes, dtypes and shapes are the same, only the on-disk encoding differs.
//!
//! # The optimizer (`optimizer/vars`)
//!
//! Keras 3's SGD stores `0`: `iterations` (int32 in Keras 3.15; int64 accepted), `1`:
//! `learning_rate` (float32), then one `momentum` per trainable variable (the shape of the
//! variable, in `model.trainable_variables` order) when `momentum > 0`. [`OptimizerState`]
//! gives these values; `0` and `1` keep the source's dtypes. When Keras loads a model whose
//! saved optimizer has another number of variables than the compiled one (a momentum SGD
//! saved without its slots, say), it does **not** fail: it warns
//! `Skipping variable loading for optimizer 'sgd', because it has 6 variables whereas the
//! saved optimizer has 2 variables.` and keeps a fresh optimizer (iterations 0), while the
//! model's weights load normally. A source saved uncompiled has no `optimizer` group, and
//! none is written.
//!
//! # Atomic
//!
//! The archive is written to a temporary file in the directory of `out` and renamed over
//! `out` only once complete, so an interrupted write leaves any previous `out` intact.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, FileBuilder, LibVer};
use hdf5_reader::{ByteOrder, Datatype, Hdf5File, OpenOptions, StringEncoding, StringSize};

use super::keras_archive::{KerasArchive, Tensor, WeightTree};
use super::FormatError;
use crate::import::{import, ImportError, WeightSource};

const WEIGHTS_MEMBER: &str = "model.weights.h5";
/// Deepest group nesting followed (the reader refuses deeper files already).
const MAX_DEPTH: usize = 64;

/// The optimizer's variables, as Keras 3's SGD saves them in `optimizer/vars`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimizerState {
    /// `optimizer.iterations`: the steps applied so far (`vars/0`).
    pub iterations: i64,
    /// `optimizer.learning_rate` (`vars/1`).
    pub learning_rate: f32,
    /// One momentum (velocity) per trainable variable, in `model.trainable_variables` order
    /// (kiln's weight-buffer order, trainable variables only), each as many values as its
    /// variable; `vars/2`, `vars/3`, …. Adam has two per variable, variable by variable
    /// (its momentum, then its velocity), as Keras creates them. Empty when there is no
    /// momentum: Keras's SGD has none when `momentum == 0`, and warns and keeps a fresh
    /// optimizer otherwise.
    pub slots: Vec<Vec<f32>>,
}

/// Why [`write_keras`] could not write the archive; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum KerasWriteError {
    /// The source archive could not be read.
    #[error(transparent)]
    Source(#[from] FormatError),
    /// The source archive is not a model kiln imports.
    #[error("{}: {error}", file.display())]
    Import { file: PathBuf, error: ImportError },
    /// `weights` does not fit the source model.
    #[error("{}: the weight buffer has {found} values, the model has {expected}", file.display())]
    WeightCount {
        file: PathBuf,
        expected: usize,
        found: usize,
    },
    /// The optimizer state does not fit the model (or the source's optimizer group).
    #[error("{}: optimizer: {detail}", file.display())]
    Optimizer { file: PathBuf, detail: String },
    /// Something in the source's `model.weights.h5` that cannot be written back.
    #[error("{}: model.weights.h5: {path}: {detail}", file.display())]
    Hdf5 {
        file: PathBuf,
        path: String,
        detail: String,
    },
    /// Writing or renaming the output failed.
    #[error("{}: cannot write: {detail}", file.display())]
    Write { file: PathBuf, detail: String },
}

/// Writes `out` as a Keras 3 `.keras` archive: `config.json` and `metadata.json` (and any
/// other member) copied from the source archive `source`, the model that was trained, and
/// `model.weights.h5` with the weights of `weights` placed at the same HDF5 paths the
/// source's `model.weights.h5` uses, plus the optimizer variables of `optimizer`.
///
/// `weights` is the model's whole weight buffer in kiln's order (Keras's
/// `model.get_weights()`, flattened and concatenated): the
/// [`HostGraph::weights_f32`](crate::HostGraph::weights_f32) of the trained model.
/// `out` is written to a temporary file beside it, then renamed over it; `out` may be
/// `source`.
///
/// ```
/// use kiln_host::formats::keras_writer::{write_keras, OptimizerState};
/// let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/fit/mlp_mse/model.keras");
/// let model = kiln_host::load::load_model(fixture)?;
/// let moved: Vec<f32> = model.weights_f32().unwrap().iter().map(|w| w + 0.5).collect();
/// let out = std::env::temp_dir().join(format!("kiln-doc-{}.keras", std::process::id()));
/// let sgd = OptimizerState { iterations: 6, learning_rate: 0.05, slots: Vec::new() };
/// write_keras(fixture.as_ref(), &moved, &sgd, &out)?;
/// assert_eq!(kiln_host::load::load_model(&out)?.weights_f32().unwrap(), &moved[..]);
/// # std::fs::remove_file(&out)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_keras(
    source: &Path,
    weights: &[f32],
    optimizer: &OptimizerState,
    out: &Path,
) -> Result<(), KerasWriteError> {
    let bytes = super::file::read(source)?;
    let archive = KerasArchive::from_bytes(&bytes, source)?;
    let h5 = weights_member(&bytes, source)?;

    let map = map_weights(&archive, source, weights.len())?;
    let mut tree = read_tree(h5, source)?;

    // The model's variables: the datasets the importer read (not the optimizer's, say).
    for (path, var, first, len) in &map.datasets {
        if map.position[*first..first + len]
            .iter()
            .all(Option::is_none)
        {
            continue;
        }
        let ds = tree
            .dataset_mut(path, *var)
            .ok_or_else(|| KerasWriteError::Hdf5 {
                file: source.into(),
                path: var_path(path, *var),
                detail: "the dataset the importer read is missing".into(),
            })?;
        if ds.len() != *len {
            return Err(KerasWriteError::Hdf5 {
                file: source.into(),
                path: var_path(path, *var),
                detail: format!("{} values, the importer read {len}", ds.len()),
            });
        }
        let new: Vec<f64> = (0..ds.len())
            .map(|e| match map.position[first + e] {
                Some(p) => weights[p] as f64,
                None => ds.get(e),
            })
            .collect();
        ds.data = match &ds.data {
            Data::F64(_) => Data::F64(new),
            Data::F32(_) => Data::F32(new.iter().map(|&v| v as f32).collect()),
            other => {
                return Err(KerasWriteError::Hdf5 {
                    file: source.into(),
                    path: var_path(path, *var),
                    detail: format!(
                        "a model variable stored as {}; kiln writes float32 and float64",
                        other.type_name()
                    ),
                })
            }
        };
    }

    // The optimizer's.
    if let Some(vars) = tree.group_mut("optimizer/vars") {
        write_optimizer(vars, optimizer, &map.trainable, source)?;
    }

    let h5 = tree.to_h5(source)?;
    let zip = rezip(&bytes, source, &h5)?;
    write_atomically(out, &zip)
}

/// Where the model's variables live in kiln's weight buffer.
struct WeightMap {
    /// `(container path, variable index, number of its first element, elements)` of every
    /// variable of `model.weights.h5`, the optimizer's included.
    datasets: Vec<(String, usize, usize, usize)>,
    /// Per element number: its place in the weight buffer (`None`: kiln does not read it).
    position: Vec<Option<usize>>,
    /// Shapes of the trainable variables, in `model.trainable_variables` order.
    trainable: Vec<Vec<usize>>,
}

/// The importer's view of a `model.weights.h5` whose elements are markers.
struct Markers<'t> {
    tree: &'t WeightTree,
    vars: HashMap<String, Vec<Tensor>>,
}

impl WeightSource for Markers<'_> {
    fn vars(&self, path: &str) -> Option<&[Tensor]> {
        self.vars.get(path.trim_matches('/')).map(Vec::as_slice)
    }
    fn children(&self, path: &str) -> Vec<String> {
        WeightSource::children(self.tree, path)
    }
    fn name_of(&self, path: &str) -> Option<String> {
        WeightSource::name_of(self.tree, path)
    }
}

/// Element `n` (0-based) as a marker: a positive finite `f32` whose bits are `n + 1`, so
/// that 0 (what the importer leaves where it reads nothing) is no element's marker.
fn marker(n: usize) -> Option<f32> {
    let bits = u32::try_from(n + 1).ok().filter(|&b| b < 0x7f80_0000)?;
    Some(f32::from_bits(bits))
}

fn map_weights(
    archive: &KerasArchive,
    file: &Path,
    given: usize,
) -> Result<WeightMap, KerasWriteError> {
    let tree = &archive.weights;
    let mut vars = HashMap::new();
    let mut datasets = Vec::new();
    let mut count = 0usize;
    for path in tree.var_group_paths() {
        let Some(group) = tree.var_group(&path) else {
            continue;
        };
        let mut tensors = Vec::with_capacity(group.vars.len());
        for (i, t) in group.vars.iter().enumerate() {
            datasets.push((path.clone(), i, count, t.data.len()));
            let data = (count..count + t.data.len())
                .map(marker)
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| KerasWriteError::Hdf5 {
                    file: file.into(),
                    path: var_path(&path, i),
                    detail: "more variable values than kiln can number".into(),
                })?;
            count += t.data.len();
            tensors.push(Tensor {
                shape: t.shape.clone(),
                data,
            });
        }
        vars.insert(path, tensors);
    }
    let markers = Markers { tree, vars };
    let host =
        import(&archive.config, Some(&markers)).map_err(|error| KerasWriteError::Import {
            file: file.into(),
            error,
        })?;
    let graph = host.structure();
    let expected = graph.weight_bytes() / 4;
    let flat = host.weights_f32().ok_or_else(|| KerasWriteError::Hdf5 {
        file: file.into(),
        path: "/".into(),
        detail: "the model's weights are not all float32".into(),
    })?;
    if given != expected || flat.len() != expected {
        return Err(KerasWriteError::WeightCount {
            file: file.into(),
            expected,
            found: given,
        });
    }

    let mut position = vec![None; count];
    for (p, v) in flat.iter().enumerate() {
        let n = (v.to_bits() as usize).wrapping_sub(1);
        match position.get_mut(n) {
            Some(slot @ None) => *slot = Some(p),
            _ => {
                return Err(KerasWriteError::Hdf5 {
                    file: file.into(),
                    path: "/".into(),
                    detail: format!(
                        "value {p} of the weight buffer does not come from exactly one \
                         element of model.weights.h5"
                    ),
                })
            }
        }
    }

    // Keras's `model.trainable_variables`: the weight buffer's order, trainable ones only.
    let mut trainable = Vec::new();
    for id in 0..graph.all_layers().len() as u16 {
        let Some(offset) = graph.weight_offset(id) else {
            continue;
        };
        let mut at = offset / 4;
        for spec in graph.layer_weights(id).iter() {
            if graph.is_trainable(id) && spec.trainable {
                let shape = spec
                    .shape
                    .dims()
                    .iter()
                    .map(|d| d.unwrap_or(0) as usize)
                    .collect();
                trainable.push((at, shape));
            }
            at += spec.elements();
        }
    }
    trainable.sort_by_key(|(at, _)| *at);
    Ok(WeightMap {
        datasets,
        position,
        trainable: trainable.into_iter().map(|(_, s)| s).collect(),
    })
}

fn var_path(container: &str, var: usize) -> String {
    if container.is_empty() {
        format!("/vars/{var}")
    } else {
        format!("/{container}/vars/{var}")
    }
}

fn write_optimizer(
    vars: &mut Group,
    state: &OptimizerState,
    trainable: &[Vec<usize>],
    file: &Path,
) -> Result<(), KerasWriteError> {
    let fail = |detail: String| KerasWriteError::Optimizer {
        file: file.into(),
        detail,
    };
    let scalar = |name: &str| {
        vars.datasets
            .iter()
            .find(|(n, d)| n == name && d.shape.is_empty())
            .map(|(_, d)| d.data.type_name())
    };
    let iterations = match scalar("0") {
        Some("int32") => Data::I32(vec![i32::try_from(state.iterations).map_err(|_| {
            fail(format!(
                "iterations {} does not fit the int32 the source stores",
                state.iterations
            ))
        })?]),
        Some("int64") => Data::I64(vec![state.iterations]),
        _ => {
            return Err(fail(
                "the source's optimizer/vars/0 is not a scalar int32 or int64 (iterations), \
                 as Keras's SGD writes it"
                    .into(),
            ))
        }
    };
    let learning_rate = match scalar("1") {
        Some("float32") => Data::F32(vec![state.learning_rate]),
        Some("float64") => Data::F64(vec![state.learning_rate as f64]),
        _ => {
            return Err(fail(
                "the source's optimizer/vars/1 is not a scalar float (learning_rate), \
                 as Keras's SGD writes it"
                    .into(),
            ))
        }
    };
    // One slot per trainable variable (SGD's momentum), or several, variable by variable
    // (Adam's momentum then velocity of each), as Keras creates and saves them.
    let per_variable = if trainable.is_empty() {
        0
    } else {
        state.slots.len() / trainable.len()
    };
    if !state.slots.is_empty()
        && (per_variable == 0 || state.slots.len() != per_variable * trainable.len())
    {
        return Err(fail(format!(
            "{} momentum slots given, the model has {} trainable variables",
            state.slots.len(),
            trainable.len()
        )));
    }
    let mut datasets = vec![
        ("0".to_string(), Dataset::new(Vec::new(), iterations)),
        ("1".to_string(), Dataset::new(Vec::new(), learning_rate)),
    ];
    let shapes = trainable
        .iter()
        .flat_map(|shape| std::iter::repeat_n(shape, per_variable.max(1)));
    for (i, (slot, shape)) in state.slots.iter().zip(shapes).enumerate() {
        let elements: usize = shape.iter().product();
        if slot.len() != elements {
            return Err(fail(format!(
                "momentum slot {i} has {} values, its variable (shape {shape:?}) {elements}",
                slot.len()
            )));
        }
        let shape = shape.iter().map(|&d| d as u64).collect();
        datasets.push((
            (i + 2).to_string(),
            Dataset::new(shape, Data::F32(slot.clone())),
        ));
    }
    vars.datasets = datasets;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The HDF5 tree, read generically from the source and written back.

/// A dataset's values in their stored type (little-endian once written).
#[derive(Debug, Clone, PartialEq)]
enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
}

impl Data {
    fn type_name(&self) -> &'static str {
        match self {
            Data::F32(_) => "float32",
            Data::F64(_) => "float64",
            Data::I8(_) => "int8",
            Data::U8(_) => "uint8",
            Data::I16(_) => "int16",
            Data::U16(_) => "uint16",
            Data::I32(_) => "int32",
            Data::U32(_) => "uint32",
            Data::I64(_) => "int64",
            Data::U64(_) => "uint64",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Dataset {
    shape: Vec<u64>,
    data: Data,
    attrs: Vec<(String, AttrValue)>,
}

impl Dataset {
    fn new(shape: Vec<u64>, data: Data) -> Self {
        Dataset {
            shape,
            data,
            attrs: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::U16(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U64(v) => v.len(),
        }
    }

    /// Element `e` as `f64` (exact for every float32 and the integers Keras stores).
    fn get(&self, e: usize) -> f64 {
        match &self.data {
            Data::F32(v) => v[e] as f64,
            Data::F64(v) => v[e],
            Data::I8(v) => v[e] as f64,
            Data::U8(v) => v[e] as f64,
            Data::I16(v) => v[e] as f64,
            Data::U16(v) => v[e] as f64,
            Data::I32(v) => v[e] as f64,
            Data::U32(v) => v[e] as f64,
            Data::I64(v) => v[e] as f64,
            Data::U64(v) => v[e] as f64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Group {
    attrs: Vec<(String, AttrValue)>,
    groups: Vec<(String, Group)>,
    datasets: Vec<(String, Dataset)>,
}

impl Group {
    fn group_mut(&mut self, path: &str) -> Option<&mut Group> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |g, seg| {
                g.groups.iter_mut().find(|(n, _)| n == seg).map(|(_, g)| g)
            })
    }

    /// Dataset `var` of the `vars` group of the container at `container`.
    fn dataset_mut(&mut self, container: &str, var: usize) -> Option<&mut Dataset> {
        let name = var.to_string();
        self.group_mut(container)?
            .group_mut("vars")?
            .datasets
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d)
    }

    fn to_h5(&self, file: &Path) -> Result<Vec<u8>, KerasWriteError> {
        let mut b = FileBuilder::new();
        b.with_libver_bounds(LibVer::Earliest, LibVer::V18);
        for (name, value) in &self.attrs {
            b.set_attr(name, value.clone());
        }
        for (name, ds) in &self.datasets {
            fill_dataset(b.create_dataset(name), ds);
        }
        for (name, g) in &self.groups {
            let mut child = b.create_group(name);
            fill_group(&mut child, g);
            b.add_group(child.finish());
        }
        b.finish().map_err(|e| KerasWriteError::Hdf5 {
            file: file.into(),
            path: "/".into(),
            detail: format!("cannot encode the new file: {e}"),
        })
    }
}

fn fill_group(b: &mut hdf5_pure::GroupBuilder, g: &Group) {
    for (name, value) in &g.attrs {
        b.set_attr(name, value.clone());
    }
    for (name, ds) in &g.datasets {
        fill_dataset(b.create_dataset(name), ds);
    }
    for (name, sub) in &g.groups {
        let mut child = b.create_group(name);
        fill_group(&mut child, sub);
        b.add_group(child.finish());
    }
}

fn fill_dataset(b: &mut hdf5_pure::DatasetBuilder, ds: &Dataset) {
    match &ds.data {
        Data::F32(v) => b.with_f32_data(v),
        Data::F64(v) => b.with_f64_data(v),
        Data::I8(v) => b.with_i8_data(v),
        Data::U8(v) => b.with_u8_data(v),
        Data::I16(v) => b.with_i16_data(v),
        Data::U16(v) => b.with_u16_data(v),
        Data::I32(v) => b.with_i32_data(v),
        Data::U32(v) => b.with_u32_data(v),
        Data::I64(v) => b.with_i64_data(v),
        Data::U64(v) => b.with_u64_data(v),
    };
    b.with_shape(&ds.shape);
    for (name, value) in &ds.attrs {
        b.set_attr(name, value.clone());
    }
}

/// The bytes of the source's `model.weights.h5` (its size was checked when it was read).
fn weights_member(bytes: &[u8], file: &Path) -> Result<Vec<u8>, KerasWriteError> {
    let corrupt = |e: &dyn std::fmt::Display| {
        KerasWriteError::Source(FormatError::CorruptZip {
            file: file.into(),
            detail: format!("{WEIGHTS_MEMBER}: {e}"),
        })
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(&e))?;
    let mut entry = zip.by_name(WEIGHTS_MEMBER).map_err(|e| corrupt(&e))?;
    let mut out = Vec::new();
    entry.read_to_end(&mut out).map_err(|e| corrupt(&e))?;
    Ok(out)
}

fn read_tree(h5: Vec<u8>, file: &Path) -> Result<Group, KerasWriteError> {
    let err = |path: &str, detail: String| KerasWriteError::Hdf5 {
        file: file.into(),
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        detail,
    };
    let options = OpenOptions::default().with_max_read_bytes(256 << 20);
    let h5 = Hdf5File::from_vec_with_options(h5, options)
        .map_err(|e| err("", format!("not a readable HDF5 file: {e}")))?;
    let root = h5
        .root_group()
        .map_err(|e| err("", format!("cannot open the root group: {e}")))?;
    read_group(&root, "", 0, &err)
}

type ErrFn<'a> = dyn Fn(&str, String) -> KerasWriteError + 'a;

fn read_group(
    g: &hdf5_reader::group::Group,
    path: &str,
    depth: usize,
    err: &ErrFn<'_>,
) -> Result<Group, KerasWriteError> {
    if depth > MAX_DEPTH {
        return Err(err(path, format!("groups nested deeper than {MAX_DEPTH}")));
    }
    let attrs = g
        .attributes()
        .map_err(|e| err(path, format!("cannot read attributes: {e}")))?;
    let (groups, datasets) = g
        .members()
        .map_err(|e| err(path, format!("cannot list members: {e}")))?;
    let mut out = Group {
        attrs: read_attrs(&attrs, path, err)?,
        ..Group::default()
    };
    for child in groups {
        let p = format!("{path}/{}", child.name());
        out.groups.push((
            child.name().to_owned(),
            read_group(&child, &p, depth + 1, err)?,
        ));
    }
    for ds in datasets {
        let p = format!("{path}/{}", ds.name());
        let data = read_data(&ds).map_err(|detail| err(&p, detail))?;
        let attrs = read_attrs(&ds.attributes(), &p, err)?;
        out.datasets.push((
            ds.name().to_owned(),
            Dataset {
                shape: ds.shape().to_vec(),
                data,
                attrs,
            },
        ));
    }
    Ok(out)
}

fn read_data(ds: &hdf5_reader::Dataset) -> Result<Data, String> {
    fn get<T: hdf5_reader::H5Type + Copy>(ds: &hdf5_reader::Dataset) -> Result<Vec<T>, String> {
        Ok(ds
            .read_array::<T>()
            .map_err(|e| format!("cannot read: {e}"))?
            .iter()
            .copied()
            .collect())
    }
    Ok(match ds.dtype() {
        Datatype::FloatingPoint { size: 4, .. } => Data::F32(get(ds)?),
        Datatype::FloatingPoint { size: 8, .. } => Data::F64(get(ds)?),
        Datatype::FloatingPoint {
            size: 2,
            byte_order,
        } => {
            // float16 (a mixed-precision variable): kept as float32, which Keras casts back.
            let big = matches!(byte_order, ByteOrder::BigEndian);
            let raw = ds
                .read_raw_bytes()
                .map_err(|e| format!("cannot read: {e}"))?;
            Data::F32(
                raw.chunks_exact(2)
                    .map(|c| {
                        let b = [c[0], c[1]];
                        super::npy::f16_to_f32(if big {
                            u16::from_be_bytes(b)
                        } else {
                            u16::from_le_bytes(b)
                        })
                    })
                    .collect(),
            )
        }
        Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
            (1, true) => Data::I8(get(ds)?),
            (1, false) => Data::U8(get(ds)?),
            (2, true) => Data::I16(get(ds)?),
            (2, false) => Data::U16(get(ds)?),
            (4, true) => Data::I32(get(ds)?),
            (4, false) => Data::U32(get(ds)?),
            (8, true) => Data::I64(get(ds)?),
            (8, false) => Data::U64(get(ds)?),
            _ => return Err(format!("an unsupported {size}-byte integer type")),
        },
        other => {
            return Err(format!(
                "a dataset of type {other:?}: kiln writes back numeric datasets only"
            ))
        }
    })
}

fn read_attrs(
    attrs: &[hdf5_reader::Attribute],
    path: &str,
    err: &ErrFn<'_>,
) -> Result<Vec<(String, AttrValue)>, KerasWriteError> {
    attrs
        .iter()
        .map(|a| {
            let fail = |detail: String| err(path, format!("attribute '{}': {detail}", a.name));
            let value = read_attr(a).map_err(fail)?;
            Ok((a.name.clone(), value))
        })
        .collect()
}

fn read_attr(a: &hdf5_reader::Attribute) -> Result<AttrValue, String> {
    let scalar = a.shape.is_empty();
    let string = |vlen: bool, ascii: bool| -> Result<AttrValue, String> {
        let mut all = a.read_strings().map_err(|e| e.to_string())?;
        Ok(match (scalar, vlen, ascii) {
            (true, _, _) if all.len() != 1 => {
                return Err(format!("a scalar holding {} strings", all.len()))
            }
            (true, true, false) => AttrValue::VarLenString(all.remove(0)),
            (true, true, true) => AttrValue::VarLenAsciiString(all.remove(0)),
            (true, false, false) => AttrValue::String(all.remove(0)),
            (true, false, true) => AttrValue::AsciiString(all.remove(0)),
            (false, true, false) => AttrValue::VarLenStringArray(all),
            (false, true, true) => AttrValue::VarLenAsciiStringArray(all),
            (false, false, false) => AttrValue::StringArray(all),
            (false, false, true) => AttrValue::AsciiStringArray(all),
        })
    };
    if a.shape.len() > 1 {
        return Err(format!("a {}-dimensional attribute", a.shape.len()));
    }
    macro_rules! num {
        ($t:ty, $one:ident, $many:ident) => {{
            let v = a.read_1d::<$t>().map_err(|e| e.to_string())?;
            if scalar {
                AttrValue::$one(*v.first().ok_or("an empty scalar")?)
            } else {
                AttrValue::$many(v)
            }
        }};
    }
    Ok(match &a.datatype {
        Datatype::String { size, encoding, .. } => string(
            matches!(size, StringSize::Variable),
            matches!(encoding, StringEncoding::Ascii),
        )?,
        Datatype::VarLen { encoding, .. } => {
            string(true, matches!(encoding, StringEncoding::Ascii))?
        }
        Datatype::FloatingPoint { size: 4, .. } => num!(f32, F32, F32Array),
        Datatype::FloatingPoint { size: 8, .. } => num!(f64, F64, F64Array),
        Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
            (1, true) => num!(i8, I8, I8Array),
            (1, false) => num!(u8, U8, U8Array),
            (2, true) => num!(i16, I16, I16Array),
            (2, false) => num!(u16, U16, U16Array),
            (4, true) => num!(i32, I32, I32Array),
            (4, false) => num!(u32, U32, U32Array),
            (8, true) => num!(i64, I64, I64Array),
            (8, false) => num!(u64, U64, U64Array),
            _ => return Err(format!("an unsupported {size}-byte integer type")),
        },
        other => return Err(format!("of type {other:?}, which kiln does not write back")),
    })
}

// ---------------------------------------------------------------------------------------
// The zip.

/// The source archive with its `model.weights.h5` replaced by `h5` (stored, as Keras stores
/// it, with the source member's timestamp); every other member is copied as it is.
fn rezip(bytes: &[u8], file: &Path, h5: &[u8]) -> Result<Vec<u8>, KerasWriteError> {
    let fail = |e: zip::result::ZipError| KerasWriteError::Write {
        file: file.into(),
        detail: format!("zip: {e}"),
    };
    let mut source = zip::ZipArchive::new(Cursor::new(bytes)).map_err(fail)?;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + h5.len())));
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).map_err(fail)?;
        if entry.name() == WEIGHTS_MEMBER {
            let mut options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(h5.len() as u64 >= u32::MAX as u64);
            if let Some(time) = entry.last_modified() {
                options = options.last_modified_time(time);
            }
            if let Some(mode) = entry.unix_mode() {
                options = options.unix_permissions(mode);
            }
            drop(entry);
            zip.start_file(WEIGHTS_MEMBER, options).map_err(fail)?;
            zip.write_all(h5).map_err(|e| fail(e.into()))?;
        } else {
            zip.raw_copy_file(entry).map_err(fail)?;
        }
    }
    Ok(zip.finish().map_err(fail)?.into_inner())
}

/// Writes `bytes` to a temporary file beside `out`, then renames it over `out`.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), KerasWriteError> {
    let fail = |what: &str, e: std::io::Error| KerasWriteError::Write {
        file: out.into(),
        detail: format!("{what}: {e}"),
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .ok_or_else(|| fail("not a file name", std::io::ErrorKind::InvalidInput.into()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| fail("create a temporary file", e))?;
        f.write_all(bytes)
            .map_err(|e| fail("write the temporary file", e))?;
        f.sync_all()
            .map_err(|e| fail("write the temporary file", e))?;
        drop(f);
        std::fs::rename(&tmp, out).map_err(|e| fail("rename the temporary file over it", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
