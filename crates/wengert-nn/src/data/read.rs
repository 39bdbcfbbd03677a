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
    let mut bytes = Vec::with_capacity(size_hint(&raw));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .map_err(|source| DataError::Gzip { path: path.to_owned(), source })?;
    Ok(bytes)
}

/// The uncompressed size a gzip trailer claims (its last 4 bytes, ISIZE, little-endian),
/// trusted only as far as deflate's best ratio (about 1032:1) allows: a capacity hint.
fn size_hint(raw: &[u8]) -> usize {
    let Some(trailer) = raw.len().checked_sub(4).map(|start| &raw[start..]) else { return 0 };
    let claimed = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    claimed.min(raw.len().saturating_mul(1032))
}
