//! [`TorchError`]: everything that can go wrong writing or reading an [`Mlp`](crate::Mlp)
//! or a [`Sequential`](crate::Sequential) as a PyTorch state dict. Every message names the file, and the tensor or metadata
//! field at fault where there is one.

use crate::checkpoint::CheckpointError;
use crate::{Activation, ArchitectureError};
use std::path::PathBuf;
use thiserror::Error;

/// Why an [`Mlp`](crate::Mlp) or a [`Sequential`](crate::Sequential) could not be written
/// as, or read from, a PyTorch `nn.Sequential` state dict in safetensors.
///
/// # Examples
///
/// ```
/// use wengert_nn::interop::torch::{mlp_from_bytes, TorchError};
/// let error = mlp_from_bytes::<f32>(b"not a model", "model.safetensors", None).unwrap_err();
/// assert!(matches!(error, TorchError::File(_)));
/// assert!(error.to_string().contains("model.safetensors"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TorchError {
    /// The file could not be read or written, or is not a safetensors file (truncated,
    /// corrupt header, offsets that disagree with the data, a tensor of rank over six).
    /// The inner error names the file and, where there is one, the tensor.
    #[error(transparent)]
    File(#[from] CheckpointError),

    /// A tensor holds a type other than f32 or f64 (f16, bf16, an integer type).
    #[error("torch state dict {}: tensor `{key}` holds {found}; only f32 and f64 tensors load", path.display())]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// Its element type, in lower case ("bf16", "i64", ...).
        found: String,
    },

    /// Some tensors are f32 and others f64; a file must use one of the two throughout.
    #[error("torch state dict {}: tensor `{key}` holds {found} but `{other_key}` holds {other_found}; the tensors must share one dtype", path.display())]
    MixedDtypes {
        /// The file.
        path: PathBuf,
        /// A tensor of one type.
        key: String,
        /// Its element type.
        found: String,
        /// A tensor of the other type.
        other_key: String,
        /// Its element type.
        other_found: String,
    },

    /// The metadata field `format` names another framework's layout ("tf", "flax", a
    /// wengert checkpoint's "wengert-checkpoint-v1"): their weights are not `[out, in]`.
    #[error("torch state dict {}: metadata field `format` is {found:?}, not \"pt\"; its weights are not in PyTorch's [out, in] layout", path.display())]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// The stored format.
        found: String,
    },

    /// The file holds no tensors.
    #[error("torch state dict {}: holds no tensors; expected `0.weight`, `0.bias`, ...", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },

    /// A tensor name that an `nn.Sequential` of Linear layers and activations does not
    /// produce: another module's parameter, an odd index, a prefix such as `model.`.
    #[error("torch state dict {}: unexpected tensor `{key}`: {reason}", path.display())]
    UnexpectedKey {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// Why it does not belong.
        reason: String,
    },

    /// A Linear layer's weight or bias is absent (layers must sit at 0, 2, 4, ..., or with
    /// LayerNorms at 0, 3, 6, ..., with no gap, each with a bias).
    #[error("torch state dict {}: no tensor `{key}` (layer {layer} of the nn.Sequential's Linear layers at {})", path.display(), linear_positions(*layer_norm))]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The tensor expected.
        key: String,
        /// The Linear layer it belongs to, counting from 0.
        layer: usize,
        /// Whether the file has a LayerNorm after each hidden Linear layer.
        layer_norm: bool,
    },

    /// The gamma (`weight`) or beta (`bias`) of a hidden layer's LayerNorm is absent, in a
    /// file whose metadata or indices show LayerNorms.
    #[error("torch state dict {}: no tensor `{key}` (the LayerNorm after Linear layer {layer}; with layer norm the nn.Sequential is Linear, LayerNorm, act, ..., Linear)", path.display())]
    MissingNorm {
        /// The file.
        path: PathBuf,
        /// The tensor expected.
        key: String,
        /// The Linear layer it follows, counting from 0.
        layer: usize,
    },

    /// A tensor has the wrong rank or size: a weight that is not a non-empty `[out, in]`
    /// matrix, a bias that is not a vector `[out]` as long as its weight has rows.
    #[error("torch state dict {}: tensor `{key}` has dimensions {found:?}, expected {expected}", path.display())]
    BadShape {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// Its dimensions as stored.
        found: Vec<usize>,
        /// What it should be.
        expected: String,
    },

    /// A layer's inputs are not the previous layer's outputs.
    #[error("torch state dict {}: tensor `{key}` is [{outputs}, {inputs}] (out, in), so takes {inputs} inputs, but `{previous}` gives {previous_outputs} outputs", path.display())]
    NotChained {
        /// The file.
        path: PathBuf,
        /// The weight that does not fit.
        key: String,
        /// Its outputs (rows).
        outputs: usize,
        /// Its inputs (columns).
        inputs: usize,
        /// The previous layer's weight.
        previous: String,
        /// The previous layer's outputs (rows).
        previous_outputs: usize,
    },

    /// The metadata field `layer_norm` is not `true` or `false`, or `layer_norm_eps` is not
    /// a finite number from 0.
    #[error("torch state dict {}: metadata field `{key}` is {found:?}; expected {expected}", path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// The field.
        key: String,
        /// Its stored text.
        found: String,
        /// What it should be.
        expected: &'static str,
    },

    /// The metadata field `activation` is not one of the names of [`Activation::name`].
    #[error("torch state dict {}: metadata field `activation` is {found:?}; expected sigmoid, tanh, relu, softplus, leaky_relu, gelu or silu", path.display())]
    BadActivation {
        /// The file.
        path: PathBuf,
        /// The stored text.
        found: String,
    },

    /// No activation was given and the file records none (a plain PyTorch state dict holds
    /// only tensors).
    #[error("torch state dict {}: no metadata field `activation`; pass the activation between the Linear layers", path.display())]
    MissingActivation {
        /// The file.
        path: PathBuf,
    },

    /// The activation given disagrees with the one the file records.
    #[error("torch state dict {}: metadata field `activation` is {}, but {} was asked for", path.display(), stored.name(), given.name())]
    ActivationMismatch {
        /// The file.
        path: PathBuf,
        /// The activation asked for.
        given: Activation,
        /// The activation in the file.
        stored: Activation,
    },

    /// No architecture was given for a [`Sequential`](crate::Sequential) and the file
    /// records none (a plain PyTorch state dict holds only tensors).
    #[error("torch state dict {}: no metadata field `architecture`; pass the model's architecture text, such as `unflatten(1x28x28) | conv2d(1->8, k5, p2) | relu | flatten | linear(6272->10)`", path.display())]
    MissingArchitecture {
        /// The file.
        path: PathBuf,
    },

    /// The architecture given, or the one in the metadata field `architecture`, does not
    /// parse, or its layers do not fit together.
    #[error("torch state dict {}: {origin} architecture: {reason}", path.display())]
    BadArchitecture {
        /// The file.
        path: PathBuf,
        /// Where the text came from: "the given" or "the metadata field `architecture`'s".
        origin: &'static str,
        /// The layer at fault, its text, and why.
        reason: ArchitectureError,
    },

    /// The architecture given disagrees with the one the file records.
    #[error("torch state dict {}: metadata field `architecture` is `{stored}`, but `{given}` was asked for", path.display())]
    ArchitectureMismatch {
        /// The file.
        path: PathBuf,
        /// The architecture asked for, as [`Sequential`](crate::Sequential) prints it.
        given: String,
        /// The architecture in the file, printed the same way.
        stored: String,
    },

    /// A weight or bias of a module of a [`Sequential`](crate::Sequential) is absent.
    #[error("torch state dict {}: no tensor `{key}` (module {module} of the nn.Sequential, `{layer}`, holds a weight and a bias)", path.display())]
    MissingParameter {
        /// The file.
        path: PathBuf,
        /// The tensor expected.
        key: String,
        /// The module's index in the `nn.Sequential`, its layer's index in the architecture.
        module: usize,
        /// The layer's text, as the architecture writes it.
        layer: String,
    },
}

/// Where the Linear layers of the `nn.Sequential` sit, with or without LayerNorms.
fn linear_positions(layer_norm: bool) -> &'static str {
    if layer_norm {
        "0, 3, 6, ..."
    } else {
        "0, 2, 4, ..."
    }
}
