//! The report reads well and says everything: which input (by name), which element (index,
//! row and column), the analytic and numeric values, absolute and relative error, the
//! tolerance used; wrong shapes, wrong counts and non-finite values are reported as such;
//! the macro and `?` fail a proptest case with the report.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use wengert_check::strategy::matrix;
use wengert_check::{prop_assert_gradients, Finding, GradCheck};
use wengert_tape::{Shape, Tensor};

/// L = sum(W (.) W) / 2 + sum(b): dW = W, db = 1.
fn loss(v: &[Tensor<f64>]) -> f64 {
    v[0].data().iter().map(|w| w * w / 2.0).sum::<f64>() + v[1].data().iter().sum::<f64>()
}

fn inputs() -> [Tensor<f64>; 2] {
    [Tensor::from_rows(&[[0.5, -1.0, 2.0], [0.25, 3.0, -0.75]]), Tensor::from_slice(&[1.0, 2.0])]
}

#[test]
fn report_names_input_element_row_col_values_errors_and_tolerance() {
    // One slip: dW at row 1, col 1 is 2 W there (6) instead of W (3).
    let gradient = |v: &[Tensor<f64>]| {
        let mut dw = v[0].clone();
        dw[(1, 1)] *= 2.0;
        vec![dw, Tensor::full(v[1].shape(), 1.0)]
    };
    let failure = GradCheck::new().names(&["W", "b"]).hand_written(loss, gradient, &inputs()).unwrap_err();
    let report = &failure.report;
    assert_eq!(report.failures().count(), 1);
    let Finding::WrongGradient(e) = &report.findings[0] else { panic!("{failure}") };
    assert_eq!((e.input, e.index, e.row, e.col), (0, 4, 1, 1));
    assert_eq!(e.analytic, 6.0);
    assert!((e.numeric - 3.0).abs() < 1e-9);
    assert!((e.abs_error - 3.0).abs() < 1e-9 && (e.rel_error - 0.5).abs() < 1e-9);
    // allowed = abs max(1, |f|) + rel max(|a|, |n|), f = 14.875 / 2 + 3 = 10.4375.
    assert!((report.value - 10.4375).abs() < 1e-12);
    assert!((e.allowed - (1e-8 * 10.4375 + 1e-7 * 6.0)).abs() < 1e-15);

    let text = failure.to_string();
    for expected in [
        "gradient check FAILED: 1 finding(s), 1 of 8 elements disagree",
        "f(x) = 10.4375; central differences in f64 against the f64 gradient",
        "tolerance: |analytic - numeric| <= 1e-8 max(1, |f(x)|) + 1e-7 max(|analytic|, |numeric|)",
        "WRONG GRADIENT at input 0 (W) [2 x 3], element 4 (row 1, col 1):",
        "analytic 6, numeric 3, abs error 3.00e0, rel error 5.00e-1, allowed 7.04e-7",
        "input 0 (W) [2 x 3]:\n  analytic [0.5, -1, 2, 0.25, 6, -0.75]\n  numeric  [0.5, -1, 2, 0.25, 3, -0.75]",
        "input 1 (b) [2]: agrees",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn passing_report_says_so_and_gives_the_largest_errors() {
    let right = |v: &[Tensor<f64>]| vec![v[0].clone(), Tensor::full(v[1].shape(), 1.0)];
    let report = GradCheck::new().hand_written(loss, right, &inputs()).unwrap();
    assert!(report.passed() && report.findings.is_empty());
    assert!(report.max_abs_error < 1e-9 && report.max_rel_error < 1e-9);
    let text = report.to_string();
    assert!(text.starts_with("gradient check passed: 8 elements agree\n"), "{text}");
    assert!(text.contains("largest errors: abs "), "{text}");
}

#[test]
fn a_gradient_of_the_wrong_shape_is_reported_with_both_shapes() {
    let transposed = |v: &[Tensor<f64>]| {
        let w = &v[0];
        let t = Tensor::from_fn(Shape::matrix(3, 2), |i| w[(i % 2, i / 2)]);
        vec![t, Tensor::full(v[1].shape(), 1.0)]
    };
    let failure = GradCheck::new().hand_written(loss, transposed, &inputs()).unwrap_err();
    assert_eq!(
        failure.report.findings,
        vec![Finding::WrongShape { input: 0, expected: Shape::matrix(2, 3), found: Shape::matrix(3, 2) }]
    );
    assert!(failure.to_string().contains("the gradient of input 0 is [3 x 2], the input is [2 x 3]"), "{failure}");
}

#[test]
fn a_vector_gradient_for_a_row_input_is_accepted() {
    let x = [Tensor::from_rows(&[[1.0, 2.0]])];
    let f = |v: &[Tensor<f64>]| v[0].data().iter().sum::<f64>();
    assert!(GradCheck::new().hand_written(f, |_| vec![Tensor::from_slice(&[1.0, 1.0])], &x).is_ok());
}

#[test]
fn a_missing_gradient_is_a_wrong_count() {
    let failure = GradCheck::new().hand_written(loss, |v| vec![v[0].clone()], &inputs()).unwrap_err();
    assert!(failure.report.findings.contains(&Finding::WrongCount { expected: 2, found: 1 }));
    let text = failure.to_string();
    assert!(text.contains("WRONG COUNT: 1 gradients for 2 inputs") && text.contains("analytic (none)"), "{text}");
}

#[test]
fn non_finite_values_are_reported_not_compared() {
    // ln outside its domain: f(x) is NaN.
    let ln = |v: &[Tensor<f64>]| v[0].data()[0].ln();
    let failure =
        GradCheck::new().hand_written(ln, |_| vec![Tensor::scalar(-1.0)], &[Tensor::scalar(-1.0)]).unwrap_err();
    assert!(matches!(failure.report.findings[..], [Finding::ValueNotFinite { .. }]), "{failure}");
    let text = failure.to_string();
    assert!(text.contains("f(x) is NaN: nothing to compare") && !text.contains("agrees"), "{text}");
    // A NaN in the gradient under test.
    let square = |v: &[Tensor<f64>]| v[0].data()[0].powi(2);
    let failure =
        GradCheck::new().hand_written(square, |_| vec![Tensor::scalar(f64::NAN)], &[Tensor::scalar(1.0)]).unwrap_err();
    assert!(matches!(failure.report.findings[..], [Finding::NotFinite(_)]), "{failure}");
    assert!(
        failure.to_string().contains("NOT FINITE at input 0 [], element 0 (row 0, col 0): analytic NaN"),
        "{failure}"
    );
}

#[test]
fn long_reports_list_the_first_findings_and_count_the_rest() {
    let x = [Tensor::from_fn(Shape::matrix(5, 6), |i| i as f64 / 10.0)];
    let f = |v: &[Tensor<f64>]| v[0].data().iter().map(|x| x * x).sum::<f64>();
    let failure = GradCheck::new().hand_written(f, |v| vec![v[0].clone()], &x).unwrap_err();
    // Element 0 (x = 0) agrees; the other 29 do not.
    assert_eq!(failure.report.failures().count(), 29);
    let text = failure.to_string();
    assert!(text.contains("... and 21 more finding(s)"), "{text}");
    assert!(text.contains("input 0 [5 x 6]: 30 elements, too many to print"), "{text}");
}

/// The macro and `?` both fail a proptest case with the report, and proptest shrinks it.
#[test]
fn macro_and_question_mark_fail_a_proptest_case_with_the_report() {
    let cube = |v: &[Tensor<f64>]| v[0].data().iter().map(|x| x.powi(3)).sum::<f64>();
    let two_x_squared = |v: &[Tensor<f64>]| vec![Tensor::from_fn(v[0].shape(), |i| 2.0 * v[0].data()[i].powi(2))];
    let strategy = matrix(1..=3, 1..=3).away_from_zero(0.5);
    let mut runner = TestRunner::new(Config::with_cases(20));
    let by_macro = runner.run(&strategy, |x| {
        prop_assert_gradients!(cube, two_x_squared, &[x]);
        Ok(())
    });
    let mut runner = TestRunner::new(Config::with_cases(20));
    let by_question_mark = runner.run(&strategy, |x| {
        GradCheck::new().hand_written(cube, two_x_squared, &[x])?;
        Ok(())
    });
    for result in [by_macro, by_question_mark] {
        let Err(TestError::Fail(reason, smallest)) = result else { panic!("not failed: {result:?}") };
        assert_eq!(smallest.shape(), Shape::matrix(1, 1));
        // Shrunk to x = 0.5 or -0.5: analytic 2 x^2 = 0.5, numeric 3 x^2 = 0.75.
        assert_eq!(smallest.data()[0].abs(), 0.5);
        assert!(reason.to_string().contains("analytic 0.5, numeric 0.75"), "{reason}");
    }
    // The two-argument form checks a tape function.
    let mut runner = TestRunner::new(Config::with_cases(20));
    let on_tape = runner.run(&strategy, |x| {
        let report = prop_assert_gradients!(|_tape, v| v[0].powi(3).sum(), &[x]);
        prop_assert!(report.passed());
        Ok(())
    });
    assert!(on_tape.is_ok(), "{on_tape:?}");
}
