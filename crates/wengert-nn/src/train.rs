//! The training loop: epochs of shuffled mini-batches, each split over the workers
//! ([`crate::parallel`]), a forward pass and a reverse sweep per shard, and one optimiser
//! step; per-epoch loss and accuracy on the training and test sets; a progress bar on a
//! terminal and plain lines elsewhere.

use crate::data::{Batcher, Dataset};
use crate::optim::Optimizer;
use crate::parallel::with_workers;
use crate::{Dropout, Model, ModelVars};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::IsTerminal;
use std::time::Instant;
use wengert_tape::{Shape, Tape};

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The last epoch to run (epochs are numbered from 1).
    pub epochs: usize,
    /// Samples per step: 1 is stochastic gradient descent, the training set's size is batch
    /// gradient descent, anything between is mini-batch (notes, section 5).
    pub batch_size: usize,
    /// Seeds the shuffle of every epoch: epoch `e` shuffles with a generator made from
    /// `(seed, e)`, so a run resumed at epoch `e` sees the same batches as an unbroken one.
    pub seed: u64,
    /// Clip the gradients' global L2 norm to this, if set.
    pub clip_norm: Option<f32>,
    /// Show a progress bar (only on a terminal and when `CI` is not set).
    pub progress: bool,
    /// Dropout probability after each hidden activation in training (0: none; evaluation
    /// never drops). The mask of hidden layer `l` for row `r` of step `s` of epoch `e` is
    /// drawn from a generator keyed by `(seed, e, s)` at a place fixed by `l` and `r`
    /// ([`Dropout::seek_rows`]): a resumed run draws the same masks as an unbroken one, and
    /// every number of workers draws the same masks.
    pub dropout: f64,
    /// Worker threads a step's batch is split over (at least 1; more than the batch's rows
    /// leaves some idle). With more than one, each matrix product runs on its calling
    /// thread (docs/parallel.md). [`default_workers`] by default.
    pub workers: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            seed: 0,
            clip_norm: None,
            progress: true,
            dropout: 0.0,
            workers: default_workers(),
        }
    }
}

/// The machine's available parallelism (the cores this process may use), or 1 if it cannot
/// be told: the default of [`TrainConfig::workers`] and of the trainers' `--workers`.
///
/// ```
/// let workers = wengert_nn::train::default_workers();
/// assert!(workers >= 1);
/// assert_eq!(wengert_nn::train::TrainConfig::default().workers, workers);
/// ```
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Mixed into the seed of the dropout generators, so that their masks are not drawn from
/// the same numbers as the shuffle.
const DROPOUT_SEED: u64 = 0x6472_6f70_6f75_7421;

/// Loss and accuracy after one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Mean loss over the epoch's training steps (each step's loss before its update).
    pub train_loss: f32,
    /// Accuracy over the training samples as they were predicted during the epoch.
    pub train_accuracy: f32,
    pub test_loss: f32,
    pub test_accuracy: f32,
    /// Wall time of the epoch, training and evaluation.
    pub seconds: f64,
}

/// Index of the largest value of each row of `logits` compared with `labels`: how many match.
pub(crate) fn correct_predictions(logits: &[f32], classes: usize, labels: &[usize]) -> usize {
    logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|&(row, &label)| {
            let best = row.iter().enumerate().fold(0, |best, (j, &v)| if v > row[best] { j } else { best });
            best == label
        })
        .count()
}

/// Mean softmax cross-entropy and accuracy of `model` on `data`, in batches of
/// `batch_size`, with no gradient work (every leaf is a constant).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::data::Dataset;
/// use wengert_nn::{train::evaluate, Activation, Mlp};
/// use wengert_tape::{Shape, Tensor};
/// let data = Dataset::new(Tensor::zeros(Shape::matrix(4, 3)), vec![0, 1, 0, 1]).unwrap();
/// let model = Mlp::<f32>::new(&[3, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let (loss, accuracy) = evaluate(&model, &data, 2);
/// // Zero inputs give equal logits (zero biases): loss ln 2, and argmax picks class 0.
/// assert!((loss - 2f32.ln()).abs() < 1e-6);
/// assert_eq!(accuracy, 0.5);
/// ```
pub fn evaluate<M: Model<f32> + ?Sized>(model: &M, data: &Dataset, batch_size: usize) -> (f32, f32) {
    let mut tape = Tape::new();
    let mut batcher = Batcher::new(data, batch_size);
    batcher.in_order();
    let (mut total_loss, mut correct) = (0.0_f64, 0);
    while let Some(batch) = batcher.next_batch(data) {
        let rows = batch.labels().len();
        {
            let params = model.on_tape(&tape);
            // Evaluation needs no gradient: constants instead of trainable leaves.
            let x = tape.constant((Shape::matrix(rows, data.feature_width()), batch.features()));
            let logits = params.forward(x);
            let loss = logits.softmax_cross_entropy(batch.labels());
            total_loss += f64::from(loss.value()) * rows as f64;
            correct += correct_predictions(&logits.values(), logits.shape().cols(), batch.labels());
        }
        tape.clear();
    }
    ((total_loss / data.len() as f64) as f32, correct as f32 / data.len() as f32)
}

/// Trains `model` on `train` for the epochs `first_epoch..=config.epochs`, evaluating on
/// `test` after each and calling `on_epoch` with the metrics (to print, plot or checkpoint).
/// Returns every epoch's metrics.
///
/// Each step splits its batch over `config.workers` threads (no more than the batch's
/// rows), started once for the whole call ([`with_workers`]): the shards' gradients are
/// summed in a fixed order and the optimiser steps once. With k workers a run is the same
/// bit for bit from run to run; against one worker it differs only by the reassociation of
/// the sums over rows (docs/parallel.md gives the tolerance the tests hold).
///
/// The loop allocates nothing per step once the first step has sized the tapes' buffers
/// (and the dropout masks').
///
/// # Panics
///
/// If `config.dropout` is not in `[0, 1)` or `config.workers` is 0.
#[track_caller]
pub fn fit<M: Model<f32> + Send + Sync>(
    model: &mut M,
    optimizer: &mut dyn Optimizer<f32>,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    first_epoch: usize,
    mut on_epoch: impl FnMut(&EpochMetrics, &M, &dyn Optimizer<f32>),
) -> Vec<EpochMetrics> {
    assert!(config.workers >= 1, "fit: workers must be at least 1, got 0");
    let show_bar = config.progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut batcher = Batcher::new(train, config.batch_size);
    let mut history = Vec::new();
    let dropout =
        Dropout::new(config.dropout, config.seed ^ DROPOUT_SEED).unwrap_or_else(|error| panic!("fit: {error}"));
    let workers = config.workers.min(config.batch_size.min(train.len()).max(1));
    with_workers(workers, model, &dropout, |pool| {
        for epoch in first_epoch..=config.epochs {
            let start = Instant::now();
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(epoch as u64);
            batcher.shuffle(&mut rng);
            let steps = train.len().div_ceil(config.batch_size);
            let bar = if show_bar { ProgressBar::new(steps as u64) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} steps, loss {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{}", config.epochs));
            let (mut total_loss, mut correct) = (0.0_f64, 0);
            let mut step = 0_u64;
            while let Some(batch) = batcher.next_batch(train) {
                let stats = pool.gradient(batch.features(), batch.labels(), [epoch as u64, step]);
                pool.apply(optimizer, config.clip_norm);
                total_loss += stats.loss_sum;
                correct += stats.correct;
                step += 1;
                if show_bar {
                    bar.inc(1);
                    bar.set_message(format!("{:.4}", stats.mean_loss()));
                }
            }
            bar.finish_and_clear();
            let model = pool.model();
            let (test_loss, test_accuracy) = evaluate(&*model, test, 512);
            let metrics = EpochMetrics {
                epoch,
                train_loss: (total_loss / train.len() as f64) as f32,
                train_accuracy: correct as f32 / train.len() as f32,
                test_loss,
                test_accuracy,
                seconds: start.elapsed().as_secs_f64(),
            };
            on_epoch(&metrics, &model, optimizer);
            history.push(metrics);
        }
    });
    history
}
