//! Which rows of a data set a rank trains on.

use wengert_nn::data::Dataset;

/// The rows of a data set of `rows` rows that rank `rank` of `size` holds: every row `i`
/// with `i % size == rank` (strided, so that the shards' sizes differ by at most one and
/// each shard samples the whole file).
///
/// # Panics
///
/// If `size` is 0 or `rank` is not below it.
///
/// # Examples
///
/// ```
/// use wengert_dist::shard_indices;
/// assert_eq!(shard_indices(7, 1, 3), [1, 4]);
/// assert_eq!(shard_indices(7, 0, 3), [0, 3, 6]);
/// assert_eq!(shard_indices(7, 0, 1), [0, 1, 2, 3, 4, 5, 6]);
/// ```
#[track_caller]
pub fn shard_indices(rows: usize, rank: usize, size: usize) -> Vec<usize> {
    assert!(rank < size, "shard_indices: rank {rank} of {size}");
    (rank..rows).step_by(size).collect()
}

/// Rank `rank`'s shard of `data` ([`shard_indices`]): rows `i` with `i % size == rank`,
/// in their order.
///
/// # Panics
///
/// If `size` is 0 or `rank` is not below it.
///
/// # Examples
///
/// ```
/// use wengert_dist::shard;
/// use wengert_nn::data::Dataset;
/// use wengert_tape::Tensor;
/// let data = Dataset::new(Tensor::from_rows(&[[0.0], [1.0], [2.0], [3.0], [4.0]]), vec![0, 1, 0, 1, 0])?;
/// let odd = shard(&data, 1, 2);
/// assert_eq!(odd.features().data(), &[1.0, 3.0]);
/// assert_eq!(odd.labels(), &[1, 1]);
/// # Ok::<(), wengert_nn::data::DataError>(())
/// ```
#[track_caller]
pub fn shard(data: &Dataset, rank: usize, size: usize) -> Dataset {
    data.subset(&shard_indices(data.len(), rank, size))
}
