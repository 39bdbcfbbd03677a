//! The integration tests, one module per file, linked into one test binary: one
//! link instead of one per file keeps `cargo test` and CI quick.

mod activations;
mod checkpoint;
mod data;
mod dropout;
mod fuzz_checkpoint;
mod fuzz_data;
mod fuzzing;
mod interop;
mod interop_sequential;
mod layer_norm_mlp;
mod loss;
mod mlp_file;
mod norm_embedding;
mod optim;
mod parallel;
mod parallel_split;
mod restore;
mod resume;
mod sequential;
