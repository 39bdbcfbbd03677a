//! Check your own hand-written backprop with wengert-check: a 2-3-1 sigmoid network with a
//! mean squared error, its forward and backward passes written out by hand in plain Rust
//! (no tape), checked against finite differences. The first version has one bug, the slip
//! of tutorial C (notes 7.C5): the hidden layer's sigmoid' written as 1 - h^2 (the tanh
//! form) instead of h (1 - h). The report points at W and B1 and leaves V and B2 alone,
//! which says the bug sits below the output layer. Then the fixed version passes.
//!
//! Run: `cargo run --example check_my_gradients`

use wengert::Tensor;
use wengert_check::GradCheck;

/// The four XOR inputs and their targets.
const X: [[f64; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const TARGETS: [f64; 4] = [0.0, 1.0, 1.0, 0.0];

/// The network's parameters as a user keeps them.
struct Params {
    w: [[f64; 3]; 2],
    b1: [f64; 3],
    v: [f64; 3],
    b2: f64,
}

/// The gradients, one per parameter.
struct Grads {
    w: [[f64; 3]; 2],
    b1: [f64; 3],
    v: [f64; 3],
    b2: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The hidden activations H and the outputs Y of every sample.
#[allow(clippy::needless_range_loop)] // index loops, as the formulas are written
fn forward(p: &Params) -> ([[f64; 3]; 4], [f64; 4]) {
    let mut h = [[0.0; 3]; 4];
    let mut y = [0.0; 4];
    for n in 0..4 {
        for j in 0..3 {
            h[n][j] = sigmoid(X[n][0] * p.w[0][j] + X[n][1] * p.w[1][j] + p.b1[j]);
        }
        y[n] = sigmoid(h[n][0] * p.v[0] + h[n][1] * p.v[1] + h[n][2] * p.v[2] + p.b2);
    }
    (h, y)
}

/// L = 1/N sum_n (Y_n - t_n)^2 (F13/F14 with one output).
fn loss(p: &Params) -> f64 {
    let (_, y) = forward(p);
    y.iter().zip(TARGETS).map(|(y, t)| (y - t).powi(2)).sum::<f64>() / 4.0
}

/// The hand-written backward pass. `buggy` switches on the slip of tutorial C (7.C5).
#[allow(clippy::needless_range_loop)] // index loops, as the formulas are written
fn backward(p: &Params, buggy: bool) -> Grads {
    let (h, y) = forward(p);
    let mut g = Grads { w: [[0.0; 3]; 2], b1: [0.0; 3], v: [0.0; 3], b2: 0.0 };
    for n in 0..4 {
        // BP1: delta_2 = dL/dY (.) sigmoid'(net_2), dL/dY = 2 (Y - t) / N.
        let delta2 = 2.0 * (y[n] - TARGETS[n]) / 4.0 * y[n] * (1.0 - y[n]);
        g.b2 += delta2;
        for j in 0..3 {
            g.v[j] += h[n][j] * delta2;
            // BP2: delta_1 = (delta_2 V^T) (.) sigmoid'(net_1).
            let slope = if buggy { 1.0 - h[n][j] * h[n][j] } else { h[n][j] * (1.0 - h[n][j]) };
            let delta1 = delta2 * p.v[j] * slope;
            g.b1[j] += delta1;
            g.w[0][j] += X[n][0] * delta1;
            g.w[1][j] += X[n][1] * delta1;
        }
    }
    g
}

// The toolkit works on tensors: one per parameter.

fn to_params(t: &[Tensor<f64>]) -> Params {
    let (w, b1, v) = (t[0].data(), t[1].data(), t[2].data());
    Params {
        w: [[w[0], w[1], w[2]], [w[3], w[4], w[5]]],
        b1: [b1[0], b1[1], b1[2]],
        v: [v[0], v[1], v[2]],
        b2: t[3].data()[0],
    }
}

fn to_tensors(w: [[f64; 3]; 2], b1: [f64; 3], v: [f64; 3], b2: f64) -> Vec<Tensor<f64>> {
    vec![Tensor::from_rows(&w), Tensor::from_slice(&b1), Tensor::from_rows(&v.map(|x| [x])), Tensor::from_slice(&[b2])]
}

fn gradient(t: &[Tensor<f64>], buggy: bool) -> Vec<Tensor<f64>> {
    let g = backward(&to_params(t), buggy);
    to_tensors(g.w, g.b1, g.v, g.b2)
}

fn main() {
    // The weights of the notes' worked example (6a).
    let params = to_tensors([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], 0.1);
    let check = GradCheck::new().names(&["W", "B1", "V", "B2"]);

    println!("2-3-1 sigmoid network, mean squared error over the 4 XOR samples, backprop by hand.\n");
    println!("1. The first version of the backward pass:\n");
    match check.hand_written(|t| loss(&to_params(t)), |t| gradient(t, true), &params) {
        Ok(report) => println!("unexpected: the bug went unnoticed\n{report}"),
        Err(failure) => {
            println!("{failure}");
            println!("W and B1 are wrong, V and B2 agree: the error is in delta_1, the hidden layer's");
            println!("delta. There, sigmoid'(net_1) was written as 1 - h^2 (the tanh form, notes 7.C5).\n");
        }
    }

    println!("2. Fixed, sigmoid'(net_1) = h (1 - h):\n");
    match check.hand_written(|t| loss(&to_params(t)), |t| gradient(t, false), &params) {
        Ok(report) => print!("{report}"),
        Err(failure) => println!("unexpected: the fixed version fails\n{failure}"),
    }
}
