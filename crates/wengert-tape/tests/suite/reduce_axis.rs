//! Reductions along one axis, against their closed forms written out here with plain f64
//! loops over an explicit `(row, col)` walk: sum_axis's gradient is the upstream of each lane,
//! mean_axis's is `1/n` of it, max_axis and min_axis send it to the arg-max (arg-min) and
//! split it evenly at an exact tie, logsumexp_axis's is softmax along the axis, var_axis's is
//! `2 (x - mean) / (n - c)`; softmax_axis(0) and log_softmax_axis(0) are the transpose of the
//! row-wise op on the transpose, in value and gradient. Also numpy's shapes, and misuse panics
//! naming the op and the shape.

use proptest::collection::vec;
use proptest::prelude::*;
use wengert_tape::{Shape, Tape, Tensor, Var};

/// Cases per property: each records one small tape.
const CASES: u32 = 512;

/// True if `|got - want| <= abs + rel max(|got|, |want|)`, elementwise, with equal lengths.
fn all_close(got: &[f64], want: &[f64], abs: f64, rel: f64) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(&g, &w)| (g - w).abs() <= abs + rel * g.abs().max(w.abs()))
}

/// A matrix `[r x c]` (1 to 5 each) with elements in `-8..8`, continuous (no ties).
fn matrix() -> impl Strategy<Value = Tensor<f64>> {
    (1..=5usize, 1..=5usize)
        .prop_flat_map(|(r, c)| vec(-8.0..8.0, r * c).prop_map(move |d| Tensor::new(Shape::matrix(r, c), d)))
}

/// A matrix, and an upstream seed per element of its reduction along an axis (at most 5).
fn matrix_and_seed() -> impl Strategy<Value = (Tensor<f64>, Vec<f64>)> {
    (matrix(), vec(-2.0..2.0, 5))
}

/// The lanes of `shape` along `axis` as lists of `(row, col)`: down each column for axis 0,
/// along each row for axis 1.
fn lanes(shape: Shape, axis: usize) -> Vec<Vec<(usize, usize)>> {
    let (rows, cols) = (shape.rows(), shape.cols());
    if axis == 0 {
        (0..cols).map(|c| (0..rows).map(|r| (r, c)).collect()).collect()
    } else {
        (0..rows).map(|r| (0..cols).map(|c| (r, c)).collect()).collect()
    }
}

/// `x` transposed, element by element.
fn transpose(x: &Tensor<f64>) -> Tensor<f64> {
    let (rows, cols) = (x.shape().rows(), x.shape().cols());
    Tensor::from_fn(Shape::matrix(cols, rows), |k| x[(k % rows, k / rows)])
}

/// Softmax of one list by plain loops, with the max subtracted.
fn softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = z.iter().map(|&zi| (zi - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// An axis reduction: `(x, axis, keepdim) -> y`.
type Reduction = for<'t> fn(Var<'t, f64>, usize, bool) -> Var<'t, f64>;

/// The reduction `reduce` of `x` along `axis`, its values, and the gradient of x under the
/// upstream `seed` (one per lane).
fn reduce_and_pull_back(
    x: &Tensor<f64>,
    axis: usize,
    keepdim: bool,
    seed: &[f64],
    reduce: Reduction,
) -> (Vec<f64>, Vec<f64>) {
    let tape = Tape::<f64>::new();
    let xv = tape.var(x);
    let y = reduce(xv, axis, keepdim);
    let values = y.values().to_vec();
    let gradient = tape.backward_with_seed(y, &seed[..values.len()]).wrt_slice(xv).to_vec();
    (values, gradient)
}

/// The gradient an independent rule gives: element `(r, c)` of lane `i` gets
/// `seed[i] * local(i, lane, (r, c))`.
fn expected_gradient(
    x: &Tensor<f64>,
    axis: usize,
    seed: &[f64],
    local: impl Fn(&[(usize, usize)], (usize, usize)) -> f64,
) -> Vec<f64> {
    let mut want = vec![0.0; x.len()];
    for (i, lane) in lanes(x.shape(), axis).iter().enumerate() {
        for &(r, c) in lane {
            want[r * x.shape().cols() + c] += seed[i] * local(lane, (r, c));
        }
    }
    want
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// F16 along an axis: each lane's sum, and every element of the lane gets the lane's
    /// upstream (the gradient of a plain sum of the output is all ones); the mean's is `1/n`
    /// of it, `n` the lane's length.
    #[test]
    fn sum_axis_gradient_is_ones_and_mean_axis_gradient_is_one_over_the_lane_length(
        (x, seed) in matrix_and_seed(), axis in 0..2usize, keepdim in any::<bool>(),
    ) {
        let ones = vec![1.0; 5];
        let (_, plain) = reduce_and_pull_back(&x, axis, keepdim, &ones, |x, a, k| x.sum_axis(a, k));
        prop_assert_eq!(plain, vec![1.0; x.len()]);
        let reductions: [(bool, Reduction); 2] = [(false, |x, a, k| x.sum_axis(a, k)), (true, |x, a, k| x.mean_axis(a, k))];
        for (mean, reduce) in reductions {
            let (values, gradient) = reduce_and_pull_back(&x, axis, keepdim, &seed, reduce);
            let lanes = lanes(x.shape(), axis);
            let scale = |lane: &[(usize, usize)]| if mean { 1.0 / lane.len() as f64 } else { 1.0 };
            let want: Vec<f64> = lanes.iter().map(|l| l.iter().map(|&p| x[p]).sum::<f64>() * scale(l)).collect();
            prop_assert!(all_close(&values, &want, 1e-12, 1e-12), "values {values:?}, want {want:?}, x = {x:?}");
            let want = expected_gradient(&x, axis, &seed, |lane, _| scale(lane));
            prop_assert!(all_close(&gradient, &want, 1e-15, 1e-14), "mean {mean}: {gradient:?}, want {want:?}");
        }
    }

    /// max_axis and min_axis: each lane's largest (smallest) element, and the lane's upstream
    /// goes to its arg-max (arg-min), found here by index; nothing to the others.
    #[test]
    fn max_axis_and_min_axis_gradients_go_to_the_arg_max_and_arg_min(
        (x, seed) in matrix_and_seed(), axis in 0..2usize, keepdim in any::<bool>(),
    ) {
        let reductions: [(bool, Reduction); 2] = [(true, |x, a, k| x.max_axis(a, k)), (false, |x, a, k| x.min_axis(a, k))];
        for (largest, reduce) in reductions {
            let (values, gradient) = reduce_and_pull_back(&x, axis, keepdim, &seed, reduce);
            let arg = |lane: &[(usize, usize)]| {
                let mut best = lane[0];
                for &p in lane {
                    if (largest && x[p] > x[best]) || (!largest && x[p] < x[best]) {
                        best = p;
                    }
                }
                best
            };
            let want: Vec<f64> = lanes(x.shape(), axis).iter().map(|l| x[arg(l)]).collect();
            prop_assert_eq!(&values, &want, "largest {}, x = {:?}", largest, x);
            let want = expected_gradient(&x, axis, &seed, |lane, p| if p == arg(lane) { 1.0 } else { 0.0 });
            prop_assert_eq!(&gradient, &want, "largest {}, x = {:?}", largest, x);
        }
    }

    /// logsumexp_axis: `log sum e^x` of each lane, and the gradient of each lane is softmax
    /// of the lane times its upstream.
    #[test]
    fn logsumexp_axis_gradient_is_softmax_along_the_axis(
        (x, seed) in matrix_and_seed(), axis in 0..2usize, keepdim in any::<bool>(),
    ) {
        let (values, gradient) = reduce_and_pull_back(&x, axis, keepdim, &seed, |x, a, k| x.logsumexp_axis(a, k));
        let lanes = lanes(x.shape(), axis);
        let want: Vec<f64> = lanes.iter().map(|l| l.iter().map(|&p| x[p].exp()).sum::<f64>().ln()).collect();
        prop_assert!(all_close(&values, &want, 1e-13, 1e-13), "values {values:?}, want {want:?}, x = {x:?}");
        let want = expected_gradient(&x, axis, &seed, |lane, p| {
            let probabilities = softmax(&lane.iter().map(|&q| x[q]).collect::<Vec<_>>());
            probabilities[lane.iter().position(|&q| q == p).unwrap()]
        });
        prop_assert!(all_close(&gradient, &want, 1e-15, 1e-13), "{gradient:?}, want {want:?}, x = {x:?}");
    }

    /// var_axis: `sum (x - mean)^2 / (n - c)` per lane, and its gradient
    /// `2 (x - mean) / (n - c)`, for the population (c = 0) and the sample (c = 1) variance.
    #[test]
    fn var_axis_matches_the_formula_written_out(
        (x, seed) in matrix_and_seed(), axis in 0..2usize, keepdim in any::<bool>(), correction in 0..2usize,
    ) {
        let lanes = lanes(x.shape(), axis);
        prop_assume!(correction < lanes[0].len());
        let tape = Tape::<f64>::new();
        let xv = tape.var(&x);
        let y = xv.var_axis_with_correction(axis, keepdim, correction);
        let values = y.values().to_vec();
        let gradient = tape.backward_with_seed(y, &seed[..values.len()]).wrt_slice(xv).to_vec();
        let mean = |lane: &[(usize, usize)]| lane.iter().map(|&p| x[p]).sum::<f64>() / lane.len() as f64;
        let divisor = |lane: &[(usize, usize)]| (lane.len() - correction) as f64;
        let want: Vec<f64> =
            lanes.iter().map(|l| l.iter().map(|&p| (x[p] - mean(l)).powi(2)).sum::<f64>() / divisor(l)).collect();
        prop_assert!(all_close(&values, &want, 1e-12, 1e-12), "values {values:?}, want {want:?}, x = {x:?}");
        let want = expected_gradient(&x, axis, &seed, |lane, p| 2.0 * (x[p] - mean(lane)) / divisor(lane));
        prop_assert!(all_close(&gradient, &want, 1e-13, 1e-12), "{gradient:?}, want {want:?}, x = {x:?}");
        if correction == 0 {
            let population = Tape::<f64>::new();
            let plain = population.var(&x).var_axis(axis, keepdim);
            prop_assert_eq!(&*plain.values(), &values[..]);
        }
    }

    /// softmax_axis(0) and log_softmax_axis(0) of Z equal the transpose of the row-wise
    /// softmax (log_softmax) of Z^T, transposed by hand; and so do their gradients under an
    /// upstream G: the row-wise op's gradient under G^T, transposed. Each column of
    /// softmax_axis(0) sums to 1.
    #[test]
    fn softmax_axis_zero_is_the_transpose_of_softmax_of_the_transpose(
        (z, seed) in matrix().prop_flat_map(|z| {
            let n = z.len();
            (Just(z), vec(-2.0..2.0, n))
        }),
        log in any::<bool>(),
    ) {
        let shape = z.shape();
        let g = Tensor::new(shape, seed);
        let by_columns = Tape::<f64>::new();
        let zv = by_columns.var(&z);
        let y = if log { zv.log_softmax_axis(0) } else { zv.softmax_axis(0) };
        prop_assert_eq!(y.shape(), shape);
        let (values, gradient) = (y.to_tensor(), by_columns.backward_with_seed(y, g.data()).wrt_tensor(zv));

        let by_rows = Tape::<f64>::new();
        let zt = by_rows.var(&transpose(&z));
        let yt = if log { zt.log_softmax() } else { zt.softmax() };
        let want_values = transpose(&yt.to_tensor());
        let want_gradient = transpose(&by_rows.backward_with_seed(yt, transpose(&g).data()).wrt_tensor(zt));
        prop_assert!(all_close(values.data(), want_values.data(), 1e-15, 1e-14),
            "log {log}: {values:?}, want {want_values:?}, z = {z:?}");
        prop_assert!(all_close(gradient.data(), want_gradient.data(), 1e-15, 1e-13),
            "log {log}: {gradient:?}, want {want_gradient:?}, z = {z:?}");
        if !log {
            for c in 0..shape.cols() {
                let total: f64 = (0..shape.rows()).map(|r| values[(r, c)]).sum();
                prop_assert!((total - 1.0).abs() <= 1e-15, "column {c} sums to {total}");
            }
        }
    }

    /// softmax_axis(1) is the row-wise softmax itself (the same op, the same values), and so
    /// is a vector's softmax_axis(0).
    #[test]
    fn softmax_axis_one_records_the_row_wise_op(z in matrix()) {
        let tape = Tape::<f64>::new();
        let zv = tape.var(&z);
        let row = tape.var(&Tensor::from_slice(&z.data()[..z.shape().cols()]));
        let pairs = [
            (zv.softmax_axis(1), zv.softmax()),
            (zv.log_softmax_axis(1), zv.log_softmax()),
            (row.softmax_axis(0), row.softmax()),
            (row.log_softmax_axis(0), row.log_softmax()),
        ];
        for (by_axis, row_wise) in pairs {
            prop_assert_eq!(by_axis.op_name(), row_wise.op_name());
            prop_assert_eq!(&*by_axis.values(), &*row_wise.values());
        }
        let want: Vec<f64> = z.data().chunks(z.shape().cols()).flat_map(softmax).collect();
        prop_assert!(all_close(&zv.softmax_axis(1).values(), &want, 1e-16, 1e-14));
    }

    /// A vector's only axis reduces it whole: each axis op equals its full reduction.
    #[test]
    fn a_vectors_axis_zero_reduces_it_to_a_scalar(x in vec(-8.0..8.0, 1..=6)) {
        let tape = Tape::<f64>::new();
        let xv = tape.var(&Tensor::from_slice(&x));
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let want = [
            x.iter().sum::<f64>(),
            mean,
            x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            x.iter().copied().fold(f64::INFINITY, f64::min),
            x.iter().map(|v| v.exp()).sum::<f64>().ln(),
            x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n,
        ];
        let got = [
            xv.sum_axis(0, false), xv.mean_axis(0, false), xv.max_axis(0, false),
            xv.min_axis(0, false), xv.logsumexp_axis(0, false), xv.var_axis(0, false),
        ];
        for (y, want) in got.iter().zip(want) {
            prop_assert_eq!(y.shape(), Shape::scalar());
            prop_assert!(all_close(&[y.value()], &[want], 1e-12, 1e-12), "{}: {} vs {want}", y.op_name(), y.value());
        }
    }
}

#[test]
fn max_axis_and_min_axis_split_the_gradient_evenly_at_an_exact_tie() {
    let tape = Tape::<f64>::new();
    // Row 0 has a three-way tie for the max, row 1 a two-way tie; column 2 a two-way tie for
    // the min (the 2s), column 3 for the max (the 1s).
    let x = tape.var(&Tensor::from_rows(&[[2.0, 2.0, 2.0, 1.0], [0.0, 3.0, 3.0, 1.0], [5.0, 4.0, 2.0, -1.0]]));
    let rows = x.max_axis(1, true);
    assert_eq!(&*rows.values(), &[2.0, 3.0, 5.0]);
    let third = 1.0 / 3.0;
    #[rustfmt::skip]
    let want = [
        third, third, third, 0.0,
        0.0, 0.5, 0.5, 0.0,
        1.0, 0.0, 0.0, 0.0,
    ];
    assert_eq!(tape.backward(rows.sum()).wrt_slice(x), &want);

    let seed = [10.0, 20.0, 30.0, 40.0];
    let columns = x.min_axis(0, false);
    assert_eq!(&*columns.values(), &[0.0, 2.0, 2.0, -1.0]);
    #[rustfmt::skip]
    let want = [
        0.0, 20.0, 15.0, 0.0,
        10.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 15.0, 40.0,
    ];
    assert_eq!(tape.backward_with_seed(columns, &seed).wrt_slice(x), &want);

    let columns = x.max_axis(0, true);
    assert_eq!(&*columns.values(), &[5.0, 4.0, 3.0, 1.0]);
    #[rustfmt::skip]
    let want = [
        0.0, 0.0, 0.0, 20.0,
        0.0, 0.0, 30.0, 20.0,
        10.0, 20.0, 0.0, 0.0,
    ];
    assert_eq!(tape.backward_with_seed(columns, &seed).wrt_slice(x), &want);
}

#[test]
fn max_axis_of_a_lane_with_nan_is_nan() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_rows(&[[1.0, f64::NAN, 3.0], [1.0, 2.0, 3.0]]));
    let max = x.max_axis(1, false);
    let min = x.min_axis(1, false);
    assert!(max.values()[0].is_nan() && min.values()[0].is_nan());
    assert_eq!((max.values()[1], min.values()[1]), (3.0, 1.0));
}

#[test]
fn logsumexp_axis_is_exact_at_plus_minus_1000() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_rows(&[[1000.0, -1000.0], [1000.0, -1000.0]]));
    let columns = x.logsumexp_axis(0, false);
    let ln2 = 2f64.ln();
    assert_eq!(&*columns.values(), &[1000.0 + ln2, -1000.0 + ln2]);
    let rows = x.logsumexp_axis(1, false);
    assert_eq!(&*rows.values(), &[1000.0, 1000.0]);
    assert_eq!(tape.backward(rows.sum()).wrt_slice(x), &[1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn axis_reductions_take_numpys_shapes() {
    let tape = Tape::<f64>::new();
    let m = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let v = tape.var(&Tensor::zeros(Shape::vector(4)));
    let cases = [
        (m.sum_axis(0, false), Shape::vector(3)),
        (m.mean_axis(0, true), Shape::matrix(1, 3)),
        (m.max_axis(1, false), Shape::vector(2)),
        (m.min_axis(1, true), Shape::matrix(2, 1)),
        (v.logsumexp_axis(0, false), Shape::scalar()),
        (v.var_axis(0, true), Shape::vector(1)),
    ];
    for (y, want) in cases {
        assert_eq!(y.shape(), want, "{}", y.op_name());
    }
}

#[test]
#[should_panic(expected = "sum_axis: axis 1 is out of range for [3] (a vector has only axis 0)")]
fn sum_axis_of_a_vector_along_axis_one_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0])).sum_axis(1, false);
}

#[test]
#[should_panic(expected = "max_axis: axis 2 is out of range for [2 x 3] (a matrix has axes 0 and 1)")]
fn max_axis_of_a_matrix_along_axis_two_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::matrix(2, 3))).max_axis(2, true);
}

#[test]
#[should_panic(expected = "mean_axis: axis 0 is out of range for [] (a scalar has none)")]
fn mean_axis_of_a_scalar_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(1.0).mean_axis(0, false);
}

#[test]
#[should_panic(expected = "var_axis: correction 2 leaves no degree of freedom along axis 0 of [2 x 3] (2 elements)")]
fn var_axis_with_a_correction_as_large_as_the_lane_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::matrix(2, 3))).var_axis_with_correction(0, false, 2);
}

#[test]
fn softmax_axis_and_log_softmax_axis_are_exact_at_plus_minus_1000() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::from_rows(&[[1000.0, -1000.0], [0.0, -1000.0]]));
    assert_eq!(&*z.softmax_axis(0).values(), &[1.0, 0.5, 0.0, 0.5]);
    let ln2 = 2f64.ln();
    assert_eq!(&*z.log_softmax_axis(0).values(), &[0.0, -ln2, -1000.0, -ln2]);
    let f32_tape = Tape::<f32>::new();
    let z = f32_tape.var(&Tensor::from_rows(&[[1000.0_f32], [-1000.0]]));
    assert_eq!(&*z.softmax_axis(0).values(), &[1.0, 0.0]);
    assert_eq!(&*z.log_softmax_axis(0).values(), &[0.0, -2000.0]);
}

#[test]
#[should_panic(expected = "softmax_axis: axis 0 is out of range for [] (a scalar has none)")]
fn softmax_axis_of_a_scalar_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(1.0).softmax_axis(0);
}

#[test]
#[should_panic(expected = "log_softmax_axis: axis 1 is out of range for [4] (a vector has only axis 0)")]
fn log_softmax_axis_of_a_vector_along_axis_one_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::vector(4))).log_softmax_axis(1);
}
