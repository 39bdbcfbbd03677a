//! Gradient checking by central differences (G2), as public API: point it at any function
//! that records on a tape and get a report comparing the tape's gradient with a numerical one.
//!
//! Each element `x_i` is moved by `h_i = eps^(1/3) max(1, |x_i|)` (about `6e-6` in f64,
//! `5e-3` in f32): the step that balances the central difference's truncation error
//! `h^2 f'''/6` against its rounding error `eps |f| / h`. An element agrees when
//! `|analytic - numeric| <= abs max(1, |f(x)|) + rel max(|analytic|, |numeric|)`; the
//! absolute part grows with `|f|` because the rounding error does.
//!
//! ```
//! use wengert_tape::check::{assert_gradients, check_gradients};
//! use wengert_tape::Tensor;
//!
//! let x = Tensor::from_rows(&[[0.3, -1.2], [2.0, 0.7]]);
//! let report = check_gradients(|_tape, v| (v[0].tanh() * v[0]).sum(), &[x.clone()]);
//! assert!(report.max_abs_error < 1e-9);
//! assert_gradients(|_tape, v| (v[0].tanh() * v[0]).sum(), &[x]);
//! ```
//!
//! At a kink (relu at 0) a central difference returns the mean of the two one-sided slopes,
//! not the derivative the tape uses: keep inputs away from kinks.

use crate::{Real, Shape, Tape, Tensor, Var};
use std::fmt;

/// How far an analytic gradient may sit from the numerical one.
///
/// # Examples
///
/// ```
/// use wengert_tape::check::Tolerance;
/// let t = Tolerance::<f64>::default();
/// assert_eq!((t.abs, t.rel), (1e-7, 1e-6));
/// assert!(t.accepts(1.0, 1.0 + 5e-7, 0.5));
/// assert!(!t.accepts(1.0, 1.001, 0.5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance<T> {
    /// Absolute error allowed per unit of `max(1, |f(x)|)`.
    pub abs: T,
    /// Error allowed relative to `max(|analytic|, |numeric|)`.
    pub rel: T,
}

impl<T: Real> Default for Tolerance<T> {
    /// f64: `abs 1e-7, rel 1e-6`, some 100 times the typical error of a central difference
    /// with the step above. f32: `abs 1e-3, rel 1e-2`, since its rounding error alone is
    /// about `2e-5 |f|`.
    fn default() -> Self {
        if T::epsilon() < T::lit(1e-10) {
            Tolerance { abs: T::lit(1e-7), rel: T::lit(1e-6) }
        } else {
            Tolerance { abs: T::lit(1e-3), rel: T::lit(1e-2) }
        }
    }
}

impl<T: Real> Tolerance<T> {
    /// True if `analytic` and `numeric` agree for a function whose value is `value`.
    pub fn accepts(&self, analytic: T, numeric: T, value: T) -> bool {
        let allowed = self.abs * value.abs().max(T::one()) + self.rel * analytic.abs().max(numeric.abs());
        (analytic - numeric).abs() <= allowed
    }
}

/// The element where the two gradients differ most (by absolute error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorstElement<T> {
    /// Which input (its position in the inputs slice).
    pub input: usize,
    /// The element's row-major index in that input.
    pub index: usize,
    /// `(row, column)` of the element when the input is read as a matrix.
    pub position: (usize, usize),
    /// The tape's gradient there.
    pub analytic: T,
    /// The central difference there.
    pub numeric: T,
}

/// The result of [`check_gradients`]: both gradients and how far apart they are.
#[derive(Clone, Debug)]
pub struct GradCheck<T> {
    /// `f(x)` at the inputs.
    pub value: T,
    /// The tape's gradient, one tensor per input.
    pub analytic: Vec<Tensor<T>>,
    /// The central-difference gradient, one tensor per input.
    pub numeric: Vec<Tensor<T>>,
    /// The largest `|analytic - numeric|`.
    pub max_abs_error: T,
    /// The largest `|analytic - numeric| / max(|analytic|, |numeric|)` (0 where both are 0).
    pub max_rel_error: T,
    /// Where the absolute error is largest; `None` if the inputs have no elements.
    pub worst: Option<WorstElement<T>>,
}

impl<T: Real> GradCheck<T> {
    /// True if every element agrees within `tolerance`.
    pub fn passes(&self, tolerance: Tolerance<T>) -> bool {
        self.first_failure(tolerance).is_none()
    }

    /// The first element, in input order, that does not agree within `tolerance`.
    pub fn first_failure(&self, tolerance: Tolerance<T>) -> Option<WorstElement<T>> {
        for (input, (analytic, numeric)) in self.analytic.iter().zip(&self.numeric).enumerate() {
            for (index, (&a, &n)) in analytic.data().iter().zip(numeric.data()).enumerate() {
                if !tolerance.accepts(a, n, self.value) {
                    let position = position_of(analytic.shape(), index);
                    return Some(WorstElement { input, index, position, analytic: a, numeric: n });
                }
            }
        }
        None
    }

    /// Panics with the report unless every element agrees within `tolerance`.
    ///
    /// # Panics
    ///
    /// If an element disagrees; the message is this report.
    #[track_caller]
    pub fn assert_passes(&self, tolerance: Tolerance<T>) {
        if let Some(failure) = self.first_failure(tolerance) {
            panic!(
                "gradient check failed at input {} element {} {:?}: analytic {:e}, numeric {:e} \
                 (tolerance abs {:e} x max(1, |f|) + rel {:e})\n{self}",
                failure.input,
                failure.index,
                failure.position,
                failure.analytic,
                failure.numeric,
                tolerance.abs,
                tolerance.rel
            );
        }
    }
}

fn position_of(shape: Shape, index: usize) -> (usize, usize) {
    (index / shape.cols(), index % shape.cols())
}

impl<T: Real> fmt::Display for GradCheck<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "f(x) = {:e}", self.value)?;
        writeln!(f, "max abs error {:e}, max rel error {:e}", self.max_abs_error, self.max_rel_error)?;
        if let Some(w) = &self.worst {
            writeln!(
                f,
                "largest error: input {} element {} {:?}: analytic {:e}, numeric {:e}",
                w.input, w.index, w.position, w.analytic, w.numeric
            )?;
        }
        for (input, (analytic, numeric)) in self.analytic.iter().zip(&self.numeric).enumerate() {
            writeln!(f, "input {input} {}:", analytic.shape())?;
            writeln!(f, "  analytic {:?}", analytic.data())?;
            writeln!(f, "  numeric  {:?}", numeric.data())?;
        }
        Ok(())
    }
}

/// The central-difference step for an element of value `x`: `eps^(1/3) max(1, |x|)`,
/// rounded so that `x + h` and `x - h` are exactly `h` away where the format allows.
fn step<T: Real>(x: T) -> T {
    let h = T::epsilon().cbrt() * x.abs().max(T::one());
    (x + h) - x
}

/// The gradient of a plain function of a slice by central differences (G2), for checking
/// gradients that come from anywhere: a tape, or a hand-written backward pass.
///
/// ```
/// use wengert_tape::check::numeric_gradient;
/// let g = numeric_gradient(|x: &[f64]| x[0] * x[0] * x[1], &[3.0, 2.0]);
/// assert!((g[0] - 12.0).abs() < 1e-8 && (g[1] - 9.0).abs() < 1e-8);
/// ```
pub fn numeric_gradient<T: Real>(mut f: impl FnMut(&[T]) -> T, x: &[T]) -> Vec<T> {
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = step(x[i]);
            point[i] = x[i] + h;
            let up = f(&point);
            point[i] = x[i] - h;
            let down = f(&point);
            point[i] = x[i];
            (up - down) / (h + h)
        })
        .collect()
}

/// Compares the tape's gradient of a scalar function with central differences.
///
/// `f` receives a tape and one handle per input (in order) and returns a scalar. It is
/// called once on trainable leaves for the tape's gradient, then twice per input element.
///
/// # Panics
///
/// If `f` returns a value with more than one element.
///
/// # Examples
///
/// ```
/// use wengert_tape::check::check_gradients;
/// use wengert_tape::Tensor;
/// let w = Tensor::from_rows(&[[0.5, -0.3], [0.1, 0.8]]);
/// let x = Tensor::from_rows(&[[1.0, 2.0]]);
/// let report = check_gradients(|_tape, v| v[1].matmul(v[0]).sigmoid().sum(), &[w, x]);
/// assert!(report.max_rel_error < 1e-7, "{report}");
/// ```
#[track_caller]
pub fn check_gradients<T, F>(f: F, inputs: &[Tensor<T>]) -> GradCheck<T>
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let mut tape = Tape::new();
    let (value, analytic) = {
        let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.var(x)).collect();
        let output = f(&tape, &vars);
        assert!(output.shape().numel() == 1, "check_gradients: the function returned {}, not a scalar", output.shape());
        let grads = tape.backward(output);
        let analytic: Vec<Tensor<T>> = vars.iter().map(|&v| grads.wrt_tensor(v)).collect();
        (output.value(), analytic)
    };
    tape.clear();

    let mut point: Vec<Tensor<T>> = inputs.to_vec();
    let mut numeric = Vec::with_capacity(inputs.len());
    for input in 0..inputs.len() {
        let gradient = numeric_gradient(
            |x| {
                point[input].data_mut().copy_from_slice(x);
                let value = {
                    let vars: Vec<Var<'_, T>> = point.iter().map(|p| tape.constant(p)).collect();
                    f(&tape, &vars).value()
                };
                tape.clear();
                value
            },
            inputs[input].data(),
        );
        point[input].data_mut().copy_from_slice(inputs[input].data());
        numeric.push(Tensor::new(inputs[input].shape(), gradient));
    }

    let mut report =
        GradCheck { value, analytic, numeric, max_abs_error: T::zero(), max_rel_error: T::zero(), worst: None };
    for input in 0..inputs.len() {
        let (analytic, numeric) = (&report.analytic[input], &report.numeric[input]);
        for (index, (&a, &n)) in analytic.data().iter().zip(numeric.data()).enumerate() {
            let error = (a - n).abs();
            let scale = a.abs().max(n.abs());
            let relative = if scale > T::zero() { error / scale } else { T::zero() };
            report.max_rel_error = report.max_rel_error.max(relative);
            if report.worst.is_none() || error > report.max_abs_error {
                report.max_abs_error = error;
                let position = position_of(analytic.shape(), index);
                report.worst = Some(WorstElement { input, index, position, analytic: a, numeric: n });
            }
        }
    }
    report
}

/// [`check_gradients`] with the default [`Tolerance`] for `T`, panicking with the report on
/// a mismatch.
///
/// # Panics
///
/// If an element of the tape's gradient disagrees with central differences.
///
/// ```
/// use wengert_tape::check::assert_gradients;
/// use wengert_tape::Tensor;
/// assert_gradients(|_tape, v| (v[0].exp() / v[1]).sum(), &[Tensor::from_slice(&[0.5, 1.0]), Tensor::scalar(2.0)]);
/// ```
#[track_caller]
pub fn assert_gradients<T, F>(f: F, inputs: &[Tensor<T>])
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    check_gradients(f, inputs).assert_passes(Tolerance::default());
}
