//! What a check found, and how it reads: [`Report`] (both gradients, the largest errors,
//! every element outside the tolerance, classified) and [`Failure`] (a report that did not
//! pass). Values are kept in f64 whatever the precision checked (f32 converts exactly).
//! [`Check`] says what was compared: a gradient, a Hessian-vector product, the Hessian's
//! symmetry or a Jacobian; one report format serves all four.

use crate::Stencil;
use crate::{Slopes, Tolerance};
use std::fmt;
use wengert_tape::{Shape, Tensor};

/// One element of one input where the analytic and the numerical gradient were compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Element {
    /// Which input: its position in the inputs slice.
    pub input: usize,
    /// The element's row-major index in that input.
    pub index: usize,
    /// Its row when the input is read as a matrix (a vector or a scalar is one row).
    pub row: usize,
    /// Its column.
    pub col: usize,
    /// The gradient under test there (the tape's, or the hand-written one).
    pub analytic: f64,
    /// The finite-difference gradient there.
    pub numeric: f64,
    /// `|analytic - numeric|`.
    pub abs_error: f64,
    /// `|analytic - numeric| / max(|analytic|, |numeric|)`, 0 where both are 0.
    pub rel_error: f64,
    /// The largest `abs_error` the tolerance allows here:
    /// `abs max(1, |f(x)|) + rel max(|analytic|, |numeric|)`.
    pub allowed: f64,
}

impl Element {
    /// True if the element is within its tolerance (and both values are finite).
    ///
    /// ```
    /// use wengert_check::Element;
    /// let e = Element { input: 0, index: 0, row: 0, col: 0, analytic: 1.0, numeric: 1.0 + 1e-9,
    ///                   abs_error: 1e-9, rel_error: 1e-9, allowed: 1e-6 };
    /// assert!(e.agrees());
    /// ```
    pub fn agrees(&self) -> bool {
        self.analytic.is_finite() && self.numeric.is_finite() && self.abs_error <= self.allowed
    }
}

/// What a check compared. It sets the report's wording and how an [`Element`] is named.
///
/// ```
/// use wengert_check::{Check, GradCheck};
/// use wengert_tape::Tensor;
/// let x = [Tensor::from_slice(&[0.5, -1.0])];
/// let report = GradCheck::new().hvp(|_tape, v| v[0].tanh().sum(), &x)?;
/// assert!(matches!(report.check, Check::HessianVector { by_tape: true, .. }));
/// assert!(report.to_string().starts_with("Hessian-vector product check passed"));
/// # Ok::<(), wengert_check::Failure>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Check {
    /// A gradient against finite differences of the function (first order).
    #[default]
    Gradient,
    /// A Hessian-vector product `H v` against central differences of the gradient along `v`:
    /// `(g(x + h v) - g(x - h v)) / 2h`. An element is one element of `H v`, named by the
    /// input it belongs to.
    HessianVector {
        /// True when `H v` is the tape's (reverse over reverse, [`wengert_tape::Tape::grad`])
        /// and the differenced gradient the tape's sweep; false for hand-written ones.
        by_tape: bool,
        /// The direction `v`, one tensor per input.
        direction: Vec<Tensor<f64>>,
        /// The largest `|gradient element|` at the inputs: the `abs` part of the tolerance
        /// is per unit of `max(1, gradient_scale)`, the size of what is differenced.
        gradient_scale: f64,
    },
    /// The Hessian's symmetry: `H[i, j]` (reported as analytic) against `H[j, i]` (as
    /// numeric) for every pair `i < j`, the inputs' elements numbered in input order. An
    /// element's `row` is `i`'s index within its input, its `col` is `j`.
    HessianSymmetry {
        /// True when `H` is the tape's; false for a hand-written one.
        by_tape: bool,
        /// The largest `|H[i, j]|`: the `abs` part of the tolerance is per unit of
        /// `max(1, hessian_scale)`.
        hessian_scale: f64,
    },
    /// A Jacobian against central differences, one input element (one column) at a time.
    /// An element's `row` is the output element, its `col` the input element; each input's
    /// block is `[m x n_k]`.
    Jacobian {
        /// True when the Jacobian is the tape's (one reverse sweep per output element);
        /// false for a hand-written one.
        by_tape: bool,
        /// `f(x)` in its shape. The `abs` part of the tolerance of row `r` is per unit of
        /// `max(1, |f_r(x)|)`.
        output: Tensor<f64>,
    },
}

impl Check {
    /// The report's title: `"gradient check"`, `"Hessian-vector product check"`,
    /// `"Hessian symmetry check"` or `"Jacobian check"`.
    ///
    /// ```
    /// assert_eq!(wengert_check::Check::Gradient.title(), "gradient check");
    /// ```
    pub fn title(&self) -> &'static str {
        match self {
            Check::Gradient => "gradient check",
            Check::HessianVector { .. } => "Hessian-vector product check",
            Check::HessianSymmetry { .. } => "Hessian symmetry check",
            Check::Jacobian { .. } => "Jacobian check",
        }
    }
}

/// One thing a check found. Only some are failures: see [`Finding::fails`].
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The gradients disagree where the function is smooth: the gradient is wrong.
    WrongGradient(Element),
    /// The gradients disagree, the one-sided slopes disagree too, and the analytic value lies
    /// between them: the function is not differentiable within the step (relu at 0, a tie
    /// in a max). A failure only in strict mode.
    NotDifferentiable {
        /// The element.
        element: Element,
        /// The one-sided slopes there.
        slopes: Slopes,
    },
    /// The function is not differentiable within the step, and the analytic value lies
    /// outside the one-sided slopes: no choice of subgradient gives it.
    WrongAtKink {
        /// The element.
        element: Element,
        /// The one-sided slopes there.
        slopes: Slopes,
    },
    /// The analytic or the numerical value is NaN or infinite.
    NotFinite(Element),
    /// `f(x)` itself is NaN or infinite, so nothing could be compared.
    ValueNotFinite {
        /// `f(x)`.
        value: f64,
    },
    /// The gradient of an input does not have the input's shape.
    WrongShape {
        /// Which input.
        input: usize,
        /// The input's shape.
        expected: Shape,
        /// The gradient's shape.
        found: Shape,
    },
    /// The gradient function returned a different number of tensors than there are inputs.
    WrongCount {
        /// The number of inputs.
        expected: usize,
        /// The number of gradients.
        found: usize,
    },
}

impl Finding {
    /// True if this finding fails the check; `NotDifferentiable` fails only when `strict`.
    ///
    /// ```
    /// use wengert_check::Finding;
    /// let f = Finding::WrongCount { expected: 2, found: 1 };
    /// assert!(f.fails(false) && f.fails(true));
    /// ```
    pub fn fails(&self, strict: bool) -> bool {
        !matches!(self, Finding::NotDifferentiable { .. }) || strict
    }

    /// The element the finding is about, if it is about one.
    ///
    /// ```
    /// use wengert_check::{Finding, GradCheck};
    /// use wengert_tape::Tensor;
    /// let failure = GradCheck::new()
    ///     .hand_written(|v| v[0].data()[0].powi(2), |_| vec![Tensor::scalar(0.0)], &[Tensor::scalar(1.0_f64)])
    ///     .unwrap_err();
    /// let e = failure.report.findings[0].element().unwrap();
    /// assert_eq!((e.input, e.index, e.analytic), (0, 0, 0.0));
    /// assert!((e.numeric - 2.0).abs() < 1e-9);
    /// assert!(Finding::WrongCount { expected: 1, found: 2 }.element().is_none());
    /// ```
    pub fn element(&self) -> Option<&Element> {
        match self {
            Finding::WrongGradient(element)
            | Finding::NotFinite(element)
            | Finding::NotDifferentiable { element, .. }
            | Finding::WrongAtKink { element, .. } => Some(element),
            _ => None,
        }
    }

    /// True for the findings about a point where the function is not differentiable.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().tape(|_tape, v| v[0].relu().sum(), &[Tensor::scalar(0.0)])?;
    /// assert!(report.findings[0].is_kink());
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn is_kink(&self) -> bool {
        matches!(self, Finding::NotDifferentiable { .. } | Finding::WrongAtKink { .. })
    }
}

/// One input's two gradients, side by side.
///
/// ```
/// use wengert_check::GradCheck;
/// use wengert_tape::{Shape, Tensor};
/// let report = GradCheck::new().tape(|_tape, v| (v[0] * v[0]).sum(), &[Tensor::from_rows(&[[1.0, -2.0]])])?;
/// let input = &report.inputs[0];
/// assert_eq!(input.shape, Shape::matrix(1, 2));
/// assert_eq!(input.analytic.as_ref().unwrap().data(), &[2.0, -4.0]);
/// assert!((input.numeric.data()[1] + 4.0).abs() < 1e-9);
/// # Ok::<(), wengert_check::Failure>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct InputCheck {
    /// The name given with [`crate::GradCheck::names`], if any.
    pub name: Option<String>,
    /// The input's shape.
    pub shape: Shape,
    /// The gradient under test; `None` if the gradient function returned none for this input.
    pub analytic: Option<Tensor<f64>>,
    /// The finite-difference gradient.
    pub numeric: Tensor<f64>,
}

/// The precisions a check ran in: the gradient under test, and the differencing.
///
/// ```
/// use wengert_check::{GradCheck, Precision};
/// use wengert_tape::Tensor;
/// let report = GradCheck::new().tape(|_tape, v| v[0].exp().sum(), &[Tensor::scalar(0.5_f32)])?;
/// assert_eq!(report.precision, Precision { analytic: "f32", numeric: "f32" });
/// # Ok::<(), wengert_check::Failure>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    /// `"f32"` or `"f64"`: the type of the gradient under test.
    pub analytic: &'static str,
    /// `"f32"` or `"f64"`: the type the function was evaluated in for the differences.
    pub numeric: &'static str,
}

/// The result of a gradient check: both gradients, the largest errors and every element
/// outside the tolerance, classified.
///
/// Its `Display` is the readable report; a check that fails returns it inside a
/// [`Failure`]. A passing report can still hold [`Finding::NotDifferentiable`] findings,
/// printed as notes.
///
/// ```
/// use wengert_check::GradCheck;
/// use wengert_tape::Tensor;
/// let report = GradCheck::new().tape(|_tape, v| v[0].tanh().sum(), &[Tensor::from_slice(&[0.3, -1.2])])?;
/// assert!(report.passed() && report.max_rel_error < 1e-8);
/// assert_eq!(report.elements_checked, 2);
/// assert!(report.to_string().starts_with("gradient check passed"));
/// # Ok::<(), wengert_check::Failure>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// What was compared; [`Check::Gradient`] for the first-order targets.
    pub check: Check,
    /// `f(x)` at the inputs (in the differencing precision); for a Jacobian check the
    /// largest `|f_r(x)|`; NaN where the check was given no `f` (hand-written second-order
    /// targets).
    pub value: f64,
    /// The stencil of the numerical gradient.
    pub stencil: Stencil,
    /// The tolerance applied.
    pub tolerance: Tolerance<f64>,
    /// The precisions of the two sides.
    pub precision: Precision,
    /// Whether kinks count as failures.
    pub strict: bool,
    /// Per input: both gradients.
    pub inputs: Vec<InputCheck>,
    /// How many elements were compared.
    pub elements_checked: usize,
    /// The largest `|analytic - numeric|` over all finite elements.
    pub max_abs_error: f64,
    /// The largest relative error over all finite elements.
    pub max_rel_error: f64,
    /// The element with the largest absolute error; `None` if there were no elements.
    pub worst: Option<Element>,
    /// Every element outside the tolerance (and any structural problem), in input order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True if no finding fails (under this report's strictness).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().tape(|_tape, v| v[0].sigmoid().sum(), &[Tensor::scalar(0.3)])?;
    /// assert!(report.passed());
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The findings that fail the check.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// // d/dx x^2 is 2x; "x" is right only at 0.
    /// let failure = GradCheck::new()
    ///     .hand_written(|v| v[0].data().iter().map(|x| x * x).sum(), |v| vec![v[0].clone()], &[Tensor::from_slice(&[0.0, 1.0, 2.0])])
    ///     .unwrap_err();
    /// let wrong: Vec<usize> = failure.report.failures().filter_map(|f| f.element()).map(|e| e.index).collect();
    /// assert_eq!(wrong, vec![1, 2]);
    /// ```
    pub fn failures(&self) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(move |f| f.fails(self.strict))
    }

    /// The findings at points where the function is not differentiable.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let report = GradCheck::new().tape(|_tape, v| v[0].relu().sum(), &[Tensor::from_slice(&[0.0, 0.5, 0.0])])?;
    /// assert!(report.passed());
    /// assert_eq!(report.kinks().filter_map(|f| f.element()).map(|e| e.index).collect::<Vec<_>>(), vec![0, 2]);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn kinks(&self) -> impl Iterator<Item = &Finding> + '_ {
        self.findings.iter().filter(|f| f.is_kink())
    }

    /// `"input 1 (b1)"`, or `"input 1"` without a name.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let x = [Tensor::scalar(1.0), Tensor::scalar(2.0)];
    /// let report = GradCheck::new().names(&["w"]).tape(|_tape, v| v[0] * v[1], &x)?;
    /// assert_eq!((report.input_label(0), report.input_label(1)), ("input 0 (w)".to_string(), "input 1".to_string()));
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    pub fn input_label(&self, input: usize) -> String {
        match self.inputs.get(input).and_then(|i| i.name.as_deref()) {
            Some(name) => format!("input {input} ({name})"),
            None => format!("input {input}"),
        }
    }

    /// An empty report of `check`, to be filled by [`Report::record`].
    pub(crate) fn start(
        check: Check,
        value: f64,
        stencil: Stencil,
        tolerance: Tolerance<f64>,
        precision: Precision,
        strict: bool,
    ) -> Report {
        Report {
            check,
            value,
            stencil,
            tolerance,
            precision,
            strict,
            inputs: Vec::new(),
            elements_checked: 0,
            max_abs_error: 0.0,
            max_rel_error: 0.0,
            worst: None,
            findings: Vec::new(),
        }
    }

    /// Counts one compared element, keeps the largest errors, and keeps its finding.
    pub(crate) fn record(&mut self, element: Element, finding: Option<Finding>) {
        self.elements_checked += 1;
        if let Some(finding) = finding {
            self.findings.push(finding);
        }
        if element.abs_error.is_finite() {
            self.max_rel_error = self.max_rel_error.max(element.rel_error);
            if self.worst.is_none_or(|w| element.abs_error > w.abs_error) {
                self.max_abs_error = element.abs_error;
                self.worst = Some(element);
            }
        }
    }

    /// `Ok(self)` if it passed, the failure otherwise.
    pub(crate) fn finish(self) -> Result<Report, Failure> {
        if self.passed() {
            Ok(self)
        } else {
            Err(Failure { report: Box::new(self) })
        }
    }

    /// Input `input`'s element `index` with its position: `input 0 [2 x 3], element 4 (row 1, col 1)`.
    fn input_element(&self, input: usize, index: usize) -> String {
        let shape = self.inputs.get(input).map(|i| i.shape);
        let cols = shape.map_or(1, |s| s.cols().max(1));
        let shape = shape.map(|s| s.to_string()).unwrap_or_default();
        format!("{} {shape}, element {index} (row {}, col {})", self.input_label(input), index / cols, index % cols)
    }

    /// The input and the index within it of element `global` of all inputs, in input order.
    fn locate(&self, global: usize) -> (usize, usize) {
        let mut start = 0;
        for (input, check) in self.inputs.iter().enumerate() {
            let n = check.shape.numel();
            if global < start + n {
                return (input, global - start);
            }
            start += n;
        }
        (self.inputs.len(), global - start)
    }

    fn element_label(&self, e: &Element) -> String {
        match &self.check {
            Check::Gradient | Check::HessianVector { .. } => self.input_element(e.input, e.index),
            Check::Jacobian { output, .. } => {
                let cols = output.shape().cols().max(1);
                format!(
                    "output element {} (row {}, col {}) of {}, {}",
                    e.row,
                    e.row / cols,
                    e.row % cols,
                    output.shape(),
                    self.input_element(e.input, e.col)
                )
            }
            Check::HessianSymmetry { .. } => {
                let i = self.inputs.iter().take(e.input).map(|c| c.shape.numel()).sum::<usize>() + e.row;
                let (input_j, index_j) = self.locate(e.col);
                format!(
                    "H[{i}, {}]: i = {}; j = {}",
                    e.col,
                    self.input_element(e.input, e.row),
                    self.input_element(input_j, index_j)
                )
            }
        }
    }

    /// The names of the two sides compared, as the report prints them.
    fn sides(&self) -> (&'static str, &'static str) {
        match self.check {
            Check::HessianSymmetry { .. } => ("H[i, j]", "H[j, i]"),
            _ => ("analytic", "numeric"),
        }
    }

    fn write_finding(&self, f: &mut fmt::Formatter<'_>, finding: &Finding) -> fmt::Result {
        let (a_name, n_name) = self.sides();
        let values = |e: &Element| {
            format!(
                "{a_name} {}, {n_name} {}, abs error {:.2e}, rel error {:.2e}, allowed {:.2e}",
                g(e.analytic),
                g(e.numeric),
                e.abs_error,
                e.rel_error,
                e.allowed
            )
        };
        let slopes_text = |s: &Slopes| {
            format!(
                "not differentiable here: left slope {}, right slope {} (step {:.2e})",
                g(s.left),
                g(s.right),
                s.step
            )
        };
        let wrong = match self.check {
            Check::Gradient => "WRONG GRADIENT",
            Check::HessianVector { .. } => "WRONG HESSIAN-VECTOR PRODUCT",
            Check::HessianSymmetry { .. } => "NOT SYMMETRIC",
            Check::Jacobian { .. } => "WRONG JACOBIAN ENTRY",
        };
        match finding {
            Finding::WrongGradient(e) => {
                writeln!(f, "  {wrong} at {}:", self.element_label(e))?;
                writeln!(f, "      {}", values(e))
            }
            Finding::NotDifferentiable { element, slopes } => {
                let verdict = if self.strict { "FAILS (strict mode)" } else { "not counted as a failure" };
                writeln!(f, "  kink at {}: {verdict}", self.element_label(element))?;
                writeln!(f, "      {}", slopes_text(slopes))?;
                writeln!(
                    f,
                    "      analytic {} lies between them; numeric {} mixes both sides",
                    g(element.analytic),
                    g(element.numeric)
                )
            }
            Finding::WrongAtKink { element, slopes } => {
                writeln!(f, "  {wrong} AT A KINK at {}:", self.element_label(element))?;
                writeln!(f, "      {}", slopes_text(slopes))?;
                writeln!(f, "      analytic {} lies outside them; {}", g(element.analytic), values(element))
            }
            Finding::NotFinite(e) => writeln!(
                f,
                "  NOT FINITE at {}: {a_name} {}, {n_name} {}",
                self.element_label(e),
                e.analytic,
                e.numeric
            ),
            Finding::ValueNotFinite { value } => {
                writeln!(f, "  f(x) is {value}: nothing to compare (is an input outside the function's domain?)")
            }
            Finding::WrongShape { input, expected, found } => match self.check {
                Check::Gradient => writeln!(
                    f,
                    "  WRONG SHAPE: the gradient of {} is {found}, the input is {expected} \
                     (a gradient has the shape of what it is taken with respect to)",
                    self.input_label(*input)
                ),
                Check::HessianVector { .. } => writeln!(
                    f,
                    "  WRONG SHAPE: H v (or the gradient) of {} is {found}, the input is {expected}",
                    self.input_label(*input)
                ),
                Check::HessianSymmetry { .. } => writeln!(
                    f,
                    "  WRONG SHAPE: the Hessian is {found}, not {expected} (a row and a column per input element)"
                ),
                Check::Jacobian { .. } => writeln!(
                    f,
                    "  WRONG SHAPE: the Jacobian block of {} is {found}, not {expected} \
                     (a row per output element, a column per element of the input)",
                    self.input_label(*input)
                ),
            },
            Finding::WrongCount { expected, found } => {
                let what = if self.check == Check::Gradient { "gradients" } else { "tensors" };
                writeln!(f, "  WRONG COUNT: {found} {what} for {expected} inputs")
            }
        }
    }

    /// The report's second line: what was compared with what.
    fn write_method(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let strict = if self.strict { "; strict: kinks fail" } else { "" };
        let (numeric, analytic, stencil) = (self.precision.numeric, self.precision.analytic, self.stencil.name());
        match &self.check {
            Check::Gradient => writeln!(
                f,
                "  f(x) = {}; {stencil} in {numeric} against the {analytic} gradient{strict}",
                g(self.value)
            ),
            Check::HessianVector { by_tape, gradient_scale, .. } => {
                let (hv, gradient) = if *by_tape {
                    (
                        "the tape's H v (reverse over reverse: Tape::grad, then a sweep)",
                        "the tape's own gradient (its sweep)",
                    )
                } else {
                    ("the hand-written H v", "the hand-written gradient")
                };
                let value =
                    if self.value.is_nan() { String::from("not given") } else { format!("= {}", g(self.value)) };
                writeln!(f, "  f(x) {value}, largest |gradient| {}", g(*gradient_scale))?;
                writeln!(f, "  {hv} against {stencil} of {gradient} along v, in {numeric}{strict}")
            }
            Check::HessianSymmetry { by_tape, hessian_scale } => {
                let n = self.inputs.iter().map(|c| c.shape.numel()).sum::<usize>();
                let source = if *by_tape {
                    "the tape's (the gradient recorded by Tape::grad, then one sweep per element)"
                } else {
                    "hand-written"
                };
                writeln!(
                    f,
                    "  H is [{n} x {n}], {source}, in {analytic}; largest |H[i, j]| {}; inputs' elements numbered in input order",
                    g(*hessian_scale)
                )
            }
            Check::Jacobian { by_tape, output } => {
                let source = if *by_tape {
                    "the tape's Jacobian (one reverse sweep per output element)"
                } else {
                    "the hand-written Jacobian"
                };
                writeln!(
                    f,
                    "  f(x) is {}: {}; {source} against {stencil} in {numeric}, one input element at a time{strict}",
                    output.shape(),
                    if output.shape().numel() <= ELEMENTS_SHOWN {
                        list(output.data())
                    } else {
                        String::from("(large)")
                    }
                )
            }
        }
    }

    fn write_tolerance(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a_name, n_name) = self.sides();
        let scale = match self.check {
            Check::Gradient => "max(1, |f(x)|)",
            Check::HessianVector { .. } => "max(1, largest |gradient|)",
            Check::HessianSymmetry { .. } => "max(1, largest |H|)",
            Check::Jacobian { .. } => "max(1, |f_r(x)|)",
        };
        writeln!(
            f,
            "  tolerance: |{a_name} - {n_name}| <= {:.0e} {scale} + {:.0e} max(|{a_name}|, |{n_name}|)",
            self.tolerance.abs, self.tolerance.rel
        )
    }
}

/// Findings listed in full before the rest are summarised.
const FINDINGS_SHOWN: usize = 8;
/// Inputs up to this many elements get both gradients printed in full.
const ELEMENTS_SHOWN: usize = 24;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = self.check.title();
        let what = if matches!(self.check, Check::HessianSymmetry { .. }) { "pairs" } else { "elements" };
        let failing = self.failures().count();
        if failing == 0 {
            let kinks = self.kinks().count();
            if kinks == 0 {
                write!(f, "{title} passed: {} {what} agree", self.elements_checked)?;
            } else {
                write!(
                    f,
                    "{title} passed: {} of {} {what} agree, {kinks} at a kink (not a failure unless strict)",
                    self.elements_checked - kinks,
                    self.elements_checked
                )?;
            }
        } else {
            let elements = self.failures().filter(|x| x.element().is_some()).count();
            write!(f, "{title} FAILED: {failing} finding(s)")?;
            if elements > 0 {
                write!(f, ", {elements} of {} {what} disagree", self.elements_checked)?;
            }
        }
        writeln!(f)?;
        self.write_method(f)?;
        self.write_tolerance(f)?;
        writeln!(f, "  largest errors: abs {:.2e}, rel {:.2e}", self.max_abs_error, self.max_rel_error)?;
        for finding in self.findings.iter().take(FINDINGS_SHOWN) {
            self.write_finding(f, finding)?;
        }
        if self.findings.len() > FINDINGS_SHOWN {
            writeln!(f, "  ... and {} more finding(s)", self.findings.len() - FINDINGS_SHOWN)?;
        }
        let (a_name, n_name) = self.sides();
        for (i, input) in self.inputs.iter().enumerate() {
            let flagged = self.findings.iter().any(|finding| match finding {
                Finding::WrongShape { input, .. } => *input == i,
                Finding::ValueNotFinite { .. } => true,
                other => other.element().is_some_and(|e| e.input == i),
            });
            write!(f, "{} {}", self.input_label(i), input.shape)?;
            match self.check {
                Check::Jacobian { .. } => write!(f, " (block {}, a row per output element)", input.numeric.shape())?,
                Check::HessianSymmetry { .. } => write!(f, " (its rows of H, {})", input.numeric.shape())?,
                _ => {}
            }
            let shown = input.numeric.shape().numel();
            match &input.analytic {
                Some(_) if !flagged => writeln!(f, ": agrees")?,
                _ if shown > ELEMENTS_SHOWN => writeln!(f, ": {shown} elements, too many to print")?,
                Some(a) => {
                    writeln!(f, ":")?;
                    writeln!(f, "  {a_name:<8} {}", list(a.data()))?;
                    writeln!(f, "  {n_name:<8} {}", list(input.numeric.data()))?;
                }
                None => writeln!(f, ":\n  {a_name} (none)\n  {n_name:<8} {}", list(input.numeric.data()))?,
            }
            if let Check::HessianVector { direction, .. } = &self.check
                && let Some(v) = direction.get(i).filter(|v| v.shape().numel() <= ELEMENTS_SHOWN)
                && flagged
            {
                writeln!(f, "  along v  {}", list(v.data()))?;
            }
        }
        Ok(())
    }
}

/// A report whose check did not pass. Its `Display` is the report.
///
/// It is a `std::error::Error`, so proptest's `TestCaseError` converts from it: `?` fails a
/// proptest case with the report.
///
/// ```
/// use proptest::test_runner::TestCaseError;
/// use wengert_check::GradCheck;
/// use wengert_tape::Tensor;
///
/// fn case(x: Tensor<f64>) -> Result<(), TestCaseError> {
///     // A hand-written gradient of sum(x^2) that forgot the factor 2.
///     GradCheck::new().hand_written(|v| v[0].data().iter().map(|x| x * x).sum(), |v| vec![v[0].clone()], &[x])?;
///     Ok(())
/// }
/// let error = case(Tensor::from_slice(&[1.5])).unwrap_err();
/// assert!(error.to_string().contains("WRONG GRADIENT at input 0 [1], element 0 (row 0, col 0)"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The full report (boxed: a `Result` carrying it stays small).
    pub report: Box<Report>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.report, f)
    }
}

impl std::error::Error for Failure {}

/// A number with 9 significant digits, fixed-point where that reads better (like C's `%g`).
pub(crate) fn g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let exponent = x.abs().log10().floor() as i32;
    if (-4..9).contains(&exponent) {
        let decimals = (8 - exponent).max(0) as usize;
        let fixed = format!("{x:.decimals$}");
        if fixed.contains('.') {
            fixed.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            fixed
        }
    } else {
        format!("{x:.8e}")
    }
}

fn list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|&v| g(v)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::g;

    #[test]
    fn numbers_print_with_nine_significant_digits() {
        assert_eq!(g(0.0), "0");
        assert_eq!(g(0.25), "0.25");
        assert_eq!(g(-0.0896169272249), "-0.0896169272");
        assert_eq!(g(1.0 / 3.0), "0.333333333");
        assert_eq!(g(12345.678), "12345.678");
        assert_eq!(g(1.5e-7), "1.50000000e-7");
        assert_eq!(g(f64::NAN), "NaN");
    }
}
