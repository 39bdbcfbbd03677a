//! The toolkit catches wrong backward rules: every mutant of `tests/common` (one classic slip
//! in one hand-written rule, for every op family: the product and quotient rules, sigmoid,
//! tanh, relu, softplus (F2-F5), softmax (F6), matmul and add_bias (F15), softmax
//! cross-entropy (F11), mse (F14), sum and mean (F16)) fails the check on every random case,
//! as a wrong gradient, at every element it changes, and the report's numbers are the
//! mutant's value and the true derivative. A failing case shrinks to a 1x1 input.

use crate::common::{family, Mutant, FAMILIES, MUTANTS};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};
use wengert_check::{Failure, Finding, GradCheck};
use wengert_tape::Tensor;

/// Random cases per mutant.
const CASES: u32 = 1000;

/// The mutant fails the check at `x`; every failing finding is a wrong gradient (or a wrong
/// shape) whose analytic value is the mutant's and whose numeric value is the true
/// derivative; and every element the mutant moves by more than twice the tolerance is found.
fn caught(mutant: &Mutant, x: &[Tensor<f64>]) -> Result<Failure, TestCaseError> {
    let family = family(mutant.family);
    let wrong = (mutant.gradient)(x);
    let right = (family.gradient)(x);
    let failure = match GradCheck::new().hand_written(family.loss, mutant.gradient, x) {
        Ok(report) => return Err(TestCaseError::fail(format!("not caught at {x:?}:\n{report}"))),
        Err(failure) => failure,
    };
    let report = &failure.report;
    for finding in report.failures() {
        match finding {
            Finding::WrongGradient(e) => {
                prop_assert_eq!(e.analytic, wrong[e.input].data()[e.index]);
                let truth = right[e.input].data()[e.index];
                prop_assert!(
                    (e.numeric - truth).abs() <= 1e-7 * truth.abs().max(1.0),
                    "numeric {} is not the true derivative {truth}",
                    e.numeric
                );
            }
            Finding::WrongShape { input, found, .. } => prop_assert_eq!(*found, wrong[*input].shape()),
            other => return Err(TestCaseError::fail(format!("reported as {other:?}, not as a wrong gradient"))),
        }
    }
    for (input, (w, r)) in wrong.iter().zip(&right).enumerate() {
        if w.shape() != r.shape() {
            continue;
        }
        for (index, (&a, &t)) in w.data().iter().zip(r.data()).enumerate() {
            let allowed =
                report.tolerance.abs * report.value.abs().max(1.0) + report.tolerance.rel * a.abs().max(t.abs());
            let found =
                report.findings.iter().any(|f| f.element().is_some_and(|e| e.input == input && e.index == index));
            prop_assert!(
                (a - t).abs() <= 2.0 * allowed || found,
                "input {input} element {index}: mutant {a}, truth {t}, not reported\n{report}"
            );
        }
    }
    Ok(failure)
}

#[test]
fn every_mutant_is_caught_on_every_case() {
    let mut missed = Vec::new();
    for mutant in MUTANTS {
        let mut runner = TestRunner::new(Config::with_cases(CASES));
        let cases = AtomicUsize::new(0);
        let result = runner.run(&(mutant.inputs)(), |x| {
            cases.fetch_add(1, Ordering::Relaxed);
            caught(mutant, &x).map(|_| ())
        });
        match result {
            Ok(()) => {
                let cases = cases.load(Ordering::Relaxed);
                assert_eq!(cases, CASES as usize, "{}: not every case ran", mutant.slip);
                println!("caught in {cases} of {cases} cases: {}: {}", mutant.family, mutant.slip);
            }
            Err(error) => missed.push(format!("{}: {}: {error}", mutant.family, mutant.slip)),
        }
    }
    assert!(missed.is_empty(), "mutants not caught:\n{}", missed.join("\n"));
}

#[test]
fn every_op_family_has_mutants() {
    for family in FAMILIES {
        assert!(MUTANTS.iter().any(|m| m.family == family.name), "no mutant for {}", family.name);
    }
    assert_eq!(MUTANTS.len(), 20);
}

#[test]
fn transposed_weight_gradient_of_a_non_square_matmul_is_a_wrong_shape() {
    let x = vec![
        Tensor::from_rows(&[[0.5, -1.0]]),
        Tensor::from_rows(&[[0.3, 0.1, -0.4], [-0.2, 0.7, 0.9]]),
        Tensor::from_rows(&[[1.0, -0.5, 0.25]]),
    ];
    let mutant = MUTANTS.iter().find(|m| m.slip.starts_with("dB = G^T A")).unwrap();
    let failure = caught(mutant, &x).unwrap();
    assert!(failure.report.findings.iter().any(|f| matches!(f, Finding::WrongShape { input: 1, .. })));
    assert!(failure.to_string().contains("the gradient of input 1 is [3 x 2], the input is [2 x 3]"), "{failure}");
}

#[test]
fn proptest_shrinks_a_caught_mutant_to_a_1x1_input() {
    let mutant = MUTANTS.iter().find(|m| m.slip.starts_with("sigmoid' taken as s instead")).unwrap();
    let loss = family("sigmoid").loss;
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let result = runner.run(&(mutant.inputs)(), |x| {
        GradCheck::new().hand_written(loss, mutant.gradient, &x)?;
        Ok(())
    });
    let Err(TestError::Fail(reason, smallest)) = result else { panic!("the mutant passed: {result:?}") };
    // Every input fails, so the smallest is one element: z shrinks towards 0 and the upstream
    // G towards its smallest allowed size, 0.1; the report is the one for that input.
    assert_eq!(smallest[0].shape().numel(), 1, "{smallest:?}");
    let (z, g) = (smallest[0].data()[0], smallest[1].data()[0]);
    assert!(z.abs() < 1e-3 && (g.abs() - 0.1).abs() < 1e-3, "{smallest:?}");
    let message = reason.to_string();
    assert!(message.contains("WRONG GRADIENT at input 0 [1 x 1], element 0 (row 0, col 0)"), "{message}");
    // At z near 0 the mutant gives G s = G/2, the truth G s (1 - s) = G/4.
    let report = GradCheck::new().hand_written(loss, mutant.gradient, &smallest).unwrap_err().report;
    let e = report.failures().next().and_then(|f| f.element().copied()).unwrap();
    assert!((e.analytic - g / 2.0).abs() < 1e-3 && (e.numeric - g / 4.0).abs() < 1e-3, "{report}");
}
