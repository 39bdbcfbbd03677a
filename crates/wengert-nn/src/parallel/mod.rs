//! Data-parallel training on the cores of one machine: each mini-batch is split into
//! shards of contiguous rows, one per worker thread; each worker records its shard on its
//! own tape and writes the gradient of its share of the batch's loss into its own
//! [`FlatGradient`]; the shards' gradients are summed in a fixed order (worker 0, then 1,
//! ...) and the optimiser steps once.
//!
//! A step is three stages, so that another reduction (a sum over processes) can sit between
//! the last two: [`Workers::gradient`] (shards -> one flat buffer), then anything that
//! rewrites [`Workers::flat_gradient_mut`], then [`Workers::apply`] (clip, optimiser step).
//!
//! The workers are started once by [`with_workers`] and parked on a barrier between steps;
//! a step hands them the batch through buffers that were sized at the first step, so a
//! steady-state step allocates nothing on any thread. docs/parallel.md says how the result
//! depends on the number of workers and how the workers share the cores with the GEMM.

mod gradient;
mod pool;
mod shard;
mod split;

pub use gradient::{FlatGradient, StepStats};
pub use pool::{with_workers, Workers};
pub use shard::shard_rows;
