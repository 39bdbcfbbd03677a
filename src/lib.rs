//! wengert: reverse-mode automatic differentiation on a Wengert tape.
//!
//! This facade re-exports the engine ([`wengert_tape`]) at its root and the trainers' toolkit
//! ([`wengert_nn`]) as [`nn`]; `use wengert::prelude::*;` brings in the tape, handles,
//! tensors and gradient checking.
//!
//! ```
//! use wengert::prelude::*;
//! let tape = Tape::<f64>::new();
//! let w1 = tape.var(0.2333);
//! let x = tape.constant(1.0);
//! let loss = 0.5 * (w1 * x + 1.0).powi(2);
//! let grads = tape.backward(loss);
//! assert!((grads.wrt(w1) - 1.2333).abs() < 1e-12);
//! ```

pub use wengert_tape::*;

/// Layers, initialisers, optimisers, data sets, the training loop and checkpoints.
pub use wengert_nn as nn;

// The README's example runs as a doctest, so it cannot drift from the API.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

// So do the guide's.
#[doc = include_str!("../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;
