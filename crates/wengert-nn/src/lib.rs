//! What wengert's trainers need, built on the engine's public API only: layers and an MLP
//! that record on a tape, initialisers, optimisers, data sets and batching, a training
//! loop (data-parallel over worker threads), and checkpoints in the safetensors format.

pub mod checkpoint;
pub mod data;
mod dropout;
mod embedding;
pub mod init;
pub mod interop;
mod layers;
pub mod loss;
mod norm;
pub mod optim;
pub mod parallel;
pub mod train;

pub use dropout::{Dropout, DropoutError};
pub use embedding::Embedding;
pub use layers::{Activation, Linear, LinearVars, Mlp, MlpVars, LEAKY_RELU_SLOPE};
pub use norm::{LayerNorm, LayerNormVars, LAYER_NORM_EPS};
