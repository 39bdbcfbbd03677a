//! Newton's method with a backtracking line search, on the tape's gradient
//! (`wengert::gradient`) and Hessian (`wengert::hessian`, one Hessian-vector product per
//! column by reverse over reverse), and gradient descent with the same line search to compare.

use wengert::{gradient, hessian, Var};

/// The extended Rosenbrock function of Moré, Garbow and Hillstrom (problem 21), for even n:
/// `sum_{i < n/2} 100 (x_{2i+1} - x_{2i}^2)^2 + (1 - x_{2i})^2`, minimum 0 at `(1, ..., 1)`;
/// in 2 dimensions, Rosenbrock's own function.
pub fn rosenbrock<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    assert!(x.len().is_multiple_of(2), "the extended Rosenbrock function takes an even number of variables");
    let mut total = x[0] * 0.0;
    for pair in x.chunks(2) {
        total = total + 100.0 * (pair[1] - pair[0] * pair[0]).powi(2) + (1.0 - pair[0]).powi(2);
    }
    total
}

/// The standard start of the problem: `(-1.2, 1, -1.2, 1, ...)` in `n` dimensions.
pub fn standard_start(n: usize) -> Vec<f64> {
    (0..n).map(|i| if i % 2 == 0 { -1.2 } else { 1.0 }).collect()
}

/// One iteration's record: where it started.
#[derive(Clone, Debug)]
pub struct Iterate {
    pub iteration: usize,
    /// f at the iterate.
    pub value: f64,
    /// |grad f| at the iterate.
    pub gradient_norm: f64,
    /// The length of the step taken from it (0 for the last).
    pub step: f64,
}

/// Armijo's sufficient decrease: accept step `t` along `d` when `f(x + t d) <= f(x) + C t g.d`.
const ARMIJO: f64 = 1e-4;
/// The line search halves the step at most this many times.
const HALVINGS: usize = 60;

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `x + t d`.
fn moved(x: &[f64], t: f64, d: &[f64]) -> Vec<f64> {
    x.iter().zip(d).map(|(a, b)| a + t * b).collect()
}

/// The longest step `t` in `1, 1/2, 1/4, ...` that decreases f enough along the descent
/// direction `d` from `x` (value `f`, slope `g.d < 0`), or `None` if none does.
fn line_search(x: &[f64], f: f64, slope: f64, d: &[f64]) -> Option<f64> {
    let mut t = 1.0;
    for _ in 0..HALVINGS {
        let (value, _) = gradient(&moved(x, t, d), rosenbrock);
        if value <= f + ARMIJO * t * slope {
            return Some(t);
        }
        t *= 0.5;
    }
    None
}

/// Solves `(A + shift I) y = b` for a symmetric `n x n` row-major `A` by Cholesky, or `None`
/// if `A + shift I` is not positive definite.
pub fn cholesky_solve(a: &[f64], n: usize, shift: f64, b: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j] + if i == j { shift } else { 0.0 };
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    // L z = b, then L^T y = z.
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i * n + k] * z[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut y = vec![0.0; n];
    for i in (0..n).rev() {
        y[i] = (z[i] - (i + 1..n).map(|k| l[k * n + i] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    Some(y)
}

/// The Newton direction `-(H + shift I)^-1 g`, with the smallest shift in `0, 1e-8 s, 1e-7 s,
/// ...` (`s` the largest |diagonal entry|) that makes the matrix positive definite, so that
/// the direction always descends where H is indefinite (far from the minimum).
fn newton_direction(h: &[f64], n: usize, g: &[f64]) -> Vec<f64> {
    let negative: Vec<f64> = g.iter().map(|v| -v).collect();
    let scale = (0..n).map(|i| h[i * n + i].abs()).fold(1.0, f64::max);
    let mut shift = 0.0;
    loop {
        if let Some(d) = cholesky_solve(h, n, shift, &negative) {
            return d;
        }
        shift = if shift == 0.0 { 1e-8 * scale } else { shift * 10.0 };
    }
}

/// Newton's method from `x0` until |grad f| < `tolerance` or `max_iterations`: the iterates'
/// records and the last point.
pub fn newton(x0: &[f64], tolerance: f64, max_iterations: usize) -> (Vec<Iterate>, Vec<f64>) {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut history = Vec::new();
    for iteration in 0..=max_iterations {
        let (value, g) = gradient(&x, rosenbrock);
        let gradient_norm = norm(&g);
        if gradient_norm < tolerance || iteration == max_iterations {
            history.push(Iterate { iteration, value, gradient_norm, step: 0.0 });
            break;
        }
        let h = hessian(&x, rosenbrock);
        let d = newton_direction(h.data(), n, &g);
        let Some(t) = line_search(&x, value, dot(&g, &d), &d) else {
            history.push(Iterate { iteration, value, gradient_norm, step: 0.0 });
            break;
        };
        history.push(Iterate { iteration, value, gradient_norm, step: t * norm(&d) });
        x = moved(&x, t, &d);
    }
    (history, x)
}

/// Gradient descent with the same line search, `iterations` steps from `x0`.
pub fn gradient_descent(x0: &[f64], iterations: usize) -> (Vec<Iterate>, Vec<f64>) {
    let mut x = x0.to_vec();
    let mut history = Vec::new();
    for iteration in 0..=iterations {
        let (value, g) = gradient(&x, rosenbrock);
        let gradient_norm = norm(&g);
        let d: Vec<f64> = g.iter().map(|v| -v).collect();
        let step = match (iteration < iterations).then(|| line_search(&x, value, -gradient_norm * gradient_norm, &d)) {
            Some(Some(t)) => t,
            _ => {
                history.push(Iterate { iteration, value, gradient_norm, step: 0.0 });
                break;
            }
        };
        history.push(Iterate { iteration, value, gradient_norm, step: step * gradient_norm });
        x = moved(&x, step, &d);
    }
    (history, x)
}
