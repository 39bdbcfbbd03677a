//! Training, checkpointing and resuming: 2 epochs, a checkpoint written to disk and read
//! back, then 2 more epochs, end bit for bit where 4 unbroken epochs end.

use rand::SeedableRng;
use wengert_nn::checkpoint::Checkpoint;
use wengert_nn::data::Dataset;
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::train::{evaluate, fit, TrainConfig};
use wengert_nn::{Activation, Mlp, LAYER_NORM_EPS};
use wengert_tape::{Shape, Tensor};

/// Three Gaussian-ish blobs in 4 dimensions, labels 0..3, from a fixed formula.
fn blobs(rows: usize) -> Dataset {
    let features = Tensor::from_fn(Shape::matrix(rows, 4), |i| {
        let (row, col) = (i / 4, i % 4);
        let class = row % 3;
        let wobble = ((row * 7 + col * 13) % 17) as f32 / 17.0 - 0.5;
        if col == class {
            2.0 + wobble
        } else {
            wobble
        }
    });
    Dataset::new(features, (0..rows).map(|r| r % 3).collect()).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    config_with_dropout(epochs, 0.0)
}

fn config_with_dropout(epochs: usize, dropout: f64) -> TrainConfig {
    TrainConfig { epochs, batch_size: 8, seed: 5, clip_norm: Some(5.0), progress: false, dropout, workers: 1 }
}

fn save(path: &std::path::Path, model: &Mlp<f32>, optimizer: &dyn Optimizer<f32>, epoch: usize) {
    let mut checkpoint = Checkpoint::from_training(model, optimizer);
    checkpoint.set_metadata("epoch", epoch);
    checkpoint.save(path).unwrap();
}

fn restore(path: &std::path::Path, model: &mut Mlp<f32>, optimizer: &mut dyn Optimizer<f32>) -> usize {
    let checkpoint = Checkpoint::<f32>::load(path).unwrap();
    checkpoint.restore_training(model, optimizer).unwrap();
    checkpoint.metadata_parse("epoch").unwrap()
}

fn fresh_model() -> Mlp<f32> {
    Mlp::new(&[4, 6, 3], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(9))
}

fn fresh_model_with_layer_norm() -> Mlp<f32> {
    fresh_model().with_layer_norm(LAYER_NORM_EPS as f32)
}

fn check_resume(make_optimizer: impl Fn() -> Box<dyn Optimizer<f32>>) {
    check_resume_with(make_optimizer, config)
}

fn check_resume_with(make_optimizer: impl Fn() -> Box<dyn Optimizer<f32>>, config: impl Fn(usize) -> TrainConfig) {
    check_resume_of(fresh_model, make_optimizer, config)
}

fn check_resume_of(
    fresh_model: fn() -> Mlp<f32>,
    make_optimizer: impl Fn() -> Box<dyn Optimizer<f32>>,
    config: impl Fn(usize) -> TrainConfig,
) {
    let (train, test) = (blobs(45), blobs(12));
    let mut unbroken = fresh_model();
    let mut optimizer = make_optimizer();
    let history = fit(&mut unbroken, optimizer.as_mut(), &train, &test, &config(4), 1, |_, _, _| {});
    assert_eq!(history.len(), 4);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    let mut first_half = fresh_model();
    let mut optimizer = make_optimizer();
    fit(&mut first_half, optimizer.as_mut(), &train, &test, &config(2), 1, |m, model, opt| {
        save(&path, model, opt, m.epoch)
    });

    let mut resumed = fresh_model(); // overwritten from the checkpoint
    let mut optimizer = make_optimizer();
    let done = restore(&path, &mut resumed, optimizer.as_mut());
    assert_eq!(done, 2);
    let rest = fit(&mut resumed, optimizer.as_mut(), &train, &test, &config(4), done + 1, |_, _, _| {});
    assert_eq!(rest.iter().map(|m| m.epoch).collect::<Vec<_>>(), [3, 4]);
    for (a, b) in unbroken.parameters().zip(resumed.parameters()) {
        let bits = |t: &Tensor<f32>| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }
    assert_eq!(history[3].train_loss.to_bits(), rest[1].train_loss.to_bits());
}

#[test]
fn with_dropout_a_resumed_run_draws_the_masks_of_an_unbroken_one() {
    check_resume_with(|| Box::new(Adam::new(0.01)), |epochs| config_with_dropout(epochs, 0.3));
}

#[test]
fn dropout_changes_training_and_zero_dropout_is_no_dropout() {
    let (train, test) = (blobs(45), blobs(12));
    let run = |dropout: f64| {
        let mut model = fresh_model();
        fit(&mut model, &mut Adam::new(0.01), &train, &test, &config_with_dropout(2, dropout), 1, |_, _, _| {});
        model
    };
    let (plain, zero, dropped) = (run(0.0), run(0.0), run(0.3));
    assert_eq!(plain, zero);
    assert_ne!(plain, dropped);
}

#[test]
fn two_epochs_plus_resumed_two_equal_four_epochs_with_adam() {
    check_resume(|| Box::new(Adam::new(0.01)));
}

#[test]
fn two_epochs_plus_resumed_two_equal_four_epochs_with_momentum() {
    check_resume(|| Box::new(Sgd::with_momentum(0.05, 0.9)));
}

#[test]
fn with_layer_norm_two_epochs_plus_resumed_two_equal_four_epochs_with_adam_and_momentum() {
    // gamma, beta and the optimisers' state for them survive the checkpoint: were any of
    // them lost, the resumed run would leave the unbroken one's bits.
    check_resume_of(fresh_model_with_layer_norm, || Box::new(Adam::new(0.01)), config);
    check_resume_of(fresh_model_with_layer_norm, || Box::new(Sgd::with_momentum(0.05, 0.9)), config);
    // With dropout after the normalised activations too.
    check_resume_of(
        fresh_model_with_layer_norm,
        || Box::new(Adam::new(0.01)),
        |epochs| config_with_dropout(epochs, 0.3),
    );
}

#[test]
fn with_layer_norm_training_learns_the_blobs() {
    let (train, test) = (blobs(90), blobs(30));
    let mut model = fresh_model_with_layer_norm();
    let (loss_before, _) = evaluate(&model, &test, 16);
    let history = fit(&mut model, &mut Adam::new(0.05), &train, &test, &config(20), 1, |_, _, _| {});
    let last = history.last().unwrap();
    assert!(last.test_loss < loss_before / 4.0, "{} -> {}", loss_before, last.test_loss);
    assert_eq!(last.test_accuracy, 1.0);
}

#[test]
fn training_learns_the_blobs() {
    let (train, test) = (blobs(90), blobs(30));
    let mut model = fresh_model();
    let mut optimizer = Adam::new(0.05);
    let (loss_before, _) = evaluate(&model, &test, 16);
    let history = fit(&mut model, &mut optimizer, &train, &test, &config(20), 1, |_, _, _| {});
    let last = history.last().unwrap();
    assert!(last.test_loss < loss_before / 4.0, "{} -> {}", loss_before, last.test_loss);
    assert_eq!(last.test_accuracy, 1.0);
}
