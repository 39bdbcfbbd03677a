//! PyTorch interop against real PyTorch output, both ways. The fixtures in
//! tests/fixtures/torch were made by its make_fixtures.py (see there for how to regenerate
//! them); these tests need no PyTorch.
//!
//! - PyTorch to wengert: models PyTorch saved (`torch_*.safetensors`) import, and
//!   wengert's forward pass reproduces the outputs PyTorch computed to 1e-6.
//! - wengert to PyTorch: wengert's exports (`wengert_*.safetensors`) are what the export
//!   still writes, PyTorch loaded them strictly into `nn.Sequential`, and the outputs it
//!   computed (`wengert_*.torch-io.safetensors`) are wengert's own to 1e-6. A square
//!   model is among them, where a weight left in wengert's `[in, out]` layout would
//!   have loaded without complaint and only the outputs could tell.
//! - Both ways with layer norm, `nn.Sequential(Linear, LayerNorm, act, ..., Linear)`: a
//!   plain PyTorch state dict (layout read from its indices, PyTorch's default eps) and one
//!   with metadata (another eps), and a wengert export PyTorch read back; a small model
//!   computed by hand pins the layout (gamma is `1.weight`, beta `1.bias`).
//! - Bad files (missing, misnamed, misshapen, non-chaining, transposed, truncated, wrong
//!   dtype or metadata) are typed errors naming the file and the tensor, never panics.

use rand::SeedableRng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use wengert_nn::checkpoint::Checkpoint;
use wengert_nn::interop::torch::{load_mlp, mlp_from_bytes, mlp_to_bytes, save_mlp, TorchError};
use wengert_nn::{Activation, LayerNorm, Linear, Mlp};
use wengert_tape::{Real, Shape, Tape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The agreement asked of wengert and PyTorch computing the same model in the same dtype.
const TOLERANCE: f64 = 1e-6;

/// Set to write the `wengert_*.safetensors` fixtures instead of checking them.
const WRITE_FIXTURES: &str = "WENGERT_WRITE_TORCH_FIXTURES";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// The `input` and `output` tensors of an `*.io.safetensors` fixture.
fn inputs_and_outputs<T: Real>(name: &str) -> Result<(Tensor<T>, Tensor<T>), Box<dyn std::error::Error>> {
    let file = Checkpoint::<T>::load(fixture(name))?;
    let input = file.get("input").ok_or("no input")?.clone();
    let output = file.get("output").ok_or("no output")?.clone();
    Ok((input, output))
}

/// `mlp`'s outputs on the rows of `x`, as f64.
fn forward<T: Real>(mlp: &Mlp<T>, x: &Tensor<T>) -> Vec<f64> {
    let tape = Tape::new();
    let y = mlp.on_tape(&tape).forward(tape.constant(x));
    let values = y.values();
    values.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect()
}

fn as_f64<T: Real>(tensor: &Tensor<T>) -> Vec<f64> {
    tensor.data().iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect()
}

/// The largest elementwise difference.
fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Imports the PyTorch-made model `stem` as an `Mlp<U>` and checks its outputs on the
/// fixture's inputs (stored as `T`, the file's dtype) against PyTorch's.
fn import_reproduces_torch<T: Real, U: Real>(stem: &str, hidden: Option<Activation>, tolerance: f64) -> TestResult {
    let (x, y) = inputs_and_outputs::<T>(&format!("{stem}.io.safetensors"))?;
    let mlp = load_mlp::<U>(fixture(&format!("{stem}.safetensors")), hidden)?;
    assert_eq!(mlp.sizes()[0], x.shape().cols(), "{stem}: inputs");
    let difference = max_difference(&forward(&mlp, &x.cast::<U>()), &as_f64(&y));
    assert!(difference <= tolerance, "{stem} as {}: wengert and PyTorch differ by {difference:e}", U::NAME);
    Ok(())
}

#[test]
fn torch_models_import_and_reproduce_torch_outputs() -> TestResult {
    // Plain `save_file(model.state_dict())`: no metadata, the activation is given.
    import_reproduces_torch::<f32, f32>("torch_relu_4_5_3", Some(Activation::Relu), TOLERANCE)?;
    import_reproduces_torch::<f64, f64>("torch_softplus_3_6_2", Some(Activation::Softplus), TOLERANCE)?;
    // Metadata names the activation.
    import_reproduces_torch::<f64, f64>("torch_tanh_3_3_3_3", None, TOLERANCE)?;
    import_reproduces_torch::<f32, f32>("torch_sigmoid_2_4_1", None, TOLERANCE)?;
    import_reproduces_torch::<f64, f64>("torch_tanh_3_3_3_3", Some(Activation::Tanh), TOLERANCE)?;
    // LayerNorms: a plain state dict (layout from the indices, eps 1e-5), and one whose
    // metadata names the layout and eps 1e-3.
    import_reproduces_torch::<f32, f32>("torch_relu_ln_4_5_3", Some(Activation::Relu), TOLERANCE)?;
    import_reproduces_torch::<f64, f64>("torch_tanh_ln_3_6_4_2", None, TOLERANCE)?;
    Ok(())
}

#[test]
fn torch_layer_norms_import_as_wengerts_with_their_eps() -> TestResult {
    let mlp = load_mlp::<f32>(fixture("torch_relu_ln_4_5_3.safetensors"), Some(Activation::Relu))?;
    assert_eq!((mlp.sizes(), mlp.norms.len(), mlp.layer_norm_eps()), (vec![4, 5, 3], 1, Some(1e-5)));
    let file = Checkpoint::<f32>::load(fixture("torch_relu_ln_4_5_3.safetensors"))?;
    assert_eq!(Some(&mlp.norms[0].gamma), file.get("1.weight"));
    assert_eq!(Some(&mlp.norms[0].beta), file.get("1.bias"));
    assert_eq!(mlp.layers[1].dims(), (5, 3), "3.weight is the second Linear layer");

    let mlp = load_mlp::<f64>(fixture("torch_tanh_ln_3_6_4_2.safetensors"), None)?;
    assert_eq!((mlp.sizes(), mlp.norms.len(), mlp.layer_norm_eps()), (vec![3, 6, 4, 2], 2, Some(1e-3)));
    // The fixture's gammas and betas were moved off ones and zeros, so the outputs test them.
    assert!(mlp.norms.iter().all(|n| n.gamma.data().iter().all(|&g| g != 1.0)));
    let (x, y) = inputs_and_outputs::<f64>("torch_tanh_ln_3_6_4_2.io.safetensors")?;
    let mut swapped = mlp.clone();
    for norm in &mut swapped.norms {
        std::mem::swap(&mut norm.gamma, &mut norm.beta);
    }
    assert!(max_difference(&forward(&swapped, &x), &as_f64(&y)) > 1e-3, "gamma and beta swapped still fit");
    Ok(())
}

#[test]
fn torch_models_import_into_the_other_precision() -> TestResult {
    // f32 to f64 is exact, so only PyTorch's f32 rounding separates the two.
    import_reproduces_torch::<f32, f64>("torch_relu_4_5_3", Some(Activation::Relu), TOLERANCE)?;
    import_reproduces_torch::<f32, f64>("torch_sigmoid_2_4_1", None, TOLERANCE)?;
    // f64 to f32 rounds every weight and input by up to 2^-24 relative (6e-8), and the
    // forward pass runs in f32: a few times 1e-7 on outputs of order one.
    import_reproduces_torch::<f64, f32>("torch_tanh_3_3_3_3", None, 1e-5)?;
    import_reproduces_torch::<f64, f32>("torch_softplus_3_6_2", Some(Activation::Softplus), 1e-5)?;
    import_reproduces_torch::<f32, f64>("torch_relu_ln_4_5_3", Some(Activation::Relu), TOLERANCE)?;
    import_reproduces_torch::<f64, f32>("torch_tanh_ln_3_6_4_2", None, 1e-5)?;
    Ok(())
}

#[test]
fn imported_square_model_differs_from_its_transpose() -> TestResult {
    // The square fixture is only a test of the layout if transposing it changes the
    // outputs well beyond the tolerance.
    let (x, y) = inputs_and_outputs::<f64>("torch_tanh_3_3_3_3.io.safetensors")?;
    let mut mlp = load_mlp::<f64>(fixture("torch_tanh_3_3_3_3.safetensors"), None)?;
    for layer in &mut mlp.layers {
        let w = layer.weight.clone();
        layer.weight = Tensor::from_fn(w.shape(), |n| w[(n % 3, n / 3)]);
    }
    let difference = max_difference(&forward(&mlp, &x), &as_f64(&y));
    assert!(difference > 1e-3, "transposed weights give outputs within {difference:e} of PyTorch's");
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
fn reexported_torch_models_hold_torchs_tensors_bit_for_bit() -> TestResult {
    // Import transposes to [in, out], export transposes back: PyTorch's own tensors.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("again.safetensors");
    save_mlp(&load_mlp::<f32>(fixture("torch_relu_4_5_3.safetensors"), Some(Activation::Relu))?, &path)?;
    let (torch, ours) =
        (Checkpoint::<f32>::load(fixture("torch_relu_4_5_3.safetensors"))?, Checkpoint::<f32>::load(&path)?);
    assert_eq!(torch.names().collect::<Vec<_>>(), ours.names().collect::<Vec<_>>());
    for (name, tensor) in torch.iter() {
        assert_eq!(Some(tensor), ours.get(name), "{name}");
    }
    // The original has no metadata; the export records the activation.
    assert_eq!(ours.metadata_entries().collect::<Vec<_>>(), [("activation", "relu"), ("format", "pt")]);

    save_mlp(&load_mlp::<f64>(fixture("torch_tanh_3_3_3_3.safetensors"), None)?, &path)?;
    assert_same_file::<f64>(&fixture("torch_tanh_3_3_3_3.safetensors"), &path)?;

    // With LayerNorms, and the metadata PyTorch's file was saved with.
    save_mlp(&load_mlp::<f64>(fixture("torch_tanh_ln_3_6_4_2.safetensors"), None)?, &path)?;
    assert_same_file::<f64>(&fixture("torch_tanh_ln_3_6_4_2.safetensors"), &path)
}

/// A model whose numbers come from a formula, not a random generator, so the export
/// fixture does not change when the initialisers do: weights and biases are multiples of
/// 1/16 in [-1/2, 1/2), and no weight matrix is symmetric.
fn formula_mlp<T: Real>(sizes: &[usize], hidden: Activation) -> Mlp<T> {
    let layers = sizes
        .windows(2)
        .enumerate()
        .map(|(l, pair)| {
            let (inputs, outputs) = (pair[0], pair[1]);
            let weight = Tensor::from_fn(Shape::matrix(inputs, outputs), |n| {
                let (i, j) = (n / outputs, n % outputs);
                T::lit(((7 * i + 13 * j + 5 * l) % 17) as f64 / 16.0 - 0.5)
            });
            let bias = Tensor::from_fn(Shape::vector(outputs), |j| T::lit(((3 * j + l) % 5) as f64 / 16.0 - 0.125));
            Linear::from_tensors(weight, bias)
        })
        .collect();
    Mlp { layers, hidden, norms: Vec::new() }
}

/// [`formula_mlp`] with a LayerNorm of `eps` in each hidden layer, gamma in [1/2, 3/2)
/// and beta in [-1/4, 1/4), also from a formula.
fn formula_mlp_with_layer_norm<T: Real>(sizes: &[usize], hidden: Activation, eps: f64) -> Mlp<T> {
    let mut mlp = formula_mlp::<T>(sizes, hidden);
    mlp.norms = sizes[1..sizes.len() - 1]
        .iter()
        .enumerate()
        .map(|(l, &width)| LayerNorm {
            gamma: Tensor::from_fn(Shape::vector(width), |j| T::lit(((5 * j + l) % 8) as f64 / 8.0 + 0.5)),
            beta: Tensor::from_fn(Shape::vector(width), |j| T::lit(((3 * j + 2 * l) % 9) as f64 / 16.0 - 0.25)),
            eps: T::lit(eps),
        })
        .collect();
    mlp
}

/// The models behind the committed `wengert_*` exports.
fn export_cases() -> (Mlp<f32>, Mlp<f64>, Mlp<f64>) {
    (
        formula_mlp(&[4, 5, 3], Activation::Relu),
        formula_mlp(&[3, 3, 3], Activation::Tanh),
        formula_mlp_with_layer_norm(&[4, 6, 5, 3], Activation::Tanh, 1e-5),
    )
}

/// Exports the formula model `stem` and checks it against the committed export, which
/// PyTorch read; with `WENGERT_WRITE_TORCH_FIXTURES` set, rewrites that fixture first.
fn export_matches_fixture<T: Real>(stem: &str, mlp: &Mlp<T>) -> TestResult {
    let mlp = mlp.clone();
    let committed = fixture(&format!("{stem}.safetensors"));
    if std::env::var_os(WRITE_FIXTURES).is_some() {
        save_mlp(&mlp, &committed)?;
    }
    let dir = tempfile::tempdir()?;
    let fresh = dir.path().join("fresh.safetensors");
    save_mlp(&mlp, &fresh)?;
    assert_same_file::<T>(&committed, &fresh)?;
    assert_eq!(load_mlp::<T>(&committed, None)?, mlp, "{stem}: the committed export loads back");
    Ok(())
}

#[test]
fn exports_match_the_committed_fixtures() -> TestResult {
    let (relu, tanh, tanh_ln) = export_cases();
    export_matches_fixture("wengert_relu_4_5_3_f32", &relu)?;
    export_matches_fixture("wengert_tanh_3_3_3_f64", &tanh)?;
    export_matches_fixture("wengert_tanh_ln_4_6_5_3_f64", &tanh_ln)
}

/// Checks PyTorch's outputs from the committed export `stem` against wengert's forward.
fn torch_reproduces_export<T: Real>(stem: &str, mlp: &Mlp<T>) -> TestResult {
    let (x, y) = inputs_and_outputs::<T>(&format!("{stem}.torch-io.safetensors"))?;
    let outputs = mlp.sizes()[mlp.layers.len()];
    assert_eq!(y.shape(), Shape::matrix(x.shape().rows(), outputs), "{stem}: output shape");
    let ours = forward(mlp, &x);
    let difference = max_difference(&ours, &as_f64(&y));
    assert!(difference <= TOLERANCE, "{stem}: PyTorch and wengert differ by {difference:e}");
    Ok(())
}

#[test]
fn torch_reproduces_wengerts_outputs_from_its_exports() -> TestResult {
    let (relu, tanh, tanh_ln) = export_cases();
    torch_reproduces_export("wengert_relu_4_5_3_f32", &relu)?;
    torch_reproduces_export("wengert_tanh_3_3_3_f64", &tanh)?;
    // PyTorch built nn.Sequential(Linear, LayerNorm, Tanh, ...) from the export's metadata.
    torch_reproduces_export("wengert_tanh_ln_4_6_5_3_f64", &tanh_ln)
}

#[test]
fn export_then_import_round_trips_bit_for_bit() -> TestResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for hidden in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Softplus] {
        let mlp = Mlp::<f32>::new(&[5, 7, 7, 2], hidden, &mut rng);
        assert_eq!(mlp_from_bytes::<f32>(&mlp_to_bytes(&mlp)?, "mem", None)?, mlp);
        let mlp = Mlp::<f64>::new(&[1, 3], hidden, &mut rng);
        assert_eq!(mlp_from_bytes::<f64>(&mlp_to_bytes(&mlp)?, "mem", None)?, mlp);
        let mlp = formula_mlp_with_layer_norm::<f32>(&[5, 7, 6, 2], hidden, 1e-5);
        assert_eq!(mlp_from_bytes::<f32>(&mlp_to_bytes(&mlp)?, "mem", None)?, mlp);
        let mlp = Mlp::<f64>::new(&[3, 4, 4, 4, 2], hidden, &mut rng).with_layer_norm(0.25);
        assert_eq!(mlp_from_bytes::<f64>(&mlp_to_bytes(&mlp)?, "mem", None)?, mlp);
    }
    Ok(())
}

#[test]
fn a_layer_normed_model_computed_by_hand_pins_the_layout() -> TestResult {
    // nn.Sequential(Linear(2, 2), LayerNorm(2, eps=0), ReLU(), Linear(2, 1)), by hand:
    // x = [1, 2], W0 = [[1, 0], [0, 3]] (out, in): z = [1, 6]; mean 3.5, variance 6.25, so
    // the normalised row is [-1, 1]; gamma [2, 0.5], beta [0.5, 0.25]: [-1.5, 0.75]; relu:
    // [0, 0.75]; W1 = [[4, 8]], b1 = 1: 4 x 0 + 8 x 0.75 + 1 = 7.
    let mut file = Checkpoint::new();
    file.insert("0.weight", Tensor::from_rows(&[[1.0_f64, 0.0], [0.0, 3.0]]));
    file.insert("0.bias", Tensor::from_slice(&[0.0, 0.0]));
    file.insert("1.weight", Tensor::from_slice(&[2.0, 0.5]));
    file.insert("1.bias", Tensor::from_slice(&[0.5, 0.25]));
    file.insert("3.weight", Tensor::from_rows(&[[4.0, 8.0]]));
    file.insert("3.bias", Tensor::from_slice(&[1.0]));
    file.set_metadata("layer_norm", "true");
    file.set_metadata("layer_norm_eps", "0");
    let bytes = file.to_bytes()?;
    let mlp = mlp_from_bytes::<f64>(&bytes, "by-hand.safetensors", Some(Activation::Relu))?;
    assert_eq!(forward(&mlp, &Tensor::from_rows(&[[1.0, 2.0]])), [7.0]);
    assert_eq!(mlp.norms[0].gamma.data(), &[2.0, 0.5]);
    assert_eq!(mlp.norms[0].eps, 0.0);
    // The export writes back the same tensors under the same names.
    let again = Checkpoint::<f64>::from_bytes(&mlp_to_bytes(&mlp)?, "again")?;
    assert_eq!(again.names().collect::<Vec<_>>(), file.names().collect::<Vec<_>>());
    for (name, tensor) in file.iter() {
        assert_eq!(again.get(name), Some(tensor), "{name}");
    }
    assert_eq!(again.metadata("layer_norm_eps"), Some("0"));
    Ok(())
}

#[test]
fn save_replaces_the_file_and_leaves_no_temporary_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("mlp.safetensors");
    let first = formula_mlp::<f32>(&[2, 3], Activation::Relu);
    let second = formula_mlp::<f32>(&[4, 4, 1], Activation::Sigmoid);
    save_mlp(&first, &path)?;
    save_mlp(&second, &path)?;
    assert_eq!(load_mlp::<f32>(&path, None)?, second);
    assert_eq!(fs::read_dir(dir.path())?.count(), 1);

    let error = save_mlp(&first, dir.path().join("missing/mlp.safetensors")).unwrap_err();
    assert!(matches!(error, TorchError::File(_)), "{error}");
    assert!(error.to_string().contains("missing/mlp.safetensors"), "{error}");
    Ok(())
}

#[test]
#[should_panic(expected = "save_mlp: layer 1 takes 4 inputs, layer 0 gives 3 outputs")]
fn saving_a_non_chaining_mlp_panics_naming_the_layers() {
    let mut mlp = formula_mlp::<f64>(&[2, 3, 1], Activation::Tanh);
    mlp.layers[1] = formula_mlp::<f64>(&[4, 1], Activation::Tanh).layers.remove(0);
    let _ = save_mlp(&mlp, "never-written.safetensors");
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

/// The f32 tensors of a PyTorch `Sequential(Linear(4, 5), act, Linear(5, 3))`, to edit.
fn good_tensors() -> Vec<(&'static str, Dtype, &'static [usize])> {
    vec![
        ("0.weight", Dtype::F32, &[5, 4]),
        ("0.bias", Dtype::F32, &[5]),
        ("2.weight", Dtype::F32, &[3, 5]),
        ("2.bias", Dtype::F32, &[3]),
    ]
}

/// Reads `bytes` as if from `bad.safetensors` with a relu between layers, expecting an
/// error whose message names the file and `names` (a tensor or field).
fn load_error(bytes: &[u8], names: &str) -> TorchError {
    let error = mlp_from_bytes::<f32>(bytes, "bad.safetensors", Some(Activation::Relu)).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("bad.safetensors"), "no file in: {message}");
    assert!(message.contains(names), "no `{names}` in: {message}");
    error
}

#[test]
fn the_good_tensors_load() -> TestResult {
    // The bad files below are edits of this one, which loads.
    let mlp = mlp_from_bytes::<f32>(&raw_file(&good_tensors(), &[]), "good.safetensors", Some(Activation::Relu))?;
    assert_eq!(mlp.sizes(), [4, 5, 3]);
    Ok(())
}

#[test]
fn a_missing_tensor_is_named() {
    let mut tensors = good_tensors();
    tensors.retain(|t| t.0 != "2.bias");
    let error = load_error(&raw_file(&tensors, &[]), "`2.bias`");
    assert!(matches!(error, TorchError::MissingKey { layer: 1, .. }), "{error}");

    // A gap in the indices: layers at 0 and 4 but none at 2.
    let tensors = [
        ("0.weight", Dtype::F32, &[5, 4][..]),
        ("0.bias", Dtype::F32, &[5][..]),
        ("4.weight", Dtype::F32, &[3, 5][..]),
        ("4.bias", Dtype::F32, &[3][..]),
    ];
    let error = load_error(&raw_file(&tensors, &[]), "`2.weight`");
    assert!(matches!(error, TorchError::MissingKey { layer: 1, .. }), "{error}");

    // nn.Linear(bias=False) has no bias to load.
    let mut tensors = good_tensors();
    tensors.retain(|t| t.0 != "0.bias");
    assert!(matches!(load_error(&raw_file(&tensors, &[]), "`0.bias`"), TorchError::MissingKey { layer: 0, .. }));
}

#[test]
fn a_file_without_tensors_is_refused() {
    let error = load_error(&raw_file(&[], &[("activation", "relu")]), "no tensors");
    assert!(matches!(error, TorchError::Empty { .. }), "{error}");
}

#[test]
fn unexpected_names_are_refused() {
    for (key, reason) in [
        ("1.weight", "odd index 1"),
        ("model.0.weight", "strip any prefix"),
        ("layers.0.weight", "strip any prefix"),
        ("layer1.bias", "wengert's own checkpoint"),
        ("0.running_mean", "`running_mean` is not a Linear layer's weight or bias"),
        ("00.weight", "`<index>.weight`"),
        ("weight", "`<index>.weight`"),
        ("99999999999999999999999.weight", "too large"),
    ] {
        let mut tensors = good_tensors();
        tensors.push((key, Dtype::F32, &[2]));
        let error = load_error(&raw_file(&tensors, &[]), &format!("`{key}`"));
        assert!(matches!(error, TorchError::UnexpectedKey { .. }), "{error}");
        assert!(error.to_string().contains(reason), "{error}");
    }
}

#[test]
fn misshapen_tensors_are_named() {
    let cases: [(&str, &[usize], &str); 5] = [
        ("0.bias", &[4], "`0.bias` has dimensions [4], expected [5], as many as `0.weight` has rows"),
        ("0.bias", &[1, 5], "`0.bias` has dimensions [1, 5]"),
        ("0.bias", &[], "`0.bias` has dimensions []"),
        ("0.weight", &[20], "`0.weight` has dimensions [20], expected a matrix [out, in]"),
        ("0.weight", &[0, 4], "`0.weight` has dimensions [0, 4]"),
    ];
    for (key, dims, message) in cases {
        let tensors: Vec<_> =
            good_tensors().into_iter().map(|t| if t.0 == key { (key, Dtype::F32, dims) } else { t }).collect();
        let error = load_error(&raw_file(&tensors, &[]), message);
        assert!(matches!(error, TorchError::BadShape { .. }), "{error}");
    }
}

#[test]
fn layers_that_do_not_chain_are_named() {
    let tensors = [
        ("0.weight", Dtype::F32, &[5, 4][..]),
        ("0.bias", Dtype::F32, &[5][..]),
        ("2.weight", Dtype::F32, &[3, 6][..]),
        ("2.bias", Dtype::F32, &[3][..]),
    ];
    let error = load_error(
        &raw_file(&tensors, &[]),
        "`2.weight` is [3, 6] (out, in), so takes 6 inputs, but `0.weight` gives 5",
    );
    assert!(matches!(error, TorchError::NotChained { .. }), "{error}");
}

#[test]
fn weights_stored_in_ones_own_layout_are_refused_where_a_file_can_show_it() -> TestResult {
    // Non-square weights written [in, out] under PyTorch's names: the shapes disagree.
    let tensors = [
        ("0.weight", Dtype::F32, &[4, 5][..]),
        ("0.bias", Dtype::F32, &[5][..]),
        ("2.weight", Dtype::F32, &[5, 3][..]),
        ("2.bias", Dtype::F32, &[3][..]),
    ];
    assert!(matches!(load_error(&raw_file(&tensors, &[]), "`0.bias`"), TorchError::BadShape { .. }));

    // A square model in wengert's own checkpoint: the shapes would fit, the names do not.
    let mlp = formula_mlp::<f32>(&[3, 3, 3], Activation::Relu);
    let mut checkpoint = Checkpoint::new();
    for (name, tensor) in mlp.parameter_names().into_iter().zip(mlp.parameters()) {
        checkpoint.insert(name, tensor.clone());
    }
    let error = load_error(&checkpoint.to_bytes()?, "wengert_nn::checkpoint");
    assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key.starts_with("layer")), "{error}");

    // A square model whose metadata says another framework's layout (Keras: [in, out]).
    let square = [
        ("0.weight", Dtype::F32, &[3, 3][..]),
        ("0.bias", Dtype::F32, &[3][..]),
        ("2.weight", Dtype::F32, &[3, 3][..]),
        ("2.bias", Dtype::F32, &[3][..]),
    ];
    let error = load_error(&raw_file(&square, &[("format", "tf")]), "\"tf\"");
    assert!(matches!(error, TorchError::WrongFormat { .. }), "{error}");
    // ... while "pt" or no format at all loads.
    mlp_from_bytes::<f32>(&raw_file(&square, &[("format", "pt")]), "ok", Some(Activation::Relu))?;
    Ok(())
}

#[test]
fn truncated_files_are_errors_at_every_length() -> TestResult {
    let bytes = fs::read(fixture("torch_tanh_3_3_3_3.safetensors"))?;
    for length in 0..bytes.len() {
        let error = mlp_from_bytes::<f64>(&bytes[..length], "cut.safetensors", None).unwrap_err();
        assert!(matches!(error, TorchError::File(_)), "{length} bytes: {error}");
        assert!(error.to_string().contains("cut.safetensors"), "{length} bytes: {error}");
    }
    let error = load_mlp::<f32>(fixture("no-such-file.safetensors"), None).unwrap_err();
    assert!(matches!(error, TorchError::File(_)) && error.to_string().contains("no-such-file"), "{error}");
    Ok(())
}

#[test]
fn only_f32_and_f64_tensors_load_and_not_mixed() {
    for dtype in [Dtype::BF16, Dtype::F16, Dtype::I64] {
        let tensors: Vec<_> =
            good_tensors().into_iter().map(|t| if t.0 == "2.weight" { (t.0, dtype, t.2) } else { t }).collect();
        let error = load_error(&raw_file(&tensors, &[]), "`2.weight`");
        assert!(matches!(error, TorchError::UnsupportedDtype { .. }), "{error}");
        assert!(error.to_string().contains("only f32 and f64"), "{error}");
    }
    let tensors: Vec<_> =
        good_tensors().into_iter().map(|t| if t.0 == "0.bias" { (t.0, Dtype::F64, t.2) } else { t }).collect();
    let error = load_error(&raw_file(&tensors, &[]), "`0.bias` holds f64 but `0.weight` holds f32");
    assert!(matches!(error, TorchError::MixedDtypes { .. }), "{error}");

    // A rank-3 tensor loads (convolutions have them), but is no Linear layer's weight.
    let tensors = [("0.weight", Dtype::F32, &[5, 4, 1][..]), ("0.bias", Dtype::F32, &[5][..])];
    let error =
        load_error(&raw_file(&tensors, &[]), "`0.weight` has dimensions [5, 4, 1], expected a matrix [out, in]");
    assert!(matches!(error, TorchError::BadShape { .. }), "{error}");
}

#[test]
fn the_activation_must_be_known_and_agree() -> TestResult {
    let bytes = raw_file(&good_tensors(), &[("activation", "swish")]);
    let error = load_error(&bytes, "\"swish\"");
    assert!(matches!(error, TorchError::BadActivation { .. }), "{error}");

    let bytes = raw_file(&good_tensors(), &[("activation", "tanh")]);
    let error = load_error(&bytes, "`activation` is tanh, but relu was asked for");
    assert!(matches!(error, TorchError::ActivationMismatch { given: Activation::Relu, stored: Activation::Tanh, .. }));
    assert_eq!(mlp_from_bytes::<f32>(&bytes, "ok", None)?.hidden, Activation::Tanh);

    let error = mlp_from_bytes::<f32>(&raw_file(&good_tensors(), &[]), "bare.safetensors", None).unwrap_err();
    assert!(matches!(error, TorchError::MissingActivation { .. }), "{error}");
    assert!(error.to_string().contains("bare.safetensors"), "{error}");
    Ok(())
}

// ---- Bad files with layer norm -----------------------------------------------------------

/// The f32 tensors of `Sequential(Linear(4, 5), LayerNorm(5), act, Linear(5, 3))`.
fn good_layer_norm_tensors() -> Vec<(&'static str, Dtype, &'static [usize])> {
    vec![
        ("0.weight", Dtype::F32, &[5, 4]),
        ("0.bias", Dtype::F32, &[5]),
        ("1.weight", Dtype::F32, &[5]),
        ("1.bias", Dtype::F32, &[5]),
        ("3.weight", Dtype::F32, &[3, 5]),
        ("3.bias", Dtype::F32, &[3]),
    ]
}

#[test]
fn a_plain_state_dict_with_layer_norms_loads_with_pytorchs_eps() -> TestResult {
    let mlp =
        mlp_from_bytes::<f32>(&raw_file(&good_layer_norm_tensors(), &[]), "ln.safetensors", Some(Activation::Relu))?;
    assert_eq!((mlp.sizes(), mlp.norms.len(), mlp.layer_norm_eps()), (vec![4, 5, 3], 1, Some(1e-5)));
    assert_eq!(mlp.norms[0].gamma.data(), &[0.25; 5]);
    Ok(())
}

#[test]
fn missing_or_misshapen_layer_norm_tensors_are_named() {
    let mut tensors = good_layer_norm_tensors();
    tensors.retain(|t| t.0 != "1.bias");
    let error = load_error(&raw_file(&tensors, &[]), "`1.bias` (the LayerNorm after Linear layer 0");
    assert!(matches!(error, TorchError::MissingNorm { layer: 0, .. }), "{error}");

    let mut tensors = good_layer_norm_tensors();
    tensors.retain(|t| t.0 != "3.weight");
    let error = load_error(
        &raw_file(&tensors, &[]),
        "`3.weight` (layer 1 of the nn.Sequential's Linear layers at 0, 3, 6, ...)",
    );
    assert!(matches!(error, TorchError::MissingKey { layer: 1, layer_norm: true, .. }), "{error}");

    // A LayerNorm after the last Linear layer needs a Linear layer after it.
    let mut tensors = good_layer_norm_tensors();
    tensors.extend([("4.weight", Dtype::F32, &[3][..]), ("4.bias", Dtype::F32, &[3][..])]);
    let error = load_error(&raw_file(&tensors, &[]), "`6.weight`");
    assert!(matches!(error, TorchError::MissingKey { layer: 2, .. }), "{error}");

    for (key, dims) in [("1.weight", &[4][..]), ("1.bias", &[1, 5][..])] {
        let tensors: Vec<_> = good_layer_norm_tensors()
            .into_iter()
            .map(|t| if t.0 == key { (key, Dtype::F32, dims) } else { t })
            .collect();
        let message = format!("`{key}` has dimensions {dims:?}, expected [5], as many as `0.weight` has rows");
        let error = load_error(&raw_file(&tensors, &[]), &message);
        assert!(matches!(error, TorchError::BadShape { .. }), "{error}");
    }
}

#[test]
fn layer_norm_metadata_decides_the_layout_and_must_be_readable() {
    // Metadata saying there is no layer norm: the LayerNorm's index is an odd one.
    let error = load_error(&raw_file(&good_layer_norm_tensors(), &[("layer_norm", "false")]), "odd index 1");
    assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key == "1.bias"), "{error}");
    // Metadata saying there is: the activations' indices hold no tensors.
    let error = load_error(&raw_file(&good_tensors(), &[("layer_norm", "true")]), "the activations sit at 2, 5, 8");
    assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key == "2.bias"), "{error}");

    for (key, value, expected) in [
        ("layer_norm", "yes", "true or false"),
        ("layer_norm_eps", "-0.1", "a finite number from 0"),
        ("layer_norm_eps", "inf", "a finite number from 0"),
    ] {
        let bytes = raw_file(&good_layer_norm_tensors(), &[("layer_norm", "true"), (key, value)]);
        let error = load_error(&bytes, &format!("`{key}` is \"{value}\"; expected {expected}"));
        assert!(matches!(error, TorchError::BadMetadata { key: ref field, .. } if field == key), "{error}");
    }
}

#[test]
fn a_wengert_checkpoint_with_layer_norm_is_refused_by_name() -> TestResult {
    let mlp = formula_mlp_with_layer_norm::<f32>(&[3, 3, 2], Activation::Relu, 1e-5);
    let mut checkpoint = Checkpoint::new();
    for (name, tensor) in mlp.parameter_names().into_iter().zip(mlp.parameters()).filter(|(n, _)| n.starts_with("norm"))
    {
        checkpoint.insert(name, tensor.clone());
    }
    let error = load_error(&checkpoint.to_bytes()?, "wengert_nn::checkpoint");
    assert!(matches!(error, TorchError::UnexpectedKey { ref key, .. } if key == "norm0.beta"), "{error}");
    Ok(())
}
