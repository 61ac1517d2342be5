//! Where a graph keeps its layers, nodes and names.
//!
//! * [`Fixed<N>`]: inline, at most `N` layers and `N` nodes, names of at most
//!   [`NAME_CAPACITY`](crate::name::NAME_CAPACITY) bytes, [`MAX_NODE_INPUTS`] tensors per call
//!   and [`MAX_IO`] model inputs and outputs. No heap: this is the firmware's storage, and
//!   going past a capacity is an [`Error::Capacity`](crate::Error::Capacity) naming it.
//! * `Heap` (feature `alloc`): every list grows as needed. The host tools read models of
//!   any size with it.
//!
//! Both run the same code: a graph is generic over its [`Storage`], never over a feature.

use core::fmt::{Debug, Display, Write};
use core::ops::{Deref, DerefMut};

/// Most tensors one call of a layer takes (merge layers such as `Concatenate`) in [`Fixed`].
pub const MAX_NODE_INPUTS: usize = 8;
/// Most model inputs and most model outputs in [`Fixed`].
pub const MAX_IO: usize = 8;
/// The longest text one summary cell holds in [`Fixed`], in bytes.
pub const CELL_CAPACITY: usize = 256;

/// The item bounds every list of a graph needs.
pub trait Item: Clone + Debug + PartialEq {}
impl<T: Clone + Debug + PartialEq> Item for T {}

/// A storage family: the list and text types a [`Graph`](crate::Graph) is made of.
pub trait Storage: Clone + Debug + PartialEq + Default + 'static {
    /// As long as the graph: layers, nodes, and the planner's and summary's per-node work.
    type List<T: Item>: List<T>;
    /// A few entries: the tensors one layer call takes, a model's inputs or outputs.
    type Few<T: Item>: List<T>;
    /// A layer or model name.
    type Name: Text;
    /// One cell of the summary table.
    type Cell: Text;
}

/// The list operations a graph uses; `push` hands the item back when the list is full.
pub trait List<T>: Clone + Debug + PartialEq + Default + Deref<Target = [T]> + DerefMut {
    /// How many items fit; `None` for a list that grows.
    const CAPACITY: Option<usize>;
    /// Appends `item`; hands it back when the list is full.
    fn push(&mut self, item: T) -> Result<(), T>;
    /// Removes and returns the last item.
    fn pop(&mut self) -> Option<T>;
    /// Keeps the first `len` items.
    fn truncate(&mut self, len: usize);
    /// Removes every item.
    fn clear(&mut self) {
        self.truncate(0);
    }
    /// A list of `len` copies of `value`; `None` when `len` is over the capacity.
    fn filled(len: usize, value: T) -> Option<Self>
    where
        T: Clone,
    {
        let mut list = Self::default();
        for _ in 0..len {
            list.push(value.clone()).ok()?;
        }
        Some(list)
    }
}

/// The text is full: [`Text::push_str`] added nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// Text a graph stores (names, summary cells); `push_str` fails when the text is full.
pub trait Text:
    Clone + Debug + PartialEq + Default + Deref<Target = str> + Display + Write
{
    /// How many bytes fit; `None` for text that grows.
    const CAPACITY: Option<usize>;
    /// Appends `s` whole, or nothing when it does not fit.
    fn push_str(&mut self, s: &str) -> Result<(), Full>;
    /// `s` as stored text; `None` when it does not fit.
    fn from_str(s: &str) -> Option<Self> {
        let mut text = Self::default();
        text.push_str(s).ok()?;
        Some(text)
    }
}

/// Inline storage: at most `N` layers and `N` nodes. No heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Storage for Fixed<N> {
    type List<T: Item> = heapless::Vec<T, N>;
    type Few<T: Item> = heapless::Vec<T, MAX_NODE_INPUTS>;
    type Name = heapless::String<{ crate::name::NAME_CAPACITY }>;
    type Cell = heapless::String<CELL_CAPACITY>;
}

impl<T: Item, const N: usize> List<T> for heapless::Vec<T, N> {
    const CAPACITY: Option<usize> = Some(N);
    fn push(&mut self, item: T) -> Result<(), T> {
        heapless::Vec::push(self, item)
    }
    fn pop(&mut self) -> Option<T> {
        heapless::Vec::pop(self)
    }
    fn truncate(&mut self, len: usize) {
        heapless::Vec::truncate(self, len)
    }
}

impl<const N: usize> Text for heapless::String<N> {
    const CAPACITY: Option<usize> = Some(N);
    fn push_str(&mut self, s: &str) -> Result<(), Full> {
        heapless::String::push_str(self, s).map_err(|_| Full)
    }
}

/// Heap storage: every list and name grows as needed (feature `alloc`; the host tools).
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Heap;

#[cfg(feature = "alloc")]
impl Storage for Heap {
    type List<T: Item> = alloc::vec::Vec<T>;
    type Few<T: Item> = alloc::vec::Vec<T>;
    type Name = alloc::string::String;
    type Cell = alloc::string::String;
}

#[cfg(feature = "alloc")]
impl<T: Item> List<T> for alloc::vec::Vec<T> {
    const CAPACITY: Option<usize> = None;
    fn push(&mut self, item: T) -> Result<(), T> {
        alloc::vec::Vec::push(self, item);
        Ok(())
    }
    fn pop(&mut self) -> Option<T> {
        alloc::vec::Vec::pop(self)
    }
    fn truncate(&mut self, len: usize) {
        alloc::vec::Vec::truncate(self, len)
    }
}

#[cfg(feature = "alloc")]
impl Text for alloc::string::String {
    const CAPACITY: Option<usize> = None;
    fn push_str(&mut self, s: &str) -> Result<(), Full> {
        alloc::string::String::push_str(self, s);
        Ok(())
    }
}

/// Pushes `item`, or says which capacity ran out.
pub(crate) fn push<T, L: List<T>>(
    list: &mut L,
    item: T,
    what: &'static str,
) -> Result<(), crate::Error> {
    list.push(item).map_err(|_| crate::Error::Capacity {
        what,
        capacity: L::CAPACITY.unwrap_or(usize::MAX),
    })
}

/// A list of `len` copies of `value`, or which capacity ran out.
pub(crate) fn filled<T: Clone, L: List<T>>(
    len: usize,
    value: T,
    what: &'static str,
) -> Result<L, crate::Error> {
    L::filled(len, value).ok_or(crate::Error::Capacity {
        what,
        capacity: L::CAPACITY.unwrap_or(usize::MAX),
    })
}

/// The items of `items`, or which capacity ran out.
pub(crate) fn collect<T, L: List<T>>(
    items: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<L, crate::Error> {
    let mut list = L::default();
    for item in items {
        push(&mut list, item, what)?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_lists_refuse_past_capacity() {
        let full: Result<heapless::Vec<u8, 2>, _> = collect([1, 2, 3], "things");
        assert_eq!(
            full,
            Err(crate::Error::Capacity {
                what: "things",
                capacity: 2
            })
        );
        let fits: heapless::Vec<u8, 2> = collect([1, 2], "things").unwrap();
        assert_eq!(&fits[..], &[1, 2]);
        assert!(<heapless::Vec<u8, 2> as List<u8>>::filled(3, 0).is_none());
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn heap_lists_grow() {
        let many: alloc::vec::Vec<u32> = collect(0..10_000, "things").unwrap();
        assert_eq!(many.len(), 10_000);
        let long = <alloc::string::String as Text>::from_str(&"x".repeat(1000)).unwrap();
        assert_eq!(long.len(), 1000);
    }
}
