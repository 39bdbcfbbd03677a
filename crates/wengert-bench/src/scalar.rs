//! Scalar workloads, where the cost per recorded op shows: the gradient of the extended
//! Rosenbrock function built from scalar ops, and a long chain of scalar ops. Both in f64.

use wengert_tape::{Tape, Var};

/// f(x) = sum_{i < n-1} (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2 and its gradient, on the tape.
/// Returns f; writes the gradient into `gradient`; `ops` gets the nodes recorded.
pub fn rosenbrock_tape(tape: &mut Tape<f64>, x: &[f64], gradient: &mut [f64], ops: &mut usize) -> f64 {
    tape.clear();
    let vars: Vec<Var<'_, f64>> = x.iter().map(|&xi| tape.var(xi)).collect();
    let mut total = tape.constant(0.0);
    for pair in vars.windows(2) {
        let (xi, next) = (pair[0], pair[1]);
        let valley = (1.0 - xi).powi(2);
        let wall = 100.0 * (next - xi * xi).powi(2);
        total = total + (valley + wall);
    }
    *ops = tape.len();
    let grads = tape.backward(total);
    for (g, &v) in gradient.iter_mut().zip(&vars) {
        *g = grads.wrt(v);
    }
    total.value()
}

/// The same function and its gradient written out by hand:
/// df/dx_i = -2 (1 - x_i) - 400 x_i (x_{i+1} - x_i^2) + 200 (x_i - x_{i-1}^2).
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
const MULTIPLIER: f64 = 0.999_999;
const SHIFT: f64 = 1e-6;

/// Records `ops` scalar ops y <- y c, y <- y + d alternately from y = x, sweeps, and returns
/// (y, dy/dx).
pub fn chain_tape(tape: &mut Tape<f64>, x: f64, ops: usize) -> (f64, f64) {
    tape.clear();
    let leaf = tape.var(x);
    let mut y = leaf;
    for k in 0..ops {
        y = if k % 2 == 0 { y * MULTIPLIER } else { y + SHIFT };
    }
    let grads = tape.backward(y);
    (y.value(), grads.wrt(leaf))
}

/// The same chain by hand, carrying the derivative forward: (y, dy/dx).
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
        let mut ops = 0;
        let f_tape = rosenbrock_tape(&mut Tape::new(), &x, &mut tape_gradient, &mut ops);
        let f_hand = rosenbrock_hand(&x, &mut hand_gradient);
        assert!((f_tape - f_hand).abs() <= 1e-12 * f_hand.abs());
        for (a, b) in tape_gradient.iter().zip(hand_gradient) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
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
