//! The integration tests, one module per file, linked into one test binary: one
//! link instead of one per file keeps `cargo test` and CI quick.

mod common;
mod custom_ops;
mod differences;
mod kinks;
mod mutants;
mod no_false_alarms;
mod report;
mod second_order;
mod strategies;
mod tutorial_slips;
