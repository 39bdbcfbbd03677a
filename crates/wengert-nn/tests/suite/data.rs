//! Data sets: `Dataset::new` rejects mismatched lengths with a typed error; the batcher
//! visits every sample exactly once per epoch for batch size 1 (stochastic), N (full batch)
//! and between (mini-batch, the notes' section 5), reuses one buffer and reproduces an order
//! from a seed; train/test splits are disjoint, complete and reproducible, and a stratified
//! split keeps each class within 1 of its proportion; the CSV and IDX loaders round-trip
//! small files written here (plain and gzipped, gzip recognised by its magic bytes), and
//! every kind of bad file is a typed error naming the file and the line, record or field,
//! never a panic; both loaders refuse a label outside `0..classes` alike. No backpropagation formula is involved: this is data handling only.

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use wengert_nn::data::{
    class_index, load_csv, load_idx, split_shuffled, split_stratified, Batcher, DataError, Dataset, InvalidLabel,
    Position, TestSize,
};
use wengert_tape::{Shape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

// ---------------------------------------------------------------------------------------
// Helpers, independent of the code under test.

/// Writes `bytes` to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path
}

/// `bytes` gzip-compressed with flate2.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("compress in memory");
    encoder.finish().expect("finish the gzip stream")
}

/// `n` samples of width `width` whose features all equal the sample's index (so a feature
/// identifies its row) and whose label is `index % classes`.
fn indexed(n: usize, width: usize, classes: usize) -> Dataset {
    let features = Tensor::from_fn(Shape::matrix(n, width), |i| (i / width.max(1)) as f32);
    Dataset::new(features, (0..n).map(|i| i % classes).collect()).expect("lengths agree")
}

/// The sample indices a data set built by `indexed` holds, read back from its features.
fn sample_ids(data: &Dataset) -> Vec<usize> {
    (0..data.len()).map(|row| data.row(row)[0] as usize).collect()
}

/// Runs one epoch and returns the batches' row counts and the sample ids seen, checking on
/// the way that each batch's features and labels belong to the same samples.
fn run_epoch(batcher: &mut Batcher, data: &Dataset, classes: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut sizes, mut seen) = (Vec::new(), Vec::new());
    while let Some(batch) = batcher.next_batch(data) {
        assert_eq!(batch.shape(), Shape::matrix(batch.rows(), data.feature_width()));
        assert_eq!(batch.features().len(), batch.rows() * data.feature_width());
        for row in 0..batch.rows() {
            let id = batch.row(row)[0] as usize;
            assert!(batch.row(row).iter().all(|&x| x as usize == id), "row {row} mixes samples");
            assert_eq!(batch.labels()[row], id % classes, "label of sample {id}");
            assert_eq!(batch.indices()[row], id, "index of sample {id}");
            seen.push(id);
        }
        sizes.push(batch.rows());
    }
    (sizes, seen)
}

/// An IDX images file: magic 0x00000803, count, rows, cols (big-endian), then the pixels.
fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 0x03];
    for value in [count, rows, cols] {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

/// An IDX labels file: magic 0x00000801, count (big-endian), then the labels.
fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 0x01];
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

/// Three 2 x 2 images and their labels: pixels 0..12 times 20, labels 7, 0, 9.
fn small_idx_pair() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..12).map(|i| i * 20).collect();
    (idx_images(3, 2, 2, &pixels), idx_labels(3, &[7, 0, 9]))
}

// ---------------------------------------------------------------------------------------
// Dataset

#[test]
fn dataset_new_rejects_more_rows_than_labels_with_a_typed_error() {
    let result = Dataset::new(Tensor::zeros(Shape::matrix(3, 2)), vec![0, 1]);
    let error = result.expect_err("3 rows, 2 labels");
    assert!(matches!(error, DataError::LengthMismatch { rows: 3, labels: 2 }), "{error:?}");
    assert_eq!(error.to_string(), "features have 3 rows but there are 2 labels");
}

#[test]
fn dataset_new_rejects_a_vector_of_features() {
    let error = Dataset::new(Tensor::from_slice(&[1.0_f32, 2.0]), vec![0]).expect_err("a vector is not [n x d]");
    assert!(matches!(error, DataError::NotAMatrix { shape } if shape == Shape::vector(2)), "{error:?}");
}

#[test]
fn dataset_reports_length_width_and_classes() -> TestResult {
    let data = Dataset::new(Tensor::zeros(Shape::matrix(4, 5)), vec![3, 1, 3, 0])?;
    assert_eq!((data.len(), data.is_empty(), data.feature_width()), (4, false, 5));
    assert_eq!(data.num_classes(), 4); // max label 3, plus one
    assert_eq!(data.class_counts(), vec![1, 1, 0, 2]);
    let empty = Dataset::new(Tensor::zeros(Shape::matrix(0, 5)), vec![])?;
    assert_eq!((empty.len(), empty.is_empty(), empty.num_classes()), (0, true, 0));
    Ok(())
}

#[test]
fn subset_copies_the_chosen_rows_in_the_given_order() {
    let data = indexed(6, 3, 4);
    let picked = data.subset(&[5, 0, 5, 2]);
    assert_eq!(sample_ids(&picked), [5, 0, 5, 2]);
    assert_eq!(picked.labels(), &[1, 0, 1, 2]); // index % 4
    assert_eq!(picked.features().shape(), Shape::matrix(4, 3));
}

#[test]
fn scale_by_one_over_255_maps_grey_levels_to_the_unit_interval() -> TestResult {
    let levels = [0.0_f32, 51.0, 127.5, 255.0];
    let mut data = Dataset::new(Tensor::new(Shape::matrix(1, 4), levels.to_vec()), vec![0])?;
    data.scale(1.0 / 255.0);
    for (&scaled, &level) in data.features().data().iter().zip(&levels) {
        assert!((scaled - level / 255.0).abs() <= 1e-7, "{level} scaled to {scaled}");
    }
    assert_eq!(data.features().data()[0], 0.0);
    assert!((data.features().data()[3] - 1.0).abs() <= 1e-7);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Batching: stochastic, mini-batch and full batch

#[test]
fn stochastic_batches_of_one_visit_every_sample_once() {
    let data = indexed(13, 4, 3);
    let mut batcher = Batcher::new(&data, 1);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(3));
    let (sizes, mut seen) = run_epoch(&mut batcher, &data, 3);
    assert_eq!(sizes, vec![1; 13]);
    seen.sort_unstable();
    assert_eq!(seen, (0..13).collect::<Vec<_>>());
}

#[test]
fn full_batch_is_one_batch_of_every_sample() {
    let data = indexed(13, 4, 3);
    for batch_size in [13, 14, 1000] {
        let mut batcher = Batcher::new(&data, batch_size);
        batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(3));
        let (sizes, mut seen) = run_epoch(&mut batcher, &data, 3);
        assert_eq!(sizes, [13], "batch size {batch_size}");
        seen.sort_unstable();
        assert_eq!(seen, (0..13).collect::<Vec<_>>());
    }
}

#[test]
fn mini_batches_visit_every_sample_once_and_the_last_holds_the_rest() {
    let data = indexed(13, 4, 3);
    let mut batcher = Batcher::new(&data, 5);
    assert_eq!(batcher.batches_per_epoch(), 3);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(3));
    let (sizes, mut seen) = run_epoch(&mut batcher, &data, 3);
    assert_eq!(sizes, [5, 5, 3]); // 13 = 5 + 5 + 3
    seen.sort_unstable();
    assert_eq!(seen, (0..13).collect::<Vec<_>>());
}

#[test]
fn in_order_epoch_serves_samples_in_the_data_sets_order() {
    let data = indexed(7, 2, 2);
    let mut batcher = Batcher::new(&data, 3);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(1));
    run_epoch(&mut batcher, &data, 2);
    batcher.in_order();
    let (sizes, seen) = run_epoch(&mut batcher, &data, 2);
    assert_eq!((sizes, seen), (vec![3, 3, 1], (0..7).collect::<Vec<_>>()));
}

#[test]
fn drop_last_skips_the_short_batch() {
    let data = indexed(13, 2, 3);
    let mut batcher = Batcher::new(&data, 5).drop_last(true);
    assert_eq!(batcher.batches_per_epoch(), 2);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(9));
    let (sizes, seen) = run_epoch(&mut batcher, &data, 3);
    assert_eq!(sizes, [5, 5]);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 10, "10 distinct samples: {seen:?}");
    // Exactly divisible: nothing is dropped.
    let mut batcher = Batcher::new(&data, 13).drop_last(true);
    assert_eq!(run_epoch(&mut batcher, &data, 3).0, [13]);
}

#[test]
fn same_seed_gives_the_same_order_whatever_came_before() {
    let data = indexed(50, 1, 5);
    let mut batcher = Batcher::new(&data, 7);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(2024));
    let first = run_epoch(&mut batcher, &data, 5).1;
    // Two more epochs with other seeds, then the first seed again.
    for seed in [1, 2] {
        batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        run_epoch(&mut batcher, &data, 5);
    }
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(2024));
    assert_eq!(run_epoch(&mut batcher, &data, 5).1, first);
    // A fresh batcher agrees too.
    let mut fresh = Batcher::new(&data, 7);
    fresh.shuffle(&mut ChaCha8Rng::seed_from_u64(2024));
    assert_eq!(run_epoch(&mut fresh, &data, 5).1, first);
}

#[test]
fn shuffled_orders_differ_between_seeds_and_from_the_identity() {
    let data = indexed(50, 1, 5);
    let mut batcher = Batcher::new(&data, 50);
    let mut orders = Vec::new();
    for seed in [0, 1] {
        batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        orders.push(run_epoch(&mut batcher, &data, 5).1);
    }
    let identity: Vec<usize> = (0..50).collect();
    assert_ne!(orders[0], identity);
    assert_ne!(orders[1], identity);
    assert_ne!(orders[0], orders[1]);
}

#[test]
fn batches_reuse_one_feature_buffer() {
    let data = indexed(20, 8, 2);
    let mut batcher = Batcher::new(&data, 6);
    let mut addresses = HashSet::new();
    for seed in 0..3 {
        batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        while let Some(batch) = batcher.next_batch(&data) {
            addresses.insert((batch.features().as_ptr() as usize, batch.labels().as_ptr() as usize));
        }
    }
    assert_eq!(addresses.len(), 1, "every batch of every epoch in the same buffers");
}

#[test]
fn batch_to_tensor_equals_the_subset_of_its_indices() {
    let data = indexed(9, 3, 4);
    let mut batcher = Batcher::new(&data, 4);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(5));
    while let Some(batch) = batcher.next_batch(&data) {
        let expected = data.subset(batch.indices());
        assert_eq!(batch.to_tensor(), *expected.features());
        assert_eq!(batch.labels(), expected.labels());
    }
}

#[test]
fn empty_data_set_yields_no_batch() -> TestResult {
    let data = Dataset::new(Tensor::zeros(Shape::matrix(0, 3)), vec![])?;
    let mut batcher = Batcher::new(&data, 4);
    batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    assert!(batcher.next_batch(&data).is_none());
    assert_eq!(batcher.batches_per_epoch(), 0);
    Ok(())
}

#[test]
#[should_panic(expected = "batch_size must be at least 1")]
fn batch_size_zero_panics() {
    let _ = Batcher::new(&indexed(3, 1, 1), 0);
}

#[test]
#[should_panic(expected = "the batcher was made for 5 samples of width 2, the data set has 6 of width 2")]
fn next_batch_on_another_data_set_panics_naming_both_sizes() {
    let mut batcher = Batcher::new(&indexed(5, 2, 1), 2);
    let _ = batcher.next_batch(&indexed(6, 2, 1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_batch_size_visits_each_sample_exactly_once(n in 1_usize..60, batch_size in 1_usize..70, seed: u64) {
        let data = indexed(n, 2, 3);
        let mut batcher = Batcher::new(&data, batch_size);
        batcher.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (sizes, mut seen) = run_epoch(&mut batcher, &data, 3);
        let full = n / batch_size;
        let rest = n % batch_size;
        let mut expected_sizes = vec![batch_size; full];
        if rest > 0 {
            expected_sizes.push(rest);
        }
        prop_assert_eq!(&sizes, &expected_sizes, "n {}, batch size {}", n, batch_size);
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n {}, batch size {}", n, batch_size);
    }
}

// ---------------------------------------------------------------------------------------
// Train/test splits

/// Checks that `(train, test)` hold every sample of `indexed(n, ..)` exactly once.
fn assert_disjoint_and_complete((train, test): &(Dataset, Dataset), n: usize) {
    let train = sample_ids(train);
    let test = sample_ids(test);
    let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "train {train:?}, test {test:?}");
}

#[test]
fn shuffled_split_is_disjoint_complete_and_sized_as_asked() -> TestResult {
    let data = indexed(100, 3, 10);
    let by_fraction = split_shuffled(&data, 0.25, 11)?;
    assert_eq!((by_fraction.0.len(), by_fraction.1.len()), (75, 25));
    assert_disjoint_and_complete(&by_fraction, 100);
    let by_count = split_shuffled(&data, 17_usize, 11)?;
    assert_eq!((by_count.0.len(), by_count.1.len()), (83, 17));
    assert_disjoint_and_complete(&by_count, 100);
    // The labels travel with their samples.
    for part in [&by_count.0, &by_count.1] {
        for (row, &label) in part.labels().iter().enumerate() {
            assert_eq!(label, part.row(row)[0] as usize % 10);
        }
    }
    Ok(())
}

#[test]
fn shuffled_split_is_reproducible_and_depends_on_the_seed() -> TestResult {
    let data = indexed(100, 3, 10);
    let (first_train, first_test) = split_shuffled(&data, TestSize::Fraction(0.2), 5)?;
    let (again_train, again_test) = split_shuffled(&data, TestSize::Fraction(0.2), 5)?;
    assert_eq!((&first_train, &first_test), (&again_train, &again_test));
    let (_, other_test) = split_shuffled(&data, TestSize::Fraction(0.2), 6)?;
    assert_ne!(sample_ids(&first_test), sample_ids(&other_test));
    // Not simply the first or last rows.
    let test = sample_ids(&first_test);
    assert_ne!(test, (0..20).collect::<Vec<_>>());
    assert_ne!(test, (80..100).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn split_fractions_zero_and_one_put_everything_on_one_side() -> TestResult {
    let data = indexed(10, 1, 2);
    for (train, test) in [split_shuffled(&data, 0.0, 1)?, split_stratified(&data, 0_usize, 1)?] {
        assert_eq!((train.len(), test.len()), (10, 0));
    }
    for (train, test) in [split_shuffled(&data, 10_usize, 1)?, split_stratified(&data, 1.0, 1)?] {
        assert_eq!((train.len(), test.len()), (0, 10));
    }
    Ok(())
}

#[test]
fn test_fraction_outside_zero_to_one_is_an_invalid_test_size() {
    let data = indexed(4, 1, 1);
    for fraction in [1.5, -0.1, f64::NAN] {
        let error = split_shuffled(&data, fraction, 0).expect_err("not a fraction");
        assert!(matches!(error, DataError::InvalidTestSize { test: TestSize::Fraction(_), samples: 4 }), "{error:?}");
    }
    let error = split_stratified(&data, 1.5, 0).expect_err("not a fraction");
    assert_eq!(
        error.to_string(),
        "a test fraction 1.5 does not fit 4 samples (a fraction must be in [0, 1], a count at most 4)"
    );
}

#[test]
fn test_count_above_the_size_is_an_invalid_test_size() {
    let data = indexed(4, 1, 1);
    for result in [split_shuffled(&data, 5_usize, 0), split_stratified(&data, 5_usize, 0)] {
        let error = result.expect_err("5 of 4 samples");
        assert!(matches!(error, DataError::InvalidTestSize { test: TestSize::Count(5), samples: 4 }), "{error:?}");
    }
}

#[test]
fn stratified_split_of_label_sorted_data_keeps_every_class_and_shuffles() -> TestResult {
    // Sorted by label like the MNIST 5k subset: 30 of class 0, then 20 of 1, then 10 of 2.
    let labels: Vec<usize> = [(0, 30), (1, 20), (2, 10)].iter().flat_map(|&(c, k)| vec![c; k]).collect();
    let data = Dataset::new(Tensor::from_fn(Shape::matrix(60, 1), |i| i as f32), labels)?;
    let (train, test) = split_stratified(&data, 0.1, 3)?;
    assert_eq!(test.class_counts(), vec![3, 2, 1]); // 10% of 30, 20, 10
    assert_eq!(train.class_counts(), vec![27, 18, 9]);
    let train_labels = train.labels();
    assert!(train_labels.windows(2).any(|pair| pair[0] > pair[1]), "train set still sorted: {train_labels:?}");
    assert_eq!((train, test), split_stratified(&data, 0.1, 3)?);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn stratified_split_keeps_each_class_within_one_of_its_share(
        class_sizes in prop::collection::vec(0_usize..40, 1..8),
        fraction in 0.0_f64..=1.0,
        seed: u64,
    ) {
        let labels: Vec<usize> = class_sizes.iter().enumerate().flat_map(|(c, &k)| vec![c; k]).collect();
        let n = labels.len();
        let data = Dataset::new(Tensor::from_fn(Shape::matrix(n, 1), |i| i as f32), labels).expect("lengths agree");
        let split = split_stratified(&data, fraction, seed).expect("a fraction in [0, 1]");
        let test_total = (fraction * n as f64).round() as usize;
        prop_assert_eq!(split.1.len(), test_total, "sizes {:?}, fraction {}", &class_sizes, fraction);
        // Every class within 1 of its share of the test set.
        let mut test_counts = vec![0_usize; class_sizes.len()];
        for &label in split.1.labels() {
            test_counts[label] += 1;
        }
        for (c, (&size, &count)) in class_sizes.iter().zip(&test_counts).enumerate() {
            let share = if n == 0 { 0.0 } else { size as f64 * test_total as f64 / n as f64 };
            prop_assert!((count as f64 - share).abs() < 1.0,
                "class {} of {}: {} in test, share {} (sizes {:?}, fraction {})", c, size, count, share, &class_sizes, fraction);
        }
        // Disjoint and complete, labels kept with their samples.
        let mut ids: Vec<usize> = sample_ids(&split.0).into_iter().chain(sample_ids(&split.1)).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..n).collect::<Vec<_>>());
        for part in [&split.0, &split.1] {
            for (row, &label) in part.labels().iter().enumerate() {
                prop_assert_eq!(label, data.labels()[part.row(row)[0] as usize]);
            }
        }
        prop_assert_eq!(&split, &split_stratified(&data, fraction, seed).expect("the same split"));
    }
}

// ---------------------------------------------------------------------------------------
// CSV: round trips

const SMALL_CSV: &str = "0,1.5,-2,3\n16,0.25,1e2,0\n7,8,9,9\n";

fn assert_small_csv(data: &Dataset) {
    assert_eq!(data.features().shape(), Shape::matrix(3, 3));
    assert_eq!(data.features().data(), &[0.0, 1.5, -2.0, 16.0, 0.25, 100.0, 7.0, 8.0, 9.0]);
    assert_eq!(data.labels(), &[3, 0, 9]);
}

#[test]
fn csv_round_trip_gives_features_then_the_last_column_as_label() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert_small_csv(&load_csv(write(dir.path(), "small.csv", SMALL_CSV.as_bytes()), 10)?);
    Ok(())
}

#[test]
fn gzipped_csv_round_trip_gives_the_same_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert_small_csv(&load_csv(write(dir.path(), "small.csv.gz", &gzip(SMALL_CSV.as_bytes())), 10)?);
    Ok(())
}

#[test]
fn gzip_is_recognised_by_its_magic_bytes_not_the_file_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert_small_csv(&load_csv(write(dir.path(), "compressed.csv", &gzip(SMALL_CSV.as_bytes())), 10)?);
    assert_small_csv(&load_csv(write(dir.path(), "plain.csv.gz", SMALL_CSV.as_bytes()), 10)?);
    Ok(())
}

#[test]
fn csv_accepts_crlf_spaces_blank_lines_and_whole_float_labels() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = "0, 1.5 ,-2,3\r\n\r\n16,0.25,1e2, 0.0\r\n7,8,9,9\r\n\n  \n";
    assert_small_csv(&load_csv(write(dir.path(), "messy.csv", text.as_bytes()), 10)?);
    Ok(())
}

#[test]
fn csv_without_a_final_newline_loads_its_last_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert_small_csv(&load_csv(write(dir.path(), "small.csv", SMALL_CSV.trim_end().as_bytes()), 10)?);
    Ok(())
}

#[test]
fn csv_round_trip_of_a_multi_member_gzip_stream() -> TestResult {
    // `cat a.gz b.gz` is a valid gzip file holding both parts.
    let dir = tempfile::tempdir()?;
    let (head, tail) = SMALL_CSV.split_at(SMALL_CSV.find("16,").expect("second row"));
    let mut bytes = gzip(head.as_bytes());
    bytes.extend(gzip(tail.as_bytes()));
    assert_small_csv(&load_csv(write(dir.path(), "two-members.csv.gz", &bytes), 10)?);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn csv_round_trips_any_finite_f32_written_with_display(
        rows in prop::collection::vec((prop::collection::vec(-1e6_f32..1e6, 4), 0_usize..10), 1..20),
        compress: bool,
    ) {
        let mut text = String::new();
        for (features, label) in &rows {
            for value in features {
                text.push_str(&format!("{value},"));
            }
            text.push_str(&format!("{label}\n"));
        }
        let bytes = if compress { gzip(text.as_bytes()) } else { text.clone().into_bytes() };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = load_csv(write(dir.path(), "random.csv", &bytes), 10).expect("a valid file");
        let expected: Vec<f32> = rows.iter().flat_map(|(features, _)| features.iter().copied()).collect();
        let labels: Vec<usize> = rows.iter().map(|(_, label)| *label).collect();
        prop_assert_eq!(data.features().data(), &expected[..], "text {:?}", text);
        prop_assert_eq!(data.labels(), &labels[..], "text {:?}", text);
    }
}

// ---------------------------------------------------------------------------------------
// CSV: bad files

#[test]
fn truncated_gzip_is_a_gzip_error_naming_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = SMALL_CSV.repeat(20);
    let compressed = gzip(text.as_bytes());
    let path = write(dir.path(), "cut.csv.gz", &compressed[..compressed.len() / 2]);
    let error = load_csv(&path, 10).expect_err("half a gzip stream");
    assert!(matches!(&error, DataError::Gzip { path: p, .. } if *p == path), "{error:?}");
    assert!(error.to_string().starts_with(&format!("{}: broken gzip stream", path.display())), "{error}");
    Ok(())
}

#[test]
fn gzip_with_a_wrong_checksum_is_a_gzip_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut compressed = gzip(SMALL_CSV.as_bytes());
    let crc_start = compressed.len() - 8; // trailer: CRC32 then ISIZE, 4 bytes each
    compressed[crc_start] ^= 0xff;
    let error = load_csv(write(dir.path(), "crc.csv.gz", &compressed), 10).expect_err("bad CRC");
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    Ok(())
}

#[test]
fn row_with_a_missing_column_names_the_line_and_both_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write(dir.path(), "digits.csv", b"1,2,3,4\n\n5,6,7\n");
    let error = load_csv(&path, 10).expect_err("line 3 is short");
    assert!(matches!(error, DataError::WrongColumnCount { line: 3, expected: 4, found: 3, .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("{} line 3: expected 4 columns, found 3", path.display()));
    Ok(())
}

#[test]
fn row_with_an_extra_column_is_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let error = load_csv(write(dir.path(), "extra.csv", b"1,2,3\n4,5,6,7\n"), 10).expect_err("line 2 is long");
    assert!(matches!(error, DataError::WrongColumnCount { line: 2, expected: 3, found: 4, .. }), "{error:?}");
    Ok(())
}

#[test]
fn cell_that_is_not_a_number_names_line_column_and_text() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write(dir.path(), "text.csv", b"1,2,3\n4,five,6\n");
    let error = load_csv(&path, 10).expect_err("'five' is not a number");
    assert!(matches!(&error, DataError::NotANumber { line: 2, column: 2, text, .. } if text == "five"), "{error:?}");
    assert_eq!(error.to_string(), format!("{} line 2, column 2: \"five\" is not a finite number", path.display()));
    Ok(())
}

#[test]
fn empty_cell_nan_and_infinity_are_not_numbers() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (row, column) in [("1,,3", 2), ("NaN,2,3", 1), ("1,inf,3", 2), ("1e39,2,3", 1), ("1,2,", 3)] {
        let error = load_csv(write(dir.path(), "bad.csv", format!("0,0,0\n{row}\n").as_bytes()), 10)
            .expect_err("not a finite number");
        assert!(
            matches!(error, DataError::NotANumber { line: 2, column: c, .. } if c == column),
            "row {row:?}: {error:?}"
        );
    }
    Ok(())
}

#[test]
fn label_outside_zero_to_nine_is_out_of_range() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write(dir.path(), "labels.csv", b"1,2,9\n3,4,10\n");
    let error = load_csv(&path, 10).expect_err("label 10 with 10 classes");
    assert!(
        matches!(error, DataError::LabelOutOfRange { at: Position::Line(2), label, classes: 10, .. } if label == 10.0),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("{} line 2: label 10 is out of range for 10 classes (0 to 9)", path.display())
    );
    Ok(())
}

#[test]
fn negative_label_is_out_of_range() -> TestResult {
    let dir = tempfile::tempdir()?;
    let error = load_csv(write(dir.path(), "negative.csv", b"1,2,-1\n"), 10).expect_err("label -1");
    assert!(
        matches!(error, DataError::LabelOutOfRange { at: Position::Line(1), label, .. } if label == -1.0),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn non_integer_label_is_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = write(dir.path(), "half.csv", b"1,2,3\n4,5,2.5\n");
    let error = load_csv(&path, 10).expect_err("label 2.5");
    assert!(
        matches!(&error, DataError::LabelNotAnInteger { at: Position::Line(2), text, .. } if text == "2.5"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("{} line 2: label \"2.5\" is not a whole number", path.display()));
    Ok(())
}

#[test]
fn label_that_is_not_a_number_names_the_last_column() -> TestResult {
    let dir = tempfile::tempdir()?;
    let error = load_csv(write(dir.path(), "word.csv", b"1,2,seven\n"), 10).expect_err("label 'seven'");
    assert!(matches!(&error, DataError::NotANumber { line: 1, column: 3, text, .. } if text == "seven"), "{error:?}");
    Ok(())
}

#[test]
fn empty_csv_files_are_empty_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (name, bytes) in [("empty.csv", Vec::new()), ("blank.csv", b"\n \r\n\n".to_vec()), ("empty.csv.gz", gzip(b""))]
    {
        let path = write(dir.path(), name, &bytes);
        let error = load_csv(&path, 10).expect_err("no rows");
        assert!(matches!(&error, DataError::Empty { path: p } if *p == path), "{name}: {error:?}");
        assert_eq!(error.to_string(), format!("{}: the file holds no samples", path.display()));
    }
    Ok(())
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("absent.csv");
    let error = load_csv(&path, 10).expect_err("no such file");
    assert!(
        matches!(&error, DataError::Io { path: p, source } if *p == path && source.kind() == std::io::ErrorKind::NotFound),
        "{error:?}"
    );
    assert!(error.to_string().starts_with(&path.display().to_string()), "{error}");
    Ok(())
}

#[test]
fn invalid_utf8_cell_is_not_a_number() -> TestResult {
    let dir = tempfile::tempdir()?;
    let error = load_csv(write(dir.path(), "binary.csv", b"1,\xff\xfe,3\n"), 10).expect_err("bytes 0xff 0xfe");
    assert!(matches!(error, DataError::NotANumber { line: 1, column: 2, .. }), "{error:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// IDX: round trips

fn assert_small_idx(data: &Dataset) {
    assert_eq!(data.features().shape(), Shape::matrix(3, 4)); // 3 images of 2 x 2
    let expected: Vec<f32> = (0..12).map(|i| (i * 20) as f32).collect();
    assert_eq!(data.features().data(), &expected[..]);
    assert_eq!(data.labels(), &[7, 0, 9]);
}

#[test]
fn idx_round_trip_gives_pixels_row_by_row_and_labels() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, labels) = small_idx_pair();
    let data =
        load_idx(write(dir.path(), "images-idx3-ubyte", &images), write(dir.path(), "labels-idx1-ubyte", &labels), 10)?;
    assert_small_idx(&data);
    Ok(())
}

#[test]
fn gzipped_idx_round_trip_gives_the_same_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, labels) = small_idx_pair();
    let gz_images = write(dir.path(), "images-idx3-ubyte.gz", &gzip(&images));
    let gz_labels = write(dir.path(), "labels-idx1-ubyte.gz", &gzip(&labels));
    assert_small_idx(&load_idx(&gz_images, &gz_labels, 10)?);
    // One compressed, one not.
    assert_small_idx(&load_idx(&gz_images, write(dir.path(), "labels", &labels), 10)?);
    Ok(())
}

#[test]
fn idx_pixels_scale_to_the_unit_interval() -> TestResult {
    let dir = tempfile::tempdir()?;
    let images = write(dir.path(), "images", &idx_images(1, 1, 3, &[0, 255, 51]));
    let labels = write(dir.path(), "labels", &idx_labels(1, &[4]));
    let mut data = load_idx(images, labels, 10)?;
    data.scale(1.0 / 255.0);
    let expected = [0.0_f32, 1.0, 0.2];
    for (&got, &want) in data.features().data().iter().zip(&expected) {
        assert!((got - want).abs() <= 1e-7, "{got} vs {want}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// IDX: bad files

#[test]
fn idx_images_with_a_wrong_magic_number_is_bad_magic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut images, labels) = small_idx_pair();
    images[3] = 0x02; // 2 dimensions instead of 3
    let images = write(dir.path(), "images", &images);
    let error = load_idx(&images, write(dir.path(), "labels", &labels), 10).expect_err("magic 0x802");
    assert!(
        matches!(&error, DataError::BadMagic { path, expected: 0x803, found: 0x802, .. } if *path == images),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with(&format!("{}: magic number 0x00000802, expected 0x00000803", images.display())),
        "{error}"
    );
    Ok(())
}

#[test]
fn idx_labels_with_a_wrong_magic_number_is_bad_magic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, mut labels) = small_idx_pair();
    labels[2] = 0x0d; // f32 instead of u8
    let labels = write(dir.path(), "labels", &labels);
    let error = load_idx(write(dir.path(), "images", &images), &labels, 10).expect_err("magic 0xd01");
    assert!(
        matches!(&error, DataError::BadMagic { path, expected: 0x801, found: 0xd01, .. } if *path == labels),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn idx_files_swapped_are_bad_magic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, labels) = small_idx_pair();
    let error = load_idx(write(dir.path(), "labels", &labels), write(dir.path(), "images", &images), 10)
        .expect_err("labels given as images");
    assert!(matches!(error, DataError::BadMagic { expected: 0x803, found: 0x801, .. }), "{error:?}");
    Ok(())
}

#[test]
fn idx_images_shorter_than_the_header_promises_is_a_short_read_of_pixels() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The header promises 4 images of 2 x 2 (16 pixel bytes) but 12 are present.
    let pixels: Vec<u8> = (0..12).collect();
    let images = write(dir.path(), "images", &idx_images(4, 2, 2, &pixels));
    let error = load_idx(&images, write(dir.path(), "labels", &idx_labels(4, &[0, 1, 2, 3])), 10).expect_err("short");
    assert!(
        matches!(&error, DataError::ShortRead { path, field: "pixels", expected: 32, found: 28 } if *path == images),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("{}: pixels needs 32 bytes, the file has 28", images.display()));
    Ok(())
}

#[test]
fn idx_labels_shorter_than_the_header_promises_is_a_short_read_of_labels() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, _) = small_idx_pair();
    let labels = write(dir.path(), "labels", &idx_labels(3, &[7, 0]));
    let error = load_idx(write(dir.path(), "images", &images), &labels, 10).expect_err("2 of 3 labels");
    assert!(matches!(error, DataError::ShortRead { field: "labels", expected: 11, found: 10, .. }), "{error:?}");
    Ok(())
}

#[test]
fn idx_header_cut_inside_a_field_names_that_field() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, labels) = small_idx_pair();
    let labels = write(dir.path(), "labels", &labels);
    // Cut after 2, 6, 10 and 14 bytes: inside magic, count, rows and cols.
    for (cut, field, expected) in [(2, "magic", 4), (6, "count", 8), (10, "rows", 12), (14, "cols", 16)] {
        let images = write(dir.path(), "images", &images[..cut]);
        let error = load_idx(&images, &labels, 10).expect_err("a cut header");
        assert!(
            matches!(&error, DataError::ShortRead { field: f, expected: e, found, .. }
                if *f == field && *e == expected && *found == cut as u64),
            "cut at {cut}: {error:?}"
        );
    }
    Ok(())
}

#[test]
fn idx_header_promising_huge_sizes_is_a_short_read_without_allocating() -> TestResult {
    let dir = tempfile::tempdir()?;
    let images = write(dir.path(), "images", &idx_images(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]));
    let labels = write(dir.path(), "labels", &idx_labels(u32::MAX, &[1]));
    let error = load_idx(&images, &labels, 10).expect_err("a lying header");
    assert!(matches!(error, DataError::ShortRead { field: "pixels", found: 19, .. }), "{error:?}");
    Ok(())
}

#[test]
fn idx_count_mismatch_between_images_and_labels_names_both_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, _) = small_idx_pair();
    let images = write(dir.path(), "images", &images);
    let labels = write(dir.path(), "labels", &idx_labels(2, &[7, 0]));
    let error = load_idx(&images, &labels, 10).expect_err("3 images, 2 labels");
    assert!(matches!(error, DataError::CountMismatch { images: 3, labels: 2, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("{} holds 3 images but {} holds 2 labels", images.display(), labels.display())
    );
    Ok(())
}

#[test]
fn idx_trailing_bytes_after_the_promised_data_are_rejected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut images, mut labels) = small_idx_pair();
    let good_labels = write(dir.path(), "good-labels", &labels);
    images.extend_from_slice(&[0, 0]);
    let long_images = write(dir.path(), "images", &images);
    let error = load_idx(&long_images, &good_labels, 10).expect_err("2 extra image bytes");
    assert!(matches!(error, DataError::TrailingBytes { expected: 28, extra: 2, .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("{}: 2 bytes after the 28 the header promises", long_images.display()));

    images.truncate(images.len() - 2);
    labels.push(5);
    let error = load_idx(write(dir.path(), "good-images", &images), write(dir.path(), "labels", &labels), 10)
        .expect_err("1 extra label byte");
    assert!(matches!(error, DataError::TrailingBytes { expected: 11, extra: 1, .. }), "{error:?}");
    Ok(())
}

#[test]
fn idx_empty_file_and_zero_count_are_empty_errors() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, labels) = small_idx_pair();
    let empty = write(dir.path(), "empty", b"");
    let error = load_idx(&empty, write(dir.path(), "labels", &labels), 10).expect_err("empty images file");
    assert!(matches!(&error, DataError::Empty { path } if *path == empty), "{error:?}");
    let images = write(dir.path(), "zero-images", &idx_images(0, 28, 28, &[]));
    let error = load_idx(&images, write(dir.path(), "zero-labels", &idx_labels(0, &[])), 10).expect_err("no samples");
    assert!(matches!(&error, DataError::Empty { path } if *path == images), "{error:?}");
    Ok(())
}

#[test]
fn idx_truncated_gzip_is_a_gzip_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (images, labels) = small_idx_pair();
    let compressed = gzip(&images);
    let images = write(dir.path(), "images.gz", &compressed[..compressed.len() - 5]);
    let error = load_idx(&images, write(dir.path(), "labels", &labels), 10).expect_err("cut gzip");
    assert!(matches!(&error, DataError::Gzip { path, .. } if *path == images), "{error:?}");
    Ok(())
}

#[test]
fn idx_label_of_eleven_names_the_labels_file_and_the_record() -> TestResult {
    // Three images labelled 7, 11, 11: with 10 classes, record 2 is the first bad one.
    let dir = tempfile::tempdir()?;
    let pixels: Vec<u8> = (0..12).collect();
    let images = write(dir.path(), "images", &idx_images(3, 2, 2, &pixels));
    let labels = write(dir.path(), "labels-idx1-ubyte", &idx_labels(3, &[7, 11, 11]));
    let error = load_idx(&images, &labels, 10).expect_err("label 11 with 10 classes");
    assert!(
        matches!(&error, DataError::LabelOutOfRange { path, at: Position::Record(2), label, classes: 10 }
            if path == &labels && *label == 11.0),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("{} record 2: label 11 is out of range for 10 classes (0 to 9)", labels.display())
    );
    Ok(())
}

#[test]
fn idx_labels_all_eleven_are_refused_at_the_first_record() -> TestResult {
    // The users' case: a labels file whose every label is 11 must not train.
    let dir = tempfile::tempdir()?;
    let images = write(dir.path(), "images", &idx_images(5, 1, 1, &[0, 1, 2, 3, 4]));
    let labels = write(dir.path(), "labels", &idx_labels(5, &[11; 5]));
    let error = load_idx(&images, &labels, 10).expect_err("every label 11");
    assert!(matches!(error, DataError::LabelOutOfRange { at: Position::Record(1), .. }), "{error:?}");
    // With 12 classes the same files are valid.
    assert_eq!(load_idx(&images, &labels, 12)?.labels(), &[11; 5]);
    Ok(())
}

#[test]
fn csv_and_idx_refuse_the_same_labels_with_the_same_variant() -> TestResult {
    // For every label byte 0..=255 and a few class counts, the two loaders accept or refuse
    // alike, and refuse with LabelOutOfRange holding the same label and class count.
    let dir = tempfile::tempdir()?;
    let images = write(dir.path(), "images", &idx_images(1, 1, 2, &[3, 4]));
    for classes in [0, 1, 10, 255] {
        for label in [0_u8, 1, 9, 10, 11, 254, 255] {
            let labels = write(dir.path(), "labels", &idx_labels(1, &[label]));
            let csv = write(dir.path(), "one.csv", format!("3,4,{label}\n").as_bytes());
            let from_idx = load_idx(&images, &labels, classes);
            let from_csv = load_csv(&csv, classes);
            let in_range = usize::from(label) < classes;
            match (from_idx, from_csv) {
                (Ok(a), Ok(b)) => {
                    assert!(in_range, "label {label} loaded with {classes} classes");
                    assert_eq!((a.labels(), b.labels()), (&[usize::from(label)][..], &[usize::from(label)][..]));
                }
                (
                    Err(DataError::LabelOutOfRange { at: Position::Record(1), label: a, classes: ca, .. }),
                    Err(DataError::LabelOutOfRange { at: Position::Line(1), label: b, classes: cb, .. }),
                ) => {
                    assert!(!in_range, "label {label} refused with {classes} classes");
                    assert_eq!((a, ca), (f64::from(label), classes));
                    assert_eq!((b, cb), (f64::from(label), classes));
                }
                (idx, csv) => panic!("label {label}, {classes} classes: IDX gave {idx:?}, CSV gave {csv:?}"),
            }
        }
    }
    Ok(())
}

#[test]
fn class_index_accepts_exactly_the_whole_numbers_below_the_class_count() {
    for classes in [0_usize, 1, 2, 10] {
        for whole in -3_i32..14 {
            let expected = usize::try_from(whole).ok().filter(|&c| c < classes).ok_or(InvalidLabel::OutOfRange);
            assert_eq!(class_index(f64::from(whole), classes), expected, "{whole} with {classes} classes");
        }
    }
    for not_whole in [0.5, -0.5, 9.999, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(class_index(not_whole, 10), Err(InvalidLabel::NotWhole), "{not_whole}");
    }
    // Large whole numbers stay out of range rather than wrapping.
    assert_eq!(class_index(2f64.powi(64), usize::MAX), Err(InvalidLabel::OutOfRange));
}

// ---------------------------------------------------------------------------------------
// Bad input never panics

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic_either_loader(bytes in prop::collection::vec(any::<u8>(), 0..64), compress: bool) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let bytes = if compress { gzip(&bytes) } else { bytes };
        let path = write(dir.path(), "fuzz", &bytes);
        let _ = load_csv(&path, 10);
        let (images, labels) = small_idx_pair();
        let _ = load_idx(&path, write(dir.path(), "labels", &labels), 10);
        let _ = load_idx(write(dir.path(), "images", &images), &path, 10);
    }

    #[test]
    fn every_truncation_of_a_valid_idx_file_is_an_error(cut in 0_usize..28) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (images, labels) = small_idx_pair();
        let images_path = write(dir.path(), "images", &images[..cut]);
        let labels_path = write(dir.path(), "labels", &labels);
        prop_assert!(load_idx(&images_path, &labels_path, 10).is_err(), "images cut to {} bytes loaded", cut);
    }
}

// ---------------------------------------------------------------------------------------
// The project's real data

#[test]
fn project_digits_csv_loads_1797_samples_of_64_grey_levels() -> TestResult {
    // examples/data/README.md: UCI digits, 1,797 rows, 64 pixels 0-16 then the label 0-9,
    // 174 to 183 rows per class.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/digits.csv.gz");
    let data = load_csv(&path, 10)?;
    assert_eq!((data.len(), data.feature_width(), data.num_classes()), (1797, 64, 10));
    assert!(data.features().data().iter().all(|&x| (0.0..=16.0).contains(&x) && x.fract() == 0.0));
    let counts = data.class_counts();
    assert!(counts.iter().all(|&count| (174..=183).contains(&count)), "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 1797);
    Ok(())
}
