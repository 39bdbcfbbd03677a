//! The workloads of the wengert benchmark, each written twice: on the tape, and by hand
//! with the same GEMM and no tape. The binary (`src/main.rs`) times them side by side;
//! the tests check that both compute the same thing and count heap allocations per step.

pub mod gemm_race;
pub mod init;
pub mod mlp;
pub mod scalar;
pub mod stats;
