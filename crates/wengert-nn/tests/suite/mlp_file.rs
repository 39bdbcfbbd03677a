//! `Mlp::save` and `Mlp::load`: a model round-trips bit for bit in f32 and f64; the file is
//! plain safetensors in wengert's layout (weights `[in, out]`), read back here with the
//! safetensors crate itself; every way a file can be wrong (missing, misshapen, extra or
//! mistyped tensors, missing or bad metadata) is a typed error naming the file and the
//! tensor or field; a failed save leaves the old file.

use rand::SeedableRng;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::optim::Adam;
use wengert_nn::{Activation, Linear, Mlp};
use wengert_tape::{Shape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn mlp<T: wengert_tape::Real>(sizes: &[usize], hidden: Activation) -> Mlp<T> {
    Mlp::new(sizes, hidden, &mut rand_chacha::ChaCha8Rng::seed_from_u64(11))
}

/// Writes a safetensors file of f32 tensors `(name, dims, values)` and string metadata with
/// the safetensors crate.
fn write_raw(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)], metadata: &[(&str, &str)]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, dims, _), b)| (*name, TensorView::new(Dtype::F32, dims.clone(), b).expect("a view")))
        .collect();
    let metadata: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    std::fs::write(path, safetensors::serialize(views, &Some(metadata)).expect("serialise")).expect("write");
}

/// A valid 3-2 relu model file, with its tensors and metadata edited by `edit_tensors` and
/// `edit_metadata`.
fn model_file(
    path: &Path,
    edit_tensors: impl FnOnce(&mut Vec<(&'static str, Vec<usize>, Vec<f32>)>),
    edit_metadata: impl FnOnce(&mut Vec<(&'static str, &'static str)>),
) {
    let mut tensors = vec![
        ("layer0.weight", vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ("layer0.bias", vec![2], vec![0.5, -0.5]),
    ];
    let mut metadata = vec![("format", "wengert-mlp-v1"), ("sizes", "3-2"), ("activation", "relu")];
    edit_tensors(&mut tensors);
    edit_metadata(&mut metadata);
    write_raw(path, &tensors, &metadata);
}

#[test]
fn f32_model_round_trips_bit_for_bit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let mut saved = mlp::<f32>(&[6, 5, 4, 3], Activation::Tanh);
    // Awkward values must survive too.
    saved.layers[1].bias.data_mut().copy_from_slice(&[f32::from_bits(1), -0.0, f32::MAX, 1.0 / 3.0]);
    saved.save(&path)?;
    let loaded = Mlp::<f32>::load(&path)?;
    assert_eq!(loaded.hidden, Activation::Tanh);
    assert_eq!(loaded.sizes(), [6, 5, 4, 3]);
    for (a, b) in saved.parameters().zip(loaded.parameters()) {
        assert_eq!(a.shape(), b.shape());
        let bits = |t: &Tensor<f32>| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }
    Ok(())
}

#[test]
fn f64_model_round_trips_and_is_no_f32_model() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model64.safetensors");
    let saved = mlp::<f64>(&[2, 7, 1], Activation::Softplus);
    saved.save(&path)?;
    assert_eq!(Mlp::<f64>::load(&path)?, saved);
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::DtypeMismatch { expected: "f32", found, .. } if found == "f64"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn the_file_is_safetensors_with_weights_in_out_and_the_architecture_in_metadata() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let model = Mlp {
        layers: vec![
            Linear::from_tensors(
                Tensor::from_rows(&[[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                Tensor::from_slice(&[7.0, 8.0, 9.0]),
            ),
            Linear::from_tensors(Tensor::from_rows(&[[1.5], [2.5], [3.5]]), Tensor::from_slice(&[-1.0])),
        ],
        hidden: Activation::Sigmoid,
        norms: Vec::new(),
    };
    model.save(&path)?;
    let bytes = std::fs::read(&path)?;
    let (_, header) = SafeTensors::read_metadata(&bytes)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    assert_eq!(metadata.get("format").map(String::as_str), Some("wengert-mlp-v1"));
    assert_eq!(metadata.get("sizes").map(String::as_str), Some("2-3-1"));
    assert_eq!(metadata.get("activation").map(String::as_str), Some("sigmoid"));
    let file = SafeTensors::deserialize(&bytes)?;
    let weight = file.tensor("layer0.weight")?;
    assert_eq!((weight.dtype(), weight.shape()), (Dtype::F32, &[2, 3][..]));
    // Row-major [in, out]: input 0's weights to the three outputs come first.
    let values: Vec<f32> =
        weight.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(file.tensor("layer1.bias")?.shape(), &[1]);
    assert_eq!(file.names().len(), 4);
    Ok(())
}

#[test]
fn a_file_written_by_safetensors_itself_loads() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("raw.safetensors");
    model_file(&path, |_| {}, |_| {});
    let model = Mlp::<f32>::load(&path)?;
    assert_eq!(model.layers[0].weight, Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    assert_eq!(model.layers[0].bias.data(), &[0.5, -0.5]);
    assert_eq!(model.hidden, Activation::Relu);
    Ok(())
}

#[test]
fn a_missing_bias_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.safetensors");
    model_file(&path, |t| t.retain(|(name, _, _)| *name != "layer0.bias"), |_| {});
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::MissingTensor { path: p, name } if p == &path && name == "layer0.bias"),
        "{error:?}"
    );
    Ok(())
}

#[test]
fn a_weight_in_pytorch_layout_is_misshapen() -> TestResult {
    // [out, in] = [2, 3] where wengert stores [in, out] = [3, 2].
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.safetensors");
    model_file(&path, |t| t[0].1 = vec![2, 3], |_| {});
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(
        matches!(&error, CheckpointError::ShapeMismatch { name, expected, found, .. }
            if name == "layer0.weight" && *expected == Shape::matrix(3, 2) && *found == Shape::matrix(2, 3)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("checkpoint {}: tensor `layer0.weight` is [2 x 3], the model expects [3 x 2]", path.display())
    );
    Ok(())
}

#[test]
fn a_tensor_beyond_the_sizes_is_unexpected() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.safetensors");
    model_file(&path, |t| t.push(("layer1.weight", vec![2, 2], vec![0.0; 4])), |_| {});
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(matches!(&error, CheckpointError::UnexpectedTensor { name, .. } if name == "layer1.weight"), "{error:?}");
    Ok(())
}

#[test]
fn missing_or_bad_metadata_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.safetensors");
    for (key, value) in [
        ("format", Some("wengert-mlp-checkpoint-v2")),
        ("sizes", Some("3-x")),
        ("sizes", Some("3")),
        ("sizes", Some("3-0")),
        ("sizes", Some("3-99999999999")),
        ("activation", Some("swish")),
        ("format", None),
        ("sizes", None),
        ("activation", None),
    ] {
        model_file(
            &path,
            |_| {},
            |m| {
                m.retain(|(k, _)| *k != key);
                if let Some(value) = value {
                    m.push((key, value));
                }
            },
        );
        let error = Mlp::<f32>::load(&path).unwrap_err();
        let ok = match value {
            Some(text) => {
                matches!(&error, CheckpointError::BadMetadata { key: k, value: v, .. } if k == key && v == text)
            }
            None => matches!(&error, CheckpointError::MissingMetadata { key: k, .. } if k == key),
        };
        assert!(ok, "{key} = {value:?}: {error:?}");
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    }
    Ok(())
}

#[test]
fn a_training_checkpoint_is_not_a_model_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("checkpoint.safetensors");
    let model = mlp::<f32>(&[3, 2], Activation::Relu);
    let mut checkpoint = Checkpoint::from_training(&model, &Adam::new(0.01));
    checkpoint.set_metadata("format", "wengert-mlp-checkpoint-v2");
    checkpoint.save(&path)?;
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(matches!(&error, CheckpointError::BadMetadata { key, .. } if key == "format"), "{error:?}");
    Ok(())
}

#[test]
fn saving_replaces_the_file_and_a_failed_save_keeps_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    mlp::<f32>(&[3, 2], Activation::Relu).save(&path)?;
    let second = mlp::<f32>(&[3, 4, 2], Activation::Tanh);
    second.save(&path)?;
    assert_eq!(Mlp::<f32>::load(&path)?, second);
    // A directory in the way: an Io error naming it, and nothing left beside it.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked)?;
    let error = second.save(&blocked).unwrap_err();
    assert!(matches!(&error, CheckpointError::Io { path: p, .. } if p == &blocked), "{error:?}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    assert_eq!(names, ["blocked", "model.safetensors"]);
    Ok(())
}
