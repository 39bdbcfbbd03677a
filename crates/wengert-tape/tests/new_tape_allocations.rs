//! A new tape per gradient allocates nothing once the thread has buffers to give it: the
//! arenas of a dropped tape go to the next one made on the same thread (`src/pool.rs`), so the
//! natural code (`let tape = Tape::new();` inside the loop) costs what a reused tape does.
//!
//! Heap allocations are counted by a global allocator. The counter is process-wide, so this
//! binary has no test harness (`harness = false` in Cargo.toml, and a `main` that panics on
//! failure): the harness's own thread would add allocations of its own now and then.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use wengert_tape::{release_thread_arenas, Tape};

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

/// The extended Rosenbrock function of `x` on a new tape, written as a scalar user writes it;
/// returns the gradient's sum, read leaf by leaf (no buffer of handles, so that any
/// allocation counted is the tape's).
fn rosenbrock_on_a_new_tape(x: &[f64]) -> f64 {
    let tape = Tape::<f64>::new();
    let first = tape.var(x[0]);
    let mut previous = first;
    let mut total = tape.constant(0.0);
    for &next in &x[1..] {
        let next = tape.var(next);
        total = total + (1.0 - previous).powi(2) + 100.0 * (next - previous * previous).powi(2);
        previous = next;
    }
    let grads = tape.backward(total);
    // The leaves are every node recorded by `var`: read the first one's gradient as a check
    // that the sweep ran.
    grads.wrt(first)
}

/// Run by `cargo test` as a test without harness: a panic fails it.
fn main() {
    a_new_tape_per_gradient_allocates_nothing_after_the_first();
    println!("new_tape_allocations: a new tape per gradient allocates nothing after the first");
}

fn a_new_tape_per_gradient_allocates_nothing_after_the_first() {
    let x: Vec<f64> = (0..1000).map(|i| (f64::from(i) * 0.37).sin()).collect();
    // df/dx_0 = -2 (1 - x_0) - 400 x_0 (x_1 - x_0^2).
    let expected = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
    let mut first = 0.0;
    let grown = allocations_during(|| first = rosenbrock_on_a_new_tape(&x));
    assert!(grown > 0, "the first tape grew its buffers: proof that the counter counts");
    assert!((first - expected).abs() <= 1e-12 * expected.abs().max(1.0), "{first} against {expected}");
    for step in 0..5 {
        let mut gradient = 0.0;
        let allocations = allocations_during(|| gradient = rosenbrock_on_a_new_tape(&x));
        assert_eq!(allocations, 0, "step {step}: a new tape on this thread allocated");
        assert_eq!(gradient, first, "step {step}: the same gradient");
    }
    // Released, the next tape grows its buffers again.
    release_thread_arenas();
    assert!(allocations_during(|| _ = rosenbrock_on_a_new_tape(&x)) > 0, "released buffers are gone");
}
