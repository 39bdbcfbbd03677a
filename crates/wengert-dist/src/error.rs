//! [`DistError`]: what ends a distributed run. Every variant is seen by every rank alike
//! (the ranks agree on it through a collective), so all of them stop together.

use std::path::PathBuf;
use thiserror::Error;
use wengert_nn::checkpoint::CheckpointError;

/// Why a distributed run stopped.
///
/// # Examples
///
/// ```
/// use wengert_dist::DistError;
/// let error = DistError::ConfigMismatch { key: "sizes".into(), rank: 1, root: "4-8-2".into(), other: "4-9-2".into() };
/// assert_eq!(
///     error.to_string(),
///     "the ranks were given different configurations: sizes is 4-8-2 on rank 0 and 4-9-2 on rank 1"
/// );
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DistError {
    /// MPI was initialised already in this process (it can be only once).
    #[error("MPI is already initialised in this process")]
    AlreadyInitialised,

    /// A rank's configuration differs from rank 0's ([`crate::check_same_config`]).
    #[error("the ranks were given different configurations: {key} is {root} on rank 0 and {other} on rank {rank}")]
    ConfigMismatch {
        /// The field that differs (the first, in rank 0's order).
        key: String,
        /// The first rank that differs.
        rank: usize,
        /// Rank 0's value (`(absent)` if rank 0 has no such field).
        root: String,
        /// That rank's value (`(absent)` if it has no such field).
        other: String,
    },

    /// The global batch has fewer rows than there are ranks: every rank needs a row a step.
    #[error("global batch {batch} is smaller than the {ranks} ranks: each rank needs at least one row per step")]
    BatchTooSmall {
        /// The global batch size.
        batch: usize,
        /// The number of ranks.
        ranks: usize,
    },

    /// A rank holds no training rows.
    #[error("rank {rank} holds no training rows")]
    EmptyShard {
        /// The rank.
        rank: usize,
    },

    /// After an epoch a rank's parameters were not bit-identical to rank 0's.
    #[error("after epoch {epoch} the parameters of rank {rank} differ from rank 0's")]
    Diverged {
        /// The epoch just finished.
        epoch: usize,
        /// The first rank that differs.
        rank: usize,
    },

    /// Reading, writing or restoring a checkpoint failed (on rank 0 for a read or a write;
    /// on every rank for a checkpoint that does not fit the model).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),

    /// Rank 0 failed at something the other ranks wait for; rank 0 reports the cause.
    #[error("rank 0 could not {what} (rank 0 reports why)")]
    RootFailed {
        /// What rank 0 was doing: "read the checkpoint", "write the checkpoint".
        what: &'static str,
    },

    /// The checkpoint to resume from was trained with another setting.
    #[error("{}: the checkpoint was trained with {key} = {stored}, this run asks for {asked}", path.display())]
    SettingMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The metadata field.
        key: String,
        /// The checkpoint's value.
        stored: String,
        /// This run's value.
        asked: String,
    },
}

impl DistError {
    /// Whether every rank returns this error alike (the ranks reached it through a
    /// collective), so that each can leave on its own; otherwise only some ranks know of it,
    /// and the others may be waiting in a collective for them ([`crate::Dist::end_with_error`]
    /// then ends the job with `MPI_Abort`). A checkpoint's own error is counted as not
    /// shared: rank 0 alone reads and writes the file.
    ///
    /// ```
    /// use wengert_dist::DistError;
    /// assert!(DistError::BatchTooSmall { batch: 1, ranks: 2 }.is_shared());
    /// assert!(!DistError::AlreadyInitialised.is_shared());
    /// ```
    pub fn is_shared(&self) -> bool {
        !matches!(self, DistError::AlreadyInitialised | DistError::Checkpoint(_))
    }
}
