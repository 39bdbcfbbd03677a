//! XOR with relu (notes 6b, tutorial D): first the exact solution worked by hand, then a
//! relu network trained from random weights to the same outputs.
//!
//! Run: `cargo run --release --example xor`

use rand::SeedableRng;
use wengert::nn::optim::{Adam, Optimizer};
use wengert::nn::{Activation, Linear, Mlp};
use wengert::prelude::*;

fn inputs() -> Tensor<f64> {
    Tensor::from_rows(&[[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
}

fn main() {
    let targets = Tensor::from_rows(&[[0.0], [1.0], [1.0], [0.0]]);

    // The exact solution: W = [[1, 1], [1, 1]], c = [0, -1], w = [1, -2], b = 0.
    let exact = Mlp {
        layers: vec![
            Linear::from_tensors(Tensor::from_rows(&[[1.0, 1.0], [1.0, 1.0]]), Tensor::from_slice(&[0.0, -1.0])),
            Linear::from_tensors(Tensor::from_rows(&[[1.0], [-2.0]]), Tensor::from_slice(&[0.0])),
        ],
        hidden: Activation::Relu,
        norms: Vec::new(),
    };
    let tape = Tape::<f64>::new();
    let x = tape.constant(&inputs());
    let params = exact.on_tape(&tape);
    let hidden = params.layers[0].forward(x);
    let output = params.forward(x);
    println!("XOR with relu, the exact solution (notes 6b)");
    println!("X W + c       = {:?}", &*hidden.values());
    println!("relu(X W + c) = {:?}", &*hidden.relu().values());
    println!("output        = {:?}   (XOR: [0, 1, 1, 0])", &*output.values());
    let grads = tape.backward(output.sum());
    println!(
        "for S = sum of outputs, with relu'(0) = 0: dS/dc = {:?}, dS/dw = {:?}",
        grads.wrt_slice(params.layers[0].bias),
        grads.wrt_slice(params.layers[1].weight)
    );
    drop(grads);

    // Training from random weights: 2-8-1 relu, MSE, Adam, full batch.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut model = Mlp::<f64>::new(&[2, 8, 1], Activation::Relu, &mut rng);
    let mut adam = Adam::new(0.05);
    let mut tape = Tape::<f64>::new();
    println!("\nTraining a 2-8-1 relu network from random weights (MSE, Adam lr 0.05, full batch)");
    for step in 0..=400 {
        let loss_value = {
            let params = model.on_tape(&tape);
            let prediction = params.forward(tape.constant(&inputs()));
            let loss = prediction.mse(tape.constant(&targets));
            let grads = tape.backward(loss);
            adam.begin_step();
            for (index, (parameter, var)) in model.parameters_mut().zip(params.parameters()).enumerate() {
                adam.update(index, parameter.data_mut(), grads.wrt_slice(var), 1.0);
            }
            loss.value()
        };
        tape.clear();
        if step % 100 == 0 {
            println!("step {step:>3}: loss {loss_value:.3e}");
        }
    }
    let prediction = model.on_tape(&tape).forward(tape.constant(&inputs())).to_tensor();
    let rounded: Vec<f64> = prediction.data().iter().map(|p| p.round()).collect();
    println!("trained outputs {:?}\nrounded         {rounded:?}   (XOR: [0, 1, 1, 0])", prediction.data());
}
