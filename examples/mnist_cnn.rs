//! A LeNet-style convolutional network on the same 5,000 MNIST digits as the `mnist`
//! example and the same 4,000/1,000 split: conv 5x5 x8 (padding 2), relu, max-pool 2; conv
//! 5x5 x16, relu, max-pool 2; linear 400-120, relu; linear 120-10; Adam 1e-3, batch 64, 10
//! epochs.
//!
//! Run: `cargo run --release --example mnist_cnn` (flags: `-- --help`; `--architecture`
//! takes another layer stack)
//!
//! It prints the loss and accuracy of every epoch, writes a checkpoint that `--resume`
//! continues from, the metrics as CSV and the curves as SVG to `--out` (default
//! `target/mnist_cnn`), and ends with the line `test accuracy: 0.XXXX`.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    let defaults = common::Defaults {
        name: "mnist_cnn",
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist_5k.csv.gz"),
        epochs: 10,
        batch_size: 64,
        lr: 1e-3,
        hidden: &[],
        test_count: 1000,
        architecture: Some(
            "unflatten(1x28x28) | conv2d(1->8, k5, p2) | relu | max_pool2d(k2) \
             | conv2d(8->16, k5) | relu | max_pool2d(k2) | flatten | linear(400->120) | relu | linear(120->10)",
        ),
    };
    common::main(&defaults)
}
