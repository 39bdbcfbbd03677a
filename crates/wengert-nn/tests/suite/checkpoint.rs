//! Checkpoints round-trip f32 and f64 tensors (scalars, vectors, matrices), integer
//! counters (as I64 scalars) and metadata bit for bit through safetensors files; bad files (empty, garbage, truncated at every length,
//! wrong dtype, rank 3, oversized offsets, negative counters) and bad requests (missing or
//! misshapen tensors, missing or non-numeric metadata) are typed errors naming the file and the tensor or
//! field, never panics; a failed save leaves the previous checkpoint intact and no
//! temporary file. No backpropagation formula is involved: this is file handling only.

use proptest::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use wengert_nn::checkpoint::{write_atomically, Checkpoint, CheckpointError};
use wengert_tape::{Real, Shape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The names of the entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A model-like checkpoint: a matrix, a vector, a scalar, with awkward values.
fn sample<T: Real>(values: [T; 9]) -> Checkpoint<T> {
    let mut checkpoint = Checkpoint::new();
    checkpoint.insert("layer0.weight", Tensor::new(Shape::matrix(2, 3), values[..6].to_vec()));
    checkpoint.insert("layer0.bias", Tensor::new(Shape::vector(2), values[6..8].to_vec()));
    checkpoint.insert("adam.step", Tensor::scalar(values[8]));
    checkpoint.set_metadata("epoch", 3);
    checkpoint.set_metadata("format", "wengert-checkpoint-v1");
    checkpoint.set_metadata("learning_rate", 0.001);
    checkpoint
}

/// Asserts that `loaded` has exactly `saved`'s tensors (names, shapes, bits) and metadata.
fn assert_same_bits<T: Real>(saved: &Checkpoint<T>, loaded: &Checkpoint<T>, bits: impl Fn(T) -> u64) {
    assert_eq!(saved.names().collect::<Vec<_>>(), loaded.names().collect::<Vec<_>>());
    for (name, tensor) in saved.iter() {
        let back = loaded.get(name).unwrap();
        assert_eq!(back.shape(), tensor.shape(), "shape of {name}");
        let want: Vec<u64> = tensor.data().iter().map(|&x| bits(x)).collect();
        let got: Vec<u64> = back.data().iter().map(|&x| bits(x)).collect();
        assert_eq!(got, want, "bits of {name}");
    }
    assert_eq!(saved.metadata_entries().collect::<Vec<_>>(), loaded.metadata_entries().collect::<Vec<_>>());
}

#[test]
fn f32_round_trip_keeps_every_bit_and_all_metadata() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("f32.safetensors");
    let nan_with_payload = f32::from_bits(0x7fc0_1234);
    let subnormal = f32::from_bits(1);
    let values =
        [0.1, -0.0, f32::INFINITY, f32::NEG_INFINITY, nan_with_payload, subnormal, f32::MAX, f32::MIN, 1.0 / 3.0];
    let saved = sample(values);
    saved.save(&path)?;
    let loaded = Checkpoint::<f32>::load(&path)?;
    assert_same_bits(&saved, &loaded, |x| u64::from(x.to_bits()));
    assert_eq!(loaded.get("layer0.weight").unwrap().data()[4].to_bits(), 0x7fc0_1234);
    assert_eq!(loaded.metadata_parse::<f64>("learning_rate")?, 0.001);
    assert_eq!(loaded.origin(), path);
    Ok(())
}

#[test]
fn f64_round_trip_keeps_every_bit_and_all_metadata() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("f64.safetensors");
    let nan_with_payload = f64::from_bits(0x7ff8_0000_dead_beef);
    let values =
        [0.1, -0.0, f64::INFINITY, nan_with_payload, f64::from_bits(1), f64::MAX, f64::MIN_POSITIVE, -1e-300, 2.0];
    let saved = sample(values);
    saved.save(&path)?;
    let loaded = Checkpoint::<f64>::load(&path)?;
    assert_same_bits(&saved, &loaded, f64::to_bits);
    assert_eq!(loaded.metadata_parse::<usize>("epoch")?, 3);
    assert_eq!(loaded.expect_metadata("format")?, "wengert-checkpoint-v1");
    Ok(())
}

#[test]
fn saved_file_is_plain_safetensors_with_little_endian_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("interop.safetensors");
    let mut checkpoint = Checkpoint::new();
    checkpoint.insert("w", Tensor::from_rows(&[[1.0_f32, -2.5], [0.5, 4.0]]));
    checkpoint.set_metadata("epoch", 7);
    checkpoint.save(&path)?;

    let bytes = fs::read(&path)?;
    let (_, header) = SafeTensors::read_metadata(&bytes)?;
    assert_eq!(header.metadata().as_ref().and_then(|m| m.get("epoch")).map(String::as_str), Some("7"));
    let file = SafeTensors::deserialize(&bytes)?;
    let w = file.tensor("w")?;
    assert_eq!((w.dtype(), w.shape().to_vec()), (Dtype::F32, vec![2, 2]));
    let expected: Vec<u8> = [1.0_f32, -2.5, 0.5, 4.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(w.data(), &expected[..]);
    Ok(())
}

#[test]
fn file_written_by_safetensors_itself_loads() -> TestResult {
    let data: Vec<u8> = [1.5_f64, -0.25, 8.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let scalar = 42.0_f64.to_le_bytes();
    let views = [
        ("b", TensorView::new(Dtype::F64, vec![3], &data)?),
        ("s", TensorView::new(Dtype::F64, vec![], &scalar)?),
        ("m", TensorView::new(Dtype::F64, vec![3, 1], &data)?),
    ];
    let bytes = safetensors::serialize(views, &None)?;
    let checkpoint = Checkpoint::<f64>::from_bytes(&bytes, "external.safetensors")?;
    assert_eq!(checkpoint.get("b").unwrap(), &Tensor::from_slice(&[1.5, -0.25, 8.0]));
    assert_eq!(checkpoint.get("s").unwrap(), &Tensor::scalar(42.0));
    assert_eq!(checkpoint.get("m").unwrap(), &Tensor::from_rows(&[[1.5], [-0.25], [8.0]]));
    assert_eq!(checkpoint.metadata_entries().count(), 0);
    Ok(())
}

#[test]
fn restoring_a_missing_tensor_names_the_file_and_the_tensor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    sample([1.0_f64; 9]).save(&path)?;
    let loaded = Checkpoint::<f64>::load(&path)?;
    let mut target = Tensor::full(Shape::vector(4), 9.0);
    let error = loaded.restore("layer1.bias", &mut target).unwrap_err();
    match &error {
        CheckpointError::MissingTensor { path: p, name } => {
            assert_eq!((p.as_path(), name.as_str()), (path.as_path(), "layer1.bias"))
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&*path.to_string_lossy()) && message.contains("`layer1.bias`"), "{message}");
    assert_eq!(target.data(), &[9.0; 4], "a failed restore must not touch the target");
    Ok(())
}

#[test]
fn restoring_a_misshapen_tensor_reports_both_shapes_and_leaves_the_target() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    sample([2.0_f32; 9]).save(&path)?;
    let loaded = Checkpoint::<f32>::load(&path)?;
    // Same element count, other shape: [3 x 2] against the stored [2 x 3].
    let mut target = Tensor::zeros(Shape::matrix(3, 2));
    let error = loaded.restore("layer0.weight", &mut target).unwrap_err();
    match &error {
        CheckpointError::ShapeMismatch { name, expected, found, .. } => {
            assert_eq!((name.as_str(), *expected, *found), ("layer0.weight", Shape::matrix(3, 2), Shape::matrix(2, 3)));
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert!(error.to_string().contains("is [2 x 3], the model expects [3 x 2]"), "{error}");
    assert_eq!(target.data(), &[0.0; 6]);
    // A vector [2] is not a [1 x 2] matrix either.
    let mut row = Tensor::zeros(Shape::matrix(1, 2));
    assert!(matches!(loaded.restore("layer0.bias", &mut row), Err(CheckpointError::ShapeMismatch { .. })));
    // The right shape restores the stored values.
    let mut bias = Tensor::zeros(Shape::vector(2));
    loaded.restore("layer0.bias", &mut bias)?;
    assert_eq!(bias.data(), &[2.0, 2.0]);
    Ok(())
}

#[test]
fn loading_an_f64_file_as_f32_is_a_dtype_mismatch_naming_the_tensor() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("f64.safetensors");
    sample([0.5_f64; 9]).save(&path)?;
    let error = Checkpoint::<f32>::load(&path).unwrap_err();
    match &error {
        CheckpointError::DtypeMismatch { path: p, name, expected, found } => {
            // Tensors are checked in name order: "adam.step" comes first.
            assert_eq!(
                (p.as_path(), name.as_str(), *expected, found.as_str()),
                (path.as_path(), "adam.step", "f32", "f64")
            );
        }
        other => panic!("expected DtypeMismatch, got {other:?}"),
    }
    assert!(error.to_string().contains("tensor `adam.step` holds f64, expected f32"), "{error}");
    Ok(())
}

#[test]
fn foreign_dtype_is_named_in_lower_case() -> TestResult {
    let half = [0_u8; 4];
    let bytes = safetensors::serialize([("emb", TensorView::new(Dtype::BF16, vec![2], &half)?)], &None)?;
    let error = Checkpoint::<f64>::from_bytes(&bytes, "bf16.safetensors").unwrap_err();
    assert!(
        matches!(&error, CheckpointError::DtypeMismatch { found, expected: "f64", .. } if found == "bf16"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn counters_are_i64_scalars_in_the_file_and_exact_past_two_to_the_53() -> TestResult {
    let mut checkpoint = Checkpoint::<f32>::new();
    checkpoint.insert("w", Tensor::from_slice(&[1.0, 2.0]));
    let big = (1_u64 << 53) + 1; // no float holds it
    checkpoint.insert_counter("adam.step", big);
    let bytes = checkpoint.to_bytes()?;
    let file = SafeTensors::deserialize(&bytes)?;
    let step = file.tensor("adam.step")?;
    assert_eq!((step.dtype(), step.shape().len()), (Dtype::I64, 0));
    assert_eq!(step.data(), &(big as i64).to_le_bytes());
    let loaded = Checkpoint::<f32>::from_bytes(&bytes, "c.safetensors")?;
    assert_eq!(loaded.counter("adam.step"), Some(big));
    assert_eq!(loaded.names().collect::<Vec<_>>(), ["adam.step", "w"]);
    assert!(loaded.get("adam.step").is_none());
    Ok(())
}

#[test]
fn integer_scalars_written_by_safetensors_load_as_counters() -> TestResult {
    let (signed, unsigned) = (7_i64.to_le_bytes(), u64::MAX.to_le_bytes());
    let bytes = safetensors::serialize(
        [("a", TensorView::new(Dtype::I64, vec![], &signed)?), ("b", TensorView::new(Dtype::U64, vec![], &unsigned)?)],
        &None,
    )?;
    let checkpoint = Checkpoint::<f64>::from_bytes(&bytes, "ints.safetensors")?;
    assert_eq!((checkpoint.counter("a"), checkpoint.counter("b")), (Some(7), Some(u64::MAX)));
    Ok(())
}

#[test]
fn a_negative_counter_is_refused_when_read() -> TestResult {
    let minus = (-1_i64).to_le_bytes();
    let bytes = safetensors::serialize([("adam.step", TensorView::new(Dtype::I64, vec![], &minus)?)], &None)?;
    let error = Checkpoint::<f32>::from_bytes(&bytes, "neg.safetensors").unwrap_err();
    assert!(
        matches!(&error, CheckpointError::BadCounter { name, value, .. } if name == "adam.step" && value == "-1"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "checkpoint neg.safetensors: counter `adam.step` = -1 is not a count (a whole number from 0)"
    );
    Ok(())
}

#[test]
fn an_integer_tensor_that_is_not_a_scalar_is_a_dtype_mismatch() -> TestResult {
    let data = [0_u8; 16];
    let bytes = safetensors::serialize([("ids", TensorView::new(Dtype::I64, vec![2], &data)?)], &None)?;
    let error = Checkpoint::<f32>::from_bytes(&bytes, "ids.safetensors").unwrap_err();
    assert!(
        matches!(&error, CheckpointError::DtypeMismatch { name, expected: "f32", found, .. } if name == "ids" && found == "i64"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_counter_past_i64_is_refused_on_save_naming_it() {
    let mut checkpoint = Checkpoint::<f64>::new();
    checkpoint.insert_counter("steps", u64::MAX);
    let error = checkpoint.to_bytes().unwrap_err();
    assert!(matches!(&error, CheckpointError::Format { message, .. } if message.contains("`steps`")), "{error:?}");
}

#[test]
fn a_name_holds_a_tensor_or_a_counter_not_both() {
    let mut checkpoint = Checkpoint::<f32>::new();
    checkpoint.insert("x", Tensor::scalar(1.0));
    assert_eq!(checkpoint.insert_counter("x", 5), None);
    assert!(checkpoint.get("x").is_none());
    assert!(checkpoint.insert("x", Tensor::scalar(2.0)).is_none());
    assert_eq!(checkpoint.counter("x"), None);
    assert_eq!(checkpoint.len(), 1);
}

#[test]
fn rank_seven_tensor_is_refused_with_its_dimensions_and_rank_four_loads() -> TestResult {
    let data = vec![0_u8; 2 * 4];
    let bytes =
        safetensors::serialize([("deep", TensorView::new(Dtype::F32, vec![1, 1, 1, 1, 1, 1, 2], &data)?)], &None)?;
    let error = Checkpoint::<f32>::from_bytes(&bytes, "deep.safetensors").unwrap_err();
    assert!(
        matches!(&error, CheckpointError::BadRank { name, dims, .. } if name == "deep" && dims == &[1, 1, 1, 1, 1, 1, 2]),
        "{error:?}"
    );
    assert!(error.to_string().contains("only ranks 0 to 6 load"), "{error}");
    // A bank of conv filters [o x c x kh x kw] loads with its shape and values.
    let values: Vec<f32> = (0..2 * 3 * 2 * 2).map(|i| i as f32).collect();
    let bytes_of: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = safetensors::serialize([("conv", TensorView::new(Dtype::F32, vec![2, 3, 2, 2], &bytes_of)?)], &None)?;
    let loaded = Checkpoint::<f32>::from_bytes(&bytes, "conv.safetensors")?;
    let conv = loaded.get("conv").expect("the tensor loads");
    assert_eq!((conv.shape(), conv.data()), (Shape::new(&[2, 3, 2, 2]), &values[..]));
    Ok(())
}

#[test]
fn dimension_over_32_bits_is_a_format_error() -> TestResult {
    // [0 x 2^32] has no elements, so safetensors accepts it, but a wengert Shape cannot hold it.
    let bytes = safetensors::serialize([("wide", TensorView::new(Dtype::F32, vec![0, 1 << 32], &[])?)], &None)?;
    let error = Checkpoint::<f32>::from_bytes(&bytes, "wide.safetensors").unwrap_err();
    assert!(matches!(error, CheckpointError::Format { .. }), "{error:?}");
    assert!(error.to_string().contains("`wide`") && error.to_string().contains("4294967296"), "{error}");
    Ok(())
}

#[test]
fn offsets_near_usize_max_are_a_format_error_not_an_overflow() {
    // (2^61 - 1) f64 elements are 2^64 - 8 bytes: the size passes the parser's checked
    // product, and adding the header length to it would overflow.
    let header = r#"{"x":{"dtype":"F64","shape":[2305843009213693951],"data_offsets":[0,18446744073709551608]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    let error = Checkpoint::<f64>::from_bytes(&bytes, "huge.safetensors").unwrap_err();
    assert!(matches!(error, CheckpointError::Format { .. }), "{error:?}");
}

#[test]
fn huge_numbers_inside_metadata_strings_and_names_still_load() -> TestResult {
    // The guard against oversized header numbers must skip JSON strings, escapes included.
    let mut checkpoint = Checkpoint::new();
    checkpoint.insert("t18446744073709551615", Tensor::scalar(1.0_f64));
    checkpoint.set_metadata("seed", u64::MAX);
    checkpoint.set_metadata("quoted", "say \"18446744073709551615\" \\ 18446744073709551615");
    let loaded = Checkpoint::<f64>::from_bytes(&checkpoint.to_bytes()?, "big.safetensors")?;
    assert_eq!(loaded.metadata_parse::<u64>("seed")?, u64::MAX);
    assert_eq!(loaded.metadata("quoted"), checkpoint.metadata("quoted"));
    assert_eq!(loaded.get("t18446744073709551615").map(|t| t.data()[0]), Some(1.0));
    Ok(())
}

#[test]
fn truncated_file_is_a_format_error_at_every_length() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    sample([0.25_f64; 9]).save(&path)?;
    let bytes = fs::read(&path)?;
    // Through the file system once ...
    fs::write(&path, &bytes[..bytes.len() - 3])?;
    let error = Checkpoint::<f64>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::Format { .. }), "{error:?}");
    assert!(error.to_string().contains(&*path.to_string_lossy()), "{error}");
    // ... and in memory at every cut: no prefix of a valid file loads, none panics.
    for cut in 0..bytes.len() {
        let result = Checkpoint::<f64>::from_bytes(&bytes[..cut], "cut.safetensors");
        assert!(matches!(result, Err(CheckpointError::Format { .. })), "cut at {cut} of {}: {result:?}", bytes.len());
    }
    Ok(())
}

#[test]
fn garbage_bytes_are_a_format_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("garbage.safetensors");
    // A fixed linear congruential sequence: deterministic noise.
    let mut state = 12345_u32;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect();
    fs::write(&path, &garbage)?;
    assert!(matches!(Checkpoint::<f32>::load(&path), Err(CheckpointError::Format { .. })));
    // A plausible header length followed by text that is not JSON.
    let mut fake = 20_u64.to_le_bytes().to_vec();
    fake.extend_from_slice(b"this is not json at all");
    fs::write(&path, &fake)?;
    let error = Checkpoint::<f32>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::Format { .. }), "{error:?}");
    assert!(error.to_string().contains("garbage.safetensors"), "{error}");
    Ok(())
}

#[test]
fn empty_file_is_a_format_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("empty.safetensors");
    fs::write(&path, b"")?;
    let error = Checkpoint::<f64>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::Format { .. }), "{error:?}");
    assert!(error.to_string().contains("empty.safetensors"), "{error}");
    Ok(())
}

#[test]
fn missing_file_is_an_io_error_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("never-saved.safetensors");
    let error = Checkpoint::<f32>::load(&path).unwrap_err();
    match &error {
        CheckpointError::Io { path: p, source } => {
            assert_eq!((p.as_path(), source.kind()), (path.as_path(), io::ErrorKind::NotFound));
        }
        other => panic!("expected Io, got {other:?}"),
    }
    Ok(())
}

#[test]
fn missing_metadata_key_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    sample([1.0_f32; 9]).save(&path)?;
    let loaded = Checkpoint::<f32>::load(&path)?;
    assert_eq!(loaded.metadata("seed"), None);
    let error = loaded.metadata_parse::<u64>("seed").unwrap_err();
    match &error {
        CheckpointError::MissingMetadata { path: p, key } => {
            assert_eq!((p.as_path(), key.as_str()), (path.as_path(), "seed"))
        }
        other => panic!("expected MissingMetadata, got {other:?}"),
    }
    assert!(matches!(loaded.expect_metadata("seed"), Err(CheckpointError::MissingMetadata { .. })));
    Ok(())
}

#[test]
fn non_numeric_epoch_is_bad_metadata_naming_field_and_value() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let mut checkpoint = sample([1.0_f64; 9]);
    checkpoint.set_metadata("epoch", "three");
    checkpoint.save(&path)?;
    let loaded = Checkpoint::<f64>::load(&path)?;
    let error = loaded.metadata_parse::<usize>("epoch").unwrap_err();
    match &error {
        CheckpointError::BadMetadata { key, value, expected, .. } => {
            assert_eq!((key.as_str(), value.as_str(), *expected), ("epoch", "three", "usize"));
        }
        other => panic!("expected BadMetadata, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("`epoch`") && message.contains("\"three\"") && message.contains("usize"), "{message}");
    // A negative number is no usize either.
    checkpoint.set_metadata("epoch", -1);
    assert!(matches!(checkpoint.metadata_parse::<usize>("epoch"), Err(CheckpointError::BadMetadata { .. })));
    Ok(())
}

/// A writer that passes `budget` bytes through and then fails, like a disk filling up.
struct FailAfter<'a> {
    inner: &'a mut dyn Write,
    budget: usize,
}

impl Write for FailAfter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::other("injected: no space left"));
        }
        let n = self.inner.write(&buf[..buf.len().min(self.budget)])?;
        self.budget -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn failed_write_keeps_the_old_checkpoint_and_leaves_no_temporary_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let good = sample([1.0_f64, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    good.save(&path)?;
    let good_bytes = fs::read(&path)?;

    let newer = sample([-1.0_f64; 9]);
    let new_bytes = newer.to_bytes()?;
    // What `save` does, with the disk filling up halfway through the new file.
    let result =
        write_atomically(&path, |out| FailAfter { inner: out, budget: new_bytes.len() / 2 }.write_all(&new_bytes));
    assert_eq!(result.map_err(|e| e.to_string()), Err("injected: no space left".to_string()));

    assert_eq!(fs::read(&path)?, good_bytes, "the old checkpoint must survive byte for byte");
    assert_eq!(entries(dir.path()), ["model.safetensors"], "no temporary file may be left");
    let loaded = Checkpoint::<f64>::load(&path)?;
    assert_eq!(loaded.get("layer0.weight").unwrap().data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    Ok(())
}

#[test]
fn failed_save_over_a_directory_leaves_it_and_no_temporary_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    // The rename onto a non-empty directory fails, even for root, after the temporary
    // file has been written in full.
    fs::create_dir(&path)?;
    fs::write(path.join("keep.txt"), b"kept")?;
    let error = sample([1.0_f32; 9]).save(&path).unwrap_err();
    assert!(matches!(&error, CheckpointError::Io { path: p, .. } if p == &path), "{error:?}");
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
    assert_eq!(fs::read(path.join("keep.txt"))?, b"kept");
    Ok(())
}

#[test]
fn saving_into_a_missing_directory_is_an_io_error_naming_the_target() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("no-such-dir").join("model.safetensors");
    let error = Checkpoint::<f32>::new().save(&path).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::Io { path: p, source } if p == &path && source.kind() == io::ErrorKind::NotFound)
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
    Ok(())
}

#[test]
fn saving_twice_overwrites_cleanly() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    sample([1.0_f32; 9]).save(&path)?;
    // The second checkpoint is smaller and has other names: nothing of the first may remain.
    let mut second = Checkpoint::new();
    second.insert("only", Tensor::from_slice(&[5.0_f32]));
    second.set_metadata("epoch", 4);
    second.save(&path)?;
    assert_eq!(fs::read(&path)?, second.to_bytes()?);
    let loaded = Checkpoint::<f32>::load(&path)?;
    assert_eq!(loaded.names().collect::<Vec<_>>(), ["only"]);
    assert_eq!(loaded.metadata_entries().collect::<Vec<_>>(), [("epoch", "4")]);
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
    Ok(())
}

#[test]
#[should_panic(expected = "`__metadata__` is reserved")]
fn the_reserved_header_key_is_refused_as_a_tensor_name() {
    Checkpoint::<f32>::new().insert("__metadata__", Tensor::scalar(1.0));
}

/// A shape of rank 0, 1 or 2 with sides 0 to 5.
fn any_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::scalar()),
        (0_usize..6).prop_map(Shape::vector),
        (0_usize..6, 0_usize..6).prop_map(|(r, c)| Shape::matrix(r, c)),
    ]
}

/// Up to four tensors of random shapes whose elements are arbitrary bit patterns (NaNs too).
fn any_tensors() -> impl Strategy<Value = Vec<(Shape, Vec<u64>)>> {
    proptest::collection::vec(
        any_shape().prop_flat_map(|shape| (Just(shape), proptest::collection::vec(any::<u64>(), shape.numel()))),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_checkpoints_round_trip_bit_for_bit(tensors in any_tensors(), epoch in any::<u64>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("random.safetensors");
        let mut wide = Checkpoint::<f64>::new();
        let mut narrow = Checkpoint::<f32>::new();
        for (i, (shape, bits)) in tensors.iter().enumerate() {
            wide.insert(format!("t{i}"), Tensor::new(*shape, bits.iter().map(|&b| f64::from_bits(b)).collect()));
            narrow.insert(format!("t{i}"), Tensor::new(*shape, bits.iter().map(|&b| f32::from_bits(b as u32)).collect()));
        }
        wide.set_metadata("epoch", epoch);
        wide.save(&path).unwrap();
        let back = Checkpoint::<f64>::load(&path).unwrap();
        for (i, (shape, bits)) in tensors.iter().enumerate() {
            let t = back.get(&format!("t{i}")).unwrap();
            let got: Vec<u64> = t.data().iter().map(|x| x.to_bits()).collect();
            prop_assert!(t.shape() == *shape && &got == bits, "f64 t{i}: saved {shape} {bits:?}, loaded {} {got:?}", t.shape());
        }
        prop_assert_eq!(back.metadata_parse::<u64>("epoch").unwrap(), epoch);

        narrow.save(&path).unwrap();
        let back = Checkpoint::<f32>::load(&path).unwrap();
        for (i, (shape, bits)) in tensors.iter().enumerate() {
            let t = back.get(&format!("t{i}")).unwrap();
            let got: Vec<u32> = t.data().iter().map(|x| x.to_bits()).collect();
            let want: Vec<u32> = bits.iter().map(|&b| b as u32).collect();
            prop_assert!(t.shape() == *shape && got == want, "f32 t{i}: saved {shape} {want:?}, loaded {} {got:?}", t.shape());
        }
        prop_assert_eq!(back.len(), tensors.len());
    }

    #[test]
    fn corrupted_bytes_never_panic(position in any::<prop::sample::Index>(), byte in any::<u8>(), f in any::<[f64; 9]>()) {
        let mut bytes = sample(f).to_bytes().unwrap();
        let at = position.index(bytes.len());
        let original = bytes[at];
        bytes[at] = byte;
        // Any result is acceptable but a panic; an untouched file must still load.
        let result = Checkpoint::<f64>::from_bytes(&bytes, "corrupt.safetensors");
        prop_assert!(byte != original || result.is_ok(), "unchanged file failed: {result:?}");
    }
}
