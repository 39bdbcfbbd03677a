//! [`load_csv`]: a CSV file (gzip-compressed or not) of `d` feature columns then the label
//! as the last column, no header. Parses the bytes in place: nothing is allocated per cell.

use super::label::check_label;
use super::read::read_maybe_gzip;
use super::{DataError, Dataset, Position};
use std::path::Path;
use wengert_tape::{Shape, Tensor};

/// Loads a CSV data set: every row is `d` feature columns then a label in `0..num_classes`
/// as the last column, comma-separated, with no header (the format of the project's
/// `examples/data/*.csv.gz`). The file may be gzip-compressed: it is recognised by its
/// first bytes (`1f 8b`), not its name.
///
/// Cells may carry spaces around them and lines may end in `\r\n`; blank lines are
/// skipped. A feature must parse as a finite f32; a label must be a class index as
/// [`class_index`](super::class_index) defines it, a whole number in `0..num_classes`
/// (`3` or `3.0`). All rows must have as many columns as the first.
///
/// # Errors
///
/// [`DataError::Io`] if the file cannot be read, [`DataError::Gzip`] for a truncated or
/// corrupt gzip stream, [`DataError::Empty`] if there is no row, and, naming the 1-based
/// line, [`DataError::WrongColumnCount`], [`DataError::NotANumber`] (with the 1-based column),
/// [`DataError::LabelNotAnInteger`] and [`DataError::LabelOutOfRange`] (at
/// [`Position::Line`](super::Position::Line)).
///
/// # Examples
///
/// ```
/// use wengert_nn::data::{load_csv, DataError};
/// let dir = std::env::temp_dir().join(format!("wengert-doc-csv-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).map_err(|source| DataError::Io { path: dir.clone(), source })?;
/// let path = dir.join("tiny.csv");
/// std::fs::write(&path, "0,16,1\n8,4,0\n").map_err(|source| DataError::Io { path: path.clone(), source })?;
/// let data = load_csv(&path, 10)?;
/// assert_eq!(data.features().data(), &[0.0, 16.0, 8.0, 4.0]);
/// assert_eq!(data.labels(), &[1, 0]);
///
/// std::fs::write(&path, "0,16,1\n8,4\n").map_err(|source| DataError::Io { path: path.clone(), source })?;
/// let error = load_csv(&path, 10).unwrap_err();
/// assert_eq!(error.to_string(), format!("{} line 2: expected 3 columns, found 2", path.display()));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), DataError>(())
/// ```
pub fn load_csv(path: impl AsRef<Path>, num_classes: usize) -> Result<Dataset, DataError> {
    let path = path.as_ref();
    parse_csv(&read_maybe_gzip(path)?, path, num_classes)
}

/// Parses CSV bytes; `path` only names the file in errors.
fn parse_csv(bytes: &[u8], path: &Path, num_classes: usize) -> Result<Dataset, DataError> {
    let mut columns = 0;
    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<usize> = Vec::new();
    for (line_index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        let line_number = line_index + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let found = 1 + line.iter().filter(|&&byte| byte == b',').count();
        if labels.is_empty() {
            columns = found;
            // At most one row per line, and at most one feature per two bytes (a digit and
            // its comma): without the second bound, a wide first row over many short lines
            // would reserve lines x columns, far more than the file holds.
            let rows_bound = 1 + bytes.iter().filter(|&&byte| byte == b'\n').count();
            features.reserve(rows_bound.saturating_mul(columns - 1).min(bytes.len() / 2 + 1));
            labels.reserve(rows_bound);
        } else if found != columns {
            return Err(DataError::WrongColumnCount {
                path: path.to_owned(),
                line: line_number,
                expected: columns,
                found,
            });
        }
        let mut cells = line.split(|&byte| byte == b',');
        for (column_index, cell) in cells.by_ref().take(columns - 1).enumerate() {
            let value = parse_finite(cell).ok_or_else(|| not_a_number(path, line_number, column_index + 1, cell))?;
            features.push(value);
        }
        let cell = cells.next().unwrap_or_default();
        let label = parse_finite_f64(cell).ok_or_else(|| not_a_number(path, line_number, columns, cell))?;
        labels.push(check_label(label, num_classes, path, Position::Line(line_number), || {
            String::from_utf8_lossy(cell).trim().to_owned()
        })?);
    }
    if labels.is_empty() {
        return Err(DataError::Empty { path: path.to_owned() });
    }
    Ok(Dataset::new(Tensor::new(Shape::matrix(labels.len(), columns - 1), features), labels)
        .expect("one label per parsed row"))
}

/// The cell as a finite f32, spaces around it ignored.
fn parse_finite(cell: &[u8]) -> Option<f32> {
    let value: f32 = std::str::from_utf8(cell).ok()?.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

/// The cell as a finite f64 (for labels, so that large whole numbers stay exact).
fn parse_finite_f64(cell: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(cell).ok()?.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

fn not_a_number(path: &Path, line: usize, column: usize, cell: &[u8]) -> DataError {
    let text = String::from_utf8_lossy(cell).trim().to_owned();
    DataError::NotANumber { path: path.to_owned(), line, column, text }
}
