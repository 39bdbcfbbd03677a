//! The three-weight chain of the notes (6c): y = w1 x, z = w2 y, e = w3 z,
//! L = 1/2 (e - t)^2, trained by gradient descent to learn e = -x.
//!
//! Run: `cargo run --release --example chain`
//!
//! Each step takes all three gradients from ONE reverse sweep at the same weights, then
//! updates all three (the notes' 7.E1 shows what goes wrong otherwise). For the first
//! steps it prints the tape's gradients next to central differences (G2).

use wengert::check::check_gradients;
use wengert::prelude::*;

/// L = 1/2 (w3 (w2 (w1 x)) - t)^2, recorded on the tape.
fn chain_loss<'t>(w: &[Var<'t, f64>], x: f64, t: f64) -> Var<'t, f64> {
    let x = w[0].tape().constant(x);
    let e = w[2] * (w[1] * (w[0] * x));
    0.5 * (e - t).powi(2)
}

fn main() {
    let data = [(1.0, -1.0), (-1.0, 1.0)];
    let learning_rate = 0.05;
    let epochs = 160;
    let mut weights = [0.2333, -0.233, -0.52133];
    let mut tape = Tape::<f64>::new();

    println!("three-weight chain: y = w1 x, z = w2 y, e = w3 z, L = 1/2 (e - t)^2");
    println!("start: w1 = {}, w2 = {}, w3 = {}\n", weights[0], weights[1], weights[2]);
    println!("step  (x, t)    tape dL/dw1, dL/dw2, dL/dw3                  central differences");
    let mut step = 0;
    for epoch in 1..=epochs {
        let mut epoch_loss = 0.0;
        for &(x, t) in &data {
            let gradient = {
                let w: Vec<Var<'_, f64>> = weights.iter().map(|&w| tape.var(w)).collect();
                let loss = chain_loss(&w, x, t);
                epoch_loss += loss.value();
                let grads = tape.backward(loss);
                [grads.wrt(w[0]), grads.wrt(w[1]), grads.wrt(w[2])]
            };
            tape.clear();
            if step < 4 {
                let inputs: Vec<Tensor<f64>> = weights.iter().map(|&w| Tensor::scalar(w)).collect();
                let report = check_gradients(|_tape, w| chain_loss(w, x, t), &inputs);
                let numeric: Vec<f64> = report.numeric.iter().map(|g| g.data()[0]).collect();
                println!(
                    "{step:>4}  ({x:>2}, {t:>2})  [{:>15.12}, {:>15.12}, {:>15.12}]  [{:>15.12}, {:>15.12}, {:>15.12}]  max diff {:.1e}",
                    gradient[0], gradient[1], gradient[2], numeric[0], numeric[1], numeric[2], report.max_abs_error
                );
            }
            for (w, g) in weights.iter_mut().zip(gradient) {
                *w -= learning_rate * g;
            }
            step += 1;
        }
        if epoch == 1 || epoch % 20 == 0 {
            println!(
                "epoch {epoch:>3}: loss (sum over both samples) {epoch_loss:.12}, w = [{:.12}, {:.12}, {:.12}]",
                weights[0], weights[1], weights[2]
            );
        }
    }

    let p = weights[0] * weights[1] * weights[2];
    println!("\nafter {epochs} epochs: p = w1 w2 w3 = {p:.12} (notes 6c: -0.0386124835127)");
    println!("predictions: sign(e(1)) = {}, sign(e(-1)) = {}", p.signum(), (-p).signum());
}
