//! The training loop: epochs of shuffled mini-batches, each a forward pass on the tape,
//! one reverse sweep and an optimiser step; per-epoch loss and accuracy on the training and
//! test sets; a progress bar on a terminal and plain lines elsewhere.

use crate::data::{Batcher, Dataset};
use crate::optim::{clip_scale, Optimizer};
use crate::{Dropout, Mlp};
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
    /// never drops). Epoch `e` draws its masks from a generator made from `(seed, e)` as
    /// the shuffle does, so a resumed run draws the same masks as an unbroken one.
    pub dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { epochs: 10, batch_size: 64, seed: 0, clip_norm: None, progress: true, dropout: 0.0 }
    }
}

/// Mixed into the seed of the dropout generator, so that its masks are not drawn from the
/// same numbers as the shuffle.
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
fn correct_predictions(logits: &[f32], classes: usize, labels: &[usize]) -> usize {
    logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, &label)| {
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
pub fn evaluate(model: &Mlp<f32>, data: &Dataset, batch_size: usize) -> (f32, f32) {
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
/// The loop allocates nothing per step once the first step has sized the tape's buffers
/// (and the dropout mask's).
///
/// # Panics
///
/// If `config.dropout` is not in `[0, 1)`.
#[track_caller]
pub fn fit(
    model: &mut Mlp<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    train: &Dataset,
    test: &Dataset,
    config: &TrainConfig,
    first_epoch: usize,
    mut on_epoch: impl FnMut(&EpochMetrics, &Mlp<f32>, &dyn Optimizer<f32>),
) -> Vec<EpochMetrics> {
    let show_bar = config.progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut tape = Tape::new();
    let mut batcher = Batcher::new(train, config.batch_size);
    let mut history = Vec::new();
    let mut dropout = Dropout::new(config.dropout, config.seed).unwrap_or_else(|error| panic!("fit: {error}"));
    for epoch in first_epoch..=config.epochs {
        let start = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64);
        batcher.shuffle(&mut rng);
        // Its own generator, not the shuffle's: with dropout 0 the shuffle is unchanged.
        dropout.reseed(config.seed ^ DROPOUT_SEED, epoch as u64);
        let steps = train.len().div_ceil(config.batch_size);
        let bar = if show_bar { ProgressBar::new(steps as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} steps, loss {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", config.epochs));
        let (mut total_loss, mut correct) = (0.0_f64, 0);
        while let Some(batch) = batcher.next_batch(train) {
            let rows = batch.labels().len();
            let loss = {
                let params = model.on_tape(&tape);
                let x = tape.constant((Shape::matrix(rows, train.feature_width()), batch.features()));
                let logits = params.forward_with_dropout(x, &mut dropout);
                let loss = logits.softmax_cross_entropy(batch.labels());
                correct += correct_predictions(&logits.values(), logits.shape().cols(), batch.labels());
                let grads = tape.backward(loss);
                let scale = match config.clip_norm {
                    Some(max_norm) => clip_scale(params.parameters().map(|p| grads.wrt_slice(p)), max_norm),
                    None => 1.0,
                };
                optimizer.begin_step();
                for (index, (parameter, var)) in model.parameters_mut().zip(params.parameters()).enumerate() {
                    optimizer.update(index, parameter.data_mut(), grads.wrt_slice(var), scale);
                }
                loss.value()
            };
            tape.clear();
            total_loss += f64::from(loss) * rows as f64;
            if show_bar {
                bar.inc(1);
                bar.set_message(format!("{loss:.4}"));
            }
        }
        bar.finish_and_clear();
        let (test_loss, test_accuracy) = evaluate(model, test, 512);
        let metrics = EpochMetrics {
            epoch,
            train_loss: (total_loss / train.len() as f64) as f32,
            train_accuracy: correct as f32 / train.len() as f32,
            test_loss,
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&metrics, model, optimizer);
        history.push(metrics);
    }
    history
}
