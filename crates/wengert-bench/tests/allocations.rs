//! Heap allocations of a steady-state training step, counted by a global allocator.
//!
//! The tape allocates nothing once its buffers have grown at the first step, and the GEMM
//! (`gemmkit`, through `Real::gemm`) packs into a thread-local workspace that has grown to
//! the step's largest product by then. So after a few warm-up steps a train step, on the tape
//! or hand-written, allocates nothing at all; nor does one with dropout after each hidden layer,
//! whose mask is drawn into a buffer the layer keeps.
//!
//! The counter is process-wide, not per thread, so that an allocation made on the engine's
//! behalf by any thread (a GEMM worker, say) counts too. That is also why this binary has no
//! test harness (`harness = false` in Cargo.toml, and a `main` that panics on failure): the
//! harness's own thread, and any second test running alongside, would add allocations of
//! their own to the count now and then (with the harness, about one run in six failed so).
//!
//! wengert-nn's data-parallel step is counted too, with 1 and 2 workers: the worker thread
//! is parked on a barrier between steps and reads the batch from buffers sized at the first
//! step, so its allocations (its tape, its GEMM workspace) are all in the warm-up. MLP-M
//! and the CNN are large enough for the sum and the update to be split over the two
//! workers (the CNN with Adam), so those phases are counted too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use wengert_bench::mlp::{HandStep, Problem, TapeStep};
use wengert_bench::train;
use wengert_nn::optim::{Adam, Optimizer, Sgd};
use wengert_nn::parallel::with_workers;
use wengert_nn::{Dropout, Sequential};
use wengert_tape::{Tape, Var};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator with the caller's arguments unchanged;
// the counter is an atomic that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Warm-up steps before counting: the first grows the tape's buffers and the GEMM workspace;
/// the others make sure nothing grows later.
const WARM_UP: usize = 3;

fn check(size: &str) {
    let mut tape = TapeStep::new(Problem::new(size));
    let mut hand = HandStep::new(Problem::new(size));
    // A fresh tape has buffers to grow: proof that the counter sees the engine at all.
    let first = allocations_during(|| {
        tape.step(0.01);
    });
    assert!(first > 0, "MLP-{size}: the first tape step allocated nothing; is the counter counting?");
    hand.step(0.01);
    for _ in 1..WARM_UP {
        tape.step(0.01);
        hand.step(0.01);
    }
    for step in 0..5 {
        let tape_allocations = allocations_during(|| {
            tape.step(0.01);
        });
        let hand_allocations = allocations_during(|| {
            hand.step(0.01);
        });
        assert_eq!(tape_allocations, 0, "MLP-{size} step {step} after warm-up: the tape step allocated");
        assert_eq!(hand_allocations, 0, "MLP-{size} step {step} after warm-up: the hand-written step allocated");
    }
}

/// The tape's train step of `Problem` with dropout (p = 0.5) after each hidden relu: a new
/// mask every call, drawn into the layer's reused buffer and recorded as a constant.
struct DropoutStep {
    problem: Problem,
    tape: Tape<f32>,
    dropout: Dropout<f32>,
}

impl DropoutStep {
    fn new(problem: Problem) -> Self {
        DropoutStep { problem, tape: Tape::new(), dropout: Dropout::new(0.5, 7).expect("valid p") }
    }

    fn step(&mut self, learning_rate: f32) {
        let DropoutStep { problem, tape, dropout } = self;
        tape.clear();
        let depth = problem.layers.len();
        let mut a = tape.constant(&problem.x);
        let mut vars: [Option<(Var<'_, f32>, Var<'_, f32>)>; 4] = [None; 4];
        for (l, (w, b)) in problem.layers.iter().enumerate() {
            let (w, b) = (tape.var(w), tape.var(b));
            vars[l] = Some((w, b));
            let z = a.matmul(w).add_bias(b);
            a = if l + 1 < depth { dropout.forward(z.relu()) } else { z };
        }
        let grads = tape.backward(a.softmax_cross_entropy(&problem.labels));
        for ((w, b), vars) in problem.layers.iter_mut().zip(vars) {
            let (wv, bv) = vars.expect("one pair per layer");
            for (p, &g) in w.data_mut().iter_mut().zip(grads.wrt_slice(wv)) {
                *p -= learning_rate * g;
            }
            for (p, &g) in b.data_mut().iter_mut().zip(grads.wrt_slice(bv)) {
                *p -= learning_rate * g;
            }
        }
    }
}

fn check_dropout(size: &str) {
    let mut step = DropoutStep::new(Problem::new(size));
    for _ in 0..WARM_UP {
        step.step(0.01);
    }
    for n in 0..5 {
        let allocations = allocations_during(|| step.step(0.01));
        assert_eq!(allocations, 0, "MLP-{size} with dropout, step {n} after warm-up: the step allocated");
    }
    assert_eq!(step.dropout.mask().len(), step.problem.x.shape().rows() * 32, "the last hidden layer's mask");
}

/// The data-parallel step of MLP-`size` at batch 128 on `workers` (SGD or Adam, with or
/// without dropout and clipping): after warm-up, no allocation on any thread.
fn check_workers(size: &str, workers: usize, dropout: f64, optimizer: &mut dyn Optimizer<f32>) {
    let mut model = train::model(size);
    let (features, labels) = train::batch(size);
    let dropout_layer = Dropout::new(dropout, 3).expect("valid p");
    let what = format!("MLP-{size} on {workers} workers, dropout {dropout}");
    with_workers(workers, &mut model, &dropout_layer, |w| {
        assert_steady_state_allocates_nothing(&what, 5, |n| {
            w.gradient(&features, &labels, [0, n]);
            w.apply(optimizer, Some(5.0));
        })
    });
}

/// Runs `step(0)` (which must allocate: the counter counts), warms up, then asserts that
/// each of `checked` more steps allocates nothing, naming `what`.
fn assert_steady_state_allocates_nothing(what: &str, checked: u64, mut step: impl FnMut(u64)) {
    let first = allocations_during(|| step(0));
    assert!(first > 0, "{what}: the first step allocated nothing; is the counter counting?");
    for n in 1..WARM_UP as u64 {
        step(n);
    }
    for n in 0..checked {
        let allocations = allocations_during(|| step(WARM_UP as u64 + n));
        assert_eq!(allocations, 0, "{what}, step {n} after warm-up: the step allocated");
    }
}

/// Run by `cargo test` as a test without harness: a panic fails it.
fn main() {
    steady_state_train_steps_allocate_nothing_on_one_thread();
    println!("allocations: steady-state train steps allocate nothing (MLP-S, MLP-M, MLP-S with dropout)");
    steady_state_data_parallel_steps_allocate_nothing_on_any_worker();
    println!("allocations: steady-state data-parallel steps allocate nothing (1 and 2 workers, SGD and Adam, dropout, a CNN)");
}

fn steady_state_data_parallel_steps_allocate_nothing_on_any_worker() {
    for workers in [1, 2] {
        check_workers("M", workers, 0.0, &mut Sgd::new(0.01));
        check_workers("S", workers, 0.5, &mut Adam::new(0.01));
        check_cnn(workers);
    }
}

/// The LeNet of `examples/mnist_cnn.rs` (conv, pools, flatten, linear) at batch 16 on
/// `workers`, Adam: the im2col buffers and workspaces live in the tapes' arenas, so after
/// warm-up no step allocates.
fn check_cnn(workers: usize) {
    use rand::SeedableRng;
    let architecture = "unflatten(1x28x28) | conv2d(1->8, k5, p2) | relu | max_pool2d(k2) | conv2d(8->16, k5) | relu \
                        | max_pool2d(k2) | flatten | linear(400->120) | relu | linear(120->10)";
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut model = Sequential::<f32>::from_architecture(architecture, &mut rng).expect("LeNet parses");
    let features: Vec<f32> = (0..16 * 784).map(|i| ((i * 31) % 97) as f32 / 97.0).collect();
    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let mut adam = Adam::new(1e-3);
    let no_dropout = Dropout::new(0.0, 0).expect("valid p");
    let what = format!("LeNet on {workers} workers");
    with_workers(workers, &mut model, &no_dropout, |w| {
        assert_steady_state_allocates_nothing(&what, 3, |n| {
            w.gradient(&features, &labels, [0, n]);
            w.apply(&mut adam, None);
        })
    });
}

fn steady_state_train_steps_allocate_nothing_on_one_thread() {
    wengert_tape::set_gemm_threads(1);
    // The counter sees an allocation on this thread and one on another thread.
    assert_eq!(allocations_during(|| drop(black_box(Box::new(1_u64)))), 1);
    let elsewhere = allocations_during(|| {
        std::thread::scope(|s| {
            s.spawn(|| drop(black_box(Box::new(1_u64))));
        })
    });
    assert!(elsewhere >= 1, "an allocation on another thread went uncounted");
    check("S");
    check("M");
    check_dropout("S");
}
