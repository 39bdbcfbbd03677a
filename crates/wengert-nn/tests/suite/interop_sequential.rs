//! PyTorch interop for `Sequential` models against real PyTorch output. The fixtures in
//! tests/fixtures/torch (`seq_*`) were made by its make_sequential_fixtures.py (see there
//! for how to regenerate them); these tests need no PyTorch.
//!
//! - PyTorch to wengert: two CNNs PyTorch saved import, one from a plain state dict with
//!   the architecture given, one whose metadata holds it, and wengert's forward pass gives
//!   the logits PyTorch computed to 1e-5.
//! - wengert to PyTorch: an export is what the export still writes, PyTorch loaded it
//!   strictly into the `nn.Sequential` its metadata describes, and the logits it computed
//!   are wengert's own; exports carry the same names and shapes as PyTorch's own state dict,
//!   and export then import is the identity.
//! - Bad files (missing, unexpected, misshapen, wrong dtype, truncated, wrong or absent
//!   architecture) are typed errors naming the file and the tensor, never panics.

use rand::SeedableRng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wengert_nn::checkpoint::Checkpoint;
use wengert_nn::interop::torch::{
    load_sequential, save_sequential, sequential_from_bytes, sequential_to_bytes, TorchError,
};
use wengert_nn::{Layer, Model, ModelVars, Sequential};
use wengert_tape::{Real, Tape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The agreement asked of wengert and PyTorch computing the same CNN in the same dtype.
const TOLERANCE: f64 = 1e-5;

/// Set to write the `seq_wengert_*.safetensors` fixtures instead of checking them.
const WRITE_FIXTURES: &str = "WENGERT_WRITE_TORCH_FIXTURES";

/// The fixtures' architectures, as make_sequential_fixtures.py builds them.
const CNN_6X6: &str =
    "unflatten(1x6x6) | conv2d(1->2, k3, s1, p1) | relu | max_pool2d(k2, s2) | flatten | linear(18->3)";
const CNN_2X5X4: &str = "unflatten(2x5x4) | conv2d(2->3, k3x2, s1x2, p1x0) | tanh | avg_pool2d(k2, s1) | flatten | linear(12->4) | tanh | linear(4->2)";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// The `input` and `output` tensors of an io fixture.
fn inputs_and_outputs<T: Real>(name: &str) -> Result<(Tensor<T>, Tensor<T>), Box<dyn std::error::Error>> {
    let file = Checkpoint::<T>::load(fixture(name))?;
    Ok((file.get("input").ok_or("no input")?.clone(), file.get("output").ok_or("no output")?.clone()))
}

/// `model`'s logits on the rows of `x`, as f64.
fn forward<T: Real>(model: &Sequential<T>, x: &Tensor<T>) -> Vec<f64> {
    let tape = Tape::new();
    let y = model.on_tape(&tape).forward(tape.constant(x));
    let values = y.values();
    values.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect()
}

fn as_f64<T: Real>(tensor: &Tensor<T>) -> Vec<f64> {
    tensor.data().iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Imports the PyTorch-made CNN `stem` as a `Sequential<U>` and checks its logits on the
/// fixture's inputs (stored as `T`, the file's dtype) against PyTorch's.
fn import_reproduces_torch<T: Real, U: Real>(stem: &str, architecture: Option<&str>) -> TestResult {
    let (x, y) = inputs_and_outputs::<T>(&format!("{stem}.io.safetensors"))?;
    let model = load_sequential::<U>(fixture(&format!("{stem}.safetensors")), architecture)?;
    let ours = forward(&model, &x.cast::<U>());
    let difference = max_difference(&ours, &as_f64(&y));
    assert!(difference <= TOLERANCE, "{stem} as {}: wengert and PyTorch differ by {difference:e}", U::NAME);
    // The logits are not all alike, so the comparison tests the weights.
    let spread = as_f64(&y).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(spread > 0.05, "{stem}: PyTorch's logits are all near zero");
    Ok(())
}

#[test]
fn torch_cnns_import_and_give_torchs_logits() -> TestResult {
    // A plain save_file of the state dict: no metadata, the architecture is given.
    import_reproduces_torch::<f32, f32>("seq_torch_cnn_6x6_f32", Some(CNN_6X6))?;
    // The metadata holds the architecture; given too, it must agree.
    import_reproduces_torch::<f64, f64>("seq_torch_cnn_2x5x4_f64", None)?;
    import_reproduces_torch::<f64, f64>("seq_torch_cnn_2x5x4_f64", Some(CNN_2X5X4))?;
    // Into the other precision.
    import_reproduces_torch::<f32, f64>("seq_torch_cnn_6x6_f32", Some(CNN_6X6))?;
    import_reproduces_torch::<f64, f32>("seq_torch_cnn_2x5x4_f64", None)
}

#[test]
fn imported_linear_weights_are_torchs_transposed_and_conv_weights_as_stored() -> TestResult {
    let file = Checkpoint::<f32>::load(fixture("seq_torch_cnn_6x6_f32.safetensors"))?;
    let model = load_sequential::<f32>(fixture("seq_torch_cnn_6x6_f32.safetensors"), Some(CNN_6X6))?;
    let (Layer::Conv2d(conv), Layer::Linear(linear)) = (&model.layers[1], &model.layers[5]) else {
        panic!("layers 1 and 5 are conv2d and linear");
    };
    assert_eq!(Some(&conv.weight), file.get("1.weight"));
    assert_eq!(Some(&conv.bias), file.get("1.bias"));
    let torch_weight = file.get("5.weight").ok_or("no 5.weight")?;
    assert_eq!(torch_weight.shape().dims()[..], [3, 18]);
    for (i, j) in [(0, 0), (17, 2), (4, 1), (9, 0)] {
        assert_eq!(linear.weight[(i, j)], torch_weight[(j, i)], "weight ({i}, {j})");
    }
    Ok(())
}

/// Asserts two safetensors files hold the same tensors (names, shapes, bits) and metadata.
fn assert_same_file<T: Real>(a: &Path, b: &Path) -> TestResult {
    let (a, b) = (Checkpoint::<T>::load(a)?, Checkpoint::<T>::load(b)?);
    assert_eq!(a.names().collect::<Vec<_>>(), b.names().collect::<Vec<_>>(), "tensor names");
    for (name, tensor) in a.iter() {
        let other = b.get(name).ok_or("missing tensor")?;
        assert_eq!(tensor.shape(), other.shape(), "{name}: shape");
        let bits = |t: &Tensor<T>| t.data().iter().map(|v| v.to_f64().map(f64::to_bits)).collect::<Vec<_>>();
        assert_eq!(bits(tensor), bits(other), "{name}: values");
    }
    assert_eq!(a.metadata_entries().collect::<Vec<_>>(), b.metadata_entries().collect::<Vec<_>>(), "metadata");
    Ok(())
}

#[test]
fn reexported_torch_cnns_hold_torchs_tensors_bit_for_bit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("again.safetensors");
    // The f64 fixture was saved with the metadata an export writes: the whole file matches.
    save_sequential(&load_sequential::<f64>(fixture("seq_torch_cnn_2x5x4_f64.safetensors"), None)?, &path)?;
    assert_same_file::<f64>(&fixture("seq_torch_cnn_2x5x4_f64.safetensors"), &path)?;

    // The f32 one is a plain state dict: its tensors match, and the export adds metadata.
    save_sequential(&load_sequential::<f32>(fixture("seq_torch_cnn_6x6_f32.safetensors"), Some(CNN_6X6))?, &path)?;
    let (torch, ours) =
        (Checkpoint::<f32>::load(fixture("seq_torch_cnn_6x6_f32.safetensors"))?, Checkpoint::<f32>::load(&path)?);
    assert_eq!(torch.names().collect::<Vec<_>>(), ours.names().collect::<Vec<_>>());
    for (name, tensor) in torch.iter() {
        assert_eq!(Some(tensor), ours.get(name), "{name}");
    }
    assert_eq!(ours.metadata_entries().collect::<Vec<_>>(), [("architecture", CNN_6X6), ("format", "pt")]);
    Ok(())
}

#[test]
fn fresh_exports_have_torchs_names_and_shapes() -> TestResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for (stem, architecture) in [("seq_torch_cnn_6x6_f32", CNN_6X6), ("seq_torch_cnn_2x5x4_f64", CNN_2X5X4)] {
        let model = Sequential::<f32>::from_architecture(architecture, &mut rng)?;
        let ours = Checkpoint::<f32>::from_bytes(&sequential_to_bytes(&model)?, "ours")?;
        // PyTorch's file, whatever its dtype, read through f64 (f32 to f64 is exact).
        let torch_bytes = std::fs::read(fixture(&format!("{stem}.safetensors")))?;
        let torch = Checkpoint::<f32>::from_bytes(&torch_bytes, stem)
            .map(|file| file.iter().map(|(n, t)| (n.to_string(), t.shape())).collect::<Vec<_>>())
            .or_else(|_| {
                Checkpoint::<f64>::from_bytes(&torch_bytes, stem)
                    .map(|file| file.iter().map(|(n, t)| (n.to_string(), t.shape())).collect::<Vec<_>>())
            })?;
        let ours: Vec<_> = ours.iter().map(|(n, t)| (n.to_string(), t.shape())).collect();
        assert_eq!(ours, torch, "{stem}: names and shapes");
    }
    Ok(())
}

#[test]
fn export_then_import_round_trips_bit_for_bit() -> TestResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for architecture in [
        CNN_6X6,
        CNN_2X5X4,
        "linear(5->7) | sigmoid | linear(7->2)",
        "unflatten(3x8x8) | conv2d(3->4, k3, s2, p1) | relu | conv2d(4->2, k2) | avg_pool2d(k3) | flatten | linear(2->2)",
        "unflatten(1x4x4) | max_pool2d(k2) | flatten | relu",
    ] {
        let model = Sequential::<f32>::from_architecture(architecture, &mut rng)?;
        assert_eq!(sequential_from_bytes::<f32>(&sequential_to_bytes(&model)?, "mem", None)?, model, "{architecture}");
        let model = Sequential::<f64>::from_architecture(architecture, &mut rng)?;
        let bytes = sequential_to_bytes(&model)?;
        assert_eq!(sequential_from_bytes::<f64>(&bytes, "mem", Some(architecture))?, model, "{architecture}");
    }
    Ok(())
}

/// A CNN whose numbers come from a formula, not a random generator, so the export fixture
/// does not change when the initialisers do: multiples of 1/16 in [-1/2, 1/2).
fn formula_cnn() -> Result<Sequential<f64>, Box<dyn std::error::Error>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut model = Sequential::<f64>::from_architecture(
        "unflatten(2x5x5) | conv2d(2->3, k3, s1, p1) | relu | max_pool2d(k2, s2) | flatten | linear(12->5) | tanh | linear(5->3)",
        &mut rng,
    )?;
    let value = |n: usize, salt: usize| ((7 * n + 3 * salt) % 17) as f64 / 16.0 - 0.5;
    for (salt, parameter) in model.parameters_mut().enumerate() {
        *parameter = Tensor::from_fn(parameter.shape(), |n| value(n, salt));
    }
    Ok(model)
}

#[test]
fn sequential_exports_match_the_committed_fixtures() -> TestResult {
    let model = formula_cnn()?;
    let committed = fixture("seq_wengert_cnn_2x5x5_f64.safetensors");
    if std::env::var_os(WRITE_FIXTURES).is_some() {
        save_sequential(&model, &committed)?;
    }
    let dir = tempfile::tempdir()?;
    let fresh = dir.path().join("fresh.safetensors");
    save_sequential(&model, &fresh)?;
    assert_same_file::<f64>(&committed, &fresh)?;
    assert_eq!(load_sequential::<f64>(&committed, None)?, model);
    Ok(())
}

#[test]
fn torch_reproduces_wengerts_logits_from_its_export() -> TestResult {
    // PyTorch built the nn.Sequential from the export's metadata and loaded it strictly.
    let (x, y) = inputs_and_outputs::<f64>("seq_wengert_cnn_2x5x5_f64.torch-io.safetensors")?;
    let model = formula_cnn()?;
    assert_eq!(y.shape().dims()[..], [x.shape().rows(), 3]);
    let difference = max_difference(&forward(&model, &x), &as_f64(&y));
    assert!(difference <= TOLERANCE, "PyTorch and wengert differ by {difference:e}");
    Ok(())
}

#[test]
fn saving_into_a_missing_directory_is_an_error_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let model = Sequential::<f32>::from_architecture("linear(2->1)", &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))?;
    let error = save_sequential(&model, dir.path().join("missing/cnn.safetensors")).unwrap_err();
    assert!(matches!(error, TorchError::File(_)), "{error}");
    assert!(error.to_string().contains("missing/cnn.safetensors"), "{error}");
    Ok(())
}

// ---- Bad files ------------------------------------------------------------------------

/// A safetensors file of the given tensors, each element 0.25 (zero bytes for types other
/// than f32 and f64), with the given metadata.
fn raw_file(tensors: &[(&str, Dtype, &[usize])], metadata: &[(&str, &str)]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|&(_, dtype, dims)| {
            let n: usize = dims.iter().product();
            match dtype {
                Dtype::F32 => 0.25_f32.to_le_bytes().repeat(n),
                Dtype::F64 => 0.25_f64.to_le_bytes().repeat(n),
                other => vec![0; n * other.size()],
            }
        })
        .collect();
    let views = tensors
        .iter()
        .zip(&data)
        .map(|(&(name, dtype, dims), bytes)| (name, TensorView::new(dtype, dims.to_vec(), bytes).expect("view")));
    let metadata: Option<HashMap<String, String>> =
        (!metadata.is_empty()).then(|| metadata.iter().map(|&(k, v)| (k.to_string(), v.to_string())).collect());
    safetensors::serialize(views, &metadata).expect("serialize")
}

/// The f32 tensors of PyTorch's `CNN_6X6`, to edit.
fn good_tensors() -> Vec<(&'static str, Dtype, &'static [usize])> {
    vec![
        ("1.weight", Dtype::F32, &[2, 1, 3, 3]),
        ("1.bias", Dtype::F32, &[2]),
        ("5.weight", Dtype::F32, &[3, 18]),
        ("5.bias", Dtype::F32, &[3]),
    ]
}

/// `good_tensors` with `key` replaced by `replacement` (or removed if `None`).
fn edited(key: &str, replacement: Option<(Dtype, &'static [usize])>) -> Vec<(&'static str, Dtype, &'static [usize])> {
    good_tensors()
        .into_iter()
        .filter_map(|t| if t.0 == key { replacement.map(|(dtype, dims)| (t.0, dtype, dims)) } else { Some(t) })
        .collect()
}

/// Reads `bytes` as if from `bad.safetensors` with `CNN_6X6` given, expecting an error
/// whose message names the file and `names`.
fn load_error(bytes: &[u8], names: &str) -> TorchError {
    let error = sequential_from_bytes::<f32>(bytes, "bad.safetensors", Some(CNN_6X6)).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("bad.safetensors"), "no file in: {message}");
    assert!(message.contains(names), "no `{names}` in: {message}");
    error
}

#[test]
fn the_good_tensors_load() -> TestResult {
    // The bad files below are edits of this one, which loads.
    let model = sequential_from_bytes::<f32>(&raw_file(&good_tensors(), &[]), "good.safetensors", Some(CNN_6X6))?;
    assert_eq!(model.to_string(), CNN_6X6);
    Ok(())
}

#[test]
fn a_missing_tensor_is_named_with_its_module() {
    for (key, layer) in [("1.weight", "conv2d(1->2, k3, s1, p1)"), ("5.bias", "linear(18->3)")] {
        let error = load_error(
            &raw_file(&edited(key, None), &[]),
            &format!("no tensor `{key}` (module {} of the nn.Sequential, `{layer}`", &key[..1]),
        );
        assert!(matches!(error, TorchError::MissingParameter { key: ref missing, .. } if missing == key), "{error}");
    }
    // An empty state dict misses the first one.
    let error = load_error(&raw_file(&[], &[]), "`1.weight`");
    assert!(matches!(error, TorchError::MissingParameter { module: 1, .. }), "{error}");
}

#[test]
fn misshapen_tensors_are_named_with_the_shape_expected() {
    let cases: [(&str, &'static [usize], &str); 5] = [
        ("1.weight", &[2, 1, 3, 2], "`1.weight` has dimensions [2, 1, 3, 2], expected [2, 1, 3, 3] [out, in, kh, kw]"),
        ("1.weight", &[2, 9], "`1.weight` has dimensions [2, 9]"),
        ("1.bias", &[3], "`1.bias` has dimensions [3], expected [2] [out]"),
        // wengert's own [in, out] under PyTorch's name.
        (
            "5.weight",
            &[18, 3],
            "`5.weight` has dimensions [18, 3], expected [3, 18] [out, in], as module 5 `linear(18->3)`",
        ),
        ("5.bias", &[1, 3], "`5.bias` has dimensions [1, 3]"),
    ];
    for (key, dims, message) in cases {
        let error = load_error(&raw_file(&edited(key, Some((Dtype::F32, dims))), &[]), message);
        assert!(matches!(error, TorchError::BadShape { .. }), "{error}");
    }
}

#[test]
fn unexpected_tensors_are_refused_with_why() {
    for (key, reason) in [
        ("2.weight", "module 2 is `relu`, which holds no tensors"),
        ("0.weight", "module 0 is `unflatten(1x6x6)`, which holds no tensors"),
        ("6.bias", "the architecture has 6 modules, at indices 0 to 5"),
        (
            "1.running_mean",
            "module 1 is `conv2d(1->2, k3, s1, p1)`, which holds a `weight` and a `bias`, no `running_mean`",
        ),
        ("model.1.weight", "strip any prefix"),
        ("layer1.weight", "wengert's own checkpoint"),
        ("01.weight", "`<index>.weight`"),
    ] {
        let mut tensors = good_tensors();
        tensors.push((key, Dtype::F32, &[2]));
        let error = load_error(&raw_file(&tensors, &[]), &format!("unexpected tensor `{key}`: "));
        assert!(error.to_string().contains(reason), "no `{reason}` in: {error}");
        assert!(matches!(error, TorchError::UnexpectedKey { .. }), "{error}");
    }
    // A BatchNorm's integer step counter is a tensor too.
    let mut tensors = good_tensors();
    tensors.push(("3.num_batches_tracked", Dtype::I64, &[]));
    let error = load_error(&raw_file(&tensors, &[]), "`3.num_batches_tracked`: module 3 is `max_pool2d(k2, s2)`");
    assert!(matches!(error, TorchError::UnexpectedKey { .. }), "{error}");
}

#[test]
fn tensors_of_the_wrong_dtype_are_named() {
    for dtype in [Dtype::BF16, Dtype::F16, Dtype::I32] {
        let error = load_error(&raw_file(&edited("5.weight", Some((dtype, &[3, 18]))), &[]), "`5.weight`");
        assert!(matches!(error, TorchError::UnsupportedDtype { .. }), "{error}");
    }
    let error = load_error(&raw_file(&edited("1.bias", Some((Dtype::F64, &[2]))), &[]), "`1.bias` holds f64");
    assert!(matches!(error, TorchError::MixedDtypes { .. }), "{error}");
    // An integer scalar where a tensor belongs.
    let error = load_error(&raw_file(&edited("5.bias", Some((Dtype::I64, &[]))), &[]), "`5.bias` holds an integer");
    assert!(matches!(error, TorchError::UnsupportedDtype { .. }), "{error}");
}

#[test]
fn the_architecture_must_be_known_parse_fit_and_agree() -> TestResult {
    let bytes = raw_file(&good_tensors(), &[]);
    let error = sequential_from_bytes::<f32>(&bytes, "bare.safetensors", None).unwrap_err();
    assert!(matches!(error, TorchError::MissingArchitecture { .. }), "{error}");
    assert!(error.to_string().starts_with("torch state dict bare.safetensors: no metadata field `architecture`"));

    let error = sequential_from_bytes::<f32>(&bytes, "bad.safetensors", Some("conv2d(1->2) | relu")).unwrap_err();
    assert!(matches!(error, TorchError::BadArchitecture { origin: "the given", .. }), "{error}");
    assert!(error.to_string().contains("layer 0 `conv2d(1->2)`: conv2d needs a kernel"), "{error}");

    // Layers that do not fit: 2 x 3 x 3 = 18 features, not 19.
    let text = "unflatten(1x6x6) | conv2d(1->2, k3, p1) | relu | max_pool2d(k2) | flatten | linear(19->3)";
    let error = load_error(&raw_file(&good_tensors(), &[("architecture", text)]), "metadata field `architecture`'s");
    assert!(matches!(error, TorchError::BadArchitecture { ref reason, .. } if reason.layer == 5), "{error}");

    // The metadata's and the given one differ; the same model spelt differently agrees.
    let other = CNN_6X6.replace("relu", "tanh");
    let bytes = raw_file(&good_tensors(), &[("architecture", &other)]);
    let error =
        load_error(&bytes, "metadata field `architecture` is `unflatten(1x6x6) | conv2d(1->2, k3, s1, p1) | tanh");
    assert!(matches!(error, TorchError::ArchitectureMismatch { .. }), "{error}");
    let spelt = "unflatten(1x6x6)|conv2d(1->2, k3, p1)|tanh|max_pool2d(k2)|flatten|linear(18->3)";
    assert_eq!(sequential_from_bytes::<f32>(&bytes, "ok", Some(spelt))?.to_string(), other);
    Ok(())
}

#[test]
fn another_frameworks_format_is_refused() {
    let error = load_error(&raw_file(&good_tensors(), &[("format", "wengert-sequential-v1")]), "wengert-sequential-v1");
    assert!(matches!(error, TorchError::WrongFormat { .. }), "{error}");
}

#[test]
fn wengerts_own_sequential_file_is_refused_by_its_format() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("own.safetensors");
    Sequential::<f32>::from_architecture(CNN_6X6, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0))?.save(&path)?;
    let error = load_sequential::<f32>(&path, None).unwrap_err();
    assert!(matches!(error, TorchError::WrongFormat { .. }), "{error}");
    assert!(error.to_string().contains("own.safetensors"), "{error}");
    Ok(())
}

#[test]
fn truncated_files_are_errors_at_every_length() -> TestResult {
    let bytes = std::fs::read(fixture("seq_torch_cnn_6x6_f32.safetensors"))?;
    for length in 0..bytes.len() {
        let error = sequential_from_bytes::<f32>(&bytes[..length], "cut.safetensors", Some(CNN_6X6)).unwrap_err();
        assert!(matches!(error, TorchError::File(_)), "{length} bytes: {error}");
        assert!(error.to_string().contains("cut.safetensors"), "{length} bytes: {error}");
    }
    let error = load_sequential::<f32>(fixture("no-such-file.safetensors"), Some(CNN_6X6)).unwrap_err();
    assert!(matches!(error, TorchError::File(_)) && error.to_string().contains("no-such-file"), "{error}");
    Ok(())
}
