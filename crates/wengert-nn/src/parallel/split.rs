//! The flat parameter space cut into one stretch per worker, and the raw views through which
//! the workers read and write their own stretches of the same buffers at once (the sum of
//! the shards' gradients and the optimiser's update).

use std::ops::Range;

/// Below this many parameters the sum and the update stay on the calling thread: two more
/// barrier meetings would cost more than the halved loop saves.
pub(crate) const PARALLEL_MIN_ELEMENTS: usize = 1 << 14;

/// Stretch boundaries fall on multiples of this many elements (64 bytes of `f32`), so no two
/// workers write the same cache line.
const ALIGN: usize = 16;

/// Worker `worker`'s stretch of `0..len` when it is cut into `workers` contiguous stretches of
/// about equal length, each boundary on a multiple of [`ALIGN`]; together they cover
/// `0..len` once.
pub(crate) fn stretch(len: usize, workers: usize, worker: usize) -> Range<usize> {
    let boundary = |j: usize| if j == workers { len } else { (len * j / workers) / ALIGN * ALIGN };
    boundary(worker)..boundary(worker + 1)
}

/// A mutable slice lent to several threads at once, each writing stretches that no other
/// thread touches. It holds a raw pointer, so it does not keep the slice borrowed: whoever
/// makes one keeps the slice alive and untouched while it is used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharedMut<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: a `SharedMut` is only a pointer and a length; handing it to another thread is as
// safe as handing that thread a `&mut [T]` for the stretches it writes, which `stretch`'s
// contract makes disjoint, and `T: Send` allows.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above; shared references to it only give out stretches through the unsafe
// `stretch`, whose callers guarantee they do not overlap.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    pub(crate) fn new(slice: &mut [T]) -> Self {
        SharedMut { ptr: slice.as_mut_ptr(), len: slice.len() }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The elements `range` of the slice, to write.
    ///
    /// # Safety
    ///
    /// The slice given to [`SharedMut::new`] must still be alive, not moved, and not
    /// reached through anything else while the returned stretch lives; and no two stretches
    /// taken at the same time (on any thread) may overlap.
    ///
    /// # Panics
    ///
    /// If `range` is not within the slice.
    #[track_caller]
    #[expect(clippy::mut_from_ref, reason = "the stretch comes from the raw pointer; the contract makes it unique")]
    pub(crate) unsafe fn stretch(&self, range: Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len, "stretch {range:?} of {}", self.len);
        // SAFETY: in bounds (checked above) of a live slice (the caller's contract), and no
        // other reference reaches these elements meanwhile (the caller's contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

/// A slice read by several threads at once, held as a raw pointer ([`SharedMut`]'s reading
/// twin): whoever makes one keeps the slice alive and unwritten while it is read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharedRef<T> {
    ptr: *const T,
    len: usize,
}

// SAFETY: only a pointer and a length, read through `stretch` by threads that could as well
// hold a `&[T]` (`T: Sync`).
unsafe impl<T: Sync> Send for SharedRef<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for SharedRef<T> {}

impl<T> SharedRef<T> {
    pub(crate) fn new(slice: &[T]) -> Self {
        SharedRef { ptr: slice.as_ptr(), len: slice.len() }
    }

    /// The elements `range` of the slice, to read.
    ///
    /// # Safety
    ///
    /// The slice given to [`SharedRef::new`] must still be alive, not moved, and not written
    /// while the returned stretch lives.
    ///
    /// # Panics
    ///
    /// If `range` is not within the slice.
    #[track_caller]
    pub(crate) unsafe fn stretch(&self, range: Range<usize>) -> &[T] {
        assert!(range.start <= range.end && range.end <= self.len, "stretch {range:?} of {}", self.len);
        // SAFETY: in bounds (checked above) of a live slice that nobody writes meanwhile
        // (the caller's contract).
        unsafe { std::slice::from_raw_parts(self.ptr.add(range.start), range.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_cover_the_range_once_on_aligned_boundaries() {
        for len in [0, 1, 15, 16, 17, 100, 1000, 65_537] {
            for workers in 1..=5 {
                let mut next = 0;
                for worker in 0..workers {
                    let s = stretch(len, workers, worker);
                    assert_eq!(s.start, next, "len {len}, {workers} workers, worker {worker}");
                    assert!(s.start <= s.end);
                    assert!(worker == 0 || s.start.is_multiple_of(ALIGN) || s.start == len);
                    next = s.end;
                }
                assert_eq!(next, len);
            }
        }
        // Long ranges are shared about equally.
        assert_eq!(stretch(1 << 20, 2, 0), 0..1 << 19);
    }

    #[test]
    fn threads_write_disjoint_stretches_of_one_buffer() {
        let mut data = vec![0_u32; 10_000];
        let shared = SharedMut::new(&mut data);
        std::thread::scope(|scope| {
            for worker in 0..3 {
                scope.spawn(move || {
                    // SAFETY: the three stretches partition the buffer, which outlives the
                    // scope and is not touched otherwise until the threads are joined.
                    let mine = unsafe { shared.stretch(stretch(shared.len(), 3, worker)) };
                    mine.iter_mut().for_each(|x| *x = worker as u32 + 1);
                });
            }
        });
        for worker in 0..3 {
            assert!(data[stretch(10_000, 3, worker)].iter().all(|&x| x == worker as u32 + 1));
        }
        let read = SharedRef::new(&data);
        // SAFETY: `data` is alive and unwritten while the stretch is read.
        assert_eq!(unsafe { read.stretch(0..2) }, &[1, 1]);
    }

    #[test]
    #[should_panic(expected = "stretch 5..11 of 10")]
    fn a_stretch_past_the_end_panics() {
        let mut data = [0.0_f32; 10];
        let shared = SharedMut::new(&mut data);
        // SAFETY: no other reference to `data` is used while the stretch lives.
        let _ = unsafe { shared.stretch(5..11) };
    }
}
