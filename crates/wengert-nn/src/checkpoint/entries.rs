//! Checking a checkpoint's entries against what a model or optimiser expects: a tensor of
//! a given shape, a counter, and nothing besides. These are the checks
//! [`Checkpoint::restore_training`] and every optimiser's `load_state` are made of.

use super::{Checkpoint, CheckpointError};
use wengert_tape::{Real, Shape, Tensor};

/// Whole numbers up to 2^53 are exact in an f64, the widest float a checkpoint holds.
const LARGEST_EXACT_FLOAT_COUNT: f64 = 9_007_199_254_740_992.0;

impl<T: Real> Checkpoint<T> {
    /// The tensor stored under `name`, which must have shape `expected`.
    ///
    /// # Errors
    ///
    /// `MissingTensor` if there is no entry `name`; `DtypeMismatch` if `name` is a counter
    /// (an integer) rather than a tensor of `T`; `ShapeMismatch` naming both shapes if the
    /// stored one is not `expected` (a vector `[n]` and a matrix `[1 x n]` differ).
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_tape::{Shape, Tensor};
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.insert("adam.m.0", Tensor::zeros(Shape::vector(100)));
    /// checkpoint.insert_counter("adam.step", 3);
    /// assert_eq!(checkpoint.expect_tensor("adam.m.0", Shape::vector(100))?.len(), 100);
    /// let error = checkpoint.expect_tensor("adam.m.0", Shape::matrix(784, 256)).unwrap_err();
    /// assert_eq!(error.to_string(), "checkpoint <memory>: tensor `adam.m.0` is [100], the model expects [784 x 256]");
    /// let error = checkpoint.expect_tensor("adam.step", Shape::scalar()).unwrap_err();
    /// assert!(matches!(error, CheckpointError::DtypeMismatch { expected: "f32", .. }));
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn expect_tensor(&self, name: &str, expected: Shape) -> Result<&Tensor<T>, CheckpointError> {
        let Some(stored) = self.tensors.get(name) else {
            return Err(if self.counters.contains_key(name) {
                CheckpointError::DtypeMismatch {
                    path: self.origin.clone(),
                    name: name.to_string(),
                    expected: T::NAME,
                    found: "i64".to_string(),
                }
            } else {
                CheckpointError::MissingTensor { path: self.origin.clone(), name: name.to_string() }
            });
        };
        if stored.shape() != expected {
            return Err(CheckpointError::ShapeMismatch {
                path: self.origin.clone(),
                name: name.to_string(),
                expected,
                found: stored.shape(),
            });
        }
        Ok(stored)
    }

    /// The counter stored under `name`.
    ///
    /// Checkpoints written before counters existed stored them as float scalars; such a
    /// scalar is read as the count it holds if it is a whole number from 0 to 2^53 (in an
    /// f32 file it was exact only up to 2^24).
    ///
    /// # Errors
    ///
    /// `MissingTensor` if there is no entry `name`; `ShapeMismatch` if it is a float tensor
    /// that is not a scalar; `BadCounter` if it is a float scalar that is not a count
    /// (negative, fractional, not finite, or past 2^53).
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.insert_counter("adam.step", 300);
    /// checkpoint.insert("old.step", Tensor::scalar(300.0));
    /// checkpoint.insert("bad.step", Tensor::scalar(2.5));
    /// assert_eq!(checkpoint.expect_counter("adam.step")?, 300);
    /// assert_eq!(checkpoint.expect_counter("old.step")?, 300);
    /// assert!(matches!(checkpoint.expect_counter("bad.step"), Err(CheckpointError::BadCounter { .. })));
    /// assert!(matches!(checkpoint.expect_counter("sgd.step"), Err(CheckpointError::MissingTensor { .. })));
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn expect_counter(&self, name: &str) -> Result<u64, CheckpointError> {
        if let Some(count) = self.counter(name) {
            return Ok(count);
        }
        let value = self.expect_tensor(name, Shape::scalar())?.data()[0];
        let as_f64 = value.to_f64().unwrap_or(f64::NAN);
        if as_f64.fract() == 0.0 && (0.0..=LARGEST_EXACT_FLOAT_COUNT).contains(&as_f64) {
            Ok(as_f64 as u64)
        } else {
            Err(CheckpointError::BadCounter {
                path: self.origin.clone(),
                name: name.to_string(),
                value: value.to_string(),
            })
        }
    }

    /// Refuses the first entry, in name order, for which `is_expected` is false: whatever
    /// restores from a checkpoint calls this so that nothing in the file goes unread.
    ///
    /// # Errors
    ///
    /// `UnexpectedTensor` naming the file and the entry.
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_tape::Tensor;
    /// let mut checkpoint = Checkpoint::new();
    /// checkpoint.insert("layer0.weight", Tensor::from_rows(&[[1.0_f32]]));
    /// checkpoint.insert("layer7.weight", Tensor::from_rows(&[[1.0]]));
    /// let error = checkpoint.refuse_unexpected(|name| name == "layer0.weight").unwrap_err();
    /// assert!(matches!(error, CheckpointError::UnexpectedTensor { ref name, .. } if name == "layer7.weight"));
    /// assert!(checkpoint.refuse_unexpected(|name| name.starts_with("layer")).is_ok());
    /// ```
    pub fn refuse_unexpected(&self, is_expected: impl Fn(&str) -> bool) -> Result<(), CheckpointError> {
        match self.names().find(|name| !is_expected(name)) {
            Some(name) => Err(CheckpointError::UnexpectedTensor { path: self.origin.clone(), name: name.to_string() }),
            None => Ok(()),
        }
    }
}
