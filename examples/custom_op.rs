//! A user-defined op: swish, `x sigmoid(x)`, with its own vector-Jacobian rule, taking part
//! in the sweep like a built-in op and checked against central differences by proptest.
//!
//! Run: `cargo run --example custom_op`

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wengert::check::{check_gradients, Tolerance};
use wengert::prelude::*;

/// swish(x) = x s with s = sigmoid(x); swish'(x) = s + x s (1 - s).
struct Swish;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl CustomOp<f64> for Swish {
    fn name(&self) -> &'static str {
        "swish"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs {
            [x] => Ok(*x),
            _ => Err(format!("takes one input, got {}", inputs.len())),
        }
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for (y, &x) in output.iter_mut().zip(inputs[0]) {
            *y = x * sigmoid(x);
        }
    }
    fn vjp(&self, _input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for ((a, &g), &x) in adjoint.iter_mut().zip(upstream).zip(inputs[0]) {
            let s = sigmoid(x);
            *a += g * (s + x * s * (1.0 - s));
        }
    }
}

fn main() {
    // Used like a built-in: a layer with a swish activation.
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_rows(&[[0.5, -1.0]]));
    let w = tape.var(&Tensor::from_rows(&[[0.3, -0.2], [0.8, 0.1]]));
    let h = tape.custom(Swish, &[x.matmul(w)]);
    let grads = tape.backward(h.sum());
    println!("swish(x W) = {:?}", &*h.values());
    println!("d sum / dW  = {:?}", grads.wrt_slice(w));

    // Checked by proptest: 500 random vectors against central differences.
    let mut runner = TestRunner::new(Config { cases: 500, failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(-20.0..20.0f64, 1..10), |values| {
        let report = check_gradients(|tape, v| tape.custom(Swish, &[v[0]]).sum(), &[Tensor::from_slice(&values)]);
        prop_assert!(report.passes(Tolerance::default()), "{report}");
        Ok(())
    });
    match result {
        Ok(()) => println!("swish's rule agrees with central differences on 500 random inputs"),
        Err(failure) => {
            println!("swish's rule is wrong: {failure}");
            std::process::exit(1);
        }
    }
}
