//! The workloads of the wengert benchmark, each written twice: on the tape, and by hand
//! with the same GEMM and no tape; the scalar ones also on a new tape per gradient and on two
//! other reverse-mode crates (`peers`, `contenders`); the train step of wengert-nn on 1 and
//! 2 workers (`train`); a conv2d layer and a LeNet train step against hand-written im2col +
//! GEMM (`conv`, `cnn`, with the lowering in `lowering`). The binary (`src/main.rs`) times them
//! side by side; the tests check that all compute the same thing and count heap allocations
//! per step.

pub mod agree;
pub mod cnn;
pub mod contenders;
pub mod conv;
pub mod gemm_race;
pub mod hvp;
pub mod init;
pub mod lowering;
pub mod mlp;
pub mod peers;
pub mod scalar;
pub mod stats;
pub mod train;
