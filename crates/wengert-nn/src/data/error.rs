//! [`DataError`]: why a data set could not be built or loaded, naming the file and the place
//! in it (a 1-based CSV line, or an IDX header field).

use super::{Position, TestSize};
use std::io;
use std::path::PathBuf;
use wengert_tape::Shape;

/// Why a data set could not be built or loaded.
///
/// Every variant that comes from a file carries its path; CSV variants add the 1-based line
/// (and column), IDX variants the header field or the 1-based record. The messages read as one sentence:
///
/// ```
/// use wengert_nn::data::DataError;
/// let error = DataError::WrongColumnCount { path: "digits.csv.gz".into(), line: 17, expected: 65, found: 64 };
/// assert_eq!(error.to_string(), "digits.csv.gz line 17: expected 65 columns, found 64");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },

    /// The file starts like gzip (bytes `1f 8b`) but its stream is truncated or corrupt.
    #[error("{}: broken gzip stream (truncated or corrupt): {source}", .path.display())]
    Gzip { path: PathBuf, source: io::Error },

    /// The file (after decompression) holds no samples.
    #[error("{}: the file holds no samples", .path.display())]
    Empty { path: PathBuf },

    /// A CSV row has another number of columns than the first row.
    #[error("{} line {line}: expected {expected} columns, found {found}", .path.display())]
    WrongColumnCount { path: PathBuf, line: usize, expected: usize, found: usize },

    /// A CSV cell is not a finite number (`column` is 1-based).
    #[error("{} line {line}, column {column}: {text:?} is not a finite number", .path.display())]
    NotANumber { path: PathBuf, line: usize, column: usize, text: String },

    /// A label is a number but not a whole one ([`class_index`](super::class_index)).
    #[error("{} {at}: label {text:?} is not a whole number", .path.display())]
    LabelNotAnInteger { path: PathBuf, at: Position, text: String },

    /// A label is a whole number outside `0..classes` ([`class_index`](super::class_index)),
    /// in a CSV file (`at` is its line) or an IDX labels file (`at` is its record); `label`
    /// holds it exactly up to 2^53.
    ///
    /// ```
    /// use wengert_nn::data::{DataError, Position};
    /// let error = DataError::LabelOutOfRange { path: "labels.idx".into(), at: Position::Record(1), label: 11.0, classes: 10 };
    /// assert_eq!(error.to_string(), "labels.idx record 1: label 11 is out of range for 10 classes (0 to 9)");
    /// ```
    #[error("{} {at}: label {label} is out of range for {classes} classes (0 to {})",
        .path.display(), .classes.saturating_sub(1))]
    LabelOutOfRange { path: PathBuf, at: Position, label: f64, classes: usize },

    /// An IDX file's magic number is not the one its role needs.
    #[error("{}: magic number 0x{found:08x}, expected 0x{expected:08x} ({what})", .path.display())]
    BadMagic { path: PathBuf, what: &'static str, expected: u32, found: u32 },

    /// An IDX file ends before the bytes of `field` its header promises.
    #[error("{}: {field} needs {expected} bytes, the file has {found}", .path.display())]
    ShortRead { path: PathBuf, field: &'static str, expected: u64, found: u64 },

    /// An IDX file holds more bytes than its header promises.
    #[error("{}: {extra} bytes after the {expected} the header promises", .path.display())]
    TrailingBytes { path: PathBuf, expected: u64, extra: u64 },

    /// An IDX images file and its labels file hold different numbers of samples.
    #[error("{} holds {images} images but {} holds {labels} labels", .images_path.display(), .labels_path.display())]
    CountMismatch { images_path: PathBuf, images: usize, labels_path: PathBuf, labels: usize },

    /// [`Dataset::new`](super::Dataset::new): the features' rows and the labels differ in number.
    #[error("features have {rows} rows but there are {labels} labels")]
    LengthMismatch { rows: usize, labels: usize },

    /// A train/test split was asked for a fraction outside `[0, 1]` or more test samples
    /// than there are.
    #[error("a test {test} does not fit {samples} samples (a fraction must be in [0, 1], a count at most {samples})")]
    InvalidTestSize { test: TestSize, samples: usize },

    /// [`Dataset::new`](super::Dataset::new): the features are not a matrix `[n x d]`.
    #[error("features must be a matrix [n x d], not {shape}")]
    NotAMatrix { shape: Shape },
}
