//! Reading a PyTorch `nn.Sequential` state dict into a [`Sequential`] of a known
//! architecture: the architecture (given, or from the metadata) says which module holds
//! which tensors and their shapes; every tensor is checked against it before any is used,
//! and each Linear weight `[out, in]` is transposed to wengert's `[in, out]`.

use super::import::StateDict;
use super::layout::{is_decimal, parse_key};
use super::{transposed, TorchError, ARCHITECTURE_KEY};
use crate::checkpoint::CheckpointError;
use crate::{Layer, Linear, Sequential};
use rand::SeedableRng;
use std::path::Path;
use wengert_tape::{Real, Tensor};

/// Where an architecture's text came from, for error messages.
const GIVEN: &str = "the given";
const STORED: &str = "the metadata field `architecture`'s";

/// Reads the safetensors state dict of a PyTorch `nn.Sequential` from `path` into a
/// `Sequential<T>` of the architecture `architecture`, in the text
/// [`Sequential::from_architecture`] reads: module `i` of the `nn.Sequential` is layer `i`,
/// so a Conv2d at `i` takes `{i}.weight` `[o, c, kh, kw]` and `{i}.bias` `[o]` as they are,
/// and a Linear at `i` takes `{i}.weight` `[out, in]`, transposed, and `{i}.bias` `[out]`
/// ([module docs](super)).
///
/// `None` takes the architecture from the file's `architecture` metadata, which
/// [`save_sequential`](super::save_sequential) writes and a plain
/// `safetensors.torch.save_file(model.state_dict(), path)` does not; `Some` is needed for
/// such a file, and must describe the same model as the metadata where there is some.
/// When the first layer is an `unflatten` or a `linear`, the layers are checked to fit
/// together on rows of its width.
///
/// Tensors may be f32 or f64 (one of them throughout the file), whatever `T` is; each
/// number is converted to `T` (f64 to f32 rounds to nearest).
///
/// # Errors
///
/// Every error names `path`, and the tensor or metadata field at fault:
/// [`TorchError::File`] if the file cannot be read or is not a safetensors file;
/// `UnsupportedDtype` (an integer, f16 or bf16 tensor) or `MixedDtypes`; `WrongFormat` if
/// the `format` metadata is other than `"pt"`; `MissingArchitecture`, `BadArchitecture`
/// (text that does not parse, or layers that do not fit) or `ArchitectureMismatch`;
/// `UnexpectedKey` for a tensor no module of the architecture holds (one at an activation
/// or pool, past the last module, a prefixed name, a wengert checkpoint's `layer1.weight`);
/// `MissingParameter` for a weight or bias of a Conv2d or Linear layer that is absent;
/// `BadShape` for one whose dimensions are not those the architecture gives.
///
/// # Examples
///
/// A file as `safetensors.torch.save_file(nn.Sequential(nn.Flatten(), nn.Linear(2, 1)).state_dict(), path)`
/// writes it, made here with a [`Checkpoint`](crate::checkpoint::Checkpoint):
///
/// ```
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::{load_sequential, TorchError};
/// use wengert_nn::{Model, ModelVars};
/// use wengert_tape::{Tape, Tensor};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("torch.safetensors");
/// let mut state_dict = Checkpoint::new();
/// state_dict.insert("1.weight", Tensor::from_rows(&[[2.0_f32, -1.0]]));
/// state_dict.insert("1.bias", Tensor::from_slice(&[0.5]));
/// state_dict.save(&path)?;
///
/// // No metadata, so the architecture must be given.
/// assert!(matches!(load_sequential::<f32>(&path, None), Err(TorchError::MissingArchitecture { .. })));
/// let model = load_sequential::<f64>(&path, Some("flatten | linear(2->1)"))?;
///
/// // x = [3, 4]: 2*3 - 4 + 0.5.
/// let tape = Tape::new();
/// let y = model.on_tape(&tape).forward(tape.constant(&Tensor::from_rows(&[[3.0, 4.0]])));
/// assert_eq!(&*y.values(), &[2.5]);
///
/// // The same tensors do not fit another architecture.
/// let error = load_sequential::<f64>(&path, Some("flatten | linear(3->1)")).unwrap_err();
/// assert!(matches!(error, TorchError::BadShape { ref key, .. } if key == "1.weight"));
/// # Ok(())
/// # }
/// ```
pub fn load_sequential<T: Real>(
    path: impl AsRef<Path>,
    architecture: Option<&str>,
) -> Result<Sequential<T>, TorchError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
    sequential_from_bytes(&bytes, path, architecture)
}

/// As [`load_sequential`], from the bytes of a file; errors name `path` as the file they
/// came from.
///
/// # Errors
///
/// As [`load_sequential`], except that nothing is read from disk.
///
/// # Examples
///
/// A tensor at an activation's index is not one of the model's:
///
/// ```
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::{sequential_from_bytes, TorchError};
/// use wengert_tape::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut state_dict = Checkpoint::new();
/// state_dict.insert("0.weight", Tensor::from_rows(&[[1.0_f32, 2.0]]));
/// state_dict.insert("0.bias", Tensor::from_slice(&[0.0]));
/// state_dict.insert("1.weight", Tensor::from_slice(&[1.0]));
/// let bytes = state_dict.to_bytes()?;
/// let error = sequential_from_bytes::<f32>(&bytes, "cnn.safetensors", Some("linear(2->1) | relu")).unwrap_err();
/// assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key == "1.weight"));
/// assert_eq!(
///     error.to_string(),
///     "torch state dict cnn.safetensors: unexpected tensor `1.weight`: module 1 is `relu`, which holds no tensors"
/// );
/// # Ok(())
/// # }
/// ```
pub fn sequential_from_bytes<T: Real>(
    bytes: &[u8],
    path: impl AsRef<Path>,
    architecture: Option<&str>,
) -> Result<Sequential<T>, TorchError> {
    let path = path.as_ref();
    let state = StateDict::<T>::from_bytes(bytes, path)?;
    state.check_format(path)?;
    let mut model = architecture_of::<T>(&state, path, architecture)?;
    // Each layer's text, for messages: no layer's text holds a `|`.
    let texts: Vec<String> = model.to_string().split(" | ").map(str::to_string).collect();
    refuse_unexpected(&state, &model, &texts, path)?;
    for (index, layer) in model.layers.iter_mut().enumerate() {
        let text = &texts[index];
        match layer {
            Layer::Conv2d(conv) => {
                let (inputs, outputs, kernel) = conv.dims();
                let dims = [outputs, inputs, kernel.0, kernel.1];
                let layout = "[out, in, kh, kw]";
                conv.weight = take(&state, index, "weight", &dims, layout, text, path)?.clone();
                conv.bias = take(&state, index, "bias", &[outputs], "[out]", text, path)?.clone();
            }
            Layer::Linear(linear) => {
                let (inputs, outputs) = linear.dims();
                let weight = take(&state, index, "weight", &[outputs, inputs], "[out, in]", text, path)?;
                let bias = take(&state, index, "bias", &[outputs], "[out]", text, path)?;
                *linear = Linear::from_tensors(transposed(weight), bias.clone());
            }
            Layer::Unflatten(_)
            | Layer::MaxPool2d { .. }
            | Layer::AvgPool2d { .. }
            | Layer::Flatten
            | Layer::Activation(_) => {}
        }
    }
    Ok(model)
}

/// The model `given` describes, or else the file's metadata; the two must agree where
/// both are present. Its weights are drawn at random, to be replaced.
fn architecture_of<T: Real>(
    state: &StateDict<T>,
    path: &Path,
    given: Option<&str>,
) -> Result<Sequential<T>, TorchError> {
    let stored = state.metadata.get(ARCHITECTURE_KEY).map(|text| parse(text, STORED, path)).transpose()?;
    let given = given.map(|text| parse(text, GIVEN, path)).transpose()?;
    match (given, stored) {
        // Compared as printed, so spacing and default arguments do not count.
        (Some(given), Some(stored)) if given.to_string() != stored.to_string() => {
            Err(TorchError::ArchitectureMismatch {
                path: path.to_path_buf(),
                given: given.to_string(),
                stored: stored.to_string(),
            })
        }
        (Some(model), _) | (None, Some(model)) => Ok(model),
        (None, None) => Err(TorchError::MissingArchitecture { path: path.to_path_buf() }),
    }
}

/// The model `text` describes, its layers checked to fit where its input width is known.
fn parse<T: Real>(text: &str, origin: &'static str, path: &Path) -> Result<Sequential<T>, TorchError> {
    let bad = |reason| TorchError::BadArchitecture { path: path.to_path_buf(), origin, reason };
    // The weights drawn here are all replaced; any seed will do.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let model = Sequential::from_architecture(text, &mut rng).map_err(bad)?;
    let width = match model.layers.first() {
        Some(Layer::Unflatten(sample)) => Some(sample.numel()),
        Some(Layer::Linear(linear)) => Some(linear.dims().0),
        _ => None,
    };
    if let Some(width) = width {
        model.output_shape(width).map_err(bad)?;
    }
    Ok(model)
}

/// Refuses any tensor that is not a weight or bias of a Conv2d or Linear layer, with why.
fn refuse_unexpected<T: Real>(
    state: &StateDict<T>,
    model: &Sequential<T>,
    texts: &[String],
    path: &Path,
) -> Result<(), TorchError> {
    let holds_tensors = |index: usize| matches!(model.layers.get(index), Some(Layer::Conv2d(_) | Layer::Linear(_)));
    for key in state.tensors.keys().chain(&state.integers) {
        let expected =
            split_key(key).is_some_and(|(index, param)| holds_tensors(index) && (param == "weight" || param == "bias"));
        if expected && state.integers.contains(key) {
            return Err(TorchError::UnsupportedDtype {
                path: path.to_path_buf(),
                key: key.clone(),
                found: "an integer scalar".to_string(),
            });
        }
        if !expected {
            return Err(TorchError::UnexpectedKey {
                path: path.to_path_buf(),
                key: key.clone(),
                reason: why_unexpected(key, model, texts),
            });
        }
    }
    Ok(())
}

/// Why `key` names no tensor of `model`.
fn why_unexpected<T: Real>(key: &str, model: &Sequential<T>, texts: &[String]) -> String {
    let modules = model.layers.len();
    match split_key(key) {
        Some((index, _)) if index >= modules => {
            format!("the architecture has {modules} modules, at indices 0 to {}", modules - 1)
        }
        Some((index, param)) => match model.layers[index] {
            Layer::Conv2d(_) | Layer::Linear(_) => {
                format!("module {index} is `{}`, which holds a `weight` and a `bias`, no `{param}`", texts[index])
            }
            _ => format!("module {index} is `{}`, which holds no tensors", texts[index]),
        },
        // Not `<index>.<name>`: a prefix, a wengert checkpoint's name, or no index at all.
        None => parse_key(key).err().unwrap_or_else(|| "not a module's tensor".to_string()),
    }
}

/// The module index and the tensor's name within the module: `(3, "weight")` for
/// `3.weight`, as PyTorch writes it (no leading zero).
fn split_key(key: &str) -> Option<(usize, &str)> {
    let (index, param) = key.split_once('.')?;
    Some((index.parse().ok().filter(|_| is_decimal(index))?, param))
}

/// The tensor `{index}.{param}`, which must have dimensions `dims`.
fn take<'s, T: Real>(
    state: &'s StateDict<T>,
    index: usize,
    param: &str,
    dims: &[usize],
    layout: &str,
    text: &str,
    path: &Path,
) -> Result<&'s Tensor<T>, TorchError> {
    let key = format!("{index}.{param}");
    let Some(tensor) = state.tensors.get(&key) else {
        return Err(TorchError::MissingParameter {
            path: path.to_path_buf(),
            key,
            module: index,
            layer: text.to_string(),
        });
    };
    if tensor.shape().dims()[..] != *dims {
        return Err(TorchError::BadShape {
            path: path.to_path_buf(),
            found: tensor.shape().dims().to_vec(),
            expected: format!("{dims:?} {layout}, as module {index} `{text}` holds"),
            key,
        });
    }
    Ok(tensor)
}
