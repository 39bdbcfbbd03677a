//! The MNIST trainer of `examples/mnist.rs`, data-parallel over the ranks of an MPI job:
//! the same flags and defaults (`--batch-size` is the global batch, split over the ranks;
//! `--workers` the threads of each rank), the same checkpoints, metrics and plot in `--out`
//! (default `target/mnist-dist`), written by rank 0.
//!
//! ```text
//! cargo build --release --manifest-path crates/wengert-dist/Cargo.toml --example mnist
//! mpirun -np 2 crates/wengert-dist/target/release/examples/mnist --workers 1
//! ```
//!
//! Every rank reads the data file, splits it into training and test rows as the
//! one-process trainer does, and keeps rows `i % ranks == rank` of each. docs/distributed.md
//! says how to run on several machines.

#[path = "../../../examples/common/mod.rs"]
#[allow(dead_code)] // the one-process trainer's `main` and `run` are not used here
mod common;

use clap::Parser;
use common::Args;
use rand::SeedableRng;
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wengert::nn::data;
use wengert::nn::train::{default_workers, EpochMetrics, TrainConfig};
use wengert_dist::{check_same_config, fit, resume_from_root, save_on_root, shard, Dist, DistError};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/mnist_5k.csv.gz");
/// The one-process trainer's checkpoint format name (the settings are its too).
const FORMAT: &str = "wengert-mlp-checkpoint-v2";

fn main() -> ExitCode {
    let dist = match Dist::init() {
        Ok(dist) => dist,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            // Every rank parsed the same flags: rank 0 speaks for all.
            if dist.is_root() {
                let _ = error.print();
            }
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(&dist, &args) {
        Ok(accuracy) => {
            if dist.is_root() {
                println!("test accuracy: {accuracy:.4}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => dist.end_with_error(&*error),
    }
}

/// A flag this trainer does not take.
#[derive(Debug)]
struct Unsupported(&'static str);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not supported by the distributed trainer", self.0)
    }
}

impl Error for Unsupported {}

fn run(dist: &Dist, args: &Args) -> Result<f32, Box<dyn Error>> {
    let started = Instant::now();
    if args.architecture.is_some() {
        return Err(Box::new(Unsupported("--architecture")));
    }
    let epochs = args.epochs.unwrap_or(10);
    let batch_size = args.batch_size.unwrap_or(64);
    let lr = args.lr.unwrap_or(1e-3);
    let hidden = args.hidden.clone().unwrap_or_else(|| vec![256, 128]);
    let test_count = args.test_count.unwrap_or(1000);
    let workers = args.workers.unwrap_or_else(default_workers);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("target").join("mnist-dist"));
    let data_paths = args.data.clone().unwrap_or_else(|| vec![PathBuf::from(DATA)]);
    if batch_size == 0 || epochs == 0 || workers == 0 || hidden.contains(&0) {
        return Err("--epochs, --batch-size, --workers and --hidden widths must be at least 1".into());
    }

    let dataset = common::load(&data_paths)?;
    if test_count == 0 || test_count >= dataset.len() {
        return Err(format!("--test-count {test_count} must leave rows for both sets ({} rows)", dataset.len()).into());
    }
    let (train, test) = data::split_shuffled(&dataset, test_count, args.seed)?;
    let mut sizes = vec![dataset.feature_width()];
    sizes.extend(&hidden);
    sizes.push(dataset.num_classes().max(2));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut model = common::build_model(&sizes, args, &mut rng);
    let settings = common::settings(&sizes, args, batch_size, lr);

    // Everything that must agree across the ranks, the checkpoint's settings first.
    let mut fields = settings.clone();
    let parameters: usize = model.parameters().map(|p| p.len()).sum();
    fields.push(("parameters", parameters.to_string()));
    fields.push((
        "data",
        format!(
            "{} rows x {} features, checksum {:016x}",
            dataset.len(),
            dataset.feature_width(),
            checksum(dataset.features().data())
        ),
    ));
    fields.push(("test_count", test_count.to_string()));
    fields.push(("epochs", epochs.to_string()));
    fields.push(("clip_norm", format!("{:?}", args.clip_norm)));
    fields.push(("resume", args.resume.to_string()));
    check_same_config(dist, &fields)?;
    dist.broadcast_parameters(&mut model);

    let (train, test) = (shard(&train, dist.rank(), dist.size()), shard(&test, dist.rank(), dist.size()));
    if dist.is_root() {
        println!(
            "mnist over {} ranks: {} training rows, {} test rows in all ({} and {} on rank 0); MLP {sizes:?} ({}), {} lr {lr}, global batch {batch_size}, {workers} worker(s) per rank",
            dist.size(),
            dataset.len() - test_count,
            test_count,
            train.len(),
            test.len(),
            args.activation.name(),
            args.optimizer.name(),
        );
    }

    let mut optimizer = args.optimizer.build(lr);
    let checkpoint_path = out.join("checkpoint.safetensors");
    let metrics_path = out.join("metrics.csv");
    let mut history = Vec::new();
    let mut first_epoch = 1;
    if args.resume {
        let checkpoint = resume_from_root(dist, &checkpoint_path, &mut model, optimizer.as_mut(), &settings)?;
        let done: usize = checkpoint.metadata_parse("epoch").map_err(DistError::from)?;
        first_epoch = done + 1;
        if dist.is_root() {
            history = common::plot::read_metrics(&metrics_path)?;
            history.retain(|m: &EpochMetrics| m.epoch <= done);
            println!("resumed from {} after epoch {done}", checkpoint_path.display());
        }
        if first_epoch > epochs {
            return Err(format!("the checkpoint has finished epoch {done}; ask for more with --epochs").into());
        }
    }
    if dist.is_root() {
        std::fs::create_dir_all(&out).map_err(|e| format!("cannot create --out {}: {e}", out.display()))?;
    }

    let config = TrainConfig {
        epochs,
        batch_size,
        seed: args.seed,
        clip_norm: args.clip_norm,
        progress: false,
        dropout: args.dropout,
        workers,
    };
    let mut metrics_error = None;
    let training = Instant::now();
    fit(dist, &mut model, optimizer.as_mut(), &train, &test, &config, first_epoch, |metrics, model, optimizer| {
        let mut metadata = settings.clone();
        metadata.push(("format", FORMAT.to_string()));
        metadata.push(("epoch", metrics.epoch.to_string()));
        save_on_root(dist, &checkpoint_path, model, optimizer, &metadata)?;
        if dist.is_root() {
            println!("{}", common::epoch_line(metrics, epochs));
            history.push(*metrics);
            if metrics_error.is_none() {
                metrics_error = common::plot::write_metrics(&metrics_path, &history).err();
            }
        }
        Ok(())
    })?;
    let training = training.elapsed().as_secs_f64();
    if let Some(error) = metrics_error {
        return Err(error);
    }
    let Some(last) = history.last().copied() else { return Ok(0.0) };
    if dist.is_root() {
        let plot_path = out.join("curves.svg");
        common::plot::write_svg(&plot_path, "mnist over MPI", &history)?;
        println!(
            "wrote {} (resume with --resume), {} and {}",
            checkpoint_path.display(),
            metrics_path.display(),
            plot_path.display()
        );
        println!("trained in {:.2} s ({training:.2} s in the training loop)", started.elapsed().as_secs_f64());
    }
    Ok(last.test_accuracy)
}

/// FNV-1a over the features' bits: ranks that read different files disagree here.
fn checksum(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325, |hash, value| {
        value
            .to_bits()
            .to_le_bytes()
            .iter()
            .fold(hash, |h, &byte| (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
    })
}
