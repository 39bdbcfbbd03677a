//! Hand-written backprop, the way a user writes it without a tape: plain loops over the
//! tensors' data. One table of op families (the function, its correct gradient, the same
//! function on the tape, and the random inputs it is checked at) and one table of mutants
//! (a classic slip in one backward rule each). `no_false_alarms.rs` and `mutants.rs` share them.
//!
//! Every function is a scalar loss of all its inputs; an elementwise or tensor-valued op is
//! contracted with a random upstream tensor `G` (`L = sum(G (.) op(x))`), so that the rule
//! has to use its upstream. `G` keeps `|G| >= 0.1` so that every mutant's error is visible.

#![allow(dead_code)]

use proptest::prelude::*;
use wengert_check::strategy::{matrix, tensor};
use wengert_tape::{Shape, Tape, Tensor, Var};

pub type Inputs = Vec<Tensor<f64>>;
pub type Loss = fn(&[Tensor<f64>]) -> f64;
pub type Gradient = fn(&[Tensor<f64>]) -> Vec<Tensor<f64>>;
pub type OnTape = for<'t> fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Var<'t, f64>;
pub type Draw = fn() -> BoxedStrategy<Inputs>;

/// One op family: the loss, its correct hand-written gradient, the same loss on the tape,
/// and the inputs it is checked at.
pub struct Family {
    pub name: &'static str,
    pub loss: Loss,
    pub gradient: Gradient,
    pub on_tape: OnTape,
    pub inputs: Draw,
}

/// A wrong backward rule: the slip, the family it belongs to, its gradient, and the inputs
/// it is checked at (where the slip changes the gradient).
pub struct Mutant {
    pub family: &'static str,
    pub slip: &'static str,
    pub gradient: Gradient,
    pub inputs: Draw,
}

// ---------------------------------------------------------------------------------------
// Plain tensor helpers (row-major loops, independent of the engine's ops)
// ---------------------------------------------------------------------------------------

pub fn map(x: &Tensor<f64>, f: impl Fn(f64) -> f64) -> Tensor<f64> {
    Tensor::from_fn(x.shape(), |i| f(x.data()[i]))
}

pub fn zip(a: &Tensor<f64>, b: &Tensor<f64>, f: impl Fn(f64, f64) -> f64) -> Tensor<f64> {
    Tensor::from_fn(a.shape(), |i| f(a.data()[i], b.data()[i]))
}

pub fn zip3(a: &Tensor<f64>, b: &Tensor<f64>, c: &Tensor<f64>, f: impl Fn(f64, f64, f64) -> f64) -> Tensor<f64> {
    Tensor::from_fn(a.shape(), |i| f(a.data()[i], b.data()[i], c.data()[i]))
}

pub fn total(x: &Tensor<f64>) -> f64 {
    x.data().iter().sum()
}

/// `sum(a (.) b)`.
pub fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        z.exp() / (1.0 + z.exp())
    }
}

pub fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// `[m x k] x [k x n]`, three loops.
pub fn matmul(a: &Tensor<f64>, b: &Tensor<f64>) -> Tensor<f64> {
    let (m, k, n) = (a.shape().rows(), a.shape().cols(), b.shape().cols());
    assert_eq!(k, b.shape().rows(), "matmul helper: inner dimensions differ");
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a.data()[i * k + p] * b.data()[p * n + j]).sum();
        }
    }
    Tensor::new(Shape::matrix(m, n), out)
}

pub fn transpose(a: &Tensor<f64>) -> Tensor<f64> {
    let (r, c) = (a.shape().rows(), a.shape().cols());
    Tensor::new(Shape::matrix(c, r), (0..r * c).map(|i| a.data()[(i % r) * c + i / r]).collect())
}

/// Softmax of each row.
pub fn softmax_rows(z: &Tensor<f64>) -> Tensor<f64> {
    let cols = z.shape().cols();
    let mut out = z.data().to_vec();
    for row in out.chunks_mut(cols) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.iter_mut().for_each(|x| *x = (*x - max).exp());
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|x| *x /= sum);
    }
    Tensor::new(z.shape(), out)
}

pub fn column_sums(d: &Tensor<f64>) -> Tensor<f64> {
    let cols = d.shape().cols();
    Tensor::from_fn(Shape::vector(cols), |j| d.data().iter().skip(j).step_by(cols).sum())
}

pub fn row_sums(d: &Tensor<f64>) -> Tensor<f64> {
    Tensor::new(Shape::vector(d.shape().rows()), d.data().chunks(d.shape().cols()).map(|r| r.iter().sum()).collect())
}

/// The class label of row `n` of a softmax cross-entropy: `n mod classes` (the logits are random).
pub fn labels(z: &Tensor<f64>) -> Vec<usize> {
    (0..z.shape().rows()).map(|n| n % z.shape().cols()).collect()
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/// Rows and columns of the random shapes: 1 to 4 (1x1 and non-square included).
fn side() -> std::ops::RangeInclusive<usize> {
    1..=4
}

/// An upstream tensor `G` of the given shape, `|G| >= 0.1`.
fn upstream(shape: Shape) -> impl Strategy<Value = Tensor<f64>> {
    tensor(shape).away_from_zero(0.1)
}

/// `[x, G]`, `x` of a random shape with the default values.
fn x_and_upstream() -> BoxedStrategy<Inputs> {
    matrix(side(), side()).prop_flat_map(|x| upstream(x.shape()).prop_map(move |g| vec![x.clone(), g])).boxed()
}

/// `[x, G]` with `x` away from kinks (0 and ties).
fn x_off_kinks_and_upstream() -> BoxedStrategy<Inputs> {
    matrix(side(), side())
        .away_from_kinks()
        .prop_flat_map(|x| upstream(x.shape()).prop_map(move |g| vec![x.clone(), g]))
        .boxed()
}

/// `[z, G]` for relu: `z` away from 0, and with both signs (its first element negative, its
/// last positive, at least 2 elements) so that both relu mutants change the gradient.
fn relu_inputs() -> BoxedStrategy<Inputs> {
    matrix(side(), 2..=4)
        .away_from_kinks()
        .prop_flat_map(|z| {
            let mut z = z;
            let last = z.len() - 1;
            z.data_mut()[0] = -z.data()[0].abs();
            z.data_mut()[last] = z.data()[last].abs();
            upstream(z.shape()).prop_map(move |g| vec![z.clone(), g])
        })
        .boxed()
}

/// `[x, y, G]` of one random shape.
fn two_and_upstream(y_positive: bool) -> BoxedStrategy<Inputs> {
    (side(), side())
        .prop_flat_map(move |(r, c)| {
            let shape = Shape::matrix(r, c);
            let y = if y_positive { tensor(shape).positive() } else { tensor(shape) };
            (tensor(shape), y, upstream(shape)).prop_map(|(x, y, g)| vec![x, y, g])
        })
        .boxed()
}

/// `[Z, G]` with at least 2 columns, away from ties (softmax).
fn rows_of_classes() -> BoxedStrategy<Inputs> {
    matrix(side(), 2..=4)
        .away_from_kinks()
        .prop_flat_map(|z| upstream(z.shape()).prop_map(move |g| vec![z.clone(), g]))
        .boxed()
}

/// `[A, B, G]`: `[m x k] x [k x n]`, `G` `[m x n]`.
fn matmul_inputs() -> BoxedStrategy<Inputs> {
    (side(), side(), side())
        .prop_flat_map(|(m, k, n)| {
            (tensor(Shape::matrix(m, k)), tensor(Shape::matrix(k, n)), upstream(Shape::matrix(m, n)))
                .prop_map(|(a, b, g)| vec![a, b, g])
        })
        .boxed()
}

/// `[A, B, G]` as [`matmul_inputs`], except a 1x1 `B` (where `A^T G` is a number and is its
/// own transpose).
fn matmul_inputs_wider_than_1x1() -> BoxedStrategy<Inputs> {
    (side(), side(), side())
        .prop_filter("B is 1x1", |&(_, k, n)| k * n > 1)
        .prop_flat_map(|(m, k, n)| {
            (tensor(Shape::matrix(m, k)), tensor(Shape::matrix(k, n)), upstream(Shape::matrix(m, n)))
                .prop_map(|(a, b, g)| vec![a, b, g])
        })
        .boxed()
}

/// `[A, B, G]` with `B` square and not symmetric (k = n >= 2): where `G B` and `G B^T` have
/// the same shape.
fn matmul_square_inputs() -> BoxedStrategy<Inputs> {
    (side(), 2..=4usize)
        .prop_flat_map(|(m, k)| {
            (tensor(Shape::matrix(m, k)), tensor(Shape::matrix(k, k)).distinct(0.025), upstream(Shape::matrix(m, k)))
                .prop_map(|(a, b, g)| vec![a, b, g])
        })
        .boxed()
}

/// `[Z, b, G]` with at least 2 rows: `Z` `[m x n]`, `b` `[n]`.
fn bias_inputs() -> BoxedStrategy<Inputs> {
    (2..=4usize, side())
        .prop_flat_map(|(m, n)| {
            let shape = Shape::matrix(m, n);
            (tensor(shape), tensor(Shape::vector(n)), upstream(shape)).prop_map(|(z, b, g)| vec![z, b, g])
        })
        .boxed()
}

/// `[Z]`, logits with at least 2 rows (so that a missing 1/N shows) and 2 columns.
fn logits() -> BoxedStrategy<Inputs> {
    matrix(2..=4, 2..=4).prop_map(|z| vec![z]).boxed()
}

/// `[P, T]` of one random shape with at least 2 elements.
fn prediction_and_target() -> BoxedStrategy<Inputs> {
    (side(), 2..=4usize)
        .prop_flat_map(|(r, c)| {
            let shape = Shape::matrix(r, c);
            (tensor(shape), tensor(shape)).prop_map(|(p, t)| vec![p, t])
        })
        .boxed()
}

/// `[x, w]`: `x` with at least 2 elements, a scalar weight `|w| >= 0.1`.
fn reduce_inputs() -> BoxedStrategy<Inputs> {
    (matrix(side(), 2..=4), tensor(Shape::scalar()).away_from_zero(0.1)).prop_map(|(x, w)| vec![x, w]).boxed()
}

// ---------------------------------------------------------------------------------------
// The families: loss, correct gradient, the same loss on the tape
// ---------------------------------------------------------------------------------------

/// L = sum(G x y).
fn mul_loss(v: &[Tensor<f64>]) -> f64 {
    total(&zip3(&v[0], &v[1], &v[2], |x, y, g| g * x * y))
}
fn mul_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    vec![zip(&v[2], &v[1], |g, y| g * y), zip(&v[2], &v[0], |g, x| g * x), zip(&v[0], &v[1], |x, y| x * y)]
}

/// L = sum(G x / y), y > 0.
fn div_loss(v: &[Tensor<f64>]) -> f64 {
    total(&zip3(&v[0], &v[1], &v[2], |x, y, g| g * x / y))
}
fn div_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    vec![
        zip(&v[2], &v[1], |g, y| g / y),
        zip3(&v[0], &v[1], &v[2], |x, y, g| -g * x / (y * y)),
        zip(&v[0], &v[1], |x, y| x / y),
    ]
}

/// L = sum(G (.) f(z)) for an activation f with derivative df: dz = G f'(z), dG = f(z).
fn activation_loss(v: &[Tensor<f64>], f: fn(f64) -> f64) -> f64 {
    dot(&map(&v[0], f), &v[1])
}
fn activation_gradient(v: &[Tensor<f64>], f: fn(f64) -> f64, df: fn(f64) -> f64) -> Vec<Tensor<f64>> {
    vec![zip(&v[0], &v[1], |z, g| g * df(z)), map(&v[0], f)]
}

fn relu(z: f64) -> f64 {
    z.max(0.0)
}

/// L = sum(G (.) softmax(Z)), row-wise: dZ = y (.) (g - (g . y)) per row (F6), dG = softmax(Z).
fn softmax_loss(v: &[Tensor<f64>]) -> f64 {
    dot(&softmax_rows(&v[0]), &v[1])
}
fn softmax_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let y = softmax_rows(&v[0]);
    let cols = y.shape().cols();
    let mut dz = Vec::with_capacity(y.len());
    for (yr, gr) in y.data().chunks(cols).zip(v[1].data().chunks(cols)) {
        let gy: f64 = yr.iter().zip(gr).map(|(y, g)| y * g).sum();
        dz.extend(yr.iter().zip(gr).map(|(y, g)| y * (g - gy)));
    }
    vec![Tensor::new(y.shape(), dz), y]
}

/// L = sum(G (.) A B): dA = G B^T, dB = A^T G (F15), dG = A B.
fn matmul_loss(v: &[Tensor<f64>]) -> f64 {
    dot(&matmul(&v[0], &v[1]), &v[2])
}
fn matmul_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    vec![matmul(&v[2], &transpose(&v[1])), matmul(&transpose(&v[0]), &v[2]), matmul(&v[0], &v[1])]
}

/// L = sum(G (.) tanh(Z + b)), b added to every row: D = G (1 - t^2), dZ = D,
/// db = column sums of D (F15), dG = t.
fn bias_pre(v: &[Tensor<f64>]) -> Tensor<f64> {
    let n = v[1].len();
    Tensor::from_fn(v[0].shape(), |i| (v[0].data()[i] + v[1].data()[i % n]).tanh())
}
fn bias_loss(v: &[Tensor<f64>]) -> f64 {
    dot(&bias_pre(v), &v[2])
}
fn bias_delta(v: &[Tensor<f64>]) -> Tensor<f64> {
    zip(&bias_pre(v), &v[2], |t, g| g * (1.0 - t * t))
}
fn bias_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let d = bias_delta(v);
    vec![d.clone(), column_sums(&d), bias_pre(v)]
}

/// L = mean over rows of logsumexp(z) - z_label: dZ = (softmax(Z) - onehot) / N (F11).
fn softmax_ce_loss(v: &[Tensor<f64>]) -> f64 {
    let z = &v[0];
    let (rows, cols) = (z.shape().rows(), z.shape().cols());
    let labels = labels(z);
    let mut sum = 0.0;
    for (n, row) in z.data().chunks(cols).enumerate() {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        sum += lse - row[labels[n]];
    }
    sum / rows as f64
}
fn softmax_ce_delta(v: &[Tensor<f64>], scale: f64) -> Tensor<f64> {
    let z = &v[0];
    let cols = z.shape().cols();
    let labels = labels(z);
    let mut d = softmax_rows(z);
    for (n, &k) in labels.iter().enumerate() {
        d.data_mut()[n * cols + k] -= 1.0;
    }
    map(&d, |x| x * scale)
}
fn softmax_ce_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    vec![softmax_ce_delta(v, 1.0 / v[0].shape().rows() as f64)]
}

/// L = mean((P - T)^2) over all M elements: dP = 2 (P - T) / M, dT = -dP (F14).
fn mse_loss(v: &[Tensor<f64>]) -> f64 {
    total(&zip(&v[0], &v[1], |p, t| (p - t) * (p - t))) / v[0].len() as f64
}
fn mse_gradient_scaled(v: &[Tensor<f64>], factor: f64) -> Vec<Tensor<f64>> {
    let m = v[0].len() as f64;
    vec![zip(&v[0], &v[1], |p, t| factor * (p - t) / m), zip(&v[0], &v[1], |p, t| -factor * (p - t) / m)]
}
fn mse_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    mse_gradient_scaled(v, 2.0)
}

/// L = w sum(x): dx = w (F16), dw = sum(x).
fn sum_loss(v: &[Tensor<f64>]) -> f64 {
    v[1].data()[0] * total(&v[0])
}
fn sum_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    vec![map(&v[0], |_| v[1].data()[0]), Tensor::scalar(total(&v[0]))]
}

/// L = w mean(x): dx = w / n (F16), dw = mean(x).
fn mean_loss(v: &[Tensor<f64>]) -> f64 {
    v[1].data()[0] * total(&v[0]) / v[0].len() as f64
}
fn mean_gradient(v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let n = v[0].len() as f64;
    vec![map(&v[0], |_| v[1].data()[0] / n), Tensor::scalar(total(&v[0]) / n)]
}

pub const FAMILIES: &[Family] = &[
    Family {
        name: "mul",
        loss: mul_loss,
        gradient: mul_gradient,
        on_tape: |_t, v| (v[2] * v[0] * v[1]).sum(),
        inputs: || two_and_upstream(false),
    },
    Family {
        name: "div",
        loss: div_loss,
        gradient: div_gradient,
        on_tape: |_t, v| (v[2] * v[0] / v[1]).sum(),
        inputs: || two_and_upstream(true),
    },
    Family {
        name: "sigmoid",
        loss: |v| activation_loss(v, sigmoid),
        gradient: |v| activation_gradient(v, sigmoid, |z| sigmoid(z) * (1.0 - sigmoid(z))),
        on_tape: |_t, v| (v[0].sigmoid() * v[1]).sum(),
        inputs: x_and_upstream,
    },
    Family {
        name: "tanh",
        loss: |v| activation_loss(v, f64::tanh),
        gradient: |v| activation_gradient(v, f64::tanh, |z| 1.0 - z.tanh() * z.tanh()),
        on_tape: |_t, v| (v[0].tanh() * v[1]).sum(),
        inputs: x_and_upstream,
    },
    Family {
        name: "relu",
        loss: |v| activation_loss(v, relu),
        gradient: |v| activation_gradient(v, relu, |z| if z > 0.0 { 1.0 } else { 0.0 }),
        on_tape: |_t, v| (v[0].relu() * v[1]).sum(),
        inputs: relu_inputs,
    },
    Family {
        name: "softplus",
        loss: |v| activation_loss(v, softplus),
        gradient: |v| activation_gradient(v, softplus, sigmoid),
        on_tape: |_t, v| (v[0].softplus() * v[1]).sum(),
        inputs: x_and_upstream,
    },
    Family {
        name: "softmax",
        loss: softmax_loss,
        gradient: softmax_gradient,
        on_tape: |_t, v| (v[0].softmax() * v[1]).sum(),
        inputs: rows_of_classes,
    },
    Family {
        name: "matmul",
        loss: matmul_loss,
        gradient: matmul_gradient,
        on_tape: |_t, v| (v[0].matmul(v[1]) * v[2]).sum(),
        inputs: matmul_inputs,
    },
    Family {
        name: "add_bias",
        loss: bias_loss,
        gradient: bias_gradient,
        on_tape: |_t, v| (v[0].add_bias(v[1]).tanh() * v[2]).sum(),
        inputs: bias_inputs,
    },
    Family {
        name: "softmax_cross_entropy",
        loss: softmax_ce_loss,
        gradient: softmax_ce_gradient,
        on_tape: |_t, v| v[0].softmax_cross_entropy(&labels(&v[0].to_tensor())),
        inputs: logits,
    },
    Family {
        name: "mse",
        loss: mse_loss,
        gradient: mse_gradient,
        on_tape: |_t, v| v[0].mse(v[1]),
        inputs: prediction_and_target,
    },
    Family {
        name: "sum",
        loss: sum_loss,
        gradient: sum_gradient,
        on_tape: |_t, v| v[0].sum() * v[1],
        inputs: reduce_inputs,
    },
    Family {
        name: "mean",
        loss: mean_loss,
        gradient: mean_gradient,
        on_tape: |_t, v| v[0].mean() * v[1],
        inputs: reduce_inputs,
    },
];

/// The family called `name`.
pub fn family(name: &str) -> &'static Family {
    FAMILIES.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no family {name}"))
}

// ---------------------------------------------------------------------------------------
// The mutants: one slip each
// ---------------------------------------------------------------------------------------

pub const MUTANTS: &[Mutant] = &[
    Mutant {
        family: "mul",
        slip: "product rule with the factors swapped: dx = G x, dy = G y",
        gradient: |v| {
            vec![zip(&v[2], &v[0], |g, x| g * x), zip(&v[2], &v[1], |g, y| g * y), zip(&v[0], &v[1], |x, y| x * y)]
        },
        inputs: || two_and_upstream(false),
    },
    Mutant {
        family: "div",
        slip: "quotient rule with the sign of dy flipped: dy = +G x / y^2",
        gradient: |v| {
            let mut g = div_gradient(v);
            g[1] = map(&g[1], |d| -d);
            g
        },
        inputs: || two_and_upstream(true),
    },
    Mutant {
        family: "sigmoid",
        slip: "sigmoid' taken as s instead of s (1 - s)",
        gradient: |v| activation_gradient(v, sigmoid, sigmoid),
        inputs: x_and_upstream,
    },
    Mutant {
        family: "sigmoid",
        slip: "sigmoid' taken as 1 - s^2, tanh's rule (tutorial C, 7.C5)",
        gradient: |v| activation_gradient(v, sigmoid, |z| 1.0 - sigmoid(z) * sigmoid(z)),
        inputs: x_and_upstream,
    },
    Mutant {
        family: "tanh",
        slip: "tanh' taken as t (1 - t), sigmoid's rule",
        gradient: |v| activation_gradient(v, f64::tanh, |z| z.tanh() * (1.0 - z.tanh())),
        inputs: x_and_upstream,
    },
    Mutant {
        family: "tanh",
        slip: "tanh' taken as 1 - t, the square dropped",
        gradient: |v| activation_gradient(v, f64::tanh, |z| 1.0 - z.tanh()),
        inputs: x_off_kinks_and_upstream,
    },
    Mutant {
        family: "relu",
        slip: "relu' mask missing: the upstream passed through everywhere",
        gradient: |v| activation_gradient(v, relu, |_| 1.0),
        inputs: relu_inputs,
    },
    Mutant {
        family: "relu",
        slip: "relu' taken as relu(z), the output instead of the mask",
        gradient: |v| activation_gradient(v, relu, relu),
        inputs: relu_inputs,
    },
    Mutant {
        family: "softplus",
        slip: "softplus' taken as sigmoid'(z) = s (1 - s) instead of sigmoid(z)",
        gradient: |v| activation_gradient(v, softplus, |z| sigmoid(z) * (1.0 - sigmoid(z))),
        inputs: x_and_upstream,
    },
    Mutant {
        family: "softmax",
        slip: "softmax Jacobian without the off-diagonal terms: dz = y (1 - y) g",
        gradient: |v| {
            let y = softmax_rows(&v[0]);
            vec![zip(&y, &v[1], |y, g| y * (1.0 - y) * g), y]
        },
        inputs: rows_of_classes,
    },
    Mutant {
        family: "softmax",
        slip: "softmax Jacobian with diagonal y_i - y_i y_0 (tutorial A, 7.A2)",
        gradient: |v| {
            let y = softmax_rows(&v[0]);
            let cols = y.shape().cols();
            let mut g = softmax_gradient(v);
            for i in 0..y.len() {
                let first = y.data()[i - i % cols];
                // J_ii = y_i - y_i y_0 instead of y_i - y_i^2: dz_i gains y_i (y_i - y_0) g_i.
                g[0].data_mut()[i] += y.data()[i] * (y.data()[i] - first) * v[1].data()[i];
            }
            g
        },
        inputs: rows_of_classes,
    },
    Mutant {
        family: "matmul",
        slip: "dA = G B, without the transpose of B",
        gradient: |v| {
            let mut g = matmul_gradient(v);
            g[0] = matmul(&v[2], &v[1]);
            g
        },
        inputs: matmul_square_inputs,
    },
    Mutant {
        family: "matmul",
        slip: "dB = G^T A, the transpose of A^T G ([n x k] instead of [k x n])",
        gradient: |v| {
            let mut g = matmul_gradient(v);
            g[1] = matmul(&transpose(&v[2]), &v[0]);
            g
        },
        inputs: matmul_inputs_wider_than_1x1,
    },
    Mutant {
        family: "add_bias",
        slip: "db = the first row of the upstream only, no sum over the batch",
        gradient: |v| {
            let mut g = bias_gradient(v);
            let n = v[1].len();
            g[1] = Tensor::from_fn(Shape::vector(n), |j| g[0].data()[j]);
            g
        },
        inputs: bias_inputs,
    },
    Mutant {
        family: "add_bias",
        slip: "db = row sums instead of column sums",
        gradient: |v| {
            let mut g = bias_gradient(v);
            g[1] = row_sums(&g[0]);
            g
        },
        inputs: bias_inputs,
    },
    Mutant {
        family: "softmax_cross_entropy",
        slip: "dZ = softmax(Z) - Y, the mean's 1/N missing",
        gradient: |v| vec![softmax_ce_delta(v, 1.0)],
        inputs: logits,
    },
    Mutant {
        family: "softmax_cross_entropy",
        slip: "dZ = (Y - softmax(Z)) / N, the wrong sign",
        gradient: |v| vec![softmax_ce_delta(v, -1.0 / v[0].shape().rows() as f64)],
        inputs: logits,
    },
    Mutant {
        family: "mse",
        slip: "dP = (P - T) / M, the factor 2 missing",
        gradient: |v| mse_gradient_scaled(v, 1.0),
        inputs: prediction_and_target,
    },
    Mutant {
        family: "sum",
        slip: "d(sum x)/dx = 1/n, the mean's rule",
        gradient: |v| {
            let n = v[0].len() as f64;
            vec![map(&v[0], |_| v[1].data()[0] / n), Tensor::scalar(total(&v[0]))]
        },
        inputs: reduce_inputs,
    },
    Mutant {
        family: "mean",
        slip: "d(mean x)/dx = 1, the 1/n missing",
        gradient: |v| {
            let n = v[0].len() as f64;
            vec![map(&v[0], |_| v[1].data()[0]), Tensor::scalar(total(&v[0]) / n)]
        },
        inputs: reduce_inputs,
    },
];
