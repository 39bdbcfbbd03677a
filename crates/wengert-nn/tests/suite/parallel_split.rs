//! The sum of the shards' gradients and the optimiser's update split over the workers (a
//! model of 16,384 parameters or more): the same bits as the same sum and update taken on
//! one thread, computed here without the pool; a custom optimiser that does not lend an
//! elementwise step still works; and a panic inside a worker's stretch reaches the caller.

use rand::{Rng, SeedableRng};
use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
use wengert_nn::optim::{clip_scale, Adam, ElementwiseRule, ElementwiseStep, Optimizer, Sgd};
use wengert_nn::parallel::{shard_rows, with_workers, FlatGradient};
use wengert_nn::{Activation, Dropout, Mlp};
use wengert_tape::{Shape, Tape, Tensor};

const WIDTH: usize = 6;

/// 6-256-64-4: 18,500 parameters, above the split's threshold, so two or three workers'
/// stretches begin inside the 256 x 64 weight (and inside its neighbours).
fn large_model() -> Mlp<f32> {
    Mlp::new(&[WIDTH, 256, 64, 4], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(5))
}

fn batch(rows: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let features = (0..rows * WIDTH).map(|_| rng.random_range(-1.0..1.0)).collect();
    (features, (0..rows).map(|r| (r * 5 + 1) % 4).collect())
}

fn no_dropout() -> Dropout<f32> {
    Dropout::new(0.0, 0).expect("valid p")
}

/// Shard `shard` of `shards`'s gradient, weighted by its share of the rows, on a tape of
/// its own: what the pool's worker computes.
fn shard_gradient(
    model: &Mlp<f32>,
    (features, labels): &(Vec<f32>, Vec<usize>),
    shard: usize,
    shards: usize,
) -> Vec<f32> {
    let rows = shard_rows(labels.len(), shards, shard);
    let tape = Tape::new();
    let params = model.on_tape(&tape);
    let x = tape.constant(&Tensor::new(
        Shape::matrix(rows.len(), WIDTH),
        features[rows.start * WIDTH..rows.end * WIDTH].to_vec(),
    ));
    let loss = params.forward(x).softmax_cross_entropy(&labels[rows.clone()]);
    let grads = tape.backward_with_seed(loss, &[rows.len() as f32 / labels.len() as f32]);
    params.parameters().flat_map(|var| grads.wrt_slice(var).to_vec()).collect()
}

#[test]
fn split_sum_adds_the_shards_in_worker_order_bit_for_bit() {
    let batch = batch(27, 1);
    let mut model = large_model();
    for workers in [2, 3] {
        // ((g0 + g1) + g2), one element at a time, on this thread.
        let shards: Vec<Vec<f32>> = (0..workers).map(|s| shard_gradient(&model, &batch, s, workers)).collect();
        let mut expected = shards[0].clone();
        for shard in &shards[1..] {
            expected.iter_mut().zip(shard).for_each(|(total, g)| *total += g);
        }
        let summed = with_workers(workers, &mut model, &no_dropout(), |w| {
            w.gradient(&batch.0, &batch.1, [0, 0]);
            w.flat_gradient().clone()
        });
        assert!(summed.len() >= 16_384, "the model must be large enough for the split");
        assert!(summed.as_slice() == expected.as_slice(), "{workers} workers: the split sum is not the ordered sum");
    }
}

/// Three steps of `make()` on `workers` workers against the same optimiser stepped on this
/// thread with the pool's gradients, one `update` per parameter; the third clips.
fn check_update(name: &str, workers: usize, make: impl Fn() -> Box<dyn Optimizer<f32>>) {
    let mut model = large_model();
    let mut serial = model.clone();
    let (mut pooled_optimizer, mut serial_optimizer) = (make(), make());
    with_workers(workers, &mut model, &no_dropout(), |w| {
        for step in 0..3_u64 {
            let batch = batch(32, 10 + step);
            w.gradient(&batch.0, &batch.1, [0, step]);
            let gradient: FlatGradient = w.flat_gradient().clone();
            let clip = (step == 2).then_some(0.05_f32);
            w.apply(pooled_optimizer.as_mut(), clip);

            let scale = clip.map_or(1.0, |max_norm| clip_scale(gradient.parameters(), max_norm));
            assert!(step < 2 || scale < 1.0, "the third step must clip");
            serial_optimizer.begin_step();
            for (index, parameter) in serial.parameters_mut().enumerate() {
                serial_optimizer.update(index, parameter.data_mut(), gradient.parameter(index), scale);
            }
            assert!(*w.model() == serial, "{name} on {workers} workers, step {step}: the split update differs");
        }
    });
}

#[test]
fn split_update_equals_the_update_on_one_thread_bit_for_bit() {
    for workers in [2, 3] {
        check_update("SGD", workers, || Box::new(Sgd::new(0.1)));
        check_update("SGD with momentum", workers, || Box::new(Sgd::with_momentum(0.1, 0.9)));
        check_update("Adam", workers, || Box::new(Adam::new(0.01)));
    }
}

/// Plain SGD through `update` only: it lends no elementwise step.
struct UpdateOnly(Sgd<f32>);

impl Optimizer<f32> for UpdateOnly {
    fn update(&mut self, index: usize, parameter: &mut [f32], gradient: &[f32], gradient_scale: f32) {
        self.0.update(index, parameter, gradient, gradient_scale);
    }
    fn state_names(&self, _: usize) -> Vec<String> {
        Vec::new()
    }
    fn save_state(&self, _: &[Shape], _: &mut Checkpoint<f32>) {}
    fn load_state(&mut self, _: &Checkpoint<f32>, _: &[Shape]) -> Result<(), CheckpointError> {
        Ok(())
    }
}

#[test]
fn an_optimiser_without_an_elementwise_step_is_updated_parameter_by_parameter() {
    let batch = batch(16, 3);
    let (mut lent, mut kept) = (large_model(), large_model());
    for (model, optimizer) in
        [(&mut lent, &mut Sgd::new(0.1_f32) as &mut dyn Optimizer<f32>), (&mut kept, &mut UpdateOnly(Sgd::new(0.1)))]
    {
        with_workers(2, model, &no_dropout(), |w| {
            w.gradient(&batch.0, &batch.1, [0, 0]);
            w.apply(optimizer, None);
        });
    }
    assert_eq!(lent, kept);
    assert_ne!(lent, large_model(), "the step moved the model");
}

/// A rule that panics on the second worker's thread.
struct PanicsOnWorker;

impl ElementwiseRule<f32> for PanicsOnWorker {
    fn apply(&self, _: &mut [f32], _: &[f32], _: f32, _: [&mut [f32]; 2]) {
        if std::thread::current().name() == Some("wengert-worker-1") {
            panic!("a stretch's update failed on worker 1");
        }
    }
}

struct Lends(PanicsOnWorker);

impl Optimizer<f32> for Lends {
    fn update(&mut self, _: usize, _: &mut [f32], _: &[f32], _: f32) {}
    fn elementwise_step(&mut self, _: &[usize]) -> Option<ElementwiseStep<'_, f32>> {
        Some(ElementwiseStep { rule: &self.0, buffers: [&mut [], &mut []] })
    }
    fn state_names(&self, _: usize) -> Vec<String> {
        Vec::new()
    }
    fn save_state(&self, _: &[Shape], _: &mut Checkpoint<f32>) {}
    fn load_state(&mut self, _: &Checkpoint<f32>, _: &[Shape]) -> Result<(), CheckpointError> {
        Ok(())
    }
}

#[test]
fn a_panic_in_a_worker_s_stretch_reaches_the_caller() {
    let batch = batch(8, 4);
    let mut model = large_model();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_workers(2, &mut model, &no_dropout(), |w| {
            w.gradient(&batch.0, &batch.1, [0, 0]);
            w.apply(&mut Lends(PanicsOnWorker), None);
        })
    }));
    let payload = outcome.expect_err("the worker's panic is raised again");
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(message, "a stretch's update failed on worker 1");
}
