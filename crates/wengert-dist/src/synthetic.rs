//! A small made-up classification set, the same on every rank: for the tests, the probe
//! and the bench, which need data without files.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wengert_nn::data::Dataset;
use wengert_tape::{Shape, Tensor};

/// `rows` rows of `width` features in `classes` classes: row `i` is of class `i % classes`,
/// its features that class's centre (uniform in [-1, 1] per feature, drawn from `seed`)
/// plus uniform noise in [-0.5, 0.5]. The same arguments give the same set bit for bit.
///
/// # Panics
///
/// If `classes` is 0.
///
/// # Examples
///
/// ```
/// use wengert_dist::synthetic::blobs;
/// let data = blobs(10, 3, 2, 5);
/// assert_eq!((data.len(), data.feature_width()), (10, 3));
/// assert_eq!(&data.labels()[..4], &[0, 1, 0, 1]);
/// assert_eq!(data.features().data(), blobs(10, 3, 2, 5).features().data());
/// assert!(data.features().data().iter().all(|x| x.abs() <= 1.5));
/// ```
#[track_caller]
pub fn blobs(rows: usize, width: usize, classes: usize, seed: u64) -> Dataset {
    assert!(classes > 0, "synthetic::blobs: 0 classes");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..classes * width).map(|_| rng.random_range(-1.0..=1.0)).collect();
    let labels: Vec<usize> = (0..rows).map(|i| i % classes).collect();
    let features = labels
        .iter()
        .flat_map(|&class| centres[class * width..][..width].to_vec())
        .map(|centre| centre + rng.random_range(-0.5..=0.5))
        .collect();
    Dataset::new(Tensor::new(Shape::matrix(rows, width), features), labels).expect("one label per row")
}
