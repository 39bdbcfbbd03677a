//! [`Batcher`]: an epoch of batches over a [`Dataset`], in order or shuffled, gathered into
//! buffers that the batcher owns and reuses, so no batch allocates.

use super::Dataset;
use rand::seq::SliceRandom;
use rand::Rng;
use wengert_tape::{Shape, Tensor};

/// Cuts a data set into batches of `batch_size` rows, one epoch at a time.
///
/// Batch size 1 is stochastic gradient descent, the data set's size is batch (full) gradient
/// descent, anything between is mini-batch (the notes, section 5). Each epoch visits every
/// sample exactly once; the last batch holds the `len % batch_size` samples left over (it is
/// smaller) unless [`Batcher::drop_last`] is set, which skips it.
///
/// The batcher owns one `[batch_size x d]` feature buffer and one label buffer, sized when it
/// is made and reused for every batch. It does not hold the data set: pass the same one (or
/// one of the same size and width) to every [`next_batch`](Batcher::next_batch).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::data::{Batcher, Dataset};
/// use wengert_tape::Tensor;
/// let data = Dataset::new(Tensor::from_rows(&[[0.0], [1.0], [2.0], [3.0], [4.0]]), vec![0, 1, 0, 1, 0])?;
/// let mut batcher = Batcher::new(&data, 2);
/// batcher.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
/// let (mut sizes, mut seen) = (vec![], vec![]);
/// while let Some(batch) = batcher.next_batch(&data) {
///     sizes.push(batch.rows());
///     seen.extend(batch.features().iter().map(|&x| x as usize));
/// }
/// assert_eq!(sizes, [2, 2, 1]); // the last batch is smaller
/// seen.sort();
/// assert_eq!(seen, [0, 1, 2, 3, 4]); // every sample once
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Batcher {
    order: Vec<usize>,
    cursor: usize,
    batch_size: usize,
    drop_last: bool,
    width: usize,
    features: Vec<f32>,
    labels: Vec<usize>,
}

impl Batcher {
    /// A batcher for `data` in batches of `batch_size`, starting an epoch in order.
    ///
    /// A `batch_size` larger than the data set gives one batch of everything.
    ///
    /// # Panics
    ///
    /// If `batch_size` is 0.
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(10, 3)), vec![0; 10])?;
    /// assert_eq!(Batcher::new(&data, 4).batches_per_epoch(), 3);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[track_caller]
    pub fn new(data: &Dataset, batch_size: usize) -> Self {
        assert!(batch_size > 0, "Batcher::new: batch_size must be at least 1");
        let rows = batch_size.min(data.len());
        Batcher {
            order: (0..data.len()).collect(),
            cursor: 0,
            batch_size,
            drop_last: false,
            width: data.feature_width(),
            features: Vec::with_capacity(rows * data.feature_width()),
            labels: Vec::with_capacity(rows),
        }
    }

    /// Skip (`true`) or keep (`false`, the default) an epoch's last batch when it is smaller
    /// than `batch_size`.
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(10, 3)), vec![0; 10])?;
    /// let mut batcher = Batcher::new(&data, 4).drop_last(true);
    /// assert_eq!(batcher.batches_per_epoch(), 2);
    /// let mut rows = 0;
    /// while let Some(batch) = batcher.next_batch(&data) {
    ///     rows += batch.rows();
    /// }
    /// assert_eq!(rows, 8);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[must_use]
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The number of rows of a full batch.
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(3, 1)), vec![0; 3])?;
    /// assert_eq!(Batcher::new(&data, 32).batch_size(), 32);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// How many batches an epoch yields: `ceil(n / batch_size)`, or `floor(n / batch_size)`
    /// with [`drop_last`](Batcher::drop_last).
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(7, 1)), vec![0; 7])?;
    /// assert_eq!(Batcher::new(&data, 1).batches_per_epoch(), 7);
    /// assert_eq!(Batcher::new(&data, 7).batches_per_epoch(), 1);
    /// assert_eq!(Batcher::new(&data, 3).drop_last(true).batches_per_epoch(), 2);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn batches_per_epoch(&self) -> usize {
        let samples = self.order.len();
        if self.drop_last {
            samples / self.batch_size
        } else {
            samples.div_ceil(self.batch_size)
        }
    }

    /// Starts an epoch in a new random order drawn from `rng`. The order depends only on
    /// the generator's state, not on earlier epochs: the same seed gives the same order.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha8Rng;
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::Tensor;
    /// let data = Dataset::new(Tensor::from_fn(wengert_tape::Shape::matrix(6, 1), |i| i as f32), vec![0; 6])?;
    /// let mut batcher = Batcher::new(&data, 6);
    /// batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(1));
    /// let first = batcher.next_batch(&data).map(|batch| batch.indices().to_vec());
    /// batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(1));
    /// let second = batcher.next_batch(&data).map(|batch| batch.indices().to_vec());
    /// assert_eq!(first, second);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn shuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.in_order();
        self.order.shuffle(rng);
    }

    /// Starts an epoch in the data set's own order (for evaluation).
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::zeros(Shape::matrix(3, 1)), vec![2, 0, 1])?;
    /// let mut batcher = Batcher::new(&data, 2);
    /// batcher.in_order();
    /// assert_eq!(batcher.next_batch(&data).map(|batch| batch.labels().to_vec()), Some(vec![2, 0]));
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn in_order(&mut self) {
        for (position, index) in self.order.iter_mut().enumerate() {
            *index = position;
        }
        self.cursor = 0;
    }

    /// The epoch's next batch, or `None` when the epoch is over (then call
    /// [`shuffle`](Batcher::shuffle) or [`in_order`](Batcher::in_order) to start another).
    /// Every batch has `batch_size` rows except perhaps the last, which has the rest.
    ///
    /// # Panics
    ///
    /// If `data` has another number of samples or another feature width than the data set
    /// the batcher was made for.
    ///
    /// ```
    /// use wengert_nn::data::{Batcher, Dataset};
    /// use wengert_tape::{Shape, Tensor};
    /// let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![0, 1, 2])?;
    /// let mut batcher = Batcher::new(&data, 2);
    /// let batch = batcher.next_batch(&data).expect("a first batch");
    /// assert_eq!(batch.shape(), Shape::matrix(2, 2));
    /// assert_eq!(batch.features(), &[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(batch.labels(), &[0, 1]);
    /// let last = batcher.next_batch(&data).expect("a second batch");
    /// assert_eq!((last.features(), last.labels()), (&[5.0, 6.0][..], &[2][..]));
    /// assert!(batcher.next_batch(&data).is_none());
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[track_caller]
    pub fn next_batch(&mut self, data: &Dataset) -> Option<Batch<'_>> {
        assert!(
            data.len() == self.order.len() && data.feature_width() == self.width,
            "Batcher::next_batch: the batcher was made for {} samples of width {}, the data set has {} of width {}",
            self.order.len(),
            self.width,
            data.len(),
            data.feature_width()
        );
        let remaining = self.order.len() - self.cursor;
        let rows = remaining.min(self.batch_size);
        if rows == 0 || (self.drop_last && rows < self.batch_size) {
            self.cursor = self.order.len();
            return None;
        }
        let indices = &self.order[self.cursor..self.cursor + rows];
        self.cursor += rows;
        self.features.clear();
        self.labels.clear();
        for &index in indices {
            self.features.extend_from_slice(data.row(index));
            self.labels.push(data.labels()[index]);
        }
        Some(Batch { features: &self.features, labels: &self.labels, indices, width: self.width })
    }
}

/// One batch: `rows` samples' features `[rows x d]` (row-major) and labels, borrowed from
/// the [`Batcher`]'s buffers until the next call.
///
/// Put it on a tape with `tape.constant((batch.shape(), batch.features()))`.
///
/// ```
/// use wengert_nn::data::{Batcher, Dataset};
/// use wengert_tape::{Shape, Tensor};
/// let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]), vec![1, 0])?;
/// let mut batcher = Batcher::new(&data, 2);
/// let batch = batcher.next_batch(&data).expect("one batch");
/// assert_eq!(batch.to_tensor(), *data.features());
/// assert_eq!((batch.rows(), batch.feature_width(), batch.row(1)), (2, 2, &[3.0, 4.0][..]));
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Batch<'b> {
    features: &'b [f32],
    labels: &'b [usize],
    indices: &'b [usize],
    width: usize,
}

impl<'b> Batch<'b> {
    /// The features, row-major `[rows x d]`.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.features(), &[5.0, 6.0]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn features(&self) -> &'b [f32] {
        self.features
    }

    /// The labels, one per row.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.labels(), &[6]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn labels(&self) -> &'b [usize] {
        self.labels
    }

    /// The positions in the data set of this batch's rows.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.indices(), &[2]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn indices(&self) -> &'b [usize] {
        self.indices
    }

    /// The number of samples in the batch.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.rows(), 1);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The number of features per sample, `d`.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.feature_width(), 2);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn feature_width(&self) -> usize {
        self.width
    }

    /// `[rows x d]`.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.shape(), Shape::matrix(1, 2));
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn shape(&self) -> Shape {
        Shape::matrix(self.rows(), self.width)
    }

    /// The features of row `row` of the batch.
    ///
    /// # Panics
    ///
    /// If `row >= rows()`.
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.row(0), &[5.0, 6.0]);
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    #[track_caller]
    pub fn row(&self, row: usize) -> &'b [f32] {
        assert!(row < self.rows(), "Batch::row: row {row} is out of range for {} rows", self.rows());
        &self.features[row * self.width..(row + 1) * self.width]
    }

    /// The features copied into a new tensor `[rows x d]` (this allocates; prefer
    /// [`features`](Batch::features) with [`shape`](Batch::shape) on a training step).
    ///
    /// ```
    /// # use wengert_nn::data::{Batcher, Dataset};
    /// # use wengert_tape::{Shape, Tensor};
    /// # let data = Dataset::new(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), vec![4, 5, 6])?;
    /// # let mut batcher = Batcher::new(&data, 2);
    /// # batcher.next_batch(&data);
    /// let batch = batcher.next_batch(&data).expect("the last batch: row 2 alone");
    /// assert_eq!(batch.to_tensor(), Tensor::from_rows(&[[5.0, 6.0]]));
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn to_tensor(&self) -> Tensor<f32> {
        Tensor::new(self.shape(), self.features.to_vec())
    }
}
