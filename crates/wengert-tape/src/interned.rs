//! The table of interned dimensions that a [`crate::Shape`] of rank 3 or more points to:
//! process-wide and append-only, so that a shape stays one `Copy` word that any thread can
//! read, and equal dimensions always get the same id (shapes compare as words).
//!
//! A steady-state training step sees the same few shapes every time: after the first step,
//! interning is a read-locked hash lookup and allocates nothing.

use crate::shape::Dims;
use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

#[derive(Default)]
struct Table {
    dims: Vec<Dims>,
    ids: HashMap<Dims, u32>,
}

/// The most distinct shapes of rank 3 or more a process can make: 2^27 (27 bits of the
/// shape's word hold the id).
const MAX_IDS: usize = 1 << 27;

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The id of `dims`, interning it the first time.
///
/// # Panics
///
/// If the process has already interned [`MAX_IDS`] distinct shapes.
#[track_caller]
pub(crate) fn intern(dims: Dims) -> u32 {
    // The table holds no invariant a panicking thread could break mid-way: read through poison.
    if let Some(&id) = table().read().unwrap_or_else(PoisonError::into_inner).ids.get(&dims) {
        return id;
    }
    let mut table = table().write().unwrap_or_else(PoisonError::into_inner);
    if let Some(&id) = table.ids.get(&dims) {
        return id;
    }
    let id = table.dims.len();
    assert!(id < MAX_IDS, "shape: more than {MAX_IDS} distinct shapes of rank 3 or more in one process");
    table.dims.push(dims);
    table.ids.insert(dims, id as u32);
    id as u32
}

/// The dimensions interned as `id`.
pub(crate) fn dims(id: u32) -> Dims {
    table().read().unwrap_or_else(PoisonError::into_inner).dims[id as usize]
}
