//! Every op's tape gradient agrees with central finite differences (G2): one proptest
//! property per op, in f64 on random shapes (scalars, vectors, 1x1 and non-square matrices,
//! sides 1 to 6) and random values (near 0, and large where the op allows), plus a smaller
//! set in f32. Covers the scalar rules (`+ - * /` between vars, with a broadcast scalar and
//! with plain numbers; neg, powi, powf, exp, ln, sqrt), F1-F5 (sigmoid, tanh, relu,
//! softplus), F6 (softmax, log_softmax, logsumexp), F8 (cross_entropy), F10
//! (bce_with_logits), F11 (softmax_cross_entropy), F14 (mse), F15 (matmul, add_bias) and
//! F16 (sum, mean).
//!
//! A tensor output is reduced to the scalar the check needs by contracting it with a random
//! fixed weight tensor of its shape, `sum(out (.) W)`, so that every output element gets its
//! own upstream: a plain `sum` would hide errors (the gradient of `sum(softmax(z))` is zero
//! whatever the rule). A scalar output is multiplied by a random weight, so that a rule that
//! ignores its upstream fails too. Every input also feeds a later term (see `agrees`), so each
//! property also proves that the op's rule adds into its inputs' adjoints, never assigns.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// Cases per f64 property. A case records two tapes of a few nodes per input element (at
/// most 36 elements per input), some tens of microseconds: the whole file runs in well under
/// a second at opt-level 1. (20,000 cases per property also pass, in about 30 s.)
const CASES: u32 = 256;
/// Cases per f32 property.
const F32_CASES: u32 = 128;

// ---------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------

/// One dimension, 1 to 6.
fn side() -> impl Strategy<Value = usize> {
    1..=6usize
}

/// A scalar, a vector `[n]` or a matrix `[r x c]` (1x1 and non-square included).
fn any_shape() -> BoxedStrategy<Shape> {
    prop_oneof![
        1 => Just(Shape::scalar()),
        2 => side().prop_map(Shape::vector),
        4 => (side(), side()).prop_map(|(r, c)| Shape::matrix(r, c)),
    ]
    .boxed()
}

/// Rows for the ops that need at least one row of classes: a vector (one row) or a matrix.
fn rows_shape() -> BoxedStrategy<Shape> {
    prop_oneof![
        1 => side().prop_map(Shape::vector),
        2 => (side(), side()).prop_map(|(r, c)| Shape::matrix(r, c)),
    ]
    .boxed()
}

/// The shape of `logsumexp` of a value of shape `s`: one element per row of a matrix, a
/// scalar for a vector or a scalar.
fn logsumexp_shape(s: Shape) -> Shape {
    if s.rank() == 2 {
        Shape::vector(s.rows())
    } else {
        Shape::scalar()
    }
}

// ---------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------

/// Signed values at three scales: near 0 (`|x| < 1e-3`), of order 1, and up to `scale`.
fn mixed(scale: f64) -> BoxedStrategy<f64> {
    prop_oneof![1 => -1e-3..1e-3, 2 => -1.0..1.0, 2 => -scale..scale].boxed()
}

/// Positive values, log-uniform in `[lo, hi]`: every decade in between equally likely.
fn positive(lo: f64, hi: f64) -> BoxedStrategy<f64> {
    (lo.ln()..=hi.ln()).prop_map(move |l| l.exp().clamp(lo, hi)).boxed()
}

/// Values with `|x|` log-uniform in `[lo, hi]` and a random sign: kept away from 0.
fn away_from_zero(lo: f64, hi: f64) -> BoxedStrategy<f64> {
    (positive(lo, hi), any::<bool>()).prop_map(|(m, negative)| if negative { -m } else { m }).boxed()
}

/// Soft binary targets in `[0, 1]`, with the ends themselves drawn often.
fn unit_interval() -> BoxedStrategy<f64> {
    prop_oneof![1 => Just(0.0), 1 => Just(1.0), 3 => 0.0..=1.0].boxed()
}

/// A contraction weight: `|w|` in `[0.5, 2]` with a random sign, so that no upstream is 0 and
/// no two are equal (almost surely).
fn weight() -> BoxedStrategy<f64> {
    away_from_zero(0.5, 2.0)
}

// ---------------------------------------------------------------------------------------
// Tensors and cases
// ---------------------------------------------------------------------------------------

/// A tensor of the given shape with independent elements drawn from `element`.
fn tensor(shape: Shape, element: BoxedStrategy<f64>) -> impl Strategy<Value = Tensor<f64>> {
    vec(element, shape.numel()).prop_map(move |data| Tensor::new(shape, data))
}

/// Signed contraction weights of the given shape.
fn weights(shape: Shape) -> impl Strategy<Value = Tensor<f64>> {
    tensor(shape, weight())
}

/// Positive contraction weights: `sum(out (.) W)` cannot cancel, so `|f|` stays as large as
/// its terms. Central differences carry a rounding error of about `eps (sum of |terms|) / h`
/// while the tolerance's absolute part scales with `|f|`; where the terms are large (exp up to
/// e^20, everything in f32), a cancelling sum would leave the tolerance below the rounding.
fn positive_weights(shape: Shape) -> impl Strategy<Value = Tensor<f64>> {
    tensor(shape, positive(0.5, 2.0))
}

/// A random upstream for an op whose output is a scalar.
fn scalar_weight() -> impl Strategy<Value = Tensor<f64>> {
    weight().prop_map(Tensor::scalar)
}

/// Rows that are probability distributions (non-negative, summing to 1), some entries exactly 0.
fn distributions(shape: Shape) -> impl Strategy<Value = Tensor<f64>> {
    tensor(shape, prop_oneof![1 => Just(0.0), 3 => 0.05..1.0].boxed()).prop_map(|mut t| {
        let cols = t.shape().cols();
        for row in t.data_mut().chunks_exact_mut(cols) {
            let total: f64 = row.iter().sum();
            if total == 0.0 {
                row[0] = 1.0;
            } else {
                row.iter_mut().for_each(|y| *y /= total);
            }
        }
        t
    })
}

/// One input of a random shape with `element` values, and weights of the same shape.
fn unary_case(element: BoxedStrategy<f64>) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    any_shape().prop_flat_map(move |s| (tensor(s, element.clone()), weights(s)))
}

/// Two inputs of one random shape, and weights of that shape.
fn binary_case(
    a: BoxedStrategy<f64>,
    b: BoxedStrategy<f64>,
) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    any_shape().prop_flat_map(move |s| (tensor(s, a.clone()), tensor(s, b.clone()), weights(s)))
}

/// A rank-0 scalar with `scalar` values, a tensor of a random shape with `element` values,
/// and weights of the tensor's shape.
fn broadcast_case(
    scalar: BoxedStrategy<f64>,
    element: BoxedStrategy<f64>,
) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    (scalar.prop_map(Tensor::scalar), unary_case(element)).prop_map(|(s, (x, w))| (s, x, w))
}

/// Logits of a random row shape, one valid class label per row, and a scalar upstream.
fn labelled_logits(scale: f64) -> impl Strategy<Value = (Tensor<f64>, Vec<usize>, Tensor<f64>)> {
    rows_shape().prop_flat_map(move |s| (tensor(s, mixed(scale)), vec(0..s.cols(), s.rows()), scalar_weight()))
}

/// Logits of a random shape, soft binary targets of the same shape, and a scalar upstream.
fn logits_and_soft_targets(scale: f64) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Tensor<f64>)> {
    any_shape().prop_flat_map(move |s| (tensor(s, mixed(scale)), tensor(s, unit_interval()), scalar_weight()))
}

// ---------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------

/// `sum(out (.) weights)`: the scalar whose gradient sends `weights` upstream into `out`.
fn contract<'t, T: Real>(tape: &'t Tape<T>, out: Var<'t, T>, weights: &Tensor<T>) -> Var<'t, T> {
    assert_eq!(out.shape(), weights.shape(), "contract: the weights must have the output's shape");
    (out * tape.constant(weights)).sum()
}

/// Fails the case unless the tape's gradient of `f` at `inputs` agrees with central
/// differences within the default tolerance for `T`, printing the inputs and both gradients.
///
/// The function checked is `f + sum_i sum(x_i) / 2`: every input also feeds a term recorded
/// after `f`'s nodes, whose adjoint the reverse sweep delivers to the leaf first. A rule that
/// assigned into its input's adjoint instead of adding into it would erase that 1/2 and fail.
fn agrees<T: Real, F>(f: F, inputs: &[Tensor<T>]) -> Result<(), TestCaseError>
where
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Var<'t, T>,
{
    let report =
        check_gradients(|tape, v| v.iter().fold(f(tape, v), |total, &x| total + x.sum() * T::lit(0.5)), inputs);
    prop_assert!(
        report.passes(Tolerance::default()),
        "tape gradient and central differences disagree\ninputs: {inputs:?}\n{report}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Arithmetic between vars: equal shapes, and a rank-0 scalar broadcast on either side
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn add_matches_central_differences((a, b, w) in binary_case(mixed(10.0), mixed(10.0))) {
        agrees(|tape, v| contract(tape, v[0] + v[1], &w), &[a, b])?;
    }

    #[test]
    fn sub_matches_central_differences((a, b, w) in binary_case(mixed(10.0), mixed(10.0))) {
        agrees(|tape, v| contract(tape, v[0] - v[1], &w), &[a, b])?;
    }

    #[test]
    fn mul_matches_central_differences((a, b, w) in binary_case(mixed(10.0), mixed(10.0))) {
        agrees(|tape, v| contract(tape, v[0] * v[1], &w), &[a, b])?;
    }

    #[test]
    fn div_matches_central_differences((a, b, w) in binary_case(mixed(10.0), away_from_zero(0.2, 10.0))) {
        agrees(|tape, v| contract(tape, v[0] / v[1], &w), &[a, b])?;
    }

    #[test]
    fn add_with_a_scalar_on_the_left_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[0] + v[1], &w), &[s, x])?;
    }

    #[test]
    fn add_with_a_scalar_on_the_right_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[1] + v[0], &w), &[s, x])?;
    }

    #[test]
    fn sub_with_a_scalar_on_the_left_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[0] - v[1], &w), &[s, x])?;
    }

    #[test]
    fn sub_with_a_scalar_on_the_right_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[1] - v[0], &w), &[s, x])?;
    }

    #[test]
    fn mul_with_a_scalar_on_the_left_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[0] * v[1], &w), &[s, x])?;
    }

    #[test]
    fn mul_with_a_scalar_on_the_right_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), mixed(10.0)),
    ) {
        agrees(|tape, v| contract(tape, v[1] * v[0], &w), &[s, x])?;
    }

    #[test]
    fn div_with_a_scalar_on_the_left_matches_central_differences(
        (s, x, w) in broadcast_case(mixed(10.0), away_from_zero(0.2, 10.0)),
    ) {
        // s / x: the scalar numerator meets every element of the denominator.
        agrees(|tape, v| contract(tape, v[0] / v[1], &w), &[s, x])?;
    }

    #[test]
    fn div_with_a_scalar_on_the_right_matches_central_differences(
        (s, x, w) in broadcast_case(away_from_zero(0.2, 10.0), mixed(10.0)),
    ) {
        // x / s: every element is divided by the one scalar denominator.
        agrees(|tape, v| contract(tape, v[1] / v[0], &w), &[s, x])?;
    }
}

// ---------------------------------------------------------------------------------------
// Arithmetic with a plain number on either side
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn var_plus_number_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, v[0] + c, &w), &[x])?;
    }

    #[test]
    fn number_plus_var_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, c + v[0], &w), &[x])?;
    }

    #[test]
    fn var_minus_number_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, v[0] - c, &w), &[x])?;
    }

    #[test]
    fn number_minus_var_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, c - v[0], &w), &[x])?;
    }

    #[test]
    fn var_times_number_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, v[0] * c, &w), &[x])?;
    }

    #[test]
    fn number_times_var_matches_central_differences((x, w) in unary_case(mixed(10.0)), c in mixed(10.0)) {
        agrees(|tape, v| contract(tape, c * v[0], &w), &[x])?;
    }

    #[test]
    fn var_over_number_matches_central_differences(
        (x, w) in unary_case(mixed(10.0)),
        c in away_from_zero(0.1, 10.0),
    ) {
        agrees(|tape, v| contract(tape, v[0] / c, &w), &[x])?;
    }

    #[test]
    fn number_over_var_matches_central_differences(
        (x, w) in unary_case(away_from_zero(0.1, 10.0)),
        c in mixed(10.0),
    ) {
        agrees(|tape, v| contract(tape, c / v[0], &w), &[x])?;
    }
}

// ---------------------------------------------------------------------------------------
// Elementwise functions (F1) and activations (F2-F5)
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn neg_matches_central_differences((x, w) in unary_case(mixed(50.0))) {
        agrees(|tape, v| contract(tape, -v[0], &w), &[x])?;
    }

    #[test]
    fn powi_matches_central_differences((x, w) in unary_case(away_from_zero(0.2, 3.0)), n in -3..=4i32) {
        agrees(|tape, v| contract(tape, v[0].powi(n), &w), &[x])?;
    }

    #[test]
    fn powf_matches_central_differences(
        (x, w) in unary_case(positive(0.1, 10.0)),
        p in prop_oneof![1 => prop::sample::select(vec![0.0, 1.0, 2.0, 0.5, -1.0]), 3 => -2.5..3.5],
    ) {
        agrees(|tape, v| contract(tape, v[0].powf(p), &w), &[x])?;
    }

    #[test]
    fn exp_matches_central_differences(
        (x, w) in any_shape().prop_flat_map(|s| (tensor(s, mixed(20.0)), positive_weights(s))),
    ) {
        // Positive weights: the terms reach e^20 = 4.9e8, see `positive_weights`.
        agrees(|tape, v| contract(tape, v[0].exp(), &w), &[x])?;
    }

    #[test]
    fn ln_matches_central_differences((x, w) in unary_case(positive(0.05, 100.0))) {
        agrees(|tape, v| contract(tape, v[0].ln(), &w), &[x])?;
    }

    #[test]
    fn sqrt_matches_central_differences((x, w) in unary_case(positive(0.05, 100.0))) {
        agrees(|tape, v| contract(tape, v[0].sqrt(), &w), &[x])?;
    }

    #[test]
    fn sigmoid_matches_central_differences((z, w) in unary_case(mixed(40.0))) {
        agrees(|tape, v| contract(tape, v[0].sigmoid(), &w), &[z])?;
    }

    #[test]
    fn tanh_matches_central_differences((z, w) in unary_case(mixed(40.0))) {
        agrees(|tape, v| contract(tape, v[0].tanh(), &w), &[z])?;
    }

    #[test]
    fn relu_matches_central_differences((z, w) in unary_case(away_from_zero(2e-3, 40.0))) {
        // |z| >= 2e-3 is far beyond the step (6e-6 there): no difference straddles the kink (G2).
        agrees(|tape, v| contract(tape, v[0].relu(), &w), &[z])?;
    }

    #[test]
    fn softplus_matches_central_differences((z, w) in unary_case(mixed(50.0))) {
        agrees(|tape, v| contract(tape, v[0].softplus(), &w), &[z])?;
    }
}

// ---------------------------------------------------------------------------------------
// Linear maps (F15)
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn matmul_of_matrix_by_matrix_matches_central_differences(
        (x, y, w) in (side(), side(), side()).prop_flat_map(|(m, k, n)| (
            tensor(Shape::matrix(m, k), mixed(3.0)),
            tensor(Shape::matrix(k, n), mixed(3.0)),
            weights(Shape::matrix(m, n)),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].matmul(v[1]), &w), &[x, y])?;
    }

    #[test]
    fn matmul_of_vector_by_matrix_matches_central_differences(
        (x, y, w) in (side(), side()).prop_flat_map(|(k, n)| (
            tensor(Shape::vector(k), mixed(3.0)),
            tensor(Shape::matrix(k, n), mixed(3.0)),
            weights(Shape::vector(n)),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].matmul(v[1]), &w), &[x, y])?;
    }

    #[test]
    fn matmul_of_matrix_by_vector_matches_central_differences(
        (x, y, w) in (side(), side()).prop_flat_map(|(m, k)| (
            tensor(Shape::matrix(m, k), mixed(3.0)),
            tensor(Shape::vector(k), mixed(3.0)),
            weights(Shape::vector(m)),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].matmul(v[1]), &w), &[x, y])?;
    }

    #[test]
    fn matmul_of_vector_dot_vector_matches_central_differences(
        (x, y, w) in side().prop_flat_map(|k| (
            tensor(Shape::vector(k), mixed(3.0)),
            tensor(Shape::vector(k), mixed(3.0)),
            scalar_weight(),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].matmul(v[1]), &w), &[x, y])?;
    }

    #[test]
    fn add_bias_with_a_vector_bias_matches_central_differences(
        (x, b, w) in rows_shape().prop_flat_map(|s| (
            tensor(s, mixed(10.0)),
            tensor(Shape::vector(s.cols()), mixed(10.0)),
            weights(s),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].add_bias(v[1]), &w), &[x, b])?;
    }

    #[test]
    fn add_bias_with_a_row_bias_matches_central_differences(
        (x, b, w) in rows_shape().prop_flat_map(|s| (
            tensor(s, mixed(10.0)),
            tensor(Shape::matrix(1, s.cols()), mixed(10.0)),
            weights(s),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].add_bias(v[1]), &w), &[x, b])?;
    }
}

// ---------------------------------------------------------------------------------------
// Row-wise softmax family (F6)
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn softmax_matches_central_differences((z, w) in unary_case(mixed(30.0))) {
        agrees(|tape, v| contract(tape, v[0].softmax(), &w), &[z])?;
    }

    #[test]
    fn log_softmax_matches_central_differences((z, w) in unary_case(mixed(30.0))) {
        agrees(|tape, v| contract(tape, v[0].log_softmax(), &w), &[z])?;
    }

    #[test]
    fn logsumexp_matches_central_differences(
        (z, w) in any_shape().prop_flat_map(|s| (tensor(s, mixed(50.0)), weights(logsumexp_shape(s)))),
    ) {
        agrees(|tape, v| contract(tape, v[0].logsumexp(), &w), &[z])?;
    }
}

// ---------------------------------------------------------------------------------------
// Losses (F8, F10, F11, F14) and reductions (F16)
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn cross_entropy_of_softmax_probabilities_matches_central_differences(
        (z, y, c) in any_shape().prop_flat_map(|s| (tensor(s, mixed(30.0)), distributions(s), scalar_weight())),
    ) {
        // Probabilities as small as e^-60 here: dL/dp = -y/p is huge, and the softmax rule
        // must turn it back into p - y (F11).
        agrees(|tape, v| contract(tape, v[0].softmax().cross_entropy(tape.constant(&y)), &c), &[z])?;
    }

    #[test]
    fn cross_entropy_of_direct_probabilities_matches_central_differences(
        (p, y, c) in any_shape().prop_flat_map(|s| (tensor(s, positive(0.05, 1.0)), distributions(s), scalar_weight())),
    ) {
        agrees(|tape, v| contract(tape, v[0].cross_entropy(tape.constant(&y)), &c), &[p])?;
    }

    #[test]
    fn cross_entropy_with_trainable_targets_matches_central_differences(
        (p, y, c) in any_shape().prop_flat_map(|s| (
            tensor(s, positive(0.05, 1.0)),
            tensor(s, prop_oneof![1 => Just(0.0), 3 => 0.0..=1.0].boxed()),
            scalar_weight(),
        )),
    ) {
        // Targets exactly 0 sit where the forward skips the term: the derivative in y is still -log p.
        agrees(|tape, v| contract(tape, v[0].cross_entropy(v[1]), &c), &[p, y])?;
    }

    #[test]
    fn softmax_cross_entropy_matches_central_differences((z, labels, c) in labelled_logits(40.0)) {
        agrees(|tape, v| contract(tape, v[0].softmax_cross_entropy(&labels), &c), &[z])?;
    }

    #[test]
    fn bce_with_logits_matches_central_differences(
        (z, y, c) in logits_and_soft_targets(40.0),
    ) {
        agrees(|tape, v| contract(tape, v[0].bce_with_logits(tape.constant(&y)), &c), &[z])?;
    }

    #[test]
    fn bce_with_logits_with_trainable_targets_matches_central_differences(
        (z, y, c) in logits_and_soft_targets(40.0),
    ) {
        agrees(|tape, v| contract(tape, v[0].bce_with_logits(v[1]), &c), &[z, y])?;
    }

    #[test]
    fn mse_matches_central_differences(
        (p, t, c) in any_shape().prop_flat_map(|s| (tensor(s, mixed(10.0)), tensor(s, mixed(10.0)), scalar_weight())),
    ) {
        agrees(|tape, v| contract(tape, v[0].mse(v[1]), &c), &[p, t])?;
    }

    #[test]
    fn sum_matches_central_differences(
        (x, c) in any_shape().prop_flat_map(|s| (tensor(s, mixed(50.0)), scalar_weight())),
    ) {
        agrees(|tape, v| contract(tape, v[0].sum(), &c), &[x])?;
    }

    #[test]
    fn mean_matches_central_differences(
        (x, c) in any_shape().prop_flat_map(|s| (tensor(s, mixed(50.0)), scalar_weight())),
    ) {
        agrees(|tape, v| contract(tape, v[0].mean(), &c), &[x])?;
    }
}

// ---------------------------------------------------------------------------------------
// f32, with the f32 default tolerance (abs 1e-3, rel 1e-2)
// ---------------------------------------------------------------------------------------

/// Moderate f64 values, drawn then rounded to f32.
fn f32_tensor(shape: Shape, scale: f64) -> impl Strategy<Value = Tensor<f32>> {
    tensor(shape, mixed(scale)).prop_map(|t| t.cast::<f32>())
}

/// Positive f32 contraction weights; see `positive_weights`: in f32 the rounding of a central
/// difference, about `1e-5 (sum of |terms|)`, is within a factor 100 of the tolerance (these
/// properties still pass 50,000 cases with a tolerance 5 times tighter than the default).
fn f32_weights(shape: Shape) -> impl Strategy<Value = Tensor<f32>> {
    positive_weights(shape).prop_map(|t| t.cast::<f32>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(F32_CASES))]

    #[test]
    fn f32_sigmoid_matches_central_differences(
        (z, w) in any_shape().prop_flat_map(|s| (f32_tensor(s, 4.0), f32_weights(s))),
    ) {
        agrees(|tape, v| contract(tape, v[0].sigmoid(), &w), &[z])?;
    }

    #[test]
    fn f32_tanh_matches_central_differences(
        (z, w) in any_shape().prop_flat_map(|s| (f32_tensor(s, 4.0), f32_weights(s))),
    ) {
        agrees(|tape, v| contract(tape, v[0].tanh(), &w), &[z])?;
    }

    #[test]
    fn f32_matmul_then_add_bias_matches_central_differences(
        (x, a, b, w) in (side(), side(), side()).prop_flat_map(|(m, k, n)| (
            f32_tensor(Shape::matrix(m, k), 1.0),
            f32_tensor(Shape::matrix(k, n), 1.0),
            f32_tensor(Shape::vector(n), 1.0),
            f32_weights(Shape::matrix(m, n)),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].matmul(v[1]).add_bias(v[2]), &w), &[x, a, b])?;
    }

    #[test]
    fn f32_softmax_cross_entropy_matches_central_differences(
        (z, labels, c) in rows_shape().prop_flat_map(|s| (
            f32_tensor(s, 4.0),
            vec(0..s.cols(), s.rows()),
            f32_weights(Shape::scalar()),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].softmax_cross_entropy(&labels), &c), &[z])?;
    }

    #[test]
    fn f32_mse_matches_central_differences(
        (p, t, c) in any_shape().prop_flat_map(|s| (
            f32_tensor(s, 2.0),
            f32_tensor(s, 2.0),
            f32_weights(Shape::scalar()),
        )),
    ) {
        agrees(|tape, v| contract(tape, v[0].mse(v[1]), &c), &[p, t])?;
    }
}
