//! The second-order and vector-output targets of [`GradCheck`]: a Hessian-vector product
//! against central differences of the gradient along `v`, the Hessian's symmetry, and a
//! Jacobian against central differences one input element (one column) at a time. Each
//! fills the first-order check's [`Report`], its [`Check`] saying what was compared, and
//! judges elements (kinks included) with the same rule.

use crate::check::{element, precision, tape_gradient, to_f64};
use crate::difference::{derivative, Slopes};
use crate::report::{Check, Failure, Finding, InputCheck, Report};
use crate::{GradCheck, Tolerance};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// The default tolerance of the symmetry check: both sides come from the same sweeps, so
/// only rounding separates `H[i, j]` from `H[j, i]`.
///
/// On the tape's Hessians of every op family of the crate's tests (3,000 random cases each,
/// up to 4x4 inputs, values in `[-2, 2]`) the largest gap was `3.1e-16` times
/// `max(1, largest |H|)` in f64; in f32 (sigmoid, softplus, matmul then tanh, matmul then
/// softmax cross-entropy; 300 cases) `2.3e-7`. The defaults sit well above: abs `1e-11`,
/// rel `1e-9` in f64; abs `1e-4`, rel `1e-3` in f32.
///
/// ```
/// let t = wengert_check::symmetry_tolerance::<f64>();
/// assert_eq!((t.abs, t.rel), (1e-11, 1e-9));
/// ```
pub fn symmetry_tolerance<T: Real>() -> Tolerance<f64> {
    match T::NAME {
        "f64" => Tolerance { abs: 1e-11, rel: 1e-9 },
        _ => Tolerance { abs: 1e-4, rel: 1e-3 },
    }
}

impl GradCheck {
    /// Second order (1): the tape's Hessian-vector product `H v` (reverse over reverse:
    /// [`Tape::grad`], then one sweep of `g . v`) against central differences of the tape's
    /// own gradient along `v`, `(g(x + h v) - g(x - h v)) / 2h`, for a direction `v` drawn
    /// from the inputs.
    ///
    /// `v` has elements in `[-1, 1]` from a generator seeded by the inputs' bits, so a case
    /// is reproducible and proptest's shrinking keeps a direction per input; pass your own
    /// with [`hvp_along`](GradCheck::hvp_along). `f` is written as for
    /// [`tape`](GradCheck::tape) and must return a scalar.
    ///
    /// The differences are taken along `t` in `x + t s v`, with `s` scaling the largest move of
    /// an element to the step the first-order check would take for it; the tolerance's
    /// `abs` part is per unit of the largest `|gradient element|`, the size of what is
    /// differenced.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element of `H v` disagrees.
    ///
    /// # Panics
    ///
    /// If `f` returns more than one element, or its recorded gradient meets a custom op
    /// (their rules compute numbers, not handles).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let x = Tensor::from_rows(&[[0.5, -1.0], [2.0, 0.3]]);
    /// let w = Tensor::from_rows(&[[0.2, -0.7], [0.4, 0.1]]);
    /// let report = GradCheck::new().names(&["x", "W"]).hvp(|_tape, v| v[0].matmul(v[1]).sigmoid().sum(), &[x, w])?;
    /// assert_eq!(report.elements_checked, 8);
    /// assert!(report.max_rel_error < 1e-6);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn hvp<T, F>(&self, f: F, inputs: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
    {
        let direction = direction_for(inputs);
        self.hvp_along(f, inputs, &direction)
    }

    /// As [`hvp`](GradCheck::hvp), along a given direction: one tensor per input, of its shape.
    ///
    /// # Errors
    ///
    /// As [`hvp`](GradCheck::hvp).
    ///
    /// # Panics
    ///
    /// As [`hvp`](GradCheck::hvp), and if `direction` does not match the inputs in number
    /// and shapes.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// // f = sum(x^3): H = diag(6x), so H e_1 = (0, 6 x_1).
    /// let x = [Tensor::from_slice(&[0.5, 2.0])];
    /// let e1 = [Tensor::from_slice(&[0.0, 1.0])];
    /// let report = GradCheck::new().hvp_along(|_tape, v| v[0].powi(3).sum(), &x, &e1)?;
    /// let hv = report.inputs[0].analytic.as_ref().unwrap();
    /// assert_eq!(hv.data(), &[0.0, 12.0]);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn hvp_along<T, F>(&self, f: F, inputs: &[Tensor<T>], direction: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
    {
        check_direction(inputs, direction);
        let (value, analytic) = tape_hvp(&f, inputs, direction);
        let mut tape = Tape::new();
        let gradient = |point: &[Tensor<T>]| tape_gradient(&mut tape, &f, point);
        self.compare_hvp(&analytic, gradient, inputs, direction, value, true)
    }

    /// Second order (1), hand-written: `hvp(inputs, v)` against central differences of
    /// `gradient` along `v`, with no tape involved.
    ///
    /// Both return one tensor per input, of its shape.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an element of `H v` disagrees, or either function
    /// returns the wrong number of tensors or a wrong shape.
    ///
    /// # Panics
    ///
    /// If `direction` does not match the inputs in number and shapes.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// // f = sum(sigmoid(z)): g = s (1 - s), H = diag(s (1 - s)(1 - 2 s)).
    /// let s = |z: f64| 1.0 / (1.0 + (-z).exp());
    /// let gradient = |x: &[Tensor<f64>]| vec![Tensor::from_fn(x[0].shape(), |i| s(x[0].data()[i]) * (1.0 - s(x[0].data()[i])))];
    /// let right = |x: &[Tensor<f64>], v: &[Tensor<f64>]| {
    ///     vec![Tensor::from_fn(x[0].shape(), |i| { let s = s(x[0].data()[i]); s * (1.0 - s) * (1.0 - 2.0 * s) * v[0].data()[i] })]
    /// };
    /// // sigmoid'' taken as s (1 - s), the first derivative again: caught.
    /// let wrong = |x: &[Tensor<f64>], v: &[Tensor<f64>]| {
    ///     vec![Tensor::from_fn(x[0].shape(), |i| { let s = s(x[0].data()[i]); s * (1.0 - s) * v[0].data()[i] })]
    /// };
    /// let (x, v) = ([Tensor::from_slice(&[0.3, -1.2])], [Tensor::from_slice(&[1.0, 0.5])]);
    /// assert!(GradCheck::new().hand_written_hvp(gradient, right, &x, &v).is_ok());
    /// let failure = GradCheck::new().hand_written_hvp(gradient, wrong, &x, &v).unwrap_err();
    /// assert!(failure.to_string().contains("WRONG HESSIAN-VECTOR PRODUCT at input 0 [2], element 0"));
    /// ```
    #[track_caller]
    pub fn hand_written_hvp<T: Real>(
        &self,
        gradient: impl FnMut(&[Tensor<T>]) -> Vec<Tensor<T>>,
        hvp: impl FnOnce(&[Tensor<T>], &[Tensor<T>]) -> Vec<Tensor<T>>,
        inputs: &[Tensor<T>],
        direction: &[Tensor<T>],
    ) -> Result<Report, Failure> {
        check_direction(inputs, direction);
        let analytic = hvp(inputs, direction);
        self.compare_hvp(&analytic, gradient, inputs, direction, f64::NAN, false)
    }

    /// The check behind both HVP targets: `analytic` against central differences of
    /// `gradient` along `direction`, on `t` in `x + t s v` (`s` as [`hvp`](GradCheck::hvp) says).
    fn compare_hvp<T: Real>(
        &self,
        analytic: &[Tensor<T>],
        mut gradient: impl FnMut(&[Tensor<T>]) -> Vec<Tensor<T>>,
        inputs: &[Tensor<T>],
        direction: &[Tensor<T>],
        value: f64,
        by_tape: bool,
    ) -> Result<Report, Failure> {
        let tolerance = self.tolerance_for::<T, T>();
        let largest =
            |tensors: &[Tensor<T>]| tensors.iter().flat_map(|t| t.data()).map(|&x| to_f64(x).abs()).fold(0.0, f64::max);
        let v_size = largest(direction);
        let s = if v_size > 0.0 { largest(inputs).max(1.0) / v_size } else { 1.0 };
        let (s_t, zero) = (T::lit(s), T::zero());
        let offsets = offsets(inputs);
        // The gradient at x: its size scales the tolerance, its count and shapes are checked.
        let at_x = gradient(inputs);
        let gradient_scale = largest(&at_x);
        let mut structure = count_finding(at_x.len(), inputs.len()).into_iter().collect::<Vec<_>>();
        for (input, (g, x)) in at_x.iter().zip(inputs).enumerate() {
            if !same_shape(g.shape(), x.shape()) {
                structure.push(Finding::WrongShape { input, expected: x.shape(), found: g.shape() });
            }
        }
        let gradient_ok = structure.is_empty();
        let mut memo = Memo::new(|t: T| {
            let point: Vec<Tensor<T>> = inputs
                .iter()
                .zip(direction)
                .map(|(x, v)| Tensor::from_fn(x.shape(), |i| x.data()[i] + t * s_t * v.data()[i]))
                .collect();
            gradient(&point).iter().flat_map(|g| g.data().iter().copied()).collect()
        });
        let check = Check::HessianVector {
            by_tape,
            direction: direction.iter().map(|v| v.cast::<f64>()).collect(),
            gradient_scale,
        };
        let mut report = Report::start(check, value, self.stencil, tolerance, precision::<T, T>(), self.strict);
        report.findings.extend(count_finding(analytic.len(), inputs.len()));
        report.findings.extend(structure);
        for (input, x) in inputs.iter().enumerate() {
            let shape = x.shape();
            let hv = analytic.get(input).map(|a| a.cast::<f64>());
            let comparable = match &hv {
                Some(a) if !same_shape(a.shape(), shape) => {
                    report.findings.push(Finding::WrongShape { input, expected: shape, found: a.shape() });
                    false
                }
                Some(_) => gradient_ok,
                None => false,
            };
            let mut numeric = Vec::with_capacity(shape.numel());
            for index in 0..shape.numel() {
                let position = offsets[input] + index;
                let mut along = |t: T| memo.at(t, position);
                let n = if gradient_ok { to_f64(derivative(&mut along, zero, self.stencil)) / s } else { f64::NAN };
                numeric.push(n);
                if let (true, Some(hv)) = (comparable, &hv) {
                    let element = element(input, index, shape.cols(), hv.data()[index], n, gradient_scale, tolerance);
                    let finding = self.judge(element, || scaled(Slopes::probe(&mut along, zero), s));
                    report.record(element, finding);
                }
            }
            report.inputs.push(InputCheck {
                name: self.names.get(input).cloned(),
                shape,
                analytic: hv,
                numeric: Tensor::new(shape, numeric),
            });
        }
        report.finish()
    }

    /// Second order (2): the symmetry of the tape's dense Hessian of `f` at the inputs,
    /// `|H[i, j] - H[j, i]|` within [`symmetry_tolerance`] (or the one set) for every pair,
    /// the worst pair in [`Report::worst`]. The inputs' elements are numbered in input order.
    ///
    /// `H` is the gradient recorded by [`Tape::grad`], then one sweep per element of it: `n`
    /// sweeps for `n` elements, so keep the inputs small.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if a pair differs.
    ///
    /// # Panics
    ///
    /// As [`hvp`](GradCheck::hvp).
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let z = Tensor::from_rows(&[[0.2, -0.4, 1.1], [0.0, 0.3, -2.0]]);
    /// let report = GradCheck::new().hessian_symmetry(|_tape, v| v[0].softmax_cross_entropy(&[2, 0]), &[z])?;
    /// assert_eq!(report.elements_checked, 15); // 6 * 5 / 2 pairs
    /// assert!(report.max_abs_error < 1e-15);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn hessian_symmetry<T, F>(&self, f: F, inputs: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
    {
        let (value, hessian) = tape_hessian(&f, inputs);
        self.compare_symmetry(&hessian, inputs, value, true)
    }

    /// Second order (2), hand-written: the symmetry of `hessian(inputs)`, `[n x n]` for `n`
    /// elements in all, numbered in input order.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if a pair differs or the Hessian is not `[n x n]`.
    ///
    /// ```
    /// use wengert_check::{Finding, GradCheck};
    /// use wengert_tape::Tensor;
    /// // f(x, y) = x^2 y: H = [[2y, 2x], [2x, 0]]. The wrong one forgot a 2 in one place.
    /// let xy = [Tensor::from_slice(&[1.5, -0.5])];
    /// let right = |v: &[Tensor<f64>]| { let (x, y) = (v[0].data()[0], v[0].data()[1]); Tensor::from_rows(&[[2.0 * y, 2.0 * x], [2.0 * x, 0.0]]) };
    /// let wrong = |v: &[Tensor<f64>]| { let (x, y) = (v[0].data()[0], v[0].data()[1]); Tensor::from_rows(&[[2.0 * y, 2.0 * x], [x, 0.0]]) };
    /// assert!(GradCheck::new().hand_written_hessian_symmetry(right, &xy).is_ok());
    /// let failure = GradCheck::new().hand_written_hessian_symmetry(wrong, &xy).unwrap_err();
    /// let Finding::WrongGradient(pair) = &failure.report.findings[0] else { panic!() };
    /// assert_eq!((pair.row, pair.col, pair.analytic, pair.numeric), (0, 1, 3.0, 1.5));
    /// assert!(failure.to_string().contains("NOT SYMMETRIC at H[0, 1]"));
    /// ```
    pub fn hand_written_hessian_symmetry<T: Real>(
        &self,
        hessian: impl FnOnce(&[Tensor<T>]) -> Tensor<T>,
        inputs: &[Tensor<T>],
    ) -> Result<Report, Failure> {
        let hessian = hessian(inputs);
        self.compare_symmetry(&hessian, inputs, f64::NAN, false)
    }

    fn compare_symmetry<T: Real>(
        &self,
        hessian: &Tensor<T>,
        inputs: &[Tensor<T>],
        value: f64,
        by_tape: bool,
    ) -> Result<Report, Failure> {
        let tolerance = self.tolerance.unwrap_or_else(symmetry_tolerance::<T>);
        let offsets = offsets(inputs);
        let n = offsets[inputs.len()];
        let h = hessian.cast::<f64>();
        let hessian_scale = h.data().iter().fold(0.0, |m: f64, x| m.max(x.abs()));
        let check = Check::HessianSymmetry { by_tape, hessian_scale };
        let mut report = Report::start(check, value, self.stencil, tolerance, precision::<T, T>(), self.strict);
        let square = h.shape().rows() == n && h.shape().cols() == n && h.shape().numel() == n * n;
        if !square {
            report.findings.push(Finding::WrongShape { input: 0, expected: Shape::matrix(n, n), found: h.shape() });
        }
        for (input, x) in inputs.iter().enumerate() {
            let rows = offsets[input]..offsets[input + 1];
            let (mut upper, mut lower) = (Vec::new(), Vec::new());
            if square {
                for i in rows.clone() {
                    for j in 0..n {
                        let (a, b) = (h.data()[i * n + j], h.data()[j * n + i]);
                        upper.push(a);
                        lower.push(b);
                        if j > i {
                            let local = (i - rows.start) * n + j;
                            let element = element(input, local, n, a, b, hessian_scale, tolerance);
                            let finding =
                                match (element.analytic.is_finite() && element.numeric.is_finite(), element.agrees()) {
                                    (false, _) => Some(Finding::NotFinite(element)),
                                    (true, false) => Some(Finding::WrongGradient(element)),
                                    (true, true) => None,
                                };
                            report.record(element, finding);
                        }
                    }
                }
            }
            let block = Shape::matrix(rows.len(), if square { n } else { 0 });
            report.inputs.push(InputCheck {
                name: self.names.get(input).cloned(),
                shape: x.shape(),
                analytic: square.then(|| Tensor::new(block, upper)),
                numeric: Tensor::new(block, lower),
            });
        }
        report.finish()
    }

    /// Vector outputs: the tape's Jacobian of `f` (one reverse sweep per output element,
    /// [`Tape::backward_with_seed`]) against central differences, one input element (a
    /// column of every output) at a time. `f` may return any shape; the report names the
    /// output element and the input element of every disagreement.
    ///
    /// Each input's block is `[m x n_k]`, `m` the output's elements, `n_k` the input's; the
    /// tolerance's `abs` part for row `r` is per unit of `max(1, |f_r(x)|)`. Unlike the
    /// second-order targets this one reaches custom ops ([`wengert_tape::CustomOp`]): only
    /// their vector-Jacobian rules run.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an entry disagrees (or, in strict mode, if the
    /// function is not differentiable there).
    ///
    /// # Panics
    ///
    /// If `f` panics.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::Tensor;
    /// let z = Tensor::from_rows(&[[0.5, -1.0, 2.0]]);
    /// let report = GradCheck::new().jacobian(|_tape, v| v[0].softmax(), &[z])?;
    /// // softmax's Jacobian diag(y) - y y^T: its rows sum to 0.
    /// let j = report.inputs[0].analytic.as_ref().unwrap();
    /// assert!(j.data().chunks(3).all(|row| row.iter().sum::<f64>().abs() < 1e-15));
    /// assert_eq!(report.elements_checked, 9);
    /// # Ok::<(), wengert_check::Failure>(())
    /// ```
    #[track_caller]
    pub fn jacobian<T, F>(&self, f: F, inputs: &[Tensor<T>]) -> Result<Report, Failure>
    where
        T: Real,
        F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
    {
        let analytic = tape_jacobian(&f, inputs);
        let mut tape = Tape::new();
        self.compare_jacobian(&analytic, |point| evaluate_tensor(&mut tape, &f, point), inputs, true)
    }

    /// Vector outputs, hand-written: `jacobian(inputs)` (one `[m x n_k]` block per input)
    /// against central differences of `f`, whose result may have any shape.
    ///
    /// # Errors
    ///
    /// A [`Failure`] holding the report if an entry disagrees, or `jacobian` returns the
    /// wrong number of blocks or a block of the wrong shape.
    ///
    /// ```
    /// use wengert_check::GradCheck;
    /// use wengert_tape::{Shape, Tensor};
    /// // f(x) = (x0 x1, sin x0): J = [[x1, x0], [cos x0, 0]]; the wrong one has sin' = -sin.
    /// let f = |v: &[Tensor<f64>]| { let x = v[0].data(); Tensor::from_slice(&[x[0] * x[1], x[0].sin()]) };
    /// let jacobian = |wrong: bool| move |v: &[Tensor<f64>]| {
    ///     let x = v[0].data();
    ///     let d_sin = if wrong { -x[0].sin() } else { x[0].cos() };
    ///     vec![Tensor::from_rows(&[[x[1], x[0]], [d_sin, 0.0]])]
    /// };
    /// let x = [Tensor::from_slice(&[0.4, 3.0])];
    /// assert!(GradCheck::new().hand_written_jacobian(f, jacobian(false), &x).is_ok());
    /// let failure = GradCheck::new().hand_written_jacobian(f, jacobian(true), &x).unwrap_err();
    /// assert!(failure.to_string().contains("WRONG JACOBIAN ENTRY at output element 1 (row 0, col 1) of [2], input 0 [2], element 0 (row 0, col 0)"));
    /// ```
    pub fn hand_written_jacobian<T: Real>(
        &self,
        f: impl FnMut(&[Tensor<T>]) -> Tensor<T>,
        jacobian: impl FnOnce(&[Tensor<T>]) -> Vec<Tensor<T>>,
        inputs: &[Tensor<T>],
    ) -> Result<Report, Failure> {
        let analytic = jacobian(inputs);
        self.compare_jacobian(&analytic, f, inputs, false)
    }

    fn compare_jacobian<T: Real>(
        &self,
        analytic: &[Tensor<T>],
        mut f: impl FnMut(&[Tensor<T>]) -> Tensor<T>,
        inputs: &[Tensor<T>],
        by_tape: bool,
    ) -> Result<Report, Failure> {
        let tolerance = self.tolerance_for::<T, T>();
        let output = f(inputs).cast::<f64>();
        let m = output.shape().numel();
        let value = output.data().iter().fold(0.0, |a: f64, y| if y.is_finite() { a.max(y.abs()) } else { f64::NAN });
        let check = Check::Jacobian { by_tape, output: output.clone() };
        let mut report = Report::start(check, value, self.stencil, tolerance, precision::<T, T>(), self.strict);
        report.findings.extend(count_finding(analytic.len(), inputs.len()));
        if !value.is_finite() {
            report.findings.push(Finding::ValueNotFinite { value });
        }
        let mut point: Vec<Tensor<T>> = inputs.to_vec();
        for (input, x) in inputs.iter().enumerate() {
            let shape = x.shape();
            let cols = shape.numel();
            let expected = Shape::matrix(m, cols);
            let block = analytic.get(input).map(|a| a.cast::<f64>());
            let comparable = match &block {
                Some(a) if a.shape().rows() != m || a.shape().cols() != cols => {
                    report.findings.push(Finding::WrongShape { input, expected, found: a.shape() });
                    false
                }
                Some(_) => value.is_finite(),
                None => false,
            };
            let mut numeric = vec![f64::NAN; m * cols];
            for column in 0..cols {
                let at = x.data()[column];
                let mut memo = Memo::new(|t: T| {
                    point[input].data_mut()[column] = t;
                    let y = f(&point);
                    if y.shape().numel() == m {
                        y.data().to_vec()
                    } else {
                        Vec::new()
                    }
                });
                for row in 0..m {
                    let mut along = |t: T| memo.at(t, row);
                    let index = row * cols + column;
                    let n = if value.is_finite() { to_f64(derivative(&mut along, at, self.stencil)) } else { f64::NAN };
                    numeric[index] = n;
                    if let (true, Some(a)) = (comparable, &block) {
                        let element = element(input, index, cols, a.data()[index], n, output.data()[row], tolerance);
                        let finding = self.judge(element, || Slopes::probe(&mut along, at));
                        report.record(element, finding);
                    }
                }
                drop(memo);
                point[input].data_mut()[column] = at;
            }
            report.inputs.push(InputCheck {
                name: self.names.get(input).cloned(),
                shape,
                analytic: block,
                numeric: Tensor::new(expected, numeric),
            });
        }
        report.findings.sort_by_key(|finding| finding.element().map(|e| (e.input, e.index)));
        report.finish()
    }
}

/// A direction for [`GradCheck::hvp`]: one tensor per input, of its shape, elements in
/// `[-1, 1]` from SplitMix64 seeded by the inputs' bits (the same inputs, the same `v`).
///
/// ```
/// use wengert_tape::Tensor;
/// let x = [Tensor::from_slice(&[0.5, -1.0, 2.0])];
/// let v = wengert_check::direction_for(&x);
/// assert_eq!(v[0].shape(), x[0].shape());
/// assert!(v[0].data().iter().all(|d| (-1.0..=1.0).contains(d)));
/// assert_eq!(v, wengert_check::direction_for(&x));
/// ```
pub fn direction_for<T: Real>(inputs: &[Tensor<T>]) -> Vec<Tensor<T>> {
    let mut state = inputs.iter().flat_map(|x| x.data()).fold(0x9E37_79B9_7F4A_7C15_u64, |h, &x| {
        (h ^ to_f64(x).to_bits()).wrapping_mul(0x0100_0000_01B3).rotate_left(29)
    });
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    inputs
        .iter()
        .map(|x| Tensor::from_fn(x.shape(), |_| T::lit(2.0 * (next() >> 11) as f64 / (1u64 << 53) as f64 - 1.0)))
        .collect()
}

/// A vector-valued function of one number, remembered at every point it was evaluated, so
/// that each of its elements can be differenced with the scalar stencils for the price of
/// one evaluation per point. An empty result (a wrong count or shape) reads as NaN.
struct Memo<T, F> {
    f: F,
    seen: Vec<(T, Vec<T>)>,
}

impl<T: Real, F: FnMut(T) -> Vec<T>> Memo<T, F> {
    fn new(f: F) -> Self {
        Memo { f, seen: Vec::new() }
    }

    fn at(&mut self, t: T, position: usize) -> T {
        let values = match self.seen.iter().position(|(u, _)| *u == t) {
            Some(i) => &self.seen[i].1,
            None => {
                let values = (self.f)(t);
                self.seen.push((t, values));
                &self.seen[self.seen.len() - 1].1
            }
        };
        values.get(position).copied().unwrap_or_else(T::nan)
    }
}

/// Slopes probed along `t` in `x + t s v`, in units of the direction: divided by `s`.
fn scaled(slopes: Slopes, s: f64) -> Slopes {
    Slopes {
        left: slopes.left / s,
        right: slopes.right / s,
        first_order: (slopes.first_order.0 / s, slopes.first_order.1 / s),
        central: (slopes.central.0 / s, slopes.central.1 / s),
        step: slopes.step * s,
    }
}

/// Where each input's elements start when all are numbered in input order; the last entry
/// is the total.
fn offsets<T: Real>(inputs: &[Tensor<T>]) -> Vec<usize> {
    let mut offsets = vec![0];
    for x in inputs {
        offsets.push(offsets[offsets.len() - 1] + x.shape().numel());
    }
    offsets
}

/// A `[n]` vector and a `[1 x n]` row count as the same shape, as in the first-order check.
fn same_shape(a: Shape, b: Shape) -> bool {
    a.rows() == b.rows() && a.cols() == b.cols()
}

fn count_finding(found: usize, expected: usize) -> Option<Finding> {
    (found != expected).then_some(Finding::WrongCount { expected, found })
}

#[track_caller]
fn check_direction<T: Real>(inputs: &[Tensor<T>], direction: &[Tensor<T>]) {
    assert!(
        inputs.len() == direction.len(),
        "GradCheck::hvp: {} inputs, {} direction tensors",
        inputs.len(),
        direction.len()
    );
    for (k, (x, v)) in inputs.iter().zip(direction).enumerate() {
        assert!(
            same_shape(x.shape(), v.shape()),
            "GradCheck::hvp: input {k} is {}, its direction {}",
            x.shape(),
            v.shape()
        );
    }
}

#[track_caller]
fn assert_scalar(check: &str, shape: Shape) {
    assert!(
        shape.numel() == 1,
        "GradCheck::{check}: the function returned {shape}, not a scalar (reduce it, e.g. with .sum(), or check it with GradCheck::jacobian)"
    );
}

/// The shape of `f`'s result at `inputs`, recorded on constants; leaves the tape empty.
pub(crate) fn output_shape<T, F>(tape: &mut Tape<T>, f: &F, inputs: &[Tensor<T>]) -> Shape
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let shape = {
        let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.constant(x)).collect();
        f(tape, &vars).shape()
    };
    tape.clear();
    shape
}

/// `f` at `point`, recorded on constants, as a tensor; leaves the tape empty.
fn evaluate_tensor<T, F>(tape: &mut Tape<T>, f: &F, point: &[Tensor<T>]) -> Tensor<T>
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let value = {
        let vars: Vec<Var<'_, T>> = point.iter().map(|x| tape.constant(x)).collect();
        f(tape, &vars).to_tensor()
    };
    tape.clear();
    value
}

/// The sweep's gradient of `output` with respect to each of `vars`; zeros where `output`
/// depends on none of them (a constant row of a Hessian or a Jacobian).
fn sweep<'t, T: Real>(tape: &'t Tape<T>, output: Var<'t, T>, seed: &[T], vars: &[Var<'t, T>]) -> Vec<Tensor<T>> {
    let zeros = || vars.iter().map(|v| Tensor::zeros(v.shape())).collect();
    match tape.try_backward_with_seed(output, seed) {
        Ok(grads) => vars
            .iter()
            .map(|&v| grads.get(v).map_or_else(|| Tensor::zeros(v.shape()), |g| Tensor::new(v.shape(), g.to_vec())))
            .collect(),
        Err(_) => zeros(),
    }
}

/// `f(x)` and the tape's `H v`: the gradient recorded by [`Tape::grad`], then one sweep of
/// `sum_k g_k . v_k`.
#[track_caller]
fn tape_hvp<T, F>(f: &F, inputs: &[Tensor<T>], direction: &[Tensor<T>]) -> (f64, Vec<Tensor<T>>)
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.var(x)).collect();
    let output = f(&tape, &vars);
    assert_scalar("hvp", output.shape());
    let gradient = tape.grad(output, &vars);
    let along = gradient
        .iter()
        .zip(direction)
        .map(|(&g, v)| (g * tape.constant(v)).sum())
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| tape.constant(T::zero()));
    (to_f64(output.value()), sweep(&tape, along, &[T::one()], &vars))
}

/// `f(x)` and the tape's dense Hessian `[n x n]`, the inputs' elements in input order: the
/// gradient recorded by [`Tape::grad`], then one sweep per element of it.
#[track_caller]
fn tape_hessian<T, F>(f: &F, inputs: &[Tensor<T>]) -> (f64, Tensor<T>)
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.var(x)).collect();
    let output = f(&tape, &vars);
    assert_scalar("hessian_symmetry", output.shape());
    let gradient = tape.grad(output, &vars);
    let n: usize = inputs.iter().map(|x| x.shape().numel()).sum();
    let mut hessian = Vec::with_capacity(n * n);
    for g in &gradient {
        for e in 0..g.shape().numel() {
            // Row i of H: the gradient of g_i.
            for block in sweep(&tape, g.element(e), &[T::one()], &vars) {
                hessian.extend_from_slice(block.data());
            }
        }
    }
    (to_f64(output.value()), Tensor::new(Shape::matrix(n, n), hessian))
}

/// The tape's Jacobian of `f`, one `[m x n_k]` block per input: one sweep per output element.
fn tape_jacobian<T, F>(f: &F, inputs: &[Tensor<T>]) -> Vec<Tensor<T>>
where
    T: Real,
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let tape = Tape::new();
    let vars: Vec<Var<'_, T>> = inputs.iter().map(|x| tape.var(x)).collect();
    let output = f(&tape, &vars);
    let m = output.shape().numel();
    let mut blocks: Vec<Vec<T>> = inputs.iter().map(|x| Vec::with_capacity(m * x.shape().numel())).collect();
    let mut seed = vec![T::zero(); m];
    for row in 0..m {
        seed[row] = T::one();
        for (block, rows) in blocks.iter_mut().zip(sweep(&tape, output, &seed, &vars)) {
            block.extend_from_slice(rows.data());
        }
        seed[row] = T::zero();
    }
    blocks.into_iter().zip(inputs).map(|(b, x)| Tensor::new(Shape::matrix(m, x.shape().numel()), b)).collect()
}
