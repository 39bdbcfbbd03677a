//! Restoring a model and its optimiser from a checkpoint file is checked end to end: every
//! parameter and every piece of optimiser state must be present with the model's dtype and
//! shape, and nothing else may be there. Each way a file can be wrong (missing, misshapen,
//! wrong dtype, extra) is a typed error naming the file and the tensor, and leaves model
//! and optimiser untouched. Files are tampered with through the safetensors crate itself,
//! as a user editing one by hand would, not through the code under test.

use rand::SeedableRng;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::{Activation, Mlp};
use wengert_tape::Shape;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One tensor of a safetensors file as plain parts: dtype, dimensions, bytes.
type Raw = (Dtype, Vec<usize>, Vec<u8>);

/// The sizes of the MNIST example's default model.
const MNIST_SIZES: [usize; 4] = [784, 256, 128, 10];

fn model(sizes: &[usize]) -> Mlp<f32> {
    Mlp::new(sizes, Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3))
}

/// A model and an Adam that has taken two steps on it (with made-up gradients), saved to
/// `dir/checkpoint.safetensors` with its epoch.
fn trained_checkpoint(dir: &Path, sizes: &[usize]) -> (PathBuf, Mlp<f32>, Adam<f32>) {
    let mut mlp = model(sizes);
    let mut adam = Adam::new(0.01);
    for step in 0..2 {
        adam.begin_step();
        for (index, parameter) in mlp.parameters_mut().enumerate() {
            let gradient: Vec<f32> = (0..parameter.len()).map(|i| ((i + index + step) % 7) as f32 - 3.0).collect();
            adam.update(index, parameter.data_mut(), &gradient, 1.0);
        }
    }
    let path = dir.join("checkpoint.safetensors");
    let mut checkpoint = Checkpoint::from_training(&mlp, &adam);
    checkpoint.set_metadata("epoch", 1);
    checkpoint.save(&path).expect("save the checkpoint");
    (path, mlp, adam)
}

/// Every tensor and the metadata of a safetensors file, read with the safetensors crate.
fn read_raw(path: &Path) -> (HashMap<String, Raw>, Option<HashMap<String, String>>) {
    let bytes = std::fs::read(path).expect("read the file");
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("a safetensors header");
    let parsed = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let tensors = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, (view.dtype(), view.shape().to_vec(), view.data().to_vec())))
        .collect();
    (tensors, header.metadata().clone())
}

/// Rewrites the safetensors file at `path` after `edit` has changed its tensors.
fn tamper(path: &Path, edit: impl FnOnce(&mut HashMap<String, Raw>)) {
    let (mut tensors, metadata) = read_raw(path);
    edit(&mut tensors);
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, (dtype, dims, bytes))| {
            (name.as_str(), TensorView::new(*dtype, dims.clone(), bytes).expect("a view"))
        })
        .collect();
    let bytes = safetensors::serialize(views, &metadata).expect("serialise");
    std::fs::write(path, bytes).expect("write the file");
}

/// `n` little-endian f32 zeros.
fn f32_zeros(n: usize) -> Vec<u8> {
    vec![0; 4 * n]
}

/// The parameters and the Adam state of a model, as the bytes a checkpoint of them holds.
fn snapshot(mlp: &Mlp<f32>, adam: &Adam<f32>) -> Vec<u8> {
    Checkpoint::from_training(mlp, adam).to_bytes().expect("encode")
}

/// Restores `path` into a fresh model of `sizes` and a fresh Adam; asserts that a failure
/// changed neither, and returns the error.
fn restore_error(path: &Path, sizes: &[usize]) -> CheckpointError {
    let (mut mlp, mut adam) = (model(sizes), Adam::new(0.01));
    let before = snapshot(&mlp, &adam);
    let error = match Checkpoint::<f32>::load(path) {
        Ok(checkpoint) => checkpoint.restore_training(&mut mlp, &mut adam).expect_err("a bad checkpoint restored"),
        Err(error) => error,
    };
    assert_eq!(snapshot(&mlp, &adam), before, "a failed restore changed the model or the optimiser");
    error
}

#[test]
fn an_intact_checkpoint_restores_every_parameter_and_the_optimiser_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, trained, adam) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    let (mut mlp, mut resumed) = (model(&[5, 4, 3]), Adam::new(0.01));
    assert_ne!(mlp, trained);
    Checkpoint::<f32>::load(&path)?.restore_training(&mut mlp, &mut resumed)?;
    assert_eq!(mlp, trained);
    assert_eq!(resumed.steps(), 2);
    assert_eq!(snapshot(&mlp, &resumed), snapshot(&trained, &adam));
    Ok(())
}

#[test]
fn the_users_case_a_cut_first_moment_and_a_5x5_second_moment_are_refused_by_name() -> TestResult {
    // `adam.m.0` cut to 100 elements and `adam.v.2` replaced by a 5 x 5 matrix, in a
    // checkpoint of the MNIST example's 784-256-128-10 model: once resumed silently.
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &MNIST_SIZES);
    tamper(&path, |tensors| {
        tensors.insert("adam.m.0".into(), (Dtype::F32, vec![100], f32_zeros(100)));
        tensors.insert("adam.v.2".into(), (Dtype::F32, vec![5, 5], f32_zeros(25)));
    });
    let error = restore_error(&path, &MNIST_SIZES);
    assert!(
        matches!(&error, CheckpointError::ShapeMismatch { path: p, name, expected, found }
            if p == &path && name == "adam.m.0" && *expected == Shape::matrix(784, 256) && *found == Shape::vector(100)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("checkpoint {}: tensor `adam.m.0` is [100], the model expects [784 x 256]", path.display())
    );

    // With the first moment mended, the second fault is named.
    tamper(&path, |tensors| {
        tensors.insert("adam.m.0".into(), (Dtype::F32, vec![784, 256], f32_zeros(784 * 256)));
    });
    let error = restore_error(&path, &MNIST_SIZES);
    assert!(
        matches!(&error, CheckpointError::ShapeMismatch { name, expected, found, .. }
            if name == "adam.v.2" && *expected == Shape::matrix(256, 128) && *found == Shape::matrix(5, 5)),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_missing_optimiser_tensor_is_named_with_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        tensors.remove("adam.v.3");
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::MissingTensor { path: p, name } if p == &path && name == "adam.v.3"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("checkpoint {}: no tensor named `adam.v.3`", path.display()));
    Ok(())
}

#[test]
fn a_missing_step_counter_or_parameter_is_named() -> TestResult {
    for missing in ["adam.step", "layer1.bias"] {
        let dir = tempfile::tempdir()?;
        let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
        tamper(&path, |tensors| {
            tensors.remove(missing);
        });
        let error = restore_error(&path, &[5, 4, 3]);
        assert!(matches!(&error, CheckpointError::MissingTensor { name, .. } if name == missing), "{error:?}");
    }
    Ok(())
}

#[test]
fn a_misshapen_optimiser_tensor_reports_both_shapes() -> TestResult {
    // Same element count, other shape: a transposed moment is still refused.
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        tensors.insert("adam.m.2".into(), (Dtype::F32, vec![3, 4], f32_zeros(12)));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::ShapeMismatch { name, expected, found, .. }
            if name == "adam.m.2" && *expected == Shape::matrix(4, 3) && *found == Shape::matrix(3, 4)),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_step_counter_that_is_not_a_scalar_is_misshapen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        tensors.insert("adam.step".into(), (Dtype::F32, vec![2], f32_zeros(2)));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::ShapeMismatch { name, expected, .. } if name == "adam.step" && *expected == Shape::scalar()),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn an_optimiser_tensor_of_the_wrong_dtype_is_named_with_both_dtypes() -> TestResult {
    // An f64 moment in an f32 checkpoint is refused when the file is read.
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        tensors.insert("adam.v.1".into(), (Dtype::F64, vec![4], vec![0; 32]));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::DtypeMismatch { path: p, name, expected: "f32", found }
            if p == &path && name == "adam.v.1" && found == "f64"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("checkpoint {}: tensor `adam.v.1` holds f64, expected f32", path.display()));

    // An integer where a moment belongs loads as a counter, and is refused on restore.
    tamper(&path, |tensors| {
        tensors.insert("adam.v.1".into(), (Dtype::I64, vec![], 7_i64.to_le_bytes().to_vec()));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::DtypeMismatch { name, expected: "f32", found, .. } if name == "adam.v.1" && found == "i64"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_negative_step_counter_is_not_a_count() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        tensors.insert("adam.step".into(), (Dtype::I64, vec![], (-2_i64).to_le_bytes().to_vec()));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(
        matches!(&error, CheckpointError::BadCounter { name, value, .. } if name == "adam.step" && value == "-2"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn an_extra_tensor_is_unexpected_and_named() -> TestResult {
    // A moment for a fifth parameter, a third layer's weight, another optimiser's state.
    for (extra, dims) in [("adam.m.4", vec![3]), ("layer2.weight", vec![3, 2]), ("sgd.velocity.0", vec![5, 4])] {
        let dir = tempfile::tempdir()?;
        let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
        let numel = dims.iter().product();
        tamper(&path, |tensors| {
            tensors.insert(extra.into(), (Dtype::F32, dims, f32_zeros(numel)));
        });
        let error = restore_error(&path, &[5, 4, 3]);
        assert!(
            matches!(&error, CheckpointError::UnexpectedTensor { path: p, name } if p == &path && name == extra),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "checkpoint {}: unexpected tensor `{extra}` (neither a parameter of the model nor optimiser state)",
                path.display()
            )
        );
    }
    Ok(())
}

#[test]
fn a_checkpoint_of_a_smaller_model_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    let error = restore_error(&path, &[5, 4, 4, 3]);
    assert!(matches!(&error, CheckpointError::ShapeMismatch { name, .. } if name == "layer1.weight"), "{error:?}");
    Ok(())
}

#[test]
fn an_adam_checkpoint_does_not_restore_into_sgd() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    let checkpoint = Checkpoint::<f32>::load(&path)?;
    let mut mlp = model(&[5, 4, 3]);
    let error = checkpoint.restore_training(&mut mlp, &mut Sgd::with_momentum(0.1, 0.9)).unwrap_err();
    // Names are checked in order: the first of Adam's entries is the first stray.
    assert!(matches!(&error, CheckpointError::UnexpectedTensor { name, .. } if name == "adam.m.0"), "{error:?}");
    assert_eq!(mlp, model(&[5, 4, 3]));
    Ok(())
}

#[test]
fn a_checkpoint_in_the_earlier_layout_still_restores() -> TestResult {
    // Earlier checkpoints stored `adam.step` as an f32 scalar and every moment flat, as a
    // vector of its parameter's size. Written here with the safetensors crate.
    let dir = tempfile::tempdir()?;
    let (path, trained, adam) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    tamper(&path, |tensors| {
        for (_, (_, dims, _)) in
            tensors.iter_mut().filter(|(name, _)| name.starts_with("adam.m") || name.starts_with("adam.v"))
        {
            *dims = vec![dims.iter().product()];
        }
        tensors.insert("adam.step".into(), (Dtype::F32, vec![], 2.0_f32.to_le_bytes().to_vec()));
    });
    let (mut mlp, mut resumed) = (model(&[5, 4, 3]), Adam::new(0.01));
    Checkpoint::<f32>::load(&path)?.restore_training(&mut mlp, &mut resumed)?;
    assert_eq!(resumed.steps(), 2);
    assert_eq!(snapshot(&mlp, &resumed), snapshot(&trained, &adam));
    Ok(())
}

#[test]
fn the_step_counter_is_stored_as_an_integer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (path, _, _) = trained_checkpoint(dir.path(), &[5, 4, 3]);
    let (tensors, _) = read_raw(&path);
    let (dtype, dims, bytes) = &tensors["adam.step"];
    assert_eq!((*dtype, dims.len(), bytes.as_slice()), (Dtype::I64, 0, &2_i64.to_le_bytes()[..]));
    // Moments carry their parameter's shape.
    assert_eq!(tensors["adam.m.0"].1, [5, 4]);
    Ok(())
}

#[test]
fn restoring_after_a_step_above_two_to_the_24_keeps_the_count() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("late.safetensors");
    let mlp = model(&[3, 2]);
    let mut checkpoint = Checkpoint::from_training(&mlp, &Adam::new(0.01));
    checkpoint.insert_counter("adam.step", (1 << 24) + 3);
    checkpoint.save(&path)?;
    let (mut resumed, mut adam) = (model(&[3, 2]), Adam::new(0.01));
    Checkpoint::<f32>::load(&path)?.restore_training(&mut resumed, &mut adam)?;
    assert_eq!(adam.steps(), 16_777_219);
    assert_eq!(Checkpoint::from_training(&resumed, &adam).counter("adam.step"), Some(16_777_219));
    Ok(())
}

#[test]
fn shapes_are_checked_for_an_optimiser_before_its_first_step_too() -> TestResult {
    // No step taken: the moments are zeros of the parameters' shapes, checked all the same.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fresh.safetensors");
    Checkpoint::from_training(&model(&[5, 4, 3]), &Adam::new(0.01)).save(&path)?;
    tamper(&path, |tensors| {
        tensors.insert("adam.m.1".into(), (Dtype::F32, vec![5], f32_zeros(5)));
    });
    let error = restore_error(&path, &[5, 4, 3]);
    assert!(matches!(&error, CheckpointError::ShapeMismatch { name, .. } if name == "adam.m.1"), "{error:?}");
    Ok(())
}
