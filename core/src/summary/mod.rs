//! `model.summary()`: the table Keras 3 prints, character for character.
//!
//! Lines go to a `print_fn` callback one at a time as `Display` values, so the same code
//! prints to a host terminal, a `String`, semihosting or defmt, with no buffer for a
//! whole line. The layout rules (widths, wrapping, the `Trainable` column, unbuilt layers)
//! are Keras's and rich's; see KERAS-NOTES.md §1.

mod layout;
pub mod pattern;
mod table;
mod text;

use crate::graph::storage::{self, List, Storage, Text};
use crate::graph::{Graph, LayerId, ModelKind};
use crate::shape::Shape;
use core::fmt::{self, Display, Write};
use table::{Fmt, Rule, Table};
use text::Justify;

pub use layout::MAX_COLUMNS;
pub use pattern::PatternError;

pub use crate::graph::storage::CELL_CAPACITY;

/// Keras's `summary()` arguments. `Default` is Keras's defaults on a terminal 80 wide
/// (a pipe, CI, or a device), which gives tables 76 characters wide.
///
/// ```
/// use kiln::SummaryOptions;
/// // model.summary(line_length=100, show_trainable=True)
/// let options = SummaryOptions {
///     line_length: Some(100),
///     show_trainable: true,
///     ..SummaryOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SummaryOptions<'a> {
    /// Total width; `None` (or 0) uses Keras's default for the model and terminal.
    pub line_length: Option<usize>,
    /// Right edges of the columns as fractions of the width.
    pub positions: Option<&'a [f64]>,
    /// Keras's `expand_nested`: also list the layers inside nested models.
    pub expand_nested: bool,
    /// Keras's `show_trainable`: add a "Trainable" column (`Y` or `N`).
    pub show_trainable: bool,
    /// Regexes for the first and last rows to show (Python `re.match`, a prefix match).
    pub layer_range: Option<[&'a str; 2]>,
    /// What Keras reads from `shutil.get_terminal_size().columns`: 80 without a terminal.
    /// It caps the default width at `terminal_columns - 4`, and rich crops every line
    /// at this width. `usize::MAX` turns both off.
    pub terminal_columns: usize,
}

impl Default for SummaryOptions<'_> {
    fn default() -> Self {
        SummaryOptions {
            line_length: None,
            positions: None,
            expand_nested: false,
            show_trainable: false,
            layer_range: None,
            terminal_columns: 80,
        }
    }
}

/// The widest table `summary` lays out (Keras has no limit; kiln refuses wider ones rather
/// than spend minutes printing padding).
pub const MAX_LINE_LENGTH: usize = 10_000;

/// Why `summary` could not print. Messages are Keras's where Keras has one.
#[derive(Clone, Debug, PartialEq)]
pub enum SummaryError<'a> {
    /// A column would be narrower than 4 characters (Keras's "Insufficient console width
    /// to print summary.").
    InsufficientWidth,
    /// `line_length` is over [`MAX_LINE_LENGTH`].
    LineTooLong {
        /// The `line_length` asked for.
        given: usize,
    },
    /// A position is NaN or infinite (Python cannot turn it into a column edge).
    Position {
        /// The position given.
        value: f64,
    },
    /// `positions` has fewer edges than the table has columns.
    TooFewPositions {
        /// The table's columns.
        expected: usize,
        /// The positions given.
        found: usize,
    },
    /// `positions` has more edges than kiln lays out.
    TooManyPositions,
    /// No layer's name matches `layer_range`'s start or end (Keras's "Passed layer_names
    /// do not match the layer names in the model.").
    LayerRangeNoMatch {
        /// The start pattern.
        start: &'a str,
        /// The end pattern.
        end: &'a str,
    },
    /// A `layer_range` pattern kiln cannot match.
    Pattern {
        /// The pattern.
        pattern: &'a str,
        /// What is wrong with it.
        error: PatternError,
    },
    /// A cell's text is longer than [`CELL_CAPACITY`] bytes.
    CellTooLong,
}

impl Display for SummaryError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SummaryError::InsufficientWidth => f.write_str("Insufficient console width to print summary."),
            SummaryError::LineTooLong { given } => write!(
                f,
                "line_length {given} is wider than kiln lays out a summary (at most {MAX_LINE_LENGTH})"
            ),
            SummaryError::Position { value } => write!(
                f,
                "positions must be finite numbers (fractions of the line length); got {value}"
            ),
            SummaryError::TooFewPositions { expected, found } => write!(
                f,
                "positions must give one edge per column: the table has {expected} columns but {found} positions were given"
            ),
            SummaryError::TooManyPositions => f.write_str("too many positions: kiln takes at most 15"),
            SummaryError::LayerRangeNoMatch { start, end } => write!(
                f,
                "Passed layer_names do not match the layer names in the model. Received: [{}, {}]",
                PyRepr(start),
                PyRepr(end)
            ),
            SummaryError::Pattern { pattern, error } => match error {
                PatternError::Unsupported => write!(
                    f,
                    "layer_range pattern {} uses regular-expression syntax kiln does not support (groups, lookaround, backreferences)",
                    PyRepr(pattern)
                ),
                PatternError::Invalid => write!(f, "layer_range pattern {} is not a valid regular expression", PyRepr(pattern)),
                PatternError::TooLong => write!(
                    f,
                    "layer_range pattern {} is longer than kiln matches: at most {} steps, counting each repeat x{{n,m}} as m",
                    PyRepr(pattern),
                    pattern::MAX_PATTERN_STEPS
                ),
            },
            SummaryError::CellTooLong => write!(f, "a summary cell is longer than {CELL_CAPACITY} bytes"),
        }
    }
}

impl core::error::Error for SummaryError<'_> {}

pub use crate::name::PyRepr;

fn cell<C: Text>(args: fmt::Arguments<'_>) -> Result<C, SummaryError<'static>> {
    let mut c = C::default();
    c.write_fmt(args).map_err(|_| SummaryError::CellTooLong)?;
    Ok(c)
}

/// `1381` → `1,381`.
pub struct Thousands(pub usize);

impl Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; 20];
        let mut n = self.0;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in (0..len).rev() {
            f.write_char(digits[i] as char)?;
            if i > 0 && i % 3 == 0 {
                f.write_char(',')?;
            }
        }
        Ok(())
    }
}

/// Keras's `readable_memory_size`: `5.39 KB`, `0.00 B`.
pub struct Bytes(pub f64);

impl Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
        let mut size = self.0;
        for unit in UNITS {
            if size / 1024.0 < 1.0 {
                return write!(f, "{size:.2} {unit}");
            }
            size /= 1024.0;
        }
        write!(f, "{size:.2} PB")
    }
}

/// A line cut after `.1` characters, as rich crops lines wider than the console.
struct Cropped<'a>(&'a dyn Display, usize);

impl Display for Cropped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Limit<'f, 'g> {
            out: &'f mut fmt::Formatter<'g>,
            left: usize,
        }
        impl Write for Limit<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for c in s.chars() {
                    if self.left == 0 {
                        break;
                    }
                    self.out.write_char(c)?;
                    self.left -= 1;
                }
                Ok(())
            }
        }
        write!(
            Limit {
                out: f,
                left: self.1
            },
            "{}",
            self.0
        )
    }
}

/// A shape as Keras's summary prints it: `(None, 32)`; rank 1 is `(5)`, not `(5,)`.
struct SummaryShape(Shape);

impl Display for SummaryShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('(')?;
        for (i, d) in self.0.dims().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Some(n) => write!(f, "{n}")?,
                None => f.write_str("None")?,
            }
        }
        f.write_char(')')
    }
}

impl<S: Storage> Graph<'_, S> {
    /// Keras's rule: Sequential models (and linear Functional ones) get three columns,
    /// others a fourth, "Connected to".
    pub fn is_sequential_like(&self) -> bool {
        if self.kind != ModelKind::Functional {
            return true;
        }
        // Keras: one node per depth, each with at most one input, and no shared layer.
        // Over the model's own nodes (not those inside nested models), that is a chain.
        let own = |n: &crate::graph::Node<S>| {
            self.layers
                .get(n.layer as usize)
                .is_some_and(|l| l.parent.is_none())
        };
        let (Some(mut seen), Some(mut readers)) = (
            S::List::<bool>::filled(self.layers.len(), false),
            S::List::<u8>::filled(self.nodes.len(), 0),
        ) else {
            return false;
        };
        let mut chain = self.inputs.len() == 1 && self.outputs.len() == 1;
        for n in self.nodes.iter().filter(|n| own(n)) {
            let first_use = !core::mem::replace(&mut seen[n.layer as usize], true);
            chain &= first_use && n.inputs.len() <= 1;
            for &input in n.inputs.iter() {
                let count = &mut readers[input as usize];
                *count = count.saturating_add(1);
                chain &= *count <= 1;
            }
        }
        chain
    }

    /// Prints the summary table through `print_fn`, one line per call.
    ///
    /// ```
    /// use kiln::layers::{Dense, Input};
    /// use kiln::{Activation, Fixed, Sequential, SummaryOptions};
    /// let mut model = Sequential::<Fixed<4>>::new();
    /// model.add(Input::new(&[37]))?;
    /// model.add(Dense::new(32).activation(Activation::Relu))?;
    /// model.add(Dense::new(5).activation(Activation::Softmax))?;
    /// let mut lines = Vec::new();
    /// model.summary(&SummaryOptions::default(), &mut |line| lines.push(line.to_string()))?;
    /// assert_eq!(lines[0], "Model: \"sequential\"");
    /// assert_eq!(
    ///     lines[4],
    ///     "│ dense (Dense)                   │ (None, 32)             │         1,216 │"
    /// );
    /// assert_eq!(lines[8], " Total params: 1,381 (5.39 KB)");
    /// # Ok::<(), kiln::Error>(())
    /// ```
    pub fn summary<'o>(
        &self,
        options: &SummaryOptions<'o>,
        print_fn: &mut dyn FnMut(&dyn Display),
    ) -> Result<(), SummaryError<'o>> {
        let sequential_like = self.is_sequential_like();
        let (mut default_length, default_positions, mut headers, mut justify): (
            usize,
            &[f64],
            heapless::Vec<&str, MAX_COLUMNS>,
            heapless::Vec<Justify, MAX_COLUMNS>,
        ) = if sequential_like {
            (
                88,
                &[0.45, 0.80, 1.0],
                heapless::Vec::from_slice(&["Layer (type)", "Output Shape", "Param #"])
                    .unwrap_or_default(),
                heapless::Vec::from_slice(&[Justify::Left, Justify::Left, Justify::Right])
                    .unwrap_or_default(),
            )
        } else {
            (
                108,
                &[0.3, 0.56, 0.74, 1.0],
                heapless::Vec::from_slice(&[
                    "Layer (type)",
                    "Output Shape",
                    "Param #",
                    "Connected to",
                ])
                .unwrap_or_default(),
                heapless::Vec::from_slice(&[
                    Justify::Left,
                    Justify::Left,
                    Justify::Right,
                    Justify::Left,
                ])
                .unwrap_or_default(),
            )
        };
        let given = options
            .positions
            .filter(|p| !p.is_empty())
            .unwrap_or(default_positions);
        if given.len() > 15 {
            return Err(SummaryError::TooManyPositions);
        }
        // Keras checks every edge given, even past the last column; past 15, kiln refuses
        // rather than cut.
        let mut positions: heapless::Vec<f64, 16> = heapless::Vec::new();
        for &p in given {
            positions
                .push(p)
                .map_err(|_| SummaryError::TooManyPositions)?;
        }
        if options.show_trainable {
            default_length += 12;
            for p in positions.iter_mut() {
                *p *= 0.9;
            }
            positions
                .push(1.0)
                .map_err(|_| SummaryError::TooManyPositions)?;
            let _ = headers.push("Trainable");
            let _ = justify.push(Justify::Center);
        }
        let default_length = default_length.min(options.terminal_columns.saturating_sub(4));
        let line_length = options
            .line_length
            .filter(|&l| l > 0)
            .unwrap_or(default_length);
        if line_length > MAX_LINE_LENGTH {
            return Err(SummaryError::LineTooLong { given: line_length });
        }
        let widths = layout::cell_widths(line_length, &positions, headers.len())?;

        let rows = self.summary_rows();
        let (first, last) = match options.layer_range {
            None => (0, rows.len()),
            Some([start, end]) => self.layer_range(&rows, start, end)?,
        };

        let table = Table {
            widths: &widths,
            justify: &justify,
        };
        // rich crops every line at the console width: a table wider than the terminal
        // loses its right edge, in Keras too.
        let columns = options.terminal_columns;
        let print_fn = &mut |line: &dyn Display| print_fn(&Cropped(line, columns));
        print_fn(&Fmt(|f: &mut fmt::Formatter<'_>| {
            write!(f, "Model: \"{}\"", self.name)
        }));
        print_fn(&table.rule(Rule::Top));
        let height = table.height(&headers);
        for line in 0..height {
            print_fn(&table.row_line(&headers, line, height, true));
        }
        print_fn(&table.rule(Rule::HeaderBottom));
        let mut first_row = true;
        for &layer in &rows[first..last] {
            // Depth-first through nested models when expanding, as Keras's print_layer.
            // Bounded by the layers, which a list of the graph's storage holds.
            let mut stack: S::List<(LayerId, usize)> = Default::default();
            let _ = stack.push((layer, 0));
            while let Some((id, level)) = stack.pop() {
                if !first_row {
                    print_fn(&table.rule(Rule::Between));
                }
                first_row = false;
                let cells = self.row_cells(id, level, sequential_like, options.show_trainable)?;
                let cells: heapless::Vec<&str, MAX_COLUMNS> = cells.iter().map(|c| &**c).collect();
                let height = table.height(&cells);
                for line in 0..height {
                    print_fn(&table.row_line(&cells, line, height, false));
                }
                if options.expand_nested && self.layers[id as usize].kind.nested_model().is_some() {
                    let children: S::List<LayerId> =
                        storage::collect(self.nested_layers(id), "layers").unwrap_or_default();
                    for &child in children.iter().rev() {
                        let _ = stack.push((child, level + 1));
                    }
                }
            }
        }
        print_fn(&table.rule(Rule::Bottom));

        let (trainable, frozen) = self.param_counts();
        let total = trainable + frozen;
        let (trainable_bytes, frozen_bytes) = self.param_bytes();
        print_fn(&format_args!(
            " Total params: {} ({})",
            Thousands(total),
            Bytes((trainable_bytes + frozen_bytes) as f64)
        ));
        print_fn(&format_args!(
            " Trainable params: {} ({})",
            Thousands(trainable),
            Bytes(trainable_bytes as f64)
        ));
        print_fn(&format_args!(
            " Non-trainable params: {} ({})",
            Thousands(frozen),
            Bytes(frozen_bytes as f64)
        ));
        Ok(())
    }

    /// The layers `summary` lists: `model.layers`.
    fn summary_rows(&self) -> S::List<LayerId> {
        storage::collect(self.visible_layers(), "layers").unwrap_or_default()
    }

    /// Keras's `get_layer_index_bound_by_layer_name`.
    fn layer_range<'o>(
        &self,
        rows: &[LayerId],
        start: &'o str,
        end: &'o str,
    ) -> Result<(usize, usize), SummaryError<'o>> {
        let check = |pattern: &'o str, name: &str| {
            pattern::matches_prefix(pattern, name)
                .map_err(|error| SummaryError::Pattern { pattern, error })
        };
        // (first, last) row matched by each pattern.
        let mut lower: Option<(usize, usize)> = None;
        let mut upper: Option<(usize, usize)> = None;
        for (i, &id) in rows.iter().enumerate() {
            let name = self.layers.get(id as usize).map(|l| &*l.name).unwrap_or("");
            if check(start, name)? {
                lower = Some(lower.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
            }
            if check(end, name)? {
                upper = Some(upper.map_or((i, i), |(lo, hi)| (lo.min(i), hi.max(i))));
            }
        }
        match (lower, upper) {
            (Some((lower_min, lower_max)), Some((upper_min, upper_max))) => {
                if lower_min > upper_max {
                    Ok((upper_min, lower_max + 1))
                } else {
                    Ok((lower_min, upper_max + 1))
                }
            }
            _ => Err(SummaryError::LayerRangeNoMatch { start, end }),
        }
    }

    fn row_cells(
        &self,
        id: LayerId,
        level: usize,
        sequential_like: bool,
        show_trainable: bool,
    ) -> Result<heapless::Vec<S::Cell, MAX_COLUMNS>, SummaryError<'static>> {
        let mut cells = heapless::Vec::new();
        let Some(layer) = self.layers.get(id as usize) else {
            return Ok(cells);
        };
        let mut push = |c: S::Cell| cells.push(c).map_err(|_| SummaryError::TooManyPositions);
        const INDENT: &str = "                                ";
        let indent = INDENT.get(..3 * level).unwrap_or(INDENT);
        let branch = if level > 0 { "└ " } else { "" };
        push(cell(format_args!(
            "{indent}{branch}{} ({})",
            layer.name,
            layer.class_name()
        ))?)?;
        // A subclassed model records no nodes in Keras: layers that build (have weights)
        // show the shape they were built for, the others `?`.
        let shape_known = self.kind != ModelKind::Subclassed || layer.kind.has_build();
        match self.last_node(id).filter(|_| shape_known) {
            Some(node) => push(cell(format_args!("{}", SummaryShape(node.shape)))?)?,
            None => push(cell(format_args!("?"))?)?,
        }
        match self.layer_param_count(id) {
            Some(n) => push(cell(format_args!("{}", Thousands(n)))?)?,
            None if layer.kind.has_build() => push(cell(format_args!("0 (unbuilt)"))?)?,
            None => push(cell(format_args!("0"))?)?,
        }
        if !sequential_like {
            // Keras only lists the model's own nodes: rows inside a nested model get `-`.
            if level == 0 {
                push(self.connected_to(id)?)?;
            } else {
                push(cell(format_args!("-"))?)?;
            }
        }
        if show_trainable {
            let has_weights = (0..self.layers.len() as LayerId)
                .any(|l| self.is_within(l, id) && !self.layer_weights(l).is_empty());
            let flag = match (has_weights, layer.trainable) {
                (false, _) => "-",
                (true, true) => "Y",
                (true, false) => "N",
            };
            push(cell(format_args!("{flag}"))?)?;
        }
        Ok(cells)
    }

    /// `layer[node_index][tensor_index], …` for every node of the layer, or `-`.
    fn connected_to(&self, id: LayerId) -> Result<S::Cell, SummaryError<'static>> {
        let mut out = S::Cell::default();
        for node in self.nodes.iter().filter(|n| n.layer == id) {
            for &input in node.inputs.iter() {
                let Some(producer) = self.nodes.get(input as usize) else {
                    continue;
                };
                let node_index = self.nodes[..input as usize]
                    .iter()
                    .filter(|n| n.layer == producer.layer)
                    .count();
                let name = self
                    .layers
                    .get(producer.layer as usize)
                    .map(|l| &*l.name)
                    .unwrap_or("?");
                if !out.is_empty() {
                    out.push_str(", ").map_err(|_| SummaryError::CellTooLong)?;
                }
                write!(out, "{name}[{node_index}][0]").map_err(|_| SummaryError::CellTooLong)?;
            }
        }
        if out.is_empty() {
            out.push_str("-").map_err(|_| SummaryError::CellTooLong)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_bytes() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{}", Thousands(0)), "0");
        assert_eq!(format!("{}", Thousands(999)), "999");
        assert_eq!(format!("{}", Thousands(1381)), "1,381");
        assert_eq!(format!("{}", Thousands(1234567)), "1,234,567");
        assert_eq!(format!("{}", Bytes(5524.0)), "5.39 KB");
        assert_eq!(format!("{}", Bytes(0.0)), "0.00 B");
        assert_eq!(format!("{}", Bytes(936.0)), "936.00 B");
        assert_eq!(format!("{}", Bytes(54440.0)), "53.16 KB");
        assert_eq!(format!("{}", Bytes(0.125 * 1024.0 * 1024.0)), "128.00 KB");
    }

    #[test]
    fn python_repr() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{}", PyRepr("nope")), "'nope'");
        assert_eq!(format!("{}", PyRepr("it's")), "\"it's\"");
    }
}
