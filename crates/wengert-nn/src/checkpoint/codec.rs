//! A [`Checkpoint`] to and from safetensors bytes: tensors as little-endian `F32` or `F64`
//! in row-major order with their dimensions (`[]`, `[n]` or `[rows, cols]`), counters as
//! `I64` scalars, metadata as the header's `__metadata__` string map. Decoding checks
//! everything and never panics.

use super::{Checkpoint, CheckpointError};
use safetensors::tensor::{Metadata, TensorInfo, TensorView};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use wengert_tape::{Real, Shape, Tensor};

/// The safetensors element type of `T` (`Real` is sealed: f32 or f64).
pub(super) fn dtype_of<T: Real>() -> Dtype {
    if std::mem::size_of::<T>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// A dtype as wengert names element types: "f32", "bf16", "i64", ...
fn dtype_name(dtype: Dtype) -> String {
    format!("{dtype:?}").to_lowercase()
}

/// Little-endian bytes of `values`. The casts are identities (T is the type cast to), so
/// every bit survives, NaN payloads included.
fn encode<T: Real>(values: &[T]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(std::mem::size_of_val(values));
    for &value in values {
        match dtype_of::<T>() {
            Dtype::F32 => bytes.extend(value.to_f32().expect("identity cast").to_le_bytes()),
            _ => bytes.extend(value.to_f64().expect("identity cast").to_le_bytes()),
        }
    }
    bytes
}

/// The values whose little-endian bytes are `bytes` (whole elements only: the caller has
/// checked the length). Identity casts, as in [`encode`].
fn decode<T: Real>(bytes: &[u8]) -> Vec<T> {
    match dtype_of::<T>() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|chunk| T::from(f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])).expect("identity cast"))
            .collect(),
        _ => bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut word = [0; 8];
                word.copy_from_slice(chunk);
                T::from(f64::from_le_bytes(word)).expect("identity cast")
            })
            .collect(),
    }
}

impl<T: Real> Checkpoint<T> {
    /// The checkpoint as the bytes of a safetensors file; [`Checkpoint::save`] writes them.
    ///
    /// # Errors
    ///
    /// `Format` if the safetensors encoder refuses the header (it does not for names and
    /// metadata a `Checkpoint` accepts).
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// # fn main() -> Result<(), wengert_nn::checkpoint::CheckpointError> {
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::from_slice(&[1.5_f32, -2.0]));
    /// let bytes = checkpoint.to_bytes()?;
    /// // An 8-byte header length, the JSON header, then 2 x 4 bytes of data.
    /// assert_eq!(&bytes[bytes.len() - 8..], &[0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        self.encode_for(&self.origin)
    }

    /// [`Checkpoint::to_bytes`], with errors naming `path`.
    pub(super) fn encode_for(&self, path: &Path) -> Result<Vec<u8>, CheckpointError> {
        let format_error = |error: safetensors::SafeTensorError| CheckpointError::Format {
            path: path.to_path_buf(),
            message: format!("cannot encode: {error}"),
        };
        let mut encoded: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, tensor)| {
                (name.as_str(), dtype_of::<T>(), tensor.shape().dims().to_vec(), encode(tensor.data()))
            })
            .collect();
        for (name, &count) in &self.counters {
            let count = i64::try_from(count).map_err(|_| CheckpointError::Format {
                path: path.to_path_buf(),
                message: format!("cannot encode counter `{name}` = {count}: an i64 holds at most {}", i64::MAX),
            })?;
            encoded.push((name.as_str(), Dtype::I64, Vec::new(), count.to_le_bytes().to_vec()));
        }
        let mut views = Vec::with_capacity(encoded.len());
        for (name, dtype, dims, bytes) in &encoded {
            views.push((*name, TensorView::new(*dtype, dims.clone(), bytes).map_err(format_error)?));
        }
        let metadata: Option<HashMap<String, String>> =
            (!self.metadata.is_empty()).then(|| self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        safetensors::serialize(views, &metadata).map_err(format_error)
    }

    /// Reads a checkpoint from the bytes of a safetensors file; errors name `path` as the
    /// file the bytes came from, and it becomes the checkpoint's [`Checkpoint::origin`].
    ///
    /// # Errors
    ///
    /// `Format` if the bytes are not a safetensors file (too short, a header that is not
    /// JSON or is cut off, offsets or sizes that disagree with the data, a dimension over
    /// 32 bits); `DtypeMismatch` if a tensor is neither of type `T` nor an `I64`/`U64`
    /// scalar (a counter); `BadCounter` for a negative `I64` counter; `BadRank` if a tensor
    /// has more than `Shape::MAX_RANK` dimensions. The first offending tensor in name order is reported.
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// let error = Checkpoint::<f32>::from_bytes(b"not a checkpoint", "junk.bin").unwrap_err();
    /// assert!(matches!(error, CheckpointError::Format { .. }));
    /// assert!(error.to_string().starts_with("checkpoint junk.bin: not a valid safetensors file"));
    /// ```
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let format_error = |message: String| CheckpointError::Format { path: path.to_path_buf(), message };
        refuse_oversized_numbers(bytes).map_err(format_error)?;
        let (header_len, header) =
            SafeTensors::read_metadata(bytes).map_err(|error| format_error(describe_parse_error(&error)))?;
        let data = bytes.get(8 + header_len..).unwrap_or_default();
        let mut checkpoint = Checkpoint::new();
        checkpoint.origin = path.to_path_buf();
        checkpoint.metadata = header.metadata().clone().unwrap_or_default().into_iter().collect();
        (checkpoint.tensors, checkpoint.counters) = decode_tensors(&header, data, path)?;
        Ok(checkpoint)
    }
}

/// The float tensors and the counters of `header`, checked and decoded, in name order.
type Decoded<T> = (BTreeMap<String, Tensor<T>>, BTreeMap<String, u64>);

/// Every tensor of `header`, checked and decoded: integer scalars become counters.
fn decode_tensors<T: Real>(header: &Metadata, data: &[u8], path: &Path) -> Result<Decoded<T>, CheckpointError> {
    let format_error = |message: String| CheckpointError::Format { path: path.to_path_buf(), message };
    let infos: BTreeMap<String, &TensorInfo> = header.tensors().into_iter().collect();
    let (mut tensors, mut counters) = (BTreeMap::new(), BTreeMap::new());
    for (name, info) in infos {
        if matches!(info.dtype, Dtype::I64 | Dtype::U64) && info.shape.is_empty() {
            let (start, end) = info.data_offsets;
            let bytes = data.get(start..end).filter(|bytes| bytes.len() == 8).ok_or_else(|| {
                format_error(format!("tensor `{name}`: bytes {start}..{end} are not the 8 of one integer"))
            })?;
            let mut word = [0; 8];
            word.copy_from_slice(bytes);
            let count = if info.dtype == Dtype::I64 {
                let signed = i64::from_le_bytes(word);
                u64::try_from(signed).map_err(|_| CheckpointError::BadCounter {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    value: signed.to_string(),
                })?
            } else {
                u64::from_le_bytes(word)
            };
            counters.insert(name, count);
            continue;
        }
        if info.dtype != dtype_of::<T>() {
            let found = dtype_name(info.dtype);
            return Err(CheckpointError::DtypeMismatch { path: path.to_path_buf(), name, expected: T::NAME, found });
        }
        let shape = match *info.shape.as_slice() {
            [] => Shape::scalar(),
            [n] => Shape::vector(fit(n, Shape::MAX_COLS, &name).map_err(format_error)?),
            [rows, cols] => Shape::matrix(
                fit(rows, Shape::MAX_ROWS, &name).map_err(format_error)?,
                fit(cols, Shape::MAX_COLS, &name).map_err(format_error)?,
            ),
            ref dims if dims.len() <= Shape::MAX_RANK => {
                let numel = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                if numel.is_none_or(|n| n > Shape::MAX_NUMEL_EXTENDED) {
                    let most = Shape::MAX_NUMEL_EXTENDED;
                    return Err(format_error(format!(
                        "tensor `{name}`: dimensions {dims:?} hold more than {most} elements"
                    )));
                }
                Shape::new(dims)
            }
            _ => return Err(CheckpointError::BadRank { path: path.to_path_buf(), name, dims: info.shape.clone() }),
        };
        let (start, end) = info.data_offsets;
        let bytes = data
            .get(start..end)
            .ok_or_else(|| format_error(format!("tensor `{name}`: bytes {start}..{end} lie outside the data")))?;
        let expected_len = shape.numel().checked_mul(std::mem::size_of::<T>());
        if expected_len != Some(bytes.len()) {
            return Err(format_error(format!("tensor `{name}`: shape {shape} does not fit its {} bytes", bytes.len())));
        }
        tensors.insert(name, Tensor::new(shape, decode(bytes)));
    }
    Ok((tensors, counters))
}

/// `n` if it is at most `largest`, the most a wengert shape holds in that place.
fn fit(n: usize, largest: usize, name: &str) -> Result<usize, String> {
    if n <= largest {
        Ok(n)
    } else {
        Err(format!("tensor `{name}`: dimension {n} exceeds the largest a shape holds there, {largest}"))
    }
}

/// The safetensors parser's error in words.
fn describe_parse_error(error: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::HeaderTooSmall => "shorter than the 8-byte header length".to_string(),
        E::InvalidHeaderLength => "the header length runs past the end of the file (truncated?)".to_string(),
        E::HeaderTooLarge => "the header length is over 100 MB".to_string(),
        E::InvalidHeader | E::InvalidHeaderStart => "the header is not UTF-8 text".to_string(),
        E::InvalidHeaderDeserialization => "the header is not a safetensors JSON header".to_string(),
        E::MetadataIncompleteBuffer => "the tensors' bytes do not end where the file ends (truncated?)".to_string(),
        E::InvalidOffset(name) => format!("tensor `{name}`: its offsets leave a gap or overlap"),
        E::TensorInvalidInfo => "a tensor's offsets disagree with its shape and dtype".to_string(),
        E::ValidationOverflow => "a tensor's size overflows".to_string(),
        other => other.to_string(),
    }
}

/// Refuses a header holding a number within the file's length of `usize::MAX`.
///
/// The safetensors 0.4 parser adds the last data offset to the header length unchecked, so
/// an offset that close to `usize::MAX` overflows (a panic in debug builds) before the
/// parser can report the file as corrupt. No valid file has such a number: offsets are at
/// most the file length, and dimensions past 32 bits are refused later, by name. Numbers
/// inside JSON strings (names, metadata) are skipped. Headers the parser would reject
/// anyway are left to it.
fn refuse_oversized_numbers(bytes: &[u8]) -> Result<(), String> {
    let Some(length_bytes) = bytes.get(..8) else { return Ok(()) };
    let mut word = [0; 8];
    word.copy_from_slice(length_bytes);
    let header_len = u64::from_le_bytes(word);
    let Some(header) = usize::try_from(header_len).ok().and_then(|n| bytes.get(8..n.checked_add(8)?)) else {
        return Ok(());
    };
    let limit = (usize::MAX as u64).saturating_sub(bytes.len() as u64);
    let (mut in_string, mut escaped) = (false, false);
    let mut number: Option<(usize, u64)> = None; // (start, value) of the digit run being read
    for (i, &byte) in header.iter().chain(std::iter::once(&b' ')).enumerate() {
        if in_string {
            (in_string, escaped) = (escaped || byte != b'"', !escaped && byte == b'\\');
        } else if byte.is_ascii_digit() {
            let (start, value) = number.unwrap_or((i, 0));
            number = Some((start, value.saturating_mul(10).saturating_add(u64::from(byte - b'0'))));
        } else {
            if let Some((start, value)) = number.take()
                && value > limit
            {
                let digits = String::from_utf8_lossy(&header[start..i]);
                return Err(format!(
                    "the header declares a size or offset of {digits}, far past the file's {} bytes",
                    bytes.len()
                ));
            }
            in_string = byte == b'"';
        }
    }
    Ok(())
}
