//! [`load_idx`]: MNIST's IDX files (gzip-compressed or not), an images file of u8 pixels
//! `[count x rows x cols]` and a labels file of u8 labels `[count]`, sizes big-endian.

use super::label::check_label;
use super::read::read_maybe_gzip;
use super::{DataError, Dataset, Position};
use std::path::Path;
use wengert_tape::{Shape, Tensor};

/// The magic number of an IDX file of u8 (type `0x08`) with 3 dimensions: images.
///
/// ```
/// assert_eq!(wengert_nn::data::IDX_IMAGES_MAGIC.to_be_bytes(), [0, 0, 0x08, 3]);
/// ```
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of u8 (type `0x08`) with 1 dimension: labels.
///
/// ```
/// assert_eq!(wengert_nn::data::IDX_LABELS_MAGIC.to_be_bytes(), [0, 0, 0x08, 1]);
/// ```
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Loads an MNIST-style pair of IDX files: features `[count x rows*cols]` holding the grey
/// levels 0-255 as f32 (call [`Dataset::scale`] with `1.0 / 255.0` for [0, 1]), and the
/// labels, each a class index in `0..num_classes` as [`class_index`](super::class_index)
/// defines it (the rule [`load_csv`](super::load_csv) applies too).
///
/// The images file is the magic `0x00000803` then `count`, `rows` and `cols` (u32
/// big-endian) then `count * rows * cols` pixel bytes; the labels file is the magic
/// `0x00000801` then `count` then `count` label bytes. Either file may be gzip-compressed
/// (recognised by its first bytes `1f 8b`).
///
/// # Errors
///
/// [`DataError::Io`] and [`DataError::Gzip`] as for any file; [`DataError::Empty`] for an
/// empty file or a count of 0; [`DataError::BadMagic`] for a wrong magic number (such as
/// the two files swapped); [`DataError::ShortRead`] naming the header field (`"magic"`,
/// `"count"`, `"rows"`, `"cols"`) or the data (`"pixels"`, `"labels"`) that the file ends
/// before; [`DataError::TrailingBytes`] if it holds more than its header promises;
/// [`DataError::CountMismatch`] if the two counts differ; and [`DataError::LabelOutOfRange`]
/// naming the labels file and the 1-based [`Position::Record`] of the first label that is
/// not below `num_classes`.
///
/// # Examples
///
/// ```
/// use wengert_nn::data::{load_idx, DataError, Position};
/// let dir = std::env::temp_dir().join(format!("wengert-doc-idx-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).map_err(|source| DataError::Io { path: dir.clone(), source })?;
/// let write = |name: &str, bytes: &[u8]| {
///     let path = dir.join(name);
///     std::fs::write(&path, bytes).map_err(|source| DataError::Io { path: path.clone(), source }).map(|()| path)
/// };
/// // Two 1 x 2 images, [0, 255] and [128, 64], labelled 3 and 1.
/// let images = write("images.idx", &[0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 255, 128, 64])?;
/// let labels = write("labels.idx", &[0, 0, 8, 1, 0, 0, 0, 2, 3, 1])?;
/// let data = load_idx(&images, &labels, 10)?;
/// assert_eq!(data.features().data(), &[0.0, 255.0, 128.0, 64.0]);
/// assert_eq!(data.labels(), &[3, 1]);
/// let swapped = load_idx(&labels, &images, 10).unwrap_err();
/// assert!(matches!(swapped, DataError::BadMagic { expected: 0x803, found: 0x801, .. }));
/// // With 3 classes, the first label (3) is out of range.
/// let error = load_idx(&images, &labels, 3).unwrap_err();
/// assert!(matches!(error, DataError::LabelOutOfRange { at: Position::Record(1), classes: 3, .. }));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), DataError>(())
/// ```
pub fn load_idx(
    images_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
    let images_bytes = read_maybe_gzip(images_path)?;
    let mut images = Reader::new(images_path, &images_bytes)?;
    images.magic(IDX_IMAGES_MAGIC, "IDX images: u8, 3 dimensions")?;
    let image_count = images.u32("count")?;
    let rows = images.u32("rows")?;
    let cols = images.u32("cols")?;
    let pixel_count = u64::from(image_count).saturating_mul(u64::from(rows)).saturating_mul(u64::from(cols));
    let pixels = images.rest("pixels", pixel_count)?;

    let labels_bytes = read_maybe_gzip(labels_path)?;
    let mut labels = Reader::new(labels_path, &labels_bytes)?;
    labels.magic(IDX_LABELS_MAGIC, "IDX labels: u8, 1 dimension")?;
    let label_count = labels.u32("count")?;
    let label_bytes = labels.rest("labels", u64::from(label_count))?;

    if image_count != label_count {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_owned(),
            images: image_count as usize,
            labels_path: labels_path.to_owned(),
            labels: label_count as usize,
        });
    }
    if image_count == 0 {
        return Err(DataError::Empty { path: images_path.to_owned() });
    }
    let width = rows as usize * cols as usize;
    let features =
        Tensor::new(Shape::matrix(image_count as usize, width), pixels.iter().map(|&p| f32::from(p)).collect());
    let labels = label_bytes
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            check_label(f64::from(label), num_classes, labels_path, Position::Record(index + 1), || label.to_string())
        })
        .collect::<Result<_, _>>()?;
    Ok(Dataset::new(features, labels).expect("one label per image"))
}

/// Reads an IDX header field by field, checking each against the bytes present.
struct Reader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path, bytes: &'a [u8]) -> Result<Self, DataError> {
        if bytes.is_empty() {
            return Err(DataError::Empty { path: path.to_owned() });
        }
        Ok(Reader { path, bytes, offset: 0 })
    }

    /// The next `len` bytes, or a short read naming `field`.
    fn take(&mut self, field: &'static str, len: u64) -> Result<&'a [u8], DataError> {
        let end = (self.offset as u64).saturating_add(len);
        if end > self.bytes.len() as u64 {
            return Err(DataError::ShortRead {
                path: self.path.to_owned(),
                field,
                expected: end,
                found: self.bytes.len() as u64,
            });
        }
        let slice = &self.bytes[self.offset..end as usize];
        self.offset = end as usize;
        Ok(slice)
    }

    /// A big-endian u32 header field.
    fn u32(&mut self, field: &'static str) -> Result<u32, DataError> {
        let bytes = self.take(field, 4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn magic(&mut self, expected: u32, what: &'static str) -> Result<(), DataError> {
        let found = self.u32("magic")?;
        if found != expected {
            return Err(DataError::BadMagic { path: self.path.to_owned(), what, expected, found });
        }
        Ok(())
    }

    /// The `len` data bytes that must end the file exactly.
    fn rest(&mut self, field: &'static str, len: u64) -> Result<&'a [u8], DataError> {
        let data = self.take(field, len)?;
        let extra = (self.bytes.len() - self.offset) as u64;
        if extra > 0 {
            return Err(DataError::TrailingBytes { path: self.path.to_owned(), expected: self.offset as u64, extra });
        }
        Ok(data)
    }
}
