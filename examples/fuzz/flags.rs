//! The facade package's fuzzing targets: the command-line flags of the `digits` and `mnist`
//! examples (`common::Args`, parsed by clap) and the metrics file that `--resume` reads
//! back (`common::plot::read_metrics`). Shared by `tests/suite/fuzz_flags.rs` and the soak.

use crate::common::{plot, Args};
use crate::fuzzing::targets::{self, Fresh, Scratch};
use crate::fuzzing::{judge, Sample, Target};
use clap::error::ErrorKind;
use clap::Parser;
use wengert::nn::train::EpochMetrics;

/// `Args::try_parse_from` on mutated command lines: the arguments are joined by NUL, so a
/// mutation may change, split, join, drop or add arguments, and make them any bytes.
pub fn flags() -> Target {
    let run = Box::new(|bytes: &[u8]| {
        let argv = targets::argv_from_bytes(bytes);
        judge(bytes.len(), &[], || match Args::try_parse_from(argv) {
            Ok(_) => Ok(()),
            // What `Args::parse` prints before exiting with success.
            Err(help) if help.kind() == ErrorKind::DisplayHelp => {
                let _printed = help.to_string();
                Ok(())
            }
            Err(error) => Err(error.to_string()),
        })
    });
    Target { name: "flags", samples: targets::argv_samples(), run }
}

/// `read_metrics` on mutated metrics files written by `write_metrics`.
pub fn metrics() -> Target {
    let scratch = Scratch::new("metrics");
    let history: Vec<EpochMetrics> = (1..=12)
        .map(|epoch| {
            let e = epoch as f32;
            EpochMetrics {
                epoch,
                train_loss: 2.3 / e,
                train_accuracy: 1.0 - 0.9 / e,
                test_loss: 2.4 / e,
                test_accuracy: 1.0 - 0.95 / e,
                seconds: 0.25 * f64::from(e),
            }
        })
        .collect();
    let written = scratch.write("metrics.csv", b"");
    plot::write_metrics(&written, &history).expect("write a metrics file");
    let bytes = std::fs::read(&written).expect("read it back");
    let samples = vec![Sample { name: "metrics.csv (12 epochs)", bytes, fields: vec![] }];
    let run = Box::new(move |bytes: &[u8]| {
        let Fresh(path) = &Fresh::new(&scratch, "metrics.csv", bytes);
        let name = path.display().to_string();
        judge(bytes.len(), &[&name], || plot::read_metrics(path).map(drop).map_err(|error| error.to_string()))
    });
    Target { name: "metrics", samples, run }
}
