//! The tape's gradients of random MLPs equal the four backpropagation equations in batch row
//! form (BP1r-BP4r, notes section 4), written out here with plain loops on `Vec<f64>`:
//! `Delta^L = grad_A L (.) f'(Z^L)` (or `(softmax(Z^L) - onehot) / N` for the fused
//! cross-entropy, F11), `Delta^l = (Delta^{l+1} W^{l+1 T}) (.) f'(Z^l)`, `dW^l = A^{l-1 T} Delta^l`,
//! `db^l = column sums of Delta^l`, and `dL/dX = Delta^1 W^{1 T}`. Covers F1-F5 (hidden
//! activations), F11, F14 (MSE, mean over all elements) and F15, and checks the hand-written
//! reference itself against central differences (G2).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wengert_tape::check::{numeric_gradient, Tolerance};
use wengert_tape::{Shape, Tape, Var};

/// Cases per tape-against-formula property: each case is one small tape and a few thousand
/// flops of loops, so both properties together take well under a second.
const CASES: u32 = 128;
/// Cases for the check of the hand-written reference by central differences: two forward
/// passes per parameter (up to ~1,100 parameters), so fewer.
const REFERENCE_CASES: u32 = 32;

/// Two exact computations of one gradient may differ by this much, relative to
/// `max(1, |tape|, |hand|)`. Both sides sum the same products in another order (the GEMM's
/// blocking against plain loops) and take sigmoid and softplus in slightly different forms
/// (the engine's stable forms against the definitions), so they differ by a few ulps per
/// operation: with at most 16 terms per sum, 4 layers and values of order 1 (weights scaled by
/// `1/sqrt(d_in)`), about `4 x 16 x 10 x eps ~ 1e-13` (no case has exceeded 1e-14). 1e-10
/// leaves a margin of ~1000, while a wrong formula (a missing `f'`, a missing or doubled
/// `1/N`, a transpose) moves a gradient by far more. The floor 1 makes the test absolute for
/// small gradients, whose rounding scales with the O(1) terms they are summed from, not with
/// their own (possibly cancelled) size.
const EXACT: f64 = 1e-10;

// ---------------------------------------------------------------------------------------
// The network, as plain data
// ---------------------------------------------------------------------------------------

/// An elementwise activation with its derivative, both from the definitions (F2-F5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Softplus,
    /// The linear output layer.
    Identity,
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Activation {
    fn f(self, z: f64) -> f64 {
        match self {
            Activation::Sigmoid => logistic(z),
            Activation::Tanh => z.tanh(),
            Activation::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            // log(1 + e^z); |z| stays below ~20 here, so the direct form is accurate.
            Activation::Softplus => z.exp().ln_1p(),
            Activation::Identity => z,
        }
    }

    /// f'(z): s(1 - s) (F2), 1 - t^2 (F3), sigmoid(z) (F4), 1[z > 0] (F5), 1.
    fn df(self, z: f64) -> f64 {
        match self {
            Activation::Sigmoid => logistic(z) * (1.0 - logistic(z)),
            Activation::Tanh => 1.0 - z.tanh() * z.tanh(),
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Softplus => logistic(z),
            Activation::Identity => 1.0,
        }
    }

    /// The same activation recorded on a tape.
    fn apply<'t>(self, z: Var<'t, f64>) -> Var<'t, f64> {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.relu(),
            Activation::Softplus => z.softplus(),
            Activation::Identity => z,
        }
    }
}

/// What sits on top of the last linear layer `Z^L`.
#[derive(Clone, Debug)]
enum Head {
    /// Fused softmax cross-entropy on the logits `Z^L`, one label per row, mean over rows.
    SoftmaxCrossEntropy { labels: Vec<usize> },
    /// MSE, mean over all `N x d_L` elements, of `A^L = output(Z^L)` against `targets`.
    Mse { output: Activation, targets: Vec<f64> },
}

/// A batch and an MLP: `Z^l = A^{l-1} W^l + b^l`, `A^l = hidden(Z^l)` below the top layer.
#[derive(Clone, Debug)]
struct Mlp {
    /// `d_0, d_1, ..., d_L`.
    widths: Vec<usize>,
    /// N, the number of rows of X.
    batch: usize,
    /// X, `[N x d_0]` row-major.
    x: Vec<f64>,
    /// `W^l`, `[d_{l-1} x d_l]` row-major, for l = 1..L.
    weights: Vec<Vec<f64>>,
    /// `b^l`, `d_l` elements.
    biases: Vec<Vec<f64>>,
    hidden: Activation,
    head: Head,
    /// Record the biases as `[1 x d]` rows instead of `[d]` vectors (add_bias takes both).
    bias_as_row: bool,
}

impl Mlp {
    fn depth(&self) -> usize {
        self.weights.len()
    }
}

fn hidden_activation() -> impl Strategy<Value = Activation> {
    prop_oneof![Just(Activation::Sigmoid), Just(Activation::Tanh), Just(Activation::Relu), Just(Activation::Softplus)]
}

fn head(batch: usize, classes: usize) -> impl Strategy<Value = Head> {
    prop_oneof![
        vec(0..classes, batch).prop_map(|labels| Head::SoftmaxCrossEntropy { labels }),
        vec(-2.0..2.0, batch * classes).prop_map(|targets| Head::Mse { output: Activation::Identity, targets }),
        vec(0.0..1.0, batch * classes).prop_map(|targets| Head::Mse { output: Activation::Sigmoid, targets }),
    ]
}

/// Depth 1 to 4, widths 1 to 16, batch 1 to 8; X in [-2, 2], weights uniform in
/// `[-2, 2] / sqrt(d_in)` (pre-activations of order 1 at every depth), biases in [-1, 1].
fn mlp() -> impl Strategy<Value = Mlp> {
    (1..=4usize, 1..=8usize, hidden_activation(), any::<bool>()).prop_flat_map(|(depth, batch, hidden, bias_as_row)| {
        vec(1..=16usize, depth + 1).prop_flat_map(move |widths| {
            let layers: Vec<_> =
                widths.windows(2).map(|d| (vec(-2.0..2.0, d[0] * d[1]), vec(-1.0..1.0, d[1]))).collect();
            let x = vec(-2.0..2.0, batch * widths[0]);
            let top = head(batch, widths[depth]);
            (Just(widths), x, layers, top).prop_map(move |(widths, x, layers, head)| {
                let (mut weights, mut biases) = (Vec::new(), Vec::new());
                for (l, (w, b)) in layers.into_iter().enumerate() {
                    let scale = (widths[l] as f64).sqrt().recip();
                    weights.push(w.into_iter().map(|v| v * scale).collect());
                    biases.push(b);
                }
                Mlp { widths, batch, x, weights, biases, hidden, head, bias_as_row }
            })
        })
    })
}

// ---------------------------------------------------------------------------------------
// The tape
// ---------------------------------------------------------------------------------------

/// The loss and gradients as the tape computes them.
#[derive(Debug)]
struct Gradients {
    loss: f64,
    dw: Vec<Vec<f64>>,
    db: Vec<Vec<f64>>,
    /// dL/dX, when X was recorded as a var.
    dx: Option<Vec<f64>>,
}

/// Records `X.matmul(W).add_bias(b).activation()` layer by layer and the loss, and sweeps.
fn tape_gradients(mlp: &Mlp, x_is_var: bool) -> Gradients {
    let tape = Tape::<f64>::new();
    let (n, depth) = (mlp.batch, mlp.depth());
    let x_leaf = (Shape::matrix(n, mlp.widths[0]), &mlp.x[..]);
    let x = if x_is_var { tape.var(x_leaf) } else { tape.constant(x_leaf) };
    let (mut ws, mut bs) = (Vec::new(), Vec::new());
    let mut a = x;
    for l in 0..depth {
        let (d_in, d_out) = (mlp.widths[l], mlp.widths[l + 1]);
        let w = tape.var((Shape::matrix(d_in, d_out), &mlp.weights[l][..]));
        let bias_shape = if mlp.bias_as_row { Shape::matrix(1, d_out) } else { Shape::vector(d_out) };
        let b = tape.var((bias_shape, &mlp.biases[l][..]));
        let z = a.matmul(w).add_bias(b);
        a = match (&mlp.head, l + 1 == depth) {
            (_, false) => mlp.hidden.apply(z),
            (Head::SoftmaxCrossEntropy { .. }, true) => z,
            (Head::Mse { output, .. }, true) => output.apply(z),
        };
        ws.push(w);
        bs.push(b);
    }
    let loss = match &mlp.head {
        Head::SoftmaxCrossEntropy { labels } => a.softmax_cross_entropy(labels),
        Head::Mse { targets, .. } => a.mse(tape.constant((Shape::matrix(n, mlp.widths[depth]), &targets[..]))),
    };
    let grads = tape.backward(loss);
    Gradients {
        loss: loss.value(),
        dw: ws.iter().map(|&w| grads.wrt_slice(w).to_vec()).collect(),
        db: bs.iter().map(|&b| grads.wrt_slice(b).to_vec()).collect(),
        dx: x_is_var.then(|| grads.wrt_slice(x).to_vec()),
    }
}

// ---------------------------------------------------------------------------------------
// The four equations, by hand
// ---------------------------------------------------------------------------------------

/// The forward pass in plain loops: `Z^l` for l = 1..L and `A^l` for l = 0..L (`A^0 = X`).
fn forward(mlp: &Mlp) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let (n, depth) = (mlp.batch, mlp.depth());
    let mut activations = vec![mlp.x.clone()];
    let mut zs = Vec::new();
    for l in 0..depth {
        let (d_in, d_out) = (mlp.widths[l], mlp.widths[l + 1]);
        let (a, w, b) = (&activations[l], &mlp.weights[l], &mlp.biases[l]);
        let mut z = vec![0.0; n * d_out];
        for r in 0..n {
            for j in 0..d_out {
                let mut total = b[j];
                for k in 0..d_in {
                    total += a[r * d_in + k] * w[k * d_out + j];
                }
                z[r * d_out + j] = total;
            }
        }
        let f = match (&mlp.head, l + 1 == depth) {
            (_, false) => mlp.hidden,
            (Head::SoftmaxCrossEntropy { .. }, true) => Activation::Identity,
            (Head::Mse { output, .. }, true) => *output,
        };
        activations.push(z.iter().map(|&v| f.f(v)).collect());
        zs.push(z);
    }
    (zs, activations)
}

/// The loss and BP1r's `Delta^L`, `[N x d_L]`.
fn loss_and_output_delta(mlp: &Mlp, z_top: &[f64], a_top: &[f64]) -> (f64, Vec<f64>) {
    let (n, classes) = (mlp.batch, mlp.widths[mlp.depth()]);
    match &mlp.head {
        Head::SoftmaxCrossEntropy { labels } => {
            // L = (1/N) sum_n (logsumexp(z_n) - z_n[label_n]); Delta^L = (softmax(Z) - onehot) / N (F11).
            let mut loss = 0.0;
            let mut delta = vec![0.0; n * classes];
            for (r, &label) in labels.iter().enumerate() {
                let row = &z_top[r * classes..(r + 1) * classes];
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log_sum_exp = max + row.iter().map(|&z| (z - max).exp()).sum::<f64>().ln();
                loss += log_sum_exp - row[label];
                for j in 0..classes {
                    let p = (row[j] - log_sum_exp).exp();
                    let onehot = if j == label { 1.0 } else { 0.0 };
                    delta[r * classes + j] = (p - onehot) / n as f64;
                }
            }
            (loss / n as f64, delta)
        }
        Head::Mse { output, targets } => {
            // L = (1/M) sum (a - t)^2 over all M = N d_L elements; grad_A L = 2 (A - T) / M (F14);
            // Delta^L = grad_A L (.) f'(Z^L) (BP1r).
            let m = (n * classes) as f64;
            let loss = a_top.iter().zip(targets).map(|(a, t)| (a - t) * (a - t)).sum::<f64>() / m;
            let delta =
                a_top.iter().zip(targets).zip(z_top).map(|((a, t), &z)| 2.0 * (a - t) / m * output.df(z)).collect();
            (loss, delta)
        }
    }
}

/// The loss and gradients from BP1r-BP4r and `dL/dX = Delta^1 W^{1 T}`.
fn hand_backprop(mlp: &Mlp) -> Gradients {
    let (n, depth) = (mlp.batch, mlp.depth());
    let (zs, activations) = forward(mlp);
    let (loss, mut delta) = loss_and_output_delta(mlp, &zs[depth - 1], &activations[depth]);
    let mut dw = vec![Vec::new(); depth];
    let mut db = vec![Vec::new(); depth];
    let mut dx = Vec::new();
    for l in (0..depth).rev() {
        let (d_in, d_out) = (mlp.widths[l], mlp.widths[l + 1]);
        let (a_below, w) = (&activations[l], &mlp.weights[l]);
        // BP3r: dW^l = A^{l-1 T} Delta^l, [d_in x d_out].
        dw[l] = (0..d_in * d_out)
            .map(|i| {
                let (k, j) = (i / d_out, i % d_out);
                (0..n).map(|r| a_below[r * d_in + k] * delta[r * d_out + j]).sum()
            })
            .collect();
        // BP4r: db^l = column sums of Delta^l.
        db[l] = (0..d_out).map(|j| (0..n).map(|r| delta[r * d_out + j]).sum()).collect();
        // Delta^l W^{l T}, [N x d_in]: dL/dA^{l-1}.
        let upstream: Vec<f64> = (0..n * d_in)
            .map(|i| {
                let (r, k) = (i / d_in, i % d_in);
                (0..d_out).map(|j| delta[r * d_out + j] * w[k * d_out + j]).sum()
            })
            .collect();
        if l == 0 {
            dx = upstream;
        } else {
            // BP2r: Delta^{l-1} = (Delta^l W^{l T}) (.) f'(Z^{l-1}).
            delta = upstream.iter().zip(&zs[l - 1]).map(|(g, &z)| g * mlp.hidden.df(z)).collect();
        }
    }
    Gradients { loss, dw, db, dx: Some(dx) }
}

/// The hand-written loss alone (the forward pass and the loss of `loss_and_output_delta`).
fn hand_loss(mlp: &Mlp) -> f64 {
    let (zs, activations) = forward(mlp);
    loss_and_output_delta(mlp, &zs[mlp.depth() - 1], &activations[mlp.depth()]).0
}

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------

/// `|a - b| <= EXACT max(1, |a|, |b|)`.
fn exactly_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= EXACT * 1f64.max(a.abs()).max(b.abs())
}

/// Fails the case unless `tape` and `hand` agree element by element to `EXACT`.
fn agree(what: &str, tape: &[f64], hand: &[f64], mlp: &Mlp) -> Result<(), TestCaseError> {
    prop_assert_eq!(tape.len(), hand.len(), "{}: lengths differ", what);
    let mismatch = tape.iter().zip(hand).position(|(&t, &h)| !exactly_close(t, h));
    prop_assert!(
        mismatch.is_none(),
        "{what}: element {mismatch:?} differs beyond {EXACT:e} relative\ntape: {tape:?}\nhand: {hand:?}\nnetwork: {mlp:?}"
    );
    Ok(())
}

fn agree_all(tape: &Gradients, hand: &Gradients, mlp: &Mlp) -> Result<(), TestCaseError> {
    agree("loss", &[tape.loss], &[hand.loss], mlp)?;
    for l in 0..mlp.depth() {
        agree(&format!("dL/dW^{} (BP3r)", l + 1), &tape.dw[l], &hand.dw[l], mlp)?;
        agree(&format!("dL/db^{} (BP4r)", l + 1), &tape.db[l], &hand.db[l], mlp)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Every `dL/dW^l` and `dL/db^l` of the tape equals BP1r-BP4r computed by hand.
    #[test]
    fn tape_gradients_equal_bp1r_to_bp4r(mlp in mlp()) {
        let tape = tape_gradients(&mlp, false);
        let hand = hand_backprop(&mlp);
        agree_all(&tape, &hand, &mlp)?;
        prop_assert!(tape.dx.is_none());
    }

    /// With X recorded as a var, the tape's `dL/dX` equals `Delta^1 W^{1 T}` (F15), and the
    /// parameter gradients still equal BP1r-BP4r.
    #[test]
    fn input_gradient_equals_delta_one_times_w_one_transposed(mlp in mlp()) {
        let tape = tape_gradients(&mlp, true);
        let hand = hand_backprop(&mlp);
        agree_all(&tape, &hand, &mlp)?;
        let tape_dx = tape.dx.as_deref().unwrap_or_default();
        agree("dL/dX = Delta^1 W^1^T", tape_dx, hand.dx.as_deref().unwrap_or_default(), &mlp)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(REFERENCE_CASES))]

    /// The hand-written BP1r-BP4r (the oracle of the properties above) agrees with central
    /// differences of the hand-written loss (G2, default f64 tolerance), so that the tape is
    /// not compared with a reference that is wrong in the same way. relu pre-activations are
    /// kept at least 1e-4 from its kink: a step of ~6e-6 moves them by far less.
    #[test]
    fn hand_written_backprop_matches_central_differences(mlp in mlp()) {
        if mlp.hidden == Activation::Relu {
            let (zs, _) = forward(&mlp);
            let hidden_zs = &zs[..mlp.depth() - 1];
            prop_assume!(hidden_zs.iter().flatten().all(|z| z.abs() > 1e-4));
        }
        let hand = hand_backprop(&mlp);
        let tolerance = Tolerance::<f64>::default();
        for l in 0..mlp.depth() {
            for (is_bias, analytic) in [(false, &hand.dw[l]), (true, &hand.db[l])] {
                let params = if is_bias { &mlp.biases[l] } else { &mlp.weights[l] };
                let numeric = numeric_gradient(
                    |p: &[f64]| {
                        let mut moved = mlp.clone();
                        if is_bias { moved.biases[l] = p.to_vec() } else { moved.weights[l] = p.to_vec() }
                        hand_loss(&moved)
                    },
                    params,
                );
                let bad = analytic.iter().zip(&numeric).position(|(&a, &n)| !tolerance.accepts(a, n, hand.loss));
                prop_assert!(
                    bad.is_none(),
                    "layer {} {}: element {bad:?}\nhand:    {analytic:?}\nnumeric: {numeric:?}\nnetwork: {mlp:?}",
                    l + 1,
                    if is_bias { "bias" } else { "weights" }
                );
            }
        }
    }
}
