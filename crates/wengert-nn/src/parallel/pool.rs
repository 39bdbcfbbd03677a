//! The worker threads: started once by [`with_workers`], parked on a barrier between
//! steps, each computing its shard into its own preallocated [`FlatGradient`]; then, for a
//! model large enough, each summing its stretch of the shards' gradients and updating its
//! stretch of the parameters.

use super::shard::{ShardState, StepInput};
use super::split::{stretch, SharedMut, SharedRef, PARALLEL_MIN_ELEMENTS};
use super::{FlatGradient, StepStats};
use crate::optim::{clip_scale, Optimizer};
use crate::{Dropout, Model};
use std::any::Any;
use std::ops::Deref;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Barrier, Mutex, PoisonError, RwLock};

/// One worker's output for the current step.
struct Slot {
    gradient: FlatGradient,
    stats: StepStats,
    /// A panic caught while computing the shard, handed to the calling thread.
    panic: Option<Box<dyn Any + Send>>,
}

/// What the workers do once they pass the `start` barrier.
#[derive(Clone, Copy)]
enum Phase {
    /// Compute their shard of the batch.
    Shard,
    /// Call a closure the calling thread lends them, with their index.
    Task(Lent),
    /// Return.
    Stop,
}

/// A closure lent to the workers for one phase ([`Shared::broadcast`]), its lifetime erased.
#[derive(Clone, Copy)]
struct Lent(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure is `Sync`, so calling it from another thread through a shared
// reference is sound; `broadcast` keeps it alive while any worker can call it.
unsafe impl Send for Lent {}

/// What the calling thread and the workers share. The barriers order every access: the
/// caller writes `input`, `model` and `phase` only while the workers are parked, so the locks
/// are never contended; they are there to let the borrows cross threads.
struct Shared<'m, M> {
    workers: usize,
    model: RwLock<&'m mut M>,
    input: RwLock<StepInput>,
    slots: Vec<Mutex<Slot>>,
    /// Every worker and the caller meet here before a phase (or to stop)...
    start: Barrier,
    /// ...and here after it.
    done: Barrier,
    phase: Mutex<Phase>,
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

    /// A worker's life: park, compute a shard or run a lent task, park, until told to stop.
    fn worker_loop(&self, index: usize, dropout: Dropout<f32>) {
        let mut state = ShardState::new(dropout);
        loop {
            self.start.wait();
            match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
                Phase::Stop => return,
                Phase::Shard => self.run_shard(index, &mut state),
                Phase::Task(lent) => {
                    // SAFETY: `broadcast` keeps the closure alive until every worker has
                    // passed the `done` meeting below.
                    let task = unsafe { &*lent.0 };
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| task(index))) {
                        self.slots[index].lock().unwrap_or_else(PoisonError::into_inner).panic = Some(payload);
                    }
                }
            }
            self.done.wait();
        }
    }
}

impl<M> Shared<'_, M> {
    /// Runs `task(worker)` on every worker at once, the calling thread as worker 0, and
    /// returns when all have finished; a panic of any of them is raised here afterwards.
    fn broadcast(&self, task: &(dyn Fn(usize) + Sync)) {
        // SAFETY: only the lifetime changes. The workers call the task between the two
        // meetings below, and this function neither returns nor unwinds before the second
        // (the caller's own call is caught), so the task outlives every call.
        let lent = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(task) };
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Task(Lent(lent));
        self.start.wait();
        let own = catch_unwind(AssertUnwindSafe(|| task(0)));
        self.done.wait();
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Shard;
        if let Err(payload) = own {
            resume_unwind(payload);
        }
        self.raise_worker_panic();
    }

    /// Raises the first panic a worker caught, if any.
    fn raise_worker_panic(&self) {
        for slot in &self.slots {
            if let Some(payload) = slot.lock().unwrap_or_else(PoisonError::into_inner).panic.take() {
                resume_unwind(payload);
            }
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
            *self.0.phase.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Stop;
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
    /// Each parameter's length, in order.
    lengths: Vec<usize>,
    /// Views lent to the workers for one phase, made anew each step in buffers sized
    /// once: the non-empty shards' gradients, the parameters, the optimiser's state.
    sources: Vec<SharedRef<f32>>,
    parameters: Vec<SharedMut<f32>>,
    state_buffers: [Vec<SharedMut<f32>>; 2],
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
        shared.raise_worker_panic();
        let mut stats = StepStats::default();
        self.sources.clear();
        for slot in &shared.slots {
            let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.stats.rows > 0 {
                stats += slot.stats;
                self.sources.push(SharedRef::new(slot.gradient.as_slice()));
            }
        }
        // Each element is summed in the same fixed order, ((g0 + g1) + g2) + ..., whichever
        // thread sums it; an empty shard adds nothing.
        let (total, sources) = (SharedMut::new(self.total.as_mut_slice()), &self.sources);
        let sum_stretch = |workers: usize, worker: usize| {
            let range = stretch(total.len(), workers, worker);
            // SAFETY: the workers' stretches are disjoint (`stretch`), the total and the
            // shards' buffers outlive this call, and no shard is computed (written) while
            // the workers sum: they run one phase at a time.
            let out = unsafe { total.stretch(range.clone()) };
            let mut sources = sources.iter().map(|source| unsafe { source.stretch(range.clone()) });
            sum_into(out, &mut sources);
        };
        if self.parallel() {
            let workers = shared.workers;
            shared.broadcast(&|worker| sum_stretch(workers, worker));
        } else {
            sum_stretch(1, 0);
        }
        stats
    }

    /// Whether the sum and the update are split over the workers: with more than one, for
    /// a model of at least [`PARALLEL_MIN_ELEMENTS`] parameters.
    fn parallel(&self) -> bool {
        self.shared.workers > 1 && self.total.len() >= PARALLEL_MIN_ELEMENTS
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
    /// [`Optimizer::update`] per parameter in order. An elementwise optimiser
    /// ([`Optimizer::elementwise_step`]) updating a model of 16,384 parameters or more is
    /// split instead: each worker updates its stretch of the parameters, with the same
    /// result to the bit.
    pub fn apply(&mut self, optimizer: &mut dyn Optimizer<f32>, clip_norm: Option<f32>) {
        let scale = clip_norm.map_or(1.0, |max_norm| clip_scale(self.total.parameters(), max_norm));
        let mut model = self.shared.model.write().unwrap_or_else(PoisonError::into_inner);
        optimizer.begin_step();
        let split = if self.parallel() { optimizer.elementwise_step(&self.lengths) } else { None };
        let Some(step) = split else {
            for (index, parameter) in model.parameters_mut().enumerate() {
                optimizer.update(index, parameter.data_mut(), self.total.parameter(index), scale);
            }
            return;
        };
        self.parameters.clear();
        self.parameters.extend(model.parameters_mut().map(|parameter| SharedMut::new(parameter.data_mut())));
        for (views, buffers) in self.state_buffers.iter_mut().zip(step.buffers) {
            views.clear();
            views.extend(buffers.iter_mut().map(|buffer| SharedMut::new(buffer)));
        }
        let (total, offsets, rule) = (self.total.as_slice(), self.total.offsets(), step.rule);
        let (parameters, [first_state, second_state]) = (&self.parameters, &self.state_buffers);
        let workers = self.shared.workers;
        self.shared.broadcast(&|worker| {
            let range = stretch(total.len(), workers, worker);
            for (index, parameter) in parameters.iter().enumerate() {
                let (start, end) = (range.start.max(offsets[index]), range.end.min(offsets[index + 1]));
                if start >= end {
                    continue;
                }
                let local = start - offsets[index]..end - offsets[index];
                // SAFETY: the workers' stretches of the flat space are disjoint
                // (`stretch`), so are their parts of each parameter and state buffer; the
                // model is write-locked and the optimiser borrowed for the whole phase.
                let (parameter, first, second) = unsafe {
                    (
                        parameter.stretch(local.clone()),
                        state(first_state, index, &local),
                        state(second_state, index, &local),
                    )
                };
                rule.apply(parameter, &total[start..end], scale, [first, second]);
            }
        });
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
        phase: Mutex::new(Phase::Shard),
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
        let parameters = total.parameter_count();
        let mut handle = Workers {
            shared: release.0,
            state: ShardState::new(dropout.clone()),
            lengths: total.parameters().map(<[f32]>::len).collect(),
            total,
            sources: Vec::with_capacity(workers),
            parameters: Vec::with_capacity(parameters),
            state_buffers: [Vec::with_capacity(parameters), Vec::with_capacity(parameters)],
        };
        body(&mut handle)
    })
}

/// Sets `out` to the sum of `sources` (each as long), added in order: `a`, `a + b`,
/// `(a + b) + c`, ... (the first two in one pass, without copying the first).
fn sum_into<'s>(out: &mut [f32], sources: &mut impl Iterator<Item = &'s [f32]>) {
    let Some(first) = sources.next() else {
        return;
    };
    match sources.next() {
        None => out.copy_from_slice(first),
        Some(second) => {
            for ((total, &a), &b) in out.iter_mut().zip(first).zip(second) {
                *total = a + b;
            }
        }
    }
    for source in sources {
        for (total, &g) in out.iter_mut().zip(source) {
            *total += g;
        }
    }
}

/// The stretch `local` of state buffer `index` in `views`, or an empty slice if the
/// optimiser keeps no such buffer.
///
/// # Safety
///
/// As [`SharedMut::stretch`].
#[expect(clippy::mut_from_ref, reason = "the stretch comes from a raw pointer; the contract makes it unique")]
unsafe fn state<'v>(views: &'v [SharedMut<f32>], index: usize, local: &std::ops::Range<usize>) -> &'v mut [f32] {
    match views.get(index) {
        // SAFETY: the caller's.
        Some(view) => unsafe { view.stretch(local.clone()) },
        None => &mut [],
    }
}
