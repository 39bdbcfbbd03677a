//! Data-parallel steps: the shards cover the batch, their summed gradient is the full
//! batch's (computed here on one tape, independently of the workers), two workers train as
//! one does to within the reassociation of sums and the same bits every run, dropout masks
//! do not depend on the split, and a worker's panic reaches the caller instead of a hang.

use rand::{Rng, SeedableRng};
use wengert_nn::data::Dataset;
use wengert_nn::optim::{Adam, Sgd};
use wengert_nn::parallel::{shard_rows, with_workers, FlatGradient};
use wengert_nn::train::{fit, EpochMetrics, TrainConfig};
use wengert_nn::{Activation, Dropout, Mlp};
use wengert_tape::{Shape, Tape, Tensor};

/// Four noisy classes in 6 dimensions, from a seeded generator.
fn data(rows: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let labels: Vec<usize> = (0..rows).map(|r| (r * 7 + 3) % 4).collect();
    let features = Tensor::from_fn(Shape::matrix(rows, 6), |i| {
        let (row, col) = (i / 6, i % 6);
        let signal = if col == labels[row] { 1.5 } else { 0.0 };
        signal + rng.random_range(-0.5..0.5)
    });
    Dataset::new(features, labels).unwrap()
}

fn model(layer_norm: bool) -> Mlp<f32> {
    let mlp = Mlp::new(&[6, 16, 12, 4], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(21));
    if layer_norm {
        mlp.with_layer_norm(1e-5)
    } else {
        mlp
    }
}

fn no_dropout() -> Dropout<f32> {
    Dropout::new(0.0, 0).expect("valid p")
}

/// The gradient of the batch's mean loss on one tape, with no worker involved.
fn full_batch_gradient(model: &Mlp<f32>, data: &Dataset) -> FlatGradient {
    let tape = Tape::new();
    let params = model.on_tape(&tape);
    let x = tape.constant(data.features());
    let loss = params.forward(x).softmax_cross_entropy(data.labels());
    let grads = tape.backward(loss);
    let mut flat = FlatGradient::for_model(model);
    for (index, var) in params.parameters().enumerate() {
        flat.parameter_mut(index).copy_from_slice(grads.wrt_slice(var));
    }
    flat
}

fn gradient_with(workers: usize, model: &Mlp<f32>, data: &Dataset) -> FlatGradient {
    let mut model = model.clone();
    with_workers(workers, &mut model, &no_dropout(), |w| {
        w.gradient(data.features().data(), data.labels(), [0, 0]);
        w.flat_gradient().clone()
    })
}

fn max_abs(values: &[f32]) -> f32 {
    values.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn flat_parameters(model: &Mlp<f32>) -> Vec<f32> {
    model.parameters().flat_map(|p| p.data().iter().copied()).collect()
}

#[test]
fn shards_cover_the_batch_in_order_with_sizes_within_one() {
    for rows in 0..40 {
        for shards in 1..7 {
            let ranges: Vec<_> = (0..shards).map(|s| shard_rows(rows, shards, s)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[shards - 1].end, rows);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{rows} rows in {shards}: contiguous");
            }
            let (short, long) = (rows / shards, rows.div_ceil(shards));
            assert!(ranges.iter().all(|r| r.len() == short || r.len() == long), "{rows} rows in {shards}: {ranges:?}");
        }
    }
}

#[test]
fn one_worker_gradient_is_the_full_batch_gradient_bit_for_bit() {
    // One shard is the whole batch with a seed of exactly 1: the same operations in the same order.
    let (model, data) = (model(false), data(24, 1));
    assert_eq!(gradient_with(1, &model, &data), full_batch_gradient(&model, &data));
}

#[test]
fn sharded_gradients_sum_to_the_full_batch_gradient() {
    // Sharding only regroups the sums over rows (dW = X^T G, db = sum of rows of G) and
    // divides the mean's 1/N as 1/n_s times n_s/N. A sum of N terms regrouped moves by at
    // most about N units of roundoff of its terms' size (Higham, ch. 4), so each gradient
    // element stays within N * f32::EPSILON of the largest gradient (the terms are no
    // larger here); 1.2e-7 of it was seen.
    for layer_norm in [false, true] {
        let (model, data) = (model(layer_norm), data(27, 2));
        let full = full_batch_gradient(&model, &data);
        let tolerance = data.len() as f32 * f32::EPSILON * max_abs(full.as_slice());
        for workers in [2, 3, 4] {
            let sharded = gradient_with(workers, &model, &data);
            let difference = max_difference(sharded.as_slice(), full.as_slice());
            assert!(
                difference <= tolerance,
                "{workers} workers, layer norm {layer_norm}: gradients differ by {difference} (tolerance {tolerance})"
            );
            assert_eq!(sharded.as_slice().iter().filter(|g| **g == 0.0).count(), 0, "every parameter has a gradient");
        }
    }
}

#[test]
fn more_workers_than_rows_leave_the_extra_ones_idle() {
    let (model, data) = (model(false), data(3, 3));
    let full = full_batch_gradient(&model, &data);
    let sharded = gradient_with(5, &model, &data);
    let tolerance = data.len() as f32 * f32::EPSILON * max_abs(full.as_slice());
    assert!(max_difference(sharded.as_slice(), full.as_slice()) <= tolerance);
}

fn config(workers: usize, dropout: f64) -> TrainConfig {
    TrainConfig { epochs: 3, batch_size: 10, seed: 4, clip_norm: Some(1.0), progress: false, dropout, workers }
}

fn train(workers: usize, dropout: f64, layer_norm: bool) -> (Mlp<f32>, Vec<EpochMetrics>) {
    let (train, test) = (data(45, 5), data(20, 6));
    let mut model = model(layer_norm);
    let history = fit(&mut model, &mut Sgd::new(0.2), &train, &test, &config(workers, dropout), 1, |_, _, _| {});
    (model, history)
}

/// The bound on how far k workers' parameters may drift from one worker's after
/// [`config`]'s 15 SGD steps (lr 0.2, batches of 10 rows): by the bound above, each step's
/// gradients differ by at most 10 * f32::EPSILON = 1.2e-6 of the largest, itself at most 1
/// (clipped to norm 1), so the 15 updates add up to at most 15 * 0.2 * 1.2e-6 = 3.6e-6 if
/// every difference pushed the same way and nothing amplified it (1.2e-7 was seen). A split that
/// changed more than the grouping of sums (a wrong share of the loss, a mask that depended
/// on the split) moves parameters by 1e-2 and more.
const PARAMETER_TOLERANCE: f32 = 4e-6;

#[test]
fn two_workers_train_as_one_does_to_within_reassociation() {
    for (dropout, layer_norm) in [(0.0, false), (0.0, true), (0.3, false)] {
        let (one, one_history) = train(1, dropout, layer_norm);
        let (two, two_history) = train(2, dropout, layer_norm);
        let difference = max_difference(&flat_parameters(&one), &flat_parameters(&two));
        assert!(
            difference <= PARAMETER_TOLERANCE,
            "dropout {dropout}, layer norm {layer_norm}: parameters differ by {difference}"
        );
        for (a, b) in one_history.iter().zip(&two_history) {
            assert!((a.train_loss - b.train_loss).abs() <= 1e-5, "train loss {a:?} vs {b:?}");
            assert_eq!(a.train_accuracy, b.train_accuracy, "train accuracy");
            assert!((a.test_loss - b.test_loss).abs() <= 1e-5, "test loss {a:?} vs {b:?}");
            assert_eq!(a.test_accuracy, b.test_accuracy, "test accuracy");
        }
    }
}

#[test]
fn training_moved_the_parameters_far_beyond_the_tolerance() {
    // Else the comparison above would hold for any split, right or wrong.
    let (trained, _) = train(2, 0.0, false);
    let moved = max_difference(&flat_parameters(&trained), &flat_parameters(&model(false)));
    assert!(moved > 1000.0 * PARAMETER_TOLERANCE, "training moved the parameters by {moved} only");
}

#[test]
fn two_workers_are_bit_identical_from_run_to_run() {
    for dropout in [0.0, 0.3] {
        let (first, first_history) = train(2, dropout, true);
        let (second, second_history) = train(2, dropout, true);
        assert_eq!(first, second, "dropout {dropout}");
        let losses = |h: &[EpochMetrics]| h.iter().map(|m| (m.train_loss, m.test_loss)).collect::<Vec<_>>();
        assert_eq!(losses(&first_history), losses(&second_history));
    }
}

#[test]
fn dropout_masks_depend_on_the_rows_not_on_the_split() {
    // Were the masks drawn per worker, two workers' runs would leave one worker's by far
    // more than the tolerance: a dropped unit changes its row's gradient by O(1).
    let (one, _) = train(1, 0.5, false);
    let (three, _) = train(3, 0.5, false);
    let (plain, _) = train(1, 0.0, false);
    let difference = max_difference(&flat_parameters(&one), &flat_parameters(&three));
    assert!(difference <= PARAMETER_TOLERANCE, "with dropout, 1 and 3 workers differ by {difference}");
    assert!(max_difference(&flat_parameters(&one), &flat_parameters(&plain)) > 1000.0 * PARAMETER_TOLERANCE);
}

#[test]
fn seeking_rows_draws_each_layer_s_whole_batch_mask_shard_by_shard() {
    let tape = Tape::<f64>::new();
    let ones = |rows: usize, cols: usize| tape.constant(&Tensor::from_fn(Shape::matrix(rows, cols), |_| 1.0));
    let mut whole = Dropout::<f64>::new(0.5, 9).expect("valid p");
    whole.seek_rows([2, 5], 0);
    let layer0 = whole.forward(ones(7, 4)).to_tensor();
    let layer1 = whole.forward(ones(7, 3)).to_tensor();
    assert_ne!(layer0.data()[..21], layer1.data()[..21], "each layer draws its own mask");
    // Rows 4..7 first, then rows 0..4, each shard through both layers.
    let mut shard = Dropout::<f64>::new(0.5, 9).expect("valid p");
    shard.seek_rows([2, 5], 4);
    let (tail0, tail1) = (shard.forward(ones(3, 4)).to_tensor(), shard.forward(ones(3, 3)).to_tensor());
    shard.seek_rows([2, 5], 0);
    let (head0, head1) = (shard.forward(ones(4, 4)).to_tensor(), shard.forward(ones(4, 3)).to_tensor());
    assert_eq!([head0.data(), tail0.data()].concat(), layer0.data());
    assert_eq!([head1.data(), tail1.data()].concat(), layer1.data());
    // Another batch key draws other masks.
    whole.seek_rows([2, 6], 0);
    assert_ne!(whole.forward(ones(7, 4)).to_tensor(), layer0);
}

#[test]
fn a_worker_s_panic_reaches_the_caller() {
    // Row 3 has a label out of range: only worker 1 (rows 2..4) records it.
    let mut model = model(false);
    let features = vec![0.5_f32; 4 * 6];
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_workers(2, &mut model, &no_dropout(), |w| {
            w.gradient(&features, &[0, 1, 2, 9], [0, 0]);
        })
    }));
    let payload = outcome.expect_err("the worker's panic is raised again");
    let message = payload.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
    assert!(message.contains("label 9 at row 1"), "the worker's own message: {message}");
}

#[test]
fn two_workers_with_adam_reach_a_good_accuracy() {
    let (train, test) = (data(120, 7), data(60, 8));
    let mut model = model(false);
    let config =
        TrainConfig { epochs: 15, batch_size: 16, seed: 1, progress: false, workers: 2, ..TrainConfig::default() };
    let history = fit(&mut model, &mut Adam::new(0.01), &train, &test, &config, 1, |_, _, _| {});
    // The classes are separated by a margin of 1.5 against noise of at most 0.5 per feature.
    assert!(history.last().unwrap().test_accuracy >= 0.95, "{:?}", history.last());
}

#[test]
fn two_workers_resumed_after_epoch_two_end_where_an_unbroken_run_ends() {
    // Shuffles and dropout masks are keyed by epoch and step, not drawn from a running
    // generator: epochs 3 and 4 started afresh redo exactly what an unbroken run does.
    let (train, test) = (data(45, 5), data(20, 6));
    let config = |epochs: usize| TrainConfig { epochs, ..config(2, 0.3) };
    let mut unbroken = model(true);
    fit(&mut unbroken, &mut Sgd::new(0.2), &train, &test, &config(4), 1, |_, _, _| {});
    let mut resumed = model(true);
    fit(&mut resumed, &mut Sgd::new(0.2), &train, &test, &config(2), 1, |_, _, _| {});
    fit(&mut resumed, &mut Sgd::new(0.2), &train, &test, &config(4), 3, |_, _, _| {});
    assert_eq!(resumed, unbroken);
}
