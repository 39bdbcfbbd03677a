//! The wengert benchmark: races the tape against a hand-written backward pass that uses
//! the same GEMM and no tape, side by side in one process, interleaved step by step.
//!
//! `cargo run --release -p wengert-bench -- --help` lists the flags; docs/performance.md
//! records a full run.

use clap::{Parser, ValueEnum};
use std::hint::black_box;
use wengert_bench::stats::{Samples, Summary};
use wengert_bench::{gemm_race, init, mlp, scalar};
use wengert_tape::Tape;

#[derive(Parser)]
#[command(about = "Races the wengert tape against hand-written backpropagation (same GEMM, no tape).")]
struct Args {
    /// MLP sizes to run: S (64-32-10, batch 32), M (784-256-128-10, batch 128), L (784-1024-1024-10, batch 512).
    #[arg(long, value_delimiter = ',', default_values = ["S", "M", "L"], ignore_case = true)]
    size: Vec<Size>,
    /// Threads the GEMM of the MLP steps may use, 0 to let it choose per product (the GEMM race always runs on one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=4))]
    threads: u32,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Timed steps of each implementation.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Run only these workloads.
    #[arg(long, value_delimiter = ',', default_values = ["mlp", "rosen", "chain"])]
    only: Vec<Workload>,
    /// Also print one `RESULT ...` line per run, for scripts.
    #[arg(long)]
    result_lines: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Size {
    #[value(name = "S")]
    S,
    #[value(name = "M")]
    M,
    #[value(name = "L")]
    L,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
enum Workload {
    Mlp,
    Rosen,
    Chain,
    Gemm,
}

/// Rosenbrock's dimension and the chain's length.
const ROSENBROCK_N: usize = 100_000;
const CHAIN_OPS: usize = 1_000_000;

/// One implementation's run: its times and the loss at the first and last timed step.
struct Run {
    summary: Summary,
    loss_first: f64,
    loss_last: f64,
}

/// Runs two implementations interleaved, warm-up first; each closure does one step and
/// returns its loss.
fn race(args: &Args, mut tape: impl FnMut() -> f64, mut hand: impl FnMut() -> f64) -> (Run, Run) {
    let (mut tape_samples, mut hand_samples) = (Samples::default(), Samples::default());
    let (mut tape_losses, mut hand_losses) = (Vec::new(), Vec::new());
    for step in 0..args.warmup + args.steps as usize {
        let timed = step >= args.warmup;
        let loss = tape_samples.time(timed, &mut tape);
        let hand_loss = hand_samples.time(timed, &mut hand);
        if timed {
            tape_losses.push(loss);
            hand_losses.push(hand_loss);
        }
    }
    let run = |samples: &Samples, losses: &[f64]| Run {
        summary: samples.summary(),
        loss_first: losses[0],
        loss_last: losses[losses.len() - 1],
    };
    (run(&tape_samples, &tape_losses), run(&hand_samples, &hand_losses))
}

fn print_result(args: &Args, kind: &str, implementation: &str, what: &str, run: &Run) {
    if args.result_lines {
        let s = run.summary;
        println!(
            "RESULT kind={kind} impl={implementation} {what} threads={} warmup={} steps={} median_ms={:.6} min_ms={:.6} max_ms={:.6} p10_ms={:.6} p90_ms={:.6} loss_first={:.9e} loss_last={:.9e}",
            args.threads, args.warmup, args.steps, s.median, s.min, s.max, s.p10, s.p90, run.loss_first, run.loss_last
        );
    }
}

fn print_row(name: &str, tape: &Run, hand: &Run, ops: Option<usize>) {
    let (t, h) = (tape.summary, hand.summary);
    let per_op = |ms: f64| ops.map_or(String::from("-"), |ops| format!("{:.1}", ms * 1e6 / ops as f64));
    println!(
        "{name:<34} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>7.3} {:>9} {:>9}  {:.6e} -> {:.6e} (hand {:.6e} -> {:.6e})",
        t.median, t.min, t.max, h.median, h.min, t.median / h.median, per_op(t.median), per_op(h.median),
        tape.loss_first, tape.loss_last, hand.loss_first, hand.loss_last
    );
}

fn main() {
    let args = Args::parse();
    // The tape and the hand-written step both multiply through `Real::gemm`, which reads this.
    wengert_tape::set_gemm_threads(args.threads as usize);
    println!(
        "wengert-bench: threads {}, warm-up {}, timed steps {} (tape and hand interleaved); times in ms per step",
        args.threads, args.warmup, args.steps
    );
    if args.only.contains(&Workload::Gemm) {
        println!(
            "\nGEMM crates on one thread, ms per product (median of {} after {} warm-up):",
            args.steps, args.warmup
        );
        println!(
            "{:<34} {:>6} {:>6} {:>6} {:>14} {:>10} {:>10} {:>8} {:>8}",
            "product", "m", "k", "n", "matrixmultiply", "gemm", "gemmkit", "mm/gemm", "mm/kit"
        );
        for size in [Size::S, Size::M, Size::L].into_iter().filter(|s| args.size.contains(s)) {
            for p in gemm_race::products(&format!("{size:?}")) {
                let (mm, gemm, kit, _) = gemm_race::race(&p, args.warmup, args.steps as usize);
                println!(
                    "{:<34} {:>6} {:>6} {:>6} {:>14.4} {:>10.4} {:>10.4} {:>8.3} {:>8.3}",
                    p.name,
                    p.m,
                    p.k,
                    p.n,
                    mm.median,
                    gemm.median,
                    kit.median,
                    mm.median / gemm.median,
                    mm.median / kit.median
                );
            }
        }
        println!();
    }
    if args.only.iter().any(|w| *w != Workload::Gemm) {
        println!(
            "{:<34} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} {:>9} {:>9}  loss first -> last",
            "workload", "tape med", "tape min", "tape max", "hand med", "hand min", "ratio", "tape ns/op", "hand ns/op"
        );
    }
    if args.only.contains(&Workload::Mlp) {
        for size in [Size::S, Size::M, Size::L].into_iter().filter(|s| args.size.contains(s)) {
            let name = format!("{size:?}");
            let mut tape_step = mlp::TapeStep::new(mlp::Problem::new(&name));
            let mut hand_step = mlp::HandStep::new(mlp::Problem::new(&name));
            let (tape, hand) = race(&args, || f64::from(tape_step.step(0.01)), || f64::from(hand_step.step(0.01)));
            print_row(&format!("MLP-{name} {}", mlp::describe(&name)), &tape, &hand, None);
            print_result(&args, "mlp", "wengert", &format!("size={name}"), &tape);
            print_result(&args, "mlp", "hand", &format!("size={name}"), &hand);
        }
    }
    if args.only.contains(&Workload::Rosen) {
        let x = init::rosenbrock_start(ROSENBROCK_N);
        let (mut tape_gradient, mut hand_gradient) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let mut tape = Tape::new();
        let mut ops = 0;
        let (t, h) = race(
            &args,
            || scalar::rosenbrock_tape(&mut tape, black_box(&x), &mut tape_gradient, &mut ops),
            || scalar::rosenbrock_hand(black_box(&x), &mut hand_gradient),
        );
        let what = format!("n={ROSENBROCK_N} ops={ops}");
        print_row(&format!("Rosenbrock n={ROSENBROCK_N}, {ops} ops"), &t, &h, Some(ops));
        print_result(&args, "rosen", "wengert", &what, &t);
        print_result(&args, "rosen", "hand", &what, &h);
    }
    if args.only.contains(&Workload::Chain) {
        let mut tape = Tape::new();
        let (t, h) = race(
            &args,
            || scalar::chain_tape(&mut tape, black_box(0.5), CHAIN_OPS).1,
            || scalar::chain_hand(black_box(0.5), CHAIN_OPS).1,
        );
        let ops = CHAIN_OPS + 1;
        let what = format!("n={CHAIN_OPS} ops={ops}");
        print_row(&format!("chain of {CHAIN_OPS} scalar ops"), &t, &h, Some(ops));
        print_result(&args, "chain", "wengert", &what, &t);
        print_result(&args, "chain", "hand", &what, &h);
    }
}
