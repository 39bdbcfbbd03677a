//! The check run before the convolution races: the tape and the hand-written code must
//! compute the same numbers, else the race is not timed.

use std::fmt;

/// Largest relative difference the convolution races accept, in f32.
pub const TOLERANCE: f32 = 1e-4;

/// A tensor on which the tape and the hand-written code disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// The workload, `conv1` or `cnn` say.
    pub workload: String,
    /// What differs: `loss`, `y`, `dX`, `dW`, `conv1.weight gradient`...
    pub what: String,
    /// Their [`relative_error`].
    pub error: f32,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: the tape's {} differs from the hand-written one (relative error {:.1e} > {TOLERANCE:e})",
            self.workload, self.what, self.error
        )
    }
}

impl std::error::Error for Disagreement {}

/// `max |got - want| / max |want|` (the largest difference against the largest element, so
/// that an element that cancels to nearly 0 asks for no more digits than f32 has); infinite
/// for a length mismatch or a NaN.
///
/// ```
/// use wengert_bench::agree::relative_error;
/// assert_eq!(relative_error(&[1.0, 2.5], &[1.0, 2.0]), 0.25);
/// assert_eq!(relative_error(&[f32::NAN], &[1.0]), f32::INFINITY);
/// ```
pub fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs())).max(f32::MIN_POSITIVE);
    let difference = got.iter().zip(want).fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    let error = difference / scale;
    if error.is_nan() || got.iter().any(|g| g.is_nan()) {
        f32::INFINITY
    } else {
        error
    }
}

/// Checks that `got` (the tape's) agrees with `want` (the hand-written code's).
///
/// # Errors
///
/// A [`Disagreement`] naming `workload` and `what` if their [`relative_error`] exceeds
/// [`TOLERANCE`].
///
/// ```
/// use wengert_bench::agree::agree;
/// assert!(agree("cnn", "loss", &[2.30259], &[2.30258]).is_ok());
/// assert!(agree("cnn", "loss", &[2.4], &[2.3]).is_err());
/// ```
pub fn agree(workload: &str, what: &str, got: &[f32], want: &[f32]) -> Result<(), Disagreement> {
    let error = relative_error(got, want);
    if error <= TOLERANCE {
        Ok(())
    } else {
        Err(Disagreement { workload: workload.into(), what: what.into(), error })
    }
}
