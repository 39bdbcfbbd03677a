//! `wengert-dist-probe`: small MPI jobs on made-up data, for the tests and the bench.
//!
//! - `train`: trains an MLP on a synthetic set (`--rows`, `--hidden`, `--batch`, `--epochs`,
//!   `--lr`, `--optimizer adam|sgd`, `--workers`, `--dropout`, `--seed`, `--out DIR`,
//!   `--resume`; `--die-rank R --die-after-epoch E` makes rank R exit there); each rank
//!   prints `rank R of P: parameters HASH after epoch E`.
//! - `allreduce`: one global batch; prints how the allreduced gradient compares with the
//!   same sum computed in one process and with the full batch's gradient on one tape.
//! - `bench`: medians of the compute time and of the allreduce time of a step of MLP-S, -M
//!   or -L (`--size`, `--steps`).
//!
//! Run under `mpirun -np 2 ...`; docs/distributed.md has the commands.

use rand::SeedableRng;
use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wengert_dist::mpi::traits::CommunicatorCollectives;
use wengert_dist::{check_same_config, fit, parameter_hash, resume_from_root, save_on_root, shard, synthetic, Dist};
use wengert_nn::data::Dataset;
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::parallel::{with_workers, FlatGradient};
use wengert_nn::train::TrainConfig;
use wengert_nn::{Activation, Dropout, Mlp};

/// The flags, `--key value` or a bare `--key` (a switch).
struct Flags(BTreeMap<String, String>);

impl Flags {
    fn parse(args: &[String]) -> Result<Flags, String> {
        let mut map = BTreeMap::new();
        let mut rest = args.iter().peekable();
        while let Some(arg) = rest.next() {
            let key = arg.strip_prefix("--").ok_or_else(|| format!("unexpected argument `{arg}`"))?;
            let value = match rest.peek() {
                Some(next) if !next.starts_with("--") => rest.next().cloned().unwrap_or_default(),
                _ => String::new(),
            };
            map.insert(key.to_string(), value);
        }
        Ok(Flags(map))
    }

    fn get<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.0.get(key) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|error| format!("--{key} {text}: {error}")),
        }
    }

    fn switch(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    fn text(&self, key: &str, default: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| default.to_string())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dist = match Dist::init() {
        Ok(dist) => dist,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match (args.first().map(String::as_str), Flags::parse(args.get(1..).unwrap_or_default())) {
        (_, Err(message)) => Err(message.into()),
        (Some("train"), Ok(flags)) => train(&dist, &flags),
        (Some("allreduce"), Ok(flags)) => allreduce(&dist, &flags),
        (Some("bench"), Ok(flags)) => bench(&dist, &flags),
        _ => Err("usage: wengert-dist-probe train|allreduce|bench [--flag value ...]".into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => dist.end_with_error(&*error),
    }
}

fn widths(flags: &Flags, width: usize, classes: usize) -> Result<Vec<usize>, String> {
    let hidden = flags.text("hidden", "16");
    let mut sizes = vec![width];
    for part in hidden.split(',') {
        sizes.push(part.parse().map_err(|error| format!("--hidden {hidden}: {error}"))?);
    }
    sizes.push(classes);
    Ok(sizes)
}

fn train(dist: &Dist, flags: &Flags) -> Result<(), Box<dyn Error>> {
    let (rows, width, classes) = (flags.get("rows", 512)?, flags.get("width", 8)?, flags.get("classes", 3)?);
    let sizes = widths(flags, width, classes)?;
    let (batch, epochs, lr, seed) =
        (flags.get("batch", 32)?, flags.get("epochs", 2)?, flags.get("lr", 0.01_f32)?, flags.get("seed", 1_u64)?);
    let optimizer_name = flags.text("optimizer", "adam");
    let mut optimizer: Box<dyn Optimizer<f32>> = match optimizer_name.as_str() {
        "adam" => Box::new(Adam::new(lr)),
        "sgd" => Box::new(Sgd::new(lr)),
        other => return Err(format!("--optimizer {other}: adam or sgd").into()),
    };
    let data = synthetic::blobs(rows, width, classes, seed);
    let mut model = Mlp::<f32>::new(&sizes, Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let sizes_text = sizes.iter().map(usize::to_string).collect::<Vec<_>>().join("-");
    let settings = [
        ("sizes", sizes_text),
        ("parameters", model.parameters().map(|p| p.len()).sum::<usize>().to_string()),
        ("batch", batch.to_string()),
        ("lr", lr.to_string()),
        ("optimizer", optimizer_name),
        ("seed", seed.to_string()),
        ("rows", data.len().to_string()),
    ];
    check_same_config(dist, &settings)?;
    dist.broadcast_parameters(&mut model);
    let out = flags.0.get("out").map(PathBuf::from);
    let mut first_epoch = 1;
    if flags.switch("resume") {
        let path = out.as_ref().ok_or("--resume needs --out")?.join("checkpoint.safetensors");
        let checkpoint = resume_from_root(dist, &path, &mut model, optimizer.as_mut(), &settings)?;
        first_epoch = checkpoint.metadata_parse::<usize>("epoch")? + 1;
    }
    // The probe evaluates on its training rows: it checks the mechanics, not generalisation.
    let train = shard(&data, dist.rank(), dist.size());
    let config = TrainConfig {
        epochs,
        batch_size: batch,
        seed,
        progress: false,
        dropout: flags.get("dropout", 0.0)?,
        workers: flags.get("workers", 1)?,
        ..TrainConfig::default()
    };
    // For the test that a rank which dies ends the job: this rank leaves after that epoch,
    // without a word to the others, while they go on to the next step's allreduce.
    let dies: Option<(usize, usize)> = match (flags.0.get("die-rank"), flags.0.get("die-after-epoch")) {
        (Some(_), Some(_)) => Some((flags.get("die-rank", 0)?, flags.get("die-after-epoch", 0)?)),
        _ => None,
    };
    let history = fit(
        dist,
        &mut model,
        optimizer.as_mut(),
        &train,
        &train,
        &config,
        first_epoch,
        |metrics, model, optimizer| {
            if dies == Some((dist.rank(), metrics.epoch)) {
                eprintln!("rank {} leaves after epoch {}", dist.rank(), metrics.epoch);
                std::process::exit(3);
            }
            if dist.is_root() {
                println!(
                    "epoch {}: train loss {:.4}, test accuracy {:.4}",
                    metrics.epoch, metrics.train_loss, metrics.test_accuracy
                );
            }
            match &out {
                Some(dir) => {
                    if dist.is_root() {
                        std::fs::create_dir_all(dir).map_err(|source| wengert_nn::checkpoint::CheckpointError::Io {
                            path: dir.clone(),
                            source,
                        })?;
                    }
                    let mut metadata: Vec<(&str, String)> = settings.to_vec();
                    metadata.push(("epoch", metrics.epoch.to_string()));
                    save_on_root(dist, &dir.join("checkpoint.safetensors"), model, optimizer, &metadata)
                }
                None => Ok(()),
            }
        },
    )?;
    let last = history.last().map_or(first_epoch - 1, |m| m.epoch);
    println!("rank {} of {}: parameters {:016x} after epoch {last}", dist.rank(), dist.size(), parameter_hash(&model));
    Ok(())
}

/// The gradient of rank `rank`'s shard of `data` (its mean loss, on `workers` threads),
/// times its share of the rows: what that rank contributes to the allreduce.
fn contribution(model: &mut Mlp<f32>, data: &Dataset, rank: usize, size: usize, workers: usize) -> FlatGradient {
    let local = shard(data, rank, size);
    let no_dropout = Dropout::new(0.0, 0).expect("p = 0 is valid");
    with_workers(workers, model, &no_dropout, |pool| {
        let stats = pool.gradient(local.features().data(), local.labels(), [0, 0]);
        let share = stats.rows as f32 / data.len() as f32;
        let mut gradient = pool.flat_gradient().clone();
        gradient.as_mut_slice().iter_mut().for_each(|g| *g *= share);
        gradient
    })
}

fn allreduce(dist: &Dist, flags: &Flags) -> Result<(), Box<dyn Error>> {
    let (rows, width, classes, seed) = (flags.get("rows", 96)?, flags.get("width", 8)?, flags.get("classes", 3)?, 5);
    let sizes = widths(flags, width, classes)?;
    check_same_config(dist, &[("sizes", format!("{sizes:?}")), ("rows", rows.to_string())])?;
    let data = synthetic::blobs(rows, width, classes, seed);
    let mut model = Mlp::<f32>::new(&sizes, Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut reduced = contribution(&mut model, &data, dist.rank(), dist.size(), 2);
    dist.all_sum_in_place(reduced.as_mut_slice(), &mut Vec::new());
    if dist.is_root() {
        // The same sum in this one process: every rank's contribution, added in rank order.
        let mut sum = contribution(&mut model, &data, 0, dist.size(), 2);
        for rank in 1..dist.size() {
            sum += &contribution(&mut model, &data, rank, dist.size(), 2);
        }
        // And the full batch's gradient on one tape, which the sum equals up to reassociation.
        let full = contribution(&mut model, &data, 0, 1, 1);
        let max_difference = |a: &FlatGradient, b: &FlatGradient| {
            a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0_f32, f32::max)
        };
        let largest = full.as_slice().iter().fold(0.0_f32, |m, g| m.max(g.abs()));
        println!(
            "allreduce of {} numbers over {} ranks, {rows} rows: against the one-process sum {:e}, against the full batch {:e}, largest {:e}",
            reduced.len(),
            dist.size(),
            max_difference(&reduced, &sum),
            max_difference(&reduced, &full),
            largest
        );
    }
    Ok(())
}

fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn bench(dist: &Dist, flags: &Flags) -> Result<(), Box<dyn Error>> {
    let size = flags.text("size", "M");
    let (sizes, batch): (&[usize], usize) = match size.as_str() {
        "S" => (&[64, 32, 10], 32),
        "M" => (&[784, 256, 128, 10], 128),
        "L" => (&[784, 1024, 1024, 10], 512),
        other => return Err(format!("--size {other}: S, M or L").into()),
    };
    let steps: usize = flags.get("steps", 30)?;
    check_same_config(dist, &[("size", size.clone()), ("steps", steps.to_string())])?;
    let data = synthetic::blobs(batch, sizes[0], sizes[sizes.len() - 1], 3);
    let local = shard(&data, dist.rank(), dist.size());
    let mut model = Mlp::<f32>::new(sizes, Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
    dist.broadcast_parameters(&mut model);
    let mut sgd = Sgd::new(0.01);
    let no_dropout = Dropout::new(0.0, 0).expect("p = 0 is valid");
    let (mut compute, mut reduce) = (Vec::new(), Vec::new());
    let mut scratch = Vec::new();
    let parameters = with_workers(1, &mut model, &no_dropout, |pool| {
        for step in 0..steps + 5 {
            dist.world().barrier();
            let started = Instant::now();
            pool.gradient(local.features().data(), local.labels(), [0, 0]);
            pool.apply(&mut sgd, None);
            let computed = started.elapsed().as_secs_f64();
            // Both ranks enter the allreduce together, so it times the transfer, not the wait.
            dist.world().barrier();
            let started = Instant::now();
            dist.all_sum_in_place(pool.flat_gradient_mut().as_mut_slice(), &mut scratch);
            let reduced = started.elapsed().as_secs_f64();
            if step >= 5 {
                compute.push(computed * 1e3);
                reduce.push(reduced * 1e3);
            }
        }
        pool.flat_gradient().len()
    });
    if dist.is_root() {
        println!(
            "MLP-{size} {sizes:?}, global batch {batch} over {} ranks: {parameters} parameters, {} bytes per allreduce; medians of {steps} steps: compute {:.3} ms, allreduce {:.3} ms",
            dist.size(),
            4 * parameters,
            median(&mut compute),
            median(&mut reduce)
        );
    }
    Ok(())
}
