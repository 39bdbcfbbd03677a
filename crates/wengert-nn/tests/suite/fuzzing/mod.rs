//! Byte-mutation fuzzing of the parsers of outside input, shared by the bounded tests
//! (`tests/suite/fuzz_*.rs` here, `tests/suite/fuzz_flags.rs` in the facade package) and the soak
//! (`examples/fuzz.rs` in the facade package): a seeded generator, the mutators, a global
//! allocator that records each thread's largest single allocation, and a runner that turns
//! one mutated input into an outcome.
//!
//! An input passes if the parser returns `Ok` or its typed error (naming the file, where the
//! parser is given one), does not panic, and allocates no single block larger than
//! [`ALLOCATION_FACTOR`] times the input's size plus [`ALLOCATION_SLACK`]. An abort (a failed
//! allocation, a stack overflow) ends the process; the soak's `--trace` prints each seed
//! before it runs, to find the input that did it.
//!
//! Every input is a pure function of (target, seed): the failure messages give both, and
//! `cargo run --release --example fuzz -- --target NAME --replay SEED` runs it again.

// Each binary that includes this module uses its own part of it.
#![allow(dead_code)]

pub mod mutate;
pub mod targets;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

pub use mutate::{mutate, Field, Rng, Sample};

/// The largest single allocation a parser may make, as a multiple of its input's size (the
/// file's bytes, or what a gzip file decompresses to): a data set of f32 features takes 4
/// bytes per feature byte of an IDX file, and `usize` labels 8 bytes per label byte.
pub const ALLOCATION_FACTOR: usize = 16;

/// Plus this much, for fixed buffers: flate2's inflate state and 32 KiB read buffer, clap's
/// command, the checkpoint parser's JSON maps.
pub const ALLOCATION_SLACK: usize = 64 * 1024;

/// The bound on one input's largest allocation.
pub fn allocation_bound(input_size: usize) -> usize {
    ALLOCATION_FACTOR.saturating_mul(input_size).saturating_add(ALLOCATION_SLACK)
}

// ---------------------------------------------------------------------------------------
// The allocator: the largest single block each thread asked for since it last reset.
// ---------------------------------------------------------------------------------------

thread_local! {
    // A const-initialised Cell without a destructor: reading it never allocates.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

/// Forwards to the system allocator, noting each request's size for the calling thread.
pub struct LargestAllocation;

// SAFETY: every call forwards to the system allocator with the caller's arguments unchanged;
// the note is a thread-local Cell that never allocates.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds GlobalAlloc\'s contract, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest single allocation this thread made
/// meanwhile. Parsers run on the calling thread, so nothing they allocate is missed.
pub fn largest_allocation_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|largest| largest.set(0));
    let result = f();
    (result, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------
// One input: its outcome.
// ---------------------------------------------------------------------------------------

/// How a parser took one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It accepted the input.
    Accepted,
    /// It refused the input with its typed error (the message).
    Refused(String),
    /// It panicked (the panic's message).
    Panicked(String),
    /// It refused the input, but its error does not name the file it read.
    Unnamed(String),
    /// It allocated a block larger than the bound.
    TooLarge { largest: usize, bound: usize },
}

impl Outcome {
    /// True for the outcomes that are bugs.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Panicked(_) | Outcome::Unnamed(_) | Outcome::TooLarge { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Accepted => f.write_str("accepted"),
            Outcome::Refused(message) => write!(f, "refused: {message}"),
            Outcome::Panicked(message) => write!(f, "PANICKED: {message}"),
            Outcome::Unnamed(message) => write!(f, "an error that does not name the file: {message}"),
            Outcome::TooLarge { largest, bound } => {
                write!(f, "allocated a block of {largest} bytes, over the bound of {bound}")
            }
        }
    }
}

thread_local! {
    // Whether this thread is inside `judge`, and where its last panic there happened.
    static JUDGING: Cell<bool> = const { Cell::new(false) };
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook, once, by one that only notes where a panic inside `judge`
/// happened (it becomes part of the outcome); other panics, a failing test's among them,
/// still go to the previous hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if JUDGING.with(Cell::get) {
                PANIC_LOCATION.with(|place| *place.borrow_mut() = info.location().map(ToString::to_string));
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Runs one parse and judges it: `parse` returns its error's message on refusal;
/// `names` is the file name every error must contain (none for flags); `input_size` sets
/// the allocation bound.
pub fn judge(input_size: usize, names: &[&str], parse: impl FnOnce() -> Result<(), String>) -> Outcome {
    install_panic_hook();
    JUDGING.with(|judging| judging.set(true));
    let (result, largest) = largest_allocation_during(|| catch_unwind(AssertUnwindSafe(parse)));
    JUDGING.with(|judging| judging.set(false));
    let bound = allocation_bound(input_size);
    match result {
        Err(payload) => {
            let location = PANIC_LOCATION.with(|place| place.borrow_mut().take()).unwrap_or_default();
            Outcome::Panicked(format!("{} (at {location})", panic_message(payload.as_ref())))
        }
        Ok(_) if largest > bound => Outcome::TooLarge { largest, bound },
        Ok(Ok(())) => Outcome::Accepted,
        Ok(Err(message)) if names.iter().all(|name| !message.contains(name)) && !names.is_empty() => {
            Outcome::Unnamed(message)
        }
        Ok(Err(message)) => Outcome::Refused(message),
    }
}

// ---------------------------------------------------------------------------------------
// A target: a parser and the real files to mutate for it.
// ---------------------------------------------------------------------------------------

/// Runs a parser on one input and judges it.
pub type Run = Box<dyn Fn(&[u8]) -> Outcome>;

/// A parser under fuzzing: the files to mutate and how to run it on mutated bytes.
pub struct Target {
    /// A short name: `csv`, `csv.gz`, `idx-images`, `idx-labels`, `checkpoint`, `flags`.
    pub name: &'static str,
    /// The real inputs, each with the header fields a mutation may set to huge values.
    pub samples: Vec<Sample>,
    /// Runs the parser on one input and judges it.
    pub run: Run,
}

/// One mutated input and what became of it.
pub struct Trial {
    pub seed: u64,
    pub sample: &'static str,
    pub mutations: Vec<String>,
    pub outcome: Outcome,
}

impl fmt::Display for Trial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {} on {} [{}]: {}", self.seed, self.sample, self.mutations.join("; "), self.outcome)
    }
}

impl Target {
    /// Mutates the sample `seed` picks, runs the parser on it, and reports.
    pub fn trial(&self, seed: u64) -> Trial {
        let mut rng = Rng::new(seed);
        let sample = &self.samples[rng.below(self.samples.len())];
        let (bytes, mutations) = mutate(sample, &mut rng);
        let outcome = (self.run)(&bytes);
        Trial { seed, sample: sample.name, mutations, outcome }
    }

    /// The unmutated samples must parse: proof that the mutations start from real inputs.
    pub fn check_samples_parse(&self) {
        for sample in &self.samples {
            let outcome = (self.run)(&sample.bytes);
            assert_eq!(
                outcome,
                Outcome::Accepted,
                "{}: the unmutated sample {} does not parse",
                self.name,
                sample.name
            );
        }
    }

    /// Runs `count` trials with seeds `first_seed..`; returns the failures and how many
    /// inputs were accepted (the rest were refused).
    pub fn fuzz(&self, first_seed: u64, count: u64) -> (Vec<Trial>, u64) {
        let mut failures = Vec::new();
        let mut accepted = 0;
        for seed in first_seed..first_seed + count {
            let trial = self.trial(seed);
            accepted += u64::from(trial.outcome == Outcome::Accepted);
            if trial.outcome.is_failure() {
                failures.push(trial);
            }
        }
        (failures, accepted)
    }
}

/// Asserts that `count` trials of `target` all pass, listing the first failures by seed.
pub fn assert_fuzz_passes(target: &Target, first_seed: u64, count: u64) {
    target.check_samples_parse();
    let (failures, accepted) = target.fuzz(first_seed, count);
    let shown: Vec<String> = failures.iter().take(5).map(Trial::to_string).collect();
    assert!(
        failures.is_empty(),
        "{}: {} of {count} mutated inputs failed; the first:\n{}",
        target.name,
        failures.len(),
        shown.join("\n")
    );
    // Both outcomes must occur: all accepted would mean the mutations are not applied, all
    // refused that they never get past the parser's first check.
    assert!(
        accepted > 0 && accepted < count,
        "{}: {accepted} of {count} mutated inputs accepted; the mutations should make some fail",
        target.name
    );
}
