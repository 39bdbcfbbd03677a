//! The scalar workloads on two other reverse-mode crates, raced against wengert in the same
//! process: echidna 0.15 and reverse 0.2. Both libraries run the same generic code for f,
//! written the way each one's docs write a gradient.

use echidna::{Reverse, Scalar};
use reverse::Gradient;
use std::ops::{Add, Mul, Sub};

/// Extended Rosenbrock, f(x) = sum_{i < n-1} (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2, on any
/// number type with the arithmetic it needs: eight recorded ops per term on a tape that
/// records each operator once.
fn rosenbrock<T>(x: &[T]) -> T
where
    T: Copy + Add<Output = T> + Sub<Output = T> + Mul<Output = T>,
    f64: Sub<T, Output = T> + Mul<T, Output = T>,
{
    let term = |i: usize| {
        let valley = 1.0 - x[i];
        let wall = x[i + 1] - x[i] * x[i];
        valley * valley + 100.0 * (wall * wall)
    };
    // Starting from the first term, not from zero: reverse has no zero without a tape.
    (1..x.len() - 1).fold(term(0), |total, i| total + term(i))
}

/// The chain y <- y c, y <- y + d, alternately, `ops` times, on any number type.
fn chain<T: Copy + Add<f64, Output = T> + Mul<f64, Output = T>>(x: T, ops: usize) -> T {
    use crate::scalar::{MULTIPLIER, SHIFT};
    (0..ops).fold(x, |y, k| if k % 2 == 0 { y * MULTIPLIER } else { y + SHIFT })
}

/// f(x) and its gradient with echidna: `echidna::grad` records on the thread's pooled tape,
/// which it clears and keeps between calls. Returns f; writes the gradient into `gradient`.
///
/// # Panics
///
/// If `x` has fewer than 2 elements or `gradient` is not as long as `x`.
///
/// ```
/// use wengert_bench::peers::rosenbrock_echidna;
/// let mut gradient = [0.0; 2];
/// assert_eq!(rosenbrock_echidna(&[0.0, 0.0], &mut gradient), 1.0);
/// assert_eq!(gradient, [-2.0, 0.0]);
/// ```
pub fn rosenbrock_echidna(x: &[f64], gradient: &mut [f64]) -> f64 {
    let mut f = 0.0;
    let g = echidna::grad(
        |v: &[Reverse<f64>]| {
            let total = rosenbrock(v);
            f = total.value();
            total
        },
        x,
    );
    gradient.copy_from_slice(&g);
    f
}

/// f(x) and its gradient with reverse: a new `reverse::Tape` per gradient, `add_vars`, then
/// `f.grad().wrt(&vars)`. Returns f; writes the gradient into `gradient`.
///
/// # Panics
///
/// If `x` has fewer than 2 elements or `gradient` is not as long as `x`.
///
/// ```
/// use wengert_bench::peers::rosenbrock_reverse;
/// let mut gradient = [0.0; 2];
/// assert_eq!(rosenbrock_reverse(&[0.0, 0.0], &mut gradient), 1.0);
/// assert_eq!(gradient, [-2.0, 0.0]);
/// ```
pub fn rosenbrock_reverse(x: &[f64], gradient: &mut [f64]) -> f64 {
    let tape = reverse::Tape::new();
    let vars = tape.add_vars(x);
    let total = rosenbrock(&vars);
    let g: Vec<f64> = total.grad().wrt(&vars);
    gradient.copy_from_slice(&g);
    total.val()
}

/// The chain of `ops` scalar ops from y = x with echidna: (y, dy/dx).
///
/// ```
/// use wengert_bench::peers::chain_echidna;
/// use wengert_bench::scalar::{MULTIPLIER, SHIFT};
/// assert_eq!(chain_echidna(2.0, 2), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
/// ```
pub fn chain_echidna(x: f64, ops: usize) -> (f64, f64) {
    let mut y = 0.0;
    let g = echidna::grad(
        |v: &[Reverse<f64>]| {
            let out = chain(v[0], ops);
            y = out.value();
            out
        },
        &[x],
    );
    (y, g[0])
}

/// The chain of `ops` scalar ops from y = x with reverse, on a new tape: (y, dy/dx).
///
/// ```
/// use wengert_bench::peers::chain_reverse;
/// use wengert_bench::scalar::{MULTIPLIER, SHIFT};
/// assert_eq!(chain_reverse(2.0, 2), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
/// ```
pub fn chain_reverse(x: f64, ops: usize) -> (f64, f64) {
    let tape = reverse::Tape::new();
    let leaf = tape.add_var(x);
    let y = chain(leaf, ops);
    (y.val(), y.grad().wrt(&leaf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::{chain_hand, rosenbrock_hand};

    #[test]
    fn generic_rosenbrock_on_f64_is_the_hand_written_value() {
        let x = [0.3, -0.7, 1.2, 0.05, -1.0];
        let want = rosenbrock_hand(&x, &mut [0.0; 5]);
        assert!((rosenbrock(&x) - want).abs() <= 1e-14 * want);
    }

    #[test]
    fn generic_chain_on_f64_is_the_hand_written_value() {
        assert_eq!(chain(0.5, 1001), chain_hand(0.5, 1001).0);
    }
}
