//! The check itself: [`GradCheck`], a builder over the tolerance, the stencil and the
//! strictness, with one method per target. Every target reduces to [`GradCheck::compare`]:
//! an analytic gradient from anywhere against finite differences of a function.

use crate::difference::{derivative, Slopes, Stencil};
use crate::report::{Check, Element, Failure, Finding, InputCheck, Precision, Report};
use crate::Tolerance;
use wengert_tape::{CustomOp, Real, Tape, Tensor, Var};

/// A gradient check: how to difference, how close is close enough, and whether kinks fail.
///
/// Build it, then point it at a target:
///
/// - [`tape`](GradCheck::tape): a function that records on a tape (the tape's gradient
///   against finite differences);
/// - [`hand_written`](GradCheck::hand_written): a function and a hand-written gradient
///   function, no tape involved (backprop written out by hand, the way the classic
///   tutorials check their networks);
/// - [`tape_in_f64`](GradCheck::tape_in_f64) and
///   [`hand_written_in_f64`](GradCheck::hand_written_in_f64): an f32 gradient, differenced in
///   f64 through the f64 instance of the same generic function;
/// - [`compare`](GradCheck::compare): any gradient against differences of any function
///   (the two above are built on it, and so will be custom ops).
///
/// Each returns `Ok(report)` when every element agrees and `Err(failure)` otherwise; both
/// print as the readable report.
///
/// # Examples
///
/// ```
/// use wengert_check::{GradCheck, Stencil};
/// use wengert_tape::Tensor;
///
/// let w = Tensor::from_rows(&[[0.5, -0.3, 0.2], [0.1, 0.8, -0.6]]);
/// let x = Tensor::from_rows(&[[1.0, 2.0]]);
/// let report = GradCheck::new()
///     .stencil(Stencil::Richardson)
///     .names(&["W", "x"])
///     .tape(|_tape, v| v[1].matmul(v[0]).tanh().sum(), &[w, x])?;
/// assert!(report.max_rel_error < 1e-9);
///
/// // sigmoid' taken as s instead of s (1 - s): caught.
/// let z = Tensor::from_slice(&[0.3, -1.2]);
/// let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
/// let failure = GradCheck::new()
///     .hand_written(
///         |v| v[0].data().iter().map(|&z| sigmoid(z)).sum(),
///         |v| vec![Tensor::new(v[0].shape(), v[0].data().iter().map(|&z| sigmoid(z)).collect())],
///         &[z],
///     )
///     .unwrap_err();
/// assert_eq!(failure.report.failures().count(), 2);
/// # Ok::<(), wengert_check::Failure>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradCheck {
    pub(crate) tolerance: Option<Tolerance<f64>>,
    pub(crate) stencil: Stencil,
    pub(crate) strict: bool,
    pub(crate) names: Vec<String>,
}

/// The default tolerance for a stencil and the precisions of the two sides.
///
/// An element agrees when `|a - n| <= abs max(1, |f(x)|) + rel max(|a|, |n|)`:
///
/// | gradient | differenced in | Central | FourPoint | Richardson |
/// | --- | --- | --- | --- | --- |
/// | f64 | f64 | abs 1e-8, rel 1e-7 | abs 1e-9, rel 1e-8 | abs 1e-10, rel 1e-9 |
/// | f32 | f64 | abs 1e-5, rel 1e-4 | abs 1e-5, rel 1e-4 | abs 1e-5, rel 1e-4 |
/// | f32 | f32 | abs 1e-3, rel 1e-2 | abs 1e-3, rel 1e-2 | abs 1e-3, rel 1e-2 |
///
/// Why these: on correct gradients of every op family (3,000 random cases each, values in
/// `[-2, 2]`, up to 4x4), the largest error, in units of `rel`, was `2e-9` (central),
/// `5e-11` (four-point) and `8e-12` (Richardson) in f64; `3e-6` for an f32 gradient
/// differenced in f64, the f32 gradient's own rounding (a few `f32::EPSILON` = `1.2e-7`
/// times the sizes of the terms it sums); and `7e-4` differenced in f32, where rounding
/// alone costs `eps |f| / h`, about `2.4e-5 |f|`. Each default sits 10 to 100 times above.
/// The errors grow with the number of terms `f` sums and with the size of the inputs
/// (values in `[-10, 10]` and 16x16 tensors: `2e-8`, `5e-9`, `1.2e-10`, `6e-6`, `1.3e-2`):
/// loosen the tolerance for big problems, and difference f32 functions in f64.
///
/// ```
/// use wengert_check::{default_tolerance, Precision, Stencil};
/// let both_f64 = Precision { analytic: "f64", numeric: "f64" };
/// let t = default_tolerance(Stencil::Central, both_f64);
/// assert_eq!((t.abs, t.rel), (1e-8, 1e-7));
/// ```
pub fn default_tolerance(stencil: Stencil, precision: Precision) -> Tolerance<f64> {
    let (abs, rel) = match (precision.analytic, precision.numeric, stencil) {
        ("f64", "f64", Stencil::Central) => (1e-8, 1e-7),
        ("f64", "f64", Stencil::FourPoint) => (1e-9, 1e-8),
        ("f64", "f64", Stencil::Richardson) => (1e-10, 1e-9),
        ("f32", "f64", _) => (1e-5, 1e-4),
        _ => (1e-3, 1e-2),
    };
    Tolerance { abs, rel }
}

impl GradCheck {
    /// Central differences, the default tolerance for the precisions checked, kinks noted
    /// but not failed.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().tape(|_tape, v| (v[0] * v[0]).sum(), &[Tensor::from_slice(&[3.0])])?;
    /// assert!((report.inputs[0].numeric.data()[0] - 6.0).abs() < 1e-9);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn new() -> Self {
        GradCheck::default()
    }

    /// Sets the tolerance: an element agrees when
    /// `|analytic - numeric| <= abs max(1, |f(x)|) + rel max(|analytic|, |numeric|)`.
    ///
    /// # Panics
    ///
    /// If either bound is negative or NaN.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// // A gradient off by 1e-4 (relative) passes a loose check and fails a tight one.
    /// let f = |v: &[Tensor<f64>]| 0.5 * v[0].data()[0].powi(2);
    /// let grad = |v: &[Tensor<f64>]| vec![Tensor::scalar(v[0].data()[0] * (1.0 + 1e-4))];
    /// let x = [Tensor::scalar(2.0)];
    /// assert!(GradCheck::new().tolerance(0.0, 1e-3).hand_written(f, grad, &x).is_ok());
    /// assert!(GradCheck::new().hand_written(f, grad, &x).is_err());
    /// ```
    #[track_caller]
    pub fn tolerance(mut self, abs: f64, rel: f64) -> Self {
        assert!(abs >= 0.0 && rel >= 0.0, "GradCheck::tolerance: abs {abs} and rel {rel} must be >= 0");
        self.tolerance = Some(Tolerance { abs, rel });
        self
    }

    /// Sets the stencil (default [`Stencil::Central`]).
    ///
    /// ```
    /// use wengert_check::{GradCheck, Stencil};
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().stencil(Stencil::FourPoint)
    ///     .tape(|_tape, v| v[0].exp().sum(), &[Tensor::from_slice(&[1.0, 2.0])])?;
    /// assert_eq!(report.stencil, Stencil::FourPoint);
    /// assert!(report.max_rel_error < 1e-10);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn stencil(mut self, stencil: Stencil) -> Self {
        self.stencil = stencil;
        self
    }

    /// In strict mode a point where the function is not differentiable fails the check
    /// instead of being noted (default: not strict).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let at_kink = [Tensor::from_slice(&[0.0, 1.5])];
    /// let report = GradCheck::new().tape(|_tape, v| v[0].relu().sum(), &at_kink)?;
    /// assert_eq!(report.kinks().count(), 1);
    /// assert!(GradCheck::new().strict(true).tape(|_tape, v| v[0].relu().sum(), &at_kink).is_err());
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Names the inputs, in order, for the report (`input 1 (b1)` instead of `input 1`).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().names(&["w"]).tape(|_tape, v| v[0].sum(), &[Tensor::scalar(1.0)])?;
    /// assert_eq!(report.input_label(0), "input 0 (w)");
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn names<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.names = names.iter().map(|n| n.as_ref().to_string()).collect();
        self
    }

    /// The tolerance this check applies when the gradient is in `A` and the differences in `N`:
    /// the one set, or [`default_tolerance`].
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// assert_eq!(GradCheck::new().tolerance_for::<f32, f32>().rel, 1e-2);
    /// assert_eq!(GradCheck::new().tolerance(0.0, 0.5).tolerance_for::<f64, f64>().rel, 0.5);
    /// ```
    pub fn tolerance_for<A: Real, N: Real>(&self) -> Tolerance<f64> {
        self.tolerance.unwrap_or_else(|| default_tolerance(self.stencil, precision::<A, N>()))
    }

    /// Target (1): the tape's gradient of a function that records on a tape, against finite
    /// differences of the same function.
    ///
    /// `f` receives a tape and one handle per input, in order, and returns a scalar. It is
    /// called once on trainable leaves for the tape's gradient, then on constants at every
    /// point the stencil needs. Write it inline (`|_tape, v| ...`) so that its type is inferred.
    ///
    /// A function whose output has more than one element is checked through its Jacobian
    /// instead ([`jacobian`](GradCheck::jacobian)): the report is then a [`Check::Jacobian`].
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element disagrees (or, in strict mode, if the
    /// function is not differentiable at an element).
    ///
    /// # Panics
    ///
    /// If `f` panics.
    ///
    /// ```
    /// use wengert_check::{Check, GradCheck};
    /// use wengert_tape::Tensor;
    /// let z = Tensor::from_rows(&[[0.2, -0.4, 1.1], [0.0, 0.3, -2.0]]);
    /// let report = GradCheck::new().tape(|_tape, v| v[0].softmax_cross_entropy(&[2, 0]), &[z.clone()])?;
    /// assert!(report.passed() && report.elements_checked == 6);
    /// // A vector output: every entry of its [6 x 6] Jacobian is checked.
    /// let report = GradCheck::new().tape(|_tape, v| v[0].softmax(), &[z])?;
    /// assert!(matches!(report.check, Check::Jacobian { .. }) && report.elements_checked == 36);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn tape<T, F>(&self, f: F, inputs: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
    {
        let mut tape = Tape::new();
        if crate::second::output_shape(&mut tape, &f, inputs).numel() != 1 {
            return self.jacobian(f, inputs);
        }
        let analytic = tape_gradient(&mut tape, &f, inputs);
        self.compare(&analytic, |point| evaluate(&mut tape, &f, point), inputs)
    }

    /// Target (3): a custom op's vector-Jacobian rule ([`CustomOp::vjp`]) against finite
    /// differences of its forward function.
    ///
    /// The op's output is contracted with fixed weights that differ from element to element
    /// (`1 + (7 i mod 13) / 10`), so every output element sends its own upstream through the
    /// rule: a rule that is right only for an all-ones upstream (as `sum` would test) fails.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element of any input's gradient disagrees.
    ///
    /// # Panics
    ///
    /// If the op refuses the inputs' shapes.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::{CustomOp, Shape, Tensor};
    ///
    /// /// `x^3` elementwise, with its rule right (3 x^2) or wrong (3 x).
    /// #[derive(Clone)]
    /// struct Cube { wrong: bool }
    /// impl CustomOp<f64> for Cube {
    ///     fn name(&self) -> &'static str { "cube" }
    ///     fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> { Ok(inputs[0]) }
    ///     fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
    ///         for (y, &x) in output.iter_mut().zip(inputs[0]) { *y = x * x * x; }
    ///     }
    ///     fn vjp(&self, _k: usize, inputs: &[&[f64]], _y: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
    ///         for ((a, &g), &x) in adjoint.iter_mut().zip(upstream).zip(inputs[0]) {
    ///             *a += g * if self.wrong { 3.0 * x } else { 3.0 * x * x };
    ///         }
    ///     }
    /// }
    /// let x = [Tensor::from_slice(&[0.5, -1.5, 2.0])];
    /// assert!(GradCheck::new().custom_op(&Cube { wrong: false }, &x).is_ok());
    /// assert!(GradCheck::new().custom_op(&Cube { wrong: true }, &x).is_err());
    /// ```
    #[track_caller]
    pub fn custom_op<T, O>(&self, op: &O, inputs: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        O: CustomOp<T> + Clone,
    {
        self.tape(
            |tape, v| {
                let output = tape.custom(op.clone(), v);
                let weights = Tensor::from_fn(output.shape(), |i| T::lit(1.0 + ((7 * i) % 13) as f64 / 10.0));
                (output * tape.constant(&weights)).sum()
            },
            inputs,
        )
    }

    /// Target (1) with the differences in f64: `f` (in `A`, usually f32) gives the gradient
    /// under test, `f_f64`, the f64 instance of the same generic function, the differences.
    ///
    /// Differencing in f64 removes the rounding error of differences in f32 (about
    /// `2.4e-5 |f|`), so the tolerance can tighten from `rel 1e-2` to `rel 1e-4`.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element disagrees.
    ///
    /// # Panics
    ///
    /// If either function returns a value with more than one element.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::{Real, Tensor, Var};
    ///
    /// fn loss<'t, T: Real>(v: &[Var<'t, T>]) -> Var<'t, T> {
    ///     v[0].matmul(v[1]).sigmoid().sum()
    /// }
    /// let x = Tensor::from_rows(&[[0.5_f32, -1.0]]);
    /// let w = Tensor::from_rows(&[[0.3_f32, 0.1], [-0.2, 0.7]]);
    /// let report = GradCheck::new().tape_in_f64(|_t, v| loss(v), |_t, v| loss(v), &[x, w])?;
    /// assert_eq!((report.precision.analytic, report.precision.numeric), ("f32", "f64"));
    /// assert!(report.max_rel_error < 1e-5);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn tape_in_f64<A, F, G>(&self, f: F, f_f64: G, inputs: &[Tensor<A>]) -> Result<Report, Failure>
    where
        A: Real,
        F: for<'t> Fn(&'t Tape<A>, &[Var<'t, A>]) -> Var<'t, A>,
        G: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>,
    {
        let analytic = tape_gradient(&mut Tape::new(), &f, inputs);
        let mut tape = Tape::<f64>::new();
        self.compare(&analytic, |point| evaluate(&mut tape, &f_f64, point), inputs)
    }

    /// Target (2): a hand-written gradient function against finite differences of the
    /// function, with no tape involved.
    ///
    /// `f(inputs)` is the scalar function; `gradient(inputs)` returns one tensor per input,
    /// each of that input's shape (a `[n]` vector and a `[1 x n]` row count as the same).
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element disagrees, or if the gradient function
    /// returns the wrong number of tensors or a tensor of the wrong shape.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// // mean(x^2), gradient 2x/n. Forgetting the 1/n is caught.
    /// let f = |v: &[Tensor<f64>]| v[0].data().iter().map(|x| x * x).sum::<f64>() / 3.0;
    /// let right = |v: &[Tensor<f64>]| vec![Tensor::from_fn(v[0].shape(), |i| 2.0 * v[0].data()[i] / 3.0)];
    /// let wrong = |v: &[Tensor<f64>]| vec![Tensor::from_fn(v[0].shape(), |i| 2.0 * v[0].data()[i])];
    /// let x = [Tensor::from_slice(&[0.5, -1.0, 2.0])];
    /// assert!(GradCheck::new().hand_written(f, right, &x).is_ok());
    /// assert_eq!(GradCheck::new().hand_written(f, wrong, &x).unwrap_err().report.failures().count(), 3);
    /// ```
    pub fn hand_written<T: Real>(
        &self,
        f: impl FnMut(&[Tensor<T>]) -> T,
        gradient: impl FnOnce(&[Tensor<T>]) -> Vec<Tensor<T>>,
        inputs: &[Tensor<T>],
    ) -> Result<Report, Failure> {
        let analytic = gradient(inputs);
        self.compare(&analytic, f, inputs)
    }

    /// Target (2) with the differences in f64: `f_f64` is the f64 instance of the function,
    /// `gradient` the hand-written gradient in `A` (usually f32).
    ///
    /// # Errors
    ///
    /// As [`hand_written`](GradCheck::hand_written).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::{Real, Tensor};
    /// fn f<T: Real>(v: &[Tensor<T>]) -> T { v[0].data().iter().map(|&x| x.exp()).fold(T::zero(), |a, b| a + b) }
    /// let x = [Tensor::from_slice(&[0.1_f32, 0.7])];
    /// let grad = |v: &[Tensor<f32>]| vec![Tensor::from_fn(v[0].shape(), |i| v[0].data()[i].exp())];
    /// let report = GradCheck::new().hand_written_in_f64(|v| f(v), grad, &x)?;
    /// assert!(report.max_rel_error < 1e-6);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn hand_written_in_f64<A: Real>(
        &self,
        f_f64: impl FnMut(&[Tensor<f64>]) -> f64,
        gradient: impl FnOnce(&[Tensor<A>]) -> Vec<Tensor<A>>,
        inputs: &[Tensor<A>],
    ) -> Result<Report, Failure> {
        let analytic = gradient(inputs);
        self.compare(&analytic, f_f64, inputs)
    }

    /// The check behind every target: `analytic` (one tensor per input, in `A`) against finite
    /// differences of `f` (evaluated in `N`, the inputs converted) at `inputs`.
    ///
    /// Where an element disagrees, five more evaluations probe the one-sided slopes there:
    /// if they disagree as well (on the scale of the error) and the analytic value lies
    /// between them, the finding is [`Finding::NotDifferentiable`] instead of
    /// [`Finding::WrongGradient`].
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if anything fails (see [`Finding::fails`]).
    ///
    /// ```
    /// use wengert_check::{Finding, GradCheck};
    /// use wengert_tape::Tensor;
    /// // |x| at 0: not differentiable; the right slope 1 is a defensible gradient, 3 is not.
    /// let abs = |v: &[Tensor<f64>]| v[0].data()[0].abs();
    /// let x = [Tensor::scalar(0.0)];
    /// let noted = GradCheck::new().compare(&[Tensor::scalar(1.0)], abs, &x)?;
    /// assert!(matches!(noted.findings[0], Finding::NotDifferentiable { .. }));
    /// let wrong = GradCheck::new().compare(&[Tensor::scalar(3.0)], abs, &x).unwrap_err();
    /// assert!(matches!(wrong.report.findings[0], Finding::WrongAtKink { .. }));
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn compare<A: Real, N: Real>(
        &self,
        analytic: &[Tensor<A>],
        mut f: impl FnMut(&[Tensor<N>]) -> N,
        inputs: &[Tensor<A>],
    ) -> Result<Report, Failure> {
        let tolerance = self.tolerance_for::<A, N>();
        let mut point: Vec<Tensor<N>> = inputs.iter().map(|x| x.cast::<N>()).collect();
        let value = to_f64(f(&point));
        let mut report =
            Report::start(Check::Gradient, value, self.stencil, tolerance, precision::<A, N>(), self.strict);
        if analytic.len() != inputs.len() {
            report.findings.push(Finding::WrongCount { expected: inputs.len(), found: analytic.len() });
        }
        if !value.is_finite() {
            report.findings.push(Finding::ValueNotFinite { value });
        }

        for (input, x) in inputs.iter().enumerate() {
            let shape = x.shape();
            let gradient = analytic.get(input).map(|a| a.cast::<f64>());
            let comparable = match &gradient {
                Some(a) if a.shape().rows() != shape.rows() || a.shape().cols() != shape.cols() => {
                    report.findings.push(Finding::WrongShape { input, expected: shape, found: a.shape() });
                    false
                }
                Some(_) => value.is_finite(),
                None => false,
            };
            let mut numeric = Vec::with_capacity(shape.numel());
            for index in 0..shape.numel() {
                let at = point[input].data()[index];
                let mut along = |t: N| {
                    point[input].data_mut()[index] = t;
                    f(&point)
                };
                let n = if value.is_finite() { to_f64(derivative(&mut along, at, self.stencil)) } else { f64::NAN };
                numeric.push(n);
                if comparable {
                    let a = gradient.as_ref().map_or(f64::NAN, |g| g.data()[index]);
                    let element = element(input, index, shape.cols(), a, n, value, tolerance);
                    let finding = self.judge(element, || Slopes::probe(&mut along, at));
                    report.record(element, finding);
                }
                point[input].data_mut()[index] = at;
            }
            report.inputs.push(InputCheck {
                name: self.names.get(input).cloned(),
                shape,
                analytic: gradient,
                numeric: Tensor::new(shape, numeric),
            });
        }
        report.finish()
    }

    /// What an element's comparison finds, if anything; `probe` is run only for an element
    /// that disagrees.
    pub(crate) fn judge(&self, element: Element, probe: impl FnOnce() -> Slopes) -> Option<Finding> {
        if !element.analytic.is_finite() || !element.numeric.is_finite() {
            return Some(Finding::NotFinite(element));
        }
        if element.agrees() {
            return None;
        }
        let slopes = probe();
        // Where f is smooth the probe's roughness is O(h^2), far below any error worth
        // reporting; where a kink lies within 2h it is at least 2/3 of the error it causes
        // (docs/gradient-checking.md works this out for relu).
        let error_at_probe_step = (element.analytic - slopes.central.0).abs();
        let rough = slopes.roughness();
        if rough.is_finite() && rough > (error_at_probe_step / 2.0).max(element.allowed / 2.0) {
            if slopes.brackets(element.analytic, element.allowed) {
                Some(Finding::NotDifferentiable { element, slopes })
            } else {
                Some(Finding::WrongAtKink { element, slopes })
            }
        } else {
            Some(Finding::WrongGradient(element))
        }
    }
}

pub(crate) fn precision<A: Real, N: Real>() -> Precision {
    Precision { analytic: A::NAME, numeric: N::NAME }
}

pub(crate) fn to_f64<T: Real>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

pub(crate) fn element(
    input: usize,
    index: usize,
    cols: usize,
    a: f64,
    n: f64,
    value: f64,
    tolerance: Tolerance<f64>,
) -> Element {
    let abs_error = (a - n).abs();
    let scale = a.abs().max(n.abs());
    let rel_error = if scale > 0.0 { abs_error / scale } else { 0.0 };
    let allowed = tolerance.abs * value.abs().max(1.0) + tolerance.rel * scale;
    Element {
        input,
        index,
        row: index / cols.max(1),
        col: index % cols.max(1),
        analytic: a,
        numeric: n,
        abs_error,
        rel_error,
        allowed,
    }
}

/// The tape's gradient of `f` at `inputs`, one tensor per input; leaves the tape empty.
#[track_caller]
pub(crate) fn tape_gradient<T, F>(tape: &mut Tape<T>, f: &F, inputs: &[Tensor<T>]) -> Vec<Tensor<T>>
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let gradient = {
        let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.var(x)).collect();
        let output = f(tape, &vars);
        assert!(
            output.shape().numel() == 1,
            "GradCheck: the function returned {}, not a scalar (reduce it, e.g. with .sum(), or check it with GradCheck::jacobian)",
            output.shape()
        );
        let grads = tape.backward(output);
        vars.iter().map(|&v| grads.wrt_tensor(v)).collect()
    };
    tape.clear();
    gradient
}

/// `f` at `point`, recorded on constants; leaves the tape empty.
#[track_caller]
pub(crate) fn evaluate<N, F>(tape: &mut Tape<N>, f: &F, point: &[Tensor<N>]) -> N
where
    N: Real,
    F: for<'t> Fn(&'t Tape<N>, &[Var<'t, N>]) -> Var<'t, N>,
{
    let value = {
        let vars: Vec<Var<'_, N>> = point.iter().map(|x| tape.constant(x)).collect();
        let output = f(tape, &vars);
        assert!(
            output.shape().numel() == 1,
            "GradCheck: the function returned {}, not a scalar (reduce it, e.g. with .sum(), or check it with GradCheck::jacobian)",
            output.shape()
        );
        output.value()
    };
    tape.clear();
    value
}
