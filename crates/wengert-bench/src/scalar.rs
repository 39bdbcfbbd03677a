//! Scalar workloads, where the cost per recorded op shows: the gradient of the extended
//! Rosenbrock function built from scalar ops, and a long chain of scalar ops. Both in f64,
//! on the wengert tape (reused or new per gradient) and by hand.

use wengert_tape::{Tape, Var, Vars};

/// Records f(x) = sum_{i < n-1} (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2 on `tape`: one leaf per
/// x_i, then f.
fn record_rosenbrock<'t>(tape: &'t Tape<f64>, x: &[f64]) -> (Vars<'t, f64>, Var<'t, f64>) {
    let vars = tape.vars(x);
    let mut total = tape.constant(0.0);
    for pair in vars.windows(2) {
        let (xi, next) = (pair[0], pair[1]);
        let valley = (1.0 - xi).powi(2);
        let wall = 100.0 * (next - xi * xi).powi(2);
        total = total + (valley + wall);
    }
    (vars, total)
}

/// Sweeps back from `total`, writes d total / d vars into `gradient` (one slice of the
/// adjoints) and returns the total.
fn sweep_into<'t>(tape: &'t Tape<f64>, vars: &Vars<'t, f64>, total: Var<'t, f64>, gradient: &mut [f64]) -> f64 {
    gradient.copy_from_slice(tape.backward(total).wrt_vars(vars));
    total.value()
}

/// f(x) = sum_{i < n-1} (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2 and its gradient, on `tape`,
/// cleared first so its buffers are reused. Returns f; writes the gradient into `gradient`.
/// Afterwards `tape.len()` is the number of nodes recorded.
///
/// ```
/// use wengert_bench::scalar::rosenbrock_tape;
/// use wengert_tape::Tape;
/// // f(1, 1) = 0 at the minimum; at (0, 0) f = 1 and the gradient is (-2, 0).
/// let mut tape = Tape::new();
/// let mut gradient = [0.0; 2];
/// assert_eq!(rosenbrock_tape(&mut tape, &[1.0, 1.0], &mut gradient), 0.0);
/// assert_eq!(rosenbrock_tape(&mut tape, &[0.0, 0.0], &mut gradient), 1.0);
/// assert_eq!(gradient, [-2.0, 0.0]);
/// ```
pub fn rosenbrock_tape(tape: &mut Tape<f64>, x: &[f64], gradient: &mut [f64]) -> f64 {
    tape.clear();
    let (vars, total) = record_rosenbrock(tape, x);
    sweep_into(tape, &vars, total, gradient)
}

/// The same on a new tape made for this one gradient and dropped after it: the code a user
/// writes first (`let tape = Tape::new(); ...`). The tape takes the buffers the previous one
/// left to the thread.
///
/// ```
/// use wengert_bench::scalar::rosenbrock_new_tape;
/// let mut gradient = [0.0; 2];
/// assert_eq!(rosenbrock_new_tape(&[0.0, 0.0], &mut gradient), 1.0);
/// assert_eq!(gradient, [-2.0, 0.0]);
/// ```
pub fn rosenbrock_new_tape(x: &[f64], gradient: &mut [f64]) -> f64 {
    let tape = Tape::new();
    let (vars, total) = record_rosenbrock(&tape, x);
    sweep_into(&tape, &vars, total, gradient)
}

/// The same function and its gradient written out by hand:
/// df/dx_i = -2 (1 - x_i) - 400 x_i (x_{i+1} - x_i^2) + 200 (x_i - x_{i-1}^2).
///
/// ```
/// use wengert_bench::scalar::rosenbrock_hand;
/// let mut gradient = [0.0; 2];
/// assert_eq!(rosenbrock_hand(&[0.0, 0.0], &mut gradient), 1.0);
/// assert_eq!(gradient, [-2.0, 0.0]);
/// ```
pub fn rosenbrock_hand(x: &[f64], gradient: &mut [f64]) -> f64 {
    gradient.fill(0.0);
    let mut total = 0.0;
    for i in 0..x.len() - 1 {
        let (xi, next) = (x[i], x[i + 1]);
        let wall = next - xi * xi;
        total += (1.0 - xi) * (1.0 - xi) + 100.0 * wall * wall;
        gradient[i] += -2.0 * (1.0 - xi) - 400.0 * xi * wall;
        gradient[i + 1] += 200.0 * wall;
    }
    total
}

/// The chain's two alternating ops: y <- y * MULTIPLIER, y <- y + SHIFT.
pub const MULTIPLIER: f64 = 0.999_999;
/// See [`MULTIPLIER`].
pub const SHIFT: f64 = 1e-6;

/// Records `ops` scalar ops y <- y c, y <- y + d alternately from a leaf y = x.
fn record_chain(tape: &Tape<f64>, x: f64, ops: usize) -> (Var<'_, f64>, Var<'_, f64>) {
    let leaf = tape.var(x);
    let mut y = leaf;
    for k in 0..ops {
        y = if k % 2 == 0 { y * MULTIPLIER } else { y + SHIFT };
    }
    (leaf, y)
}

/// Records `ops` scalar ops y <- y c, y <- y + d alternately from y = x on `tape` (cleared
/// first, its buffers reused), sweeps, and returns (y, dy/dx).
///
/// ```
/// use wengert_bench::scalar::{chain_tape, MULTIPLIER, SHIFT};
/// use wengert_tape::Tape;
/// // Two ops: y = c x + d, dy/dx = c.
/// let (y, dy) = chain_tape(&mut Tape::new(), 2.0, 2);
/// assert_eq!((y, dy), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
/// ```
pub fn chain_tape(tape: &mut Tape<f64>, x: f64, ops: usize) -> (f64, f64) {
    tape.clear();
    let (leaf, y) = record_chain(tape, x, ops);
    (y.value(), tape.backward(y).wrt(leaf))
}

/// The same chain on a new tape made for this one gradient.
///
/// ```
/// use wengert_bench::scalar::{chain_new_tape, MULTIPLIER, SHIFT};
/// let (y, dy) = chain_new_tape(2.0, 2);
/// assert_eq!((y, dy), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
/// ```
pub fn chain_new_tape(x: f64, ops: usize) -> (f64, f64) {
    let tape = Tape::new();
    let (leaf, y) = record_chain(&tape, x, ops);
    let dy = tape.backward(y).wrt(leaf);
    (y.value(), dy)
}

/// The same chain by hand, carrying the derivative forward: (y, dy/dx).
///
/// ```
/// use wengert_bench::scalar::{chain_hand, MULTIPLIER, SHIFT};
/// let (y, dy) = chain_hand(2.0, 2);
/// assert_eq!((y, dy), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
/// ```
pub fn chain_hand(x: f64, ops: usize) -> (f64, f64) {
    let (mut y, mut dy) = (x, 1.0);
    for k in 0..ops {
        if k % 2 == 0 {
            y *= MULTIPLIER;
            dy *= MULTIPLIER;
        } else {
            y += SHIFT;
        }
    }
    (y, dy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tape_and_hand_rosenbrock_agree() {
        let x = [0.3, -0.7, 1.2, 0.05, -1.0];
        let (mut tape_gradient, mut hand_gradient) = ([0.0; 5], [0.0; 5]);
        let f_tape = rosenbrock_tape(&mut Tape::new(), &x, &mut tape_gradient);
        let f_hand = rosenbrock_hand(&x, &mut hand_gradient);
        assert!((f_tape - f_hand).abs() <= 1e-12 * f_hand.abs());
        for (a, b) in tape_gradient.iter().zip(hand_gradient) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn hand_rosenbrock_gradient_matches_central_differences() {
        let x = [0.3, -0.7, 1.2, 0.05, -1.0];
        let mut gradient = [0.0; 5];
        rosenbrock_hand(&x, &mut gradient);
        let f = |x: &[f64]| rosenbrock_hand(x, &mut [0.0; 5]);
        let h = 1e-6;
        for i in 0..x.len() {
            let (mut up, mut down) = (x, x);
            up[i] += h;
            down[i] -= h;
            let central = (f(&up) - f(&down)) / (2.0 * h);
            assert!(
                (central - gradient[i]).abs() <= 1e-6 * gradient[i].abs().max(1.0),
                "{i}: {central} vs {}",
                gradient[i]
            );
        }
    }

    #[test]
    fn tape_and_hand_chain_agree() {
        let (y_tape, dy_tape) = chain_tape(&mut Tape::new(), 0.5, 10_000);
        let (y_hand, dy_hand) = chain_hand(0.5, 10_000);
        assert_eq!(y_tape, y_hand);
        assert!((dy_tape - dy_hand).abs() <= 1e-12);
    }
}
