//! The wengert benchmark: races the tape against a hand-written backward pass that uses
//! the same GEMM and no tape, side by side in one process, interleaved step by step. The
//! scalar workloads also race wengert on a new tape per gradient, echidna and reverse.
//!
//! `cargo run --release -p wengert-bench -- --help` lists the flags; docs/performance.md
//! records a full run.

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use std::error::Error;
use std::hint::black_box;
use std::process::ExitCode;
use wengert_bench::contenders::{self, Contender, Contenders};
use wengert_bench::stats::{Samples, Summary};
use wengert_bench::{cnn, conv, gemm_race, hvp, init, mlp, train};
use wengert_nn::parallel::with_workers;
use wengert_nn::Dropout;

#[derive(Parser)]
#[command(
    about = "Races the wengert tape against hand-written backpropagation (same GEMM, no tape), and on the scalar workloads against echidna and reverse."
)]
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
    /// Run only these workloads: mlp, rosen (Rosenbrock gradient, n = 100,000), chain (1,000,000 scalar ops), gemm,
    /// hvp (one Hessian-vector product against one gradient, at MLP-M and on Rosenbrock),
    /// train (wengert-nn's data-parallel step at batch 128 on 1 and 2 workers; sizes S and M),
    /// conv (the LeNet's two conv2d layers forward + backward, and one LeNet train step, at batch 64).
    #[arg(long, value_delimiter = ',', default_values = ["mlp", "rosen", "chain"])]
    only: Vec<Workload>,
    /// Also print one `RESULT ...` line per run, for scripts (and `SPLIT ...` lines for the
    /// parts of the hand-written LeNet step).
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
    Hvp,
    Train,
    Conv,
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

/// Runs `count` implementations interleaved (0, 1, ..., count - 1, then again), warm-up
/// first; `step(i)` does one step of implementation i and returns its loss.
fn race(args: &Args, count: usize, mut step: impl FnMut(usize) -> f64) -> Vec<Run> {
    let mut samples: Vec<Samples> = (0..count).map(|_| Samples::default()).collect();
    let mut losses = vec![Vec::new(); count];
    for round in 0..args.warmup + args.steps as usize {
        let timed = round >= args.warmup;
        for (i, (samples, losses)) in samples.iter_mut().zip(&mut losses).enumerate() {
            let loss = samples.time(timed, || step(i));
            if timed {
                losses.push(loss);
            }
        }
    }
    samples
        .iter()
        .zip(&losses)
        .map(|(samples, losses)| Run {
            summary: samples.summary(),
            loss_first: losses[0],
            loss_last: losses[losses.len() - 1],
        })
        .collect()
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

/// The bound on one Hessian-vector product, in gradients.
const HVP_LIMIT: f64 = 5.0;

/// One row of the HVP table: the gradient's and the HVP's times and their ratio.
fn print_hvp_row(args: &Args, name: &str, what: &str, runs: &[Run]) {
    let (g, h) = (runs[0].summary, runs[1].summary);
    let ratio = h.median / g.median;
    let verdict = if ratio <= HVP_LIMIT { "within the limit of 5" } else { "ABOVE the limit of 5" };
    println!(
        "{name:<40} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>9.3}  {verdict} (min/min {:.3})",
        g.median,
        g.min,
        h.median,
        h.min,
        ratio,
        h.min / g.min
    );
    print_result(args, "hvp", "gradient", what, &runs[0]);
    print_result(args, "hvp", "hvp", what, &runs[1]);
}

/// The contenders' table of one scalar workload: median and min ms per gradient, ns per
/// `unit` (Rosenbrock's terms, the chain's ops), and each median over echidna's.
fn contender_table(title: &str, unit: &str, units: usize, runs: &[Run]) -> String {
    let echidna = runs[Contender::ALL.iter().position(|&c| c == Contender::Echidna).expect("echidna races")].summary;
    let mut table = format!(
        "{title}: contenders interleaved, ms per gradient\n{:<18} {:>10} {:>10} {:>12} {:>10}\n",
        "contender",
        "median ms",
        "min ms",
        format!("ns/{unit}"),
        "/ echidna"
    );
    for (contender, run) in Contender::ALL.iter().zip(runs) {
        let s = run.summary;
        table += &format!(
            "{:<18} {:>10.4} {:>10.4} {:>12.1} {:>10.3}\n",
            contender.name(),
            s.median,
            s.min,
            s.median * 1e6 / units as f64,
            s.median / echidna.median
        );
    }
    table
}

fn main() -> ExitCode {
    let matches = Args::command().after_help(contenders::help()).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wengert-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Worker counts of the data-parallel rows.
const TRAIN_WORKERS: [usize; 2] = [1, 2];

/// The data-parallel train steps of `train::CONFIGS` on 1 and 2 workers, interleaved step
/// by step. While the 2-worker pool is alive every product runs on its calling thread
/// (`with_workers`), so both rows run a serial GEMM, whatever `--threads` says.
fn train_rows(args: &Args) {
    println!(
        "\n{:<34} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}  loss first -> last (1 worker, 2 workers)",
        "data-parallel train step", "1w med", "1w min", "2w med", "2w min", "2w max", "speed-up"
    );
    let no_dropout = Dropout::new(0.0, 0).expect("valid p");
    let sizes = |config: &train::Config| if config.size == "S" { Size::S } else { Size::M };
    for config in train::CONFIGS.iter().filter(|c| args.size.contains(&sizes(c))) {
        let name = config.size;
        let batch = train::batch_of(name, config.batch);
        let (mut one_model, mut two_model) = (train::model(name), train::model(name));
        let (mut one_optimizer, mut two_optimizer) = (config.optimizer(), config.optimizer());
        let runs = with_workers(TRAIN_WORKERS[0], &mut one_model, &no_dropout, |one| {
            with_workers(TRAIN_WORKERS[1], &mut two_model, &no_dropout, |two| {
                race(args, 2, |i| {
                    f64::from(if i == 0 {
                        train::step(one, one_optimizer.as_mut(), &batch)
                    } else {
                        train::step(two, two_optimizer.as_mut(), &batch)
                    })
                })
            })
        });
        let (one, two) = (&runs[0], &runs[1]);
        let (o, t) = (one.summary, two.summary);
        println!(
            "{:<34} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>7.3}  {:.6e} -> {:.6e}, {:.6e} -> {:.6e}",
            config.describe(),
            o.median,
            o.min,
            t.median,
            t.min,
            t.max,
            o.median / t.median,
            one.loss_first,
            one.loss_last,
            two.loss_first,
            two.loss_last
        );
        for (workers, run) in TRAIN_WORKERS.iter().zip(&runs) {
            print_result(
                args,
                "train",
                &format!("workers{workers}"),
                &format!("size={name} batch={} optimizer={}", config.batch, if config.adam { "adam" } else { "sgd" }),
                run,
            );
        }
    }
}

/// Runs the workloads `args` selects and prints their tables.
///
/// # Errors
///
/// A scalar contender whose gradient differs from the hand-written one, or a convolution
/// race whose tape and hand-written code disagree, found before timing.
fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    println!(
        "wengert-bench: GEMM back-end {}, threads {}, warm-up {}, timed steps {} (implementations interleaved); times in ms per step",
        wengert_tape::gemm_backend(),
        args.threads,
        args.warmup,
        args.steps
    );
    if args.only.contains(&Workload::Gemm) {
        wengert_tape::set_gemm_threads(1);
        println!(
            "\nGEMM crates on one thread, ms per product (median of {} after {} warm-up); Real::gemm runs on {}:",
            args.steps,
            args.warmup,
            wengert_tape::gemm_backend()
        );
        println!(
            "{:<34} {:>6} {:>6} {:>6} {:>14} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8}",
            "product", "m", "k", "n", "matrixmultiply", "gemm", "gemmkit", "Real::gemm", "mm/gemm", "mm/kit", "mm/Real"
        );
        for size in [Size::S, Size::M, Size::L].into_iter().filter(|s| args.size.contains(s)) {
            for p in gemm_race::products(&format!("{size:?}")) {
                let t = gemm_race::race(&p, args.warmup, args.steps as usize);
                let mm = t.matrixmultiply.median;
                println!(
                    "{:<34} {:>6} {:>6} {:>6} {:>14.4} {:>10.4} {:>10.4} {:>10.4} {:>8.3} {:>8.3} {:>8.3}",
                    p.name,
                    p.m,
                    p.k,
                    p.n,
                    mm,
                    t.gemm.median,
                    t.gemmkit.median,
                    t.engine.median,
                    mm / t.gemm.median,
                    mm / t.gemmkit.median,
                    mm / t.engine.median
                );
            }
        }
        println!();
    }
    // The tape and the hand-written step both multiply through `Real::gemm`, which reads this.
    wengert_tape::set_gemm_threads(args.threads as usize);
    if args.only.iter().any(|w| matches!(w, Workload::Mlp | Workload::Rosen | Workload::Chain)) {
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
            let runs = race(args, 2, |i| f64::from(if i == 0 { tape_step.step(0.01) } else { hand_step.step(0.01) }));
            let (tape, hand) = (&runs[0], &runs[1]);
            print_row(&format!("MLP-{name} {}", mlp::describe(&name)), tape, hand, None);
            print_result(args, "mlp", "wengert", &format!("size={name}"), tape);
            print_result(args, "mlp", "hand", &format!("size={name}"), hand);
        }
    }
    if args.only.contains(&Workload::Train) {
        train_rows(args);
    }
    // The contenders' tables follow the main table, which keeps wengert (reused tape) and hand.
    let mut tables = Vec::new();
    let wengert = Contender::ALL.iter().position(|&c| c == Contender::Wengert).expect("wengert races");
    let hand = Contender::ALL.iter().position(|&c| c == Contender::Hand).expect("hand races");
    let mut contenders = Contenders::new();
    if args.only.contains(&Workload::Rosen) {
        let x = init::rosenbrock_start(ROSENBROCK_N);
        contenders.check_rosenbrock(&x)?;
        let ops = contenders.reused_tape_len();
        let mut gradients = vec![vec![0.0; x.len()]; Contender::ALL.len()];
        let runs = race(args, Contender::ALL.len(), |i| {
            contenders.rosenbrock(Contender::ALL[i], black_box(&x), &mut gradients[i])
        });
        let what = format!("n={ROSENBROCK_N} ops={ops}");
        print_row(&format!("Rosenbrock n={ROSENBROCK_N}, {ops} ops"), &runs[wengert], &runs[hand], Some(ops));
        for (contender, run) in Contender::ALL.iter().zip(&runs) {
            print_result(args, "rosen", contender.name(), &what, run);
        }
        let terms = ROSENBROCK_N - 1;
        let title = format!("Rosenbrock n={ROSENBROCK_N} ({terms} terms; {ops} nodes on wengert's tape)");
        tables.push(contender_table(&title, "term", terms, &runs));
    }
    if args.only.contains(&Workload::Chain) {
        contenders.check_chain(0.5, CHAIN_OPS)?;
        let runs =
            race(args, Contender::ALL.len(), |i| contenders.chain(Contender::ALL[i], black_box(0.5), CHAIN_OPS).1);
        let ops = CHAIN_OPS + 1;
        let what = format!("n={CHAIN_OPS} ops={ops}");
        print_row(&format!("chain of {CHAIN_OPS} scalar ops"), &runs[wengert], &runs[hand], Some(ops));
        for (contender, run) in Contender::ALL.iter().zip(&runs) {
            print_result(args, "chain", contender.name(), &what, run);
        }
        tables.push(contender_table(&format!("chain of {CHAIN_OPS} scalar ops"), "op", CHAIN_OPS, &runs));
    }
    for table in tables {
        println!("\n{table}");
    }
    if args.only.contains(&Workload::Hvp) {
        run_hvp(args);
    }
    if args.only.contains(&Workload::Conv) {
        run_conv(args)?;
    }
    Ok(())
}

/// The HVP table: one gradient and one Hessian-vector product (reverse over reverse, along a
/// fixed random direction) interleaved, at MLP-M in the parameters and on Rosenbrock.
fn run_hvp(args: &Args) {
    println!("\nHessian-vector product (reverse over reverse) against one gradient, interleaved; ms per call");
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "workload", "grad med", "grad min", "hvp med", "hvp min", "hvp/grad"
    );
    let mut model = hvp::MlpHvp::<f32>::new(&mlp::Problem::new("M"));
    let (mut gradient, mut product) = (model.buffers(), model.buffers());
    let runs =
        race(args, 2, |i| f64::from(if i == 0 { model.gradient(&mut gradient) } else { model.hvp(&mut product) }));
    let name = format!("MLP-M {}, in the parameters", mlp::describe("M"));
    print_hvp_row(args, &name, "size=M", &runs);

    let x = init::rosenbrock_start(ROSENBROCK_N);
    let v = hvp::direction(60, ROSENBROCK_N);
    let runs = race(args, 2, |i| {
        if i == 0 {
            hvp::rosenbrock_gradient(black_box(&x)).0
        } else {
            // (H v)_0 stands where the other rows print the loss.
            hvp::rosenbrock_hvp(black_box(&x), black_box(&v))[0]
        }
    });
    print_hvp_row(
        args,
        &format!("Rosenbrock n={ROSENBROCK_N}, new tape per call"),
        &format!("n={ROSENBROCK_N}"),
        &runs,
    );
}

/// The floor on the convolution races, tape / hand.
const CONV_FLOOR: f64 = 1.15;

/// The convolution races: each LeNet conv2d layer forward + backward (dX and dW from a fixed
/// upstream gradient), then one LeNet train step, tape against hand-written im2col + GEMM,
/// each checked before it is timed; then the hand-written step's time by part.
///
/// # Errors
///
/// The first tensor on which the tape and the hand-written code disagree.
fn run_conv(args: &Args) -> Result<(), Box<dyn Error>> {
    println!("\nConvolution against hand-written im2col + GEMM (same GEMM), interleaved; ms per step");
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}  floor {CONV_FLOOR}",
        "workload", "tape med", "tape min", "tape max", "hand med", "hand min", "ratio"
    );
    let verdict = |tape: &Run, hand: &Run| {
        let ratio = tape.summary.median / hand.summary.median;
        let (t, h) = (tape.summary, hand.summary);
        let verdict = if ratio <= CONV_FLOOR { "within" } else { "ABOVE" };
        format!(
            "{:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>7.3}  {verdict}",
            t.median, t.min, t.max, h.median, h.min, ratio
        )
    };
    for name in conv::LAYERS {
        let mut tape = conv::TapeConv::new(conv::ConvProblem::lenet(name));
        let mut hand = conv::HandConv::new(conv::ConvProblem::lenet(name));
        conv::check(name, &mut tape, &mut hand)?;
        let what = format!("size={name} batch={}", conv::BATCH);
        let runs = race(args, 2, |i| f64::from(if i == 0 { tape.step() } else { hand.step() }));
        let label = format!("{name} fwd+bwd {}", conv::ConvProblem::lenet(name).describe());
        println!("{label:<34} {}", verdict(&runs[0], &runs[1]));
        print_result(args, "conv", "wengert", &what, &runs[0]);
        print_result(args, "conv", "hand", &what, &runs[1]);
    }
    let net = cnn::LENET;
    let mut tape = cnn::TapeCnn::new(cnn::CnnProblem::new(net));
    let mut hand = cnn::HandCnn::new(cnn::CnnProblem::new(net));
    cnn::check(&mut tape, &mut hand)?;
    let runs = race(args, 2, |i| f64::from(if i == 0 { tape.step(0.01) } else { hand.step(0.01) }));
    println!("{:<34} {}", "LeNet train step (SGD)", verdict(&runs[0], &runs[1]));
    println!(
        "  {}; loss {:.6e} -> {:.6e} (hand {:.6e} -> {:.6e})",
        net.describe(),
        runs[0].loss_first,
        runs[0].loss_last,
        runs[1].loss_first,
        runs[1].loss_last
    );
    let what = format!("size=lenet batch={}", net.batch);
    print_result(args, "cnn", "wengert", &what, &runs[0]);
    print_result(args, "cnn", "hand", &what, &runs[1]);

    // The hand-written step's parts, timed by laps inside it: one run, after the race.
    let steps = args.steps as usize;
    let (split, total) = hand.timed_steps(steps, 0.01);
    let per_step = |seconds: f64| seconds * 1e3 / steps as f64;
    println!(
        "\nHand-written LeNet step by part ({steps} steps, one run, on a machine shared with other jobs): {:.4} ms per step",
        per_step(total)
    );
    let parts = [
        ("products (Real::gemm)", split.products),
        ("lowering (im2col, col2im)", split.lowering),
        ("max-pools (forward, backward)", split.pools),
        ("rest (bias, relu, loss, SGD)", split.rest),
    ];
    for (part, seconds) in parts {
        println!("  {part:<32} {:>10.4} ms {:>6.1} %", per_step(seconds), 100.0 * seconds / total);
        // SPLIT, not RESULT: scripts/race.sh reads every RESULT line as a timed race.
        if args.result_lines {
            let part = part.split(' ').next().unwrap_or(part);
            println!(
                "SPLIT kind=cnn impl=hand size=lenet part={part} steps={steps} ms_per_step={:.6}",
                per_step(seconds)
            );
        }
    }
    Ok(())
}
