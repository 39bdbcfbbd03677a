//! Heap allocations of a steady-state training step, counted by a global allocator.
//!
//! The tape itself allocates nothing once its buffers have grown at the first step. The
//! GEMM crate (`matrixmultiply`) allocates one packing buffer inside each product it
//! computes, and exposes no way to hand it one; the hand-written step makes the same products
//! and so the same allocations. So the test asserts that a tape step allocates exactly what
//! the hand-written step allocates, and that this is one allocation per product.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use wengert_bench::mlp::{widths, HandStep, Problem, TapeStep};

struct Counting;

thread_local! {
    // Per thread, so that the test harness's other threads do not disturb the count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call forwards to the system allocator with the caller's arguments unchanged;
// the counter is a thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Products per train step of an MLP with `layers` layers: one forward product per layer,
/// one weight gradient per layer, one input gradient per layer but the first.
fn products_per_step(layers: usize) -> usize {
    3 * layers - 1
}

fn check(size: &str) {
    // The products' sizes stay below matrixmultiply's threading threshold only with one
    // thread; the test pins it so that no worker thread allocates on our behalf.
    std::env::set_var("MATMUL_NUM_THREADS", "1");
    let layers = widths(size).0.len() - 1;
    let mut tape = TapeStep::new(Problem::new(size));
    let mut hand = HandStep::new(Problem::new(size));
    for _ in 0..3 {
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
        assert_eq!(hand_allocations, products_per_step(layers), "MLP-{size} step {step}: the hand-written step");
        assert_eq!(
            tape_allocations, hand_allocations,
            "MLP-{size} step {step}: the tape step allocates beyond the GEMM's own packing buffers"
        );
    }
}

#[test]
fn steady_state_tape_step_allocates_only_inside_the_gemm_mlp_s() {
    check("S");
}

#[test]
fn steady_state_tape_step_allocates_only_inside_the_gemm_mlp_m() {
    check("M");
}
