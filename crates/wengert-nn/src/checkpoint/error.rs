//! [`CheckpointError`]: everything that can go wrong reading, checking or writing a
//! checkpoint. Every message names the file and the tensor or metadata field at fault.

use std::io;
use std::path::PathBuf;
use thiserror::Error;
use wengert_tape::Shape;

/// Why a checkpoint could not be saved, loaded or restored into a model.
///
/// `path` is the file the checkpoint was read from or written to; a checkpoint built in
/// memory reports `<memory>` until it is loaded from a file.
///
/// # Examples
///
/// ```
/// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
/// let checkpoint = Checkpoint::<f32>::new();
/// let error = checkpoint.expect_metadata("epoch").unwrap_err();
/// assert!(matches!(error, CheckpointError::MissingMetadata { ref key, .. } if key == "epoch"));
/// assert_eq!(error.to_string(), "checkpoint <memory>: no metadata field `epoch`");
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be read, created, written, synced or renamed.
    #[error("checkpoint {}: {source}", path.display())]
    Io {
        /// The file (for a save, the target; the temporary file sits beside it).
        path: PathBuf,
        /// What the operating system reported.
        source: io::Error,
    },

    /// The bytes are not a safetensors file: too short, a corrupt or truncated header,
    /// offsets that do not cover the data, or a shape whose size disagrees with its bytes.
    #[error("checkpoint {}: not a valid safetensors file: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A tensor is stored with another element type than the one asked for: for example
    /// saved from `Checkpoint<f64>` and loaded as `Checkpoint<f32>`, an integer tensor that
    /// is not a scalar counter, or a counter where a float tensor is expected.
    #[error("checkpoint {}: tensor `{name}` holds {found}, expected {expected}", path.display())]
    DtypeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The element type asked for: "f32" or "f64" (or "i64" for a counter).
        expected: &'static str,
        /// The element type in the file, in lower case ("f64", "bf16", "i64", ...).
        found: String,
    },

    /// A tensor has more dimensions than a wengert shape can ([`wengert_tape::Shape::MAX_RANK`]).
    #[error("checkpoint {}: tensor `{name}` has dimensions {dims:?}, rank {}; only ranks 0 to 6 load", path.display(), dims.len())]
    BadRank {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Its dimensions as stored.
        dims: Vec<usize>,
    },

    /// The checkpoint has no tensor of that name.
    #[error("checkpoint {}: no tensor named `{name}`", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor asked for.
        name: String,
    },

    /// The stored tensor's shape is not the shape of the tensor it should be copied into.
    #[error("checkpoint {}: tensor `{name}` is {found}, the model expects {expected}", path.display())]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The shape of the model's tensor.
        expected: Shape,
        /// The shape stored in the checkpoint.
        found: Shape,
    },

    /// The checkpoint holds a tensor that nothing restoring from it expects: neither a
    /// parameter of the model nor a piece of the optimiser's state (a checkpoint of another
    /// model or optimiser, or a file edited by hand).
    #[error("checkpoint {}: unexpected tensor `{name}` (neither a parameter of the model nor optimiser state)", path.display())]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
    },

    /// A counter (such as `adam.step`) holds a value that is not a count: negative, or, in
    /// a checkpoint that stored it as a float, fractional or not finite.
    #[error("checkpoint {}: counter `{name}` = {value} is not a count (a whole number from 0)", path.display())]
    BadCounter {
        /// The file.
        path: PathBuf,
        /// The counter.
        name: String,
        /// The stored value, as text.
        value: String,
    },

    /// The checkpoint has no metadata field of that name.
    #[error("checkpoint {}: no metadata field `{key}`", path.display())]
    MissingMetadata {
        /// The file.
        path: PathBuf,
        /// The field asked for.
        key: String,
    },

    /// A metadata field does not parse as the type asked for.
    #[error("checkpoint {}: metadata field `{key}` = {value:?} is not a valid {expected}: {reason}", path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// The field.
        key: String,
        /// Its stored text.
        value: String,
        /// The type asked for, for example "usize".
        expected: &'static str,
        /// The parser's complaint.
        reason: String,
    },
}
