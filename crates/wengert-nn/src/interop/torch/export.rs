//! Writing an [`Mlp`] as a PyTorch `nn.Sequential` state dict: Linear layer `l` becomes
//! tensors `{2l}.weight`, transposed to `[out, in]`, and `{2l}.bias`; with layer norm
//! `{3l}.weight` and `{3l}.bias`, and its LayerNorm `{3l+1}.weight` (gamma) and
//! `{3l+1}.bias` (beta).

use super::layout::{Layout, Module, Param};
use super::{transposed, TorchError, ACTIVATION_KEY, FORMAT_KEY, FORMAT_PYTORCH};
use crate::checkpoint::model::{LAYER_NORM_EPS_KEY, LAYER_NORM_KEY};
use crate::checkpoint::Checkpoint;
use crate::Mlp;
use std::path::Path;
use wengert_tape::Real;

/// Writes `mlp` to `path` as the safetensors state dict of PyTorch's
/// `nn.Sequential(Linear, act, ..., Linear)`: weights `[out, in]` under `0.weight`,
/// `2.weight`, ..., biases `[out]` under `0.bias`, `2.bias`, ..., in `T`'s dtype, with
/// metadata `format = "pt"` and `activation` ([module docs](super)). With layer norm, the
/// state dict of `nn.Sequential(Linear, LayerNorm, act, ..., Linear)`: Linear layers at 0,
/// 3, 6, ..., each hidden layer's gamma and beta under `{3l+1}.weight` and `{3l+1}.bias`,
/// and metadata `layer_norm = "true"` and `layer_norm_eps`.
///
/// The write is atomic: the bytes go to a temporary file beside `path`, which is synced
/// and renamed over it ([`write_atomically`](crate::checkpoint::write_atomically)); a
/// failed save leaves the old file untouched.
///
/// In PyTorch: `model.load_state_dict(safetensors.torch.load_file(path))` for a
/// `model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))` of the same sizes,
/// or `nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3, eps=1e-5), nn.ReLU(), nn.Linear(3, 1))`
/// with layer norm.
///
/// # Errors
///
/// [`TorchError::File`] if the directory is missing or not writable, the disk is full, or
/// `path` is a directory.
///
/// # Panics
///
/// If `mlp` has no layers, a layer's weight is not a matrix with a bias as wide, a
/// layer's inputs are not the previous layer's outputs, or its norms are neither none nor
/// one per hidden layer as wide as it with one eps (an `Mlp` built by hand wrongly).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::save_mlp;
/// use wengert_nn::{Activation, Mlp};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let mlp = Mlp::<f64>::new(&[4, 8, 3], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let path = dir.path().join("mlp.safetensors");
/// save_mlp(&mlp, &path)?;
/// let file = Checkpoint::<f64>::load(&path)?;
/// assert_eq!(file.get("2.weight").map(|w| w.shape().dims().to_vec()), Some(vec![3, 8]));
/// assert_eq!(file.get("2.weight").map(|w| w[(2, 7)]), Some(mlp.layers[1].weight[(7, 2)]));
/// assert_eq!(file.metadata("activation"), Some("tanh"));
///
/// // With layer norm: Linear, LayerNorm, Tanh, Linear.
/// save_mlp(&mlp.with_layer_norm(1e-5), &path)?;
/// let file = Checkpoint::<f64>::load(&path)?;
/// assert_eq!(file.names().collect::<Vec<_>>(), ["0.bias", "0.weight", "1.bias", "1.weight", "3.bias", "3.weight"]);
/// assert_eq!(file.get("1.weight").map(|gamma| gamma.data().to_vec()), Some(vec![1.0; 8]));
/// assert_eq!(file.metadata("layer_norm"), Some("true"));
/// # Ok(())
/// # }
/// ```
#[track_caller]
pub fn save_mlp<T: Real>(mlp: &Mlp<T>, path: impl AsRef<Path>) -> Result<(), TorchError> {
    Ok(state_dict(mlp, "save_mlp").save(path)?)
}

/// The bytes [`save_mlp`] writes.
///
/// # Errors
///
/// [`TorchError::File`] if the safetensors encoder refuses the header (it does not for the
/// names and metadata written here).
///
/// # Panics
///
/// As [`save_mlp`].
///
/// # Examples
///
/// ```
/// use wengert_nn::interop::torch::{mlp_from_bytes, mlp_to_bytes};
/// use wengert_nn::{Activation, Linear, Mlp};
/// use wengert_tape::Tensor;
/// # fn main() -> Result<(), wengert_nn::interop::torch::TorchError> {
/// let layer = Linear::from_tensors(Tensor::from_rows(&[[1.0_f32, 2.0]]), Tensor::from_slice(&[0.0, 0.5]));
/// let mlp = Mlp { layers: vec![layer], hidden: Activation::Sigmoid, norms: vec![] };
/// let bytes = mlp_to_bytes(&mlp)?;
/// assert_eq!(mlp_from_bytes::<f32>(&bytes, "in memory", None)?, mlp);
/// # Ok(())
/// # }
/// ```
#[track_caller]
pub fn mlp_to_bytes<T: Real>(mlp: &Mlp<T>) -> Result<Vec<u8>, TorchError> {
    Ok(state_dict(mlp, "mlp_to_bytes").to_bytes()?)
}

/// `mlp`'s tensors under PyTorch's names and in its layout, with the metadata.
#[track_caller]
fn state_dict<T: Real>(mlp: &Mlp<T>, caller: &str) -> Checkpoint<T> {
    assert!(!mlp.layers.is_empty(), "{caller}: the Mlp has no layers");
    mlp.check_norms(caller);
    let layout = Layout { layer_norm: mlp.has_layer_norm() };
    let mut state = Checkpoint::new();
    for (l, layer) in mlp.layers.iter().enumerate() {
        let (w, b) = (layer.weight.shape(), layer.bias.shape());
        assert!(
            w.rank() == 2 && b.rank() == 1 && b.cols() == w.cols(),
            "{caller}: layer {l}: weight {w} and bias {b} do not fit (weight [in x out], bias [out])"
        );
        if let Some(previous) = l.checked_sub(1).map(|p| &mlp.layers[p]) {
            let gives = previous.weight.shape().cols();
            assert!(
                w.rows() == gives,
                "{caller}: layer {l} takes {} inputs, layer {} gives {gives} outputs",
                w.rows(),
                l - 1
            );
        }
        state.insert(layout.key(Module::Linear(l), Param::Weight), transposed(&layer.weight));
        state.insert(layout.key(Module::Linear(l), Param::Bias), layer.bias.clone());
        if let Some(norm) = mlp.norms.get(l) {
            state.insert(layout.key(Module::Norm(l), Param::Weight), norm.gamma.clone());
            state.insert(layout.key(Module::Norm(l), Param::Bias), norm.beta.clone());
        }
    }
    state.set_metadata(FORMAT_KEY, FORMAT_PYTORCH);
    state.set_metadata(ACTIVATION_KEY, mlp.hidden.name());
    if let Some(eps) = mlp.layer_norm_eps() {
        state.set_metadata(LAYER_NORM_KEY, true);
        state.set_metadata(LAYER_NORM_EPS_KEY, eps);
    }
    state
}
