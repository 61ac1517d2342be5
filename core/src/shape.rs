//! Tensor shapes with Keras's conventions: the first axis is the batch, any axis may be
//! unknown (`None`), and a shape prints as the Python tuple Keras shows (`(None, 26, 26, 8)`).

use core::fmt;

/// The largest rank kiln handles (batch axis included). Keras image models use 4.
pub const MAX_RANK: usize = 6;

/// One axis: `None` when it is only known at run time, as in `Input(shape=(None, None, 3))`.
pub type Dim = Option<u32>;

/// The axes of a shape, by value.
pub type Dims = heapless::Vec<Dim, MAX_RANK>;

/// Marks an unknown axis in storage (an axis of `u32::MAX` is refused as too big anyway).
const UNKNOWN: u32 = u32::MAX;

/// A tensor shape of rank at most [`MAX_RANK`], batch axis first. Stored as plain `u32`s
/// (28 bytes): shapes sit in every node and error of a graph that may live in a
/// microcontroller's RAM.
#[cfg_attr(feature = "format", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "format",
    serde(try_from = "wire::ShapeWire", into = "wire::ShapeWire")
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [u32; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// The rank-0 shape `()`.
    pub const SCALAR: Shape = Shape {
        dims: [UNKNOWN; MAX_RANK],
        rank: 0,
    };

    /// A shape from its axes; `None` when there are more than [`MAX_RANK`].
    pub fn new(dims: &[Dim]) -> Option<Shape> {
        if dims.len() > MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        for (slot, d) in shape.dims.iter_mut().zip(dims) {
            *slot = d.filter(|&v| v != UNKNOWN).unwrap_or(UNKNOWN);
        }
        shape.rank = dims.len() as u8;
        Some(shape)
    }

    /// A shape with an unknown batch axis followed by known axes: `(None, *dims)`.
    pub fn batched(dims: &[u32]) -> Option<Shape> {
        if dims.len() + 1 > MAX_RANK {
            return None;
        }
        let mut shape = Shape::SCALAR;
        for (slot, &d) in shape.dims[1..].iter_mut().zip(dims) {
            *slot = d;
        }
        shape.rank = dims.len() as u8 + 1;
        Some(shape)
    }

    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The axes, batch first; `None` for unknown ones.
    pub fn dims(&self) -> Dims {
        self.dims[..self.rank()]
            .iter()
            .map(|&d| (d != UNKNOWN).then_some(d))
            .collect()
    }

    pub fn dim(&self, axis: usize) -> Dim {
        self.dims[..self.rank()]
            .get(axis)
            .copied()
            .filter(|&d| d != UNKNOWN)
    }

    /// The last axis, the one Dense, BatchNormalization and Softmax work on.
    pub fn last(&self) -> Dim {
        self.dim(self.rank().checked_sub(1)?)
    }

    /// The same shape with axis `axis` replaced (no-op when out of range).
    pub fn with_dim(mut self, axis: usize, dim: Dim) -> Shape {
        if axis < self.rank() {
            self.dims[axis] = dim.unwrap_or(UNKNOWN);
        }
        self
    }

    /// Appends an axis; `None` when the rank would exceed [`MAX_RANK`].
    pub fn push(mut self, dim: Dim) -> Option<Shape> {
        if self.rank() == MAX_RANK {
            return None;
        }
        self.dims[self.rank()] = dim.unwrap_or(UNKNOWN);
        self.rank += 1;
        Some(self)
    }

    /// The number of elements of one sample (every axis but the batch), if all are known.
    pub fn sample_elements(&self) -> Option<usize> {
        (1..self.rank()).try_fold(1usize, |acc, a| acc.checked_mul(self.dim(a)? as usize))
    }

    /// The number of elements of the whole tensor, if every axis is known.
    pub fn elements(&self) -> Option<usize> {
        (0..self.rank()).try_fold(1usize, |acc, a| acc.checked_mul(self.dim(a)? as usize))
    }

    /// True when every axis after the batch is known.
    pub fn is_sample_known(&self) -> bool {
        (1..self.rank()).all(|a| self.dim(a).is_some())
    }
}

impl fmt::Display for Shape {
    /// Formats as a Python tuple: `(None, 32)`, `(5,)`, `()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, d) in self.dims().into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Some(n) => write!(f, "{n}")?,
                None => f.write_str("None")?,
            }
        }
        if self.rank() == 1 {
            f.write_str(",")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The flash format's form of a shape: the rank is checked when a blob is read, so a
/// corrupted blob cannot make a shape that indexes past its axes.
#[cfg(feature = "format")]
mod wire {
    use super::{Shape, MAX_RANK, UNKNOWN};

    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct ShapeWire {
        rank: u8,
        dims: [u32; MAX_RANK],
    }

    impl From<Shape> for ShapeWire {
        fn from(s: Shape) -> Self {
            ShapeWire {
                rank: s.rank,
                dims: s.dims,
            }
        }
    }

    impl TryFrom<ShapeWire> for Shape {
        type Error = &'static str;
        fn try_from(w: ShapeWire) -> Result<Shape, &'static str> {
            if w.rank as usize > MAX_RANK {
                return Err("shape rank above MAX_RANK");
            }
            let mut dims = w.dims;
            dims[w.rank as usize..].fill(UNKNOWN);
            Ok(Shape { dims, rank: w.rank })
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn prints_like_python_tuples() {
        assert_eq!(
            format!("{}", Shape::batched(&[26, 26, 8]).unwrap()),
            "(None, 26, 26, 8)"
        );
        assert_eq!(format!("{}", Shape::new(&[Some(5)]).unwrap()), "(5,)");
        assert_eq!(format!("{}", Shape::SCALAR), "()");
        assert_eq!(
            format!("{}", Shape::new(&[None, None, None, Some(3)]).unwrap()),
            "(None, None, None, 3)"
        );
    }

    #[test]
    fn element_counts() {
        let s = Shape::batched(&[13, 13, 8]).unwrap();
        assert_eq!(s.sample_elements(), Some(1352));
        assert_eq!(s.elements(), None);
        assert_eq!(s.with_dim(0, Some(2)).elements(), Some(2704));
        assert_eq!(
            Shape::new(&[None, None, Some(3)])
                .unwrap()
                .sample_elements(),
            None
        );
    }

    #[test]
    fn rank_is_bounded() {
        assert!(Shape::new(&[Some(1); MAX_RANK + 1]).is_none());
        assert!(Shape::batched(&[1; MAX_RANK]).is_none());
    }
}
