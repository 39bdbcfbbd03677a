//! The command-line trainer shared by the `mnist`, `mnist_cnn` and `digits` examples: an MLP
//! from `--hidden`, or any layer stack from `--architecture`; flags, loading and splitting the data, training with a progress bar, checkpoints that a second run can
//! resume from, and an SVG plot of the loss and accuracy curves.

pub mod plot;

use clap::Parser;
use rand::SeedableRng;
use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;
use wengert::nn::checkpoint::Checkpoint;
use wengert::nn::data::{self, Dataset};
use wengert::nn::optim::{Adam, Optimizer, Sgd};
use wengert::nn::train::{default_workers, fit, EpochMetrics, TrainConfig};
use wengert::nn::{Activation, Dropout, Mlp, Model, Sequential, LAYER_NORM_EPS};

// The trainer's flags; each example supplies its defaults through `Defaults`. (A plain
// comment: clap would show a doc comment here as the program's description.)
#[derive(Parser, Debug)]
#[command(
    about = "Trains a classifier (an MLP, or the layers of --architecture) on digits and reports its test accuracy; every flag has a default."
)]
pub struct Args {
    /// Passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per step (1: stochastic; the training set's size: full batch).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Hidden layer widths, comma-separated (e.g. 128 or 256,128).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Hidden activation: relu, tanh, sigmoid, softplus, leaky_relu (slope 0.01), gelu or silu.
    #[arg(long, default_value = "relu")]
    pub activation: Activation,
    /// Optimiser: adam, sgd or momentum (SGD with momentum 0.9).
    #[arg(long, default_value = "adam")]
    pub optimizer: OptimizerKind,
    /// Dropout probability after each hidden activation in training, in [0, 1) (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Layer norm (eps 1e-5, as PyTorch's) in each hidden layer: Linear -> LayerNorm -> activation.
    #[arg(long)]
    pub layer_norm: bool,
    /// Clip the gradients' global norm to this.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// Seed of the weights, the split and the shuffles.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the checkpoint, the metrics and the plot.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the checkpoint in --out up to --epochs.
    #[arg(long)]
    pub resume: bool,
    /// The data: a CSV(.gz) file (pixels then the label on each row), or an IDX pair
    /// `IMAGES,LABELS` (MNIST's format, gzipped or not).
    #[arg(long, value_delimiter = ',', num_args = 1..=2)]
    pub data: Option<Vec<PathBuf>>,
    /// Rows held out for testing.
    #[arg(long)]
    pub test_count: Option<usize>,
    /// The model as layers, one line: `unflatten(1x28x28) | conv2d(1->8, k5, p2) | relu |
    /// max_pool2d(k2) | flatten | linear(1568->10)` (kK kernel, sS stride, pP padding; the
    /// activations by name). Replaces --hidden, --activation and --layer-norm.
    #[arg(long)]
    pub architecture: Option<String>,
    /// Worker threads each batch is split over (default: the machine's cores). Any count
    /// trains the same model up to float rounding; see docs/parallel.md.
    #[arg(long)]
    pub workers: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    Adam,
    Sgd,
    Momentum,
}

impl OptimizerKind {
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
        }
    }

    pub fn build(self, learning_rate: f32) -> Box<dyn Optimizer<f32>> {
        match self {
            OptimizerKind::Adam => Box::new(Adam::new(learning_rate)),
            OptimizerKind::Sgd => Box::new(Sgd::new(learning_rate)),
            OptimizerKind::Momentum => Box::new(Sgd::with_momentum(learning_rate, 0.9)),
        }
    }
}

/// What an example chooses when a flag is not given.
pub struct Defaults {
    pub name: &'static str,
    pub data: &'static str,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub hidden: &'static [usize],
    pub test_count: usize,
    /// The model's layers when `--architecture` is not given; `None` for an MLP of `hidden`.
    pub architecture: Option<&'static str>,
}

/// A problem with the flags or with a checkpoint to resume from.
#[derive(Debug)]
struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for UsageError {}

fn usage(message: impl Into<String>) -> Box<dyn Error> {
    Box::new(UsageError(message.into()))
}

/// A run asked to resume from a checkpoint trained with another setting (sizes, activation,
/// optimiser, learning rate, batch size, seed, dropout or layer norm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingMismatch {
    /// The checkpoint.
    pub path: PathBuf,
    /// The metadata field, as [`settings`] names it: `layer_norm`, `sizes`, ...
    pub key: &'static str,
    /// The value the checkpoint was trained with.
    pub stored: String,
    /// The value this run asks for.
    pub asked: String,
}

impl fmt::Display for SettingMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the checkpoint was trained with {} = {}, this run asks for {}",
            self.path.display(),
            self.key,
            self.stored,
            self.asked
        )
    }
}

impl Error for SettingMismatch {}

/// The most numbers a model built from the flags may hold in its parameters, or a batch in
/// one layer's activations: 2^28 (1 GiB of f32), so that a mistyped `--hidden` or
/// `--batch-size` is refused with a message instead of failing an allocation.
const MAX_ELEMENTS: usize = 1 << 28;

/// Refuses layer sizes whose parameters, or a batch's activations, would pass [`MAX_ELEMENTS`].
fn check_model_size(sizes: &[usize], batch_size: usize) -> Result<(), Box<dyn Error>> {
    let parameters = sizes
        .windows(2)
        .try_fold(0usize, |total, pair| pair[0].checked_mul(pair[1])?.checked_add(pair[1])?.checked_add(total));
    if parameters.is_none_or(|count| count > MAX_ELEMENTS) {
        return Err(usage(format!(
            "--hidden: an MLP {sizes:?} has more than {MAX_ELEMENTS} parameters (the most the examples train)"
        )));
    }
    let widest = sizes.iter().copied().max().unwrap_or(0);
    if batch_size.checked_mul(widest).is_none_or(|count| count > MAX_ELEMENTS) {
        return Err(usage(format!(
            "--batch-size {batch_size}: a batch through a layer of {widest} holds more than {MAX_ELEMENTS} numbers"
        )));
    }
    Ok(())
}

/// The classes both examples classify: the digits 0 to 9.
const CLASSES: usize = 10;

/// Loads the data named by `--data`, scaled to [0, 1] by its largest value.
pub fn load(paths: &[PathBuf]) -> Result<Dataset, Box<dyn Error>> {
    let mut dataset = match paths {
        [csv] => data::load_csv(csv, CLASSES)?,
        [images, labels] => data::load_idx(images, labels, CLASSES)?,
        _ => return Err(usage("--data takes one CSV file or an IDX pair IMAGES,LABELS")),
    };
    let largest = dataset.features().data().iter().fold(0.0_f32, |m, &x| m.max(x));
    if largest > 0.0 {
        dataset.scale(1.0 / largest);
    }
    Ok(dataset)
}

const CHECKPOINT: &str = "checkpoint.safetensors";
const METRICS: &str = "metrics.csv";
const PLOT: &str = "curves.svg";

/// The run's settings that a resumed run must share, stored in the checkpoint's metadata.
pub fn settings(sizes: &[usize], args: &Args, batch_size: usize, lr: f32) -> Vec<(&'static str, String)> {
    let sizes: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    vec![
        ("sizes", sizes.join("-")),
        ("activation", args.activation.name().to_string()),
        ("optimizer", args.optimizer.name().to_string()),
        ("lr", lr.to_string()),
        ("batch_size", batch_size.to_string()),
        ("seed", args.seed.to_string()),
        ("dropout", args.dropout.to_string()),
        ("layer_norm", args.layer_norm.to_string()),
    ]
}

/// The settings of a run of the model `--architecture` describes (in its printed form).
fn architecture_settings(architecture: &str, args: &Args, batch_size: usize, lr: f32) -> Vec<(&'static str, String)> {
    vec![
        ("architecture", architecture.to_string()),
        ("optimizer", args.optimizer.name().to_string()),
        ("lr", lr.to_string()),
        ("batch_size", batch_size.to_string()),
        ("seed", args.seed.to_string()),
        ("dropout", args.dropout.to_string()),
    ]
}

/// What a setting missing from a checkpoint means, for the settings added after
/// checkpoints were first written: such a checkpoint was trained without layer norm.
fn setting_before_it_existed(key: &str) -> Option<&'static str> {
    match key {
        "layer_norm" => Some("false"),
        _ => None,
    }
}

/// The model the flags describe: an MLP of `sizes` with weights drawn from `rng`, and layer
/// norm in each hidden layer with `--layer-norm`.
pub fn build_model(sizes: &[usize], args: &Args, rng: &mut impl rand::Rng) -> Mlp<f32> {
    let model = Mlp::<f32>::new(sizes, args.activation, rng);
    if args.layer_norm {
        model.with_layer_norm(LAYER_NORM_EPS as f32)
    } else {
        model
    }
}

/// Writes the model, the optimiser's state, the epoch and the settings to `path`.
pub fn save_checkpoint(
    path: &Path,
    model: &impl Model<f32>,
    optimizer: &dyn Optimizer<f32>,
    format: &str,
    epoch: usize,
    settings: &[(&'static str, String)],
) -> Result<(), Box<dyn Error>> {
    let mut checkpoint = Checkpoint::from_training(model, optimizer);
    checkpoint.set_metadata("format", format);
    checkpoint.set_metadata("epoch", epoch);
    for (key, value) in settings {
        checkpoint.set_metadata(*key, value);
    }
    checkpoint.save(path)?;
    Ok(())
}

/// Restores model and optimiser from `path`, every tensor checked against the model;
/// returns the epoch it had finished. A setting that differs from the checkpoint's is a
/// [`SettingMismatch`] naming it.
pub fn resume(
    path: &Path,
    model: &mut impl Model<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    settings: &[(&'static str, String)],
) -> Result<usize, Box<dyn Error>> {
    let checkpoint = Checkpoint::<f32>::load(path)?;
    for (key, value) in settings {
        let stored = match (checkpoint.metadata(key), setting_before_it_existed(key)) {
            (Some(stored), _) | (None, Some(stored)) => stored,
            (None, None) => checkpoint.expect_metadata(key)?,
        };
        if stored != value {
            let (stored, asked) = (stored.to_string(), value.clone());
            return Err(Box::new(SettingMismatch { path: path.to_path_buf(), key, stored, asked }));
        }
    }
    checkpoint.restore_training(model, optimizer)?;
    Ok(checkpoint.metadata_parse::<usize>("epoch")?)
}

/// The whole program: runs the trainer, ends with the `test accuracy: ...` line, and turns
/// an error into a message and a failing exit code.
pub fn main(defaults: &Defaults) -> std::process::ExitCode {
    match run(defaults) {
        Ok(accuracy) => {
            println!("test accuracy: {accuracy:.4}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the trainer; returns the final test accuracy.
fn run(defaults: &Defaults) -> Result<f32, Box<dyn Error>> {
    let args = Args::parse();
    let started = Instant::now();
    let epochs = args.epochs.unwrap_or(defaults.epochs);
    let batch_size = args.batch_size.unwrap_or(defaults.batch_size);
    let lr = args.lr.unwrap_or(defaults.lr);
    let hidden = args.hidden.clone().unwrap_or_else(|| defaults.hidden.to_vec());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("target").join(defaults.name));
    let data_paths = args.data.clone().unwrap_or_else(|| vec![PathBuf::from(defaults.data)]);
    if batch_size == 0 || epochs == 0 || hidden.contains(&0) {
        return Err(usage("--epochs, --batch-size and --hidden widths must be at least 1"));
    }
    let workers = args.workers.unwrap_or_else(default_workers);
    if workers == 0 {
        return Err(usage("--workers 0: at least one worker is needed"));
    }
    if let Err(error) = Dropout::<f32>::new(args.dropout, args.seed) {
        return Err(usage(format!("--dropout {}: {error}", args.dropout)));
    }

    let dataset = load(&data_paths)?;
    let test_count = args.test_count.unwrap_or(defaults.test_count);
    if test_count == 0 || test_count >= dataset.len() {
        return Err(usage(format!("--test-count {test_count} must leave rows for both sets ({} rows)", dataset.len())));
    }
    let (train, test) = data::split_shuffled(&dataset, test_count, args.seed)?;
    let classes = dataset.num_classes().max(2);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let plural = if workers == 1 { "" } else { "s" };
    let sets = format!(
        "{}: {} training rows, {} test rows, {} features",
        defaults.name,
        train.len(),
        test.len(),
        dataset.feature_width()
    );
    let run = Run { args: &args, defaults, epochs, batch_size, lr, workers, out, train: &train, test: &test, started };
    if let Some(text) = args.architecture.as_deref().or(defaults.architecture) {
        let model = build_sequential(text, dataset.feature_width(), classes, batch_size, &mut rng)?;
        println!(
            "{sets}; model {model}; {} lr {lr}, batch {batch_size}, {workers} worker{plural}",
            args.optimizer.name()
        );
        let settings = architecture_settings(&model.to_string(), &args, batch_size, lr);
        return run.train(model, "wengert-sequential-checkpoint-v1", &settings);
    }
    let mut sizes = vec![dataset.feature_width()];
    sizes.extend(&hidden);
    sizes.push(classes);
    check_model_size(&sizes, batch_size)?;
    println!(
        "{sets}; MLP {sizes:?} ({} hidden), {} lr {lr}, batch {batch_size}, {workers} worker{plural}",
        args.activation.name(),
        args.optimizer.name(),
    );
    if args.layer_norm {
        println!("layer norm (eps {LAYER_NORM_EPS:e}) in each hidden layer, between its linear map and its activation");
    }
    let model = build_model(&sizes, &args, &mut rng);
    let settings = settings(&sizes, &args, batch_size, lr);
    run.train(model, "wengert-mlp-checkpoint-v2", &settings)
}

/// The layers `text` describes, checked to take rows of `width` features to `classes`
/// logits, with no more than [`MAX_ELEMENTS`] parameters.
fn build_sequential(
    text: &str,
    width: usize,
    classes: usize,
    batch_size: usize,
    rng: &mut impl rand::Rng,
) -> Result<Sequential<f32>, Box<dyn Error>> {
    let model =
        Sequential::<f32>::from_architecture(text, rng).map_err(|error| usage(format!("--architecture: {error}")))?;
    let output = model.output_shape(width).map_err(|error| usage(format!("--architecture: {error}")))?;
    if output != wengert::Shape::vector(classes) {
        return Err(usage(format!(
            "--architecture: the model gives {output} per sample; the data has {classes} classes"
        )));
    }
    let parameters: usize = model.parameters().map(|p| p.len()).sum();
    if parameters > MAX_ELEMENTS || batch_size.checked_mul(width).is_none_or(|n| n > MAX_ELEMENTS) {
        return Err(usage(format!(
            "--architecture: more than {MAX_ELEMENTS} parameters, or batch inputs, than the examples train"
        )));
    }
    Ok(model)
}

/// What the training part of a run needs, whatever the model.
struct Run<'a> {
    args: &'a Args,
    defaults: &'a Defaults,
    epochs: usize,
    batch_size: usize,
    lr: f32,
    workers: usize,
    out: PathBuf,
    train: &'a Dataset,
    test: &'a Dataset,
    started: Instant,
}

impl Run<'_> {
    /// Trains `model` (resuming if asked), printing each epoch, writing the checkpoint (in
    /// `format`, with `settings`), the metrics and the plot; returns the final test accuracy.
    fn train<M: Model<f32> + Send + Sync>(
        &self,
        mut model: M,
        format: &str,
        settings: &[(&'static str, String)],
    ) -> Result<f32, Box<dyn Error>> {
        let (args, epochs, out) = (self.args, self.epochs, &self.out);
        if args.dropout > 0.0 {
            println!("dropout {} after each hidden activation in training", args.dropout);
        }
        let mut optimizer = args.optimizer.build(self.lr);
        std::fs::create_dir_all(out).map_err(|e| usage(format!("cannot create --out {}: {e}", out.display())))?;
        let checkpoint_path = out.join(CHECKPOINT);
        let metrics_path = out.join(METRICS);
        let mut history = Vec::new();
        let mut first_epoch = 1;
        if args.resume {
            let done = resume(&checkpoint_path, &mut model, optimizer.as_mut(), settings)?;
            history = plot::read_metrics(&metrics_path)?;
            history.retain(|m: &EpochMetrics| m.epoch <= done);
            first_epoch = done + 1;
            println!("resumed from {} after epoch {done}", checkpoint_path.display());
            if first_epoch > epochs {
                return Err(usage(format!("the checkpoint has finished epoch {done}; ask for more with --epochs")));
            }
        }

        let config = TrainConfig {
            epochs,
            batch_size: self.batch_size,
            seed: args.seed,
            clip_norm: args.clip_norm,
            progress: true,
            dropout: args.dropout,
            workers: self.workers,
        };
        let mut save_error = None;
        let training = Instant::now();
        fit(
            &mut model,
            optimizer.as_mut(),
            self.train,
            self.test,
            &config,
            first_epoch,
            |metrics, model, optimizer| {
                println!("{}", epoch_line(metrics, epochs));
                history.push(*metrics);
                if save_error.is_none() {
                    let saved = save_checkpoint(&checkpoint_path, model, optimizer, format, metrics.epoch, settings)
                        .and_then(|()| plot::write_metrics(&metrics_path, &history));
                    save_error = saved.err();
                }
            },
        );
        let training = training.elapsed().as_secs_f64();
        if let Some(error) = save_error {
            return Err(error);
        }
        let plot_path = out.join(PLOT);
        plot::write_svg(&plot_path, self.defaults.name, &history)?;
        let last = history.last().expect("at least one epoch ran");
        println!(
            "wrote {} (resume with --resume), {} and {}",
            checkpoint_path.display(),
            metrics_path.display(),
            plot_path.display()
        );
        println!("trained in {:.2} s ({training:.2} s in the training loop)", self.started.elapsed().as_secs_f64());
        Ok(last.test_accuracy)
    }
}

/// The line a trainer prints after each epoch: `epoch   3/10: train loss 0.1234, ...`.
pub fn epoch_line(metrics: &EpochMetrics, epochs: usize) -> String {
    format!(
        "epoch {:>3}/{epochs}: train loss {:.4}, accuracy {:.4} | test loss {:.4}, accuracy {:.4} | {:.2} s",
        metrics.epoch,
        metrics.train_loss,
        metrics.train_accuracy,
        metrics.test_loss,
        metrics.test_accuracy,
        metrics.seconds
    )
}
