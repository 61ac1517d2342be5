//! Layer and model names, and Keras's automatic naming.
//!
//! Keras names an unnamed layer `snake_case(ClassName)`, then `_1`, `_2`, … per prefix.
//! Explicit names do not use up numbers. kiln keeps the counters per model (Keras keeps them
//! per session), which gives the same names for a model built in a fresh Keras session.

use crate::error::Error;
use crate::graph::storage::{self, Storage, Text};

/// The longest name a [`Fixed`](crate::graph::Fixed) graph stores, and the longest an
/// [`Error`] quotes, in bytes.
pub const NAME_CAPACITY: usize = 64;

/// A name as an [`Error`] carries it: at most [`NAME_CAPACITY`] bytes, so errors stay small
/// enough to return on a microcontroller. A longer name is cut and ends in `…`.
pub type Name = heapless::String<NAME_CAPACITY>;

/// `text` as an error quotes it: whole when it fits, else cut at a character boundary with
/// `…` at the end.
pub fn for_error(text: &str) -> Name {
    let mut name = Name::new();
    if name.push_str(text).is_ok() {
        return name;
    }
    let room = NAME_CAPACITY - '…'.len_utf8();
    let mut cut = room;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let _ = name.push_str(&text[..cut]);
    let _ = name.push('…');
    name
}

/// `text` as a graph's name, or [`Error::NameTooLong`] when the storage cannot hold it.
pub fn stored<T: Text>(text: &str) -> Result<T, Error> {
    T::from_str(text).ok_or(Error::NameTooLong {
        length: text.len(),
        capacity: T::CAPACITY.unwrap_or(usize::MAX),
    })
}

/// `prefix` for the first use, then `prefix_1`, `prefix_2`, ….
pub fn numbered<T: Text>(prefix: &str, count: u32) -> Result<T, Error> {
    let mut out: T = stored(prefix)?;
    if count > 0 {
        write!(out, "_{count}").map_err(|_| Error::NameTooLong {
            length: prefix.len() + 11,
            capacity: T::CAPACITY.unwrap_or(usize::MAX),
        })?;
    }
    Ok(out)
}

/// Per-prefix counters for automatic names (`dense`, `dense_1`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AutoNames<S: Storage> {
    counters: S::List<(&'static str, u32)>,
}

impl<S: Storage> AutoNames<S> {
    /// No name used yet.
    pub fn new() -> Self {
        AutoNames {
            counters: Default::default(),
        }
    }

    /// The next automatic name for `prefix`, counting it as used.
    pub fn next(&mut self, prefix: &'static str) -> Result<S::Name, Error> {
        if let Some((_, count)) = self.counters.iter_mut().find(|(p, _)| *p == prefix) {
            let name = numbered(prefix, *count)?;
            *count += 1;
            return Ok(name);
        }
        storage::push(
            &mut self.counters,
            (prefix, 1),
            "distinct automatic name prefixes",
        )?;
        numbered(prefix, 0)
    }
}

/// A string as Python's `repr` prints it (single quotes unless the text has one).
pub struct PyRepr<'a>(pub &'a str);

impl core::fmt::Display for PyRepr<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        let quote = if self.0.contains('\'') && !self.0.contains('"') {
            '"'
        } else {
            '\''
        };
        f.write_char(quote)?;
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if c == quote => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                c => f.write_char(c)?,
            }
        }
        f.write_char(quote)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::graph::Fixed;

    #[test]
    fn counts_per_prefix() {
        let mut names = AutoNames::<Fixed<8>>::new();
        assert_eq!(names.next("dense").unwrap(), "dense");
        assert_eq!(names.next("re_lu").unwrap(), "re_lu");
        assert_eq!(names.next("dense").unwrap(), "dense_1");
        assert_eq!(names.next("dense").unwrap(), "dense_2");
        assert_eq!(names.next("re_lu").unwrap(), "re_lu_1");
    }

    #[test]
    fn long_names_are_errors_in_fixed_storage() {
        let long = "a".repeat(NAME_CAPACITY + 1);
        assert_eq!(
            stored::<Name>(&long),
            Err(Error::NameTooLong {
                length: NAME_CAPACITY + 1,
                capacity: NAME_CAPACITY
            })
        );
    }

    #[test]
    fn errors_cut_long_names_visibly() {
        assert_eq!(for_error("dense"), "dense");
        let long = "é".repeat(40);
        let cut = for_error(&long);
        assert!(cut.len() <= NAME_CAPACITY);
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }
}
