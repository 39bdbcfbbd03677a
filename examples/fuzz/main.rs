//! The fuzzing soak: the mutations of the `fuzz_*` tests, on every parser of outside input,
//! for as long as asked. Each parser gets an equal share of the time, in slices; each input
//! is a function of its parser and seed, so a failure can be run again alone.
//!
//! Run: `cargo run --release --example fuzz -- --seconds 300`
//! (`--target csv,checkpoint` for some parsers only, `--seed N` for another stream,
//! `--target csv --replay SEED` to run one input again, `--trace` to print each seed first,
//! which finds the input of an abort).
//!
//! Prints the inputs tried per parser (accepted, refused), the failures (panics, errors
//! that do not name the file, allocations over the bound) and the time; exits with failure
//! if there was any.

#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
mod flags;
#[path = "../../crates/wengert-nn/tests/suite/fuzzing/mod.rs"]
mod fuzzing;

use clap::Parser;
use fuzzing::{targets, Outcome, Target, Trial, ALLOCATION_FACTOR, ALLOCATION_SLACK};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Byte-mutation fuzzing of wengert's parsers of outside input, for a given time")]
struct Options {
    /// How long to run, in seconds, shared equally between the parsers.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// The parsers, comma-separated: csv, csv.gz, idx-images, idx-labels, checkpoint, flags,
    /// metrics (default: all).
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// The first seed of every parser's stream (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Runs the single input of this seed (with --target) and prints it.
    #[arg(long)]
    replay: Option<u64>,
    /// Prints each parser and seed before running it.
    #[arg(long)]
    trace: bool,
}

/// One parser's tally.
struct Tally {
    target: Target,
    next_seed: u64,
    tried: u64,
    accepted: u64,
    failures: Vec<Trial>,
    busy: Duration,
}

fn all_targets() -> Vec<Target> {
    vec![
        targets::csv(),
        targets::csv_gz(),
        targets::idx_images(),
        targets::idx_labels(),
        targets::checkpoint(),
        flags::flags(),
        flags::metrics(),
    ]
}

fn main() -> ExitCode {
    let options = Options::parse();
    let mut chosen: Vec<Target> = all_targets();
    if !options.target.is_empty() {
        let known: Vec<&str> = chosen.iter().map(|t| t.name).collect();
        if let Some(unknown) = options.target.iter().find(|name| !known.contains(&name.as_str())) {
            eprintln!("error: no parser named {unknown:?}; the parsers are {}", known.join(", "));
            return ExitCode::FAILURE;
        }
        chosen.retain(|t| options.target.iter().any(|name| name == t.name));
    }
    if let Some(seed) = options.replay {
        let [target] = chosen.as_slice() else {
            eprintln!("error: --replay needs one --target");
            return ExitCode::FAILURE;
        };
        let trial = target.trial(seed);
        println!("{}: {trial}", target.name);
        return if trial.outcome.is_failure() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
    for target in &chosen {
        target.check_samples_parse();
    }

    let first_seed = options.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        now.as_secs() * 1_000_000
    });
    println!(
        "fuzzing {} parsers for {} s from seed {first_seed}; bound on one allocation: {ALLOCATION_FACTOR} x input + {} KiB",
        chosen.len(),
        options.seconds,
        ALLOCATION_SLACK / 1024
    );
    let mut tallies: Vec<Tally> = chosen
        .into_iter()
        .map(|target| Tally {
            target,
            next_seed: first_seed,
            tried: 0,
            accepted: 0,
            failures: Vec::new(),
            busy: Duration::ZERO,
        })
        .collect();

    let started = Instant::now();
    let total = Duration::from_secs_f64(options.seconds.max(0.0));
    let slice = Duration::from_millis(200);
    while started.elapsed() < total {
        for tally in &mut tallies {
            let slice_start = Instant::now();
            while slice_start.elapsed() < slice {
                let seed = tally.next_seed;
                tally.next_seed += 1;
                if options.trace {
                    println!("{} seed {seed}", tally.target.name);
                }
                let trial = tally.target.trial(seed);
                tally.tried += 1;
                tally.accepted += u64::from(trial.outcome == Outcome::Accepted);
                if trial.outcome.is_failure() {
                    println!("FAILURE {}: {trial}", tally.target.name);
                    tally.failures.push(trial);
                }
            }
            tally.busy += slice_start.elapsed();
        }
    }

    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "\n{:<12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "parser", "inputs", "accepted", "refused", "failures", "seconds", "inputs/s"
    );
    let (mut inputs, mut failures) = (0, 0);
    for t in &tallies {
        let refused = t.tried - t.accepted - t.failures.len() as u64;
        let seconds = t.busy.as_secs_f64();
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>8.1} {:>10.0}",
            t.target.name,
            t.tried,
            t.accepted,
            refused,
            t.failures.len(),
            seconds,
            t.tried as f64 / seconds.max(1e-9)
        );
        inputs += t.tried;
        failures += t.failures.len();
    }
    println!(
        "{inputs} inputs, {failures} failures (panics, unnamed errors, allocations over the bound) in {elapsed:.1} s"
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
