//! Replacing a file so that a crash or a failed write never leaves it half written: the
//! new content goes to a temporary file beside the target, is synced to disk, and is then
//! renamed over the target in one step.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes a file atomically: `write` fills a temporary file in the target's directory
/// (named `.<file name>.tmp-<pid>-<n>`), which is flushed, synced and then renamed over
/// `path`. Until the rename, `path` keeps its old content; afterwards it has the new one.
///
/// On any failure the temporary file is removed and the target is untouched. On Unix the
/// directory is synced after the rename, so the rename itself survives a power cut.
///
/// # Errors
///
/// The first error from `write`, or from creating, flushing, syncing or renaming the file.
/// `path` with no file name (`/`, `..`) is `ErrorKind::InvalidInput`. A failed directory
/// sync is reported after the rename has happened: the new content is then in place but
/// may not yet be durable.
///
/// # Examples
///
/// ```
/// use std::io::{self, Write};
/// use wengert_nn::checkpoint::write_atomically;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("log.txt");
/// write_atomically(&path, |out| out.write_all(b"epoch 1"))?;
///
/// // A writer that fails halfway leaves the old content and no temporary file.
/// let failed = write_atomically(&path, |out| {
///     out.write_all(b"epo")?;
///     Err(io::Error::other("disk full"))
/// });
/// assert!(failed.is_err());
/// assert_eq!(std::fs::read(&path)?, b"epoch 1");
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok(())
/// # }
/// ```
pub fn write_atomically(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let path = path.as_ref();
    let temp = temporary_path(path)?;
    let written = write_and_sync(&temp, write).and_then(|()| fs::rename(&temp, path));
    if let Err(error) = written {
        // The temporary file may not exist (creation failed); either way it must not stay.
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    sync_directory(path)
}

/// Serial numbers keep two saves from one process (two threads) off each other's file.
static SERIAL: AtomicUsize = AtomicUsize::new(0);

/// `dir/.name.tmp-<pid>-<n>` for `dir/name`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} does not name a file", path.display()))
    })?;
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}-{serial}", std::process::id()));
    Ok(path.with_file_name(temp_name))
}

/// Creates (or truncates) `temp`, lets `write` fill it, then flushes and fsyncs it.
fn write_and_sync(temp: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(temp)?);
    write(&mut out)?;
    let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.sync_all()
}

/// Syncs the directory holding `path`, so that the rename is on disk (Unix only: other
/// systems cannot open a directory as a file).
fn sync_directory(path: &Path) -> io::Result<()> {
    if cfg!(unix) {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}
