//! The weights of a Keras 3 model: `model.weights.h5`, read into a tree of plain Rust values.
//!
//! # Layout (measured on Keras 3.15.1 / h5py 3.16 / HDF5 2.0, see KERAS-NOTES §7)
//!
//! ```text
//! /                                   (root group)
//! ├── vars            @name="mlp"     the model's own variables (none: an empty group)
//! ├── layers
//! │   ├── dense/vars  @name="dense"   0: float32 (3, 4) kernel, 1: float32 (4,) bias
//! │   ├── dense_1/vars @name="head"   the 2nd Dense *in this container*, whatever its name
//! │   ├── dropout/vars @name="dropout" (no datasets)
//! │   └── sequential                  a nested model is a container of its own:
//! │       ├── vars    @name="sequential"
//! │       └── layers/dense/vars ...
//! └── optimizer/vars  @name="sgd"     0: int32 () iteration, 1: float32 () learning_rate, ...
//! ```
//!
//! h5py writes it with `libver="earliest"`: superblock 0, version-1 object headers, groups as
//! symbol tables (B-tree v1 + local heap, children listed in byte order of their names),
//! every dataset contiguous (no chunks, no filters), `<f4` for weights, and the `name`
//! attribute as a scalar variable-length UTF-8 string (stored in the global heap). The reader
//! below also handles what Keras does not write (chunked + gzip/shuffle, big-endian, float16/64
//! and integer datasets, fixed-length string attributes, `libver="latest"` files).
//!
//! # Crate choice
//!
//! `hdf5-reader` 0.12 (pure Rust, MSRV 1.81, no C library, no build script), chosen over:
//! - `hdf5-metno`: bindings to the C libhdf5, which CI would have to install;
//! - `hdf5-pure` 0.47: reads Keras files, but on bit-flipped input it *aborted* the process
//!   (an allocation of 52 TB from a corrupt chunk fill value) -- an abort cannot be caught --
//!   and it could not read a `libver="latest"` file written by HDF5 2.0 (layout version 5);
//!   it also needs Rust 1.89 (the core keeps 1.85; the host tools now need 1.89 anyway, for
//!   the writer, which uses hdf5-pure only on the data kiln itself builds);
//! - `rust-hdf5` 0.7: opens only files on disk (no in-memory open, so a `.keras` member would
//!   need a temporary file) and needs Rust 1.89.
//!
//! `hdf5-reader` bounds its allocations by the file size and its read limits and detects cycles in
//! its own traversals. On the fuzz suite in `tests/formats.rs` (every truncation and ~3,000 bit
//! flips and overwrites of Keras- and h5py-written files) and on the ignored `fuzz_long` run
//! (1.5 million mutants of five files with up to 8 flips each, plus every truncation) it returned
//! errors and never panicked or aborted, so no `catch_unwind` is used. The group walk below adds
//! its own depth, count and cycle limits, because HDF5 groups may legally be linked in a cycle.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use hdf5_reader::{Dataset, Datatype, Hdf5File, OpenOptions};

use super::error::FormatError;

/// Largest decoded dataset accepted (256 MiB): far beyond any microcontroller model, small
/// enough that a corrupt size field cannot make the tool allocate absurd amounts of memory.
const MAX_DATASET_BYTES: usize = 256 << 20;
/// Deepest group nesting accepted; Keras nests two levels per sub-model.
const MAX_DEPTH: usize = 64;
/// Most groups accepted in one file.
const MAX_GROUPS: usize = 100_000;

/// One variable (HDF5 dataset) converted to `f32`, in C (row-major) order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tensor {
    /// The dimensions; empty for a scalar, which has one element.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, last axis fastest.
    pub data: Vec<f32>,
}

impl Tensor {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if some dimension is 0.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The `vars` group of one layer (or model, or optimizer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VarGroup {
    /// The group's `name` attribute: the real layer name (`head`), while the group path uses
    /// the class name (`layers/dense_1`). `None` if the attribute is absent.
    pub name_attr: Option<String>,
    /// Datasets `0`, `1`, ... in numeric order (kernel, bias; BatchNormalization gamma, beta,
    /// moving_mean, moving_variance; ...). Stored integers and other floats are converted to
    /// `f32` (an optimizer's `iteration` counter is `int32`).
    pub vars: Vec<Tensor>,
}

/// A group that is not a `vars` group: the root, `layers`, `layers/dense`, `optimizer`, ...
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightNode {
    /// This container's `vars` subgroup, if it has one.
    pub vars: Option<VarGroup>,
    /// Child groups other than `vars`, by name (sorted by bytes, as HDF5 lists them).
    pub children: BTreeMap<String, WeightNode>,
}

/// The whole `model.weights.h5` as a tree. Paths are container paths relative to the root,
/// without the trailing `/vars`: `""` is the model itself, `"layers/dense"` a layer,
/// `"layers/sequential/layers/dense"` a layer of a nested model, `"optimizer"` the optimizer.
/// A leading or trailing `/` is ignored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeightTree {
    root: WeightNode,
}

impl WeightTree {
    /// Reads a bare weights file (`model.save_weights("x.weights.h5")` has the same layout).
    pub fn open_h5(path: impl AsRef<Path>) -> Result<WeightTree, FormatError> {
        let path = path.as_ref();
        let bytes = super::file::read(path)?;
        Self::from_h5_bytes(bytes, path)
    }

    /// Parses the bytes of an HDF5 weights file; `file` is only used in error messages.
    pub fn from_h5_bytes(bytes: Vec<u8>, file: &Path) -> Result<WeightTree, FormatError> {
        Self::parse(bytes, file, None)
    }

    pub(crate) fn parse(
        bytes: Vec<u8>,
        file: &Path,
        member: Option<&str>,
    ) -> Result<WeightTree, FormatError> {
        let mut loader = Loader {
            file: file.to_path_buf(),
            member: member.map(str::to_owned),
            visited: HashSet::new(),
        };
        let options = OpenOptions::default().with_max_read_bytes(MAX_DATASET_BYTES);
        let h5 = Hdf5File::from_vec_with_options(bytes, options)
            .map_err(|e| loader.file_err(format!("not a readable HDF5 file: {e}")))?;
        let root = h5
            .root_group()
            .map_err(|e| loader.err("", format!("cannot open the root group: {e}")))?;
        let root = loader.load_node(&root, "", 0)?;
        Ok(WeightTree { root })
    }

    /// The root container (the model itself).
    pub fn root(&self) -> &WeightNode {
        &self.root
    }

    /// The container at `path`, e.g. `"layers/sequential"`.
    pub fn node(&self, path: &str) -> Option<&WeightNode> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(&self.root, |node, seg| node.children.get(seg))
    }

    /// The variables of the container at `path`: `var_group("layers/dense")` is the group
    /// `/layers/dense/vars`. `None` if there is no such container or it has no `vars` group.
    pub fn var_group(&self, path: &str) -> Option<&VarGroup> {
        self.node(path)?.vars.as_ref()
    }

    /// The names of the child containers of `path` (not `vars`), in HDF5's byte order:
    /// `children("layers")` gives `["batch_normalization", "dense", "dense_1", ...]`. Note that
    /// `dense_10` sorts before `dense_2`; map layers to groups by class counter, not by position.
    pub fn children(&self, path: &str) -> Option<Vec<&str>> {
        Some(
            self.node(path)?
                .children
                .keys()
                .map(String::as_str)
                .collect(),
        )
    }

    /// Every container that has a `vars` group, depth-first in byte order (`""` for the root).
    pub fn var_group_paths(&self) -> Vec<String> {
        fn walk(node: &WeightNode, path: &str, out: &mut Vec<String>) {
            if node.vars.is_some() {
                out.push(path.to_owned());
            }
            for (name, child) in &node.children {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}/{name}")
                };
                walk(child, &p, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out
    }
}

struct Loader {
    file: PathBuf,
    member: Option<String>,
    visited: HashSet<u64>,
}

impl Loader {
    /// An error in the group at `path` (relative, `""` for the root).
    fn err(&self, path: &str, detail: String) -> FormatError {
        FormatError::Hdf5 {
            file: self.file.clone(),
            member: self.member.clone(),
            group: format!("/{path}"),
            detail,
        }
    }

    /// An error about the file as a whole.
    fn file_err(&self, detail: String) -> FormatError {
        FormatError::Hdf5 {
            file: self.file.clone(),
            member: self.member.clone(),
            group: String::new(),
            detail,
        }
    }

    /// Checks the walk limits on entering the group at `path`.
    fn enter(
        &mut self,
        g: &hdf5_reader::group::Group,
        path: &str,
        depth: usize,
    ) -> Result<(), FormatError> {
        if depth > MAX_DEPTH {
            return Err(self.err(path, format!("groups nested deeper than {MAX_DEPTH}")));
        }
        if !self.visited.insert(g.address()) {
            return Err(self.err(
                path,
                "this group is linked more than once (a cycle or a hard link); \
                 Keras never writes that"
                    .into(),
            ));
        }
        if self.visited.len() > MAX_GROUPS {
            return Err(self.err(path, format!("more than {MAX_GROUPS} groups")));
        }
        Ok(())
    }

    fn members(
        &self,
        g: &hdf5_reader::group::Group,
        path: &str,
    ) -> Result<(Vec<hdf5_reader::group::Group>, Vec<Dataset>), FormatError> {
        g.members()
            .map_err(|e| self.err(path, format!("cannot list members: {e}")))
    }

    fn load_node(
        &mut self,
        g: &hdf5_reader::group::Group,
        path: &str,
        depth: usize,
    ) -> Result<WeightNode, FormatError> {
        self.enter(g, path, depth)?;
        let (groups, datasets) = self.members(g, path)?;
        self.build_node(groups, datasets, path, depth)
    }

    fn build_node(
        &mut self,
        groups: Vec<hdf5_reader::group::Group>,
        datasets: Vec<Dataset>,
        path: &str,
        depth: usize,
    ) -> Result<WeightNode, FormatError> {
        if let Some(d) = datasets.first() {
            return Err(self.err(
                path,
                format!(
                    "unexpected dataset '{}' outside a vars group (not a Keras weights file?)",
                    d.name()
                ),
            ));
        }
        let mut node = WeightNode::default();
        for child in groups {
            let name = child.name().to_owned();
            if name.is_empty() || name.contains('/') {
                return Err(self.err(path, format!("a child group has the invalid name {name:?}")));
            }
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            if name == "vars" {
                self.enter(&child, &child_path, depth + 1)?;
                let (sub, ds) = self.members(&child, &child_path)?;
                if sub.is_empty() {
                    node.vars = Some(self.load_vars(&child, &child_path, ds)?);
                    continue;
                }
                // A container that happens to be called `vars` (a layer class `Vars`): it has
                // subgroups, which a variables group never has.
                let n = self.build_node(sub, ds, &child_path, depth + 1)?;
                node.children.insert(name, n);
            } else {
                let n = self.load_node(&child, &child_path, depth + 1)?;
                node.children.insert(name, n);
            }
        }
        Ok(node)
    }

    fn load_vars(
        &mut self,
        g: &hdf5_reader::group::Group,
        path: &str,
        datasets: Vec<Dataset>,
    ) -> Result<VarGroup, FormatError> {
        let attrs = g
            .attributes()
            .map_err(|e| self.err(path, format!("cannot read attributes: {e}")))?;
        let name_attr =
            match attrs.iter().find(|a| a.name == "name") {
                None => None,
                Some(a) => Some(a.read_string().map_err(|e| {
                    self.err(path, format!("attribute 'name' is not a string: {e}"))
                })?),
            };

        let mut numbered = Vec::with_capacity(datasets.len());
        for ds in &datasets {
            let index = ds
                .name()
                .parse::<usize>()
                .ok()
                .filter(|i| i.to_string() == ds.name());
            match index {
                Some(i) => numbered.push((i, ds)),
                None => {
                    return Err(self.err(
                        path,
                        format!(
                            "dataset '{}' is not named by its index (0, 1, 2, ...)",
                            ds.name()
                        ),
                    ))
                }
            }
        }
        numbered.sort_by_key(|(i, _)| *i);
        let mut vars = Vec::with_capacity(numbered.len());
        for (pos, (i, ds)) in numbered.into_iter().enumerate() {
            if i != pos {
                return Err(self.err(
                    path,
                    format!(
                        "variables are not numbered 0..{}: '{pos}' is missing",
                        datasets.len()
                    ),
                ));
            }
            vars.push(self.read_tensor(ds, path)?);
        }
        Ok(VarGroup { name_attr, vars })
    }

    fn read_tensor(&self, ds: &Dataset, path: &str) -> Result<Tensor, FormatError> {
        let fail = |detail: String| self.err(path, format!("dataset '{}': {detail}", ds.name()));
        let shape = ds
            .shape()
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<usize>, _>>()
            .map_err(|_| fail("a dimension does not fit in memory".into()))?;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| fail(format!("shape {shape:?} has too many elements")))?;
        let read_err = |e: hdf5_reader::error::Error| {
            // hdf5-reader prefixes the dataset name, which `fail` already gives.
            let msg = e.to_string();
            let msg = msg
                .strip_prefix(&format!("{}: ", ds.name()))
                .unwrap_or(&msg)
                .to_owned();
            fail(format!("cannot read: {msg}"))
        };

        let data: Vec<f32> = match ds.dtype() {
            Datatype::FloatingPoint { size: 4, .. } => ds
                .read_array::<f32>()
                .map_err(read_err)?
                .iter()
                .copied()
                .collect(),
            Datatype::FloatingPoint { size: 8, .. } => ds
                .read_array::<f64>()
                .map_err(read_err)?
                .iter()
                .map(|&v| v as f32)
                .collect(),
            Datatype::FloatingPoint {
                size: 2,
                byte_order,
            } => {
                let big = matches!(byte_order, hdf5_reader::ByteOrder::BigEndian);
                ds.read_raw_bytes()
                    .map_err(read_err)?
                    .chunks_exact(2)
                    .map(|c| {
                        let b = [c[0], c[1]];
                        let bits = if big {
                            u16::from_be_bytes(b)
                        } else {
                            u16::from_le_bytes(b)
                        };
                        super::npy::f16_to_f32(bits)
                    })
                    .collect()
            }
            Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
                (1, true) => convert(ds.read_array::<i8>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (1, false) => convert(ds.read_array::<u8>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (2, true) => convert(ds.read_array::<i16>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (2, false) => convert(ds.read_array::<u16>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (4, true) => convert(ds.read_array::<i32>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (4, false) => convert(ds.read_array::<u32>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (8, true) => convert(ds.read_array::<i64>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                (8, false) => convert(ds.read_array::<u64>().map_err(read_err)?.iter(), |v| {
                    *v as f32
                }),
                _ => return Err(fail(format!("unsupported {size}-byte integer type"))),
            },
            other => {
                return Err(fail(format!(
                    "unsupported datatype {} (kiln reads floating-point and integer variables)",
                    describe_dtype(other)
                )))
            }
        };
        if data.len() != count {
            return Err(fail(format!(
                "shape {shape:?} needs {count} values, read {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }
}

fn convert<'a, T: 'a>(it: impl Iterator<Item = &'a T>, f: impl Fn(&T) -> f32) -> Vec<f32> {
    it.map(f).collect()
}

fn describe_dtype(d: &Datatype) -> String {
    match d {
        Datatype::FixedPoint { size, signed, .. } => {
            format!("{}int{}", if *signed { "" } else { "u" }, *size as u32 * 8)
        }
        Datatype::FloatingPoint { size, .. } => format!("float{}", *size as u32 * 8),
        Datatype::String { .. } => "string".into(),
        Datatype::Compound { .. } => "compound".into(),
        Datatype::Array { .. } => "array".into(),
        Datatype::Enum { .. } => "enum (h5py stores bool as one)".into(),
        Datatype::VarLen { .. } => "variable-length".into(),
        Datatype::Opaque { .. } => "opaque".into(),
        Datatype::Reference { .. } => "reference".into(),
        Datatype::Bitfield { .. } => "bitfield".into(),
    }
}
