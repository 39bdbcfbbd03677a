//! The main job: an MLP trained on 5,000 real MNIST digits shipped in `examples/data/`
//! (4,000 rows to train, 1,000 to test, pixels scaled to [0, 1]).
//!
//! Run: `cargo run --release --example mnist` (flags: `-- --help`)
//!
//! It prints the loss and accuracy of every epoch, writes a checkpoint that
//! `--resume` continues from, the metrics as CSV and the curves as SVG to `--out`
//! (default `target/mnist`), and ends with the line `test accuracy: 0.XXXX`.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    let defaults = common::Defaults {
        name: "mnist",
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist_5k.csv.gz"),
        epochs: 10,
        batch_size: 64,
        lr: 1e-3,
        hidden: &[256, 128],
        test_count: 1000,
        architecture: None,
    };
    common::main(&defaults)
}
