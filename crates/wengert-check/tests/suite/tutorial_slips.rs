//! The toolkit catches the slips of the classic tutorials (notes, section 7), and passes the
//! corrected code: a numerical gradient that adds instead of subtracts (7.A1, 7.E3), checked
//! on the 2-3-1 network of example 6a; the three-weight chain's gradients taken after a
//! weight was already updated (7.E1, example 6c); and a check run after the update (7.E2).
//! Expected numbers are the notes' (6a, 6c) or follow from them in closed form.

use wengert_check::{Finding, GradCheck};
use wengert_tape::{Tape, Tensor, Var};

// ---------------------------------------------------------------------------------------
// 7.A1 / 7.E3: the numerical gradient that adds
// ---------------------------------------------------------------------------------------

/// E = 1/2 (1 - Y)^2 for the 2-3-1 sigmoid network of example 6a, recorded on a tape.
fn network<'t>(tape: &'t Tape<f64>, p: &[Var<'t, f64>]) -> Var<'t, f64> {
    let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]));
    let h = x.matmul(p[0]).add_bias(p[1]).sigmoid();
    let y = h.matmul(p[2]).add_bias(p[3]).sigmoid();
    0.5 * (1.0 - y).powi(2).sum()
}

/// E at the given parameters, through the tape.
fn network_loss(params: &[Tensor<f64>]) -> f64 {
    let tape = Tape::new();
    let vars: Vec<Var<'_, f64>> = params.iter().map(|p| tape.constant(p)).collect();
    network(&tape, &vars).value()
}

/// W, B1, V, B2 of example 6a.
fn parameters() -> Vec<Tensor<f64>> {
    vec![
        Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        Tensor::from_slice(&[0.1, 0.2, 0.3]),
        Tensor::from_rows(&[[0.1], [0.2], [0.3]]),
        Tensor::from_slice(&[0.1]),
    ]
}

/// A user's numerical gradient in the style of tutorial A: `(fxh1 - fxh2) / (2h)`, or with
/// the slip of 7.A1 and 7.E3, `(fxh1 + fxh2) / (2h)`.
fn users_numerical_gradient(f: fn(&[Tensor<f64>]) -> f64, params: &[Tensor<f64>], adds: bool) -> Vec<Tensor<f64>> {
    let h = 1e-5;
    let mut point = params.to_vec();
    let mut gradient = Vec::new();
    for p in 0..params.len() {
        let mut grad = Tensor::zeros(params[p].shape());
        for idx in 0..params[p].len() {
            let old = point[p].data()[idx];
            point[p].data_mut()[idx] = old + h;
            let fxh1 = f(&point);
            point[p].data_mut()[idx] = old - h;
            let fxh2 = f(&point);
            point[p].data_mut()[idx] = old;
            grad.data_mut()[idx] = if adds { (fxh1 + fxh2) / (2.0 * h) } else { (fxh1 - fxh2) / (2.0 * h) };
        }
        gradient.push(grad);
    }
    gradient
}

#[test]
fn numerical_gradient_that_adds_is_caught_and_the_one_that_subtracts_passes() {
    let params = parameters();
    let check = GradCheck::new().names(&["W", "B1", "V", "B2"]);
    // The tape's gradient of the same loss passes: the reference is sound.
    check.tape(network, &params).unwrap();

    let failure =
        check.hand_written(network_loss, |p| users_numerical_gradient(network_loss, p, true), &params).unwrap_err();
    let report = &failure.report;
    assert_eq!(report.failures().count(), 13, "{failure}");
    // Every "gradient" the slip gives is about E / h (the two values nearly equal E); the
    // report's numeric values are the notes' (6a).
    let e = 0.0723034528622;
    assert!((report.value - e).abs() < 1e-12);
    for finding in report.failures() {
        let Finding::WrongGradient(element) = finding else { panic!("{failure}") };
        assert!((element.analytic - e / 1e-5).abs() < 1e-3 * e / 1e-5, "{element:?}");
    }
    let numeric_b2 = report.inputs[3].numeric.data()[0];
    let numeric_v = report.inputs[2].numeric.data().to_vec();
    assert!((numeric_b2 + 0.0896169272249).abs() < 1e-9, "{numeric_b2}");
    for (n, expected) in numeric_v.iter().zip([-0.0501598173732, -0.0562030557329, -0.0618333928622]) {
        assert!((n - expected).abs() < 1e-9, "{n} vs {expected}");
    }
    let text = failure.to_string();
    assert!(text.contains("WRONG GRADIENT at input 0 (W) [2 x 3], element 0 (row 0, col 0):"), "{text}");
    assert!(text.contains("analytic 7230.34529, numeric -0.000883387318"), "{text}");

    // Subtracting, the user's numerical gradient passes (its step 1e-5 keeps it within the
    // default tolerance of the check's own central difference).
    check.hand_written(network_loss, |p| users_numerical_gradient(network_loss, p, false), &params).unwrap();
}

// ---------------------------------------------------------------------------------------
// 7.E1 and 7.E2: the three-weight chain of example 6c
// ---------------------------------------------------------------------------------------

const X: f64 = 1.0;
const T: f64 = -1.0;
const LEARNING_RATE: f64 = 0.05;
const W1: f64 = 0.2333;
const W2: f64 = -0.233;
const W3: f64 = -0.52133;
/// The notes' gradients at the initial weights and the first sample (6c).
const GRADIENTS: [f64; 3] = [0.124912216143, -0.125073047323, -0.0558993728085];

fn weights(w: [f64; 3]) -> Vec<Tensor<f64>> {
    w.iter().map(|&w| Tensor::scalar(w)).collect()
}

fn unpack(w: &[Tensor<f64>]) -> (f64, f64, f64) {
    (w[0].data()[0], w[1].data()[0], w[2].data()[0])
}

/// L = 1/2 (w3 w2 w1 x - t)^2.
fn chain_loss(w: &[Tensor<f64>]) -> f64 {
    let (w1, w2, w3) = unpack(w);
    0.5 * (w3 * w2 * w1 * X - T).powi(2)
}

/// One reverse sweep: all three gradients from the same weights (the correction of 7.E1).
fn one_sweep(w: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let (w1, w2, w3) = unpack(w);
    let result3 = w3 * w2 * w1 * X - T;
    weights([result3 * w3 * w2 * X, result3 * w3 * w1 * X, result3 * w2 * w1 * X])
}

/// Tutorial E's loop as written (7.E1): w3 is updated first and the updated w3 enters the
/// "gradients" of w2 and w1, the updated w2 that of w1.
fn tutorial_loop(w: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let (w1, w2, w3) = unpack(w);
    let (y, z) = (w1 * X, w2 * w1 * X);
    let result3 = w3 * z - T;
    let g3 = result3 * z;
    let w3 = w3 - LEARNING_RATE * g3;
    let result2 = result3 * w3;
    let g2 = result2 * y;
    let w2 = w2 - LEARNING_RATE * g2;
    let g1 = result2 * w2 * X;
    weights([g1, g2, g3])
}

#[test]
fn chain_gradients_taken_after_an_update_are_caught_and_one_sweep_passes() {
    let w = weights([W1, W2, W3]);
    let check = GradCheck::new().names(&["w1", "w2", "w3"]);
    let failure = check.hand_written(chain_loss, tutorial_loop, &w).unwrap_err();
    let report = &failure.report;
    // w3's gradient is taken before any update and is right; w2's and w1's are not.
    let wrong: Vec<usize> = report.failures().filter_map(|f| f.element()).map(|e| e.input).collect();
    assert_eq!(wrong, vec![0, 1], "{failure}");
    for (input, expected) in GRADIENTS.iter().enumerate() {
        assert!((report.inputs[input].numeric.data()[0] - expected).abs() < 1e-9);
    }
    // The loop's values follow from the notes' gradients: g2 uses w3' = w3 - lr g3 in place
    // of w3, and g1 uses w3' and w2' = w2 - lr g2 in place of w3 and w2.
    let w3_updated = W3 - LEARNING_RATE * GRADIENTS[2];
    let g2 = GRADIENTS[1] * w3_updated / W3;
    let w2_updated = W2 - LEARNING_RATE * g2;
    let g1 = GRADIENTS[0] * (w3_updated / W3) * (w2_updated / W2);
    let analytic = |input: usize| report.inputs[input].analytic.as_ref().unwrap().data()[0];
    assert!((analytic(1) - g2).abs() < 1e-11 && (analytic(0) - g1).abs() < 1e-11);
    let text = failure.to_string();
    assert!(text.contains("WRONG GRADIENT at input 0 (w1) []") && text.contains("input 2 (w3) []: agrees"), "{text}");

    let report = check.hand_written(chain_loss, one_sweep, &w).unwrap();
    assert!(report.findings.is_empty());
}

#[test]
fn checking_after_the_update_compares_two_points_and_checking_before_passes() {
    let old = weights([W1, W2, W3]);
    let step = one_sweep(&old);
    let new: Vec<Tensor<f64>> =
        old.iter().zip(&step).map(|(w, g)| Tensor::scalar(w.data()[0] - LEARNING_RATE * g.data()[0])).collect();
    // 7.E2: the backprop values of the old weights against differences at the new ones.
    let failure = GradCheck::new().hand_written(chain_loss, |_| step.clone(), &new).unwrap_err();
    assert_eq!(failure.report.failures().count(), 3, "{failure}");
    // Each "by definition" value is the next step's backprop value.
    let next = one_sweep(&new);
    for (input, g) in next.iter().enumerate() {
        assert!((failure.report.inputs[input].numeric.data()[0] - g.data()[0]).abs() < 1e-9);
    }
    // Checked where the gradient was taken, before the update, it passes.
    GradCheck::new().hand_written(chain_loss, one_sweep, &old).unwrap();
}
