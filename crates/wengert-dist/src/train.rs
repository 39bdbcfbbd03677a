//! The distributed training loop: [`wengert_nn::train::fit`]'s epochs, with each step's
//! flat gradient summed over the ranks between the local gradient and the update.

use crate::{parameter_hash, Dist, DistError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use wengert_nn::data::{Batcher, Dataset};
use wengert_nn::optim::Optimizer;
use wengert_nn::parallel::{shard_rows, with_workers};
use wengert_nn::train::{evaluate, EpochMetrics, TrainConfig};
use wengert_nn::{Dropout, Model};

/// `wengert_nn::train`'s seed mix for the dropout masks, the same here so that a job of one
/// rank draws the masks `fit` draws.
const DROPOUT_SEED: u64 = 0x6472_6f70_6f75_7421;

/// Mixed into the shuffle's seed per rank (0 for rank 0, so one rank shuffles as `fit` does).
fn rank_seed(seed: u64, rank: usize) -> u64 {
    seed ^ (rank as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The rows rank `rank` contributes at step `step` of an epoch, when it holds `shard_rows`
/// rows and the global batch `batch` is split over `ranks` ranks: its local batch is
/// `batch / ranks` rows (the first `batch % ranks` ranks take one more), and it runs out
/// of rows when its shard does (0 from then on).
///
/// # Panics
///
/// If `rank` is not below `ranks`.
///
/// # Examples
///
/// ```
/// use wengert_dist::local_rows;
/// // A global batch of 5 over 2 ranks: 3 and 2 rows a step.
/// assert_eq!(local_rows(5, 2, 0, 7, 0), 3);
/// assert_eq!(local_rows(5, 2, 1, 7, 0), 2);
/// // Rank 0's 7 rows last 3 steps: 3, 3, 1.
/// assert_eq!(local_rows(5, 2, 0, 7, 2), 1);
/// assert_eq!(local_rows(5, 2, 0, 7, 3), 0);
/// ```
#[track_caller]
pub fn local_rows(batch: usize, ranks: usize, rank: usize, shard_len: usize, step: usize) -> usize {
    let local_batch = shard_rows(batch, ranks, rank).len();
    shard_len.saturating_sub(step * local_batch).min(local_batch)
}

/// Steps in an epoch: enough for every rank to use all of its rows ([`local_rows`]);
/// `shard_lens[r]` is rank `r`'s row count. Every rank computes the same number.
///
/// # Examples
///
/// ```
/// use wengert_dist::steps_per_epoch;
/// // 4,000 rows over 2 ranks at a global batch of 64 take 63 steps, as on one process.
/// assert_eq!(steps_per_epoch(64, &[2000, 2000]), 63);
/// assert_eq!(steps_per_epoch(64, &[4000]), 63);
/// // Over 3 ranks the local batches are 22, 21, 21: rank 1's 1,333 rows need 64 steps.
/// assert_eq!(steps_per_epoch(64, &[1334, 1333, 1333]), 64);
/// ```
pub fn steps_per_epoch(batch: usize, shard_lens: &[usize]) -> usize {
    let ranks = shard_lens.len();
    shard_lens
        .iter()
        .enumerate()
        .map(|(rank, &len)| len.div_ceil(shard_rows(batch, ranks, rank).len().max(1)))
        .max()
        .unwrap_or(0)
}

/// Trains `model` on this rank's shard `train` (and evaluates on its shard `test`) for the
/// epochs `first_epoch..=config.epochs`, in step with the other ranks; calls `on_epoch` on
/// every rank with the job's metrics (every rank's rows counted) and stops at its first
/// error. Returns every epoch's metrics.
///
/// `config.batch_size` is the global batch: each step, rank `r` takes its next
/// [`local_rows`] rows (its shard shuffled each epoch by a generator keyed by the seed, the
/// rank and the epoch) and splits them over `config.workers` local threads
/// ([`with_workers`]); its gradient of their mean loss is scaled by its share of the
/// step's rows, the flat gradients are summed over the ranks ([`Dist::all_sum_in_place`]),
/// and every rank applies the same update to the same parameters. The model must be the
/// same on every rank at the start ([`Dist::broadcast_parameters`]); after each epoch the
/// ranks compare a hash of their parameters ([`parameter_hash`]).
///
/// With one rank this is [`wengert_nn::train::fit`] step for step: the same shuffles,
/// dropout masks and arithmetic, so the same parameters bit for bit.
///
/// # Errors
///
/// [`DistError::BatchTooSmall`] if the global batch has fewer rows than there are ranks,
/// [`DistError::EmptyShard`] if a rank holds no training rows, [`DistError::Diverged`] if
/// the parameters differ between ranks after an epoch, and any error of `on_epoch`; every
/// rank returns the same error.
///
/// # Panics
///
/// If `config.workers` is 0 or `config.dropout` is not in `[0, 1)`.
///
/// # Examples
///
/// ```no_run
/// use rand::SeedableRng;
/// use wengert_dist::{fit, shard, synthetic, Dist};
/// use wengert_nn::{optim::Sgd, train::TrainConfig, Activation, Mlp};
/// let dist = Dist::init()?;
/// let data = synthetic::blobs(256, 4, 3, 7);
/// let train = shard(&data, dist.rank(), dist.size());
/// let mut model = Mlp::<f32>::new(&[4, 8, 3], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// dist.broadcast_parameters(&mut model);
/// let config = TrainConfig { epochs: 3, batch_size: 32, progress: false, workers: 1, ..TrainConfig::default() };
/// let history = fit(&dist, &mut model, &mut Sgd::new(0.5), &train, &train, &config, 1, |_, _, _| Ok(()))?;
/// assert!(history[2].train_loss < history[0].train_loss);
/// # Ok::<(), wengert_dist::DistError>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn fit<M: Model<f32> + Send + Sync>(
    dist: &Dist,
    model: &mut M,
    optimizer: &mut dyn Optimizer<f32>,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    first_epoch: usize,
    mut on_epoch: impl FnMut(&EpochMetrics, &M, &dyn Optimizer<f32>) -> Result<(), DistError>,
) -> Result<Vec<EpochMetrics>, DistError> {
    assert!(config.workers >= 1, "wengert_dist::fit: workers must be at least 1, got 0");
    let (rank, ranks, batch) = (dist.rank(), dist.size(), config.batch_size);
    if batch < ranks {
        return Err(DistError::BatchTooSmall { batch, ranks });
    }
    let shard_lens: Vec<usize> = dist.all_gather(train.len() as u64).into_iter().map(|len| len as usize).collect();
    if let Some(empty) = shard_lens.iter().position(|&len| len == 0) {
        return Err(DistError::EmptyShard { rank: empty });
    }
    let steps = steps_per_epoch(batch, &shard_lens);
    let local_batch = shard_rows(batch, ranks, rank).len();
    let mut batcher = Batcher::new(train, local_batch);
    let dropout = Dropout::new(config.dropout, config.seed ^ DROPOUT_SEED)
        .unwrap_or_else(|error| panic!("wengert_dist::fit: {error}"));
    let workers = config.workers.min(local_batch.min(train.len()));
    let mut scratch = Vec::new();
    let mut history = Vec::new();
    with_workers(workers, model, &dropout, |pool| {
        for epoch in first_epoch..=config.epochs {
            let start = Instant::now();
            let mut rng = ChaCha8Rng::seed_from_u64(rank_seed(config.seed, rank));
            rng.set_stream(epoch as u64);
            batcher.shuffle(&mut rng);
            // Summed over the ranks after the epoch: loss sum, correct rows, rows.
            let mut train_sums = [0.0_f64; 3];
            for step in 0..steps {
                let step_rows: usize = (0..ranks).map(|r| local_rows(batch, ranks, r, shard_lens[r], step)).sum();
                match batcher.next_batch(train) {
                    Some(local) => {
                        let key = [epoch as u64, (step * ranks + rank) as u64];
                        let stats = pool.gradient(local.features(), local.labels(), key);
                        // The local gradient is of the mean over this rank's rows: weighted
                        // by their share of the step's rows, the ranks' sum is the mean's.
                        if stats.rows != step_rows {
                            let share = stats.rows as f32 / step_rows as f32;
                            pool.flat_gradient_mut().as_mut_slice().iter_mut().for_each(|g| *g *= share);
                        }
                        train_sums[0] += stats.loss_sum;
                        train_sums[1] += stats.correct as f64;
                        train_sums[2] += stats.rows as f64;
                    }
                    None => pool.flat_gradient_mut().as_mut_slice().fill(0.0),
                }
                dist.all_sum_in_place(pool.flat_gradient_mut().as_mut_slice(), &mut scratch);
                pool.apply(optimizer, config.clip_norm);
            }
            let model = pool.model();
            let hashes = dist.all_gather(parameter_hash(&*model));
            if let Some(other) = hashes.iter().position(|&hash| hash != hashes[0]) {
                return Err(DistError::Diverged { epoch, rank: other });
            }
            let (test_loss, test_accuracy) = if test.is_empty() { (0.0, 0.0) } else { evaluate(&*model, test, 512) };
            let rows = test.len() as f64;
            let mut sums = [
                train_sums[0],
                train_sums[1],
                train_sums[2],
                f64::from(test_loss) * rows,
                (f64::from(test_accuracy) * rows).round(),
                rows,
            ];
            dist.all_sum_in_place(&mut sums, &mut Vec::new());
            let metrics = EpochMetrics {
                epoch,
                train_loss: (sums[0] / sums[2]) as f32,
                train_accuracy: (sums[1] / sums[2]) as f32,
                test_loss: (sums[3] / sums[5]) as f32,
                test_accuracy: (sums[4] / sums[5]) as f32,
                seconds: start.elapsed().as_secs_f64(),
            };
            on_epoch(&metrics, &model, optimizer)?;
            history.push(metrics);
        }
        Ok(history)
    })
}
