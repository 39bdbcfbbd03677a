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
/// assert_eq!((Shape::MAX_ROWS, Shape::MAX_COLS), ((1 << 30) - 1, (1 << 32) - 1));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Columns in bits 0..32, rows in bits 32..62, the rank in bits 62..64: one machine word,
    /// so that a handle carrying a shape is copied with whole-word loads and stores (a word
    /// loaded over narrower stores cannot be forwarded from them, and stalls every op).
    packed: u64,
}

const COLS_BITS: u32 = 32;
const ROWS_BITS: u32 = 30;
const ROWS_MASK: u64 = (1 << ROWS_BITS) - 1;

impl Shape {
    /// The most rows a matrix can have: 2^30 - 1 (two bits of the word hold the rank).
    pub const MAX_ROWS: usize = ROWS_MASK as usize;

    /// The most columns a matrix, or elements a vector, can have: 2^32 - 1.
    pub const MAX_COLS: usize = u32::MAX as usize;

    /// The shape of a single number.
    pub const fn scalar() -> Self {
        Shape::pack(1, 1, 0)
    }

    /// A vector of `n` elements.
    ///
    /// # Panics
    ///
    /// If `n` exceeds [`Shape::MAX_COLS`].
    #[track_caller]
    pub fn vector(n: usize) -> Self {
        Shape::pack(1, cols_of(n), 1)
    }

    /// A `rows x cols` matrix.
    ///
    /// # Panics
    ///
    /// If `rows` exceeds [`Shape::MAX_ROWS`] or `cols` [`Shape::MAX_COLS`].
    #[track_caller]
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Shape::pack(rows_of(rows), cols_of(cols), 2)
    }

    /// 0 for a scalar, 1 for a vector, 2 for a matrix.
    pub const fn rank(self) -> usize {
        (self.packed >> (COLS_BITS + ROWS_BITS)) as usize
    }

    /// Rows when read as a matrix: a scalar and a vector are one row.
    pub const fn rows(self) -> usize {
        ((self.packed >> COLS_BITS) & ROWS_MASK) as usize
    }

    /// Columns when read as a matrix: a vector `[n]` has `n`, a scalar 1.
    pub const fn cols(self) -> usize {
        self.packed as u32 as usize
    }

    /// The number of elements.
    pub const fn numel(self) -> usize {
        self.rows() * self.cols()
    }

    /// True for the rank-0 shape.
    pub const fn is_scalar(self) -> bool {
        self.rank() == 0
    }

    const fn pack(rows: u64, cols: u64, rank: u64) -> Self {
        Shape { packed: cols | rows << COLS_BITS | rank << (COLS_BITS + ROWS_BITS) }
    }

    /// The dimensions as a slice: `[]`, `[n]` or `[rows, cols]`.
    pub fn dims(&self) -> Vec<usize> {
        match self.rank() {
            0 => vec![],
            1 => vec![self.cols()],
            _ => vec![self.rows(), self.cols()],
        }
    }
}

#[track_caller]
fn cols_of(n: usize) -> u64 {
    match u32::try_from(n) {
        Ok(cols) => u64::from(cols),
        Err(_) => panic!("shape: {n} columns exceed the largest, {}", Shape::MAX_COLS),
    }
}

#[track_caller]
fn rows_of(n: usize) -> u64 {
    match u64::try_from(n) {
        Ok(rows) if rows <= ROWS_MASK => rows,
        _ => panic!("shape: {n} rows exceed the largest, {}", Shape::MAX_ROWS),
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rank() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_dimensions_round_trip_through_the_packed_word() {
        let s = Shape::matrix(Shape::MAX_ROWS, Shape::MAX_COLS);
        assert_eq!((s.rank(), s.rows(), s.cols()), (2, (1 << 30) - 1, (1 << 32) - 1));
        let v = Shape::vector(Shape::MAX_COLS);
        assert_eq!((v.rank(), v.rows(), v.cols()), (1, 1, Shape::MAX_COLS));
        assert_eq!((Shape::scalar().rank(), Shape::scalar().rows(), Shape::scalar().cols()), (0, 1, 1));
        // Rank tells the three one-element shapes apart.
        assert_ne!(Shape::scalar(), Shape::vector(1));
        assert_ne!(Shape::vector(1), Shape::matrix(1, 1));
    }

    #[test]
    #[should_panic(expected = "shape: 1073741824 rows exceed the largest, 1073741823")]
    fn too_many_rows_panic_naming_the_limit() {
        let _ = Shape::matrix(1 << 30, 1);
    }

    #[test]
    #[should_panic(expected = "shape: 4294967296 columns exceed the largest, 4294967295")]
    fn too_many_columns_panic_naming_the_limit() {
        let _ = Shape::vector(1 << 32);
    }
}
