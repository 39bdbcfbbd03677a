//! The data-parallel train step of wengert-nn ([`wengert_nn::parallel`]): the benchmark's
//! MLPs (relu, softmax cross-entropy) with plain SGD at batch 128, and MLP-M with Adam at
//! batch 64 (the MNIST example's model, optimiser and batch), their batch split over 1 or
//! more workers. The same start as `mlp::Problem`, so the 1-worker SGD step's loss is the
//! tape step's.

use crate::init;
use crate::mlp::widths;
use wengert_nn::optim::{Adam, Optimizer, Sgd};
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
    batch_of(size, BATCH)
}

/// `rows` rows of inputs for the MLP of `size` (row-major) and their labels.
pub fn batch_of(size: &str, rows: usize) -> (Vec<f32>, Vec<usize>) {
    let (widths, _) = widths(size);
    (init::inputs(rows, widths[0]).data().to_vec(), init::labels(rows))
}

/// One row of the race: a model size, a batch and an optimiser.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub size: &'static str,
    pub batch: usize,
    pub adam: bool,
}

/// The race's rows: MLP-S and MLP-M with SGD at batch 128, and MLP-M with Adam (learning
/// rate 1e-3) at batch 64, as the MNIST example trains.
pub const CONFIGS: [Config; 3] = [
    Config { size: "S", batch: BATCH, adam: false },
    Config { size: "M", batch: BATCH, adam: false },
    Config { size: "M", batch: 64, adam: true },
];

impl Config {
    /// A fresh optimiser for this row.
    pub fn optimizer(&self) -> Box<dyn Optimizer<f32>> {
        if self.adam {
            Box::new(Adam::new(1e-3))
        } else {
            Box::new(Sgd::new(0.01))
        }
    }

    /// `MLP-M 784-256-128-10 batch 128 SGD`.
    pub fn describe(&self) -> String {
        let (widths, _) = widths(self.size);
        let w: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
        let optimizer = if self.adam { "Adam" } else { "SGD" };
        format!("MLP-{} {} batch {} {optimizer}", self.size, w.join("-"), self.batch)
    }
}

/// One train step on `workers`: the gradient of the batch over the shards, then the
/// optimiser. Returns the loss before the update.
pub fn step(
    workers: &mut Workers<'_, '_, Mlp<f32>>,
    optimizer: &mut dyn Optimizer<f32>,
    (features, labels): &(Vec<f32>, Vec<usize>),
) -> f32 {
    let stats = workers.gradient(features, labels, [0, 0]);
    workers.apply(optimizer, None);
    stats.mean_loss() as f32
}
