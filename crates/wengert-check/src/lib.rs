//! Gradient testing in a few lines: check any function's gradients against finite
//! differences, inside `proptest!`, and read a report that says which input, which element,
//! both values, both errors and the tolerance, and that tells a kink from a bug.
//!
//! Two targets today, one check behind both ([`GradCheck::compare`]):
//!
//! 1. a function that records on a wengert tape: the tape's gradient is checked
//!    ([`GradCheck::tape`]);
//! 2. a function and a hand-written gradient function, with no tape at all: backprop
//!    written out by hand is checked ([`GradCheck::hand_written`]).
//!
//! ```
//! use proptest::prelude::*;
//! use wengert_check::strategy::matrix;
//! use wengert_check::{prop_assert_gradients, GradCheck};
//! use wengert_tape::Tensor;
//!
//! /// A hand-written backward pass: L = sum(sigmoid(z)), dL/dz = s (1 - s).
//! fn sigmoid_sum(z: &[Tensor<f64>]) -> f64 {
//!     z[0].data().iter().map(|&z| 1.0 / (1.0 + (-z).exp())).sum()
//! }
//! fn sigmoid_sum_gradient(z: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
//!     let s = |z: f64| 1.0 / (1.0 + (-z).exp());
//!     vec![Tensor::from_fn(z[0].shape(), |i| s(z[0].data()[i]) * (1.0 - s(z[0].data()[i])))]
//! }
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(32))]
//!     // In a test file, put #[test] above the fn.
//!     fn hand_written_sigmoid_is_right(z in matrix(1..=4, 1..=4)) {
//!         prop_assert_gradients!(sigmoid_sum, sigmoid_sum_gradient, &[z.clone()]);
//!         // The same with the tape's sigmoid, and with a finer stencil, through `?`.
//!         GradCheck::new().tape(|_tape, v| v[0].sigmoid().sum(), &[z])?;
//!     }
//! }
//! hand_written_sigmoid_is_right();
//! ```
//!
//! When a case fails, proptest shrinks it to the smallest failing input (shapes to 1x1,
//! values towards 0) and prints the report for it; for a hand-written sigmoid' taken as `s`
//! instead of `s (1 - s)`:
//!
//! ```text
//! gradient check FAILED: 1 finding(s), 1 of 1 elements disagree
//!   f(x) = 0.5; central differences in f64 against the f64 gradient
//!   tolerance: |analytic - numeric| <= 1e-8 max(1, |f(x)|) + 1e-7 max(|analytic|, |numeric|)
//!   largest errors: abs 2.50e-1, rel 5.00e-1
//!   WRONG GRADIENT at input 0 [1 x 1], element 0 (row 0, col 0):
//!       analytic 0.5, numeric 0.25, abs error 2.50e-1, rel error 5.00e-1, allowed 6.00e-8
//! input 0 [1 x 1]:
//!   analytic [0.5]
//!   numeric  [0.25]
//! ```
//!
//! Where the function is not differentiable (relu at 0, a tie in a max) the two one-sided
//! slopes disagree; the report then says `not differentiable here: left slope 0, right
//! slope 1` and does not fail, unless [`GradCheck::strict`] is set or the analytic value is
//! outside the two slopes. `docs/gradient-checking.md` explains the differences, the
//! tolerances and the report.
//!
//! (3) A custom op's vector-Jacobian rule: [`GradCheck::custom_op`] weights each output
//! element differently, so the rule is tested for an upstream that is not all ones.
//!
//! Second order and vector outputs, with the same report ([`Check`] says which):
//! [`GradCheck::hvp`] (the tape's Hessian-vector product, reverse over reverse, against
//! central differences of the tape's own gradient along a random `v`),
//! [`GradCheck::hessian_symmetry`] (`|H - H^T|`, naming the worst pair) and
//! [`GradCheck::jacobian`] (any output shape, entry by entry), each with a hand-written
//! twin and a macro ([`prop_assert_hvp!`], [`prop_assert_hessian_symmetric!`],
//! [`prop_assert_jacobian!`]).

mod check;
mod difference;
mod report;
mod second;
pub mod strategy;

pub use check::{default_tolerance, GradCheck};
pub use difference::{derivative, numeric_gradient, Slopes, Stencil};
pub use report::{Check, Element, Failure, Finding, InputCheck, Precision, Report};
pub use second::{direction_for, symmetry_tolerance};
/// The tolerance type of the engine's own check: `abs` (per unit of `max(1, |f(x)|)`) and `rel`.
pub use wengert_tape::check::Tolerance;

/// The proptest this crate's strategies and macro are built on.
pub use proptest;

/// Checks gradients inside a `proptest!` body, failing the case with the report.
///
/// Three forms:
///
/// - `prop_assert_gradients!(check)`: `check` is a `Result<Report, Failure>`, e.g.
///   `GradCheck::new().stencil(..).tape(..)`;
/// - `prop_assert_gradients!(f, inputs)`: [`GradCheck::tape`] with the defaults;
/// - `prop_assert_gradients!(f, gradient, inputs)`: [`GradCheck::hand_written`] with the
///   defaults.
///
/// On success it evaluates to the [`Report`]; on failure it returns
/// `Err(TestCaseError::fail(report))` from the enclosing function, so proptest shrinks the
/// case and prints the report for the smallest failing input.
///
/// ```
/// use proptest::test_runner::TestCaseError;
/// use wengert_check::prop_assert_gradients;
/// use wengert_tape::Tensor;
///
/// fn case(x: Tensor<f64>) -> Result<(), TestCaseError> {
///     let report = prop_assert_gradients!(|_tape, v| v[0].powi(3).sum(), &[x.clone()]);
///     assert!(report.max_rel_error < 1e-8);
///     // d/dx x^3 is 3x^2, not 2x^2: the case fails with the report.
///     prop_assert_gradients!(
///         |v| v[0].data().iter().map(|x| x.powi(3)).sum(),
///         |v| vec![Tensor::from_fn(v[0].shape(), |i| 2.0 * v[0].data()[i].powi(2))],
///         &[x]
///     );
///     Ok(())
/// }
/// let message = case(Tensor::from_slice(&[1.0, -2.0])).unwrap_err().to_string();
/// assert!(message.contains("WRONG GRADIENT at input 0 [2], element 1 (row 0, col 1)"));
/// assert!(message.contains("analytic 8, numeric 12"));
/// ```
#[macro_export]
macro_rules! prop_assert_gradients {
    ($check:expr $(,)?) => {
        match $check {
            ::core::result::Result::Ok(report) => report,
            ::core::result::Result::Err(failure) => {
                return ::core::result::Result::Err($crate::proptest::test_runner::TestCaseError::fail(
                    ::std::string::ToString::to_string(&failure),
                ));
            }
        }
    };
    ($f:expr, $inputs:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().tape($f, $inputs))
    };
    ($f:expr, $gradient:expr, $inputs:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().hand_written($f, $gradient, $inputs))
    };
}

/// Checks the tape's Hessian-vector product inside a `proptest!` body
/// ([`GradCheck::hvp`] with the defaults, or [`GradCheck::hvp_along`] given a direction),
/// failing the case with the report.
///
/// ```
/// use proptest::test_runner::TestCaseError;
/// use wengert_check::prop_assert_hvp;
/// use wengert_tape::Tensor;
///
/// fn case(x: Tensor<f64>) -> Result<(), TestCaseError> {
///     let report = prop_assert_hvp!(|_tape, v| v[0].softplus().sum(), &[x.clone()]);
///     assert_eq!(report.elements_checked, 2);
///     let e0 = [Tensor::from_slice(&[1.0, 0.0])];
///     prop_assert_hvp!(|_tape, v| v[0].tanh().sum(), &[x], &e0);
///     Ok(())
/// }
/// case(Tensor::from_slice(&[0.4, -1.3])).unwrap();
/// ```
#[macro_export]
macro_rules! prop_assert_hvp {
    ($f:expr, $inputs:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().hvp($f, $inputs))
    };
    ($f:expr, $inputs:expr, $direction:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().hvp_along($f, $inputs, $direction))
    };
}

/// Checks the symmetry of the tape's Hessian inside a `proptest!` body
/// ([`GradCheck::hessian_symmetry`] with the defaults), failing the case with the report.
///
/// ```
/// use proptest::test_runner::TestCaseError;
/// use wengert_check::prop_assert_hessian_symmetric;
/// use wengert_tape::Tensor;
///
/// fn case(w: Tensor<f64>, x: Tensor<f64>) -> Result<(), TestCaseError> {
///     let report = prop_assert_hessian_symmetric!(|_tape, v| v[1].matmul(v[0]).tanh().sum(), &[w, x]);
///     assert_eq!(report.elements_checked, 6 * 5 / 2);
///     Ok(())
/// }
/// case(Tensor::from_rows(&[[0.3, -0.2], [0.5, 0.1]]), Tensor::from_rows(&[[1.0, -2.0]])).unwrap();
/// ```
#[macro_export]
macro_rules! prop_assert_hessian_symmetric {
    ($f:expr, $inputs:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().hessian_symmetry($f, $inputs))
    };
}

/// Checks the tape's Jacobian of a function with any output shape inside a `proptest!`
/// body ([`GradCheck::jacobian`] with the defaults), failing the case with the report.
///
/// ```
/// use proptest::test_runner::TestCaseError;
/// use wengert_check::prop_assert_jacobian;
/// use wengert_tape::Tensor;
///
/// fn case(z: Tensor<f64>) -> Result<(), TestCaseError> {
///     let report = prop_assert_jacobian!(|_tape, v| v[0].sigmoid(), &[z]);
///     assert_eq!(report.elements_checked, 9); // [3] to [3]
///     Ok(())
/// }
/// case(Tensor::from_slice(&[0.1, -0.5, 2.0])).unwrap();
/// ```
#[macro_export]
macro_rules! prop_assert_jacobian {
    ($f:expr, $inputs:expr $(,)?) => {
        $crate::prop_assert_gradients!($crate::GradCheck::new().jacobian($f, $inputs))
    };
}

// The code of docs/gradient-checking.md runs as doctests, so it cannot drift from the API.
#[doc = include_str!("../../../docs/gradient-checking.md")]
#[cfg(doctest)]
pub struct GradientCheckingDoctests;
