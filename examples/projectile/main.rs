//! A scalar physics problem on the tape: a projectile with quadratic air drag, launched
//! at speed `v0` and angle `theta`, stepped with semi-implicit Euler until it comes back to
//! the ground (the landing point interpolated linearly between the last two steps, on the
//! tape). Gradient descent on `theta` makes its range hit a target distance, with the loss
//! `L = (range - target)^2`.
//!
//! Run: `cargo run --release --example projectile` (flags: `-- --help`)
//!
//! Each step prints the angle, the range, the tape's `dL/dtheta` next to a central
//! difference of the same simulation (run again at `theta +/- h` in plain `f64`, no tape)
//! and their relative difference. A target beyond the longest range, or a descent that
//! runs out of steps, ends with an error and exit code 1.

mod sim;

use clap::Parser;
use sim::{Descent, Launch, ProjectileError, StepReport};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "Gradient descent on a projectile's launch angle to hit a target distance")]
struct Args {
    /// Distance to hit, m.
    #[arg(long, default_value_t = 150.0, allow_negative_numbers = true)]
    target: f64,
    /// Launch speed, m/s.
    #[arg(long, default_value_t = 50.0, allow_negative_numbers = true)]
    speed: f64,
    /// Quadratic drag coefficient k in a = -k |v| v, 1/m (0: no air).
    #[arg(long, default_value_t = 0.002, allow_negative_numbers = true)]
    drag: f64,
    /// Time step, s.
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    dt: f64,
    /// Most gradient-descent steps.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Learning rate on dL/dtheta (L in m^2, theta in radians).
    #[arg(long, default_value_t = 6e-6, allow_negative_numbers = true)]
    lr: f64,
    /// Starting angle, degrees.
    #[arg(long, default_value_t = 15.0, allow_negative_numbers = true)]
    start: f64,
}

/// Half-width of the central difference, radians.
const H: f64 = 1e-6;
/// Done when the range is this close to the target, m.
const TOLERANCE: f64 = 1e-4;

fn run(args: &Args) -> Result<(), ProjectileError> {
    let launch = Launch::new(args.speed, args.drag, args.dt)?;
    if !(args.start.is_finite() && args.start > 0.0 && args.start < 90.0) {
        return Err(ProjectileError::BadFlag {
            flag: "start",
            value: args.start,
            expected: "an angle in (0, 90) degrees",
        });
    }
    let descent = Descent {
        target: args.target,
        start: args.start.to_radians(),
        lr: args.lr,
        steps: args.steps,
        tolerance: TOLERANCE,
        h: H,
    };
    println!(
        "projectile: v0 = {} m/s, drag k = {} 1/m, dt = {} s (semi-implicit Euler), target {} m, lr {}",
        args.speed, args.drag, args.dt, args.target, args.lr
    );
    println!("step   angle (deg)    range (m)     tape dL/dtheta   central diff.    rel. diff.");
    let print = |report: &StepReport| {
        let e = &report.evaluation;
        println!(
            "{:>4}  {:>12.6}  {:>11.6}  {:>15.6e}  {:>15.6e}  {:>10.2e}",
            report.step,
            e.theta.to_degrees(),
            e.range,
            e.gradient,
            report.numeric,
            sim::relative_difference(e.gradient, report.numeric)
        );
    };
    let last = sim::descend(&launch, &descent, print)?;
    println!(
        "hit {} m within {TOLERANCE} m: angle {:.6} degrees, range {:.6} m",
        args.target,
        last.theta.to_degrees(),
        last.range
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            // --help and --version print to stdout and succeed; a bad flag fails with 1.
            let _ = error.print();
            return if error.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
