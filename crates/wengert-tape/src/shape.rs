//! Shapes of rank 0 to [`Shape::MAX_RANK`], stored row-major: a scalar, a vector `[n]`, a
//! matrix `[rows x cols]` packed in one word, and larger ranks interned in a process-wide
//! table that the word points to (`interned.rs`), so that a node stays 40 bytes and rank <= 2
//! pays nothing for them.

use crate::interned;
use std::fmt;
use std::ops::Deref;

/// The shape of a value on the tape: rank 0 (a scalar), 1 (`[n]`), 2 (`[rows x cols]`), or up
/// to [`Shape::MAX_RANK`] (`[batch x channels x height x width]`).
///
/// Every value is stored row-major, so a vector `[n]` has the memory layout of a `[1 x n]`
/// row, which is how `add_bias` and `matmul` read it. Any shape can be read as a matrix:
/// [`Shape::cols`] is the last dimension and [`Shape::rows`] the product of the others (the
/// view row-wise ops such as `softmax` and `add_bias` take).
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
///
/// let images = Shape::new(&[64, 1, 28, 28]);
/// assert_eq!((images.rank(), images.numel(), images.dim(1)), (4, 50_176, 1));
/// assert_eq!((images.rows(), images.cols()), (64 * 28, 28));
/// assert_eq!(images.to_string(), "[64 x 1 x 28 x 28]");
/// assert_eq!(images.dims(), [64, 1, 28, 28]);
/// assert_eq!(Shape::new(&[3, 4]), Shape::matrix(3, 4));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Rank <= 2: columns in bits 0..32, rows in bits 32..62, the rank in bits 62..64: one
    /// machine word, so that a handle carrying a shape is copied with whole-word loads and
    /// stores (a word loaded over narrower stores cannot be forwarded from them, and stalls
    /// every op). Rank >= 3 ([`EXTENDED`] in bits 62..64): the element count in bits 0..32,
    /// and `id << 3 | rank` in bits 32..62, `id` the dimensions' entry in the interned table.
    /// Equal dimensions always get the same id, so equal shapes have equal words.
    packed: u64,
}

const COLS_BITS: u32 = 32;
const ROWS_BITS: u32 = 30;
const ROWS_MASK: u64 = (1 << ROWS_BITS) - 1;
/// The rank field's value for a shape of rank 3 or more.
const EXTENDED: u64 = 3;
/// Bits of the rows field that hold an extended shape's rank.
const RANK_BITS: u32 = 3;
/// The rows and columns fields, below the rank field.
const FIELDS_MASK: u64 = (1 << (COLS_BITS + ROWS_BITS)) - 1;
/// The fields of a one-element shape of rank <= 2: one row, one column.
const ONE_BY_ONE: u64 = 1 << COLS_BITS | 1;

impl Shape {
    /// The most rows a matrix can have: 2^30 - 1 (two bits of the word hold the rank).
    pub const MAX_ROWS: usize = ROWS_MASK as usize;

    /// The most columns a matrix, or elements a vector, can have: 2^32 - 1.
    pub const MAX_COLS: usize = u32::MAX as usize;

    /// The highest rank a shape can have.
    pub const MAX_RANK: usize = 6;

    /// The most elements a shape of rank 3 or more can hold: 2^32 - 1.
    pub const MAX_NUMEL_EXTENDED: usize = u32::MAX as usize;

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

    /// The shape with these dimensions, outermost first: `&[]` is a scalar, `&[n]` a vector,
    /// `&[rows, cols]` a matrix, `&[n, c, h, w]` a batch of images.
    ///
    /// # Panics
    ///
    /// If there are more than [`Shape::MAX_RANK`] dimensions, or a rank-2 shape exceeds the
    /// matrix limits, or a shape of rank 3 or more holds more than
    /// [`Shape::MAX_NUMEL_EXTENDED`] elements.
    ///
    /// ```
    /// use wengert_tape::Shape;
    /// assert_eq!(Shape::new(&[]), Shape::scalar());
    /// assert_eq!(Shape::new(&[5]), Shape::vector(5));
    /// assert_eq!(Shape::new(&[2, 3, 4]).numel(), 24);
    /// ```
    #[track_caller]
    pub fn new(dims: &[usize]) -> Self {
        match *dims {
            [] => Shape::scalar(),
            [n] => Shape::vector(n),
            [rows, cols] => Shape::matrix(rows, cols),
            _ => {
                assert!(
                    dims.len() <= Shape::MAX_RANK,
                    "shape: {} dimensions exceed the highest rank, {}",
                    dims.len(),
                    Shape::MAX_RANK
                );
                let numel = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                let numel = match numel.and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => u64::from(n),
                    None => panic!(
                        "shape: {} holds more than {} elements, the most a shape of rank 3 or more can",
                        Dims::from_slice(dims),
                        Shape::MAX_NUMEL_EXTENDED
                    ),
                };
                let id = u64::from(interned::intern(Dims::from_slice(dims)));
                Shape { packed: numel | (id << RANK_BITS | dims.len() as u64) << COLS_BITS | EXTENDED << 62 }
            }
        }
    }

    /// True for a shape of rank 3 or more (its dimensions live in the interned table).
    #[inline(always)]
    const fn is_extended(self) -> bool {
        self.packed >> (COLS_BITS + ROWS_BITS) == EXTENDED
    }

    /// The number of dimensions: 0 for a scalar, 1 for a vector, 2 for a matrix, up to
    /// [`Shape::MAX_RANK`].
    #[inline(always)]
    pub const fn rank(self) -> usize {
        if self.is_extended() {
            (self.rows_field() & ((1 << RANK_BITS) - 1)) as usize
        } else {
            (self.packed >> (COLS_BITS + ROWS_BITS)) as usize
        }
    }

    #[inline(always)]
    const fn rows_field(self) -> u64 {
        (self.packed >> COLS_BITS) & ROWS_MASK
    }

    /// Rows when read as a matrix: a scalar and a vector are one row; a shape of rank 3 or
    /// more has the product of all its dimensions but the last.
    #[inline(always)]
    pub fn rows(self) -> usize {
        if self.is_extended() {
            self.numel().checked_div(self.cols()).unwrap_or_else(|| self.dims()[..self.rank() - 1].iter().product())
        } else {
            self.rows_field() as usize
        }
    }

    /// Columns when read as a matrix: a vector `[n]` has `n`, a scalar 1, any other shape its
    /// last dimension.
    #[inline(always)]
    pub fn cols(self) -> usize {
        if self.is_extended() {
            self.extended_dims().last()
        } else {
            self.packed as u32 as usize
        }
    }

    /// The number of elements.
    #[inline(always)]
    pub const fn numel(self) -> usize {
        if self.is_extended() {
            self.packed as u32 as usize
        } else {
            self.rows_field() as usize * (self.packed as u32 as usize)
        }
    }

    /// True for a one-element shape of rank <= 2: `[]`, `[1]` or `[1 x 1]`. The scalar
    /// tape's test (one mask and compare of the word, no branch on the rank), and the one
    /// test that decides which nodes are recorded and swept as scalars.
    ///
    /// ```
    /// use wengert_tape::Shape;
    /// assert!(Shape::scalar().is_one_by_one() && Shape::vector(1).is_one_by_one());
    /// assert!(Shape::matrix(1, 1).is_one_by_one());
    /// assert!(!Shape::vector(2).is_one_by_one() && !Shape::matrix(1, 3).is_one_by_one());
    /// // One element, but rank 3: recorded and swept as a tensor.
    /// assert!(!Shape::new(&[1, 1, 1]).is_one_by_one());
    /// ```
    #[inline(always)]
    pub const fn is_one_by_one(self) -> bool {
        // An extended shape never matches: its rows field ends in its rank, 3 or more.
        self.packed & FIELDS_MASK == ONE_BY_ONE
    }

    /// Of two shapes that are both [`Shape::is_one_by_one`], the one of higher rank:
    /// `[]` and `[1 x 1]` give `[1 x 1]`.
    #[inline(always)]
    pub(crate) const fn higher_rank_one_by_one(self, other: Shape) -> Shape {
        // Their fields are equal, so the words order as the rank bits above the fields.
        if self.packed >= other.packed {
            self
        } else {
            other
        }
    }

    /// True for the rank-0 shape.
    pub const fn is_scalar(self) -> bool {
        self.rank() == 0
    }

    const fn pack(rows: u64, cols: u64, rank: u64) -> Self {
        Shape { packed: cols | rows << COLS_BITS | rank << (COLS_BITS + ROWS_BITS) }
    }

    #[cold]
    fn extended_dims(self) -> Dims {
        interned::dims((self.rows_field() >> RANK_BITS) as u32)
    }

    /// The dimensions, outermost first: `[]`, `[n]`, `[rows, cols]`, `[n, c, h, w]`. A
    /// `Copy` array that reads as a slice; it does not allocate.
    pub fn dims(self) -> Dims {
        match self.rank() {
            0 => Dims::from_slice(&[]),
            1 => Dims::from_slice(&[self.cols()]),
            2 => Dims::from_slice(&[self.rows(), self.cols()]),
            _ => self.extended_dims(),
        }
    }

    /// The size of dimension `axis`.
    ///
    /// # Panics
    ///
    /// If `axis >= self.rank()`.
    ///
    /// ```
    /// use wengert_tape::Shape;
    /// assert_eq!(Shape::matrix(2, 3).dim(1), 3);
    /// ```
    #[track_caller]
    pub fn dim(self, axis: usize) -> usize {
        let dims = self.dims();
        assert!(axis < dims.len(), "shape: axis {axis} is out of range for {self} (rank {})", dims.len());
        dims[axis]
    }
}

/// The dimensions of a [`Shape`], outermost first: a small `Copy` array that derefs to a
/// slice, so reading them allocates nothing.
///
/// ```
/// use wengert_tape::Shape;
/// let dims = Shape::new(&[2, 3, 4]).dims();
/// assert_eq!((dims.len(), dims[2], dims.iter().product::<usize>()), (3, 4, 24));
/// assert_eq!(dims.to_vec(), vec![2, 3, 4]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dims {
    rank: u8,
    /// The dimensions, zeros past `rank` (so that equal dimensions compare and hash equal).
    dims: [usize; Shape::MAX_RANK],
}

impl Dims {
    /// # Panics
    ///
    /// If there are more than [`Shape::MAX_RANK`] dimensions.
    #[track_caller]
    pub(crate) fn from_slice(dims: &[usize]) -> Dims {
        assert!(
            dims.len() <= Shape::MAX_RANK,
            "shape: {} dimensions exceed the highest rank, {}",
            dims.len(),
            Shape::MAX_RANK
        );
        let mut out = Dims { rank: dims.len() as u8, dims: [0; Shape::MAX_RANK] };
        out.dims[..dims.len()].copy_from_slice(dims);
        out
    }

    fn last(&self) -> usize {
        self.as_slice().last().copied().unwrap_or(1)
    }

    /// The dimensions as a slice.
    pub fn as_slice(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }
}

impl Deref for Dims {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        self.as_slice()
    }
}

impl<const N: usize> PartialEq<[usize; N]> for Dims {
    fn eq(&self, other: &[usize; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<usize>> for Dims {
    fn eq(&self, other: &Vec<usize>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<&[usize]> for Dims {
    fn eq(&self, other: &&[usize]) -> bool {
        self.as_slice() == *other
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.iter().enumerate() {
            if i > 0 {
                write!(f, " x ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
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
            2 => write!(f, "[{} x {}]", self.rows(), self.cols()),
            _ => fmt::Display::fmt(&self.dims(), f),
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

    #[test]
    fn higher_ranks_round_trip_and_compare_by_their_dimensions() {
        let a = Shape::new(&[2, 3, 4]);
        assert_eq!((a.rank(), a.numel(), a.rows(), a.cols()), (3, 24, 6, 4));
        assert_eq!(a.dims(), [2, 3, 4]);
        // Interned: the same dimensions give the same word, others another.
        assert_eq!(a, Shape::new(&[2, 3, 4]));
        assert_ne!(a, Shape::new(&[3, 2, 4]));
        assert_ne!(a, Shape::new(&[1, 2, 3, 4]));
        assert_ne!(Shape::new(&[6, 4]), a);
        let b = Shape::new(&[1, 2, 3, 4, 5, 6]);
        assert_eq!((b.rank(), b.numel(), b.cols(), b.rows()), (6, 720, 6, 120));
        assert_eq!(b.to_string(), "[1 x 2 x 3 x 4 x 5 x 6]");
        // Empty dimensions: no elements, and rows still the product of the leading ones.
        let e = Shape::new(&[2, 3, 0]);
        assert_eq!((e.numel(), e.rows(), e.cols()), (0, 6, 0));
        // Shapes made on other threads share the table.
        let other = std::thread::spawn(|| Shape::new(&[2, 3, 4])).join().unwrap();
        assert_eq!(other, a);
    }

    #[test]
    #[should_panic(expected = "shape: 7 dimensions exceed the highest rank, 6")]
    fn too_many_dimensions_panic_naming_the_limit() {
        let _ = Shape::new(&[1; 7]);
    }

    #[test]
    #[should_panic(expected = "shape: [65536 x 65536 x 2] holds more than 4294967295 elements")]
    fn too_many_elements_at_a_high_rank_panic_naming_the_limit() {
        let _ = Shape::new(&[65536, 65536, 2]);
    }
}
