//! The notes' worked examples (section 6) reproduce on the tape with their printed numbers:
//! 6a the 2-3-1 sigmoid network (every quantity of the table, BP1-BP4 through the gradients
//! of intermediate nodes, one SGD step G1, and in f32 to about 1e-6); 6b XOR with relu
//! (F5: relu'(0) = 0 at three kinks, and central differences averaging there, G2); 6c the
//! three-weight chain (correct training against tutorial E's loop, 7.E1). Tolerances are the
//! notes': relative 1e-10, 1e-9 for 6c after 160 epochs.

use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Real, Tape, Tensor};

/// The notes' relative tolerance for 12-digit numbers.
const REL: f64 = 1e-10;
/// 6c after 160 epochs, where the run amplifies rounding (notes, 6c).
const REL_EPOCH_160: f64 = 1e-9;

/// Asserts `|got - want| <= rel |want|`, naming the quantity.
#[track_caller]
fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{what}: got {got:.15e}, notes {want:.15e} (relative tolerance {rel:e})"
    );
}

/// [`assert_rel`] elementwise.
#[track_caller]
fn assert_all_rel(got: &[f64], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: got {got:?}, notes {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs(),
            "{what}[{i}]: got {g:.15e}, notes {w:.15e} (relative tolerance {rel:e})\n got:   {got:?}\n notes: {want:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 6a. The 2-3-1 sigmoid network (tutorial C), one sample, row form
// ---------------------------------------------------------------------------------------

/// The four parameters of 6a.
#[derive(Clone, Debug)]
struct Network<T> {
    w: Tensor<T>,
    b1: Tensor<T>,
    v: Tensor<T>,
    b2: Tensor<T>,
}

impl<T: Real> Network<T> {
    /// W = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], B1 = [0.1, 0.2, 0.3], V = [[0.1], [0.2], [0.3]], B2 = [0.1].
    fn initial() -> Self {
        Network {
            w: Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]).cast(),
            b1: Tensor::from_slice(&[0.1, 0.2, 0.3]).cast(),
            v: Tensor::from_rows(&[[0.1], [0.2], [0.3]]).cast(),
            b2: Tensor::from_slice(&[0.1]).cast(),
        }
    }

    /// G1: every parameter moved by `-lr` times its gradient (`sign` -1 gives the ascent of 7.C3).
    fn step(&self, sweep: &Sweep6a, lr: f64, sign: f64) -> Network<T> {
        let moved = |p: &Tensor<T>, g: &[f64]| {
            let g = Tensor::new(p.shape(), g.to_vec()).cast::<T>();
            Tensor::from_fn(p.shape(), |i| p.data()[i] - T::lit(sign * lr) * g.data()[i])
        };
        Network {
            w: moved(&self.w, &sweep.d_w),
            b1: moved(&self.b1, &sweep.d_b1),
            v: moved(&self.v, &sweep.d_v),
            b2: moved(&self.b2, &sweep.d_b2),
        }
    }
}

/// Everything the table of 6a lists, read from one forward pass and one reverse sweep,
/// converted to f64.
#[derive(Debug)]
struct Sweep6a {
    net_1: Vec<f64>,
    h: Vec<f64>,
    net_2: f64,
    y: f64,
    e: f64,
    d_y: f64,
    delta_2: f64,
    delta_1: Vec<f64>,
    d_w: Vec<f64>,
    d_b1: Vec<f64>,
    d_v: Vec<f64>,
    d_b2: Vec<f64>,
}

/// `net_1 = X W + B1, H = sigmoid(net_1), net_2 = H V + B2, Y = sigmoid(net_2),
/// E = 1/2 sum (target - Y)^2` with X = [[0.4, 0.5]] and target 1, then one reverse sweep.
fn sweep_6a<T: Real>(params: &Network<T>) -> Sweep6a {
    let tape = Tape::<T>::new();
    let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]).cast::<T>());
    let target = tape.constant(&Tensor::from_rows(&[[1.0]]).cast::<T>());
    let (w, b1, v, b2) = (tape.var(&params.w), tape.var(&params.b1), tape.var(&params.v), tape.var(&params.b2));
    let net_1 = x.matmul(w).add_bias(b1);
    let h = net_1.sigmoid();
    let net_2 = h.matmul(v).add_bias(b2);
    let y = net_2.sigmoid();
    let e = (target - y).powi(2).sum() * T::lit(0.5);
    let values = |node: wengert_tape::Var<'_, T>| node.to_tensor().cast::<f64>().into_data();
    let (net_1_values, h_values, net_2_value, y_value, e_value) =
        (values(net_1), values(h), values(net_2)[0], values(y)[0], values(e)[0]);
    let grads = tape.backward(e);
    let gradient = |node| grads.wrt_tensor(node).cast::<f64>().into_data();
    Sweep6a {
        net_1: net_1_values,
        h: h_values,
        net_2: net_2_value,
        y: y_value,
        e: e_value,
        d_y: gradient(y)[0],
        delta_2: gradient(net_2)[0],
        delta_1: gradient(net_1),
        d_w: gradient(w),
        d_b1: gradient(b1),
        d_v: gradient(v),
        d_b2: gradient(b2),
    }
}

/// E at the given parameters.
fn loss_6a<T: Real>(params: &Network<T>) -> f64 {
    sweep_6a(params).e
}

// The numbers of the notes' 6a tables.
const NET_1: [f64; 3] = [0.24, 0.52, 0.8];
const H: [f64; 3] = [0.559713649267, 0.627147766313, 0.689974481128];
const NET_2: f64 = 0.488393262528;
const Y: f64 = 0.619727853078;
const E: f64 = 0.0723034528622;
const D_Y: f64 = -0.380272146922;
const DELTA_2: f64 = -0.0896169272249;
const D_V: [f64; 3] = [-0.0501598173732, -0.0562030557329, -0.0618333928622];
const DELTA_1: [f64; 3] = [-0.00220846829447, -0.00419108697401, -0.00575097891173];
const D_W: [f64; 6] =
    [-0.000883387317786, -0.0016764347896, -0.00230039156469, -0.00110423414723, -0.00209554348701, -0.00287548945586];
const W_AFTER: [f64; 6] =
    [0.100008833873, 0.300016764348, 0.500023003916, 0.200011042341, 0.400020955435, 0.600028754895];
const V_AFTER: [f64; 3] = [0.100501598174, 0.200562030557, 0.300618333929];
const B1_AFTER: [f64; 3] = [0.100022084683, 0.20004191087, 0.300057509789];
const B2_AFTER: f64 = 0.100896169272;
const E_AFTER: f64 = 0.0721275231772;
const E_AFTER_ASCENT: f64 = 0.0724796757946;

/// Asserts the whole 6a table (forward values and gradients) at relative tolerance `rel`.
#[track_caller]
fn assert_table_6a(s: &Sweep6a, rel: f64, precision: &str) {
    let name = |what: &str| format!("6a ({precision}) {what}");
    assert_all_rel(&s.net_1, &NET_1, rel, &name("net_1"));
    assert_all_rel(&s.h, &H, rel, &name("H"));
    assert_rel(s.net_2, NET_2, rel, &name("net_2"));
    assert_rel(s.y, Y, rel, &name("Y"));
    assert_rel(s.e, E, rel, &name("E"));
    assert_rel(s.d_y, D_Y, rel, &name("dE/dY"));
    assert_rel(s.delta_2, DELTA_2, rel, &name("delta_2 = dE/dnet_2"));
    assert_all_rel(&s.d_v, &D_V, rel, &name("dE/dV"));
    assert_all_rel(&s.d_b2, &[DELTA_2], rel, &name("dE/dB2"));
    assert_all_rel(&s.delta_1, &DELTA_1, rel, &name("delta_1 = dE/dnet_1"));
    assert_all_rel(&s.d_w, &D_W, rel, &name("dE/dW"));
    assert_all_rel(&s.d_b1, &DELTA_1, rel, &name("dE/dB1"));
}

/// 6a: every quantity of the table, from one forward pass and one reverse sweep (delta_1 and
/// delta_2 are the gradients of the intermediate nodes net_1 and net_2).
#[test]
fn two_three_one_network_reproduces_every_quantity_of_the_table() {
    assert_table_6a(&sweep_6a(&Network::<f64>::initial()), REL, "f64");
}

/// 6a through BP1-BP4 written out by hand from the tape's forward values: the tape's
/// gradients satisfy `dE/dY = Y - t`, `delta_2 = (Y - t) Y (1 - Y)`, `dE/dV = H^T delta_2`,
/// `delta_1 = (delta_2 V^T) (.) H (1 - H)`, `dE/dW = X^T delta_1`, `dE/dB = delta`.
#[test]
fn two_three_one_network_gradients_follow_bp1_to_bp4() {
    let params = Network::<f64>::initial();
    let s = sweep_6a(&params);
    let (x, v) = ([0.4, 0.5], params.v.data());
    let close = |got: f64, want: f64, what: &str| {
        assert!((got - want).abs() <= 1e-15 + 1e-13 * want.abs(), "{what}: tape {got:e}, BP by hand {want:e}");
    };
    close(s.d_y, s.y - 1.0, "dE/dY = Y - t");
    let delta_2 = (s.y - 1.0) * s.y * (1.0 - s.y);
    close(s.delta_2, delta_2, "BP1: delta_2");
    close(s.d_b2[0], delta_2, "BP4: dE/dB2");
    for (j, &v_j) in v.iter().enumerate() {
        close(s.d_v[j], s.h[j] * delta_2, "BP3: dE/dV");
        let delta_1 = delta_2 * v_j * s.h[j] * (1.0 - s.h[j]);
        close(s.delta_1[j], delta_1, "BP2: delta_1");
        close(s.d_b1[j], delta_1, "BP4: dE/dB1");
        for (k, &xk) in x.iter().enumerate() {
            close(s.d_w[k * 3 + j], xk * delta_1, "BP3: dE/dW");
        }
    }
}

/// 6a, G1: one SGD step with lr 0.01 on all four parameters (gradients taken before any
/// update) gives the table's parameters, and E falls to 0.0721275231772; the wrong-sign step
/// of 7.C3 raises it to 0.0724796757946.
#[test]
fn two_three_one_network_sgd_step_lowers_e_to_the_notes_value() {
    let params = Network::<f64>::initial();
    let sweep = sweep_6a(&params);
    let after = params.step(&sweep, 0.01, 1.0);
    assert_all_rel(after.w.data(), &W_AFTER, REL, "6a W after one step");
    assert_all_rel(after.v.data(), &V_AFTER, REL, "6a V after one step");
    assert_all_rel(after.b1.data(), &B1_AFTER, REL, "6a B1 after one step");
    assert_all_rel(after.b2.data(), &[B2_AFTER], REL, "6a B2 after one step");
    let e_after = loss_6a(&after);
    assert_rel(e_after, E_AFTER, REL, "6a E at the new parameters");
    assert!(e_after < sweep.e, "a descent step must lower E: {} -> {e_after}", sweep.e);
    let e_ascent = loss_6a(&params.step(&sweep, 0.01, -1.0));
    assert_rel(e_ascent, E_AFTER_ASCENT, REL, "6a E after the wrong-sign step (7.C3)");
    assert!(e_ascent > sweep.e, "the wrong-sign step must raise E: {} -> {e_ascent}", sweep.e);
}

/// 6a in f32: the same computation agrees with the notes' f64 numbers to about 1e-6
/// relative (f32 keeps about 7 digits), table, step and new E.
#[test]
fn two_three_one_network_in_f32_agrees_to_about_1e_6() {
    const REL_F32: f64 = 1e-6;
    let params = Network::<f32>::initial();
    let sweep = sweep_6a(&params);
    assert_table_6a(&sweep, REL_F32, "f32");
    let after = params.step(&sweep, 0.01, 1.0);
    assert_all_rel(&after.w.cast::<f64>().into_data(), &W_AFTER, REL_F32, "6a (f32) W after one step");
    assert_all_rel(&after.v.cast::<f64>().into_data(), &V_AFTER, REL_F32, "6a (f32) V after one step");
    assert_all_rel(&after.b1.cast::<f64>().into_data(), &B1_AFTER, REL_F32, "6a (f32) B1 after one step");
    assert_all_rel(&after.b2.cast::<f64>().into_data(), &[B2_AFTER], REL_F32, "6a (f32) B2 after one step");
    assert_rel(loss_6a(&after), E_AFTER, REL_F32, "6a (f32) E at the new parameters");
}

// ---------------------------------------------------------------------------------------
// 6b. XOR with relu (tutorial D)
// ---------------------------------------------------------------------------------------

/// X = [[0,0], [0,1], [1,0], [1,1]], and the inputs W, c, w, b of `relu(X W + c) w + b`.
fn xor_inputs() -> (Tensor<f64>, [Tensor<f64>; 4]) {
    let x = Tensor::from_rows(&[[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let w = Tensor::from_rows(&[[1.0, 1.0], [1.0, 1.0]]);
    let c = Tensor::from_slice(&[0.0, -1.0]);
    let w_out = Tensor::from_slice(&[1.0, -2.0]);
    let b = Tensor::scalar(0.0);
    (x, [w, c, w_out, b])
}

/// 6b: the forward steps X W, X W + c, relu(X W + c) and the output [0, 1, 1, 0], exactly.
#[test]
fn xor_network_outputs_zero_one_one_zero() {
    let (x, [w, c, w_out, b]) = xor_inputs();
    let tape = Tape::<f64>::new();
    let x = tape.constant(&x);
    let (w, c, w_out, b) = (tape.var(&w), tape.var(&c), tape.var(&w_out), tape.var(&b));
    let xw = x.matmul(w);
    let z = xw.add_bias(c);
    let a = z.relu();
    let output = a.matmul(w_out) + b;
    assert_eq!(&*xw.values(), &[0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0], "X W");
    assert_eq!(&*z.values(), &[0.0, -1.0, 1.0, 0.0, 1.0, 0.0, 2.0, 1.0], "X W + c");
    assert_eq!(&*a.values(), &[0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 2.0, 1.0], "relu(X W + c)");
    assert_eq!(&*output.values(), &[0.0, 1.0, 1.0, 0.0], "output");
}

/// 6b, F5: for S = sum of the outputs, with relu'(0) = 0 at the three zero inputs:
/// dS/dc = [3, -2], dS/dW = [[2, -2], [2, -2]], dS/dw = [4, 1], dS/db = 4 (exactly; with
/// relu'(0) = 1 dS/dc would be [4, -6]).
#[test]
fn xor_gradients_use_relu_derivative_zero_at_the_kinks() {
    let (x, [w, c, w_out, b]) = xor_inputs();
    let tape = Tape::<f64>::new();
    let x = tape.constant(&x);
    let (w, c, w_out, b) = (tape.var(&w), tape.var(&c), tape.var(&w_out), tape.var(&b));
    let s = (x.matmul(w).add_bias(c).relu().matmul(w_out) + b).sum();
    assert_eq!(s.value(), 2.0, "S = 0 + 1 + 1 + 0");
    let grads = tape.backward(s);
    assert_eq!(grads.wrt_slice(c), &[3.0, -2.0], "dS/dc");
    assert_eq!(grads.wrt_slice(w), &[2.0, -2.0, 2.0, -2.0], "dS/dW");
    assert_eq!(grads.wrt_slice(w_out), &[4.0, 1.0], "dS/dw");
    assert_eq!(grads.wrt(b), 4.0, "dS/db");
}

/// 6b, G2: at the kinks central differences average the one-sided slopes, so
/// `check_gradients` reports dS/dc = [3.5, -4] and dS/dW = [[2, -3], [2, -3]] against the
/// tape's [3, -2] and [[2, -2], [2, -2]], and the report does not pass; on w and b, where no
/// kink is crossed, the two agree ([4, 1] and 4).
#[test]
fn xor_central_differences_average_the_kinks_and_fail_the_check() {
    let (x, inputs) = xor_inputs();
    let report = check_gradients(
        |tape, v| (tape.constant(&x).matmul(v[0]).add_bias(v[1]).relu().matmul(v[2]) + v[3]).sum(),
        &inputs,
    );
    assert_eq!(report.analytic[0].data(), &[2.0, -2.0, 2.0, -2.0], "tape dS/dW\n{report}");
    assert_eq!(report.analytic[1].data(), &[3.0, -2.0], "tape dS/dc\n{report}");
    let numeric_close = |got: &[f64], want: &[f64], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "central differences {what}: {got:?}, expected {want:?}\n{report}");
        }
    };
    numeric_close(report.numeric[0].data(), &[2.0, -3.0, 2.0, -3.0], "dS/dW");
    numeric_close(report.numeric[1].data(), &[3.5, -4.0], "dS/dc");
    numeric_close(report.numeric[2].data(), &[4.0, 1.0], "dS/dw");
    numeric_close(report.numeric[3].data(), &[4.0], "dS/db");
    assert_eq!(report.analytic[2].data(), &[4.0, 1.0], "tape dS/dw\n{report}");
    assert_eq!(report.analytic[3].data(), &[4.0], "tape dS/db\n{report}");

    let tolerance = Tolerance::<f64>::default();
    assert!(!report.passes(tolerance), "the check must fail at the kinks\n{report}");
    let failure = report.first_failure(tolerance).expect("a failing element");
    assert!(failure.input <= 1, "the failure must be in W or c, where the kinks are: {failure:?}\n{report}");
    for input in 2..4 {
        for (&a, &n) in report.analytic[input].data().iter().zip(report.numeric[input].data()) {
            assert!(tolerance.accepts(a, n, report.value), "input {input} (no kink) must agree: {a} vs {n}\n{report}");
        }
    }
    assert!((report.max_abs_error - 2.0).abs() < 1e-6, "largest disagreement |-2 - (-4)| at dS/dc[1]\n{report}");
}

// ---------------------------------------------------------------------------------------
// 6c. The three-weight chain (tutorial E)
// ---------------------------------------------------------------------------------------

/// w1, w2, w3 before training.
const CHAIN_INIT: [f64; 3] = [0.2333, -0.233, -0.52133];
/// (x, t), in this order.
const CHAIN_DATA: [(f64, f64); 2] = [(1.0, -1.0), (-1.0, 1.0)];
const CHAIN_LR: f64 = 0.05;
const CHAIN_EPOCHS: usize = 160;

/// One forward pass and one reverse sweep of `y = w1 x, z = w2 y, e = w3 z,
/// L = 1/2 (e - t)^2` on the tape.
struct ChainSweep {
    y: f64,
    z: f64,
    e: f64,
    loss: f64,
    /// dL/dw1, dL/dw2, dL/dw3, all at the same weights.
    grads: [f64; 3],
}

fn chain_sweep([w1, w2, w3]: [f64; 3], x: f64, t: f64) -> ChainSweep {
    let tape = Tape::<f64>::new();
    let (w1, w2, w3) = (tape.var(w1), tape.var(w2), tape.var(w3));
    let y = w1 * tape.constant(x);
    let z = w2 * y;
    let e = w3 * z;
    let loss = 0.5 * (e - t).powi(2);
    let grads = tape.backward(loss);
    ChainSweep {
        y: y.value(),
        z: z.value(),
        e: e.value(),
        loss: loss.value(),
        grads: [grads.wrt(w1), grads.wrt(w2), grads.wrt(w3)],
    }
}

/// The correct loop: per sample, all three gradients from one sweep, then all three
/// updates. Returns the weights after every epoch (index 0: before training).
fn train_chain_correctly() -> Vec<[f64; 3]> {
    let mut w = CHAIN_INIT;
    let mut history = vec![w];
    for _ in 0..CHAIN_EPOCHS {
        for (x, t) in CHAIN_DATA {
            let grads = chain_sweep(w, x, t).grads;
            for (wi, gi) in w.iter_mut().zip(grads) {
                *wi -= CHAIN_LR * gi;
            }
        }
        history.push(w);
    }
    history
}

/// Tutorial E's loop as written (7.E1), plain arithmetic: w3 is updated first, the updated
/// w3 enters w2's and w1's "gradients", and the updated w2 enters w1's.
fn train_chain_as_tutorial_e() -> Vec<[f64; 3]> {
    let [mut w1, mut w2, mut w3] = CHAIN_INIT;
    let mut history = vec![CHAIN_INIT];
    for _ in 0..CHAIN_EPOCHS {
        for (x, t) in CHAIN_DATA {
            let y = w1 * x;
            let z = w2 * y;
            let e = w3 * z;
            let result3 = e - t;
            w3 -= CHAIN_LR * result3 * z;
            let result2 = result3 * w3;
            w2 -= CHAIN_LR * result2 * y;
            w1 -= CHAIN_LR * result2 * w2 * x;
        }
        history.push([w1, w2, w3]);
    }
    history
}

/// p = w1 w2 w3.
fn product([w1, w2, w3]: [f64; 3]) -> f64 {
    w1 * w2 * w3
}

/// 6c, first sample (x = 1, t = -1) at the initial weights: the forward values, the loss and
/// the three gradients, which also equal the closed forms `(e - t) w3 w2 x`,
/// `(e - t) w3 w1 x`, `(e - t) w2 w1 x`.
#[test]
fn chain_first_sample_loss_and_gradients_match_the_notes() {
    let s = chain_sweep(CHAIN_INIT, 1.0, -1.0);
    assert_rel(s.y, 0.2333, REL, "6c y");
    assert_rel(s.z, -0.0543589, REL, "6c z");
    assert_rel(s.e, 0.028338925337, REL, "6c e");
    assert_rel(s.loss, 0.528740472682, REL, "6c L");
    assert_all_rel(&s.grads, &[0.124912216143, -0.125073047323, -0.0558993728085], REL, "6c dL/dw1, dL/dw2, dL/dw3");
    let [w1, w2, w3] = CHAIN_INIT;
    let (x, t) = (1.0, -1.0);
    let closed = [(s.e - t) * w3 * w2 * x, (s.e - t) * w3 * w1 * x, (s.e - t) * w2 * w1 * x];
    assert_all_rel(&s.grads, &closed, 1e-14, "6c gradients vs the closed form");
}

/// 6c: both samples give the same loss 1/2 (p + 1)^2 and the same gradients at given weights
/// (bit for bit in f64: x = -1 only flips signs), at the start and along training.
#[test]
fn chain_samples_give_the_same_loss_and_gradients() {
    for w in train_chain_correctly().into_iter().step_by(16) {
        let (first, second) = (chain_sweep(w, 1.0, -1.0), chain_sweep(w, -1.0, 1.0));
        assert_eq!(first.loss, second.loss, "losses at {w:?}");
        assert_eq!(first.grads, second.grads, "gradients at {w:?}");
        assert_eq!(first.e, -second.e, "e(1) = -e(-1) at {w:?}");
        assert_rel(first.loss, 0.5 * (product(w) + 1.0).powi(2), 1e-14, "L = 1/2 (p + 1)^2");
    }
}

/// 6c, the correct loop (lr 0.05, 160 epochs, samples (1, -1) then (-1, 1), one update per
/// sample): the weights after epochs 1 and 160, p, the loss per sample and the predictions
/// sign(e(1)) = -1, sign(e(-1)) = +1.
#[test]
fn chain_trained_correctly_reproduces_the_notes_numbers() {
    let history = train_chain_correctly();
    assert_all_rel(&history[1], &[0.221018651862, -0.220702410577, -0.515892122838], REL, "6c correct, after epoch 1");
    let trained = history[CHAIN_EPOCHS];
    assert_all_rel(
        &trained,
        &[0.268342511803, 0.268124623243, -0.536662878743],
        REL_EPOCH_160,
        "6c correct, after epoch 160",
    );
    let p = product(trained);
    assert_rel(p, -0.0386124835127, REL_EPOCH_160, "6c correct, p = w1 w2 w3");
    let (first, second) = (chain_sweep(trained, 1.0, -1.0), chain_sweep(trained, -1.0, 1.0));
    assert_rel(first.e, p, 1e-14, "6c correct, e(1) = p");
    assert_rel(second.e, -p, 1e-14, "6c correct, e(-1) = -p");
    assert_rel(first.loss, 0.462132978429, REL_EPOCH_160, "6c correct, loss of sample (1, -1)");
    assert_rel(second.loss, 0.462132978429, REL_EPOCH_160, "6c correct, loss of sample (-1, 1)");
    assert_rel(first.loss + second.loss, 0.924265956858, REL_EPOCH_160, "6c correct, summed loss");
    assert_eq!((first.e.signum(), second.e.signum()), (-1.0, 1.0), "6c correct, predictions sign(e(1)), sign(e(-1))");
}

/// 6c, tutorial E's loop as written (7.E1): its own numbers after epochs 1 and 160, p near
/// -1, a loss per sample of 3.21933e-10 (p + 1 cancels: 1e-6 relative), the same
/// predictions -1, +1; and it is not gradient descent: after epoch 1 its weights differ from
/// the correct loop's (w1 in the 4th digit).
#[test]
fn chain_trained_as_tutorial_e_gives_other_numbers() {
    let tutorial = train_chain_as_tutorial_e();
    let correct = train_chain_correctly();
    assert_all_rel(
        &tutorial[1],
        &[0.221407115157, -0.220761336254, -0.515889341036],
        REL,
        "6c tutorial, after epoch 1",
    );
    assert!(
        (tutorial[1][0] - correct[1][0]).abs() > 1e-4,
        "after epoch 1 the loops must differ: tutorial w1 {} vs correct {}",
        tutorial[1][0],
        correct[1][0]
    );
    let trained = tutorial[CHAIN_EPOCHS];
    assert_all_rel(
        &trained,
        &[0.975270068113, 0.964179830898, -1.0634229821],
        REL_EPOCH_160,
        "6c tutorial, after epoch 160",
    );
    assert_rel(product(trained), -0.999974625488, REL_EPOCH_160, "6c tutorial, p");
    let (first, second) = (chain_sweep(trained, 1.0, -1.0), chain_sweep(trained, -1.0, 1.0));
    assert_rel(first.loss, 3.21933e-10, 1e-6, "6c tutorial, loss of sample (1, -1)");
    assert_rel(second.loss, 3.21933e-10, 1e-6, "6c tutorial, loss of sample (-1, 1)");
    assert_rel(first.loss + second.loss, 6.43866e-10, 1e-6, "6c tutorial, summed loss");
    assert_eq!((first.e.signum(), second.e.signum()), (-1.0, 1.0), "6c tutorial, predictions");
}
