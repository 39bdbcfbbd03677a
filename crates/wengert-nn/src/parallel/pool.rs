//! The worker threads: started once by [`with_workers`], parked on a barrier between
//! steps, each computing its shard into its own preallocated [`FlatGradient`].

use super::shard::{ShardState, StepInput};
use super::{FlatGradient, StepStats};
use crate::optim::{clip_scale, Optimizer};
use crate::{Dropout, Model};
use std::any::Any;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard, PoisonError, RwLock};

/// One worker's output for the current step.
struct Slot {
    gradient: FlatGradient,
    stats: StepStats,
    /// A panic caught while computing the shard, handed to the calling thread.
    panic: Option<Box<dyn Any + Send>>,
}

/// What the calling thread and the workers share. The barriers order every access: the
/// caller writes `input` and `model` only while the workers are parked, so the locks are
/// never contended; they are there to let the borrows cross threads.
struct Shared<'m, M> {
    workers: usize,
    model: RwLock<&'m mut M>,
    input: RwLock<StepInput>,
    slots: Vec<Mutex<Slot>>,
    /// Every worker and the caller meet here before a step (or to stop)...
    start: Barrier,
    /// ...and here after it.
    done: Barrier,
    stop: AtomicBool,
}

impl<M: Model<f32>> Shared<'_, M> {
    /// Computes shard `index` into its slot, catching a panic for the caller to raise.
    fn run_shard(&self, index: usize, state: &mut ShardState) {
        let input = self.input.read().unwrap_or_else(PoisonError::into_inner);
        let model = self.model.read().unwrap_or_else(PoisonError::into_inner);
        let mut slot = self.slots[index].lock().unwrap_or_else(PoisonError::into_inner);
        let Slot { gradient, stats, panic } = &mut *slot;
        match catch_unwind(AssertUnwindSafe(|| state.compute(&**model, &input, index, self.workers, gradient))) {
            Ok(shard_stats) => *stats = shard_stats,
            Err(payload) => *panic = Some(payload),
        }
    }

    /// A worker's life: park, compute a shard, park, until told to stop.
    fn worker_loop(&self, index: usize, dropout: Dropout<f32>) {
        let mut state = ShardState::new(dropout);
        loop {
            self.start.wait();
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            self.run_shard(index, &mut state);
            self.done.wait();
        }
    }
}

/// Releases the workers when [`with_workers`]'s body ends, returning or unwinding: the
/// workers are parked at `start` between steps, so one more meeting there lets them see
/// `stop` and the scope can join them.
struct Release<'a, 'm, M>(&'a Shared<'m, M>);

impl<M> Drop for Release<'_, '_, M> {
    fn drop(&mut self) {
        if self.0.workers > 1 {
            self.0.stop.store(true, Ordering::Release);
            self.0.start.wait();
        }
    }
}

/// Keeps every matrix product on its calling thread while more than one worker runs, and
/// restores the previous setting afterwards: the workers are the parallelism then.
struct SerialGemm(Option<usize>);

impl SerialGemm {
    fn when(serial: bool) -> Self {
        SerialGemm(serial.then(|| {
            let before = wengert_tape::gemm_threads();
            wengert_tape::set_gemm_threads(1);
            before
        }))
    }
}

impl Drop for SerialGemm {
    fn drop(&mut self) {
        if let Some(before) = self.0 {
            wengert_tape::set_gemm_threads(before);
        }
    }
}

/// The handle [`with_workers`] gives its body: one data-parallel step is
/// [`Workers::gradient`], then (optionally) a reduction of [`Workers::flat_gradient_mut`]
/// across processes, then [`Workers::apply`].
///
/// # Examples
///
/// A step in its three stages, with a stand-in for a sum over two processes that hold the
/// same batch: add the other's buffer, divide by two.
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::optim::Sgd;
/// use wengert_nn::parallel::with_workers;
/// use wengert_nn::{Activation, Dropout, Mlp};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let mut model = Mlp::<f32>::new(&[3, 5, 2], Activation::Relu, &mut rng);
/// let before = model.clone();
/// let (features, labels) = ([1.0, 0.0, -1.0, 0.5, 0.5, 0.5, -2.0, 1.0, 0.0], [0, 1, 1]);
/// let no_dropout = Dropout::new(0.0, 0).expect("valid p");
/// with_workers(2, &mut model, &no_dropout, |workers| {
///     let stats = workers.gradient(&features, &labels, [0, 0]);
///     assert_eq!((stats.rows, workers.count()), (3, 2));
///     let other_process = workers.flat_gradient().clone();
///     let total = workers.flat_gradient_mut();
///     *total += &other_process;
///     total.as_mut_slice().iter_mut().for_each(|g| *g /= 2.0);
///     assert_eq!(total, &other_process);
///     workers.apply(&mut Sgd::new(0.5), None);
///     // Plain SGD: the new weights are the old ones minus 0.5 times the gradient.
///     let w_before = before.layers[1].weight.data()[0];
///     assert_eq!(workers.model().layers[1].weight.data()[0], w_before - 0.5 * other_process.parameter(2)[0]);
/// });
/// ```
pub struct Workers<'a, 'm, M> {
    shared: &'a Shared<'m, M>,
    /// The calling thread's own shard (it is worker 0).
    state: ShardState,
    /// The sum of the shards' gradients.
    total: FlatGradient,
}

impl<M: Model<f32>> Workers<'_, '_, M> {
    /// How many workers (shards) there are, the calling thread included.
    pub fn count(&self) -> usize {
        self.shared.workers
    }

    /// Splits the batch (`features`: its rows, row-major, each as wide as the model's
    /// input; `labels`: their classes) into [`count`](Workers::count) shards of contiguous
    /// rows ([`shard_rows`](super::shard_rows)), computes each shard's gradient on its
    /// worker, and sums them in worker order into the flat gradient: the gradient of the
    /// batch's mean softmax cross-entropy. Dropout masks are keyed by `key` and each row's
    /// place in the batch ([`Dropout::seek_rows`]), so they do not depend on the split.
    ///
    /// Returns the loss and accuracy counts of the batch, before any update.
    ///
    /// # Panics
    ///
    /// If the batch is empty, `features` is not `labels.len()` rows as wide as the model's
    /// input, or a worker panicked (its panic is raised here, on the calling thread).
    #[track_caller]
    pub fn gradient(&mut self, features: &[f32], labels: &[usize], key: [u64; 2]) -> StepStats {
        let shared = self.shared;
        {
            // The rows' width from the batch: the model's first layer checks it fits.
            assert!(
                !labels.is_empty() && features.len().is_multiple_of(labels.len()),
                "Workers::gradient: {} features do not make {} rows of one width",
                features.len(),
                labels.len()
            );
            let width = features.len() / labels.len();
            let mut input = shared.input.write().unwrap_or_else(PoisonError::into_inner);
            input.features.clear();
            input.features.extend_from_slice(features);
            input.labels.clear();
            input.labels.extend_from_slice(labels);
            (input.width, input.key) = (width, key);
        }
        if shared.workers > 1 {
            shared.start.wait();
        }
        shared.run_shard(0, &mut self.state);
        if shared.workers > 1 {
            shared.done.wait();
        }
        // The fixed order of the sum, ((g0 + g1) + g2) + ...; an empty shard adds nothing.
        // The first two non-empty shards are added in one pass, without copying the first.
        let mut stats = StepStats::default();
        let mut first: Option<MutexGuard<'_, Slot>> = None;
        for slot in &shared.slots {
            let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(payload) = slot.panic.take() {
                resume_unwind(payload);
            }
            if slot.stats.rows == 0 {
                continue;
            }
            let summed_before = stats.rows > 0 && first.is_none();
            stats += slot.stats;
            match first.take() {
                Some(earlier) => self.total.set_sum(&earlier.gradient, &slot.gradient),
                None if summed_before => self.total += &slot.gradient,
                None => first = Some(slot),
            }
        }
        if let Some(only) = first {
            self.total.copy_from(&only.gradient);
        }
        stats
    }

    /// The summed gradient of the last [`Workers::gradient`].
    pub fn flat_gradient(&self) -> &FlatGradient {
        &self.total
    }

    /// The summed gradient, to rewrite before [`Workers::apply`] (to add other processes'
    /// gradients, say).
    pub fn flat_gradient_mut(&mut self) -> &mut FlatGradient {
        &mut self.total
    }

    /// One optimiser step from the flat gradient: its global norm clipped to `clip_norm`
    /// if set ([`clip_scale`]), then [`Optimizer::begin_step`] and one
    /// [`Optimizer::update`] per parameter in order.
    pub fn apply(&mut self, optimizer: &mut dyn Optimizer<f32>, clip_norm: Option<f32>) {
        let scale = clip_norm.map_or(1.0, |max_norm| clip_scale(self.total.parameters(), max_norm));
        let mut model = self.shared.model.write().unwrap_or_else(PoisonError::into_inner);
        optimizer.begin_step();
        for (index, parameter) in model.parameters_mut().enumerate() {
            optimizer.update(index, parameter.data_mut(), self.total.parameter(index), scale);
        }
    }

    /// The model, to read (evaluate, checkpoint) between steps.
    pub fn model(&self) -> impl Deref<Target = M> + '_ {
        ModelRef(self.shared.model.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A read lock on the model, seen as the model.
struct ModelRef<'a, 'm, M>(std::sync::RwLockReadGuard<'a, &'m mut M>);

impl<M> Deref for ModelRef<'_, '_, M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.0
    }
}

/// Starts `workers - 1` threads (the calling thread is worker 0), runs `body` with a
/// [`Workers`] handle that trains `model` on them, then stops and joins them. Each worker
/// keeps its own tape and a copy of `dropout` (its probability and seed) for the whole run.
///
/// With more than one worker every matrix product runs on its calling thread meanwhile
/// ([`set_gemm_threads`](wengert_tape::set_gemm_threads)`(1)`, restored at the end): the
/// workers are the parallelism, and products split over the same cores would only fight
/// them for them.
///
/// # Panics
///
/// If `workers` is 0, or a thread cannot be started; a panic of `body` or of a worker is
/// raised again after the workers have stopped.
///
/// # Examples
///
/// Two workers compute the gradient of a 4-row batch's mean loss, as one would:
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::optim::Sgd;
/// use wengert_nn::parallel::with_workers;
/// use wengert_nn::{Activation, Dropout, Mlp};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
/// let mut model = Mlp::<f32>::new(&[2, 4, 3], Activation::Tanh, &mut rng);
/// let (features, labels) = ([0.5, -1.0, 1.5, 0.25, -0.5, 2.0, 1.0, 1.0], [0, 2, 1, 2]);
/// let no_dropout = Dropout::new(0.0, 0).expect("valid p");
/// let mut one = model.clone();
/// let alone = with_workers(1, &mut one, &no_dropout, |w| {
///     w.gradient(&features, &labels, [0, 0]);
///     w.flat_gradient().clone()
/// });
/// let shared = with_workers(2, &mut model, &no_dropout, |w| {
///     let stats = w.gradient(&features, &labels, [0, 0]);
///     assert_eq!((stats.rows, w.count()), (4, 2));
///     let gradient = w.flat_gradient().clone();
///     w.apply(&mut Sgd::new(0.1), None);
///     gradient
/// });
/// for (a, b) in alone.as_slice().iter().zip(shared.as_slice()) {
///     assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
/// }
/// assert_ne!(model, one); // the step moved the model
/// ```
#[track_caller]
pub fn with_workers<M: Model<f32> + Send + Sync, R>(
    workers: usize,
    model: &mut M,
    dropout: &Dropout<f32>,
    body: impl FnOnce(&mut Workers<'_, '_, M>) -> R,
) -> R {
    assert!(workers >= 1, "with_workers: 0 workers (at least the calling thread is needed)");
    let _serial = SerialGemm::when(workers > 1);
    let slot = || Slot { gradient: FlatGradient::for_model(model), stats: StepStats::default(), panic: None };
    let slots = (0..workers).map(|_| Mutex::new(slot())).collect();
    let total = FlatGradient::for_model(model);
    let shared = Shared {
        workers,
        model: RwLock::new(model),
        input: RwLock::new(StepInput { features: Vec::new(), labels: Vec::new(), width: 0, key: [0; 2] }),
        slots,
        start: Barrier::new(workers),
        done: Barrier::new(workers),
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        for index in 1..workers {
            let (shared, dropout) = (&shared, dropout.clone());
            std::thread::Builder::new()
                .name(format!("wengert-worker-{index}"))
                .spawn_scoped(scope, move || shared.worker_loop(index, dropout))
                .unwrap_or_else(|error| panic!("with_workers: cannot start worker {index}: {error}"));
        }
        let release = Release(&shared);
        let mut handle = Workers { shared: release.0, state: ShardState::new(dropout.clone()), total };
        body(&mut handle)
    })
}
