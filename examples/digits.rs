//! The MNIST trainer on the 8x8 UCI digits shipped in `examples/data/` (1,797 rows;
//! 1,437 to train, 360 to test, grey levels scaled to [0, 1]): a couple of seconds.
//!
//! Run: `cargo run --release --example digits` (flags: `-- --help`)

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    let defaults = common::Defaults {
        name: "digits",
        data: concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/digits.csv.gz"),
        epochs: 30,
        batch_size: 32,
        lr: 1e-3,
        hidden: &[64],
        test_count: 360,
        architecture: None,
    };
    common::main(&defaults)
}
