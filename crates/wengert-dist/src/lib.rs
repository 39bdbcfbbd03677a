//! Data-parallel training of wengert models across processes and machines, over MPI.
//!
//! Every rank (process) holds the whole model and its shard of the training data
//! ([`shard`]). At the start, rank 0's initial parameters are broadcast
//! ([`Dist::broadcast_parameters`]) and every rank's configuration is compared with rank 0's
//! ([`check_same_config`]); a rank that differs ends the job with an error naming the field.
//! Each step, every rank computes the gradient of its part of the global batch on its local
//! worker threads ([`wengert_nn::parallel::Workers`]), the flat gradients are summed with an
//! allreduce, and every rank applies the same update: the parameters stay identical on
//! every rank ([`fit`] checks it after every epoch). Rank 0 alone writes checkpoints
//! ([`save_on_root`]); a resumed run reads rank 0's checkpoint and hands it to every rank
//! ([`resume_from_root`]).
//!
//! The crate needs an MPI library (Open MPI from Debian's `openmpi-bin` and
//! `libopenmpi-dev`) and `libclang-dev` for the bindings; it is kept out of the root
//! workspace so the rest of wengert builds without them. docs/distributed.md says how to
//! launch a job and what each step sends.

mod checkpoint;
mod config;
mod error;
mod hash;
mod shard;
pub mod synthetic;
mod train;
mod world;

pub use checkpoint::{resume_from_root, save_on_root};
pub use config::{check_same_config, first_difference, ConfigDifference};
pub use error::DistError;
pub use hash::parameter_hash;
/// The MPI bindings (rsmpi), for what this crate does not wrap.
pub use mpi;
pub use shard::{shard, shard_indices};
pub use train::{fit, local_rows, steps_per_epoch};
pub use world::Dist;
