//! Second-order helpers built on [`Tape::grad`], each on a new tape, shaped like
//! [`crate::gradient`]: `f` gets one scalar leaf per element of `x`.
//!
//! - [`hvp`]: the Hessian-vector product `H v`, by reverse over reverse.
//! - [`hessian`]: the dense Hessian, one Hessian-vector product per column (small inputs).
//! - [`jvp`]: the Jacobian-vector product `J v` of a function with many outputs, forward
//!   mode obtained from two reverse walks (the double-VJP trick).
//! - [`jacobian`]: the dense Jacobian of a function with many outputs, one reverse sweep per
//!   output element (first order; for vector outputs).

use crate::{Real, Tape, Tensor, Var, Vars};

/// Panics unless `v` has one element per element of `x`.
#[track_caller]
fn check_direction<T>(op: &str, x: &[T], v: &[T]) {
    assert!(x.len() == v.len(), "{op}: x has {} elements, the direction v has {}", x.len(), v.len());
}

/// `sum_i a[i] v[i]` for one-element handles `a`, recorded on the tape.
fn dot<'t, T: Real>(tape: &'t Tape<T>, a: &[Var<'t, T>], v: &[T]) -> Var<'t, T> {
    a.iter().zip(v).fold(tape.constant(T::zero()), |sum, (&ai, &vi)| sum + ai * vi)
}

/// The Hessian of `f` at `x` times the vector `v`, `H v`, by reverse over reverse: the
/// gradient `g(x)` recorded by [`Tape::grad`], then the sweep's gradient of `g(x) . v`. It
/// costs a small constant times one gradient, and never forms `H`.
///
/// # Panics
///
/// If `v` and `x` differ in length, or `f`'s result is not one element.
///
/// ```
/// // f(x, y) = x^2 y: H = [[2y, 2x], [2x, 0]], at (1, 3) times (1, 0) gives (6, 2).
/// let hv = wengert_tape::hvp(&[1.0, 3.0], &[1.0, 0.0], |v| v[0].powi(2) * v[1]);
/// assert_eq!(hv, vec![6.0, 2.0]);
/// ```
#[track_caller]
pub fn hvp<T: Real>(x: &[T], v: &[T], f: impl for<'t> FnOnce(&[Var<'t, T>]) -> Var<'t, T>) -> Vec<T> {
    check_direction("hvp", x, v);
    let tape = Tape::new();
    let vars = tape.vars(x);
    let output = f(&vars);
    let gradient = tape.grad(output, &vars);
    let along = dot(&tape, &gradient, v);
    // The second derivative is only read, so the sweep's numbers do.
    sweep_wrt_vars(&tape, along, &vars)
}

/// The sweep's gradient of `output` with respect to `vars`, or zeros where `output` depends
/// on none (the gradient of a linear function is a constant).
fn sweep_wrt_vars<'t, T: Real>(tape: &'t Tape<T>, output: Var<'t, T>, vars: &Vars<'t, T>) -> Vec<T> {
    match tape.try_backward(output) {
        Ok(grads) => grads.wrt_vars(vars).to_vec(),
        Err(_) => vec![T::zero(); vars.len()],
    }
}

/// The dense Hessian of `f` at `x`, `[n x n]` for `n = x.len()`: the gradient recorded once
/// by [`Tape::grad`], then one sweep per column. For small inputs: it costs `n`
/// gradients.
///
/// # Panics
///
/// If `f`'s result is not one element.
///
/// ```
/// use wengert_tape::Tensor;
/// // f(x, y) = x^2 y + y^3: H = [[2y, 2x], [2x, 6y]].
/// let h = wengert_tape::hessian(&[1.0, 2.0], |v| v[0].powi(2) * v[1] + v[1].powi(3));
/// assert_eq!(h, Tensor::from_rows(&[[4.0, 2.0], [2.0, 12.0]]));
/// ```
#[track_caller]
pub fn hessian<T: Real>(x: &[T], f: impl for<'t> FnOnce(&[Var<'t, T>]) -> Var<'t, T>) -> Tensor<T> {
    let n = x.len();
    let tape = Tape::new();
    let vars = tape.vars(x);
    let output = f(&vars);
    let gradient = tape.grad(output, &vars);
    let mut hessian = Tensor::zeros(crate::Shape::matrix(n, n));
    for (row, &g) in gradient.iter().enumerate() {
        // Row i is the gradient of g_i = H e_i, the i-th column as well (H is symmetric).
        let h = sweep_wrt_vars(&tape, g, &vars);
        hessian.data_mut()[row * n..(row + 1) * n].copy_from_slice(&h);
    }
    hessian
}

/// The value of `f` at `x` and the Jacobian-vector product `J v` (each row-major, one
/// element per element of `f`'s result), by the double-VJP trick: with a dummy `u` of the
/// output's shape, `J^T u` is recorded by [`Tape::grad`] and is linear in `u`, so the
/// gradient of `(J^T u) . v` with respect to `u` is `J v`. Forward mode without a forward
/// mode, for functions with more outputs than directions.
///
/// # Panics
///
/// If `v` and `x` differ in length.
///
/// ```
/// use wengert_tape::Var;
/// // f(x, y) = (x y, sin x): J = [[y, x], [cos x, 0]]; at (0, 2), J (1, 1) = (2, 1).
/// let (value, jv) = wengert_tape::jvp(&[0.0, 2.0], &[1.0, 1.0], |v| Var::stack(&[v[0] * v[1], v[0].sin()]));
/// assert_eq!((value, jv), (vec![0.0, 0.0], vec![2.0, 1.0]));
/// ```
#[track_caller]
pub fn jvp<T: Real>(x: &[T], v: &[T], f: impl for<'t> FnOnce(&[Var<'t, T>]) -> Var<'t, T>) -> (Vec<T>, Vec<T>) {
    check_direction("jvp", x, v);
    let tape = Tape::new();
    let vars = tape.vars(x);
    let output = f(&vars);
    let value = output.values().to_vec();
    // Its values do not matter: J^T u is linear in u.
    let u = tape.var(&Tensor::zeros(output.shape()));
    let transposed = tape.grad((output * u).sum(), &vars);
    let along = dot(&tape, &transposed, v);
    let jv = match tape.try_backward(along) {
        Ok(grads) => grads.wrt_slice(u).to_vec(),
        // f is constant: J = 0.
        Err(_) => vec![T::zero(); u.shape().numel()],
    };
    (value, jv)
}

/// The value of `f` at `x` (row-major, one element per element of `f`'s result) and its
/// Jacobian `[m x n]`, `m` the result's elements and `n = x.len()`: one reverse sweep per
/// output element ([`Tape::backward_with_seed`] with a one-hot seed), so it costs `m`
/// gradients. Rows of an output element that depends on no element of `x` are zero.
///
/// # Panics
///
/// If `f` panics.
///
/// ```
/// use wengert_tape::{Tensor, Var};
/// // f(x, y) = (x y, sin x): J = [[y, x], [cos x, 0]]; at (0, 2) J = [[2, 0], [1, 0]].
/// let (value, j) = wengert_tape::jacobian(&[0.0, 2.0], |v| Var::stack(&[v[0] * v[1], v[0].sin()]));
/// assert_eq!(value, vec![0.0, 0.0]);
/// assert_eq!(j, Tensor::from_rows(&[[2.0, 0.0], [1.0, 0.0]]));
/// ```
#[track_caller]
pub fn jacobian<T: Real>(x: &[T], f: impl for<'t> FnOnce(&[Var<'t, T>]) -> Var<'t, T>) -> (Vec<T>, Tensor<T>) {
    let n = x.len();
    let tape = Tape::new();
    let vars = tape.vars(x);
    let output = f(&vars);
    let value = output.values().to_vec();
    let m = value.len();
    let mut jacobian = Tensor::zeros(crate::Shape::matrix(m, n));
    let mut seed = vec![T::zero(); m];
    for row in 0..m {
        seed[row] = T::one();
        if let Ok(grads) = tape.try_backward_with_seed(output, &seed) {
            jacobian.data_mut()[row * n..(row + 1) * n].copy_from_slice(grads.wrt_vars(&vars));
        }
        seed[row] = T::zero();
    }
    (value, jacobian)
}
