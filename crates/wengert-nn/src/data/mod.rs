//! Data sets for the trainers: a [`Dataset`] of f32 features and class labels, loaded from
//! CSV ([`load_csv`]) or MNIST IDX files ([`load_idx`]), gzip-compressed or not; train/test
//! splits with a fixed seed ([`split_shuffled`], [`split_stratified`]); and a [`Batcher`]
//! that serves an epoch's batches from reused buffers. Loading never panics on bad input:
//! it returns a [`DataError`] naming the file and the line, record or header field. Both
//! loaders accept a label by one rule, [`class_index`]: a whole number in `0..classes`.
//!
//! Import what you use from `wengert_nn::data`.
//!
//! # Examples
//!
//! ```
//! use rand::SeedableRng;
//! use wengert_nn::data::{split_stratified, Batcher, Dataset};
//! use wengert_tape::{Shape, Tensor};
//! // 20 samples of width 3, classes 0 and 1 in turn; grey levels 0-255.
//! let mut data = Dataset::new(Tensor::from_fn(Shape::matrix(20, 3), |i| (i % 256) as f32), (0..20).map(|i| i % 2).collect())?;
//! data.scale(1.0 / 255.0);
//! let (train, test) = split_stratified(&data, 0.2, 42)?;
//! assert_eq!((train.class_counts(), test.class_counts()), (vec![8, 8], vec![2, 2]));
//!
//! let mut batcher = Batcher::new(&train, 4);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! for _epoch in 0..2 {
//!     batcher.shuffle(&mut rng);
//!     let mut seen = 0;
//!     while let Some(batch) = batcher.next_batch(&train) {
//!         assert_eq!(batch.shape(), Shape::matrix(4, 3));
//!         seen += batch.rows();
//!     }
//!     assert_eq!(seen, 16);
//! }
//! # Ok::<(), wengert_nn::data::DataError>(())
//! ```

mod batch;
mod csv;
mod dataset;
mod error;
mod idx;
mod label;
mod read;
mod split;

pub use batch::{Batch, Batcher};
pub use csv::load_csv;
pub use dataset::Dataset;
pub use error::DataError;
pub use idx::{load_idx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC};
pub use label::{class_index, InvalidLabel, Position};
pub use split::{split_shuffled, split_stratified, TestSize};
