//! Train/test splits with a fixed seed: [`split_shuffled`] (one shuffle of all samples) and
//! [`split_stratified`] (each class split in proportion). Both return `(train, test)`.

use super::{DataError, Dataset};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// How much of a data set goes to the test set. A `usize` converts to a count and an `f64`
/// to a fraction, so the split functions take either.
///
/// ```
/// use wengert_nn::data::TestSize;
/// assert_eq!(TestSize::from(300_usize), TestSize::Count(300));
/// assert_eq!(TestSize::from(0.2), TestSize::Fraction(0.2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TestSize {
    /// A fraction in `[0, 1]` of the samples, rounded to the nearest count.
    Fraction(f64),
    /// An exact number of samples, at most the data set's size.
    Count(usize),
}

impl TestSize {
    /// The number of test samples out of `samples`.
    ///
    /// # Errors
    ///
    /// [`DataError::InvalidTestSize`] if a fraction is outside `[0, 1]` (or NaN), or a count
    /// exceeds `samples`.
    ///
    /// ```
    /// use wengert_nn::data::TestSize;
    /// assert_eq!(TestSize::Fraction(0.2).count(1797)?, 359); // 359.4 rounds to 359
    /// assert_eq!(TestSize::Count(100).count(1797)?, 100);
    /// assert!(TestSize::Count(1798).count(1797).is_err());
    /// assert!(TestSize::Fraction(1.5).count(1797).is_err());
    /// # Ok::<(), wengert_nn::data::DataError>(())
    /// ```
    pub fn count(self, samples: usize) -> Result<usize, DataError> {
        match self {
            TestSize::Fraction(fraction) if (0.0..=1.0).contains(&fraction) => {
                Ok((fraction * samples as f64).round() as usize)
            }
            TestSize::Count(count) if count <= samples => Ok(count),
            _ => Err(DataError::InvalidTestSize { test: self, samples }),
        }
    }
}

impl From<usize> for TestSize {
    fn from(count: usize) -> Self {
        TestSize::Count(count)
    }
}

impl From<f64> for TestSize {
    fn from(fraction: f64) -> Self {
        TestSize::Fraction(fraction)
    }
}

impl fmt::Display for TestSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestSize::Fraction(fraction) => write!(f, "fraction {fraction}"),
            TestSize::Count(count) => write!(f, "count {count}"),
        }
    }
}

/// Splits `data` into `(train, test)`: shuffles all samples with a ChaCha8 generator
/// seeded by `seed`, puts the first `test.count(n)` in the test set and the rest in the
/// training set, both in shuffled order. Every sample lands in exactly one of the two; the
/// same seed gives the same split. `test` is a count (`usize`), a fraction (`f64`) or a
/// [`TestSize`].
///
/// # Errors
///
/// [`DataError::InvalidTestSize`] if `test` is out of range (see [`TestSize::count`]).
///
/// # Examples
///
/// ```
/// use wengert_nn::data::{split_shuffled, Dataset};
/// use wengert_tape::{Shape, Tensor};
/// let data = Dataset::new(Tensor::from_fn(Shape::matrix(10, 1), |i| i as f32), vec![0; 10])?;
/// let (train, test) = split_shuffled(&data, 0.3, 42)?;
/// assert_eq!((train.len(), test.len()), (7, 3));
/// let mut all: Vec<f32> = train.features().data().iter().chain(test.features().data()).copied().collect();
/// all.sort_by(f32::total_cmp);
/// assert_eq!(all, (0..10).map(|i| i as f32).collect::<Vec<_>>());
/// assert_eq!((train, test), split_shuffled(&data, 3_usize, 42)?);
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
pub fn split_shuffled(data: &Dataset, test: impl Into<TestSize>, seed: u64) -> Result<(Dataset, Dataset), DataError> {
    let test_count = test.into().count(data.len())?;
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let (test_indices, train_indices) = order.split_at(test_count);
    Ok((data.subset(train_indices), data.subset(test_indices)))
}

/// Splits `data` into `(train, test)` class by class, so both keep the class balance: with
/// `k = test.count(n)` test samples, class `c` of `n_c` samples gives `floor(n_c k / n)` or
/// one more to the test set (largest remainders first, so the total is exactly `k` and each
/// class is within 1 of its share `n_c k / n`). Which samples go where, and the order of both
/// sets, come from a ChaCha8 generator seeded by `seed`: the same seed gives the same split.
/// Data sorted by label (such as the MNIST 5k subset) comes out shuffled.
///
/// # Errors
///
/// [`DataError::InvalidTestSize`] if `test` is out of range (see [`TestSize::count`]).
///
/// # Examples
///
/// ```
/// use wengert_nn::data::{split_stratified, Dataset};
/// use wengert_tape::{Shape, Tensor};
/// // 6 samples of class 0, 3 of class 1, sorted by label.
/// let data = Dataset::new(Tensor::zeros(Shape::matrix(9, 2)), vec![0, 0, 0, 0, 0, 0, 1, 1, 1])?;
/// let (train, test) = split_stratified(&data, 3_usize, 7)?;
/// assert_eq!(test.class_counts(), vec![2, 1]); // 6 x 3/9 = 2 and 3 x 3/9 = 1
/// assert_eq!(train.class_counts(), vec![4, 2]);
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
pub fn split_stratified(data: &Dataset, test: impl Into<TestSize>, seed: u64) -> Result<(Dataset, Dataset), DataError> {
    let samples = data.len();
    let test_count = test.into().count(samples)?;
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.num_classes()];
    for (index, &label) in data.labels().iter().enumerate() {
        by_class[label].push(index);
    }
    let quotas = proportional_quotas(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), test_count);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train_indices = Vec::with_capacity(samples - test_count);
    let mut test_indices = Vec::with_capacity(test_count);
    for (members, quota) in by_class.iter_mut().zip(quotas) {
        members.shuffle(&mut rng);
        test_indices.extend_from_slice(&members[..quota]);
        train_indices.extend_from_slice(&members[quota..]);
    }
    train_indices.shuffle(&mut rng);
    test_indices.shuffle(&mut rng);
    Ok((data.subset(&train_indices), data.subset(&test_indices)))
}

/// Splits `total` (at most the sum of `sizes`) among groups in proportion to their sizes by
/// largest remainders: group `c` gets `floor(size_c total / n)` or one more, ties to the
/// lower group. Exact integer arithmetic.
fn proportional_quotas(sizes: &[usize], total: usize) -> Vec<usize> {
    let samples: usize = sizes.iter().sum();
    if samples == 0 {
        return vec![0; sizes.len()];
    }
    let (samples, total) = (samples as u128, total as u128);
    let mut quotas: Vec<usize> = sizes.iter().map(|&size| (size as u128 * total / samples) as usize).collect();
    let remainders: Vec<u128> = sizes.iter().map(|&size| size as u128 * total % samples).collect();
    let assigned: usize = quotas.iter().sum();
    let mut by_remainder: Vec<usize> = (0..sizes.len()).collect();
    by_remainder.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]).then(a.cmp(&b)));
    for &group in by_remainder.iter().take(total as usize - assigned) {
        quotas[group] += 1;
    }
    quotas
}
