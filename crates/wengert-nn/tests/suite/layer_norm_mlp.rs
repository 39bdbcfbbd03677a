//! An `Mlp` with a LayerNorm in each hidden layer (Linear -> LayerNorm -> activation): its
//! forward pass against plain loops written here, its gradient against central
//! differences, gamma and beta trained by SGD and Adam through `fit`, and the model file
//! and the training checkpoint keeping them (and Adam's state for them) bit for bit.

use rand::SeedableRng;
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::data::Dataset;
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::train::{fit, TrainConfig};
use wengert_nn::{Activation, LayerNormVars, LinearVars, Mlp, MlpVars, LAYER_NORM_EPS};
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An MLP of `sizes` with layer norm, whose gammas and betas are moved off their initial
/// ones and zeros (so that a test would see them swapped, dropped or left at their start).
fn normed_mlp<T: Real>(sizes: &[usize], hidden: Activation, seed: u64) -> Mlp<T> {
    let mut mlp =
        Mlp::new(sizes, hidden, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed)).with_layer_norm(T::lit(1e-3));
    for (l, norm) in mlp.norms.iter_mut().enumerate() {
        norm.gamma = Tensor::from_fn(norm.gamma.shape(), |j| T::lit(0.5 + 0.25 * ((j + l) % 4) as f64));
        norm.beta = Tensor::from_fn(norm.beta.shape(), |j| T::lit(0.1 * ((3 * j + l) % 5) as f64 - 0.2));
    }
    mlp
}

/// The activations written out.
fn activate(hidden: Activation, z: f64) -> f64 {
    match hidden {
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        other => panic!("no hand-written {other:?} here"),
    }
}

/// The MLP's output on `rows` rows of `x`, with plain loops: for each hidden layer
/// `z = x W + b`, then each row centred by its mean, divided by `sqrt(var + eps)` with the
/// population variance, scaled by gamma and shifted by beta, then the activation.
fn forward_by_hand(mlp: &Mlp<f64>, x: &[f64], rows: usize) -> Vec<f64> {
    let mut a = x.to_vec();
    for (l, layer) in mlp.layers.iter().enumerate() {
        let (inputs, outputs) = layer.dims();
        let (w, b) = (layer.weight.data(), layer.bias.data());
        let mut z = vec![0.0; rows * outputs];
        for r in 0..rows {
            for j in 0..outputs {
                z[r * outputs + j] = b[j] + (0..inputs).map(|i| a[r * inputs + i] * w[i * outputs + j]).sum::<f64>();
            }
        }
        if l + 1 == mlp.layers.len() {
            return z;
        }
        let norm = &mlp.norms[l];
        let (gamma, beta) = (norm.gamma.data(), norm.beta.data());
        for row in z.chunks_mut(outputs) {
            let mean = row.iter().sum::<f64>() / outputs as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / outputs as f64;
            for (j, v) in row.iter_mut().enumerate() {
                *v = activate(mlp.hidden, (*v - mean) / (var + norm.eps).sqrt() * gamma[j] + beta[j]);
            }
        }
        a = z;
    }
    unreachable!("the last layer returns")
}

#[test]
fn forward_with_layer_norm_matches_plain_loops() {
    let rows = 5;
    let x: Vec<f64> = (0..rows * 3).map(|n| ((n * 7) % 11) as f64 / 3.0 - 1.5).collect();
    for hidden in [Activation::Tanh, Activation::Relu, Activation::Sigmoid] {
        let mlp = normed_mlp::<f64>(&[3, 6, 4, 2], hidden, 1);
        let tape = Tape::new();
        let y = mlp.on_tape(&tape).forward(tape.constant(&Tensor::new(Shape::matrix(rows, 3), x.clone())));
        let want = forward_by_hand(&mlp, &x, rows);
        assert_eq!(y.values().len(), want.len());
        for (got, want) in y.values().iter().zip(&want) {
            assert!((got - want).abs() < 1e-12, "{hidden:?}: {got} vs {want}");
        }
        // The norm is there: without it the outputs differ.
        let mut plain = mlp.clone();
        plain.norms.clear();
        let without = forward_without_norms(&plain, &x, rows);
        assert!(without.iter().zip(&want).any(|(a, b)| (a - b).abs() > 1e-3), "{hidden:?}");
    }
}

/// The output of a model without norms, through the tape (its forward pass has tests of its
/// own): only to show that the norms change the numbers.
fn forward_without_norms(mlp: &Mlp<f64>, x: &[f64], rows: usize) -> Vec<f64> {
    let tape = Tape::new();
    let width = mlp.sizes()[0];
    let y = mlp.on_tape(&tape).forward(tape.constant(&Tensor::new(Shape::matrix(rows, width), x.to_vec())));
    let values = y.values();
    values.to_vec()
}

#[test]
fn dropout_in_evaluation_records_what_forward_records_with_layer_norm() {
    let mlp = normed_mlp::<f64>(&[3, 4, 4, 2], Activation::Tanh, 2);
    let tape = Tape::new();
    let vars = mlp.on_tape(&tape);
    let x = tape.constant(&Tensor::from_fn(Shape::matrix(2, 3), |n| n as f64 - 2.5));
    let mut dropout = wengert_nn::Dropout::new(0.5, 3).expect("valid p");
    dropout.eval();
    assert_eq!(vars.forward_with_dropout(x, &mut dropout).to_tensor(), vars.forward(x).to_tensor());
}

/// The `MlpVars` of an MLP of `sizes` with layer norm, from leaves in the order of
/// `Mlp::parameters` (weight, bias, gamma, beta, weight, ...), written out here.
fn vars_in_parameter_order<'t>(v: &[Var<'t, f64>], layers: usize, hidden: Activation) -> MlpVars<'t, f64> {
    let mut next = v.iter().copied();
    let mut take = || next.next().expect("a leaf per parameter");
    let (mut linear, mut norms) = (Vec::new(), Vec::new());
    for l in 0..layers {
        linear.push(LinearVars { weight: take(), bias: take() });
        if l + 1 < layers {
            norms.push(LayerNormVars { gamma: take(), beta: take(), eps: 1e-3 });
        }
    }
    MlpVars { layers: linear.into_iter().collect(), hidden, norms: norms.into_iter().collect() }
}

#[test]
fn gradient_with_layer_norm_matches_central_differences() {
    let (rows, sizes) = (4, [3, 5, 4, 3]);
    let x = Tensor::from_fn(Shape::matrix(rows, 3), |n| ((n * 5) % 7) as f64 / 2.0 - 1.5);
    let labels = [0, 2, 1, 2];
    for hidden in [Activation::Tanh, Activation::Sigmoid] {
        let mlp = normed_mlp::<f64>(&sizes, hidden, 4);
        let parameters: Vec<Tensor<f64>> = mlp.parameters().cloned().collect();
        assert_eq!(parameters.len(), 3 * 2 + 2 * 2, "three Linear layers and two norms");
        let report = check_gradients(
            |tape, v| {
                vars_in_parameter_order(v, sizes.len() - 1, hidden)
                    .forward(tape.constant(&x))
                    .softmax_cross_entropy(&labels)
            },
            &parameters,
        );
        assert!(report.passes(Tolerance::default()), "{hidden:?}: {report}");
        // And the leaves `Mlp::on_tape` makes get the same gradient as the checked ones.
        let tape = Tape::new();
        let vars = mlp.on_tape(&tape);
        let grads = tape.backward(vars.forward(tape.constant(&x)).softmax_cross_entropy(&labels));
        let on_tape: Vec<Tensor<f64>> = vars.parameters().map(|p| grads.wrt_tensor(p)).collect();
        let tape = Tape::new();
        let leaves: Vec<Var<'_, f64>> = parameters.iter().map(|p| tape.var(p)).collect();
        let loss = vars_in_parameter_order(&leaves, sizes.len() - 1, hidden)
            .forward(tape.constant(&x))
            .softmax_cross_entropy(&labels);
        let grads = tape.backward(loss);
        let written_out: Vec<Tensor<f64>> = leaves.iter().map(|&p| grads.wrt_tensor(p)).collect();
        assert_eq!(on_tape, written_out, "{hidden:?}");
    }
}

/// Four classes in 6 dimensions, one row of each per four rows, from a fixed formula.
fn data(rows: usize) -> Dataset {
    let features = Tensor::from_fn(Shape::matrix(rows, 6), |i| {
        let (row, col) = (i / 6, i % 6);
        let wobble = ((row * 7 + col * 13) % 17) as f32 / 17.0 - 0.5;
        if col == row % 4 {
            1.5 + wobble
        } else {
            wobble
        }
    });
    Dataset::new(features, (0..rows).map(|r| r % 4).collect()).expect("a valid data set")
}

/// One full-batch step: one epoch whose single batch is the whole training set.
fn one_step(epochs: usize, rows: usize) -> TrainConfig {
    TrainConfig { epochs, batch_size: rows, seed: 3, clip_norm: None, progress: false, dropout: 0.0, workers: 1 }
}

/// The gradient of the mean cross-entropy over all of `data` for each parameter.
fn full_batch_gradient(mlp: &Mlp<f32>, data: &Dataset) -> Vec<Vec<f32>> {
    let tape = Tape::new();
    let vars = mlp.on_tape(&tape);
    let x = tape.constant((Shape::matrix(data.len(), data.feature_width()), data.features().data()));
    let grads = tape.backward(vars.forward(x).softmax_cross_entropy(data.labels()));
    vars.parameters().map(|p| grads.wrt_slice(p).to_vec()).collect()
}

#[test]
fn sgd_moves_gamma_and_beta_by_minus_lr_times_their_gradient() {
    let (train, test) = (data(24), data(8));
    let before = Mlp::<f32>::new(&[6, 5, 4], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5))
        .with_layer_norm(LAYER_NORM_EPS as f32);
    let gradient = full_batch_gradient(&before, &train);
    let mut after = before.clone();
    let lr = 0.5;
    fit(&mut after, &mut Sgd::new(lr), &train, &test, &one_step(1, train.len()), 1, |_, _, _| {});
    let names = before.parameter_names();
    for (((name, old), new), g) in names.iter().zip(before.parameters()).zip(after.parameters()).zip(&gradient) {
        for ((&old, &new), &g) in old.data().iter().zip(new.data()).zip(g) {
            // The batch is shuffled, so its mean is summed in another order: f32 rounding.
            assert!((new - (old - lr * g)).abs() < 1e-5, "{name}: {old} - {lr} x {g} != {new}");
        }
    }
    // gamma and beta have a gradient, and moved.
    assert_ne!(after.norms[0].gamma, before.norms[0].gamma);
    assert_ne!(after.norms[0].beta, before.norms[0].beta);
}

#[test]
fn adams_first_step_moves_gamma_and_beta_by_lr_against_their_gradient() {
    let (train, test) = (data(24), data(8));
    let before = Mlp::<f32>::new(&[6, 5, 5, 4], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(6))
        .with_layer_norm(LAYER_NORM_EPS as f32);
    let gradient = full_batch_gradient(&before, &train);
    let mut after = before.clone();
    let lr = 0.01;
    fit(&mut after, &mut Adam::new(lr), &train, &test, &one_step(1, train.len()), 1, |_, _, _| {});
    // Parameters 2, 3 (norm0), 6, 7 (norm1) are the gammas and betas.
    let names = before.parameter_names();
    let mut moved = 0;
    for index in [2, 3, 6, 7] {
        assert!(names[index].starts_with("norm"), "{}", names[index]);
        let (old, new) = (before.parameters().nth(index).unwrap(), after.parameters().nth(index).unwrap());
        for ((&old, &new), &g) in old.data().iter().zip(new.data()).zip(&gradient[index]) {
            if g.abs() > 1e-4 {
                // m_hat = g, v_hat = g^2 at step 1: the step is lr g / (|g| + 1e-8).
                assert!((new - (old - lr * g.signum())).abs() < 1e-5, "{}: {old} -> {new}, g {g}", names[index]);
                moved += 1;
            }
        }
    }
    assert!(moved > 10, "only {moved} gamma and beta entries had a gradient");
}

#[test]
fn model_file_round_trips_layer_norm_bit_for_bit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let mlp = normed_mlp::<f32>(&[4, 7, 5, 3], Activation::Tanh, 7);
    mlp.save(&path)?;
    let loaded = Mlp::<f32>::load(&path)?;
    let bits = |m: &Mlp<f32>| m.parameters().flat_map(|t| t.data().iter().map(|v| v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&loaded), bits(&mlp));
    assert_eq!(loaded.norms.iter().map(|n| n.eps.to_bits()).collect::<Vec<_>>(), [1e-3_f32.to_bits(); 2]);
    assert_eq!(loaded, mlp);
    let file = Checkpoint::<f32>::load(&path)?;
    assert_eq!(file.metadata("layer_norm"), Some("true"));
    assert_eq!(file.metadata("layer_norm_eps"), Some("0.001"));
    assert_eq!(file.get("norm1.beta").map(|t| t.shape()), Some(Shape::vector(5)));

    let mlp = normed_mlp::<f64>(&[2, 3, 1], Activation::Sigmoid, 8).with_layer_norm(LAYER_NORM_EPS);
    mlp.save(&path)?;
    assert_eq!(Mlp::<f64>::load(&path)?, mlp);
    Ok(())
}

#[test]
fn a_model_file_without_layer_norm_metadata_is_a_model_without() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    let plain = Mlp::<f32>::new(&[3, 4, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    plain.save(&path)?;
    let file = Checkpoint::<f32>::load(&path)?;
    assert_eq!(file.metadata("layer_norm"), None, "files without layer norm are written as before");
    assert!(!Mlp::<f32>::load(&path)?.has_layer_norm());

    // A file with gamma and beta but no `layer_norm` field: they are not expected.
    let normed = plain.with_layer_norm(1e-5);
    let mut file = Checkpoint::new();
    for (name, tensor) in normed.parameter_names().into_iter().zip(normed.parameters()) {
        file.insert(name, tensor.clone());
    }
    for (key, value) in [("format", "wengert-mlp-v1"), ("sizes", "3-4-2"), ("activation", "relu")] {
        file.set_metadata(key, value);
    }
    file.save(&path)?;
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::UnexpectedTensor { ref name, .. } if name == "norm0.beta"), "{error}");

    // `layer_norm = true` asks for the eps, and for gamma and beta.
    file.set_metadata("layer_norm", true);
    file.save(&path)?;
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::MissingMetadata { ref key, .. } if key == "layer_norm_eps"), "{error}");
    file.set_metadata("layer_norm_eps", "1e-5");
    file.save(&path)?;
    assert_eq!(Mlp::<f32>::load(&path)?, normed);
    let mut without_beta = Checkpoint::<f32>::load(&path)?;
    let mut cut = Checkpoint::new();
    for (name, tensor) in without_beta.iter().filter(|(name, _)| *name != "norm0.beta") {
        cut.insert(name, tensor.clone());
    }
    for (key, value) in without_beta.metadata_entries() {
        cut.set_metadata(key, value);
    }
    cut.save(&path)?;
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert!(matches!(error, CheckpointError::MissingTensor { ref name, .. } if name == "norm0.beta"), "{error}");
    without_beta.insert("norm0.beta", Tensor::zeros(Shape::vector(5)));
    without_beta.save(&path)?;
    let error = Mlp::<f32>::load(&path).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("checkpoint {}: tensor `norm0.beta` is [5], the model expects [4]", path.display())
    );
    Ok(())
}

#[test]
fn bad_layer_norm_metadata_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.safetensors");
    normed_mlp::<f64>(&[2, 3, 2], Activation::Tanh, 9).save(&path)?;
    for (key, value) in
        [("layer_norm", "yes"), ("layer_norm_eps", "-1"), ("layer_norm_eps", "NaN"), ("layer_norm_eps", "tiny")]
    {
        let mut file = Checkpoint::<f64>::load(&path)?;
        file.set_metadata(key, value);
        let bad = dir.path().join("bad.safetensors");
        file.save(&bad)?;
        let error = Mlp::<f64>::load(&bad).unwrap_err();
        assert!(
            matches!(error, CheckpointError::BadMetadata { key: ref field, .. } if field == key),
            "{key} = {value}: {error}"
        );
        assert!(error.to_string().contains("bad.safetensors"), "{error}");
    }
    Ok(())
}

#[test]
#[should_panic(expected = "Mlp::on_tape: 1 layer norms for 2 hidden layers")]
fn a_norm_missing_from_a_hand_built_mlp_panics_naming_the_counts() {
    let mut mlp = normed_mlp::<f64>(&[2, 3, 3, 1], Activation::Tanh, 10);
    mlp.norms.pop();
    let tape = Tape::new();
    let _ = mlp.on_tape(&tape);
}

#[test]
#[should_panic(expected = "layer norm 0: gamma [4] and beta [3] do not fit layer 0's 3 outputs")]
fn a_norm_of_the_wrong_width_panics_naming_the_shapes() {
    let mut mlp = normed_mlp::<f64>(&[2, 3, 1], Activation::Tanh, 10);
    mlp.norms[0].gamma = Tensor::zeros(Shape::vector(4));
    let _ = mlp.save("never-written.safetensors");
}

#[test]
fn a_training_checkpoint_keeps_gamma_beta_and_adams_state_for_them() -> TestResult {
    let (train, test) = (data(24), data(8));
    let sizes = [6, 5, 4];
    let fresh = || {
        Mlp::<f32>::new(&sizes, Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(11))
            .with_layer_norm(LAYER_NORM_EPS as f32)
    };
    let (mut model, mut adam) = (fresh(), Adam::new(0.05));
    let config =
        TrainConfig { epochs: 2, batch_size: 6, seed: 1, clip_norm: None, progress: false, dropout: 0.0, workers: 1 };
    fit(&mut model, &mut adam, &train, &test, &config, 1, |_, _, _| {});
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("checkpoint.safetensors");
    let checkpoint = Checkpoint::from_training(&model, &adam);
    checkpoint.save(&path)?;
    // norm0.gamma is parameter 2: its moments are stored with its shape, and are not zero.
    let loaded = Checkpoint::<f32>::load(&path)?;
    for name in ["adam.m.2", "adam.v.2", "adam.m.3", "adam.v.3"] {
        let moment = loaded.get(name).ok_or(name)?;
        assert_eq!(moment.shape(), Shape::vector(5), "{name}");
        assert!(moment.data().iter().any(|&v| v != 0.0), "{name} is all zeros");
    }

    let (mut resumed, mut resumed_adam) = (fresh(), Adam::new(0.05));
    loaded.restore_training(&mut resumed, &mut resumed_adam)?;
    assert_eq!(resumed, model);
    assert_eq!(resumed_adam.steps(), adam.steps());
    // The restored optimiser writes back the same state, bit for bit.
    let shapes: Vec<Shape> = model.parameters().map(Tensor::shape).collect();
    let (mut original, mut restored) = (Checkpoint::new(), Checkpoint::new());
    adam.save_state(&shapes, &mut original);
    resumed_adam.save_state(&shapes, &mut restored);
    assert_eq!(original.to_bytes()?, restored.to_bytes()?);
    Ok(())
}

#[test]
fn restoring_across_the_layer_norm_setting_is_an_error_naming_the_tensor() -> TestResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let plain = Mlp::<f32>::new(&[3, 4, 2], Activation::Relu, &mut rng);
    let normed = plain.clone().with_layer_norm(1e-5);

    let from_normed = Checkpoint::from_training(&normed, &Adam::new(0.01));
    let error = from_normed.restore_training(&mut plain.clone(), &mut Adam::new(0.01)).unwrap_err();
    // The norm's tensors are named, not the optimiser state that sorts before them.
    assert!(matches!(error, CheckpointError::UnexpectedTensor { ref name, .. } if name == "norm0.beta"), "{error}");
    let error = from_normed.restore_training(&mut plain.clone(), &mut Sgd::new(0.1)).unwrap_err();
    assert!(matches!(error, CheckpointError::UnexpectedTensor { ref name, .. } if name == "norm0.beta"), "{error}");

    let from_plain = Checkpoint::from_training(&plain, &Adam::new(0.01));
    let mut target = normed.clone();
    let error = from_plain.restore_training(&mut target, &mut Adam::new(0.01)).unwrap_err();
    assert!(matches!(error, CheckpointError::MissingTensor { ref name, .. } if name == "norm0.gamma"), "{error}");
    assert_eq!(target, normed, "a failed restore changes nothing");
    Ok(())
}
