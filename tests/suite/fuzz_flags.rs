//! Byte-mutation fuzzing of the examples' command line and of the metrics file `--resume`
//! reads, bounded to run in seconds: thousands of mutations of real command lines and of a
//! file written by `write_metrics`, each of which must parse or fail with clap's error (or
//! an error naming the file), never panic, and never allocate a block over 16 x the input's
//! size + 64 KiB. The soak runs the same trials for longer:
//! `cargo run --release --example fuzz -- --seconds 60`.

use crate::fuzzing::{assert_fuzz_passes, targets};
use crate::{common, flags};
use clap::Parser;

/// Mutated inputs per target; well under a second each in the test profile.
const TRIALS: u64 = 10_000;

#[test]
fn the_sample_command_lines_parse_to_the_values_they_spell() {
    // The mutations start from command lines that mean what they say.
    let every_flag = &targets::argv_samples()[1];
    let args = common::Args::try_parse_from(targets::argv_from_bytes(&every_flag.bytes)).expect("parses");
    assert_eq!((args.epochs, args.batch_size, args.lr), (Some(30), Some(32), Some(0.001)));
    assert_eq!((args.hidden, args.seed, args.resume, args.test_count), (Some(vec![128, 64]), 7, true, Some(360)));
    assert!(args.layer_norm);
    let idx = &targets::argv_samples()[2];
    let args = common::Args::try_parse_from(targets::argv_from_bytes(&idx.bytes)).expect("parses");
    assert_eq!(args.data.map(|paths| paths.len()), Some(2));
}

#[test]
fn mutated_command_lines_parse_or_fail_with_a_clap_error() {
    assert_fuzz_passes(&flags::flags(), 0, TRIALS);
}

#[test]
fn mutated_metrics_files_read_or_fail_with_an_error_naming_the_file() {
    assert_fuzz_passes(&flags::metrics(), 0, TRIALS);
}
