//! What wengert's trainers need, built on the engine's public API only: layers and an MLP
//! that record on a tape, initialisers, optimisers, data sets and batching, a training
//! loop (data-parallel over worker threads), and checkpoints in the safetensors format.

pub mod checkpoint;
mod conv;
pub mod data;
mod dropout;
mod embedding;
pub mod init;
pub mod interop;
mod layers;
pub mod loss;
mod model;
mod norm;
pub mod optim;
pub mod parallel;
mod sequential;
pub mod train;

pub use conv::{Conv2d, Conv2dVars};
pub use dropout::{Dropout, DropoutError};
pub use embedding::Embedding;
pub use layers::{Activation, Linear, LinearVars, Mlp, MlpVars, LEAKY_RELU_SLOPE};
pub use model::{Model, ModelVars};
pub use norm::{LayerNorm, LayerNormVars, LAYER_NORM_EPS};
pub use sequential::{ArchitectureError, Layer, LayerVars, Sequential, SequentialVars, MAX_LAYER_PARAMETERS};
