//! Writing a [`Sequential`] as the state dict of the PyTorch `nn.Sequential` with the same
//! modules: layer `i` is module `i`; a Conv2d's `{i}.weight` `[o, c, kh, kw]` and
//! `{i}.bias` are stored as they are, a Linear's `{i}.weight` is transposed to `[out, in]`;
//! the architecture's text goes in the metadata.

use super::{transposed, TorchError, ARCHITECTURE_KEY, FORMAT_KEY, FORMAT_PYTORCH};
use crate::checkpoint::Checkpoint;
use crate::{Layer, Sequential};
use std::path::Path;
use wengert_tape::Real;

/// Writes `model` to `path` as the safetensors state dict of the PyTorch `nn.Sequential`
/// whose module `i` is the model's layer `i`: for each Conv2d layer `{i}.weight`
/// `[o, c, kh, kw]` and `{i}.bias` `[o]` as wengert holds them, for each Linear layer
/// `{i}.weight` transposed to `[out, in]` and `{i}.bias` `[out]`, in `T`'s dtype; metadata
/// `format = "pt"` and `architecture`, the model's text ([module docs](super)).
///
/// The write is atomic: the bytes go to a temporary file beside `path`, which is synced
/// and renamed over it ([`write_atomically`](crate::checkpoint::write_atomically)); a
/// failed save leaves the old file untouched.
///
/// In PyTorch, `unflatten(1x6x6) | conv2d(1->2, k3, s1, p1) | relu | max_pool2d(k2, s2) |
/// flatten | linear(18->3)` loads with `model.load_state_dict(safetensors.torch.load_file(path))`
/// for `model = nn.Sequential(nn.Unflatten(1, (1, 6, 6)), nn.Conv2d(1, 2, 3, padding=1),
/// nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 3))`.
///
/// # Errors
///
/// [`TorchError::File`] if the directory is missing or not writable, the disk is full, or
/// `path` is a directory.
///
/// # Panics
///
/// If a Conv2d layer's weight is not `[o x c x kh x kw]` with a bias `[o]`, or a Linear
/// layer's weight not a matrix with a bias as wide (a `Sequential` built by hand wrongly).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::save_sequential;
/// use wengert_nn::{Layer, Sequential};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let text = "unflatten(1x6x6) | conv2d(1->2, k3, s1, p1) | relu | max_pool2d(k2, s2) | flatten | linear(18->3)";
/// let model = Sequential::<f32>::from_architecture(text, &mut rng)?;
/// let path = dir.path().join("cnn.safetensors");
/// save_sequential(&model, &path)?;
///
/// let file = Checkpoint::<f32>::load(&path)?;
/// assert_eq!(file.names().collect::<Vec<_>>(), ["1.bias", "1.weight", "5.bias", "5.weight"]);
/// assert_eq!(file.get("1.weight").map(|w| w.shape().dims().to_vec()), Some(vec![2, 1, 3, 3]));
/// // The Linear layer's weight is [out, in] = [3, 18], the transpose of wengert's.
/// let Layer::Linear(linear) = &model.layers[5] else { panic!("layer 5 is linear") };
/// assert_eq!(file.get("5.weight").map(|w| w[(2, 17)]), Some(linear.weight[(17, 2)]));
/// assert_eq!(file.metadata("architecture"), Some(text));
/// # Ok(())
/// # }
/// ```
#[track_caller]
pub fn save_sequential<T: Real>(model: &Sequential<T>, path: impl AsRef<Path>) -> Result<(), TorchError> {
    Ok(state_dict(model, "save_sequential").save(path)?)
}

/// The bytes [`save_sequential`] writes.
///
/// # Errors
///
/// [`TorchError::File`] if the safetensors encoder refuses the header (it does not for the
/// names and metadata written here).
///
/// # Panics
///
/// As [`save_sequential`].
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::interop::torch::{sequential_from_bytes, sequential_to_bytes};
/// use wengert_nn::Sequential;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let model = Sequential::<f64>::from_architecture("linear(4->3) | tanh | linear(3->2)", &mut rng)?;
/// let bytes = sequential_to_bytes(&model)?;
/// assert_eq!(sequential_from_bytes::<f64>(&bytes, "in memory", None)?, model);
/// # Ok(())
/// # }
/// ```
#[track_caller]
pub fn sequential_to_bytes<T: Real>(model: &Sequential<T>) -> Result<Vec<u8>, TorchError> {
    Ok(state_dict(model, "sequential_to_bytes").to_bytes()?)
}

/// `model`'s tensors under PyTorch's names and in its layout, with the metadata.
#[track_caller]
fn state_dict<T: Real>(model: &Sequential<T>, caller: &str) -> Checkpoint<T> {
    let mut state = Checkpoint::new();
    for (index, layer) in model.layers.iter().enumerate() {
        match layer {
            Layer::Conv2d(conv) => {
                let (w, b) = (conv.weight.shape(), conv.bias.shape());
                assert!(
                    w.rank() == 4 && b.rank() == 1 && b.cols() == w.dim(0),
                    "{caller}: layer {index}: conv weight {w} and bias {b} do not fit (weight [o x c x kh x kw], bias [o])"
                );
                state.insert(format!("{index}.weight"), conv.weight.clone());
                state.insert(format!("{index}.bias"), conv.bias.clone());
            }
            Layer::Linear(linear) => {
                let (w, b) = (linear.weight.shape(), linear.bias.shape());
                assert!(
                    w.rank() == 2 && b.rank() == 1 && b.cols() == w.cols(),
                    "{caller}: layer {index}: linear weight {w} and bias {b} do not fit (weight [in x out], bias [out])"
                );
                state.insert(format!("{index}.weight"), transposed(&linear.weight));
                state.insert(format!("{index}.bias"), linear.bias.clone());
            }
            Layer::Unflatten(_)
            | Layer::MaxPool2d { .. }
            | Layer::AvgPool2d { .. }
            | Layer::Flatten
            | Layer::Activation(_) => {}
        }
    }
    state.set_metadata(FORMAT_KEY, FORMAT_PYTORCH);
    state.set_metadata(ARCHITECTURE_KEY, model);
    state
}
