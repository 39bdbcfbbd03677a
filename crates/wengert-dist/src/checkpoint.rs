//! Checkpoints in a job: rank 0 writes them, and a resumed run restarts every rank from
//! rank 0's file.

use crate::{Dist, DistError};
use std::path::Path;
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::optim::Optimizer;
use wengert_nn::Model;

/// Rank 0 writes `model`, `optimizer`'s state and `metadata` to `path` (atomically:
/// [`Checkpoint::save`] writes a temporary file beside it, syncs it and renames it); the
/// other ranks write nothing. Every rank must call it (it ends with a broadcast of rank 0's
/// outcome), so that all ranks stop together if the write fails.
///
/// # Errors
///
/// On rank 0, the [`CheckpointError`] of the write; on the others,
/// [`DistError::RootFailed`].
///
/// # Examples
///
/// ```no_run
/// use rand::SeedableRng;
/// use wengert_dist::{save_on_root, Dist};
/// use wengert_nn::{optim::Adam, Activation, Mlp};
/// let dist = Dist::init()?;
/// let model = Mlp::<f32>::new(&[4, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// save_on_root(&dist, "run/checkpoint.safetensors".as_ref(), &model, &Adam::new(1e-3), &[("epoch", "1".into())])?;
/// # Ok::<(), wengert_dist::DistError>(())
/// ```
pub fn save_on_root(
    dist: &Dist,
    path: &Path,
    model: &impl Model<f32>,
    optimizer: &dyn Optimizer<f32>,
    metadata: &[(&str, String)],
) -> Result<(), DistError> {
    let saved = dist.is_root().then(|| {
        let mut checkpoint = Checkpoint::from_training(model, optimizer);
        for (key, value) in metadata {
            checkpoint.set_metadata(*key, value);
        }
        checkpoint.save(path)
    });
    let root_ok = saved.as_ref().map(Result::is_ok);
    if dist.root_succeeded(root_ok) {
        return Ok(());
    }
    match saved {
        Some(Err(error)) => Err(error.into()),
        _ => Err(DistError::RootFailed { what: "write the checkpoint" }),
    }
}

/// Restarts every rank from the checkpoint at `path` on rank 0's machine: rank 0 reads the
/// file and broadcasts its bytes, and every rank checks that each of `settings` equals the
/// checkpoint's metadata field of that name, then restores the model and the optimiser's
/// state from it. The other ranks need no copy of the file. Returns the checkpoint (for
/// its metadata, such as the epoch it finished).
///
/// # Errors
///
/// On rank 0, [`DistError::Checkpoint`] if the file cannot be read, and
/// [`DistError::RootFailed`] on the others; then, on every rank alike,
/// [`DistError::Checkpoint`] if the bytes are not a checkpoint or do not fit the model or
/// the optimiser, and [`DistError::SettingMismatch`] naming a setting that differs.
///
/// # Examples
///
/// ```no_run
/// use rand::SeedableRng;
/// use wengert_dist::{resume_from_root, Dist};
/// use wengert_nn::{optim::Adam, Activation, Mlp};
/// let dist = Dist::init()?;
/// let mut model = Mlp::<f32>::new(&[4, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let mut adam = Adam::new(1e-3);
/// let checkpoint = resume_from_root(&dist, "run/checkpoint.safetensors".as_ref(), &mut model, &mut adam, &[])?;
/// let epoch: usize = checkpoint.metadata_parse("epoch")?;
/// # Ok::<(), wengert_dist::DistError>(())
/// ```
pub fn resume_from_root(
    dist: &Dist,
    path: &Path,
    model: &mut impl Model<f32>,
    optimizer: &mut dyn Optimizer<f32>,
    settings: &[(&str, String)],
) -> Result<Checkpoint<f32>, DistError> {
    let (root_bytes, read_error) = match dist.is_root().then(|| std::fs::read(path)) {
        Some(Ok(bytes)) => (Some(Ok(bytes)), None),
        Some(Err(error)) => (Some(Err(())), Some(error)),
        None => (None, None),
    };
    let Ok(bytes) = dist.broadcast_bytes(root_bytes) else {
        return Err(match read_error {
            Some(source) => CheckpointError::Io { path: path.to_path_buf(), source }.into(),
            None => DistError::RootFailed { what: "read the checkpoint" },
        });
    };
    let checkpoint = Checkpoint::<f32>::from_bytes(&bytes, path)?;
    for (key, asked) in settings {
        let stored = checkpoint.expect_metadata(key)?;
        if stored != asked {
            let (key, stored, asked) = (key.to_string(), stored.to_string(), asked.clone());
            return Err(DistError::SettingMismatch { path: path.to_path_buf(), key, stored, asked });
        }
    }
    checkpoint.restore_training(model, optimizer)?;
    Ok(checkpoint)
}
