//! One worker's part of a step: its rows of the batch, recorded on its own tape, and the
//! gradient of its share of the batch's loss.

use super::{FlatGradient, StepStats};
use crate::train::correct_predictions;
use crate::{Dropout, Model, ModelVars};
use std::ops::Range;
use wengert_tape::{Shape, Tape};

/// The rows of shard `shard` when `rows` rows are split into `shards` shards of contiguous
/// rows whose sizes differ by at most one (the first `rows % shards` shards take one more).
///
/// # Panics
///
/// If `shards` is 0 or `shard` is not below it.
///
/// # Examples
///
/// ```
/// use wengert_nn::parallel::shard_rows;
/// assert_eq!(shard_rows(10, 3, 0), 0..4);
/// assert_eq!(shard_rows(10, 3, 1), 4..7);
/// assert_eq!(shard_rows(10, 3, 2), 7..10);
/// assert_eq!(shard_rows(1, 2, 1), 1..1); // more shards than rows: empty shards
/// ```
#[track_caller]
pub fn shard_rows(rows: usize, shards: usize, shard: usize) -> Range<usize> {
    assert!(shard < shards, "shard_rows: shard {shard} of {shards}");
    let (base, longer) = (rows / shards, rows % shards);
    let start = shard * base + shard.min(longer);
    start..start + base + usize::from(shard < longer)
}

/// The batch of the current step, as the workers read it.
pub(crate) struct StepInput {
    /// Row-major, `labels.len()` rows of `width`.
    pub features: Vec<f32>,
    pub labels: Vec<usize>,
    pub width: usize,
    /// Keys the dropout masks ([`Dropout::seek_rows`]).
    pub key: [u64; 2],
}

/// What one worker keeps from step to step: its tape and its dropout layer.
pub(crate) struct ShardState {
    tape: Tape<f32>,
    dropout: Dropout<f32>,
}

impl ShardState {
    pub fn new(dropout: Dropout<f32>) -> Self {
        ShardState { tape: Tape::new(), dropout }
    }

    /// Records shard `shard` of `shards` of `input` on this worker's tape and writes the
    /// gradient of `(shard rows / batch rows) x` the shard's mean loss into `gradient`, so
    /// that the shards' gradients add up to the gradient of the batch's mean loss. An empty
    /// shard writes nothing and reports no rows.
    pub fn compute<M: Model<f32>>(
        &mut self,
        model: &M,
        input: &StepInput,
        shard: usize,
        shards: usize,
        gradient: &mut FlatGradient,
    ) -> StepStats {
        let batch_rows = input.labels.len();
        let rows = shard_rows(batch_rows, shards, shard);
        if rows.is_empty() {
            return StepStats::default();
        }
        let ShardState { tape, dropout } = self;
        let stats = {
            let params = model.on_tape(tape);
            let features = &input.features[rows.start * input.width..rows.end * input.width];
            let x = tape.constant((Shape::matrix(rows.len(), input.width), features));
            dropout.seek_rows(input.key, rows.start);
            let logits = params.forward_with_dropout(x, dropout);
            let labels = &input.labels[rows.clone()];
            let loss = logits.softmax_cross_entropy(labels);
            let correct = correct_predictions(&logits.values(), logits.shape().cols(), labels);
            // The loss is the shard's mean: weighted by its share of the batch, the shards'
            // gradients sum to the batch mean's (with one shard the seed is exactly 1).
            let share = rows.len() as f32 / batch_rows as f32;
            let grads = tape.backward_with_seed(loss, &[share]);
            for (index, var) in params.parameters().enumerate() {
                gradient.parameter_mut(index).copy_from_slice(grads.wrt_slice(var));
            }
            StepStats { rows: rows.len(), loss_sum: f64::from(loss.value()) * rows.len() as f64, correct }
        };
        tape.clear();
        stats
    }
}
