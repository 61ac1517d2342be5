//! How rich wraps and justifies the text of one table cell, without allocating.
//!
//! rich splits text into words (`\s*\S+\s*`), breaks before a word that does not fit, keeps
//! an over-long word on its own line and cuts it with `…` (the summary table's columns
//! overflow with "ellipsis"), then justifies each line: left lines are padded, right and
//! centred lines are stripped of trailing spaces first.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Justify {
    Left,
    Right,
    Center,
}

/// One display line of a cell: `text[start..end]`, an optional `…`, and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellLine {
    pub start: usize,
    pub end: usize,
    pub ellipsis: bool,
    pub pad_left: usize,
    pub pad_right: usize,
}

impl CellLine {
    pub const BLANK: CellLine = CellLine {
        start: 0,
        end: 0,
        ellipsis: false,
        pad_left: 0,
        pad_right: 0,
    };
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Byte offset after the first `n` characters of `s`.
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// Wraps `text` into lines exactly `cell_width` characters wide, one at a time (a cell
/// may wrap into any number of lines; none is held in memory).
pub fn wrap(
    text: &str,
    cell_width: usize,
    justify: Justify,
) -> impl Iterator<Item = CellLine> + '_ {
    let mut words = words(text);
    let mut line_start = 0;
    // Characters on the current line so far.
    let mut offset = 0usize;
    let mut done = false;
    // rich's `divide_line(text, width, fold=False)`: a new line starts before a word that
    // does not fit; a word wider than the line stays whole on a line of its own.
    core::iter::from_fn(move || {
        if done {
            return None;
        }
        for (start, word) in words.by_ref() {
            let word_width = width(word.trim_end());
            if offset + word_width <= cell_width {
                offset += width(word);
                continue;
            }
            offset = width(word);
            if start > 0 {
                let line = justify_line(text, line_start, start, cell_width, justify);
                line_start = start;
                return Some(line);
            }
        }
        done = true;
        Some(justify_line(
            text,
            line_start,
            text.len(),
            cell_width,
            justify,
        ))
    })
}

/// `re.finditer(r"\s*\S+\s*")` as (byte start, word) pairs.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut pos = 0;
    core::iter::from_fn(move || {
        let rest = &text[pos..];
        let lead = rest.len() - rest.trim_start().len();
        let after_lead = &rest[lead..];
        let body = after_lead
            .find(char::is_whitespace)
            .unwrap_or(after_lead.len());
        if body == 0 {
            return None;
        }
        let after_body = &after_lead[body..];
        let trail = after_body.len() - after_body.trim_start().len();
        let start = pos;
        let len = lead + body + trail;
        pos += len;
        Some((start, &text[start..start + len]))
    })
}

fn justify_line(
    text: &str,
    start: usize,
    end: usize,
    cell_width: usize,
    justify: Justify,
) -> CellLine {
    let mut line = &text[start..end];
    // rstrip_end: trailing whitespace beyond the width goes.
    let len = width(line);
    if len > cell_width {
        let trailing = len - width(line.trim_end());
        let crop = trailing.min(len - cell_width);
        line = &line[..char_offset(line, len - crop)];
    }
    if justify != Justify::Left {
        line = line.trim_end();
    }
    let (end, ellipsis, shown) = if width(line) > cell_width {
        let keep = cell_width.saturating_sub(1);
        (start + char_offset(line, keep), true, cell_width)
    } else {
        (start + line.len(), false, width(line))
    };
    let free = cell_width.saturating_sub(shown);
    let (pad_left, pad_right) = match justify {
        Justify::Left => (0, free),
        Justify::Right => (free, 0),
        Justify::Center => (free / 2, free - free / 2),
    };
    CellLine {
        start,
        end,
        ellipsis,
        pad_left,
        pad_right,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn render(text: &str, w: usize, j: Justify) -> Vec<String> {
        wrap(text, w, j)
            .map(|l| {
                let mut s = String::new();
                s.extend(core::iter::repeat_n(' ', l.pad_left));
                s.push_str(&text[l.start..l.end]);
                if l.ellipsis {
                    s.push('…');
                }
                s.extend(core::iter::repeat_n(' ', l.pad_right));
                s
            })
            .collect()
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(
            render(
                "global_average_pooling2d (GlobalAveragePooling2D)",
                36,
                Justify::Left
            ),
            [
                "global_average_pooling2d            ",
                "(GlobalAveragePooling2D)            "
            ]
        );
    }

    #[test]
    fn long_word_is_cut_with_ellipsis() {
        assert_eq!(render("Trainable", 7, Justify::Center), ["Traina…"]);
    }

    #[test]
    fn right_and_center() {
        assert_eq!(render("Param #", 15, Justify::Right), ["        Param #"]);
        assert_eq!(render("Y", 7, Justify::Center), ["   Y   "]);
        assert_eq!(render("Param #", 5, Justify::Right), ["Param", "    #"]);
    }

    #[test]
    fn connected_to_lists() {
        assert_eq!(
            render("dense[0][0], dense_1[0][0], add[0][0]", 26, Justify::Left),
            ["dense[0][0],              ", "dense_1[0][0], add[0][0]  "]
        );
    }

    #[test]
    fn a_long_list_wraps_into_as_many_lines_as_it_needs() {
        let list: Vec<String> = (0..100).map(|i| std::format!("dense_{i}[0][0]")).collect();
        let text = list.join(", ");
        let lines = render(&text, 20, Justify::Left);
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99].trim_end(), "dense_99[0][0]");
    }

    #[test]
    fn empty_text_is_one_blank_line() {
        assert_eq!(render("", 3, Justify::Left), ["   "]);
    }
}
