//! The second-order and vector-output checks: on correct functions of every op family of
//! `tests/common` they pass (the tape's H v, its Hessian's symmetry, its Jacobian); on
//! deliberately wrong ones (hand-written H v with sigmoid'', tanh'', softplus'' or the
//! softmax cross-entropy Hessian slipped, an asymmetric hand-written Hessian, a custom op
//! whose vector-Jacobian rule is wrong, a hand-written Jacobian with a slip) they fail on
//! every case, at the elements the slip moves, with the true value on the numeric side,
//! and a failing case shrinks to a 1x1 input.

use crate::common;

use crate::common::{labels, map, sigmoid, softmax_rows, FAMILIES};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use wengert_check::strategy::{matrix, tensor, vector};
use wengert_check::{direction_for, Check, Failure, Finding, GradCheck, Report};
use wengert_tape::{CustomOp, Shape, Tensor};

/// Random cases per family and per mutant: each case sweeps a tape a few tens of times.
const CASES: u32 = 16;

/// Runs `check` on `CASES` draws of `inputs`; panics with the report of the smallest failure.
fn passes(
    name: &str,
    inputs: BoxedStrategy<Vec<Tensor<f64>>>,
    check: impl Fn(&[Tensor<f64>]) -> Result<Report, Failure>,
) {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    if let Err(error) = runner.run(&inputs, |x| {
        check(&x)?;
        Ok(())
    }) {
        panic!("{name}: a correct function failed: {error}");
    }
}

#[test]
fn tape_hvp_matches_differences_of_the_tape_gradient_for_every_family() {
    for family in FAMILIES {
        passes(family.name, (family.inputs)(), |x| GradCheck::new().hvp(family.on_tape, x));
    }
}

#[test]
fn tape_hessian_is_symmetric_for_every_family() {
    for family in FAMILIES {
        passes(family.name, (family.inputs)(), |x| GradCheck::new().hessian_symmetry(family.on_tape, x));
    }
}

#[test]
fn tape_jacobian_of_vector_outputs_matches_differences() {
    let one = || matrix(1..=3, 1..=3).prop_map(|x| vec![x]).boxed();
    passes("sigmoid", one(), |x| GradCheck::new().jacobian(|_t, v| v[0].sigmoid(), x));
    passes("tanh", one(), |x| GradCheck::new().jacobian(|_t, v| v[0].tanh(), x));
    passes("softplus", one(), |x| GradCheck::new().jacobian(|_t, v| v[0].softplus(), x));
    passes("softmax", one(), |x| GradCheck::new().jacobian(|_t, v| v[0].softmax(), x));
    let two = (1..=3usize, 1..=3usize, 1..=3usize)
        .prop_flat_map(|(m, k, n)| {
            (tensor(Shape::matrix(m, k)), tensor(Shape::matrix(k, n))).prop_map(|(a, b)| vec![a, b])
        })
        .boxed();
    passes("matmul", two.clone(), |x| GradCheck::new().jacobian(|_t, v| v[0].matmul(v[1]), x));
    passes("matmul then tanh", two, |x| GradCheck::new().jacobian(|_t, v| v[0].matmul(v[1]).tanh(), x));
}

#[test]
fn the_tape_target_checks_a_vector_output_through_its_jacobian() {
    let z = [Tensor::from_rows(&[[0.5, -1.0], [2.0, 0.25]])];
    let report = GradCheck::new().tape(|_t, v| v[0].softmax(), &z).expect("softmax's Jacobian is right");
    let Check::Jacobian { output, by_tape: true } = &report.check else { panic!("not a Jacobian check: {report}") };
    assert_eq!(output.shape(), Shape::matrix(2, 2));
    assert_eq!(report.elements_checked, 16);
    // Softmax by rows: an output in row 0 does not depend on row 1's logits, and back.
    let j = report.inputs[0].analytic.as_ref().expect("the tape's Jacobian");
    assert_eq!((j.data()[2], j.data()[3], j.data()[8], j.data()[9]), (0.0, 0.0, 0.0, 0.0));
    assert!(j.data()[0] > 0.0 && j.data()[1] < 0.0, "{report}");
}

#[test]
fn hvp_numeric_side_is_the_closed_form_sigmoid_second_derivative() {
    // sigmoid'' = s (1 - s)(1 - 2 s): the differences of the gradient along v give H v.
    let z = [Tensor::from_slice(&[0.7, -1.4, 2.2])];
    let v = [Tensor::from_slice(&[0.5, -1.0, 0.25])];
    let report = GradCheck::new().hvp_along(|_t, x| x[0].sigmoid().sum(), &z, &v).expect("passes");
    assert!(
        report.to_string().contains("central differences of the tape's own gradient (its sweep) along v"),
        "{report}"
    );
    for i in 0..3 {
        let s = sigmoid(z[0].data()[i]);
        let truth = s * (1.0 - s) * (1.0 - 2.0 * s) * v[0].data()[i];
        assert!((report.inputs[0].numeric.data()[i] - truth).abs() < 1e-9, "element {i}: {report}");
    }
}

#[test]
fn a_random_direction_is_reproducible_and_spans_the_unit_box() {
    let x = [Tensor::from_slice(&[0.5; 64])];
    let v = direction_for(&x);
    assert_eq!(v, direction_for(&x));
    assert!(v[0].data().iter().all(|d| (-1.0..=1.0).contains(d)));
    // Not a constant direction: the elements are spread over [-1, 1].
    assert!(v[0].data().iter().any(|&d| d > 0.5) && v[0].data().iter().any(|&d| d < -0.5));
    assert_ne!(v, direction_for(&[Tensor::from_slice(&[0.25; 64])]));
}

// ---------------------------------------------------------------------------------------
// Wrong second derivatives, hand-written: f = sum(act(z) * G) has H = diag(act''(z) G)
// in z (and act'(z) in the cross term with G).
// ---------------------------------------------------------------------------------------

/// f = sum(act(z) G), its gradient [act'(z) G, act(z)], and H v for v = [vz, vg]:
/// [act''(z) G vz + act'(z) vg, act'(z) vz], with `second` standing in for act''.
struct Elementwise {
    name: &'static str,
    first: fn(f64) -> f64,
    second: fn(f64) -> f64,
    wrong_second: fn(f64) -> f64,
    act: fn(f64) -> f64,
}

fn tanh_first(z: f64) -> f64 {
    1.0 - z.tanh().powi(2)
}

const ELEMENTWISE: &[Elementwise] = &[
    Elementwise {
        name: "sigmoid'' taken as s (1 - s)",
        act: sigmoid,
        first: |z| sigmoid(z) * (1.0 - sigmoid(z)),
        second: |z| {
            let s = sigmoid(z);
            s * (1.0 - s) * (1.0 - 2.0 * s)
        },
        wrong_second: |z| sigmoid(z) * (1.0 - sigmoid(z)),
    },
    Elementwise {
        name: "tanh'' with its sign flipped",
        act: f64::tanh,
        first: tanh_first,
        second: |z| -2.0 * z.tanh() * tanh_first(z),
        wrong_second: |z| 2.0 * z.tanh() * tanh_first(z),
    },
    Elementwise {
        name: "softplus'' taken as sigmoid",
        act: |z| z.max(0.0) + (-z.abs()).exp().ln_1p(),
        first: sigmoid,
        second: |z| sigmoid(z) * (1.0 - sigmoid(z)),
        wrong_second: sigmoid,
    },
];

fn elementwise_gradient(e: &Elementwise, x: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let (z, g) = (&x[0], &x[1]);
    let dz = Tensor::from_fn(z.shape(), |i| (e.first)(z.data()[i]) * g.data()[i]);
    vec![dz, map(z, e.act)]
}

fn elementwise_hvp(e: &Elementwise, second: fn(f64) -> f64, x: &[Tensor<f64>], v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let (z, g) = (&x[0], &x[1]);
    let hz = Tensor::from_fn(z.shape(), |i| {
        second(z.data()[i]) * g.data()[i] * v[0].data()[i] + (e.first)(z.data()[i]) * v[1].data()[i]
    });
    let hg = Tensor::from_fn(z.shape(), |i| (e.first)(z.data()[i]) * v[0].data()[i]);
    vec![hz, hg]
}

/// Inputs [z, G] and a direction; z kept where the slip shows (act'' not tiny).
fn z_upstream_direction() -> impl Strategy<Value = (Vec<Tensor<f64>>, Vec<Tensor<f64>>)> {
    (1..=3usize, 1..=3usize).prop_flat_map(|(r, c)| {
        let shape = Shape::matrix(r, c);
        let z = tensor(shape).values(-2.0..=2.0).away_from_zero(0.2);
        let g = tensor(shape).values(0.5..=2.0);
        let v = tensor(shape).values(0.5..=1.0);
        (z, g, v.clone(), v).prop_map(|(z, g, vz, vg)| (vec![z, g], vec![vz, vg]))
    })
}

#[test]
fn wrong_hand_written_second_derivatives_fail_with_the_true_hvp_on_the_numeric_side() {
    for e in ELEMENTWISE {
        let mut runner = TestRunner::new(Config::with_cases(CASES));
        let result = runner.run(&z_upstream_direction(), |(x, v)| {
            let gradient = |p: &[Tensor<f64>]| elementwise_gradient(e, p);
            let right = |p: &[Tensor<f64>], d: &[Tensor<f64>]| elementwise_hvp(e, e.second, p, d);
            let wrong = |p: &[Tensor<f64>], d: &[Tensor<f64>]| elementwise_hvp(e, e.wrong_second, p, d);
            GradCheck::new().hand_written_hvp(gradient, right, &x, &v)?;
            let failure = match GradCheck::new().hand_written_hvp(gradient, wrong, &x, &v) {
                Ok(report) => return Err(TestCaseError::fail(format!("{}: not caught\n{report}", e.name))),
                Err(failure) => failure,
            };
            let truth = right(&x, &v);
            let moved = wrong(&x, &v);
            let mut reported = 0;
            for finding in failure.report.failures() {
                let Finding::WrongGradient(element) = finding else {
                    return Err(TestCaseError::fail(format!("{}: reported as {finding:?}", e.name)));
                };
                prop_assert_eq!(element.input, 0, "the slip is in z's row of H only");
                prop_assert_eq!(element.analytic, moved[0].data()[element.index]);
                let t = truth[0].data()[element.index];
                prop_assert!(
                    (element.numeric - t).abs() <= 1e-7 * t.abs().max(1.0),
                    "numeric {} truth {t}",
                    element.numeric
                );
                reported += 1;
            }
            prop_assert!(reported >= 1);
            prop_assert!(failure
                .to_string()
                .contains("the hand-written H v against central differences of the hand-written gradient along v"));
            Ok(())
        });
        if let Err(error) = result {
            panic!("{}: {error}", e.name);
        }
    }
}

#[test]
fn a_wrong_softmax_cross_entropy_hessian_is_caught() {
    // The Hessian in the logits is (diag(p) - p p^T) / N per row; the slip drops p p^T.
    let hvp = |drop_outer: bool| {
        move |x: &[Tensor<f64>], v: &[Tensor<f64>]| {
            let (z, v) = (&x[0], &v[0]);
            let p = softmax_rows(z);
            let (rows, cols) = (z.shape().rows(), z.shape().cols());
            let mut out = Tensor::zeros(z.shape());
            for r in 0..rows {
                let row = |t: &Tensor<f64>, j: usize| t.data()[r * cols + j];
                let pv: f64 = (0..cols).map(|j| row(&p, j) * row(v, j)).sum();
                for j in 0..cols {
                    let outer = if drop_outer { 0.0 } else { row(&p, j) * pv };
                    out.data_mut()[r * cols + j] = (row(&p, j) * row(v, j) - outer) / rows as f64;
                }
            }
            vec![out]
        }
    };
    let gradient = |x: &[Tensor<f64>]| {
        let p = softmax_rows(&x[0]);
        let (rows, cols) = (x[0].shape().rows(), x[0].shape().cols());
        let y = labels(&x[0]);
        vec![Tensor::from_fn(x[0].shape(), |i| {
            (p.data()[i] - f64::from(u8::from(i % cols == y[i / cols]))) / rows as f64
        })]
    };
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let result = runner.run(&matrix(1..=3, 2..=4), |z| {
        let x = [z];
        let v = direction_for(&x);
        // The tape's own H v agrees with the closed form.
        let on_tape =
            GradCheck::new().hvp_along(|_t, s| s[0].softmax_cross_entropy(&labels(&s[0].to_tensor())), &x, &v)?;
        let closed = hvp(false)(&x, &v);
        let tape_hv = on_tape.inputs[0].analytic.as_ref().expect("H v");
        prop_assert!(tape_hv.data().iter().zip(closed[0].data()).all(|(a, b)| (a - b).abs() < 1e-12));
        GradCheck::new().hand_written_hvp(gradient, hvp(false), &x, &v)?;
        // (p . v) is rarely tiny for a random v; where it is, the slip moves nothing.
        let p = softmax_rows(&x[0]);
        let moves = hvp(true)(&x, &v)[0].data().iter().zip(closed[0].data()).any(|(a, b)| (a - b).abs() > 1e-6);
        let caught = GradCheck::new().hand_written_hvp(gradient, hvp(true), &x, &v).is_err();
        prop_assert_eq!(caught, moves, "p = {:?}", p);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn a_failing_hvp_case_shrinks_to_one_by_one_and_prints_the_report() {
    let e = &ELEMENTWISE[0];
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let result = runner.run(&matrix(1..=4, 1..=4).away_from_zero(0.2), |z| {
        let (g, v) = (Tensor::full(z.shape(), 1.5), Tensor::full(z.shape(), 0.75));
        let gradient = |p: &[Tensor<f64>]| elementwise_gradient(e, p);
        let wrong = |p: &[Tensor<f64>], d: &[Tensor<f64>]| elementwise_hvp(e, e.wrong_second, p, d);
        wengert_check::prop_assert_gradients!(GradCheck::new().hand_written_hvp(
            gradient,
            wrong,
            &[z, g],
            &[v.clone(), v]
        ));
        Ok(())
    });
    match result {
        Err(TestError::Fail(message, z)) => {
            assert_eq!(z.shape().numel(), 1, "not shrunk: {z:?}");
            let message = message.to_string();
            assert!(message.starts_with("Hessian-vector product check FAILED"), "{message}");
            assert!(
                message.contains("WRONG HESSIAN-VECTOR PRODUCT at input 0 [1 x 1], element 0 (row 0, col 0)"),
                "{message}"
            );
            assert!(message.contains("along v"), "{message}");
        }
        other => panic!("the wrong sigmoid'' was not caught: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Asymmetric Hessians
// ---------------------------------------------------------------------------------------

/// The Hessian of f(x) = sum_i x_i^2 x_{i+1}: H[i, i] = 2 x_{i+1}, H[i, i+1] = H[i+1, i] =
/// 2 x_i; the slip drops the 2 below the diagonal.
fn chain_hessian(x: &[Tensor<f64>], slip: bool) -> Tensor<f64> {
    let x = x[0].data();
    let n = x.len();
    let mut h = Tensor::zeros(Shape::matrix(n, n));
    for i in 0..n - 1 {
        h.data_mut()[i * n + i] = 2.0 * x[i + 1];
        h.data_mut()[i * n + i + 1] = 2.0 * x[i];
        h.data_mut()[(i + 1) * n + i] = if slip { x[i] } else { 2.0 * x[i] };
    }
    h
}

#[test]
fn the_tape_hessian_of_the_chain_is_the_closed_form_and_symmetric() {
    let x = [Tensor::from_slice(&[0.5, -1.5, 2.0, 0.25])];
    let report = GradCheck::new()
        .hessian_symmetry(
            |_t, v| (0..3).map(|i| v[0].element(i).powi(2) * v[0].element(i + 1)).reduce(|a, b| a + b).expect("terms"),
            &x,
        )
        .expect("symmetric");
    assert_eq!(report.elements_checked, 6);
    let closed = chain_hessian(&x, false);
    let rows = report.inputs[0].analytic.as_ref().expect("H");
    assert_eq!(rows.data(), closed.data());
}

#[test]
fn an_asymmetric_hand_written_hessian_fails_naming_the_worst_pair() {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let result = runner.run(&vector(2..=6).values(-2.0..=2.0).away_from_zero(0.1), |x| {
        let x = [x];
        GradCheck::new().hand_written_hessian_symmetry(|v| chain_hessian(v, false), &x)?;
        let failure = match GradCheck::new().hand_written_hessian_symmetry(|v| chain_hessian(v, true), &x) {
            Ok(report) => return Err(TestCaseError::fail(format!("not caught\n{report}"))),
            Err(failure) => failure,
        };
        let report = &failure.report;
        let values = x[0].data();
        // Every pair (i, i + 1) differs by |x_i|; the worst is the largest |x_i|, i < n - 1.
        prop_assert_eq!(report.failures().count(), values.len() - 1);
        let worst = report.worst.expect("a worst pair");
        let largest = (0..values.len() - 1).map(|i| values[i].abs()).fold(0.0, f64::max);
        prop_assert_eq!(worst.col, worst.row + 1);
        prop_assert_eq!(worst.abs_error, largest);
        prop_assert_eq!((worst.analytic, worst.numeric), (2.0 * values[worst.row], values[worst.row]));
        let text = failure.to_string();
        prop_assert!(text.starts_with("Hessian symmetry check FAILED"), "{}", text);
        let pair = format!("NOT SYMMETRIC at H[{}, {}]", worst.row, worst.col);
        prop_assert!(text.contains(&pair), "{}", text);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn a_hessian_of_the_wrong_shape_is_reported_not_panicked() {
    let x = [Tensor::from_slice(&[1.0, 2.0]), Tensor::scalar(3.0)];
    let failure =
        GradCheck::new().hand_written_hessian_symmetry(|_| Tensor::zeros(Shape::matrix(2, 2)), &x).unwrap_err();
    assert!(
        matches!(failure.report.findings[0], Finding::WrongShape { expected, .. } if expected == Shape::matrix(3, 3))
    );
    assert!(failure.to_string().contains("WRONG SHAPE: the Hessian is [2 x 2], not [3 x 3]"), "{failure}");
}

// ---------------------------------------------------------------------------------------
// Wrong Jacobians: a custom op's rule, and hand-written ones
// ---------------------------------------------------------------------------------------

/// `x^3` elementwise, with its vector-Jacobian rule right (3 x^2) or wrong (3 x).
#[derive(Clone)]
struct Cube {
    wrong: bool,
}

impl CustomOp<f64> for Cube {
    fn name(&self) -> &'static str {
        "cube"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for (y, &x) in output.iter_mut().zip(inputs[0]) {
            *y = x * x * x;
        }
    }
    fn vjp(&self, _k: usize, inputs: &[&[f64]], _y: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for ((a, &g), &x) in adjoint.iter_mut().zip(upstream).zip(inputs[0]) {
            *a += g * if self.wrong { 3.0 * x } else { 3.0 * x * x };
        }
    }
}

#[test]
fn a_custom_op_with_a_wrong_rule_fails_its_jacobian_on_the_diagonal_only() {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let strategy = matrix(1..=3, 1..=3).values(-2.0..=2.0).away_from_zero(0.1).avoid(1.0, 0.1);
    let result = runner.run(&strategy, |x| {
        let x = [x];
        GradCheck::new().jacobian(|t, v| t.custom(Cube { wrong: false }, v), &x)?;
        let failure = match GradCheck::new().jacobian(|t, v| t.custom(Cube { wrong: true }, v), &x) {
            Ok(report) => return Err(TestCaseError::fail(format!("not caught\n{report}"))),
            Err(failure) => failure,
        };
        let n = x[0].shape().numel();
        prop_assert_eq!(failure.report.failures().count(), n, "one wrong entry per output element");
        for finding in failure.report.failures() {
            let Finding::WrongGradient(e) = finding else { return Err(TestCaseError::fail(format!("{finding:?}"))) };
            let xi = x[0].data()[e.row];
            prop_assert_eq!(e.row, e.col, "off the diagonal the Jacobian is 0 and right");
            prop_assert_eq!(e.analytic, 3.0 * xi);
            prop_assert!((e.numeric - 3.0 * xi * xi).abs() < 1e-7 * (3.0 * xi * xi).max(1.0));
        }
        let text = failure.to_string();
        prop_assert!(text.contains("the tape's Jacobian (one reverse sweep per output element)"), "{}", text);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn a_hand_written_matmul_jacobian_with_w_untransposed_names_output_and_input_elements() {
    // Y = X W: dY[i, j] / dX[i, k] = W[k, j]. The slip reads W[j, k].
    let x = [Tensor::from_rows(&[[0.5, -1.0]]), Tensor::from_rows(&[[0.3, -0.2], [0.7, 0.1]])];
    let f = |v: &[Tensor<f64>]| common::matmul(&v[0], &v[1]);
    let jacobian = |slip: bool| {
        move |v: &[Tensor<f64>]| {
            let (a, w) = (&v[0], &v[1]);
            let dx = Tensor::from_fn(Shape::matrix(2, 2), |e| {
                let (j, k) = (e / 2, e % 2);
                if slip {
                    w.data()[j * 2 + k]
                } else {
                    w.data()[k * 2 + j]
                }
            });
            // dY[0, j] / dW[k, l] = X[0, k] if l == j.
            let dw = Tensor::from_fn(Shape::matrix(2, 4), |e| {
                let (j, kl) = (e / 4, e % 4);
                if kl % 2 == j {
                    a.data()[kl / 2]
                } else {
                    0.0
                }
            });
            vec![dx, dw]
        }
    };
    let report = GradCheck::new().names(&["X", "W"]).hand_written_jacobian(f, jacobian(false), &x).expect("right");
    assert_eq!(report.elements_checked, 4 + 8);
    let failure = GradCheck::new().names(&["X", "W"]).hand_written_jacobian(f, jacobian(true), &x).unwrap_err();
    let text = failure.to_string();
    // W[0, 1] = -0.2 and W[1, 0] = 0.7 swap places: entries (output 0, X element 1) and (1, 0).
    assert!(text.contains("WRONG JACOBIAN ENTRY at output element 0 (row 0, col 0) of [1 x 2], input 0 (X) [1 x 2], element 1 (row 0, col 1)"), "{text}");
    assert!(text.contains("analytic -0.2, numeric 0.7"), "{text}");
    assert!(text.contains("WRONG JACOBIAN ENTRY at output element 1 (row 0, col 1) of [1 x 2], input 0 (X) [1 x 2], element 0 (row 0, col 0)"), "{text}");
    assert_eq!(failure.report.failures().count(), 2);
}

#[test]
fn a_hand_written_sigmoid_jacobian_of_the_wrong_shape_or_value_is_reported() {
    let z = [Tensor::from_slice(&[0.3, -0.8])];
    let f = |v: &[Tensor<f64>]| map(&v[0], sigmoid);
    let flat = |_: &[Tensor<f64>]| vec![Tensor::from_slice(&[0.1, 0.2])];
    let failure = GradCheck::new().hand_written_jacobian(f, flat, &z).unwrap_err();
    assert!(
        failure.to_string().contains("WRONG SHAPE: the Jacobian block of input 0 is [2], not [2 x 2]"),
        "{failure}"
    );
    // sigmoid' taken as s: the diagonal is wrong, the zeros off it are right.
    let s_not_ds = |v: &[Tensor<f64>]| {
        let s = map(&v[0], sigmoid);
        vec![Tensor::from_rows(&[[s.data()[0], 0.0], [0.0, s.data()[1]]])]
    };
    let failure = GradCheck::new().hand_written_jacobian(f, s_not_ds, &z).unwrap_err();
    let rows_cols: Vec<(usize, usize)> =
        failure.report.failures().filter_map(|f| f.element()).map(|e| (e.row, e.col)).collect();
    assert_eq!(rows_cols, vec![(0, 0), (1, 1)]);
}
