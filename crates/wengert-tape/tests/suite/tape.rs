//! Tape mechanics: a million-node chain sweeps in one loop (no recursion) to the closed-form
//! product of its local derivatives; constants get no adjoint; a cleared tape records the
//! same gradients as a fresh one, bit for bit, through a training loop (G1); intermediate
//! gradients, repeated sweeps, vector-Jacobian products and Jacobians (`x W` has Jacobian
//! `W^T`, F15); nodes the output does not use change nothing; misuse panics with messages
//! naming the op and the shapes; and an f32 MLP's gradient agrees with f64 to its rounding (F3, F11, F15).

use proptest::collection::vec;
use proptest::prelude::*;
use wengert_tape::{BackwardError, Real, Shape, Tape, Tensor, Var};

// ---------------------------------------------------------------------------------------
// A million-node chain
// ---------------------------------------------------------------------------------------

/// `y <- -((y * m + c) / d)`, four nodes per cycle: 250,000 cycles record 1,000,000 op nodes
/// on one scalar chain. The sweep is a loop, so it runs in the default 2 MiB test thread.
#[test]
fn million_node_chain_sweeps_without_recursion() {
    const CYCLES: usize = 250_000;
    let (m, c, d) = (0.999_999, 1e-6, 1.000_001);
    let tape = Tape::<f64>::new();
    let x = tape.var(0.5);
    let (mut y, mut plain) = (x, 0.5_f64);
    let mut halfway = x;
    for cycle in 0..CYCLES {
        if cycle == CYCLES / 2 {
            halfway = y;
        }
        y = -((y * m + c) / d);
        plain = -((plain * m + c) / d);
    }
    assert_eq!(tape.len(), 4 * CYCLES + 1);
    // The same IEEE operations in the same order: the same number.
    assert_eq!(y.value(), plain);

    let grads = tape.backward(y);
    // Each cycle's local derivatives multiply to m * 1 * (1/d) * (-1); CYCLES is even, so
    // dy/dx = (m/d)^CYCLES, and dy/d(halfway) = (m/d)^(CYCLES/2). Written as exp(n (ln m - ln d))
    // so that the closed form carries no rounding of m/d raised to the 250,000th power.
    let closed_form = |n: usize| (n as f64 * (m.ln() - d.ln())).exp();
    // 1,000,000 roundings of eps/2 each in the sweep: at most ~1.1e-10 relative.
    for (got, want) in [(grads.wrt(x), closed_form(CYCLES)), (grads.wrt(halfway), closed_form(CYCLES / 2))] {
        assert!((got - want).abs() <= 1e-9 * want, "tape {got}, closed form {want}");
    }
    // (1 - 1e-6)/(1 + 1e-6) to the 250,000th is e^-0.5 to about 1e-7: the chain neither
    // vanished nor blew up.
    assert!((grads.wrt(x) - (-0.5_f64).exp()).abs() < 1e-6);
}

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

#[test]
fn constants_get_no_adjoint() {
    let tape = Tape::<f64>::new();
    let c = tape.constant(2.0);
    let w = tape.var(3.0);
    let k = c * c + c.exp();
    assert!(!c.requires_grad());
    assert!(!k.requires_grad(), "a node built only from constants needs no gradient");
    assert!(w.requires_grad() && (w * c).requires_grad());
    let loss = w * k;
    let grads = tape.backward(loss);
    assert!(grads.get(c).is_none());
    assert!(grads.get(k).is_none());
    // dL/dw = k = c^2 + e^c.
    assert_eq!(grads.wrt(w), 2.0 * 2.0 + 2f64.exp());
}

/// `sum(X W)` with X a constant data batch: X gets no adjoint, and `dW = X^T 1` has the
/// column sums of X in each column (F15).
#[test]
fn data_batch_in_matmul_gets_no_gradient() {
    let tape = Tape::<f64>::new();
    let x_data = Tensor::from_rows(&[[1.0, -2.0], [0.5, 4.0], [3.0, 0.25]]);
    let x = tape.constant(&x_data);
    let w = tape.var(&Tensor::from_rows(&[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]));
    let z = x.matmul(w);
    assert!(!x.requires_grad() && z.requires_grad());
    let grads = tape.backward(z.sum());
    assert!(grads.get(x).is_none());
    let (sum_col0, sum_col1) = (1.0 + 0.5 + 3.0, -2.0 + 4.0 + 0.25);
    assert_eq!(grads.wrt_slice(w), &[sum_col0, sum_col0, sum_col0, sum_col1, sum_col1, sum_col1]);
}

/// An output that depends on no var sweeps nothing: every var's gradient is 0.
#[test]
#[should_panic(expected = "backward: the output (node #2, mul) depends on no trainable leaf")]
fn backward_of_an_output_made_of_constants_only_panics() {
    // As PyTorch refuses it: every gradient would be zero, which is nearly always a slip.
    let tape = Tape::<f64>::new();
    let _w = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let c = tape.constant(3.0);
    let _ = tape.backward(c * c);
}

#[test]
fn try_backward_of_an_output_made_of_constants_only_is_an_error() {
    let tape = Tape::<f64>::new();
    let w = tape.var(1.0);
    let frozen = tape.no_grad(|| w * 2.0);
    let error = tape.try_backward(frozen.exp()).err().expect("no trainable leaf");
    assert_eq!(error, BackwardError::NoTrainableLeaf { output: 2, op: "exp" });
}

#[test]
fn gradients_of_a_node_recorded_after_the_sweep_are_none() {
    let tape = Tape::<f64>::new();
    let w = tape.var(2.0);
    let grads = tape.backward(w * w);
    let later = w.exp();
    assert_eq!(grads.get(later), None);
    assert_eq!(grads.wrt(w), 4.0);
}

#[test]
#[should_panic(expected = "wrt: node #2 (exp, []) was recorded after the sweep, which covered nodes #0 to #1")]
fn gradient_of_a_node_recorded_after_the_sweep_panics_saying_so() {
    let tape = Tape::<f64>::new();
    let w = tape.var(2.0);
    let grads = tape.backward(w * w);
    let later = w.exp();
    let _ = grads.wrt(later);
}

#[test]
#[should_panic(expected = "tape: cannot record while a borrow of a value from Var::values() is alive")]
fn recording_while_values_are_borrowed_panics_naming_the_cause() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let values = x.values();
    let _ = x * 2.0;
    drop(values);
}

// ---------------------------------------------------------------------------------------
// A small MLP, generic over f32 and f64
// ---------------------------------------------------------------------------------------

/// `softmax_cross_entropy(tanh(X W1 + b1) W2 + b2)`; returns the loss and the parameters'
/// handles, in the order of `params` (W1, b1, W2, b2).
fn record_mlp<'t, T: Real>(
    tape: &'t Tape<T>,
    params: &[Tensor<T>],
    x: &Tensor<T>,
    labels: &[usize],
) -> (Var<'t, T>, Vec<Var<'t, T>>) {
    let p: Vec<Var<'t, T>> = params.iter().map(|t| tape.var(t)).collect();
    let h = tape.constant(x).matmul(p[0]).add_bias(p[1]).tanh();
    let loss = h.matmul(p[2]).add_bias(p[3]).softmax_cross_entropy(labels);
    (loss, p)
}

/// The loss and the gradient of every parameter, recorded on `tape`.
fn mlp_step<T: Real>(tape: &Tape<T>, params: &[Tensor<T>], x: &Tensor<T>, labels: &[usize]) -> (T, Vec<Vec<T>>) {
    let (loss, p) = record_mlp(tape, params, x, labels);
    let grads = tape.backward(loss);
    (loss.value(), p.iter().map(|&v| grads.wrt_slice(v).to_vec()).collect())
}

/// A 2-4-3 network and a batch of 4 with labels.
fn small_network() -> (Vec<Tensor<f64>>, Tensor<f64>, Vec<usize>) {
    let params = vec![
        Tensor::from_rows(&[[0.5, -0.3, 0.8, 0.1], [-0.6, 0.4, 0.2, -0.9]]),
        Tensor::from_slice(&[0.1, -0.2, 0.0, 0.3]),
        Tensor::from_rows(&[[0.7, -0.5, 0.2], [0.3, 0.9, -0.4], [-0.8, 0.1, 0.6], [0.2, -0.3, -0.7]]),
        Tensor::from_slice(&[0.05, -0.1, 0.15]),
    ];
    let x = Tensor::from_rows(&[[1.0, 0.5], [-0.7, 1.2], [0.3, -1.5], [-1.1, -0.4]]);
    (params, x, vec![0, 2, 1, 2])
}

fn bits(values: &[Vec<f64>]) -> Vec<Vec<u64>> {
    values.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}

/// Eight steps of gradient descent (G1) on one tape cleared between steps, each compared
/// with a fresh tape: the same loss and gradients, bit for bit. On odd steps the reused tape
/// first records and sweeps an unrelated, larger graph, so its recycled buffers held other
/// values. The loss must fall, or the updates did nothing.
#[test]
fn cleared_tape_records_the_same_gradients_as_a_fresh_tape() {
    let (mut params, x, labels) = small_network();
    let mut reused = Tape::<f64>::new();
    let mut first_loss = None;
    let mut last_loss = f64::NAN;
    for step in 0..8 {
        if step % 2 == 1 {
            let big = reused.var(&Tensor::full(Shape::matrix(16, 16), 0.5));
            let grads = reused.backward((big.matmul(big).sigmoid() * 3.0).sum());
            assert!(grads.wrt_slice(big).iter().all(|g| *g > 0.0));
            drop(grads);
            reused.clear();
        }
        let (loss, grads) = mlp_step(&reused, &params, &x, &labels);
        let recorded = reused.len();
        reused.clear();
        assert!(reused.is_empty());

        let fresh = Tape::<f64>::new();
        let (fresh_loss, fresh_grads) = mlp_step(&fresh, &params, &x, &labels);
        assert_eq!(recorded, fresh.len(), "step {step}: another graph was recorded");
        assert_eq!(loss.to_bits(), fresh_loss.to_bits(), "step {step}: loss {loss} against {fresh_loss}");
        assert_eq!(bits(&grads), bits(&fresh_grads), "step {step}: gradients {grads:?} against {fresh_grads:?}");

        for (param, grad) in params.iter_mut().zip(&grads) {
            for (p, g) in param.data_mut().iter_mut().zip(grad) {
                *p -= 0.5 * g;
            }
        }
        first_loss.get_or_insert(loss);
        last_loss = loss;
    }
    assert!(
        last_loss < first_loss.unwrap_or(f64::NAN),
        "gradient descent did not lower the loss: {first_loss:?} -> {last_loss}"
    );
}

// ---------------------------------------------------------------------------------------
// Reading gradients
// ---------------------------------------------------------------------------------------

fn assert_relative(got: f64, want: f64, rel: f64, what: &str) {
    assert!((got - want).abs() <= rel * want.abs(), "{what}: tape {got}, closed form {want}");
}

/// `u = x^2`, `v = e^u`, `y = 3v + u`: dy/dv = 3, dy/du = 3e^u + 1, dy/dx = (3e^u + 1) 2x.
#[test]
fn intermediate_gradients_are_readable() {
    let tape = Tape::<f64>::new();
    let x0 = 0.7;
    let x = tape.var(x0);
    let u = x * x;
    let v = u.exp();
    let y = 3.0 * v + u;
    let grads = tape.backward(y);
    let u0: f64 = x0 * x0;
    assert_eq!(grads.wrt(y), 1.0);
    assert_eq!(grads.wrt(v), 3.0);
    assert_relative(grads.wrt(u), 3.0 * u0.exp() + 1.0, 1e-15, "dy/du");
    assert_relative(grads.wrt(x), (3.0 * u0.exp() + 1.0) * 2.0 * x0, 1e-15, "dy/dx");
}

/// Two sweeps of one tape, alive at the same time and one after the other, give the same
/// gradients bit for bit: a sweep leaves the recording as it found it.
#[test]
fn two_backward_calls_give_the_same_gradients() {
    let (params, x, labels) = small_network();
    let tape = Tape::<f64>::new();
    let (loss, p) = record_mlp(&tape, &params, &x, &labels);
    let first = tape.backward(loss);
    let second = tape.backward(loss);
    for &v in &p {
        assert_eq!(first.wrt_slice(v), second.wrt_slice(v));
    }
    let saved: Vec<Vec<f64>> = p.iter().map(|&v| first.wrt_slice(v).to_vec()).collect();
    drop((first, second));
    let third = tape.backward(loss);
    let again: Vec<Vec<f64>> = p.iter().map(|&v| third.wrt_slice(v).to_vec()).collect();
    assert_eq!(bits(&saved), bits(&again));
}

fn matrix(rows: usize, cols: usize, range: std::ops::Range<f64>) -> impl Strategy<Value = Tensor<f64>> {
    vec(range, rows * cols).prop_map(move |data| Tensor::new(Shape::matrix(rows, cols), data))
}

/// x `[1 x k]`, W `[k x n]`, and a seed of n elements.
fn row_map() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>, Vec<f64>)> {
    (1..=6usize, 1..=6usize)
        .prop_flat_map(|(k, n)| (matrix(1, k, -2.0..2.0), matrix(k, n, -2.0..2.0), vec(-2.0..2.0, n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// For `y = tanh(x W)`, the sweep seeded with s equals `sum_j s_j (gradient of y_j)`, each
    /// from its own one-hot seed, and the closed form `sum_j s_j W_ij (1 - t_j^2)` (F3, F15).
    #[test]
    fn seeded_backward_is_seed_weighted_sum_of_output_gradients((x, w, seed) in row_map()) {
        let tape = Tape::<f64>::new();
        let xv = tape.var(&x);
        let y = xv.matmul(tape.constant(&w)).tanh();
        let (k, n) = (x.len(), seed.len());
        let seeded = tape.backward_with_seed(y, &seed).wrt_slice(xv).to_vec();
        let mut weighted = vec![0.0; k];
        for j in 0..n {
            let mut one_hot = vec![0.0; n];
            one_hot[j] = 1.0;
            let row = tape.backward_with_seed(y, &one_hot).wrt_slice(xv).to_vec();
            for i in 0..k {
                weighted[i] += seed[j] * row[i];
            }
        }
        let t = y.values().to_vec();
        for i in 0..k {
            let terms: Vec<f64> = (0..n).map(|j| seed[j] * w[(i, j)] * (1.0 - t[j] * t[j])).collect();
            let closed_form: f64 = terms.iter().sum();
            // Sums of n <= 6 products in other orders: a few eps of the terms' magnitudes.
            let scale = 1e-14 * terms.iter().map(|v| v.abs()).sum::<f64>().max(1e-300);
            prop_assert!((seeded[i] - weighted[i]).abs() <= scale, "element {i}: seeded {}, weighted sum {}; x = {x:?}, W = {w:?}, seed = {seed:?}", seeded[i], weighted[i]);
            prop_assert!((seeded[i] - closed_form).abs() <= scale, "element {i}: seeded {}, closed form {closed_form}; x = {x:?}, W = {w:?}, seed = {seed:?}", seeded[i]);
        }
    }

    /// The Jacobian of `y = x W`, x a var `[1 x k]`, is `W^T`, `[n x k]`, exactly: each row is
    /// a sweep seeded with a one-hot vector, `dx = e_j W^T` (F15), one product with 1 and zeros.
    #[test]
    fn jacobian_of_row_times_matrix_is_w_transposed((x, w, _) in row_map()) {
        let tape = Tape::<f64>::new();
        let xv = tape.var(&x);
        let y = xv.matmul(tape.constant(&w));
        let jacobian = tape.jacobian(y, xv);
        let (k, n) = (w.shape().rows(), w.shape().cols());
        prop_assert_eq!(jacobian.shape(), Shape::matrix(n, k));
        let w_transposed: Vec<f64> = (0..n * k).map(|i| w[(i % k, i / k)]).collect();
        prop_assert_eq!(jacobian.data(), &w_transposed[..], "W = {:?}", w);
    }
}

// ---------------------------------------------------------------------------------------
// Unreached branches
// ---------------------------------------------------------------------------------------

/// `sum(tanh(x W + b))`.
fn layer_loss<'t>(x: Var<'t, f64>, w: Var<'t, f64>, b: Var<'t, f64>) -> Var<'t, f64> {
    x.matmul(w).add_bias(b).tanh().sum()
}

/// Nodes recorded between the leaves and the output that the output does not use, and nodes
/// recorded after the output, leave every gradient bit for bit as on a tape without them;
/// the unused nodes that depend on a var have a zero adjoint.
#[test]
fn nodes_not_feeding_the_output_do_not_change_gradients() {
    let x_data = Tensor::from_rows(&[[0.3, -1.2, 0.8], [1.5, 0.2, -0.4]]);
    let w_data = Tensor::from_rows(&[[0.2, -0.7], [0.5, 0.1], [-0.3, 0.9]]);
    let b_data = Tensor::from_slice(&[0.1, -0.2]);

    let plain = Tape::<f64>::new();
    let (x, w, b) = (plain.var(&x_data), plain.var(&w_data), plain.var(&b_data));
    let plain_grads = plain.backward(layer_loss(x, w, b));
    let want: Vec<Vec<f64>> = [x, w, b].iter().map(|&v| plain_grads.wrt_slice(v).to_vec()).collect();

    let tape = Tape::<f64>::new();
    let (x, w, b) = (tape.var(&x_data), tape.var(&w_data), tape.var(&b_data));
    let side = (w.exp() * 100.0).sum() + x.matmul(w).sum();
    let side_product = w * w;
    let loss = layer_loss(x, w, b);
    let after = (loss * b.sum()).exp() + (x * x).sum();
    let grads = tape.backward(loss);
    let got: Vec<Vec<f64>> = [x, w, b].iter().map(|&v| grads.wrt_slice(v).to_vec()).collect();
    assert_eq!(bits(&got), bits(&want));
    assert_eq!(grads.wrt(side), 0.0);
    assert_eq!(grads.wrt_slice(side_product), &[0.0; 6]);
    assert_eq!(grads.wrt(after), 0.0);
}

// ---------------------------------------------------------------------------------------
// Misuse
// ---------------------------------------------------------------------------------------

#[test]
#[should_panic(expected = "matmul: [2 x 3] x [4 x 5]: inner dimensions 3 and 4 differ")]
fn matmul_with_different_inner_dimensions_panics_naming_both_shapes() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let b = tape.var(&Tensor::zeros(Shape::matrix(4, 5)));
    let _ = a.matmul(b);
}

#[test]
#[should_panic(expected = "add_bias: bias is [3], rows are [2 x 4]")]
fn add_bias_of_wrong_width_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::zeros(Shape::matrix(2, 4)));
    let b = tape.var(&Tensor::zeros(Shape::vector(3)));
    let _ = x.add_bias(b);
}

#[test]
#[should_panic(expected = "mul: shapes [2 x 3] and [3 x 2] do not broadcast")]
fn elementwise_op_on_different_shapes_panics() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let b = tape.var(&Tensor::zeros(Shape::matrix(3, 2)));
    let _ = a * b;
}

#[test]
fn one_element_vector_and_matrix_broadcast_to_the_matrix() {
    // One element each, so the scalar fast path sees them first: it must give numpy's shape.
    let tape = Tape::<f64>::new();
    let (v, m) = (tape.var(&Tensor::from_slice(&[1.0])), tape.var(&Tensor::from_rows(&[[2.0]])));
    let (sum, other_way) = (v + m, m + v);
    assert_eq!((sum.shape(), other_way.shape()), (Shape::matrix(1, 1), Shape::matrix(1, 1)));
    assert_eq!(tape.backward(sum).wrt_slice(v), &[1.0]);
}

#[test]
fn one_element_values_keep_their_shape_through_scalar_ops() {
    let tape = Tape::<f64>::new();
    let (m, s) = (tape.var(&Tensor::from_rows(&[[3.0]])), tape.var(2.0));
    let (y, z) = (m * s, (s * m).exp());
    assert_eq!((y.shape(), z.shape()), (Shape::matrix(1, 1), Shape::matrix(1, 1)));
    assert_eq!((s - s).shape(), Shape::scalar());
    let grads = tape.backward((y + z).sum());
    // d/dm (m s + e^(s m)) = s + s e^(s m); d/ds = m + m e^(s m).
    assert_eq!(grads.wrt_slice(m), &[2.0 + 2.0 * 6.0_f64.exp()]);
    assert_eq!(grads.wrt(s), 3.0 + 3.0 * 6.0_f64.exp());
}

#[test]
fn row_and_vector_of_equal_length_broadcast_to_the_row() {
    let tape = Tape::<f64>::new();
    let a = tape.var(&Tensor::from_rows(&[[1.0, 2.0]]));
    let b = tape.var(&Tensor::from_slice(&[10.0, 20.0]));
    let y = a + b;
    assert_eq!(y.shape(), Shape::matrix(1, 2));
    assert_eq!(&*y.values(), &[11.0, 22.0]);
}

#[test]
#[should_panic(expected = "add: shapes [3] and [2] do not broadcast")]
fn vectors_of_different_lengths_do_not_broadcast() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::vector(3))) + tape.var(&Tensor::zeros(Shape::vector(2)));
}

#[test]
#[should_panic(expected = "softmax_cross_entropy: label 7 at row 1 is out of range for logits [2 x 3] (3 classes)")]
fn softmax_cross_entropy_label_out_of_range_panics() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let _ = z.softmax_cross_entropy(&[0, 7]);
}

#[test]
#[should_panic(expected = "softmax_cross_entropy: 3 labels for logits [2 x 3]")]
fn softmax_cross_entropy_with_wrong_label_count_panics() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let _ = z.softmax_cross_entropy(&[0, 1, 2]);
}

#[test]
#[should_panic(expected = "cross_entropy: probabilities [2 x 3] and targets [3 x 2] differ in shape")]
fn cross_entropy_shape_mismatch_panics() {
    let tape = Tape::<f64>::new();
    let p = tape.var(&Tensor::full(Shape::matrix(2, 3), 1.0 / 3.0));
    let y = tape.constant(&Tensor::zeros(Shape::matrix(3, 2)));
    let _ = p.cross_entropy(y);
}

#[test]
#[should_panic(expected = "mse: predictions [2] and targets [3] differ in shape")]
fn mse_shape_mismatch_panics() {
    let tape = Tape::<f64>::new();
    let p = tape.var(&Tensor::zeros(Shape::vector(2)));
    let t = tape.constant(&Tensor::zeros(Shape::vector(3)));
    let _ = p.mse(t);
}

#[test]
#[should_panic(expected = "bce_with_logits: logits [2] and targets [1 x 2] differ in shape")]
fn bce_with_logits_shape_mismatch_panics() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::zeros(Shape::vector(2)));
    let y = tape.constant(&Tensor::zeros(Shape::matrix(1, 2)));
    let _ = z.bce_with_logits(y);
}

#[test]
#[should_panic(expected = "add: an input belongs to another tape")]
fn handle_from_another_tape_panics() {
    let first = Tape::<f64>::new();
    let second = Tape::<f64>::new();
    let a = first.var(1.0);
    let b = second.var(2.0);
    let _ = a + b;
}

#[test]
#[should_panic(expected = "backward: the output belongs to another tape")]
fn backward_of_another_tapes_output_panics() {
    let first = Tape::<f64>::new();
    let second = Tape::<f64>::new();
    let y = second.var(2.0) * 3.0;
    let _ = first.var(1.0);
    let _ = first.backward(y);
}

#[test]
#[should_panic(expected = "backward: the output is [2 x 3], not a scalar")]
fn backward_of_a_non_scalar_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::zeros(Shape::matrix(2, 3)));
    let _ = tape.backward(x.tanh());
}

#[test]
#[should_panic(expected = "backward: the seed has 3 elements, the output is [2]")]
fn backward_with_a_seed_of_wrong_length_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::zeros(Shape::vector(2)));
    let _ = tape.backward_with_seed(x.tanh(), &[1.0, 1.0, 1.0]);
}

#[test]
#[should_panic(expected = "wrt: node #1 (constant, []) depends on no trainable leaf")]
fn wrt_on_a_constant_panics() {
    let tape = Tape::<f64>::new();
    let w = tape.var(1.0);
    let c = tape.constant(2.0);
    let grads = tape.backward(w * c);
    let _ = grads.wrt(c);
}

#[test]
#[should_panic(expected = "wrt: the node is [2], not a scalar")]
fn wrt_on_a_non_scalar_panics() {
    let tape = Tape::<f64>::new();
    let w = tape.var(&Tensor::zeros(Shape::vector(2)));
    let grads = tape.backward(w.sum());
    let _ = grads.wrt(w);
}

#[test]
#[should_panic(expected = "value: the node is [2], not a scalar")]
fn value_of_a_non_scalar_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var(&Tensor::zeros(Shape::vector(2))).value();
}

#[test]
#[should_panic(expected = "jacobian: the input (a constant node) needs no gradient")]
fn jacobian_with_respect_to_a_constant_panics() {
    let tape = Tape::<f64>::new();
    let w = tape.var(&Tensor::from_rows(&[[1.0], [2.0]]));
    let x = tape.constant(&Tensor::from_rows(&[[1.0, 2.0]]));
    let _ = tape.jacobian(x.matmul(w), x);
}

#[test]
#[should_panic(expected = "var: shape [2 x 2] holds 4 elements, the slice has 3")]
fn leaf_with_a_slice_of_wrong_length_panics() {
    let tape = Tape::<f64>::new();
    let _ = tape.var((Shape::matrix(2, 2), &[1.0, 2.0, 3.0][..]));
}

// ---------------------------------------------------------------------------------------
// f32 against f64
// ---------------------------------------------------------------------------------------

/// A d0-h-c tanh network with softmax cross-entropy, in f64, and a batch with labels.
fn f32_case() -> impl Strategy<Value = (Vec<Tensor<f64>>, Tensor<f64>, Vec<usize>)> {
    (1..=8usize, 1..=16usize, 2..=8usize, 1..=8usize).prop_flat_map(|(d0, h, c, n)| {
        let params = (
            matrix(d0, h, -1.0..1.0),
            vec(-0.5..0.5, h).prop_map(|b| Tensor::from_slice(&b)),
            matrix(h, c, -1.0..1.0),
            vec(-0.5..0.5, c).prop_map(|b| Tensor::from_slice(&b)),
        )
            .prop_map(|(w1, b1, w2, b2)| vec![w1, b1, w2, b2]);
        (params, matrix(n, d0, -2.0..2.0), vec(0..c, n))
    })
}

/// A first-order bound on the size of everything whose rounding reaches each gradient
/// element of `record_mlp`'s network, per unit roundoff: the sums of BP3r and BP4r with every
/// factor replaced by the magnitude of the terms it was computed from. A sum's rounding error
/// scales with the sum of its terms' magnitudes, not with the (possibly cancelled) sum:
///
/// - `h = tanh(x W1 + b1)` is off by ~u `s1`, with `s1 = |b1| + sum |x| |W1|` (>= |h|);
/// - the logits are off by ~u `s2`, `s2 = |b2| + sum s1 |W2|`, so `p = softmax(z)` by ~u p s2,
///   and `Delta2 = (p - onehot) / N` by ~u `m2`, `m2 = (p (1 + s2) + onehot) / N`;
/// - `Delta1 = (Delta2 W2^T) (.) (1 - h^2)` by ~u `m1`, `m1 = (m2 |W2|^T) (1 + h^2 + 2 s1)`;
/// - `dW2 ~ s1^T m2`, `db2 ~ sum m2`, `dW1 ~ |x|^T m1`, `db1 ~ sum m1`.
///
/// Plain f64 loops.
fn rounding_scales(params: &[Tensor<f64>], x: &Tensor<f64>, labels: &[usize]) -> Vec<Vec<f64>> {
    let (w1, b1, w2, b2) = (&params[0], &params[1], &params[2], &params[3]);
    let (n, d0) = (x.shape().rows(), x.shape().cols());
    let (hidden, classes) = (w1.shape().cols(), w2.shape().cols());
    let mut s1 = vec![vec![0.0; hidden]; n];
    let mut h = vec![vec![0.0; hidden]; n];
    let mut m2 = vec![vec![0.0; classes]; n];
    let mut m1 = vec![vec![0.0; hidden]; n];
    for r in 0..n {
        for j in 0..hidden {
            let z = b1[(0, j)] + (0..d0).map(|i| x[(r, i)] * w1[(i, j)]).sum::<f64>();
            h[r][j] = z.tanh();
            s1[r][j] = b1[(0, j)].abs() + (0..d0).map(|i| (x[(r, i)] * w1[(i, j)]).abs()).sum::<f64>();
        }
        let z: Vec<f64> =
            (0..classes).map(|k| b2[(0, k)] + (0..hidden).map(|j| h[r][j] * w2[(j, k)]).sum::<f64>()).collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = z.iter().map(|zk| (zk - max).exp()).sum();
        for k in 0..classes {
            let s2 = b2[(0, k)].abs() + (0..hidden).map(|j| s1[r][j] * w2[(j, k)].abs()).sum::<f64>();
            let p = (z[k] - max).exp() / total;
            let onehot = if k == labels[r] { 1.0 } else { 0.0 };
            m2[r][k] = (p * (1.0 + s2) + onehot) / n as f64;
        }
        for j in 0..hidden {
            let upstream: f64 = (0..classes).map(|k| m2[r][k] * w2[(j, k)].abs()).sum();
            m1[r][j] = upstream * (1.0 + h[r][j] * h[r][j] + 2.0 * s1[r][j]);
        }
    }
    // sum over rows of a(r, i) m[r][j], as a row-major [rows x cols] gradient.
    let outer = |a: &dyn Fn(usize, usize) -> f64, rows: usize, m: &[Vec<f64>], cols: usize| -> Vec<f64> {
        (0..rows * cols).map(|e| (0..n).map(|r| a(r, e / cols) * m[r][e % cols]).sum()).collect()
    };
    vec![
        outer(&|r, i| x[(r, i)].abs(), d0, &m1, hidden),
        outer(&|_, _| 1.0, 1, &m1, hidden),
        outer(&|r, j| s1[r][j], hidden, &m2, classes),
        outer(&|_, _| 1.0, 1, &m2, classes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The same small MLP in f32 and in f64 (at the same, f32-representable, numbers): each
    /// gradient element agrees to 2e-6 of its rounding scale (`rounding_scales`), i.e. to
    /// ~33 roundings of u ~ 6e-8 of the terms it is computed from (the worst seen in 20,000
    /// cases was ~3).
    ///
    /// Relative to the gradient itself the agreement can be far worse, and rightly: a
    /// well-fitted row has `softmax - onehot ~ 1e-3` from `p ~ 1` (F11), a pre-activation can
    /// be 1e-3 out of terms of order 1, and with 2 classes `db2` (column sums of
    /// `(softmax - onehot) / N`) can be 1e-5 of its terms. The first-order error is a few dozen
    /// roundings of the scale at most; a rule that lost precision (an unshifted softmax, a
    /// cancelling form) or computed another value would be off by far more.
    #[test]
    fn f32_mlp_gradient_agrees_with_f64((params, x, labels) in f32_case()) {
        let params32: Vec<Tensor<f32>> = params.iter().map(|t| t.cast::<f32>()).collect();
        let x32 = x.cast::<f32>();
        let params64: Vec<Tensor<f64>> = params32.iter().map(|t| t.cast::<f64>()).collect();
        let x64 = x32.cast::<f64>();
        let (loss32, grads32) = mlp_step(&Tape::<f32>::new(), &params32, &x32, &labels);
        let (loss64, grads64) = mlp_step(&Tape::<f64>::new(), &params64, &x64, &labels);
        prop_assert!((f64::from(loss32) - loss64).abs() <= 1e-5 * loss64.abs().max(1.0), "loss f32 {loss32}, f64 {loss64}");
        let magnitudes = rounding_scales(&params64, &x64, &labels);
        for (which, ((g32, g64), size)) in grads32.iter().zip(&grads64).zip(&magnitudes).enumerate() {
            for (i, ((&a, &b), &m)) in g32.iter().zip(g64).zip(size).enumerate() {
                prop_assert!(
                    (f64::from(a) - b).abs() <= 2e-6 * m,
                    "parameter {which} element {i}: f32 {a}, f64 {b} (rounding scale {m})\nf32: {g32:?}\nf64: {g64:?}"
                );
            }
        }
    }
}

#[test]
fn a_node_off_the_output_path_sends_nothing_even_with_an_infinite_derivative() {
    // ln'(0) = inf and 0 x inf = NaN: a sweep that ran every node, reached or not, would
    // poison dL/dx. Recorded before the output (x.ln()) and after it (x.sqrt()).
    let tape = Tape::<f64>::new();
    let x = tape.var(0.0);
    let _before = x.ln();
    let output = x * 2.0;
    let _after = x.sqrt();
    assert_eq!(tape.backward(output).wrt(x), 2.0);
}

#[test]
fn rosenbrock_gradient_over_a_thousand_leaves_matches_its_closed_form() {
    // Leaves recorded first, terms after: each term's inputs lie far back on the tape (the
    // sweep prefetches them). f = sum (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2;
    // df/dx_i = -2 (1 - x_i) - 400 x_i (x_{i+1} - x_i^2) + 200 (x_i - x_{i-1}^2).
    let n = 1000;
    let x: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64) / 50.0 - 1.0).collect();
    let tape = Tape::<f64>::new();
    let vars: Vec<Var<'_, f64>> = x.iter().map(|&xi| tape.var(xi)).collect();
    let mut total = tape.constant(0.0);
    for pair in vars.windows(2) {
        total = total + ((1.0 - pair[0]).powi(2) + 100.0 * (pair[1] - pair[0] * pair[0]).powi(2));
    }
    let grads = tape.backward(total);
    for i in 0..n {
        let mut expected = 0.0;
        if i + 1 < n {
            expected += -2.0 * (1.0 - x[i]) - 400.0 * x[i] * (x[i + 1] - x[i] * x[i]);
        }
        if i > 0 {
            expected += 200.0 * (x[i] - x[i - 1] * x[i - 1]);
        }
        let got = grads.wrt(vars[i]);
        assert!((got - expected).abs() <= 1e-12 * expected.abs().max(1.0), "x_{i}: {got} vs {expected}");
    }
}

#[test]
fn constants_of_tensor_ops_are_kept_apart_from_their_values() {
    // The number of `3.0 * x` and the exponent of `powf` are stored after the node's value;
    // the value, the gradient and the explanation must each see the right numbers.
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_slice(&[1.0, 4.0]));
    let y = (3.0 * x).powf(1.5);
    assert_eq!(*y.values(), [3.0_f64.powf(1.5), 12.0_f64.powf(1.5)]);
    let grads = tape.backward(y.sum());
    // d/dx (3x)^1.5 = 4.5 (3x)^0.5.
    let expected = [4.5 * 3.0_f64.sqrt(), 4.5 * 12.0_f64.sqrt()];
    for (got, want) in grads.wrt_slice(x).iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
    let text = grads.explain().to_string();
    assert!(text.contains("c = 3") && text.contains("p = 1.5"), "{text}");
}
