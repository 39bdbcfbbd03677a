//! Checkpoints: a model's parameters and optimiser state as named tensors, with string
//! metadata (epoch, hyper-parameters, format version), in the safetensors format.
//!
//! A [`Checkpoint<T>`] holds tensors of one element type, `f32` (dtype `F32`) or `f64`
//! (`F64`), little-endian and row-major, and integer counters such as Adam's step (`I64`
//! scalars, exact to 2^63). [`Checkpoint::save`] replaces the file atomically
//! ([`write_atomically`]), so a crash mid-save leaves the previous checkpoint whole.
//! [`Checkpoint::load`] checks every tensor's dtype, rank and size.
//!
//! To stop and resume training, [`Checkpoint::from_training`] takes a model's parameters
//! and its optimiser's state, and [`Checkpoint::restore_training`] puts them back after
//! checking every entry against the model: each parameter and each piece of optimiser
//! state must be there with the right dtype and shape, and nothing else may be. Failures
//! are [`CheckpointError`]s naming the file and the tensor or field. Bad files never panic.
//!
//! ```
//! use rand::SeedableRng;
//! use wengert_nn::checkpoint::Checkpoint;
//! use wengert_nn::optim::{Adam, Optimizer};
//! use wengert_nn::{Activation, Mlp};
//! # fn main() -> Result<(), wengert_nn::checkpoint::CheckpointError> {
//! # let dir = tempfile::tempdir().expect("temporary directory");
//! let path = dir.path().join("epoch3.safetensors");
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let (model, mut adam) = (Mlp::<f32>::new(&[2, 3, 2], Activation::Relu, &mut rng), Adam::new(0.01));
//! adam.begin_step();
//!
//! let mut checkpoint = Checkpoint::from_training(&model, &adam);
//! checkpoint.set_metadata("epoch", 3);
//! checkpoint.save(&path)?;
//!
//! // Later: a model of the same sizes, a fresh optimiser, and the checkpoint put back.
//! let mut resumed = Mlp::<f32>::new(&[2, 3, 2], Activation::Relu, &mut rng);
//! let mut resumed_adam = Adam::new(0.01);
//! let loaded = Checkpoint::<f32>::load(&path)?;
//! loaded.restore_training(&mut resumed, &mut resumed_adam)?;
//! assert_eq!(resumed, model);
//! assert_eq!(resumed_adam.steps(), 1);
//! assert_eq!(loaded.metadata_parse::<usize>("epoch")?, 3);
//! # Ok(())
//! # }
//! ```

mod atomic;
mod codec;
mod entries;
mod error;
mod metadata;
pub(crate) mod model;
mod training;

pub use atomic::write_atomically;
pub use error::CheckpointError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wengert_tape::{Real, Tensor};

/// The name `origin` has before a checkpoint is loaded from a file.
const IN_MEMORY: &str = "<memory>";

/// Named tensors of element type `T`, named integer counters, and string metadata, saved
/// as one safetensors file.
///
/// A name holds either a tensor or a counter. Names and metadata keys are kept in sorted
/// order. Names follow the dotted convention `layer0.weight`, `adam.m.0`, `adam.step`.
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
    counters: BTreeMap<String, u64>,
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
        Checkpoint {
            tensors: BTreeMap::new(),
            counters: BTreeMap::new(),
            metadata: BTreeMap::new(),
            origin: PathBuf::from(IN_MEMORY),
        }
    }

    /// Adds a tensor under `name`, returning the tensor it replaces (a counter of that name
    /// is removed).
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
        self.counters.remove(&name);
        self.tensors.insert(name, tensor)
    }

    /// Adds an integer counter (a step count, say) under `name`, returning the counter it
    /// replaces (a tensor of that name is removed). Counters are stored as `I64` scalars, so
    /// every count up to 2^63 - 1 survives exactly; f32 holds whole numbers only to 2^24.
    ///
    /// # Panics
    ///
    /// If `name` is `__metadata__`, which the safetensors header reserves for metadata.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.insert_counter("adam.step", (1 << 24) + 1);
    /// let loaded = Checkpoint::<f32>::from_bytes(&checkpoint.to_bytes()?, "a.safetensors")?;
    /// assert_eq!(loaded.counter("adam.step"), Some(16_777_217));
    /// # Ok::<(), wengert_nn::checkpoint::CheckpointError>(())
    /// ```
    #[track_caller]
    pub fn insert_counter(&mut self, name: impl Into<String>, count: u64) -> Option<u64> {
        let name = name.into();
        assert!(
            name != "__metadata__",
            "Checkpoint::insert_counter: the name `__metadata__` is reserved by safetensors"
        );
        self.tensors.remove(&name);
        self.counters.insert(name, count)
    }

    /// The counter stored under `name`, if any (a float tensor of that name is not one: see
    /// [`Checkpoint::expect_counter`]).
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f64>::new();
    /// checkpoint.insert_counter("sgd.step", 7);
    /// assert_eq!(checkpoint.counter("sgd.step"), Some(7));
    /// assert_eq!(checkpoint.counter("adam.step"), None);
    /// ```
    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters.get(name).copied()
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

    /// The names of the tensors and the counters, in sorted order.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("z", Tensor::scalar(0.0_f32));
    /// checkpoint.insert("a", Tensor::scalar(0.0));
    /// checkpoint.insert_counter("m", 3);
    /// assert_eq!(checkpoint.names().collect::<Vec<_>>(), ["a", "m", "z"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.tensors.keys().chain(self.counters.keys()).map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }

    /// The tensors with their names, in name order (counters are not tensors of `T`: see
    /// [`Checkpoint::counter`]).
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

    /// The number of tensors and counters.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("w", Tensor::scalar(1.0_f32));
    /// checkpoint.insert_counter("step", 1);
    /// assert_eq!(checkpoint.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.tensors.len() + self.counters.len()
    }

    /// True if there are no tensors and no counters (metadata is not counted).
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.set_metadata("epoch", 0);
    /// assert!(checkpoint.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty() && self.counters.is_empty()
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
    /// As [`Checkpoint::expect_tensor`]: `MissingTensor`, `ShapeMismatch` if the stored shape
    /// is not `target`'s (a vector `[n]` and a matrix `[1 x n]` differ), `DtypeMismatch` if
    /// `name` is a counter. `target` is unchanged then.
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
        let stored = self.expect_tensor(name, target.shape())?;
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
