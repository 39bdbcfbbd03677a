//! The tape's gradients equal the closed forms of the notes, each written out independently
//! here with plain f64 arithmetic: F1 (elementwise rule, diagonal Jacobian), F2 sigmoid,
//! F3 tanh, F4 softplus, F5 relu (0 at 0), F6 softmax Jacobian, F7/F8 cross-entropy,
//! F9/F10 binary cross-entropy, F11 fused softmax cross-entropy, F12-F14 the three MSE forms,
//! F15 the linear map, F16 sum and mean (the 1/N of a mean applied once); G2 (the central
//! difference is O(h^2)); and the stable forms, exact at +/-1000 in f64 and f32.

use proptest::collection::vec;
use proptest::prelude::*;
use wengert_tape::{Real, Shape, Tape, Tensor};

/// Cases per property: every case records one or a few small tapes, so the file runs in a
/// few seconds at opt-level 1.
const CASES: u32 = 4096;

// ---------------------------------------------------------------------------------------
// Independent formulas and comparisons
// ---------------------------------------------------------------------------------------

/// `1 / (1 + e^-z)`, written as the definition (F2), not as the engine's stable form.
fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `(e^{2z} - 1) / (e^{2z} + 1)`: tanh from its definition (F3), without `f64::tanh`.
fn tanh_by_definition(z: f64) -> f64 {
    let e = (2.0 * z).exp();
    (e - 1.0) / (e + 1.0)
}

/// Softmax of one row by plain loops, with the row maximum subtracted.
fn softmax_row(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = z.iter().map(|&zi| (zi - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// True if `|got - want| <= abs + rel max(|got|, |want|)`.
fn close(got: f64, want: f64, abs: f64, rel: f64) -> bool {
    (got - want).abs() <= abs + rel * got.abs().max(want.abs())
}

/// The first index where two slices are not `close`, with both values.
fn first_mismatch(got: &[f64], want: &[f64], abs: f64, rel: f64) -> Option<(usize, f64, f64)> {
    assert_eq!(got.len(), want.len(), "first_mismatch: lengths differ");
    got.iter().zip(want).enumerate().find(|&(_, (&g, &w))| !close(g, w, abs, rel)).map(|(i, (&g, &w))| (i, g, w))
}

/// Fails the case unless every element of `got` is close to `want`, printing both and `inputs`.
macro_rules! prop_assert_all_close {
    ($got:expr, $want:expr, $abs:expr, $rel:expr, $($inputs:tt)+) => {{
        let (got, want): (&[f64], &[f64]) = (&$got, &$want);
        let mismatch = first_mismatch(got, want, $abs, $rel);
        prop_assert!(
            mismatch.is_none(),
            "element {:?} (index, tape, closed form) differs\ntape:        {:?}\nclosed form: {:?}\ninputs: {}",
            mismatch,
            got,
            want,
            format!($($inputs)+)
        );
    }};
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// A matrix `[r x c]` (r in 1..=max_rows, c in 1..=max_cols) with elements from `element`.
fn matrix(
    max_rows: usize,
    max_cols: usize,
    element: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = Tensor<f64>> {
    (1..=max_rows, 1..=max_cols).prop_flat_map(move |(r, c)| {
        vec(element.clone(), r * c).prop_map(move |data| Tensor::new(Shape::matrix(r, c), data))
    })
}

/// A matrix and a second matrix of the same shape.
fn matrix_pair(
    max_rows: usize,
    max_cols: usize,
    a: impl Strategy<Value = f64> + Clone,
    b: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (1..=max_rows, 1..=max_cols).prop_flat_map(move |(r, c)| {
        let shape = Shape::matrix(r, c);
        (vec(a.clone(), r * c), vec(b.clone(), r * c))
            .prop_map(move |(x, y)| (Tensor::new(shape, x), Tensor::new(shape, y)))
    })
}

/// A value in `[-scale, scale]`, exactly 0 about one time in six.
fn with_zeros(scale: f64) -> impl Strategy<Value = f64> + Clone {
    prop_oneof![1 => Just(0.0), 1 => Just(-0.0), 10 => -scale..scale]
}

/// Soft targets in `[0, 1]`, the ends drawn often.
fn unit_interval() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![1 => Just(0.0), 1 => Just(1.0), 3 => 0.0..=1.0]
}

/// Logits `[N x C]` (C >= 2) and one class label per row.
fn labelled_logits(scale: f64) -> impl Strategy<Value = (Tensor<f64>, Vec<usize>)> {
    (1..=5usize, 2..=6usize).prop_flat_map(move |(n, c)| {
        (vec(-scale..scale, n * c), vec(0..c, n))
            .prop_map(move |(z, labels)| (Tensor::new(Shape::matrix(n, c), z), labels))
    })
}

/// One-hot rows `[N x C]` for `labels`.
fn one_hot(labels: &[usize], classes: usize) -> Tensor<f64> {
    Tensor::from_fn(
        Shape::matrix(labels.len(), classes),
        |i| if i % classes == labels[i / classes] { 1.0 } else { 0.0 },
    )
}

/// The elementwise activations of F1-F5.
#[derive(Clone, Copy, Debug)]
enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Softplus,
}

impl Activation {
    fn apply<'t>(self, z: wengert_tape::Var<'t, f64>) -> wengert_tape::Var<'t, f64> {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.relu(),
            Activation::Softplus => z.softplus(),
        }
    }

    /// f'(z) by the closed forms F2-F5.
    fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Sigmoid => logistic(z) * (1.0 - logistic(z)),
            Activation::Tanh => 1.0 - tanh_by_definition(z).powi(2),
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Softplus => logistic(z),
        }
    }
}

fn any_activation() -> impl Strategy<Value = Activation> {
    prop::sample::select(vec![Activation::Sigmoid, Activation::Tanh, Activation::Relu, Activation::Softplus])
}

// ---------------------------------------------------------------------------------------
// F1-F5: elementwise activations
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F1: the gradient of `sum(g (.) f(z))` is `g (.) f'(z)` for a random upstream g.
    #[test]
    fn weighted_activation_gradient_is_upstream_times_derivative(
        act in any_activation(),
        (z, g) in matrix_pair(4, 5, with_zeros(12.0), -3.0..3.0),
    ) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let loss = (act.apply(zv) * tape.constant(&g)).sum();
        let grads = tape.backward(loss);
        let want: Vec<f64> = z.data().iter().zip(g.data()).map(|(&zi, &gi)| gi * act.derivative(zi)).collect();
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-15, 1e-12, "{act:?} z = {z:?}, g = {g:?}");
    }

    /// F1: the Jacobian of an elementwise activation, built from reverse sweeps, is
    /// `diag(f'(z))`: off the diagonal exactly 0.
    #[test]
    fn activation_jacobian_is_diagonal(act in any_activation(), z in vec(with_zeros(12.0), 1..=6)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&Tensor::from_slice(&z));
        let jacobian = tape.jacobian(act.apply(zv), zv);
        let n = z.len();
        prop_assert_eq!(jacobian.shape(), Shape::matrix(n, n));
        for i in 0..n {
            for j in 0..n {
                let (got, want) = (jacobian[(i, j)], if i == j { act.derivative(z[i]) } else { 0.0 });
                if i == j {
                    prop_assert!(close(got, want, 1e-15, 1e-12), "{act:?} J[{i}][{i}] = {got}, f'(z) = {want}, z = {z:?}");
                } else {
                    prop_assert!(got == 0.0, "{act:?} J[{i}][{j}] = {got}, not 0 off the diagonal, z = {z:?}");
                }
            }
        }
    }

    /// F2: the gradient of `sum(sigmoid(z))` is `s (1 - s)` elementwise.
    #[test]
    fn summed_sigmoid_gradient_is_s_times_one_minus_s(z in matrix(4, 5, -20.0..20.0)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let grads = tape.backward(zv.sigmoid().sum());
        let want: Vec<f64> = z.data().iter().map(|&zi| logistic(zi) * (1.0 - logistic(zi))).collect();
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-17, 1e-12, "z = {z:?}");
        prop_assert!(grads.wrt_slice(zv).iter().all(|&d| d <= 0.25), "sigmoid' above 1/4: {:?}", grads.wrt_slice(zv));
    }

    /// F3: the gradient of `sum(tanh(z))` is `1 - t^2`.
    #[test]
    fn summed_tanh_gradient_is_one_minus_t_squared(z in matrix(4, 5, -15.0..15.0)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let grads = tape.backward(zv.tanh().sum());
        let want: Vec<f64> = z.data().iter().map(|&zi| 1.0 - tanh_by_definition(zi).powi(2)).collect();
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-14, 1e-12, "z = {z:?}");
    }

    /// F3: `tanh(z) = 2 sigmoid(2z) - 1` to about 1e-15, in value and in gradient
    /// (`1 - t^2 = 4 s(1 - s)` with s = sigmoid(2z)).
    #[test]
    fn tanh_is_two_sigmoid_of_two_z_minus_one(z in vec(-20.0..20.0, 1..=8)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&Tensor::from_slice(&z));
        let t = zv.tanh();
        let via_sigmoid = 2.0 * (2.0 * zv).sigmoid() - 1.0;
        prop_assert_all_close!(t.values(), via_sigmoid.values(), 1e-15, 0.0, "z = {z:?}");
        let tanh_gradient = tape.backward(t.sum()).wrt_slice(zv).to_vec();
        let sigmoid_gradient = tape.backward(via_sigmoid.sum()).wrt_slice(zv).to_vec();
        prop_assert_all_close!(tanh_gradient, sigmoid_gradient, 2e-15, 0.0, "z = {z:?}");
    }

    /// F4: `softplus(z) = log(1 + e^z)` and the gradient of `sum(softplus(z))` is `sigmoid(z)`.
    #[test]
    fn summed_softplus_gradient_is_sigmoid(z in matrix(4, 5, -30.0..30.0)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let a = zv.softplus();
        let want_values: Vec<f64> = z.data().iter().map(|&zi| zi.exp().ln_1p()).collect();
        prop_assert_all_close!(a.values(), want_values, 1e-300, 1e-14, "z = {z:?}");
        let grads = tape.backward(a.sum());
        let want: Vec<f64> = z.data().iter().map(|&zi| logistic(zi)).collect();
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-300, 1e-14, "z = {z:?}");
    }

    /// F5: the gradient of `sum(relu(z))` is `1[z > 0]` exactly, with zeros (and -0) mixed in.
    #[test]
    fn summed_relu_gradient_is_indicator_of_positive(z in matrix(4, 5, with_zeros(5.0))) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let a = zv.relu();
        let want_values: Vec<f64> = z.data().iter().map(|&zi| if zi > 0.0 { zi } else { 0.0 }).collect();
        prop_assert_eq!(&*a.values(), &want_values[..], "relu values, z = {:?}", z);
        let grads = tape.backward(a.sum());
        let want: Vec<f64> = z.data().iter().map(|&zi| if zi > 0.0 { 1.0 } else { 0.0 }).collect();
        prop_assert_eq!(grads.wrt_slice(zv), &want[..], "relu gradient, z = {:?}", z);
    }
}

/// F2: sigmoid(0) = 1/2 and sigmoid'(0) = 1/4, its largest value.
#[test]
fn sigmoid_gradient_is_one_quarter_at_zero() {
    let tape = Tape::<f64>::new();
    let z = tape.var(0.0);
    let s = z.sigmoid();
    assert_eq!(s.value(), 0.5);
    assert_eq!(tape.backward(s).wrt(z), 0.25);
}

/// F4: softplus and its gradient are finite and accurate at z = +/-500, where `e^500`
/// overflows nothing in the stable form: softplus(500) = 500, softplus(-500) = e^-500
/// (log1p(x) = x to rounding for x this small), softplus' = sigmoid = 1 and e^-500.
#[test]
fn softplus_is_finite_at_plus_minus_500() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::from_slice(&[500.0, -500.0]));
    let a = z.softplus();
    let values = a.values().to_vec();
    let tiny = (-500.0f64).exp();
    assert!(values.iter().all(|v| v.is_finite()), "softplus(+/-500) = {values:?}");
    assert!(close(values[0], 500.0, 0.0, 1e-15), "softplus(500) = {}", values[0]);
    assert!(close(values[1], tiny, 0.0, 1e-14), "softplus(-500) = {}, e^-500 = {tiny}", values[1]);
    let jacobian = tape.jacobian(a, z);
    assert!(jacobian.data().iter().all(|v| v.is_finite()), "softplus' at +/-500: {jacobian:?}");
    assert!(close(jacobian[(0, 0)], 1.0, 0.0, 1e-15), "softplus'(500) = {}", jacobian[(0, 0)]);
    assert!(close(jacobian[(1, 1)], tiny, 0.0, 1e-14), "softplus'(-500) = {}, e^-500 = {tiny}", jacobian[(1, 1)]);
}

/// F5: relu'(0) = 0 (the PyTorch/JAX convention), for +0 and -0, also when z feeds a
/// weighted sum; relu(0) = 0.
#[test]
fn relu_gradient_is_zero_at_zero() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::from_slice(&[0.0, -0.0, 1e-300, -1e-300]));
    let a = z.relu();
    assert_eq!(&*a.values(), &[0.0, 0.0, 1e-300, 0.0]);
    let weights = tape.constant(&Tensor::from_slice(&[3.0, -2.0, 5.0, 7.0]));
    let grads = tape.backward((a * weights).sum());
    assert_eq!(grads.wrt_slice(z), &[0.0, 0.0, 5.0, 0.0]);
}

// ---------------------------------------------------------------------------------------
// F6: softmax
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F6: the Jacobian of softmax (one reverse sweep per output) is `diag(y) - y y^T`,
    /// symmetric, and its rows sum to 0.
    #[test]
    fn softmax_jacobian_is_diag_y_minus_y_y_transpose(z in vec(-8.0..8.0, 1..=6)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&Tensor::from_slice(&z));
        let yv = zv.softmax();
        let y = softmax_row(&z);
        prop_assert_all_close!(yv.values(), y, 1e-16, 1e-14, "softmax values, z = {z:?}");
        let jacobian = tape.jacobian(yv, zv);
        let n = z.len();
        let want: Vec<f64> =
            (0..n * n).map(|k| (k / n, k % n)).map(|(i, j)| if i == j { y[i] - y[i] * y[i] } else { -y[i] * y[j] }).collect();
        prop_assert_all_close!(jacobian.data(), want, 1e-15, 1e-13, "softmax Jacobian, z = {z:?}");
        for i in 0..n {
            for j in 0..n {
                prop_assert!(
                    close(jacobian[(i, j)], jacobian[(j, i)], 1e-16, 0.0),
                    "J not symmetric: J[{i}][{j}] = {}, J[{j}][{i}] = {}, z = {z:?}", jacobian[(i, j)], jacobian[(j, i)]
                );
            }
            let row_sum: f64 = (0..n).map(|j| jacobian[(i, j)]).sum();
            prop_assert!(row_sum.abs() <= 1e-15, "row {i} of J sums to {row_sum}, z = {z:?}");
        }
    }

    /// F6: adding a constant to every z changes neither softmax(z) nor its Jacobian.
    #[test]
    fn softmax_is_invariant_to_adding_a_constant(z in vec(-8.0..8.0, 1..=6), shift in -50.0..50.0) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&Tensor::from_slice(&z));
        let shifted = tape.var(&Tensor::from_slice(&z.iter().map(|zi| zi + shift).collect::<Vec<_>>()));
        let (y, y_shifted) = (zv.softmax(), shifted.softmax());
        prop_assert_all_close!(y.values(), y_shifted.values(), 1e-12, 0.0, "z = {z:?}, shift = {shift}");
        let (jacobian, jacobian_shifted) = (tape.jacobian(y, zv), tape.jacobian(y_shifted, shifted));
        prop_assert_all_close!(jacobian.data(), jacobian_shifted.data(), 1e-12, 0.0, "z = {z:?}, shift = {shift}");
    }

    /// F6 in batch form: each row is normalised on its own, so the Jacobian of a `[2 x n]`
    /// softmax is block diagonal, each block `diag(y_r) - y_r y_r^T`.
    #[test]
    fn batch_softmax_jacobian_is_block_diagonal(
        z in (1..=5usize).prop_flat_map(|n| vec(-8.0..8.0, 2 * n).prop_map(move |d| Tensor::new(Shape::matrix(2, n), d))),
    ) {
        let n = z.shape().cols();
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let jacobian = tape.jacobian(zv.softmax(), zv);
        prop_assert_eq!(jacobian.shape(), Shape::matrix(2 * n, 2 * n));
        let rows: Vec<Vec<f64>> = z.data().chunks(n).map(softmax_row).collect();
        for a in 0..2 * n {
            for b in 0..2 * n {
                let (row_a, i, row_b, j) = (a / n, a % n, b / n, b % n);
                let got = jacobian[(a, b)];
                if row_a != row_b {
                    prop_assert!(got == 0.0, "J[{a}][{b}] = {got} couples rows {row_a} and {row_b}, z = {z:?}");
                } else {
                    let y = &rows[row_a];
                    let want = if i == j { y[i] - y[i] * y[i] } else { -y[i] * y[j] };
                    prop_assert!(close(got, want, 1e-15, 1e-13), "J[{a}][{b}] = {got}, closed form {want}, z = {z:?}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// F7-F11: cross-entropy and binary cross-entropy
// ---------------------------------------------------------------------------------------

/// Probability rows `[N x C]` (entries in [0.01, 1], normalised) and target distributions of
/// the same shape (some entries exactly 0).
fn probabilities_and_targets() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    matrix_pair(4, 5, 0.01..1.0, prop_oneof![1 => Just(0.0), 3 => 0.05..1.0]).prop_map(|(mut p, mut y)| {
        let cols = p.shape().cols();
        for row in p.data_mut().chunks_mut(cols) {
            let total: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= total);
        }
        for row in y.data_mut().chunks_mut(cols) {
            let total: f64 = row.iter().sum();
            if total == 0.0 {
                row[0] = 1.0;
            } else {
                row.iter_mut().for_each(|v| *v /= total);
            }
        }
        (p, y)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F8: for `L = -(1/N) sum y log p`, `dL/dp = -y / (N p)`, and the value is that sum.
    #[test]
    fn cross_entropy_gradient_is_minus_y_over_n_p((p, y) in probabilities_and_targets()) {
        let n = p.shape().rows() as f64;
        let tape = Tape::<f64>::new();
        let pv = tape.var(&p);
        let loss = pv.cross_entropy(tape.constant(&y));
        let want_value = -p.data().iter().zip(y.data()).map(|(&pi, &yi)| if yi == 0.0 { 0.0 } else { yi * pi.ln() }).sum::<f64>() / n;
        prop_assert!(close(loss.value(), want_value, 1e-15, 1e-13), "value {} vs {want_value}, p = {p:?}, y = {y:?}", loss.value());
        let grads = tape.backward(loss);
        let want: Vec<f64> = p.data().iter().zip(y.data()).map(|(&pi, &yi)| -yi / (n * pi)).collect();
        prop_assert_all_close!(grads.wrt_slice(pv), want, 1e-15, 1e-14, "p = {p:?}, y = {y:?}");
    }

    /// F7 = F8 with a one-hot y: the class-label form `L = -(1/N) sum_n log p[n, k_n]` with
    /// `dL/dp[n, j] = -1[j = k_n] / (N p[n, k_n])` (exactly 0 off the label) equals the
    /// general-distribution form in value and gradient.
    #[test]
    fn class_label_and_one_hot_cross_entropy_agree((p, _) in probabilities_and_targets(), seed in vec(0..64usize, 4)) {
        let (rows, classes) = (p.shape().rows(), p.shape().cols());
        let labels: Vec<usize> = (0..rows).map(|r| seed[r] % classes).collect();
        let n = rows as f64;
        let tape = Tape::<f64>::new();
        let pv = tape.var(&p);
        let loss = pv.cross_entropy(tape.constant(&one_hot(&labels, classes)));
        let class_label_value = -(0..rows).map(|r| p[(r, labels[r])].ln()).sum::<f64>() / n;
        prop_assert!(close(loss.value(), class_label_value, 1e-15, 1e-14),
            "one-hot value {} vs class-label {class_label_value}, p = {p:?}, labels = {labels:?}", loss.value());
        let grads = tape.backward(loss);
        let class_label_gradient: Vec<f64> = (0..rows * classes)
            .map(|i| if i % classes == labels[i / classes] { -1.0 / (n * p.data()[i]) } else { 0.0 })
            .collect();
        prop_assert_all_close!(grads.wrt_slice(pv), class_label_gradient, 0.0, 1e-14, "p = {p:?}, labels = {labels:?}");
    }

    /// F9: BCE written out on `a = sigmoid(z)`, `L = -sum(y ln a + (1 - y) ln(1 - a))`, has
    /// `dL/da = (a - y) / (a (1 - a))`; and (F10 key step, sum form) `dL/dz = a - y`.
    #[test]
    fn composed_bce_gradient_wrt_probability_is_a_minus_y_over_a_one_minus_a(
        (z, y) in matrix_pair(3, 4, -8.0..8.0, unit_interval()),
    ) {
        let one_minus_y = Tensor::from_fn(y.shape(), |i| 1.0 - y.data()[i]);
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let a = zv.sigmoid();
        let loss = -(tape.constant(&y) * a.ln() + tape.constant(&one_minus_y) * (1.0 - a).ln()).sum();
        let a_values = a.values().to_vec();
        let grads = tape.backward(loss);
        for (i, (&ai, &yi)) in a_values.iter().zip(y.data()).enumerate() {
            let want = (ai - yi) / (ai * (1.0 - ai));
            // The tape sums -y/a and (1 - y)/(1 - a), which cancel where a is near y.
            let scale = yi / ai + (1.0 - yi) / (1.0 - ai);
            let got = grads.wrt_slice(a)[i];
            prop_assert!(close(got, want, 1e-13 * scale, 0.0), "dL/da[{i}] = {got}, (a - y)/(a(1 - a)) = {want}, a = {ai}, y = {yi}");
            let got_z = grads.wrt_slice(zv)[i];
            prop_assert!(close(got_z, ai - yi, 1e-12, 0.0), "dL/dz[{i}] = {got_z}, a - y = {}, a = {ai}, y = {yi}", ai - yi);
        }
    }

    /// F10: the gradient of `bce_with_logits` (a mean over n elements) is
    /// `(sigmoid(z) - y) / n`, for hard and soft y.
    #[test]
    fn bce_with_logits_gradient_is_sigmoid_minus_y_over_n((z, y) in matrix_pair(4, 5, -30.0..30.0, unit_interval())) {
        let n = z.len() as f64;
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let grads = tape.backward(zv.bce_with_logits(tape.constant(&y)));
        let want: Vec<f64> = z.data().iter().zip(y.data()).map(|(&zi, &yi)| (logistic(zi) - yi) / n).collect();
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-15, 1e-14, "z = {z:?}, y = {y:?}");
    }

    /// F10: the fused `bce_with_logits` equals the composition
    /// `mean(-(y ln sigmoid(z) + (1 - y) ln(1 - sigmoid(z))))` in value and gradient.
    #[test]
    fn bce_with_logits_agrees_with_composed_form((z, y) in matrix_pair(4, 5, -8.0..8.0, unit_interval())) {
        let one_minus_y = Tensor::from_fn(y.shape(), |i| 1.0 - y.data()[i]);
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let fused = zv.bce_with_logits(tape.constant(&y));
        let a = zv.sigmoid();
        let composed = -(tape.constant(&y) * a.ln() + tape.constant(&one_minus_y) * (1.0 - a).ln()).mean();
        prop_assert!(close(fused.value(), composed.value(), 1e-11, 1e-12),
            "fused {} vs composed {}, z = {z:?}, y = {y:?}", fused.value(), composed.value());
        let fused_gradient = tape.backward(fused).wrt_slice(zv).to_vec();
        let composed_gradient = tape.backward(composed).wrt_slice(zv).to_vec();
        prop_assert_all_close!(fused_gradient, composed_gradient, 1e-12, 0.0, "z = {z:?}, y = {y:?}");
    }

    /// F11: `d(CE o softmax)/dz = (softmax(z) - onehot) / N` for the fused op.
    #[test]
    fn softmax_cross_entropy_gradient_is_softmax_minus_onehot_over_n((z, labels) in labelled_logits(12.0)) {
        let (rows, classes) = (z.shape().rows(), z.shape().cols());
        let n = rows as f64;
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let loss = zv.softmax_cross_entropy(&labels);
        let mut want_value = 0.0;
        let mut want = Vec::with_capacity(rows * classes);
        for (r, z_row) in z.data().chunks(classes).enumerate() {
            let max = z_row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_sum_exp = max + z_row.iter().map(|&zi| (zi - max).exp()).sum::<f64>().ln();
            want_value += (log_sum_exp - z_row[labels[r]]) / n;
            let y = softmax_row(z_row);
            want.extend((0..classes).map(|j| (y[j] - if j == labels[r] { 1.0 } else { 0.0 }) / n));
        }
        prop_assert!(close(loss.value(), want_value, 1e-14, 1e-13), "value {} vs {want_value}, z = {z:?}, labels = {labels:?}", loss.value());
        let grads = tape.backward(loss);
        prop_assert_all_close!(grads.wrt_slice(zv), want, 1e-16, 1e-13, "z = {z:?}, labels = {labels:?}");
    }

    /// F11: the fused `softmax_cross_entropy` and `softmax().cross_entropy(onehot)` agree in
    /// value and gradient.
    #[test]
    fn fused_and_composed_softmax_cross_entropy_agree((z, labels) in labelled_logits(12.0)) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let fused = zv.softmax_cross_entropy(&labels);
        let composed = zv.softmax().cross_entropy(tape.constant(&one_hot(&labels, z.shape().cols())));
        prop_assert!(close(fused.value(), composed.value(), 1e-14, 1e-12),
            "fused {} vs composed {}, z = {z:?}, labels = {labels:?}", fused.value(), composed.value());
        let fused_gradient = tape.backward(fused).wrt_slice(zv).to_vec();
        let composed_gradient = tape.backward(composed).wrt_slice(zv).to_vec();
        prop_assert_all_close!(fused_gradient, composed_gradient, 1e-15, 1e-12, "z = {z:?}, labels = {labels:?}");
    }

    /// F11: each row of the gradient of softmax cross-entropy sums to 0 (softmax and one-hot
    /// both sum to 1), fused and composed.
    #[test]
    fn softmax_cross_entropy_gradient_rows_sum_to_zero((z, labels) in labelled_logits(12.0)) {
        let classes = z.shape().cols();
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let fused = zv.softmax_cross_entropy(&labels);
        let composed = zv.softmax().cross_entropy(tape.constant(&one_hot(&labels, classes)));
        for (name, loss) in [("fused", fused), ("composed", composed)] {
            let grads = tape.backward(loss);
            for (r, row) in grads.wrt_slice(zv).chunks(classes).enumerate() {
                let total: f64 = row.iter().sum();
                prop_assert!(total.abs() <= 1e-15, "{name}: row {r} of dL/dz sums to {total}: {row:?}, z = {z:?}, labels = {labels:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// F12-F14: the three MSE forms
// ---------------------------------------------------------------------------------------

/// The three gradients of one batch `[N x d]`: F12 `1/2 sum`, F13 `1/(2N) sum`, F14 `mse()`.
fn mse_gradients(p: &Tensor<f64>, t: &Tensor<f64>) -> [Vec<f64>; 3] {
    let batch_size = p.shape().rows() as f64;
    let tape = Tape::<f64>::new();
    let pv = tape.var(p);
    let tv = tape.constant(t);
    let half_sum = 0.5 * (pv - tv).powi(2).sum();
    let half_mean_over_batch = (pv - tv).powi(2).sum() / (2.0 * batch_size);
    let mean = pv.mse(tv);
    [half_sum, half_mean_over_batch, mean].map(|loss| tape.backward(loss).wrt_slice(pv).to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F12: `L = 1/2 sum (a - y)^2` has `dL/da = a - y`.
    #[test]
    fn mse_gradient_of_half_sum_is_a_minus_y((p, t) in matrix_pair(4, 5, -5.0..5.0, -5.0..5.0)) {
        let [half_sum, _, _] = mse_gradients(&p, &t);
        let want: Vec<f64> = p.data().iter().zip(t.data()).map(|(a, y)| a - y).collect();
        prop_assert_all_close!(half_sum, want, 0.0, 1e-15, "p = {p:?}, t = {t:?}");
    }

    /// F13: `J = 1/(2N) sum_n ||a_n - y_n||^2` has `dJ/da_n = (a_n - y_n) / N`, N the batch size.
    #[test]
    fn mse_gradient_of_half_mean_over_batch_is_a_minus_y_over_n((p, t) in matrix_pair(4, 5, -5.0..5.0, -5.0..5.0)) {
        let batch_size = p.shape().rows() as f64;
        let [_, half_mean, _] = mse_gradients(&p, &t);
        let want: Vec<f64> = p.data().iter().zip(t.data()).map(|(a, y)| (a - y) / batch_size).collect();
        prop_assert_all_close!(half_mean, want, 0.0, 1e-15, "p = {p:?}, t = {t:?}");
    }

    /// F14: `mse()`, the mean over all numel elements of `(a - y)^2`, has `dL/da = 2 (a - y) / numel`.
    #[test]
    fn mse_gradient_of_mean_is_two_a_minus_y_over_numel((p, t) in matrix_pair(4, 5, -5.0..5.0, -5.0..5.0)) {
        let numel = p.len() as f64;
        let [_, _, mean] = mse_gradients(&p, &t);
        let want: Vec<f64> = p.data().iter().zip(t.data()).map(|(a, y)| 2.0 * (a - y) / numel).collect();
        prop_assert_all_close!(mean, want, 0.0, 1e-15, "p = {p:?}, t = {t:?}");
    }

    /// F12-F14 on the same `[N x d]` batch: F13's gradient is F12's divided by N, F14's is
    /// F12's times `2 / (N d)`.
    #[test]
    fn mse_gradient_forms_differ_by_n_and_two_over_numel((p, t) in matrix_pair(4, 5, -5.0..5.0, -5.0..5.0)) {
        let (batch_size, width) = (p.shape().rows() as f64, p.shape().cols() as f64);
        let [half_sum, half_mean, mean] = mse_gradients(&p, &t);
        let f12_over_n: Vec<f64> = half_sum.iter().map(|g| g / batch_size).collect();
        let f12_times_two_over_numel: Vec<f64> = half_sum.iter().map(|g| g * 2.0 / (batch_size * width)).collect();
        prop_assert_all_close!(half_mean, f12_over_n, 0.0, 1e-15, "F13 vs F12 / N, p = {p:?}, t = {t:?}");
        prop_assert_all_close!(mean, f12_times_two_over_numel, 0.0, 1e-15, "F14 vs F12 2/(N d), p = {p:?}, t = {t:?}");
    }

    /// F14 and F12 values: `mse()` is the mean of the squares (not half of it), and
    /// `0.5 * (p - t).powi(2).sum()` is half their sum; so `mse = 2 * half_sum / numel`.
    #[test]
    fn mse_value_is_mean_of_squares_and_half_sum_is_half_their_sum((p, t) in matrix_pair(4, 5, -5.0..5.0, -5.0..5.0)) {
        let numel = p.len() as f64;
        let sum_of_squares: f64 = p.data().iter().zip(t.data()).map(|(a, y)| (a - y) * (a - y)).sum();
        let tape = Tape::<f64>::new();
        let (pv, tv) = (tape.var(&p), tape.constant(&t));
        let mean = pv.mse(tv).value();
        let half_sum = (0.5 * (pv - tv).powi(2).sum()).value();
        prop_assert!(close(mean, sum_of_squares / numel, 1e-300, 1e-14), "mse {mean} vs mean of squares {}, p = {p:?}, t = {t:?}", sum_of_squares / numel);
        prop_assert!(close(half_sum, 0.5 * sum_of_squares, 1e-300, 1e-14), "half sum {half_sum} vs {}, p = {p:?}, t = {t:?}", 0.5 * sum_of_squares);
        prop_assert!(close(mean, 2.0 * half_sum / numel, 1e-300, 1e-14), "mse {mean} vs 2 half_sum / numel {}", 2.0 * half_sum / numel);
    }
}

// ---------------------------------------------------------------------------------------
// F15: the linear map; F16: reductions; the 1/N of a mean, once
// ---------------------------------------------------------------------------------------

/// X `[N x k]`, W `[k x m]`, b (`[m]` or `[1 x m]`), and an upstream G `[N x m]`.
fn linear_case() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    (1..=5usize, 1..=5usize, 1..=5usize, any::<bool>()).prop_flat_map(|(n, k, m, bias_is_row)| {
        let bias_shape = if bias_is_row { Shape::matrix(1, m) } else { Shape::vector(m) };
        (vec(-2.0..2.0, n * k), vec(-2.0..2.0, k * m), vec(-2.0..2.0, m), vec(-2.0..2.0, n * m)).prop_map(
            move |(x, w, b, g)| {
                (
                    Tensor::new(Shape::matrix(n, k), x),
                    Tensor::new(Shape::matrix(k, m), w),
                    Tensor::new(bias_shape, b),
                    Tensor::new(Shape::matrix(n, m), g),
                )
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F15: for `Z = X W + b` and upstream G, `dX = G W^T`, `dW = X^T G`, `db = column sums
    /// of G`, each with the shape of X, W, b; the products written as plain loops.
    #[test]
    fn linear_map_gradients_are_g_wt_and_xt_g_and_column_sums((x, w, b, g) in linear_case()) {
        let (n, k, m) = (x.shape().rows(), x.shape().cols(), w.shape().cols());
        let tape = Tape::<f64>::new();
        let (xv, wv, bv) = (tape.var(&x), tape.var(&w), tape.var(&b));
        let z = xv.matmul(wv).add_bias(bv);
        prop_assert_eq!(z.shape(), Shape::matrix(n, m));
        let grads = tape.backward_with_seed(z, g.data());
        let (dx, dw, db) = (grads.wrt_tensor(xv), grads.wrt_tensor(wv), grads.wrt_tensor(bv));
        prop_assert_eq!((dx.shape(), dw.shape(), db.shape()), (x.shape(), w.shape(), b.shape()));
        let mut want_dx = vec![0.0; n * k];
        let mut want_dw = vec![0.0; k * m];
        let mut want_db = vec![0.0; m];
        for r in 0..n {
            for c in 0..m {
                let upstream = g[(r, c)];
                for i in 0..k {
                    want_dx[r * k + i] += upstream * w[(i, c)];
                    want_dw[i * m + c] += x[(r, i)] * upstream;
                }
                want_db[c] += upstream;
            }
        }
        prop_assert_all_close!(dx.data(), want_dx, 1e-14, 1e-13, "dX, x = {x:?}, w = {w:?}, g = {g:?}");
        prop_assert_all_close!(dw.data(), want_dw, 1e-14, 1e-13, "dW, x = {x:?}, w = {w:?}, g = {g:?}");
        prop_assert_all_close!(db.data(), want_db, 1e-14, 1e-13, "db, g = {g:?}");
    }

    /// F16: the gradient of `sum` is all ones, of `mean` all `1/numel`, for any shape.
    #[test]
    fn sum_gradient_is_ones_and_mean_gradient_is_one_over_numel(x in matrix(5, 6, -10.0..10.0), as_vector in any::<bool>()) {
        let x = if as_vector { Tensor::from_slice(x.data()) } else { x };
        let numel = x.len() as f64;
        let tape = Tape::<f64>::new();
        let xv = tape.var(&x);
        let sum_gradient = tape.backward(xv.sum()).wrt_slice(xv).to_vec();
        prop_assert!(sum_gradient.iter().all(|&d| d == 1.0), "d sum/dx = {sum_gradient:?}, shape {:?}", x.shape());
        let mean_gradient = tape.backward(xv.mean()).wrt_slice(xv).to_vec();
        let want = vec![1.0 / numel; x.len()];
        prop_assert_all_close!(mean_gradient, want, 0.0, 1e-15, "d mean/dx, shape {:?}", x.shape());
    }

    /// Notes section 4, note 1 (7.B1): a mean loss's 1/N is applied exactly once. For a batch
    /// of N rows, row n of the gradient is (gradient of the same loss on row n alone) / N, for
    /// `softmax_cross_entropy` and `mse`; and through a linear layer, dW is the mean of the
    /// per-sample dW's (not divided by N again).
    #[test]
    fn mean_loss_divides_by_n_once(
        (z, labels) in labelled_logits(6.0).prop_filter("a batch", |(z, _)| z.shape().rows() >= 2),
        targets in vec(-3.0..3.0, 30),
        w in vec(-2.0..2.0, 36),
    ) {
        let (rows, classes) = (z.shape().rows(), z.shape().cols());
        let n = rows as f64;
        let row_alone = |r: usize| Tensor::new(Shape::matrix(1, classes), z.data()[r * classes..(r + 1) * classes].to_vec());
        let t = Tensor::new(z.shape(), targets[..z.len()].to_vec());

        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let batch_ce = tape.backward(zv.softmax_cross_entropy(&labels)).wrt_slice(zv).to_vec();
        let batch_mse = tape.backward(zv.mse(tape.constant(&t))).wrt_slice(zv).to_vec();
        for r in 0..rows {
            let single = Tape::<f64>::new();
            let row = single.var(&row_alone(r));
            let row_ce = single.backward(row.softmax_cross_entropy(&labels[r..=r])).wrt_slice(row).to_vec();
            let t_row = Tensor::new(Shape::matrix(1, classes), t.data()[r * classes..(r + 1) * classes].to_vec());
            let row_mse = single.backward(row.mse(single.constant(&t_row))).wrt_slice(row).to_vec();
            let want_ce: Vec<f64> = row_ce.iter().map(|g| g / n).collect();
            let want_mse: Vec<f64> = row_mse.iter().map(|g| g / n).collect();
            prop_assert_all_close!(batch_ce[r * classes..(r + 1) * classes], want_ce, 1e-16, 1e-14,
                "softmax_cross_entropy row {r}: batch vs single / N, z = {z:?}, labels = {labels:?}");
            prop_assert_all_close!(batch_mse[r * classes..(r + 1) * classes], want_mse, 1e-16, 1e-14,
                "mse row {r}: batch vs single / N, z = {z:?}, t = {t:?}");
        }

        // Through a layer: logits = X W with X = z (as inputs [N x C]) and W [C x C].
        let weights = Tensor::new(Shape::matrix(classes, classes), w[..classes * classes].to_vec());
        let batch_dw = {
            let tape = Tape::<f64>::new();
            let wv = tape.var(&weights);

            tape.backward(tape.constant(&z).matmul(wv).softmax_cross_entropy(&labels)).wrt_slice(wv).to_vec()
        };
        let mut mean_dw = vec![0.0; classes * classes];
        for r in 0..rows {
            let tape = Tape::<f64>::new();
            let wv = tape.var(&weights);
            let loss = tape.constant(&row_alone(r)).matmul(wv).softmax_cross_entropy(&labels[r..=r]);
            for (total, g) in mean_dw.iter_mut().zip(tape.backward(loss).wrt_slice(wv)) {
                *total += g / n;
            }
        }
        // An element of dW sums N products of order 1 that can cancel to 1e-4, so its rounding
        // is absolute, a few eps times the terms' size, not relative to the (small) result.
        prop_assert_all_close!(batch_dw, mean_dw, 1e-14, 1e-12, "dW of the batch vs mean of per-sample dW, z = {z:?}, labels = {labels:?}");
    }
}

// ---------------------------------------------------------------------------------------
// G2: the central difference is O(h^2)
// ---------------------------------------------------------------------------------------

/// `f(x)` recorded on a fresh tape.
fn on_tape(x: f64, f: impl for<'t> Fn(wengert_tape::Var<'t, f64>) -> wengert_tape::Var<'t, f64>) -> f64 {
    let tape = Tape::<f64>::new();
    f(tape.constant(x)).value()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// G2: for `f = exp` (f''' = e^x, never 0), the central difference's error against the
    /// tape's derivative falls about 100x when h falls 10x (h = 1e-2 -> 1e-3), while the
    /// one-sided difference's falls only about 10x.
    #[test]
    fn central_difference_error_falls_100x_when_h_falls_10x(x in -2.0..2.0f64) {
        let exact = {
            let tape = Tape::<f64>::new();
            let xv = tape.var(x);

            tape.backward(xv.exp()).wrt(xv)
        };
        prop_assert!(close(exact, x.exp(), 0.0, 1e-15), "tape exp'({x}) = {exact}, e^x = {}", x.exp());
        let f = |x: f64| on_tape(x, |v| v.exp());
        let central_error = |h: f64| ((f(x + h) - f(x - h)) / (2.0 * h) - exact).abs();
        let forward_error = |h: f64| ((f(x + h) - f(x)) / h - exact).abs();
        let central_ratio = central_error(1e-2) / central_error(1e-3);
        let forward_ratio = forward_error(1e-2) / forward_error(1e-3);
        prop_assert!((90.0..110.0).contains(&central_ratio), "central: error ratio {central_ratio} at x = {x}");
        prop_assert!((9.0..11.0).contains(&forward_ratio), "one-sided: error ratio {forward_ratio} at x = {x}");
        // The leading term h^2 f'''/6.
        let predicted = 1e-4 * x.exp() / 6.0;
        prop_assert!(close(central_error(1e-2), predicted, 0.0, 1e-3), "central error {} vs h^2 f'''/6 = {predicted}", central_error(1e-2));
    }

    /// G2 on `f = x^3 + x` (f''' = 6, higher derivatives 0): the central difference's error
    /// is exactly h^2 up to rounding, so it falls 100x per 10x in h.
    #[test]
    fn central_difference_error_of_a_cubic_is_h_squared(x in -2.0..2.0f64) {
        let f = |x: f64| on_tape(x, |v| v.powi(3) + v);
        let exact = 3.0 * x * x + 1.0;
        let central_error = |h: f64| (f(x + h) - f(x - h)) / (2.0 * h) - exact;
        let (coarse, fine) = (central_error(1e-2), central_error(1e-3));
        prop_assert!(close(coarse, 1e-4, 0.0, 1e-6), "error at h = 1e-2: {coarse}, h^2 = 1e-4, x = {x}");
        prop_assert!(close(fine, 1e-6, 0.0, 1e-4), "error at h = 1e-3: {fine}, h^2 = 1e-6, x = {x}");
        let ratio = coarse / fine;
        prop_assert!((99.0..101.0).contains(&ratio), "error ratio {ratio} at x = {x}");
    }
}

// ---------------------------------------------------------------------------------------
// Stable numerics at +/-1000, f64 and f32
// ---------------------------------------------------------------------------------------

/// `x` as `T`.
fn lit<T: Real>(x: f64) -> T {
    T::lit(x)
}

/// Asserts `got == want` to within two units of rounding of `T`, naming the precision.
#[track_caller]
fn assert_close_to<T: Real>(got: &[T], want: &[T], what: &str) {
    assert_eq!(got.len(), want.len(), "{}: {what}: lengths differ", T::NAME);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let allowed = lit::<T>(2.0) * T::epsilon() * w.abs();
        assert!(
            g.is_finite() && (g - w).abs() <= allowed,
            "{}: {what}[{i}] = {g:?}, expected {w:?}; all: {got:?}",
            T::NAME
        );
    }
}

/// sigmoid(-1000) = 0 and sigmoid(1000) = 1 exactly (e^-1000 underflows to 0), with
/// sigmoid' = 0 there; softplus(-1000) = 0 and softplus(1000) = 1000, softplus' = 0 and 1.
fn sigmoid_and_softplus_at_plus_minus_1000<T: Real>() {
    let big = lit::<T>(1000.0);
    let (zero, one) = (T::zero(), T::one());
    let tape = Tape::<T>::new();
    let z = tape.var(&Tensor::from_slice(&[-big, big]));
    let s = z.sigmoid();
    let a = z.softplus();
    assert_close_to(&s.values(), &[zero, one], "sigmoid(-1000), sigmoid(1000)");
    assert_close_to(&a.values(), &[zero, big], "softplus(-1000), softplus(1000)");
    assert_close_to(tape.jacobian(s, z).data(), &[zero; 4], "sigmoid Jacobian at -1000, 1000");
    assert_close_to(tape.jacobian(a, z).data(), &[zero, zero, zero, one], "softplus Jacobian at -1000, 1000");
}

/// softmax([1000, 0]) = [1, 0] exactly, softmax([+/-1000, +/-1000]) = [1/2, 1/2];
/// log_softmax([1000, 0]) = [0, -1000]; logsumexp([1000, 1000]) = 1000 + ln 2,
/// logsumexp([-1000, -1000]) = -1000 + ln 2, logsumexp([-1000, 0]) = 0; every Jacobian
/// finite and equal to its closed form.
fn softmax_family_at_plus_minus_1000<T: Real>() {
    let big = lit::<T>(1000.0);
    let (zero, one, half, quarter) = (T::zero(), T::one(), lit::<T>(0.5), lit::<T>(0.25));
    let ln2 = lit::<T>(2.0).ln();
    let tape = Tape::<T>::new();

    let z = tape.var(&Tensor::from_slice(&[big, zero]));
    let y = z.softmax();
    assert_close_to(&y.values(), &[one, zero], "softmax([1000, 0])");
    // diag(y) - y y^T with y = [1, 0] is 0.
    assert_close_to(tape.jacobian(y, z).data(), &[zero; 4], "softmax Jacobian at [1000, 0]");
    let log_y = z.log_softmax();
    assert_close_to(&log_y.values(), &[zero, -big], "log_softmax([1000, 0])");
    // d log_softmax_i / dz_j = 1[i = j] - y_j with y = [1, 0].
    assert_close_to(tape.jacobian(log_y, z).data(), &[zero, zero, -one, one], "log_softmax Jacobian at [1000, 0]");

    for sign in [one, -one] {
        let z = tape.var(&Tensor::from_slice(&[sign * big, sign * big]));
        let y = z.softmax();
        assert_close_to(&y.values(), &[half, half], "softmax([+/-1000, +/-1000])");
        assert_close_to(
            tape.jacobian(y, z).data(),
            &[quarter, -quarter, -quarter, quarter],
            "softmax Jacobian at [+/-1000, +/-1000]",
        );
        let l = z.logsumexp();
        assert_close_to(&l.values(), &[sign * big + ln2], "logsumexp([+/-1000, +/-1000])");
        assert_close_to(tape.backward(l).wrt_slice(z), &[half, half], "logsumexp gradient at [+/-1000, +/-1000]");
    }

    let rows = tape.var(&Tensor::from_rows(&[[big, big], [-big, zero]]));
    let l = rows.logsumexp();
    assert_close_to(&l.values(), &[big + ln2, zero], "logsumexp rows [1000, 1000], [-1000, 0]");
    assert_close_to(
        tape.jacobian(l, rows).data(),
        &[half, half, zero, zero, zero, zero, zero, one],
        "logsumexp Jacobian",
    );
}

/// softmax_cross_entropy of rows [1000, 0] (label 1), [0, 1000] (label 1), [-1000, 1000]
/// (label 0) is mean(1000, 0, 2000) = 1000 with gradient (softmax - onehot)/3; bce_with_logits
/// of z = [1000, -1000, 1000, -1000] against y = [0, 1, 1, 0] is mean(1000, 1000, 0, 0) = 500
/// with gradient (sigmoid(z) - y)/4 = [1/4, -1/4, 0, 0]; cross_entropy after softmax of
/// [1000, 1000, -1000] against [1/2, 1/2, 0] is ln 2 with gradient softmax - y = 0.
fn losses_at_plus_minus_1000<T: Real>() {
    let big = lit::<T>(1000.0);
    let (zero, one, half) = (T::zero(), T::one(), lit::<T>(0.5));
    let third = one / lit::<T>(3.0);
    let quarter = lit::<T>(0.25);
    let tape = Tape::<T>::new();

    let z = tape.var(&Tensor::from_rows(&[[big, zero], [zero, big], [-big, big]]));
    let loss = z.softmax_cross_entropy(&[1, 1, 0]);
    assert_close_to(&[loss.value()], &[big], "softmax_cross_entropy at +/-1000");
    assert_close_to(
        tape.backward(loss).wrt_slice(z),
        &[third, -third, zero, zero, -third, third],
        "softmax_cross_entropy gradient",
    );

    let z = tape.var(&Tensor::from_slice(&[big, -big, big, -big]));
    let y = tape.constant(&Tensor::from_slice(&[zero, one, one, zero]));
    let loss = z.bce_with_logits(y);
    assert_close_to(&[loss.value()], &[lit(500.0)], "bce_with_logits at +/-1000");
    assert_close_to(tape.backward(loss).wrt_slice(z), &[quarter, -quarter, zero, zero], "bce_with_logits gradient");

    let z = tape.var(&Tensor::from_rows(&[[big, big, -big]]));
    let y = tape.constant(&Tensor::from_rows(&[[half, half, zero]]));
    let loss = z.softmax().cross_entropy(y);
    assert_close_to(&[loss.value()], &[lit::<T>(2.0).ln()], "cross_entropy(softmax([1000, 1000, -1000]))");
    assert_close_to(tape.backward(loss).wrt_slice(z), &[zero; 3], "cross_entropy after softmax gradient");

    let z = tape.var(&Tensor::from_rows(&[[big, zero]]));
    let loss = z.softmax().cross_entropy(tape.constant(&Tensor::from_rows(&[[one, zero]])));
    assert_close_to(&[loss.value()], &[zero], "cross_entropy(softmax([1000, 0]), [1, 0])");
    assert_close_to(tape.backward(loss).wrt_slice(z), &[zero; 2], "cross_entropy after softmax gradient at [1000, 0]");
}

#[test]
fn sigmoid_and_softplus_are_exact_at_plus_minus_1000_f64() {
    sigmoid_and_softplus_at_plus_minus_1000::<f64>();
}

#[test]
fn sigmoid_and_softplus_are_exact_at_plus_minus_1000_f32() {
    sigmoid_and_softplus_at_plus_minus_1000::<f32>();
}

#[test]
fn softmax_log_softmax_and_logsumexp_are_exact_at_plus_minus_1000_f64() {
    softmax_family_at_plus_minus_1000::<f64>();
}

#[test]
fn softmax_log_softmax_and_logsumexp_are_exact_at_plus_minus_1000_f32() {
    softmax_family_at_plus_minus_1000::<f32>();
}

#[test]
fn losses_from_logits_are_finite_and_exact_at_plus_minus_1000_f64() {
    losses_at_plus_minus_1000::<f64>();
}

#[test]
fn losses_from_logits_are_finite_and_exact_at_plus_minus_1000_f32() {
    losses_at_plus_minus_1000::<f32>();
}

// ---------------------------------------------------------------------------------------
// The elementwise math and broadcasting of the "one op, one place" widening
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// sin' = cos and cos' = -sin, written out with the standard library.
    #[test]
    fn sin_and_cos_gradients_are_cos_and_minus_sin(x in vec(-10.0..10.0f64, 1..=8)) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&Tensor::from_slice(&x));
        let grads = tape.backward(v.sin().sum() + v.cos().sum() * 2.0);
        for (g, &xi) in grads.wrt_slice(v).iter().zip(&x) {
            let want = xi.cos() - 2.0 * xi.sin();
            prop_assert!((g - want).abs() < 1e-14, "at {xi}: {g} vs {want}");
        }
    }

    /// A row `[n]` added to `[m x n]` gets the column sums of G; a column `[m x 1]` times
    /// `[m x n]` gets the row sums of G (.) X; a scalar gets the sum of everything.
    #[test]
    fn broadcast_gradients_are_the_row_and_column_sums(
        (m, n, x, g) in (1..=5usize, 1..=5usize).prop_flat_map(|(m, n)| {
            (Just(m), Just(n), vec(-3.0..3.0f64, m * n), vec(-2.0..2.0f64, m * n))
        }),
        row in vec(-3.0..3.0f64, 5),
        column in vec(-3.0..3.0f64, 5),
        s in -3.0..3.0f64,
    ) {
        let tape = Tape::<f64>::new();
        let xv = tape.var(&Tensor::new(Shape::matrix(m, n), x.clone()));
        let rv = tape.var(&Tensor::from_slice(&row[..n]));
        let cv = tape.var(&Tensor::new(Shape::matrix(m, 1), column[..m].to_vec()));
        let sv = tape.var(s);
        let gv = tape.constant(&Tensor::new(Shape::matrix(m, n), g.clone()));
        let y = ((xv + rv) + (cv * xv) - sv * xv) * gv;
        let grads = tape.backward(y.sum());
        for j in 0..n {
            let want: f64 = (0..m).map(|i| g[i * n + j]).sum();
            prop_assert!((grads.wrt_slice(rv)[j] - want).abs() < 1e-12);
        }
        for i in 0..m {
            let want: f64 = (0..n).map(|j| g[i * n + j] * x[i * n + j]).sum();
            prop_assert!((grads.wrt_slice(cv)[i] - want).abs() < 1e-12);
        }
        let want_s: f64 = -(0..m * n).map(|k| g[k] * x[k]).sum::<f64>();
        prop_assert!((grads.wrt(sv) - want_s).abs() < 1e-12);
    }
}

/// gelu's exact form against values of `z Phi(z)` and `Phi(z) + z phi(z)` computed with the
/// C library's erfc, and the tanh form against its formula written out here.
#[test]
fn gelu_forms_match_their_formulas() {
    let exact = [
        (1.0, 0.841_344_746_068_542_9, 1.083_315_470_587_686_4),
        (-1.0, -0.158_655_253_931_457_07, -0.083_315_470_587_686_29),
        (-3.0, -0.004_049_694_094_890_287, -0.011_945_647_204_183_927),
        (2.5, 2.484_475_836_685_559_7, 1.037_611_085_908_145),
        (-10.0, -7.619_853_024_160_593e-23, -7.618_400_096_464_813e-22),
    ];
    for (z, value, slope) in exact {
        // Phi's relative condition number in the left tail is about z^2: one rounding of
        // z / sqrt(2) moves Phi(-10) by 1e-14 relative, in any implementation.
        let tolerance = 4e-15 * (1.0 + z * z);
        let tape = Tape::<f64>::new();
        let v = tape.var(z);
        let a = v.gelu();
        let g = tape.backward(a).wrt(v);
        assert!((a.value() - value).abs() <= tolerance * value.abs(), "gelu({z}) = {}", a.value());
        assert!((g - slope).abs() <= tolerance * slope.abs(), "gelu'({z}) = {g}, want {slope}");
    }
    let c = 0.044_715;
    let k = (2.0 / std::f64::consts::PI).sqrt();
    for z in [-4.0, -1.3, -0.2, 0.0, 0.7, 2.0, 5.0] {
        let tape = Tape::<f64>::new();
        let v = tape.var(z);
        let a = v.gelu_tanh();
        let t = (k * (z + c * z * z * z)).tanh();
        let want = 0.5 * z * (1.0 + t);
        let slope = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * k * (1.0 + 3.0 * c * z * z);
        assert!((a.value() - want).abs() < 1e-15, "gelu_tanh({z})");
        assert!((tape.backward(a).wrt(v) - slope).abs() < 1e-14, "gelu_tanh'({z})");
    }
}
