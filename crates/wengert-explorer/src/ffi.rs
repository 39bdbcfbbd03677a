//! The three functions `explorer.wasm` exports, with no binding generator: the page copies
//! its UTF-8 JSON request into memory it gets from [`explorer_alloc`], calls
//! [`explorer_handle`], reads the answer's bytes from the returned pointer and the length
//! written at `out_len`, then gives every buffer back with [`explorer_free`]. Native code
//! (the tests) can call them the same way.
//!
//! ```
//! use wengert_explorer::ffi::{explorer_alloc, explorer_free, explorer_handle};
//! let request = br#"{"graph": "chain"}"#;
//! // SAFETY: each buffer comes from explorer_alloc/explorer_handle with the length given
//! // back to explorer_free, and is read only within that length.
//! let answer = unsafe {
//!     let input = explorer_alloc(request.len());
//!     std::ptr::copy_nonoverlapping(request.as_ptr(), input, request.len());
//!     let mut out_len = 0usize;
//!     let output = explorer_handle(input, request.len(), &mut out_len);
//!     let answer = String::from_utf8_lossy(std::slice::from_raw_parts(output, out_len)).into_owned();
//!     explorer_free(output, out_len);
//!     explorer_free(input, request.len());
//!     answer
//! };
//! assert!(answer.contains(r#""loss":"0.528740472682""#)); // L of the notes' 6c
//! ```

/// A zeroed buffer of `len` bytes that stays alive until [`explorer_free`] gets it back.
#[unsafe(no_mangle)]
pub extern "C" fn explorer_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast::<u8>()
}

/// Gives back a buffer from [`explorer_alloc`] or [`explorer_handle`].
///
/// # Safety
///
/// `ptr` and `len` must be exactly a pointer and length that [`explorer_alloc`] returned
/// (or [`explorer_handle`] returned and wrote), not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn explorer_free(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the caller passes a pointer and length from `Box<[u8]>::into_raw` of that
    // length (explorer_alloc, or answer_buffer below), freed once: rebuilding the box is sound.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// Answers the UTF-8 JSON request of `len` bytes at `ptr` with [`crate::handle`], and
/// returns a new buffer holding the answer, whose length it writes to `out_len`. Bytes that
/// are not UTF-8 are replaced (and the request then fails as JSON).
///
/// # Safety
///
/// `ptr` must point to `len` readable bytes, and `out_len` to a writable `usize`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn explorer_handle(ptr: *const u8, len: usize, out_len: *mut usize) -> *mut u8 {
    let request = if len == 0 {
        String::new()
    } else {
        // SAFETY: the caller guarantees `len` readable bytes at `ptr` (checked non-empty).
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(ptr, len) }).into_owned()
    };
    let answer = crate::handle(&request).into_bytes().into_boxed_slice();
    // SAFETY: the caller guarantees `out_len` points to a writable usize.
    unsafe { out_len.write(answer.len()) };
    Box::into_raw(answer).cast::<u8>()
}
