//! Reading a PyTorch `nn.Sequential(Linear, act, ..., Linear)` state dict, with or without
//! a LayerNorm before each activation, into an [`Mlp`]: every name, dtype and shape is
//! checked before a layer is built, and each `[out, in]` weight is transposed to
//! wengert's `[in, out]`.

use super::layout::{parse_key, Layout, Module, Param};
use super::{transposed, TorchError, ACTIVATION_KEY, FORMAT_KEY, FORMAT_PYTORCH};
use crate::checkpoint::model::{LAYER_NORM_EPS_KEY, LAYER_NORM_KEY};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::{Activation, LayerNorm, Linear, Mlp, LAYER_NORM_EPS};
use std::collections::BTreeMap;
use std::path::Path;
use wengert_tape::{Real, Tensor};

/// Reads the safetensors state dict of a PyTorch `nn.Sequential(Linear, act, ..., Linear)`
/// from `path` into an `Mlp<T>`: `0.weight` `[out, in]` and `0.bias` `[out]` become layer
/// 0, `2.weight` and `2.bias` layer 1, and so on ([module docs](super)).
///
/// With a LayerNorm between each hidden Linear layer and its activation,
/// `nn.Sequential(Linear, LayerNorm, act, ..., Linear)`, the Linear layers sit at 0, 3,
/// 6, ... and the LayerNorms at 1, 4, ...: `1.weight` and `1.bias` (`[out]`) become
/// `norms[0]`'s gamma and beta. The metadata field `layer_norm` (`true` or `false`) says
/// which layout the file has, and `layer_norm_eps` the norms' eps; a plain state dict has
/// neither, so its layout is read from its indices (tensors at 1, 4, ... and none at 2, 5,
/// ... are LayerNorms) and the eps is PyTorch's default,
/// [`LAYER_NORM_EPS`](crate::LAYER_NORM_EPS). A LayerNorm made with
/// `elementwise_affine=False` holds no tensors and cannot be seen.
///
/// Tensors may be f32 or f64 (one of them throughout the file), whatever `T` is; each
/// number is converted to `T` (f64 to f32 rounds to nearest).
///
/// `hidden` is the activation between the Linear layers. `None` takes it from the file's
/// `activation` metadata, which [`save_mlp`](super::save_mlp) writes and a plain
/// `safetensors.torch.save_file(model.state_dict(), path)` does not; `Some` is needed for
/// such a file, and must agree with the metadata where there is some.
///
/// # Errors
///
/// Every error names `path`, and the tensor or metadata field at fault:
/// [`TorchError::File`] if the file cannot be read or is not a safetensors file
/// (truncated, corrupt, a tensor of rank over six); `UnsupportedDtype` or `MixedDtypes`;
/// `WrongFormat` if the `format` metadata is other than `"pt"`; `Empty`,
/// `UnexpectedKey` (including a wengert checkpoint's `layer0.weight`), `MissingKey` or
/// `MissingNorm` for names that are not those of an `nn.Sequential` of Linear layers at
/// 0, 2, 4, ... (or, with LayerNorms, 0, 3, 6, ...); `BadShape` for a weight that is not
/// a non-empty `[out, in]` matrix, or a bias, gamma or beta that is not `[out]`;
/// `NotChained` if a layer's inputs are not the previous layer's outputs; `BadMetadata`
/// for a `layer_norm` other than `true` or `false` or a `layer_norm_eps` that is not a
/// finite number from 0; `BadActivation`, `MissingActivation` or `ActivationMismatch`
/// for the activation.
///
/// # Examples
///
/// A file as `safetensors.torch.save_file(nn.Sequential(nn.Linear(3, 2), nn.ReLU(),
/// nn.Linear(2, 1)).state_dict(), path)` writes it, made here with a [`Checkpoint`]:
///
/// ```
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::{load_mlp, TorchError};
/// use wengert_nn::Activation;
/// use wengert_tape::{Tape, Tensor};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("torch.safetensors");
/// let mut state_dict = Checkpoint::new();
/// state_dict.insert("0.weight", Tensor::from_rows(&[[1.0_f32, 0.0, -1.0], [0.5, 0.5, 0.5]]));
/// state_dict.insert("0.bias", Tensor::from_slice(&[0.0, -1.0]));
/// state_dict.insert("2.weight", Tensor::from_rows(&[[2.0, 3.0]]));
/// state_dict.insert("2.bias", Tensor::from_slice(&[0.25]));
/// state_dict.save(&path)?;
///
/// // No metadata, so the activation must be given.
/// assert!(matches!(load_mlp::<f32>(&path, None), Err(TorchError::MissingActivation { .. })));
/// let mlp = load_mlp::<f64>(&path, Some(Activation::Relu))?;
/// assert_eq!(mlp.sizes(), [3, 2, 1]);
///
/// // x = [1, 2, 3]: relu([1 - 3, 3 - 1]) = [0, 2], then 2*0 + 3*2 + 0.25.
/// let tape = Tape::new();
/// let y = mlp.on_tape(&tape).forward(tape.constant(&Tensor::from_rows(&[[1.0, 2.0, 3.0]])));
/// assert_eq!(&*y.values(), &[6.25]);
/// # Ok(())
/// # }
/// ```
pub fn load_mlp<T: Real>(path: impl AsRef<Path>, hidden: Option<Activation>) -> Result<Mlp<T>, TorchError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
    mlp_from_bytes(&bytes, path, hidden)
}

/// As [`load_mlp`], from the bytes of a file; errors name `path` as the file they came
/// from.
///
/// # Errors
///
/// As [`load_mlp`], except that nothing is read from disk.
///
/// # Examples
///
/// A wengert checkpoint (weights `[in, out]`) is not a PyTorch state dict:
///
/// ```
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_nn::interop::torch::{mlp_from_bytes, TorchError};
/// use wengert_tape::Tensor;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut checkpoint = Checkpoint::new();
/// checkpoint.insert("layer0.weight", Tensor::from_rows(&[[1.0_f64, 2.0], [3.0, 4.0]]));
/// checkpoint.insert("layer0.bias", Tensor::from_slice(&[0.0, 0.0]));
/// let error = mlp_from_bytes::<f64>(&checkpoint.to_bytes()?, "epoch3.safetensors", None).unwrap_err();
/// assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key == "layer0.bias"));
/// assert!(error.to_string().starts_with("torch state dict epoch3.safetensors: unexpected tensor `layer0.bias`"));
/// # Ok(())
/// # }
/// ```
pub fn mlp_from_bytes<T: Real>(
    bytes: &[u8],
    path: impl AsRef<Path>,
    hidden: Option<Activation>,
) -> Result<Mlp<T>, TorchError> {
    let path = path.as_ref();
    let state = StateDict::<T>::from_bytes(bytes, path)?;
    state.check_format(path)?;
    let modules = state.modules(path)?;
    let layers = state.linear_layers(&modules, path)?;
    let norms = state.layer_norms(&modules, &layers, path)?;
    let hidden = state.activation(path, hidden)?;
    Ok(Mlp { layers, hidden, norms })
}

/// Where a state dict's modules sit, and how many Linear layers it has.
struct Modules {
    layout: Layout,
    linear_layers: usize,
}

/// A state dict's tensors, converted to `T`, and its metadata.
pub(super) struct StateDict<T> {
    pub(super) tensors: BTreeMap<String, Tensor<T>>,
    pub(super) metadata: BTreeMap<String, String>,
    /// The names of integer scalars (such as a BatchNorm's `num_batches_tracked`), which the
    /// checkpoint reader keeps apart as counters.
    pub(super) integers: Vec<String>,
}

impl<T: Real> StateDict<T> {
    /// Decodes a safetensors file whose tensors are all f32 or all f64.
    pub(super) fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, TorchError> {
        let unsupported =
            |key: String, found: String| TorchError::UnsupportedDtype { path: path.to_path_buf(), key, found };
        // The checkpoint reader checks the file and reports the first tensor (in name order)
        // not of the type asked for: a file that is not all f32 is tried as all f64.
        match Checkpoint::<f32>::from_bytes(bytes, path) {
            Ok(file) => Ok(Self::converted(&file)),
            Err(CheckpointError::DtypeMismatch { name: f64_key, found: f64_found, .. }) if f64_found == "f64" => {
                match Checkpoint::<f64>::from_bytes(bytes, path) {
                    Ok(file) => Ok(Self::converted(&file)),
                    Err(CheckpointError::DtypeMismatch { name, found, .. }) if found == "f32" => {
                        Err(TorchError::MixedDtypes {
                            path: path.to_path_buf(),
                            key: f64_key,
                            found: f64_found,
                            other_key: name,
                            other_found: found,
                        })
                    }
                    Err(CheckpointError::DtypeMismatch { name, found, .. }) => Err(unsupported(name, found)),
                    Err(other) => Err(other.into()),
                }
            }
            Err(CheckpointError::DtypeMismatch { name, found, .. }) => Err(unsupported(name, found)),
            Err(other) => Err(other.into()),
        }
    }

    /// `file`'s tensors cast to `T`, and its metadata.
    fn converted<S: Real>(file: &Checkpoint<S>) -> Self {
        StateDict {
            tensors: file.iter().map(|(name, tensor)| (name.to_string(), tensor.cast())).collect(),
            metadata: file.metadata_entries().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
            integers: file.names().filter(|name| file.counter(name).is_some()).map(str::to_string).collect(),
        }
    }

    /// Refuses a file whose `format` metadata names a layout other than PyTorch's.
    pub(super) fn check_format(&self, path: &Path) -> Result<(), TorchError> {
        match self.metadata.get(FORMAT_KEY) {
            Some(format) if format != FORMAT_PYTORCH => {
                Err(TorchError::WrongFormat { path: path.to_path_buf(), found: format.clone() })
            }
            _ => Ok(()),
        }
    }

    /// The layout (from the metadata, or else from the indices) and the number of Linear
    /// layers, every tensor name checked against them.
    fn modules(&self, path: &Path) -> Result<Modules, TorchError> {
        let unexpected =
            |key: &String, reason| TorchError::UnexpectedKey { path: path.to_path_buf(), key: key.clone(), reason };
        let mut indices = Vec::with_capacity(self.tensors.len());
        for key in self.tensors.keys() {
            indices.push((key, parse_key(key).map_err(|reason| unexpected(key, reason))?.0));
        }
        if indices.is_empty() {
            return Err(TorchError::Empty { path: path.to_path_buf() });
        }
        let layout = match self.metadata.get(LAYER_NORM_KEY) {
            Some(text) => Layout {
                layer_norm: text.parse().map_err(|_| self.bad_metadata(path, LAYER_NORM_KEY, "true or false"))?,
            },
            None => Layout::shown_by(&indices.iter().map(|&(_, index)| index).collect::<Vec<_>>()),
        };
        // A LayerNorm is followed by a Linear layer: the output layer is never normalised.
        let mut linear_layers = 0;
        for (key, index) in indices {
            linear_layers =
                linear_layers.max(match layout.module(index).map_err(|reason| unexpected(key, reason))? {
                    Module::Linear(layer) => layer + 1,
                    Module::Norm(layer) => layer + 2,
                });
        }
        Ok(Modules { layout, linear_layers })
    }

    /// The Linear layers, every name and shape checked, weights transposed to `[in, out]`.
    fn linear_layers(&self, modules: &Modules, path: &Path) -> Result<Vec<Linear<T>>, TorchError> {
        let Modules { layout, linear_layers: count } = *modules;
        // Every layer's two tensors are present before any shape is looked at, so a gap in
        // the indices is reported as the missing name, not as a layer that does not chain.
        let mut found = Vec::new();
        for layer in 0..count {
            let module = Module::Linear(layer);
            found.push((self.get(layout, module, Param::Weight, path)?, self.get(layout, module, Param::Bias, path)?));
        }
        let mut layers: Vec<Linear<T>> = Vec::with_capacity(count);
        for (layer, ((weight_key, weight), (bias_key, bias))) in found.into_iter().enumerate() {
            check_weight(weight, &weight_key, path)?;
            let outputs = weight.shape().rows();
            check_vector(bias, outputs, &bias_key, &weight_key, path)?;
            if let Some(previous) = layers.last() {
                let previous_outputs = previous.dims().1;
                if weight.shape().cols() != previous_outputs {
                    return Err(TorchError::NotChained {
                        path: path.to_path_buf(),
                        key: weight_key,
                        outputs,
                        inputs: weight.shape().cols(),
                        previous: layout.key(Module::Linear(layer - 1), Param::Weight),
                        previous_outputs,
                    });
                }
            }
            layers.push(Linear::from_tensors(transposed(weight), bias.clone()));
        }
        Ok(layers)
    }

    /// The LayerNorms of the hidden layers (none in the layout without), gamma and beta
    /// each as wide as its Linear layer's outputs, with the file's eps or PyTorch's default.
    fn layer_norms(
        &self,
        modules: &Modules,
        layers: &[Linear<T>],
        path: &Path,
    ) -> Result<Vec<LayerNorm<T>>, TorchError> {
        let layout = modules.layout;
        if !layout.layer_norm {
            return Ok(Vec::new());
        }
        let eps = match self.metadata.get(LAYER_NORM_EPS_KEY) {
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|eps| eps.is_finite() && *eps >= 0.0)
                .ok_or_else(|| self.bad_metadata(path, LAYER_NORM_EPS_KEY, "a finite number from 0"))?,
            None => LAYER_NORM_EPS,
        };
        let hidden_layers = &layers[..layers.len() - 1];
        let mut norms = Vec::with_capacity(hidden_layers.len());
        for (layer, linear) in hidden_layers.iter().enumerate() {
            let module = Module::Norm(layer);
            let (gamma_key, gamma) = self.get(layout, module, Param::Weight, path)?;
            let (beta_key, beta) = self.get(layout, module, Param::Bias, path)?;
            let weight_key = layout.key(Module::Linear(layer), Param::Weight);
            check_vector(gamma, linear.dims().1, &gamma_key, &weight_key, path)?;
            check_vector(beta, linear.dims().1, &beta_key, &weight_key, path)?;
            norms.push(LayerNorm { gamma: gamma.clone(), beta: beta.clone(), eps: T::lit(eps) });
        }
        Ok(norms)
    }

    /// The name and tensor of `param` of `module`.
    fn get(
        &self,
        layout: Layout,
        module: Module,
        param: Param,
        path: &Path,
    ) -> Result<(String, &Tensor<T>), TorchError> {
        let key = layout.key(module, param);
        match (self.tensors.get(&key), module) {
            (Some(tensor), _) => Ok((key, tensor)),
            (None, Module::Linear(layer)) => {
                Err(TorchError::MissingKey { path: path.to_path_buf(), key, layer, layer_norm: layout.layer_norm })
            }
            (None, Module::Norm(layer)) => Err(TorchError::MissingNorm { path: path.to_path_buf(), key, layer }),
        }
    }

    /// The error for metadata field `key`, whose text is not `expected`.
    fn bad_metadata(&self, path: &Path, key: &str, expected: &'static str) -> TorchError {
        TorchError::BadMetadata {
            path: path.to_path_buf(),
            key: key.to_string(),
            found: self.metadata.get(key).cloned().unwrap_or_default(),
            expected,
        }
    }

    /// The activation between the layers: `given`, or else the file's, which must agree.
    fn activation(&self, path: &Path, given: Option<Activation>) -> Result<Activation, TorchError> {
        let stored = match self.metadata.get(ACTIVATION_KEY) {
            Some(text) => Some(
                text.parse::<Activation>()
                    .map_err(|_| TorchError::BadActivation { path: path.to_path_buf(), found: text.clone() })?,
            ),
            None => None,
        };
        match (given, stored) {
            (Some(given), Some(stored)) if given != stored => {
                Err(TorchError::ActivationMismatch { path: path.to_path_buf(), given, stored })
            }
            (Some(activation), _) | (None, Some(activation)) => Ok(activation),
            (None, None) => Err(TorchError::MissingActivation { path: path.to_path_buf() }),
        }
    }
}

/// Refuses a weight that is not a non-empty `[out, in]` matrix.
fn check_weight<T: Real>(weight: &Tensor<T>, key: &str, path: &Path) -> Result<(), TorchError> {
    let shape = weight.shape();
    if shape.rank() == 2 && shape.rows() > 0 && shape.cols() > 0 {
        return Ok(());
    }
    Err(TorchError::BadShape {
        path: path.to_path_buf(),
        key: key.to_string(),
        found: shape.dims().to_vec(),
        expected: "a matrix [out, in] with at least one row and one column".to_string(),
    })
}

/// Refuses a bias, gamma or beta that is not a vector `[outputs]`, as long as the weight
/// `weight_key` has rows.
fn check_vector<T: Real>(
    vector: &Tensor<T>,
    outputs: usize,
    key: &str,
    weight_key: &str,
    path: &Path,
) -> Result<(), TorchError> {
    if vector.shape().rank() == 1 && vector.shape().cols() == outputs {
        return Ok(());
    }
    Err(TorchError::BadShape {
        path: path.to_path_buf(),
        key: key.to_string(),
        found: vector.shape().dims().to_vec(),
        expected: format!("[{outputs}], as many as `{weight_key}` has rows"),
    })
}
