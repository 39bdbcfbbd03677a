//! The notes' 2-3-1 sigmoid network (6a), one sample, worked by the tape and by the
//! closed-form backpropagation equations side by side.
//!
//! Run: `cargo run --example worked_2_3_1`
//!
//! Flags: `--explain` prints the reverse sweep node by node after the comparison, with the
//! rule each node applied and BP1-BP4 on the lines of the layers; `--dot FILE` writes the
//! graph with its adjoints as Graphviz DOT to FILE (render with `dot -Tsvg FILE -o graph.svg`).
//!
//! net_1 = X W + B1, H = sigmoid(net_1), net_2 = H V + B2, Y = sigmoid(net_2),
//! E = 1/2 sum (target - Y)^2. The tape's gradients come from one reverse sweep; the closed
//! forms are delta_2 = (Y - t) Y (1 - Y) (BP1), delta_1 = (delta_2 V^T) (.) H (1 - H) (BP2),
//! dE/dV = H^T delta_2, dE/dW = X^T delta_1 (BP3), dE/dB = delta (BP4).

use wengert::nn::optim::{Optimizer, Sgd};
use wengert::prelude::*;

/// Largest absolute difference seen so far, over every quantity printed.
struct Comparison {
    largest: f64,
}

impl Comparison {
    fn show(&mut self, name: &str, tape: &[f64], closed_form: &[f64]) {
        let difference = tape.iter().zip(closed_form).fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
        self.largest = self.largest.max(difference);
        println!("{name:<24} tape        {}", format_values(tape));
        println!("{:<24} closed form {}   (max diff {difference:.1e})", "", format_values(closed_form));
    }
}

fn format_values(values: &[f64]) -> String {
    let parts: Vec<String> = values.iter().map(|v| format!("{v:>16.12}")).collect();
    format!("[{}]", parts.join(", "))
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The closed-form forward and backward pass, with plain loops.
struct ClosedForm {
    net1: [f64; 3],
    h: [f64; 3],
    net2: f64,
    y: f64,
    e: f64,
    delta2: f64,
    d_v: [f64; 3],
    delta1: [f64; 3],
    d_w: [f64; 6],
}

fn closed_form(x: &[f64; 2], w: &[f64], b1: &[f64], v: &[f64], b2: f64, target: f64) -> ClosedForm {
    let net1: [f64; 3] = std::array::from_fn(|j| x[0] * w[j] + x[1] * w[3 + j] + b1[j]);
    let h = net1.map(sigmoid);
    let net2 = (0..3).map(|j| h[j] * v[j]).sum::<f64>() + b2;
    let y = sigmoid(net2);
    let e = 0.5 * (target - y).powi(2);
    let delta2 = (y - target) * y * (1.0 - y); // BP1
    let d_v = h.map(|hj| hj * delta2); // BP3: H^T delta_2
    let delta1: [f64; 3] = std::array::from_fn(|j| delta2 * v[j] * h[j] * (1.0 - h[j])); // BP2
    let d_w: [f64; 6] = std::array::from_fn(|i| x[i / 3] * delta1[i % 3]); // BP3: X^T delta_1
    ClosedForm { net1, h, net2, y, e, delta2, d_v, delta1, d_w }
}

/// What the flags ask for beyond the comparison.
struct Options {
    explain: bool,
    dot: Option<String>,
}

/// Reads `--explain` and `--dot FILE` from the command line; anything else is an error.
fn parse_options() -> Result<Options, String> {
    let mut options = Options { explain: false, dot: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--explain" => options.explain = true,
            "--dot" => options.dot = Some(args.next().ok_or("--dot needs a file name")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn main() {
    let options = parse_options().unwrap_or_else(|message| {
        eprintln!("worked_2_3_1: {message}\nusage: cargo run --example worked_2_3_1 -- [--explain] [--dot FILE]");
        std::process::exit(2);
    });
    let x_values = [0.4, 0.5];
    let target = 1.0;
    let mut w = Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]);
    let mut b1 = Tensor::from_slice(&[0.1, 0.2, 0.3]);
    let mut v = Tensor::from_rows(&[[0.1], [0.2], [0.3]]);
    let mut b2 = Tensor::from_slice(&[0.1]);
    let expected = closed_form(&x_values, w.data(), b1.data(), v.data(), b2.data()[0], target);

    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_rows(&[x_values]));
    let (w_var, b1_var, v_var, b2_var) = (tape.var(&w), tape.var(&b1), tape.var(&v), tape.var(&b2));
    let net1 = x.matmul(w_var).add_bias(b1_var);
    let h = net1.sigmoid();
    let net2 = h.matmul(v_var).add_bias(b2_var);
    let y = net2.sigmoid();
    let e = 0.5 * (target - y).powi(2).sum();
    let grads = tape.backward(e);

    let mut compare = Comparison { largest: 0.0 };
    println!("The 2-3-1 sigmoid network (notes 6a): X = [0.4, 0.5], target 1.0\n");
    println!("Forward pass");
    compare.show("net_1 = X W + B1", &net1.values(), &expected.net1);
    compare.show("H = sigmoid(net_1)", &h.values(), &expected.h);
    compare.show("net_2 = H V + B2", &net2.values(), &[expected.net2]);
    compare.show("Y = sigmoid(net_2)", &y.values(), &[expected.y]);
    compare.show("E = 1/2 (t - Y)^2", &[e.value()], &[expected.e]);
    println!("\nBackward pass (tape: one reverse sweep; closed form: BP1-BP4)");
    compare.show("delta_2 = dE/dnet_2", grads.wrt_slice(net2), &[expected.delta2]);
    compare.show("dE/dV = H^T delta_2", grads.wrt_slice(v_var), &expected.d_v);
    compare.show("dE/dB2 = delta_2", grads.wrt_slice(b2_var), &[expected.delta2]);
    compare.show("delta_1 = dE/dnet_1", grads.wrt_slice(net1), &expected.delta1);
    compare.show("dE/dW = X^T delta_1", grads.wrt_slice(w_var), &expected.d_w);
    compare.show("dE/dB1 = delta_1", grads.wrt_slice(b1_var), &expected.delta1);

    // One SGD step with lr 0.01 on all four parameters, gradients taken before any update (G1).
    let mut sgd = Sgd::new(0.01);
    sgd.begin_step();
    for (index, (parameter, var)) in
        [(&mut w, w_var), (&mut b1, b1_var), (&mut v, v_var), (&mut b2, b2_var)].into_iter().enumerate()
    {
        sgd.update(index, parameter.data_mut(), grads.wrt_slice(var), 1.0);
    }
    let w_closed: Vec<f64> =
        [0.1, 0.3, 0.5, 0.2, 0.4, 0.6].iter().zip(&expected.d_w).map(|(p, g)| p - 0.01 * g).collect();
    let v_closed: Vec<f64> = [0.1, 0.2, 0.3].iter().zip(&expected.d_v).map(|(p, g)| p - 0.01 * g).collect();
    println!("\nAfter one SGD step, lr 0.01 (theta <- theta - lr dE/dtheta)");
    compare.show("W", w.data(), &w_closed);
    compare.show("V", v.data(), &v_closed);
    let after = closed_form(&x_values, w.data(), b1.data(), v.data(), b2.data()[0], target);
    println!("E at the new parameters: {:.12} (notes: 0.0721275231772)", after.e);
    println!("\nlargest difference between tape and closed form: {:.1e}", compare.largest);

    if options.explain {
        println!("\nThe reverse sweep, node by node (rules as in docs/derivations.md)");
        print!("{}", grads.explain());
    }
    if let Some(path) = options.dot {
        if let Err(error) = grads.write_dot(&path) {
            eprintln!("worked_2_3_1: cannot write {path}: {error}");
            std::process::exit(1);
        }
        println!("\nwrote the graph with its adjoints to {path} (render: dot -Tsvg {path} -o graph.svg)");
    }
}
