//! The data-parallel train step of wengert-nn ([`wengert_nn::parallel`]): the benchmark's
//! MLPs (relu, softmax cross-entropy, plain SGD) at batch 128, their batch split over 1 or
//! more workers. The same start as `mlp::Problem`, so the 1-worker step's loss is the tape
//! step's.

use crate::init;
use crate::mlp::widths;
use wengert_nn::optim::Sgd;
use wengert_nn::parallel::Workers;
use wengert_nn::{Activation, Linear, Mlp};

/// Rows of every batch of the workers' rows.
pub const BATCH: usize = 128;

/// The MLP of `size` (S, M or L) with the benchmark's deterministic weights.
pub fn model(size: &str) -> Mlp<f32> {
    let (widths, _) = widths(size);
    let layers = widths
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let (weight, bias) = init::layer(l, w[0], w[1]);
            Linear::from_tensors(weight, bias)
        })
        .collect();
    Mlp { layers, hidden: Activation::Relu, norms: Vec::new() }
}

/// The batch of `size`: [`BATCH`] rows of inputs (row-major) and their labels.
pub fn batch(size: &str) -> (Vec<f32>, Vec<usize>) {
    let (widths, _) = widths(size);
    (init::inputs(BATCH, widths[0]).data().to_vec(), init::labels(BATCH))
}

/// One train step on `workers`: the gradient of the batch over the shards, then SGD.
/// Returns the loss before the update.
pub fn step(
    workers: &mut Workers<'_, '_, Mlp<f32>>,
    sgd: &mut Sgd<f32>,
    (features, labels): &(Vec<f32>, Vec<usize>),
) -> f32 {
    let stats = workers.gradient(features, labels, [0, 0]);
    workers.apply(sgd, None);
    stats.mean_loss() as f32
}

/// `MLP-M 784-256-128-10 batch 128`.
pub fn describe(size: &str) -> String {
    let (widths, _) = widths(size);
    let w: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("MLP-{size} {} batch {BATCH}", w.join("-"))
}
