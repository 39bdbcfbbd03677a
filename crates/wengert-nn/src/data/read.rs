//! Reads a whole file into memory, decompressing it if it is gzip: recognised by the magic
//! bytes `1f 8b`, whatever the file's name.

use super::DataError;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// The first two bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The file's bytes, gunzipped if they start with the gzip magic.
pub(super) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_owned(), source })?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    // No capacity from the gzip trailer's size field: a corrupt or truncated file can claim
    // any size there, and reserving it would allocate on the file's word. The vector grows.
    let mut bytes = Vec::new();
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Gzip { path: path.to_owned(), source })?;
    Ok(bytes)
}
