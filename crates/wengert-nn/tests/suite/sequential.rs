//! `Sequential`: architectures read and printed, refused with the layer at fault, shapes
//! checked through the layers, saved and loaded whole, bad files refused with typed errors,
//! and a small CNN's gradients against central differences.

use rand::SeedableRng;
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::optim::Adam;
use wengert_nn::{ArchitectureError, Layer, Model, ModelVars, Sequential};
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Shape, Tape, Tensor};

const LENET: &str =
    "unflatten(1x28x28) | conv2d(1->8, k5, s1, p2) | relu | max_pool2d(k2, s2) | conv2d(8->16, k5, s1, p0) \
                     | relu | max_pool2d(k2, s2) | flatten | linear(400->120) | relu | linear(120->10)";

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(3)
}

#[test]
fn lenet_reads_prints_back_and_maps_784_pixels_to_10_logits() {
    let model = Sequential::<f32>::from_architecture(LENET, &mut rng()).expect("LeNet parses");
    assert_eq!(model.to_string(), LENET.split_whitespace().collect::<Vec<_>>().join(" "));
    assert_eq!(model.output_shape(784), Ok(Shape::vector(10)));
    // 8 (1 5 5) + 8, 16 (8 5 5) + 16, 400 120 + 120, 120 10 + 10: PyTorch's LeNet count.
    let count: usize = model.parameters().map(|p| p.len()).sum();
    assert_eq!(count, 8 * 25 + 8 + 16 * 8 * 25 + 16 + 400 * 120 + 120 + 120 * 10 + 10);
    assert_eq!(
        model.parameter_names(),
        [
            "layer1.weight",
            "layer1.bias",
            "layer4.weight",
            "layer4.bias",
            "layer8.weight",
            "layer8.bias",
            "layer10.weight",
            "layer10.bias"
        ]
    );
}

#[test]
fn a_bad_architecture_names_the_layer_and_why() {
    let cases = [
        ("linear(4->3) | tanhh", 1, "unknown layer `tanhh`"),
        ("conv2d(1->8)", 0, "conv2d needs a kernel, kK"),
        ("conv2d(1->8, k0)", 0, "`0` is not a size from 1"),
        ("max_pool2d(k2, p1)", 0, "max_pool2d takes no padding"),
        ("linear(4-3)", 0, "`4-3` is not IN->OUT"),
        ("flatten(2)", 0, "flatten takes no arguments"),
        ("conv2d(1->8, k3, k3)", 0, "`k3` repeats an argument"),
        ("linear(4->3", 0, "an argument list without its `)`"),
        ("linear(100000->100000)", 0, "more than 268435456 weights in one layer"),
        ("unflatten(1x28x28) | conv2d(100000->100000, k3)", 1, "more than 268435456 weights in one layer"),
    ];
    for (text, layer, reason) in cases {
        let error = Sequential::<f32>::from_architecture(text, &mut rng()).unwrap_err();
        assert_eq!(error.layer, layer, "{text}: {error}");
        assert!(error.reason.starts_with(reason), "{text}: {error}");
    }
}

#[test]
fn layers_that_do_not_fit_are_named_with_the_shape_they_got() {
    let check =
        |text: &str, width: usize| Sequential::<f32>::from_architecture(text, &mut rng()).unwrap().output_shape(width);
    let error = check("linear(10->5) | relu | linear(4->2)", 10).unwrap_err();
    assert_eq!((error.layer, error.reason.as_str()), (2, "does not take samples of shape [5]"));
    let error: ArchitectureError = check("unflatten(1x4x4) | conv2d(2->3, k3)", 16).unwrap_err();
    assert_eq!((error.layer, error.reason.as_str()), (1, "does not take samples of shape [1 x 4 x 4]"));
    let error = check("unflatten(1x4x4) | conv2d(1->3, k5)", 16).unwrap_err();
    assert_eq!((error.layer, error.reason.as_str()), (1, "does not fit samples of shape [1 x 4 x 4]"));
    assert_eq!(check("unflatten(2x3x3) | avg_pool2d(k2, s1) | flatten", 18), Ok(Shape::vector(8)));
}

#[test]
fn a_saved_model_loads_whole_and_a_tampered_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cnn.safetensors");
    let model = Sequential::<f32>::from_architecture(
        "unflatten(1x6x6) | conv2d(1->2, k3, p1) | relu | avg_pool2d(k2) | flatten | linear(18->3)",
        &mut rng(),
    )
    .unwrap();
    model.save(&path).unwrap();
    assert_eq!(Sequential::<f32>::load(&path).unwrap(), model);

    // The architecture field rewritten: the conv's filters no longer fit the stored tensor.
    let mut checkpoint = Checkpoint::<f32>::load(&path).unwrap();
    checkpoint.set_metadata(
        "architecture",
        "unflatten(1x6x6) | conv2d(1->4, k3, p1) | relu | avg_pool2d(k2) | flatten | linear(36->3)",
    );
    checkpoint.save(&path).unwrap();
    let error = Sequential::<f32>::load(&path).unwrap_err();
    assert!(matches!(&error, CheckpointError::ShapeMismatch { name, .. } if name == "layer1.weight"), "{error:?}");

    checkpoint.set_metadata("architecture", "unflatten(1x6x6) | conv3d(1->4, k3)");
    checkpoint.save(&path).unwrap();
    let error = Sequential::<f32>::load(&path).unwrap_err();
    assert!(matches!(&error, CheckpointError::BadMetadata { key, .. } if key == "architecture"), "{error:?}");
    assert!(error.to_string().contains("unknown layer `conv3d`"), "{error}");
}

#[test]
fn training_state_of_a_sequential_model_round_trips_through_a_checkpoint() {
    let model = Sequential::<f32>::from_architecture(
        "unflatten(1x4x4) | conv2d(1->2, k3) | tanh | flatten | linear(8->2)",
        &mut rng(),
    )
    .unwrap();
    let adam = Adam::new(0.01);
    let checkpoint = Checkpoint::from_training(&model, &adam);
    let mut other = Sequential::<f32>::from_architecture(
        "unflatten(1x4x4) | conv2d(1->2, k3) | tanh | flatten | linear(8->2)",
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(9),
    )
    .unwrap();
    assert_ne!(other, model);
    checkpoint.restore_training(&mut other, &mut Adam::new(0.01)).unwrap();
    assert_eq!(other, model);
}

#[test]
fn a_small_cnns_gradients_agree_with_central_differences() {
    let model = Sequential::<f64>::from_architecture(
        "unflatten(2x5x5) | conv2d(2->3, k3, s2, p1) | tanh | max_pool2d(k2, s1) | flatten | linear(12->4)",
        &mut rng(),
    )
    .unwrap();
    let x = Tensor::from_fn(Shape::matrix(2, 50), |i| ((i * 37) % 19) as f64 / 19.0 - 0.5);
    let parameters: Vec<Tensor<f64>> = model.parameters().cloned().collect();
    let labels = [1, 3];
    let report = check_gradients(
        |tape: &Tape<f64>, v| {
            // The model's layers with the checked tensors as its parameters.
            let mut layers = model.on_tape(tape);
            let mut next = v.iter();
            for layer in layers.layers.iter_mut() {
                match layer {
                    wengert_nn::LayerVars::Conv2d(conv) => {
                        (conv.weight, conv.bias) = (*next.next().unwrap(), *next.next().unwrap())
                    }
                    wengert_nn::LayerVars::Linear(linear) => {
                        (linear.weight, linear.bias) = (*next.next().unwrap(), *next.next().unwrap())
                    }
                    _ => {}
                }
            }
            layers.forward(tape.constant(&x)).softmax_cross_entropy(&labels)
        },
        &parameters,
    );
    assert!(report.passes(Tolerance::default()), "{report}");
    assert!(matches!(model.layers[1], Layer::Conv2d(_)));
}
