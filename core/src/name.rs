//! Layer and model names, and Keras's automatic naming.
//!
//! Keras names an unnamed layer `snake_case(ClassName)`, then `_1`, `_2`, … per prefix.
//! Explicit names do not use up numbers. kiln keeps the counters per model (Keras keeps them
//! per session), which gives the same names for a model built in a fresh Keras session.

use crate::error::Error;
use core::fmt::Write;

/// The longest name kiln stores, in bytes.
pub const NAME_CAPACITY: usize = 64;

/// A layer or model name, stored inline.
pub type Name = heapless::String<NAME_CAPACITY>;

/// Makes a [`Name`], or [`Error::NameTooLong`].
pub fn name(text: &str) -> Result<Name, Error> {
    let mut name = Name::new();
    name.push_str(text).map_err(|_| Error::NameTooLong {
        length: text.len(),
        capacity: NAME_CAPACITY,
    })?;
    Ok(name)
}

/// `prefix` for the first use, then `prefix_1`, `prefix_2`, ….
pub fn numbered(prefix: &str, count: u32) -> Result<Name, Error> {
    let mut out = name(prefix)?;
    if count > 0 {
        write!(out, "_{count}").map_err(|_| Error::NameTooLong {
            length: prefix.len() + 11,
            capacity: NAME_CAPACITY,
        })?;
    }
    Ok(out)
}

/// Per-prefix counters for automatic names (`dense`, `dense_1`, …).
#[derive(Clone, Debug, Default)]
pub struct AutoNames {
    counters: heapless::Vec<(&'static str, u32), 24>,
}

impl AutoNames {
    pub const fn new() -> Self {
        AutoNames {
            counters: heapless::Vec::new(),
        }
    }

    /// The next automatic name for `prefix`, counting it as used.
    pub fn next(&mut self, prefix: &'static str) -> Result<Name, Error> {
        if let Some((_, count)) = self.counters.iter_mut().find(|(p, _)| *p == prefix) {
            let name = numbered(prefix, *count)?;
            *count += 1;
            return Ok(name);
        }
        self.counters
            .push((prefix, 1))
            .map_err(|_| Error::Capacity {
                what: "distinct automatic name prefixes",
                capacity: 24,
            })?;
        numbered(prefix, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_prefix() {
        let mut names = AutoNames::new();
        assert_eq!(names.next("dense").unwrap(), "dense");
        assert_eq!(names.next("re_lu").unwrap(), "re_lu");
        assert_eq!(names.next("dense").unwrap(), "dense_1");
        assert_eq!(names.next("dense").unwrap(), "dense_2");
        assert_eq!(names.next("re_lu").unwrap(), "re_lu_1");
    }

    #[test]
    fn long_names_are_errors() {
        let long = [b'a'; NAME_CAPACITY + 1];
        let long = core::str::from_utf8(&long).unwrap();
        assert!(matches!(name(long), Err(Error::NameTooLong { .. })));
    }
}
