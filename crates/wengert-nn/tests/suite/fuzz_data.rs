//! Byte-mutation fuzzing of the data loaders, bounded to run in seconds: thousands of
//! mutations of real files (the shipped digits and MNIST CSV, gzipped or not, and an IDX
//! pair of shipped digits), each of which must load or fail with a `DataError` naming the
//! file, never panic, and never allocate a block over 16 x the input's size + 64 KiB
//! (`fuzzing::allocation_bound`). The soak runs the same trials for longer:
//! `cargo run --release --example fuzz -- --seconds 60`.

use crate::fuzzing::{allocation_bound, assert_fuzz_passes, judge, largest_allocation_during, targets, Outcome};
use wengert_nn::data::{load_csv, load_idx, DataError};

/// Mutated inputs per target: well under a second each in the test profile, on an idle machine.
const TRIALS: u64 = 3000;

#[test]
fn the_harness_sees_allocations_panics_and_unnamed_errors() {
    targets::check_helpers();
    let (_, largest) = largest_allocation_during(|| std::hint::black_box(vec![0_u8; 1 << 20]).len());
    assert!(largest >= 1 << 20, "a 1 MiB vector went unseen: {largest}");
    let too_large = judge(10, &[], || {
        std::hint::black_box(vec![0_u8; allocation_bound(10) + 1]);
        Ok(())
    });
    assert!(matches!(too_large, Outcome::TooLarge { .. }), "{too_large}");
    let panicked = judge(10, &[], || panic!("boom"));
    assert!(
        matches!(&panicked, Outcome::Panicked(m) if m.starts_with("boom (at ") && m.contains("fuzz_data.rs")),
        "{panicked}"
    );
    assert!(matches!(judge(10, &["data.csv"], || Err("bad line 3".into())), Outcome::Unnamed(_)));
    assert_eq!(judge(10, &["data.csv"], || Err("data.csv: bad".into())), Outcome::Refused("data.csv: bad".into()));
}

#[test]
fn mutated_csv_files_load_or_fail_with_a_typed_error() {
    assert_fuzz_passes(&targets::csv(), 0, TRIALS);
}

#[test]
fn mutated_gzipped_csv_files_load_or_fail_with_a_typed_error() {
    assert_fuzz_passes(&targets::csv_gz(), 0, TRIALS);
}

#[test]
fn mutated_idx_images_files_load_or_fail_with_a_typed_error() {
    assert_fuzz_passes(&targets::idx_images(), 0, TRIALS);
}

#[test]
fn mutated_idx_labels_files_load_or_fail_with_a_typed_error() {
    assert_fuzz_passes(&targets::idx_labels(), 0, TRIALS);
}

#[test]
fn an_idx_header_claiming_2_pow_31_images_is_refused_before_allocating_them() {
    let (mut images, mut labels) = targets::idx_pair();
    let claim = (1_u32 << 31).to_be_bytes();
    images[4..8].copy_from_slice(&claim);
    labels[4..8].copy_from_slice(&claim);
    let scratch = targets::Scratch::new("idx-2-31");
    let (images_path, labels_path) = (scratch.write("images.idx", &images), scratch.write("labels.idx", &labels));
    let (result, largest) = largest_allocation_during(|| load_idx(&images_path, &labels_path, 10));
    let error = result.expect_err("2^31 images of 8 x 8 pixels in a 6 KiB file");
    // 2^31 x 64 pixels: the data the header promises is 2^37 bytes past the 16-byte header.
    assert!(
        matches!(error, DataError::ShortRead { field: "pixels", expected, .. } if expected == 16 + (1 << 37)),
        "{error:?}"
    );
    // Nothing near the 2^39 bytes of f32 features, nor the 2^37 pixel bytes: the file's size.
    let bound = allocation_bound(images.len() + labels.len());
    assert!(largest <= bound, "largest allocation {largest} bytes, bound {bound}");
}

// Regressions: what the fuzzing found.

#[test]
fn a_wide_first_row_over_many_blank_lines_reserves_no_more_than_the_file_holds() {
    // 1,000 columns, then 20,000 blank lines: the loader once reserved a feature for every
    // column of every line, 20,001 x 999 x 4 bytes = 80 MB for a 22 KB file.
    let mut csv = "0,".repeat(999).into_bytes();
    csv.extend_from_slice(b"1\n");
    csv.extend(std::iter::repeat_n(b'\n', 20_000));
    let scratch = targets::Scratch::new("wide-csv");
    let path = scratch.write("wide.csv", &csv);
    let (result, largest) = largest_allocation_during(|| load_csv(&path, 10));
    let data = result.expect("one row of 999 features, label 1");
    assert_eq!((data.len(), data.feature_width(), data.labels()), (1, 999, &[1][..]));
    let bound = allocation_bound(csv.len());
    assert!(largest <= bound, "largest allocation {largest} bytes for a {} byte file, bound {bound}", csv.len());
}

#[test]
fn a_gzip_trailer_claiming_4_gib_is_a_gzip_error_that_allocates_no_more_than_the_data() {
    // The last 4 bytes of a gzip stream (ISIZE) claim the uncompressed size; the loader once
    // reserved up to 1032 times the file's size on that claim (4 MB for this 4 KB file).
    let csv = targets::digits_head(120);
    let mut gz = targets::gzipped(&csv);
    let trailer = gz.len() - 4;
    gz[trailer..].copy_from_slice(&u32::MAX.to_le_bytes());
    let scratch = targets::Scratch::new("gzip-isize");
    let path = scratch.write("lying.csv.gz", &gz);
    let (result, largest) = largest_allocation_during(|| load_csv(&path, 10));
    let error = result.expect_err("the size in the trailer does not match the data");
    assert!(matches!(error, DataError::Gzip { .. }), "{error:?}");
    let bound = allocation_bound(csv.len());
    assert!(largest <= bound, "largest allocation {largest} bytes for {} bytes of data, bound {bound}", csv.len());
}
