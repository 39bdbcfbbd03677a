//! An [`Mlp`] alone in a safetensors file, wengert's layout: what `Mlp::save` writes and
//! `Mlp::load` reads. Tensors `layer<l>.weight` (`[in x out]`, as `Linear` holds it) and
//! `layer<l>.bias` (`[out]`), with layer norm `norm<l>.gamma` and `norm<l>.beta` (`[out]`)
//! for each hidden layer; metadata `format`, `sizes` (`784-256-10`) and `activation`, and
//! with layer norm `layer_norm` = `true` and `layer_norm_eps`.

use super::{Checkpoint, CheckpointError};
use crate::layers::parameter_layout;
use crate::{Activation, LayerNorm, Linear, Mlp, Model, Sequential};
use rand::SeedableRng;
use std::path::Path;
use wengert_tape::{Real, Shape};

/// The `format` metadata of a file written by `Mlp::save`.
pub(crate) const MLP_FORMAT: &str = "wengert-mlp-v1";

/// The metadata fields of layer norm: whether it is on (absent: off, as in every file
/// written before it existed), and its eps.
pub(crate) const LAYER_NORM_KEY: &str = "layer_norm";
pub(crate) const LAYER_NORM_EPS_KEY: &str = "layer_norm_eps";

/// Writes `mlp` to `path` atomically ([`Checkpoint::save`]).
#[track_caller]
pub(crate) fn save_mlp<T: Real>(mlp: &Mlp<T>, path: &Path) -> Result<(), CheckpointError> {
    mlp.check_norms("Mlp::save");
    let mut checkpoint = Checkpoint::new();
    for (name, tensor) in mlp.parameter_names().into_iter().zip(mlp.parameters()) {
        checkpoint.insert(name, tensor.clone());
    }
    checkpoint.set_metadata("format", MLP_FORMAT);
    let sizes: Vec<String> = mlp.sizes().iter().map(usize::to_string).collect();
    checkpoint.set_metadata("sizes", sizes.join("-"));
    checkpoint.set_metadata("activation", mlp.hidden.name());
    if let Some(eps) = mlp.layer_norm_eps() {
        checkpoint.set_metadata(LAYER_NORM_KEY, true);
        checkpoint.set_metadata(LAYER_NORM_EPS_KEY, eps);
    }
    checkpoint.save(path)
}

/// Reads an MLP written by [`save_mlp`], checking every tensor against the sizes in the
/// metadata before building it.
pub(crate) fn load_mlp<T: Real>(path: &Path) -> Result<Mlp<T>, CheckpointError> {
    let checkpoint = Checkpoint::<T>::load(path)?;
    let format = checkpoint.expect_metadata("format")?;
    if format != MLP_FORMAT {
        return Err(bad_metadata(&checkpoint, "format", "MLP file format", format!("expected {MLP_FORMAT}")));
    }
    let sizes = parse_sizes(&checkpoint)?;
    let hidden = checkpoint.metadata_parse::<Activation>("activation")?;
    let eps = layer_norm_eps(&checkpoint)?;
    // Names and shapes from the metadata alone: every tensor is checked before any is copied.
    let layout = parameter_layout(&sizes, eps.is_some());
    for (name, shape) in &layout {
        checkpoint.expect_tensor(name, *shape)?;
    }
    checkpoint.refuse_unexpected(|name| layout.iter().any(|(expected, _)| expected == name))?;
    let mut tensors = layout.iter().map(|(name, shape)| checkpoint.expect_tensor(name, *shape).cloned());
    let mut next = || tensors.next().expect("the layout names every tensor");
    let (mut layers, mut norms) = (Vec::new(), Vec::new());
    for l in 0..sizes.len() - 1 {
        layers.push(Linear::from_tensors(next()?, next()?));
        if let Some(eps) = eps.filter(|_| l + 2 < sizes.len()) {
            norms.push(LayerNorm { gamma: next()?, beta: next()?, eps });
        }
    }
    Ok(Mlp { layers, hidden, norms })
}

/// The eps of the layer norms if the metadata turns them on (`layer_norm` = `true`), read
/// from `layer_norm_eps`, a finite number from 0; `None` if `layer_norm` is `false` or absent.
fn layer_norm_eps<T: Real>(checkpoint: &Checkpoint<T>) -> Result<Option<T>, CheckpointError> {
    if checkpoint.metadata(LAYER_NORM_KEY).is_none() || !checkpoint.metadata_parse::<bool>(LAYER_NORM_KEY)? {
        return Ok(None);
    }
    let eps = checkpoint.metadata_parse::<f64>(LAYER_NORM_EPS_KEY)?;
    if !(eps.is_finite() && eps >= 0.0) {
        let reason = format!("{eps} is not a finite number from 0");
        return Err(bad_metadata(checkpoint, LAYER_NORM_EPS_KEY, "layer norm eps", reason));
    }
    Ok(Some(T::lit(eps)))
}

/// The `sizes` field, `784-256-10`: at least two sizes, each from 1 to the most rows a
/// shape holds (so that every weight's shape can be built).
fn parse_sizes<T: Real>(checkpoint: &Checkpoint<T>) -> Result<Vec<usize>, CheckpointError> {
    const EXPECTED: &str = "layer sizes";
    let text = checkpoint.expect_metadata("sizes")?;
    let sizes =
        text.split('-').map(|size| size.trim().parse::<usize>()).collect::<Result<Vec<_>, _>>().map_err(|error| {
            bad_metadata(checkpoint, "sizes", EXPECTED, format!("{error} (sizes read like 784-256-10)"))
        })?;
    if sizes.len() < 2 {
        return Err(bad_metadata(checkpoint, "sizes", EXPECTED, "an input and an output size are needed".to_string()));
    }
    if let Some(size) = sizes.iter().find(|&&size| size == 0 || size > Shape::MAX_ROWS) {
        let reason = format!("size {size} is not between 1 and {}", Shape::MAX_ROWS);
        return Err(bad_metadata(checkpoint, "sizes", EXPECTED, reason));
    }
    Ok(sizes)
}

fn bad_metadata<T: Real>(
    checkpoint: &Checkpoint<T>,
    key: &str,
    expected: &'static str,
    reason: String,
) -> CheckpointError {
    CheckpointError::BadMetadata {
        path: checkpoint.origin().to_path_buf(),
        key: key.to_string(),
        value: checkpoint.metadata(key).unwrap_or_default().to_string(),
        expected,
        reason,
    }
}

/// The `format` metadata of a file written by `Sequential::save`.
pub(crate) const SEQUENTIAL_FORMAT: &str = "wengert-sequential-v1";

/// Writes `model` to `path` atomically: its parameters under their names and its
/// architecture's text.
pub(crate) fn save_sequential<T: Real>(model: &Sequential<T>, path: &Path) -> Result<(), CheckpointError> {
    let mut checkpoint = Checkpoint::new();
    for (name, tensor) in model.parameter_names().into_iter().zip(model.parameters()) {
        checkpoint.insert(name, tensor.clone());
    }
    checkpoint.set_metadata("format", SEQUENTIAL_FORMAT);
    checkpoint.set_metadata("architecture", model);
    checkpoint.save(path)
}

/// Reads a model written by [`save_sequential`]: the architecture parsed (its weights drawn,
/// then replaced), every tensor checked against it before any is copied.
pub(crate) fn load_sequential<T: Real>(path: &Path) -> Result<Sequential<T>, CheckpointError> {
    let checkpoint = Checkpoint::<T>::load(path)?;
    let format = checkpoint.expect_metadata("format")?;
    if format != SEQUENTIAL_FORMAT {
        return Err(bad_metadata(
            &checkpoint,
            "format",
            "sequential model format",
            format!("expected {SEQUENTIAL_FORMAT}"),
        ));
    }
    let text = checkpoint.expect_metadata("architecture")?;
    // The weights drawn here are all replaced below; any seed will do.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut model = Sequential::<T>::from_architecture(text, &mut rng)
        .map_err(|error| bad_metadata(&checkpoint, "architecture", "a model's architecture", error.to_string()))?;
    let names = model.parameter_names();
    for (name, parameter) in names.iter().zip(model.parameters()) {
        checkpoint.expect_tensor(name, parameter.shape())?;
    }
    checkpoint.refuse_unexpected(|name| names.iter().any(|expected| expected == name))?;
    for (name, parameter) in names.iter().zip(model.parameters_mut()) {
        checkpoint.restore(name, parameter)?;
    }
    Ok(model)
}
