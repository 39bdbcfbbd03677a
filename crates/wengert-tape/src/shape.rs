//! Shapes: a scalar, a vector `[n]` or a matrix `[rows x cols]`, stored row-major.

use std::fmt;

/// The shape of a value on the tape: rank 0 (a scalar), 1 (`[n]`) or 2 (`[rows x cols]`).
///
/// Every value is stored row-major, so a vector `[n]` has the memory layout of a `[1 x n]`
/// row, which is how `add_bias` and `matmul` read it.
///
/// # Examples
///
/// ```
/// use wengert_tape::Shape;
/// let s = Shape::matrix(32, 784);
/// assert_eq!((s.rows(), s.cols(), s.numel()), (32, 784, 25_088));
/// assert_eq!(s.to_string(), "[32 x 784]");
/// assert_eq!(Shape::vector(10).to_string(), "[10]");
/// assert_eq!(Shape::scalar().numel(), 1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [u32; 2],
    rank: u8,
}

impl Shape {
    /// The shape of a single number.
    pub const fn scalar() -> Self {
        Shape { dims: [1, 1], rank: 0 }
    }

    /// A vector of `n` elements.
    ///
    /// # Panics
    ///
    /// If `n` does not fit in 32 bits.
    #[track_caller]
    pub fn vector(n: usize) -> Self {
        Shape { dims: [1, dim(n)], rank: 1 }
    }

    /// A `rows x cols` matrix.
    ///
    /// # Panics
    ///
    /// If a dimension does not fit in 32 bits.
    #[track_caller]
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape { dims: [dim(rows), dim(cols)], rank: 2 }
    }

    /// 0 for a scalar, 1 for a vector, 2 for a matrix.
    pub const fn rank(self) -> usize {
        self.rank as usize
    }

    /// Rows when read as a matrix: a scalar and a vector are one row.
    pub const fn rows(self) -> usize {
        self.dims[0] as usize
    }

    /// Columns when read as a matrix: a vector `[n]` has `n`, a scalar 1.
    pub const fn cols(self) -> usize {
        self.dims[1] as usize
    }

    /// The number of elements.
    pub const fn numel(self) -> usize {
        self.rows() * self.cols()
    }

    /// True for the rank-0 shape.
    pub const fn is_scalar(self) -> bool {
        self.rank == 0
    }

    /// The dimensions as a slice: `[]`, `[n]` or `[rows, cols]`.
    pub fn dims(&self) -> Vec<usize> {
        match self.rank {
            0 => vec![],
            1 => vec![self.cols()],
            _ => vec![self.rows(), self.cols()],
        }
    }
}

#[track_caller]
fn dim(n: usize) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| panic!("shape: dimension {n} does not fit in 32 bits"))
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rank {
            0 => write!(f, "[]"),
            1 => write!(f, "[{}]", self.cols()),
            _ => write!(f, "[{} x {}]", self.rows(), self.cols()),
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
