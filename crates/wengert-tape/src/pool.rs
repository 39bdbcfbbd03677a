//! Arenas that outlive a tape: a dropped [`Tape`](crate::Tape) hands its buffers to its
//! thread, and the next tape made on that thread takes them, so that a new tape per gradient
//! (the natural code) records into memory that has already grown, as a reused tape does.
//!
//! Each thread keeps at most one set of buffers per element type (`f32`, `f64`): the largest
//! it has been handed. [`release_thread_arenas`] frees them.

use crate::tape::Node;
use crate::Real;
use std::any::{Any, TypeId};
use std::cell::RefCell;

/// The buffers of one tape, empty but with their capacity.
pub(crate) struct Arenas<T> {
    pub nodes: Vec<Node>,
    pub extra_inputs: Vec<u32>,
    pub values: Vec<T>,
    pub indices: Vec<usize>,
    pub adjoints: Vec<T>,
    pub reached: Vec<bool>,
}

impl<T> Arenas<T> {
    /// Buffers with room for `nodes` nodes and `values` elements.
    pub fn with_capacity(nodes: usize, values: usize) -> Self {
        Arenas {
            nodes: Vec::with_capacity(nodes),
            extra_inputs: Vec::new(),
            values: Vec::with_capacity(values),
            indices: Vec::new(),
            adjoints: Vec::new(),
            reached: Vec::new(),
        }
    }

    /// The bytes the buffers hold room for: which of two sets to keep.
    fn capacity_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + (self.values.capacity() + self.adjoints.capacity()) * std::mem::size_of::<T>()
            + self.extra_inputs.capacity() * 4
            + self.indices.capacity() * std::mem::size_of::<usize>()
            + self.reached.capacity()
    }
}

/// The spare buffers of one thread, at most one set per element type. Slots, not a list of
/// boxes: handing buffers over allocates nothing.
#[derive(Default)]
struct Spare {
    f32: Option<Arenas<f32>>,
    f64: Option<Arenas<f64>>,
}

impl Spare {
    /// The slot for `T` (`Real` is sealed: `f32` or `f64`).
    fn slot<T: Real>(&mut self) -> &mut Option<Arenas<T>> {
        let slot: &mut dyn Any = if TypeId::of::<T>() == TypeId::of::<f32>() { &mut self.f32 } else { &mut self.f64 };
        slot.downcast_mut().expect("Real is f32 or f64")
    }
}

thread_local! {
    static SPARE: RefCell<Spare> = RefCell::new(Spare::default());
}

/// This thread's spare buffers for `T`, if a dropped tape left some (the caller owns them
/// now), else `None`.
pub(crate) fn take<T: Real>() -> Option<Arenas<T>> {
    SPARE.try_with(|spare| spare.borrow_mut().slot::<T>().take()).ok().flatten()
}

/// Hands `arenas` (cleared here) to this thread for the next tape, unless it already keeps a
/// larger set for `T`.
pub(crate) fn give_back<T: Real>(mut arenas: Arenas<T>) {
    arenas.nodes.clear();
    arenas.extra_inputs.clear();
    arenas.values.clear();
    arenas.indices.clear();
    arenas.adjoints.clear();
    arenas.reached.clear();
    // During thread exit the slot may be gone: then the buffers are simply freed.
    let _ = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        let slot = spare.slot::<T>();
        if slot.as_ref().is_none_or(|kept| kept.capacity_bytes() < arenas.capacity_bytes()) {
            *slot = Some(arenas);
        }
    });
}

/// Frees the buffers that dropped tapes left to this thread (both element types). The next
/// tape made on the thread starts from empty buffers again.
///
/// A thread keeps at most one tape's worth of buffers per element type, so this is only
/// needed to give memory back after a large graph on a thread that goes on with small ones.
///
/// ```
/// use wengert_tape::{release_thread_arenas, Tape};
/// {
///     let tape = Tape::<f64>::new();
///     let x = tape.var(2.0);
///     assert_eq!(tape.backward(x * x).wrt(x), 4.0);
/// } // the tape's buffers go to the thread here
/// release_thread_arenas(); // and are freed here
/// ```
pub fn release_thread_arenas() {
    let _ = SPARE.try_with(|spare| *spare.borrow_mut() = Spare::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_tapes_buffers_go_to_the_next_tape_on_the_thread() {
        release_thread_arenas();
        let mut arenas = Arenas::<f64>::with_capacity(100, 1000);
        arenas.values.push(1.0);
        give_back(arenas);
        let taken = take::<f64>().expect("the buffers given back");
        assert!(taken.values.is_empty(), "given back cleared");
        assert!(taken.nodes.capacity() >= 100 && taken.values.capacity() >= 1000);
        assert!(take::<f64>().is_none(), "taken once");
        assert!(take::<f32>().is_none(), "kept per element type");
    }

    #[test]
    fn the_thread_keeps_the_larger_set() {
        release_thread_arenas();
        give_back(Arenas::<f32>::with_capacity(10, 10));
        give_back(Arenas::<f32>::with_capacity(1000, 1000));
        give_back(Arenas::<f32>::with_capacity(20, 20));
        assert!(take::<f32>().unwrap().values.capacity() >= 1000);
        assert!(take::<f32>().is_none());
    }

    #[test]
    fn each_thread_has_its_own() {
        release_thread_arenas();
        give_back(Arenas::<f64>::with_capacity(10, 10));
        std::thread::spawn(|| assert!(take::<f64>().is_none())).join().unwrap();
        assert!(take::<f64>().is_some());
    }
}
