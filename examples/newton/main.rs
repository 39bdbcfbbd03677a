//! Newton's method with a line search on the (extended) Rosenbrock function, its Hessian from the tape
//! (reverse over reverse), beside gradient descent after as many iterations.
//!
//!     cargo run --release --example newton
//!
//! From (-1.2, 1) in 2 dimensions, then from (-1.2, 1, -1.2, 1, ...) in 100, each iteration's
//! value, gradient norm and step, until the gradient norm is below 1e-10.

mod method;

use method::{gradient_descent, newton, standard_start, Iterate};

/// Stop when |grad f| is below this.
const TOLERANCE: f64 = 1e-10;
/// Give up after this many iterations.
const MAX_ITERATIONS: usize = 200;

fn print(history: &[Iterate]) {
    println!("{:>5}  {:>22}  {:>12}  {:>10}", "iter", "f", "|grad f|", "step");
    for it in history {
        println!("{:>5}  {:>22.15e}  {:>12.3e}  {:>10.3e}", it.iteration, it.value, it.gradient_norm, it.step);
    }
}

fn run(n: usize) {
    let x0 = standard_start(n);
    println!("\n== Rosenbrock, n = {n}, from (-1.2, 1, ...): Newton's method");
    let (history, x) = newton(&x0, TOLERANCE, MAX_ITERATIONS);
    print(&history);
    let last = history.last().expect("one iterate at least");
    let iterations = last.iteration;
    let distance = x.iter().map(|v| (v - 1.0).powi(2)).sum::<f64>().sqrt();
    println!("Newton: |grad f| = {:.3e} after {iterations} iterations, |x - 1| = {distance:.3e}", last.gradient_norm);
    let (descent, _) = gradient_descent(&x0, iterations);
    let after = descent.last().expect("one iterate at least");
    println!(
        "gradient descent, same line search, after {} iterations: f = {:.6e}, |grad f| = {:.3e}",
        after.iteration, after.value, after.gradient_norm
    );
}

fn main() {
    run(2);
    run(100);
}
