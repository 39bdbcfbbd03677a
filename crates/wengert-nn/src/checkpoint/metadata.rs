//! A checkpoint's metadata: string fields (epoch, format version, hyper-parameters), read
//! as text or parsed into numbers, with errors naming the file and the field.

use super::{Checkpoint, CheckpointError};
use std::fmt::Display;
use std::str::FromStr;
use wengert_tape::Real;

impl<T: Real> Checkpoint<T> {
    /// Sets metadata field `key` to `value` written out (`Display`), replacing any old
    /// value. Floats are written in their shortest exact form, so they parse back equal.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.set_metadata("format", "wengert-checkpoint-v1");
    /// checkpoint.set_metadata("learning_rate", 0.001);
    /// assert_eq!(checkpoint.metadata("learning_rate"), Some("0.001"));
    /// ```
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Display) {
        self.metadata.insert(key.into(), value.to_string());
    }

    /// Metadata field `key`, if present.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f64>::new();
    /// checkpoint.set_metadata("epoch", 3);
    /// assert_eq!(checkpoint.metadata("epoch"), Some("3"));
    /// assert_eq!(checkpoint.metadata("seed"), None);
    /// ```
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// All metadata fields, in key order.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f64>::new();
    /// checkpoint.set_metadata("seed", 7);
    /// checkpoint.set_metadata("epoch", 3);
    /// assert_eq!(checkpoint.metadata_entries().collect::<Vec<_>>(), [("epoch", "3"), ("seed", "7")]);
    /// ```
    pub fn metadata_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Metadata field `key`, which must be present.
    ///
    /// # Errors
    ///
    /// `MissingMetadata` naming the file and `key`.
    ///
    /// ```
    /// use wengert_nn::checkpoint::Checkpoint;
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.set_metadata("format", "wengert-checkpoint-v1");
    /// assert_eq!(checkpoint.expect_metadata("format")?, "wengert-checkpoint-v1");
    /// assert!(checkpoint.expect_metadata("epoch").is_err());
    /// # Ok::<(), wengert_nn::checkpoint::CheckpointError>(())
    /// ```
    pub fn expect_metadata(&self, key: &str) -> Result<&str, CheckpointError> {
        self.metadata(key)
            .ok_or_else(|| CheckpointError::MissingMetadata { path: self.origin.clone(), key: key.to_string() })
    }

    /// Metadata field `key` parsed as an `F` (a number, a bool, ...), which must be present.
    ///
    /// # Errors
    ///
    /// `MissingMetadata` if the field is absent; `BadMetadata` naming the field, its text and
    /// the type if it does not parse.
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// let mut checkpoint = Checkpoint::<f32>::new();
    /// checkpoint.set_metadata("epoch", 3);
    /// checkpoint.set_metadata("batch_size", "thirty-two");
    /// assert_eq!(checkpoint.metadata_parse::<usize>("epoch")?, 3);
    /// let error = checkpoint.metadata_parse::<usize>("batch_size").unwrap_err();
    /// assert!(matches!(error, CheckpointError::BadMetadata { expected: "usize", .. }));
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn metadata_parse<F>(&self, key: &str) -> Result<F, CheckpointError>
    where
        F: FromStr,
        F::Err: Display,
    {
        let value = self.expect_metadata(key)?;
        value.parse().map_err(|error: F::Err| CheckpointError::BadMetadata {
            path: self.origin.clone(),
            key: key.to_string(),
            value: value.to_string(),
            expected: std::any::type_name::<F>(),
            reason: error.to_string(),
        })
    }
}
