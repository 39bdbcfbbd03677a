//! Checkpoints: a model's parameters and optimiser state as named tensors, with string
//! metadata (epoch, hyper-parameters, format version), in the safetensors format.
//!
//! A [`Checkpoint<T>`] holds tensors of one element type, `f32` (dtype `F32`) or `f64`
//! (`F64`), little-endian and row-major. [`Checkpoint::save`] replaces the file atomically
//! ([`write_atomically`]), so a crash mid-save leaves the previous checkpoint whole.
//! [`Checkpoint::load`] checks every tensor's dtype, rank and size, and
//! [`Checkpoint::restore`] each shape against the model's; failures are
//! [`CheckpointError`]s naming the file and the tensor or field. Bad files never panic.
//!
//! ```
//! use wengert_nn::checkpoint::Checkpoint;
//! use wengert_tape::{Shape, Tensor};
//! # fn main() -> Result<(), wengert_nn::checkpoint::CheckpointError> {
//! # let dir = tempfile::tempdir().expect("temporary directory");
//! let path = dir.path().join("epoch3.safetensors");
//!
//! let mut checkpoint = Checkpoint::new();
//! checkpoint.insert("layer0.weight", Tensor::from_rows(&[[0.1_f32, 0.3], [0.2, 0.4]]));
//! checkpoint.insert("adam.step", Tensor::scalar(300.0));
//! checkpoint.set_metadata("epoch", 3);
//! checkpoint.save(&path)?;
//!
//! let loaded = Checkpoint::<f32>::load(&path)?;
//! let mut weight = Tensor::zeros(Shape::matrix(2, 2));
//! loaded.restore("layer0.weight", &mut weight)?;
//! assert_eq!(weight[(1, 0)], 0.2);
//! assert_eq!(loaded.metadata_parse::<usize>("epoch")?, 3);
//! # Ok(())
//! # }
//! ```

mod atomic;
mod codec;
mod error;
mod metadata;

pub use atomic::write_atomically;
pub use error::CheckpointError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wengert_tape::{Real, Tensor};

/// The name `origin` has before a checkpoint is loaded from a file.
const IN_MEMORY: &str = "<memory>";

/// Named tensors of element type `T` plus string metadata, saved as one safetensors file.
///
/// Names and metadata keys are kept in sorted order. Names follow the dotted convention
/// `layer0.weight`, `adam.m.layer0.weight`, `adam.step`.
///
/// # Examples
///
/// ```
/// use wengert_nn::checkpoint::Checkpoint;
/// use wengert_tape::Tensor;
/// let mut checkpoint = Checkpoint::new();
/// checkpoint.insert("layer0.bias", Tensor::from_slice(&[0.1_f64, 0.2]));
/// checkpoint.insert("layer0.weight", Tensor::from_rows(&[[1.0, 2.0]]));
/// assert_eq!(checkpoint.names().collect::<Vec<_>>(), ["layer0.bias", "layer0.weight"]);
/// assert_eq!(checkpoint.get("layer0.bias").map(|t| t.data()[1]), Some(0.2));
/// ```
#[derive(Clone, Debug)]
pub struct Checkpoint<T> {
    tensors: BTreeMap<String, Tensor<T>>,
    metadata: BTreeMap<String, String>,
    origin: PathBuf,
}

impl<T: Real> Default for Checkpoint<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Checkpoint<T> {
    /// An empty checkpoint: no tensors, no metadata, origin `<memory>`.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let checkpoint = Checkpoint::<f32>::new();
    /// assert!(checkpoint.is_empty());
    /// assert_eq!(checkpoint.origin().to_str(), Some("<memory>"));
    /// ```
    pub fn new() -> Self {
        Checkpoint { tensors: BTreeMap::new(), metadata: BTreeMap::new(), origin: PathBuf::from(IN_MEMORY) }
    }

    /// Adds a tensor under `name`, returning the one it replaces.
    ///
    /// # Panics
    ///
    /// If `name` is `__metadata__`, which the safetensors header reserves for metadata.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// assert!(checkpoint.insert("w", Tensor::scalar(1.0_f32)).is_none());
    /// let old = checkpoint.insert("w", Tensor::scalar(2.0));
    /// assert_eq!(old.map(|t| t.data()[0]), Some(1.0));
    /// assert_eq!(checkpoint.len(), 1);
    /// ```
    #[track_caller]
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<T>) -> Option<Tensor<T>> {
        let name = name.into();
        assert!(
            name != "__metadata__",
            "Checkpoint::insert: the tensor name `__metadata__` is reserved by safetensors"
        );
        self.tensors.insert(name, tensor)
    }

    /// The tensor stored under `name`, if any.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("b", Tensor::from_slice(&[3.0_f64]));
    /// assert_eq!(checkpoint.get("b").map(|t| t.data().to_vec()), Some(vec![3.0]));
    /// assert!(checkpoint.get("w").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.tensors.get(name)
    }

    /// The tensor names, in sorted order.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("z", Tensor::scalar(0.0_f32));
    /// checkpoint.insert("a", Tensor::scalar(0.0));
    /// assert_eq!(checkpoint.names().collect::<Vec<_>>(), ["a", "z"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The tensors with their names, in name order.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::from_slice(&[1.0_f64, 2.0]));
    /// let total: f64 = checkpoint.iter().map(|(_, t)| t.data().iter().sum::<f64>()).sum();
    /// assert_eq!(total, 3.0);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<T>)> {
        self.tensors.iter().map(|(name, tensor)| (name.as_str(), tensor))
    }

    /// The number of tensors.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::scalar(1.0_f32));
    /// assert_eq!(checkpoint.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True if there are no tensors (metadata is not counted).
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.set_metadata("epoch", 0);
    /// assert!(checkpoint.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The file this checkpoint was loaded from (`<memory>` if it was built in memory);
    /// errors from [`Checkpoint::restore`] and the metadata readers name it.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let checkpoint = Checkpoint::<f64>::from_bytes(&Checkpoint::<f64>::new().to_bytes()?, "a.safetensors")?;
    /// assert_eq!(checkpoint.origin().to_str(), Some("a.safetensors"));
    /// # Ok::<(), wengert_nn::checkpoint::CheckpointError>(())
    /// ```
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Copies the tensor stored under `name` into `target`, a model's tensor.
    ///
    /// # Errors
    ///
    /// `MissingTensor` if there is no tensor `name`; `ShapeMismatch` if its shape is not
    /// `target`'s (a vector `[n]` and a matrix `[1 x n]` differ). `target` is unchanged then.
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_tape::{Shape, Tensor};
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("b", Tensor::from_slice(&[1.0_f32, 2.0]));
    /// let mut bias = Tensor::zeros(Shape::vector(2));
    /// checkpoint.restore("b", &mut bias)?;
    /// assert_eq!(bias.data(), &[1.0, 2.0]);
    ///
    /// let mut wrong = Tensor::zeros(Shape::vector(3));
    /// let error = checkpoint.restore("b", &mut wrong).unwrap_err();
    /// assert!(matches!(error, CheckpointError::ShapeMismatch { .. }));
    /// assert_eq!(error.to_string(), "checkpoint <memory>: tensor `b` is [2], the model expects [3]");
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn restore(&self, name: &str, target: &mut Tensor<T>) -> Result<(), CheckpointError> {
        let stored = self
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor { path: self.origin.clone(), name: name.to_string() })?;
        if stored.shape() != target.shape() {
            return Err(CheckpointError::ShapeMismatch {
                path: self.origin.clone(),
                name: name.to_string(),
                expected: target.shape(),
                found: stored.shape(),
            });
        }
        target.data_mut().copy_from_slice(stored.data());
        Ok(())
    }

    /// Writes the checkpoint to `path` as a safetensors file, atomically: the bytes go to a
    /// temporary file beside it, which is synced and renamed over `path`
    /// ([`write_atomically`]). If saving fails, the old file at `path` is untouched and the
    /// temporary file is removed.
    ///
    /// # Errors
    ///
    /// `Io` naming `path` if the directory is missing or not writable, the disk is full, or
    /// `path` is a directory; `Format` if the encoder refuses the header.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// # let dir = tempfile::tempdir().expect("temporary directory");
    /// let path = dir.path().join("model.safetensors");
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::from_slice(&[0.5_f64]));
    /// checkpoint.save(&path)?;
    /// assert_eq!(std::fs::read(&path).ok(), Some(checkpoint.to_bytes()?));
    /// # Ok::<(), wengert_nn::checkpoint::CheckpointError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let bytes = self.encode_for(path)?;
        write_atomically(path, |out| out.write_all(&bytes))
            .map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })
    }

    /// Reads a checkpoint saved with element type `T`; its [`Checkpoint::origin`] is `path`.
    ///
    /// # Errors
    ///
    /// `Io` if the file cannot be read; otherwise as [`Checkpoint::from_bytes`]: `Format`
    /// (not a safetensors file, truncated, corrupt), `DtypeMismatch`, `BadRank`.
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_tape::Tensor;
    /// # let dir = tempfile::tempdir().expect("temporary directory");
    /// let path = dir.path().join("model.safetensors");
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::from_slice(&[0.5_f64]));
    /// checkpoint.save(&path)?;
    /// assert_eq!(Checkpoint::<f64>::load(&path)?.get("w").map(|t| t.data()[0]), Some(0.5));
    /// let error = Checkpoint::<f32>::load(&path).unwrap_err();
    /// assert!(matches!(error, CheckpointError::DtypeMismatch { expected: "f32", .. }));
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&bytes, path)
    }
}
