//! The integration tests, one module per file, linked into one test binary: one
//! link instead of one per file keeps `cargo test` and CI quick.

// The trainers' module, for their flags, model, checkpoints and metrics reader; most of it
// is unused here.
#[allow(dead_code)]
#[path = "../../examples/common/mod.rs"]
mod common;
// The examples' command-line fuzzing targets and wengert-nn's fuzzing harness (its
// allocator is this binary's global allocator).
#[path = "../../examples/fuzz/flags.rs"]
mod flags;
#[path = "../../crates/wengert-nn/tests/suite/fuzzing/mod.rs"]
mod fuzzing;

mod fuzz_flags;
mod newton;
mod projectile;
mod trainer_layer_norm;
