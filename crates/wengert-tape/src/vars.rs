//! Many scalar leaves at once, and their gradient as one slice: the scalar user's way in
//! ([`Tape::vars`], [`Gradients::wrt_vars`], and [`gradient`] around both).

use crate::{Gradients, Real, Tape, Var};
use std::ops::Deref;

/// Scalar trainable leaves recorded one after another by [`Tape::vars`]: a slice of handles
/// (`vars[i]`, `vars.iter()`, `&vars[..]`) whose gradient [`Gradients::wrt_vars`] reads as one
/// slice, with no call per leaf.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let x = tape.vars(&[1.0, 2.0, 3.0]);
/// let f = x[0] * x[1] + x[2].powi(2);
/// assert_eq!(tape.backward(f).wrt_vars(&x), &[2.0, 1.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Vars<'t, T> {
    handles: Vec<Var<'t, T>>,
}

impl<'t, T> Deref for Vars<'t, T> {
    type Target = [Var<'t, T>];

    fn deref(&self) -> &[Var<'t, T>] {
        &self.handles
    }
}

impl<T: Real> Tape<T> {
    /// One scalar trainable leaf per element of `values`, recorded one after another.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.vars(&[0.5, -1.0]);
    /// assert_eq!((x.len(), x[1].value()), (2, -1.0));
    /// ```
    pub fn vars(&self, values: &[T]) -> Vars<'_, T> {
        // Nothing else can record between these (the tape is not Sync and this loop holds
        // no user code), so the leaves' adjoints end up side by side.
        Vars { handles: values.iter().map(|&value| self.var(value)).collect() }
    }
}

impl<'t, T: Real> Gradients<'t, T> {
    /// The gradient with respect to every leaf of `vars`, in order, as one slice of the
    /// adjoint arena.
    ///
    /// # Panics
    ///
    /// If `vars` belongs to another tape or was recorded after the sweep.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.vars(&[3.0, 4.0]);
    /// let norm = (x[0] * x[0] + x[1] * x[1]).sqrt();
    /// // d|x|/dx = x / |x| = [3/5, 4/5].
    /// let gradient = tape.backward(norm).wrt_vars(&x).to_vec();
    /// assert!((gradient[0] - 0.6).abs() < 1e-15 && (gradient[1] - 0.8).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn wrt_vars(&self, vars: &Vars<'t, T>) -> &[T] {
        let (Some(&first), Some(&last)) = (vars.first(), vars.last()) else { return &[] };
        // Checks the ends (tape, sweep, adjoint) with wrt's messages; the leaves between were
        // recorded with them.
        let _ = (self.wrt_slice(first), self.wrt_slice(last));
        let recording = self.tape.recording.borrow();
        let start = recording.nodes[first.index].adjoint_offset;
        debug_assert_eq!(recording.nodes[last.index].adjoint_offset, start + vars.len() - 1, "adjoints side by side");
        &self.adjoints[start..start + vars.len()]
    }
}

/// The value of `f` at `x` and its gradient, on a new tape: `f` gets one scalar leaf per
/// element of `x`.
///
/// The tape records into the buffers the previous one on this thread left behind, so calling
/// this in a loop allocates little beyond the handles and the returned gradient.
///
/// # Panics
///
/// If `f`'s result is not one element, or depends on no leaf.
///
/// ```
/// // f(x, y) = x^2 y + y, at (3, 2): df/dx = 2 x y = 12, df/dy = x^2 + 1 = 10.
/// let (value, gradient) = wengert_tape::gradient(&[3.0, 2.0], |v| v[0].powi(2) * v[1] + v[1]);
/// assert_eq!((value, gradient), (20.0, vec![12.0, 10.0]));
/// ```
#[track_caller]
pub fn gradient<T: Real>(x: &[T], f: impl for<'t> FnOnce(&[Var<'t, T>]) -> Var<'t, T>) -> (T, Vec<T>) {
    let tape = Tape::new();
    let vars = tape.vars(x);
    let output = f(&vars);
    let value = output.value();
    let gradient = tape.backward(output).wrt_vars(&vars).to_vec();
    (value, gradient)
}
