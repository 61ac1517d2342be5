//! Tensor shapes with Keras's conventions: the first axis is the batch, any axis may be
//! unknown (`None`), and a shape prints as the Python tuple Keras shows (`(None, 26, 26, 8)`).

use core::fmt;

/// The largest rank kiln handles (batch axis included). Keras image models use 4.
pub const MAX_RANK: usize = 6;

/// One axis: `None` when it is only known at run time, as in `Input(shape=(None, None, 3))`.
pub type Dim = Option<u32>;

/// The axes of a shape, by value.
pub type Dims = heapless::Vec<Dim, MAX_RANK>;

/// Marks an unknown axis in storage, so no axis may have this size.
const UNKNOWN: u32 = u32::MAX;

/// The largest size one axis may have.
pub const MAX_DIM: u32 = u32::MAX - 1;

/// Why a shape cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// More than [`MAX_RANK`] axes.
    Rank {
        /// The rank asked for.
        rank: usize,
    },
    /// An axis over [`MAX_DIM`].
    Axis {
        /// Which axis (batch axis 0).
        axis: usize,
        /// The size asked for.
        size: u32,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ShapeError::Rank { rank } => write!(
                f,
                "a shape of rank {rank} is above kiln's limit of {MAX_RANK} axes (batch included)"
            ),
            ShapeError::Axis { axis, size } => write!(
                f,
                "axis {axis} of size {size} is above kiln's limit of {MAX_DIM}"
            ),
        }
    }
}

impl core::error::Error for ShapeError {}

/// A tensor shape of rank at most [`MAX_RANK`], batch axis first. Stored as plain `u32`s
/// (28 bytes): shapes sit in every node and error of a graph that may live in a
/// microcontroller's RAM.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [u32; MAX_RANK],
    rank: u8,
}

fn stored(axis: usize, dim: Dim) -> Result<u32, ShapeError> {
    match dim {
        None => Ok(UNKNOWN),
        Some(size) if size > MAX_DIM => Err(ShapeError::Axis { axis, size }),
        Some(size) => Ok(size),
    }
}

impl Shape {
    /// The rank-0 shape `()`.
    pub const SCALAR: Shape = Shape {
        dims: [UNKNOWN; MAX_RANK],
        rank: 0,
    };

    /// A shape from its axes (`None` for an unknown one).
    pub fn new(dims: &[Dim]) -> Result<Shape, ShapeError> {
        if dims.len() > MAX_RANK {
            return Err(ShapeError::Rank { rank: dims.len() });
        }
        let mut shape = Shape::SCALAR;
        for (axis, (slot, &d)) in shape.dims.iter_mut().zip(dims).enumerate() {
            *slot = stored(axis, d)?;
        }
        shape.rank = dims.len() as u8;
        Ok(shape)
    }

    /// A shape with an unknown batch axis followed by known axes: `(None, *dims)`.
    pub fn batched(dims: &[u32]) -> Result<Shape, ShapeError> {
        if dims.len() + 1 > MAX_RANK {
            return Err(ShapeError::Rank {
                rank: dims.len() + 1,
            });
        }
        let mut shape = Shape::SCALAR;
        for (axis, (slot, &d)) in shape.dims[1..].iter_mut().zip(dims).enumerate() {
            *slot = stored(axis + 1, Some(d))?;
        }
        shape.rank = dims.len() as u8 + 1;
        Ok(shape)
    }

    /// The number of axes, batch axis included.
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

    /// Axis `axis` (batch axis 0); `None` when it is unknown or past the rank.
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
    pub fn with_dim(mut self, axis: usize, dim: Dim) -> Result<Shape, ShapeError> {
        if axis < self.rank() {
            self.dims[axis] = stored(axis, dim)?;
        }
        Ok(self)
    }

    /// Appends an axis.
    pub fn push(mut self, dim: Dim) -> Result<Shape, ShapeError> {
        if self.rank() == MAX_RANK {
            return Err(ShapeError::Rank { rank: MAX_RANK + 1 });
        }
        self.dims[self.rank()] = stored(self.rank(), dim)?;
        self.rank += 1;
        Ok(self)
    }

    /// The same shape with its batch axis replaced: always possible for a batch that is
    /// a known count (`usize` values over [`MAX_DIM`] become unknown, which is what a run
    /// with them is: nothing kiln can index).
    pub fn with_batch(self, batch: Option<u32>) -> Shape {
        self.with_dim(0, batch.filter(|&b| b <= MAX_DIM))
            .unwrap_or(self)
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
        assert_eq!(s.with_dim(0, Some(2)).unwrap().elements(), Some(2704));
        assert_eq!(
            Shape::new(&[None, None, Some(3)])
                .unwrap()
                .sample_elements(),
            None
        );
    }

    #[test]
    fn rank_is_bounded() {
        assert_eq!(
            Shape::new(&[Some(1); MAX_RANK + 1]),
            Err(ShapeError::Rank { rank: MAX_RANK + 1 })
        );
        assert!(Shape::batched(&[1; MAX_RANK]).is_err());
    }

    #[test]
    fn no_axis_silently_becomes_unknown() {
        assert_eq!(
            Shape::new(&[None, Some(u32::MAX)]),
            Err(ShapeError::Axis {
                axis: 1,
                size: u32::MAX
            })
        );
        assert!(Shape::batched(&[u32::MAX]).is_err());
        let s = Shape::batched(&[3]).unwrap();
        assert!(s.with_dim(1, Some(u32::MAX)).is_err());
        assert!(s.push(Some(u32::MAX)).is_err());
        assert_eq!(s.with_dim(1, Some(MAX_DIM)).unwrap().dim(1), Some(MAX_DIM));
    }
}
