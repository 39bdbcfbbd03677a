//! An [`Mlp`](crate::Mlp) or a [`Sequential`](crate::Sequential) as a PyTorch state dict
//! in safetensors, both ways. For an `Mlp`, the state dict
//! of `nn.Sequential(Linear, act, Linear, act, ..., Linear)`, or with layer norm of
//! `nn.Sequential(Linear, LayerNorm, act, Linear, LayerNorm, act, ..., Linear)`.
//!
//! # The two layouts
//!
//! | file | tensor names | weight | bias |
//! | --- | --- | --- | --- |
//! | wengert's own checkpoint ([`crate::checkpoint`]) | `layer0.weight`, `layer0.bias`, `layer1.weight`, ... | `[in, out]` (`Z = X W + b`) | `[out]` |
//! | PyTorch / candle, this module | `0.weight`, `0.bias`, `2.weight`, ... | `[out, in]` (`Z = X Wᵀ + b`) | `[out]` |
//!
//! In the PyTorch file the Linear layers sit at the even indices of the `nn.Sequential`:
//! the activation modules between them ([`Activation::torch_module`](crate::Activation::torch_module):
//! `nn.ReLU`, `nn.Tanh`, `nn.Sigmoid`, `nn.Softplus`, `nn.LeakyReLU`, `nn.GELU`, `nn.SiLU`)
//! take the odd indices and hold no tensors. [`save_mlp`] transposes each weight to
//! `[out, in]`; [`load_mlp`] transposes it back.
//!
//! An `Mlp` with layer norm ([`Mlp::with_layer_norm`](crate::Mlp::with_layer_norm)) puts an
//! `nn.LayerNorm(out)` between each hidden Linear layer and its activation, so each hidden
//! layer takes three indices: Linear layer `l` at `3l`, its LayerNorm at `3l + 1`, the
//! activation at `3l + 2`. The LayerNorm's `weight` is wengert's gamma and its `bias` beta,
//! both `[out]`, stored as they are:
//!
//! | wengert | PyTorch, no layer norm | PyTorch, layer norm |
//! | --- | --- | --- |
//! | `layers[l].weight` `[in, out]` | `{2l}.weight` `[out, in]` | `{3l}.weight` `[out, in]` |
//! | `layers[l].bias` | `{2l}.bias` | `{3l}.bias` |
//! | `norms[l].gamma` `[out]` | | `{3l+1}.weight` `[out]` |
//! | `norms[l].beta` `[out]` | | `{3l+1}.bias` `[out]` |
//!
//! # Metadata
//!
//! A state dict holds tensors only, so [`save_mlp`] records the rest in the safetensors
//! header's `__metadata__`:
//!
//! - `format`: `"pt"`, the convention of Hugging Face's tools for PyTorch-layout tensors.
//!   [`load_mlp`] accepts a file without it, and refuses any other value (`"tf"`, `"flax"`,
//!   a wengert checkpoint's format): those frameworks store weights `[in, out]`, and a
//!   square layer would load transposed without any shape error.
//! - `activation`: the module between the Linear layers, by [`Activation::name`](crate::Activation::name),
//!   each standing for a PyTorch module with its default arguments:
//!
//!   | `activation` | module |
//!   | --- | --- |
//!   | `relu` | `nn.ReLU()` |
//!   | `tanh` | `nn.Tanh()` |
//!   | `sigmoid` | `nn.Sigmoid()` |
//!   | `softplus` | `nn.Softplus()` (beta 1) |
//!   | `leaky_relu` | `nn.LeakyReLU()` (negative slope 0.01) |
//!   | `gelu` | `nn.GELU()` (exact, `approximate='none'`) |
//!   | `silu` | `nn.SiLU()` |
//!
//! - `layer_norm` = `true` and `layer_norm_eps` (such as `0.00001`; PyTorch's `nn.LayerNorm`
//!   takes it as `eps`), for a model with layer norm only. [`load_mlp`] reads a file without
//!   them (a plain state dict) as having LayerNorms if its tensors sit at 1, 4, ... and none
//!   at 2, 5, ..., with PyTorch's default eps, 1e-5.
//!
//! The element type is not metadata: each tensor's dtype is in the header (`F32` or
//! `F64`), and is `T` for an `Mlp<T>`. [`load_mlp`] reads f32 and f64 files into either
//! `Mlp<f32>` or `Mlp<f64>`, converting each number (f64 to f32 rounds to nearest).
//!
//! # What is checked on import
//!
//! Every tensor name is `<even index>.weight` or `<even index>.bias` (with layer norm,
//! `<index>.weight` or `<index>.bias` for indices 0, 1, 3, 4, 6, ...), the indices run
//! 0, 2, 4, ... (or 0, 1, 3, 4, ..., ending with a Linear layer) with no gap, each weight
//! is a non-empty `[out, in]` matrix with a bias `[out]`, each LayerNorm's weight and bias
//! are `[out]` of the Linear layer before it, and each layer takes as many inputs as the
//! previous one gives outputs. A
//! wengert checkpoint's names (`layer0.weight`) are refused with a pointer to
//! [`crate::checkpoint`]. What no file can show is a square weight that another program
//! wrote transposed under PyTorch's names: its shape is right either way.
//!
//! # Sequential models
//!
//! A [`Sequential`](crate::Sequential) is PyTorch's `nn.Sequential` of the same modules,
//! layer `i` of its architecture at index `i`, so its tensors are named as a
//! [`Sequential`](crate::Sequential)'s own checkpoint names them without the `layer`:
//! `layer1.weight` is `1.weight`. [`save_sequential`] and [`load_sequential`] map each layer
//! of the architecture text to its module:
//!
//! | wengert | PyTorch | tensors |
//! | --- | --- | --- |
//! | `unflatten(CxHxW)` | `nn.Unflatten(1, (C, H, W))` | |
//! | `conv2d(IN->OUT, kK, sS, pP)` | `nn.Conv2d(IN, OUT, K, stride=S, padding=P)` | `{i}.weight` `[out, in, kh, kw]`, as wengert holds it; `{i}.bias` `[out]` |
//! | `max_pool2d(kK, sS)` | `nn.MaxPool2d(K, stride=S)` | |
//! | `avg_pool2d(kK, sS)` | `nn.AvgPool2d(K, stride=S)` | |
//! | `flatten` | `nn.Flatten()` | |
//! | `linear(IN->OUT)` | `nn.Linear(IN, OUT)` | `{i}.weight` `[out, in]`, the transpose of wengert's; `{i}.bias` `[out]` |
//! | `relu`, `tanh`, ... | `nn.ReLU()`, `nn.Tanh()`, ... (the table above) | |
//!
//! (`k5x3` is PyTorch's `(5, 3)`, and so for strides and padding.) The metadata holds
//! `format = "pt"` and `architecture`, the model's text; a plain PyTorch state dict has
//! neither, so the architecture is passed to [`load_sequential`]. On import, every tensor
//! the architecture's Conv2d and Linear layers hold must be present with exactly their
//! dimensions, in f32 or f64, and no other tensor may be there.
//!
//! ```
//! use rand::SeedableRng;
//! use wengert_nn::interop::torch::{sequential_from_bytes, sequential_to_bytes};
//! use wengert_nn::Sequential;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // nn.Sequential(nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
//! //               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 3))
//! let text = "unflatten(1x6x6) | conv2d(1->2, k3, p1) | relu | max_pool2d(k2) | flatten | linear(18->3)";
//! let model = Sequential::<f32>::from_architecture(text, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))?;
//! let bytes = sequential_to_bytes(&model)?;
//! assert_eq!(sequential_from_bytes::<f32>(&bytes, "cnn.safetensors", None)?, model);
//! # Ok(())
//! # }
//! ```
//!
//! # Examples
//!
//! ```
//! use wengert_nn::checkpoint::Checkpoint;
//! use wengert_nn::interop::torch::{load_mlp, save_mlp};
//! use wengert_nn::{Activation, Linear, Mlp};
//! use wengert_tape::Tensor;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! // 2 inputs -> 3 hidden -> 1 output; wengert's weights are [in, out].
//! let mlp = Mlp {
//!     layers: vec![
//!         Linear::from_tensors(Tensor::from_rows(&[[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]]), Tensor::from_slice(&[0.1, 0.2, 0.3])),
//!         Linear::from_tensors(Tensor::from_rows(&[[1.0], [-1.0], [0.5]]), Tensor::from_slice(&[0.0])),
//!     ],
//!     hidden: Activation::Relu,
//!     norms: vec![],
//! };
//! let path = dir.path().join("mlp.safetensors");
//! save_mlp(&mlp, &path)?;
//!
//! // The file is PyTorch's layout: `0.weight` is [out, in] = [3, 2], the transpose.
//! let file = Checkpoint::<f32>::load(&path)?;
//! let weight = file.get("0.weight").ok_or("no 0.weight")?;
//! assert_eq!(weight.shape().dims(), [3, 2]);
//! assert_eq!(weight.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
//! assert_eq!(file.names().collect::<Vec<_>>(), ["0.bias", "0.weight", "2.bias", "2.weight"]);
//! assert_eq!(file.metadata("activation"), Some("relu"));
//!
//! // And it loads back into the same model, here at double precision.
//! let loaded = load_mlp::<f64>(&path, None)?;
//! assert_eq!(loaded.sizes(), [2, 3, 1]);
//! assert_eq!(loaded.layers[0].weight[(1, 2)], 6.0);
//! assert_eq!(loaded.hidden, Activation::Relu);
//! # Ok(())
//! # }
//! ```

mod error;
mod export;
mod import;
mod layout;
mod sequential_export;
mod sequential_import;

pub use error::TorchError;
pub use export::{mlp_to_bytes, save_mlp};
pub use import::{load_mlp, mlp_from_bytes};
pub use sequential_export::{save_sequential, sequential_to_bytes};
pub use sequential_import::{load_sequential, sequential_from_bytes};

use wengert_tape::{Real, Shape, Tensor};

/// The metadata field naming the tensors' layout, and the value for PyTorch's.
const FORMAT_KEY: &str = "format";
const FORMAT_PYTORCH: &str = "pt";

/// The metadata field naming the activation between the Linear layers.
const ACTIVATION_KEY: &str = "activation";

/// The metadata field holding a [`Sequential`](crate::Sequential)'s architecture text.
const ARCHITECTURE_KEY: &str = "architecture";

/// The transpose of a matrix: `[rows x cols]` becomes `[cols x rows]`.
fn transposed<T: Real>(matrix: &Tensor<T>) -> Tensor<T> {
    let (rows, cols) = (matrix.shape().rows(), matrix.shape().cols());
    // Element (i, j) of the result is element (j, i) of `matrix`; i runs over its columns.
    Tensor::from_fn(Shape::matrix(cols, rows), |n| matrix[(n % rows, n / rows)])
}
