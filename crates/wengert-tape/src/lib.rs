//! The wengert engine: reverse-mode automatic differentiation on a Wengert tape.
//!
//! A [`Tape`] records every operation as one node in a `Vec`, with its value in one flat
//! arena. [`Tape::backward`] sweeps the nodes once, last to first, and returns the
//! [`Gradients`] of every trainable leaf. Handles ([`Var`]) are `Copy` and read like maths.
//!
//! ```
//! use wengert_tape::{Tape, Tensor};
//!
//! // The 2-3-1 sigmoid network of the notes (6a): one sample, E = 1/2 (target - Y)^2.
//! let tape = Tape::<f64>::new();
//! let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]));
//! let w = tape.var(&Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]));
//! let b1 = tape.var(&Tensor::from_slice(&[0.1, 0.2, 0.3]));
//! let v = tape.var(&Tensor::from_rows(&[[0.1], [0.2], [0.3]]));
//! let b2 = tape.var(&Tensor::from_slice(&[0.1]));
//! let h = x.matmul(w).add_bias(b1).sigmoid();
//! let y = h.matmul(v).add_bias(b2).sigmoid();
//! let e = 0.5 * (1.0 - y).powi(2).sum();
//! let grads = tape.backward(e);
//! assert!((e.value() - 0.0723034528622).abs() < 1e-12);
//! assert!((grads.wrt_slice(b2)[0] + 0.0896169272249).abs() < 1e-12);
//! ```
//!
//! [`Tape::grad`] records the gradient on the tape instead, as handles that can be
//! differentiated again: [`hvp`], [`hessian`] and [`jvp`] are built on it.
//!
//! Gradient checking by central differences is in [`check`].

pub mod anomaly;
#[cfg(any(feature = "openblas", feature = "blis"))]
mod blas;
mod broadcast;
pub mod check;
mod custom;
mod grad;
mod higher;
pub mod inspect;
mod interned;
mod kernels;
mod operators;
mod ops;
mod pool;
mod real;
pub mod registry;
mod shape;
mod sweep;
mod tape;
mod tensor;
mod var;
mod vars;

pub use anomaly::Anomaly;
pub use custom::CustomOp;
pub use higher::{hessian, hvp, jacobian, jvp};
pub use inspect::{ExplainedStep, Explanation, TapeStats};
pub use kernels::{gemm_backend, gemm_threads, set_gemm_threads};
pub use ops::conv::Size2;
pub use pool::release_thread_arenas;
pub use real::Real;
pub use shape::{Dims, Shape};
pub use sweep::{BackwardError, Gradients};
pub use tape::{Leaf, Tape};
pub use tensor::Tensor;
pub use var::Var;
pub use vars::{gradient, Vars};

/// The names most programs need: `use wengert_tape::prelude::*;`.
pub mod prelude {
    pub use crate::check::{assert_gradients, check_gradients, GradCheck, Tolerance};
    pub use crate::{
        gradient, hessian, hvp, jvp, Anomaly, BackwardError, CustomOp, Gradients, Real, Shape, Tape, Tensor, Var, Vars,
    };
}
