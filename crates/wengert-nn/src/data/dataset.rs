//! [`Dataset`]: a feature matrix `[n x d]` of f32 and one class label per row.

use super::DataError;
use wengert_tape::{Shape, Tensor};

/// `n` samples: a feature matrix `[n x d]` and `n` class labels.
///
/// # Examples
///
/// ```
/// use wengert_nn::data::Dataset;
/// use wengert_tape::Tensor;
/// let mut data = Dataset::new(Tensor::from_rows(&[[0.0, 16.0], [4.0, 8.0], [0.0, 0.0]]), vec![2, 0, 1])?;
/// assert_eq!((data.len(), data.feature_width(), data.num_classes()), (3, 2, 3));
/// data.scale(1.0 / 16.0);
/// assert_eq!(data.row(1), &[0.25, 0.5]);
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    features: Tensor<f32>,
    labels: Vec<usize>,
}

impl Dataset {
    /// A data set from a feature matrix `[n x d]` and `n` labels.
    ///
    /// # Errors
    ///
    /// [`DataError::NotAMatrix`] if `features` is a scalar or a vector, and
    /// [`DataError::LengthMismatch`] if it has not one row per label.
    ///
    /// ```
    /// use wengert_nn::data::{DataError, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let mismatch = Dataset::new(Tensor::zeros(Shape::matrix(3, 2)), vec![0, 1]);
    /// assert!(matches!(mismatch, Err(DataError::LengthMismatch { rows: 3, labels: 2 })));
    /// assert!(Dataset::new(Tensor::zeros(Shape::matrix(2, 2)), vec![0, 1]).is_ok());
    /// ```
    pub fn new(features: Tensor<f32>, labels: Vec<usize>) -> Result<Self, DataError> {
        let shape = features.shape();
        if shape.rank() != 2 {
            return Err(DataError::NotAMatrix { shape });
        }
        if shape.rows() != labels.len() {
            return Err(DataError::LengthMismatch { rows: shape.rows(), labels: labels.len() });
        }
        Ok(Dataset { features, labels })
    }

    /// The feature matrix `[n x d]`.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(4, 3)), vec![0; 4])?;
    /// assert_eq!(data.features().shape(), Shape::matrix(4, 3));
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn features(&self) -> &Tensor<f32> {
        &self.features
    }

    /// The labels, one per row.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(2, 1)), vec![7, 3])?;
    /// assert_eq!(data.labels(), &[7, 3]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The number of samples `n`.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Dataset::new(Tensor::zeros(Shape::matrix(5, 2)), vec![0; 5])?.len(), 5);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no samples.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// assert!(Dataset::new(Tensor::zeros(Shape::matrix(0, 2)), vec![])?.is_empty());
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of features per sample, `d`.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Dataset::new(Tensor::zeros(Shape::matrix(2, 784)), vec![0, 1])?.feature_width(), 784);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn feature_width(&self) -> usize {
        self.features.shape().cols()
    }

    /// The largest label plus one (0 for an empty set): the number of classes a model needs.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Dataset::new(Tensor::zeros(Shape::matrix(3, 1)), vec![4, 9, 0])?.num_classes(), 10);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&label| label + 1)
    }

    /// How many samples each class `0..num_classes()` has.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// assert_eq!(Dataset::new(Tensor::zeros(Shape::matrix(4, 1)), vec![2, 0, 2, 2])?.class_counts(), vec![1, 0, 3]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }

    /// The features of sample `index`.
    ///
    /// # Panics
    ///
    /// If `index >= len()`.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::Tensor;
    /// let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]), vec![0, 1])?;
    /// assert_eq!(data.row(1), &[3.0, 4.0]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[track_caller]
    pub fn row(&self, index: usize) -> &[f32] {
        assert!(index < self.len(), "Dataset::row: index {index} is out of range for {} samples", self.len());
        let width = self.feature_width();
        &self.features.data()[index * width..(index + 1) * width]
    }

    /// A new data set of the samples at `indices`, in that order (an index may repeat).
    ///
    /// # Panics
    ///
    /// If an index is `>= len()`.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::Tensor;
    /// let data = Dataset::new(Tensor::from_rows(&[[10.0], [11.0], [12.0]]), vec![0, 1, 2])?;
    /// let picked = data.subset(&[2, 0]);
    /// assert_eq!(picked.features().data(), &[12.0, 10.0]);
    /// assert_eq!(picked.labels(), &[2, 0]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[track_caller]
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let width = self.feature_width();
        let mut features = Vec::with_capacity(indices.len() * width);
        let mut labels = Vec::with_capacity(indices.len());
        for &index in indices {
            assert!(index < self.len(), "Dataset::subset: index {index} is out of range for {} samples", self.len());
            features.extend_from_slice(self.row(index));
            labels.push(self.labels[index]);
        }
        Dataset { features: Tensor::new(Shape::matrix(indices.len(), width), features), labels }
    }

    /// Multiplies every feature by `factor`, in place: `scale(1.0 / 255.0)` maps grey levels
    /// 0-255 to [0, 1].
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::Tensor;
    /// let mut data = Dataset::new(Tensor::from_rows(&[[0.0, 16.0, 8.0]]), vec![0])?;
    /// data.scale(1.0 / 16.0);
    /// assert_eq!(data.features().data(), &[0.0, 1.0, 0.5]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn scale(&mut self, factor: f32) {
        for value in self.features.data_mut() {
            *value *= factor;
        }
    }

    /// The feature matrix and the labels, consuming the data set.
    ///
    /// ```
    /// use wengert_nn::data::Dataset;
    /// use wengert_tape::{Shape, Tensor};
    /// let (features, labels) = Dataset::new(Tensor::zeros(Shape::matrix(2, 3)), vec![1, 0])?.into_parts();
    /// assert_eq!((features.shape(), labels), (Shape::matrix(2, 3), vec![1, 0]));
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn into_parts(self) -> (Tensor<f32>, Vec<usize>) {
        (self.features, self.labels)
    }
}
