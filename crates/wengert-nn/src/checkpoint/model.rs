//! An [`Mlp`] alone in a safetensors file, wengert's layout: what `Mlp::save` writes and
//! `Mlp::load` reads. Tensors `layer<l>.weight` (`[in x out]`, as `Linear` holds it) and
//! `layer<l>.bias` (`[out]`); metadata `format`, `sizes` (`784-256-10`) and `activation`.

use super::{Checkpoint, CheckpointError};
use crate::{Activation, Linear, Mlp};
use std::path::Path;
use wengert_tape::{Real, Shape};

/// The `format` metadata of a file written by `Mlp::save`.
pub(crate) const MLP_FORMAT: &str = "wengert-mlp-v1";

/// Writes `mlp` to `path` atomically ([`Checkpoint::save`]).
pub(crate) fn save_mlp<T: Real>(mlp: &Mlp<T>, path: &Path) -> Result<(), CheckpointError> {
    let mut checkpoint = Checkpoint::new();
    for (name, tensor) in mlp.parameter_names().into_iter().zip(mlp.parameters()) {
        checkpoint.insert(name, tensor.clone());
    }
    checkpoint.set_metadata("format", MLP_FORMAT);
    let sizes: Vec<String> = mlp.sizes().iter().map(usize::to_string).collect();
    checkpoint.set_metadata("sizes", sizes.join("-"));
    checkpoint.set_metadata("activation", mlp.hidden.name());
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
    let mut expected = Vec::with_capacity(2 * (sizes.len() - 1));
    for (l, pair) in sizes.windows(2).enumerate() {
        expected.push((format!("layer{l}.weight"), Shape::matrix(pair[0], pair[1])));
        expected.push((format!("layer{l}.bias"), Shape::vector(pair[1])));
    }
    for (name, shape) in &expected {
        checkpoint.expect_tensor(name, *shape)?;
    }
    checkpoint.refuse_unexpected(|name| expected.iter().any(|(expected, _)| expected == name))?;
    let layers = expected
        .chunks_exact(2)
        .map(|pair| {
            let weight = checkpoint.expect_tensor(&pair[0].0, pair[0].1)?.clone();
            let bias = checkpoint.expect_tensor(&pair[1].0, pair[1].1)?.clone();
            Ok(Linear::from_tensors(weight, bias))
        })
        .collect::<Result<_, CheckpointError>>()?;
    Ok(Mlp { layers, hidden })
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
