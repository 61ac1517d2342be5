//! Draws a table the way rich draws Keras's summary: `HEAVY_HEAD` box, one space of
//! padding in each cell, a rule between rows, headers aligned to the bottom.
//!
//! Lines are handed out as `Display` values that write themselves on demand, so no line is
//! ever held in memory and the width of the table is not bounded by a buffer.

use super::text::{wrap, CellLine, Justify};
use core::fmt::{self, Display, Write};

/// The layout of a table: per column the cell width (padding included) and justification.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    pub widths: &'a [usize],
    pub justify: &'a [Justify],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Top,
    HeaderBottom,
    Between,
    Bottom,
}

impl<'a> Table<'a> {
    pub fn rule(&self, rule: Rule) -> impl Display + 'a {
        let widths = self.widths;
        Fmt(move |f: &mut fmt::Formatter<'_>| {
            let (left, fill, cross, right) = match rule {
                Rule::Top => ('┏', '━', '┳', '┓'),
                Rule::HeaderBottom => ('┡', '━', '╇', '┩'),
                Rule::Between => ('├', '─', '┼', '┤'),
                Rule::Bottom => ('└', '─', '┴', '┘'),
            };
            f.write_char(left)?;
            for (i, &w) in widths.iter().enumerate() {
                if i > 0 {
                    f.write_char(cross)?;
                }
                repeat(f, fill, w)?;
            }
            f.write_char(right)
        })
    }

    /// Number of lines `cells` take once wrapped.
    pub fn height(&self, cells: &[&str]) -> usize {
        cells
            .iter()
            .zip(self.widths.iter().zip(self.justify))
            .map(|(text, (&w, &j))| wrap(text, w.saturating_sub(2), j).count())
            .max()
            .unwrap_or(1)
    }

    /// Line `line` of a row; `header` rows use heavy borders and sit at the bottom.
    pub fn row_line<'c>(
        &'c self,
        cells: &'c [&'c str],
        line: usize,
        height: usize,
        header: bool,
    ) -> impl Display + 'c {
        Fmt(move |f: &mut fmt::Formatter<'_>| {
            let border = if header { '┃' } else { '│' };
            f.write_char(border)?;
            for (text, (&w, &j)) in cells.iter().zip(self.widths.iter().zip(self.justify)) {
                let text_width = w.saturating_sub(2);
                let skip = if header {
                    height.saturating_sub(wrap(text, text_width, j).count())
                } else {
                    0
                };
                let cell = line
                    .checked_sub(skip)
                    .and_then(|k| wrap(text, text_width, j).nth(k))
                    .unwrap_or(CellLine {
                        pad_right: text_width,
                        ..CellLine::BLANK
                    });
                f.write_char(' ')?;
                repeat(f, ' ', cell.pad_left)?;
                f.write_str(text.get(cell.start..cell.end).unwrap_or(""))?;
                if cell.ellipsis {
                    f.write_char('…')?;
                }
                repeat(f, ' ', cell.pad_right)?;
                f.write_char(' ')?;
                f.write_char(border)?;
            }
            Ok(())
        })
    }
}

fn repeat(f: &mut fmt::Formatter<'_>, c: char, n: usize) -> fmt::Result {
    (0..n).try_for_each(|_| f.write_char(c))
}

/// A `Display` made from a closure.
pub struct Fmt<F>(pub F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> Display for Fmt<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}
