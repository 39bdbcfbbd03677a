//! The hidden activations of an `Mlp`: each one's numbers against its formula written out,
//! and every one through wengert's own model file and the PyTorch export and import.

use rand::SeedableRng;
use wengert_nn::checkpoint::Checkpoint;
use wengert_nn::interop::torch::{load_mlp, save_mlp, TorchError};
use wengert_nn::{Activation, Mlp};
use wengert_tape::{Shape, Tape, Tensor};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The standard normal distribution function, from an erfc series independent of the
/// engine's erf: Phi(z) = 1/2 + phi(z) (z + z^3/3 + z^5/(3 5) + ...), which converges for
/// every z and is accurate to 1e-15 for |z| <= 4.
fn normal_cdf(z: f64) -> f64 {
    let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let (mut term, mut sum) = (z, z);
    for k in 1..200 {
        term *= z * z / (2 * k + 1) as f64;
        sum += term;
    }
    0.5 + density * sum
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `(a(z), a'(z))` written out from each activation's definition.
fn formula(activation: Activation, z: f64) -> (f64, f64) {
    let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    match activation {
        Activation::Sigmoid => (sigmoid(z), sigmoid(z) * (1.0 - sigmoid(z))),
        Activation::Tanh => (z.tanh(), 1.0 - z.tanh().powi(2)),
        Activation::Relu => (z.max(0.0), if z > 0.0 { 1.0 } else { 0.0 }),
        Activation::Softplus => ((1.0 + z.exp()).ln(), sigmoid(z)),
        Activation::LeakyRelu => (if z > 0.0 { z } else { 0.01 * z }, if z > 0.0 { 1.0 } else { 0.01 }),
        Activation::Gelu => (z * normal_cdf(z), normal_cdf(z) + z * density),
        Activation::Silu => (z * sigmoid(z), sigmoid(z) + z * sigmoid(z) * (1.0 - sigmoid(z))),
    }
}

#[test]
fn each_activation_and_its_derivative_match_the_formula() {
    let points = [-3.0, -1.25, -0.5, 0.3, 1.0, 2.75];
    for activation in Activation::ALL {
        let tape = Tape::<f64>::new();
        let z = tape.var(&Tensor::from_slice(&points));
        let a = activation.apply(z);
        let gradient = tape.backward(a.sum()).wrt_slice(z).to_vec();
        for ((&zi, &ai), &gi) in points.iter().zip(a.values().iter()).zip(&gradient) {
            let (value, slope) = formula(activation, zi);
            assert!((ai - value).abs() < 1e-12, "{} at {zi}: {ai} vs {value}", activation.name());
            assert!((gi - slope).abs() < 1e-12, "{}' at {zi}: {gi} vs {slope}", activation.name());
        }
    }
}

#[test]
fn names_parse_back_and_unknown_names_list_every_choice() {
    for activation in Activation::ALL {
        assert_eq!(activation.name().parse::<Activation>(), Ok(activation));
    }
    let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["sigmoid", "tanh", "relu", "softplus", "leaky_relu", "gelu", "silu"]);
    let modules: Vec<&str> = Activation::ALL.iter().map(|a| a.torch_module()).collect();
    assert_eq!(modules, ["Sigmoid", "Tanh", "ReLU", "Softplus", "LeakyReLU", "GELU", "SiLU"]);
    let error = "swish".parse::<Activation>().unwrap_err();
    for name in names {
        assert!(error.contains(name), "{error}");
    }
}

/// The model's output on a fixed batch, which depends on the activation.
fn outputs(mlp: &Mlp<f64>) -> Vec<f64> {
    let tape = Tape::new();
    let x = tape.constant(&Tensor::from_fn(Shape::matrix(3, 4), |n| n as f64 / 4.0 - 1.2));
    let y = mlp.on_tape(&tape).forward(x);

    y.values().to_vec()
}

#[test]
fn every_activation_round_trips_through_the_model_file_and_the_torch_export() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for activation in Activation::ALL {
        let mlp = Mlp::<f64>::new(&[4, 6, 5, 2], activation, &mut rng);
        let own = dir.path().join(format!("{}.safetensors", activation.name()));
        mlp.save(&own)?;
        let loaded = Mlp::<f64>::load(&own)?;
        assert_eq!(loaded, mlp, "{}", activation.name());
        assert_eq!(outputs(&loaded), outputs(&mlp));

        let torch = dir.path().join(format!("{}.torch.safetensors", activation.name()));
        save_mlp(&mlp, &torch)?;
        assert_eq!(Checkpoint::<f64>::load(&torch)?.metadata("activation"), Some(activation.name()));
        let imported = load_mlp::<f64>(&torch, None)?;
        assert_eq!(imported.hidden, activation);
        assert_eq!(imported, mlp);
        // Asking for another activation than the file's is refused.
        let other = Activation::ALL.into_iter().find(|&a| a != activation).expect("seven of them");
        let error = load_mlp::<f64>(&torch, Some(other)).unwrap_err();
        assert!(
            matches!(error, TorchError::ActivationMismatch { given, stored, .. } if given == other && stored == activation)
        );
    }
    Ok(())
}

#[test]
fn activations_give_different_models() {
    // The round trip above would pass for an activation lost on the way if all gave the
    // same outputs: they do not.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut mlp = Mlp::<f64>::new(&[4, 6, 2], Activation::Relu, &mut rng);
    let mut outputs_by_activation: Vec<Vec<f64>> = Vec::new();
    for activation in Activation::ALL {
        mlp.hidden = activation;
        let out = outputs(&mlp);
        assert!(outputs_by_activation.iter().all(|o| o != &out), "{}", activation.name());
        outputs_by_activation.push(out);
    }
}

#[test]
fn an_unknown_activation_in_a_torch_file_names_the_choices() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("swish.safetensors");
    let mut file = Checkpoint::<f32>::new();
    file.insert("0.weight", Tensor::from_rows(&[[1.0_f32, 2.0]]));
    file.insert("0.bias", Tensor::from_slice(&[0.0]));
    file.set_metadata("activation", "swish");
    file.save(&path)?;
    let error = load_mlp::<f32>(&path, None).unwrap_err();
    assert!(matches!(error, TorchError::BadActivation { ref found, .. } if found == "swish"));
    assert!(error.to_string().contains("leaky_relu, gelu or silu"), "{error}");
    Ok(())
}
