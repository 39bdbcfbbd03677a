//! What a class label is, defined once for every loader: a whole number in `0..classes`.
//! [`class_index`] is the rule; the loaders turn its verdict into a [`DataError`] that names
//! the file and the [`Position`] of the record, so CSV and IDX refuse a label alike.

use super::DataError;
use std::fmt;
use std::path::Path;

/// Why a number is not a class label for a given number of classes.
///
/// ```
/// use wengert_nn::data::{class_index, InvalidLabel};
/// assert_eq!(class_index(2.5, 10), Err(InvalidLabel::NotWhole));
/// assert_eq!(class_index(10.0, 10), Err(InvalidLabel::OutOfRange));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidLabel {
    /// The number has a fractional part (or is not finite).
    NotWhole,
    /// The number is whole but negative, or at least the number of classes.
    OutOfRange,
}

/// The class that `label` names, if it is a valid label for `classes` classes: a whole
/// number from 0 to `classes - 1`. This is the one definition every loader applies.
///
/// `label` is an `f64` so that any source fits it exactly: a CSV cell, an IDX byte. A whole
/// number written as `3.0` is the class 3.
///
/// # Errors
///
/// [`InvalidLabel::NotWhole`] for a fractional or non-finite number,
/// [`InvalidLabel::OutOfRange`] for a whole number outside `0..classes` (every number, if
/// `classes` is 0).
///
/// # Examples
///
/// ```
/// use wengert_nn::data::{class_index, InvalidLabel};
/// assert_eq!(class_index(0.0, 10), Ok(0));
/// assert_eq!(class_index(9.0, 10), Ok(9));
/// assert_eq!(class_index(11.0, 10), Err(InvalidLabel::OutOfRange));
/// assert_eq!(class_index(-1.0, 10), Err(InvalidLabel::OutOfRange));
/// assert_eq!(class_index(f64::NAN, 10), Err(InvalidLabel::NotWhole));
/// ```
pub fn class_index(label: f64, classes: usize) -> Result<usize, InvalidLabel> {
    if !label.is_finite() || label.fract() != 0.0 {
        return Err(InvalidLabel::NotWhole);
    }
    // `classes as f64` rounds only past 2^53 classes, far beyond any data set.
    if label < 0.0 || label >= classes as f64 {
        return Err(InvalidLabel::OutOfRange);
    }
    Ok(label as usize)
}

/// Where a record sits in a data file: a CSV line or an IDX record, both counted from 1.
///
/// ```
/// use wengert_nn::data::Position;
/// assert_eq!(Position::Line(17).to_string(), "line 17");
/// assert_eq!(Position::Record(3).to_string(), "record 3");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// A 1-based line of a text file (blank lines count).
    Line(usize),
    /// A 1-based record of a binary file: the n-th label of an IDX labels file.
    Record(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(line) => write!(f, "line {line}"),
            Position::Record(record) => write!(f, "record {record}"),
        }
    }
}

/// [`class_index`], with a refusal as the loaders report it; `text` is the label as written
/// in the file (for the not-whole message).
pub(super) fn check_label(
    label: f64,
    classes: usize,
    path: &Path,
    at: Position,
    text: impl FnOnce() -> String,
) -> Result<usize, DataError> {
    class_index(label, classes).map_err(|invalid| match invalid {
        InvalidLabel::NotWhole => DataError::LabelNotAnInteger { path: path.to_owned(), at, text: text() },
        InvalidLabel::OutOfRange => DataError::LabelOutOfRange { path: path.to_owned(), at, label, classes },
    })
}
