//! The element types a tape can hold: `f32` and `f64`, behind one trait.
//!
//! [`Real`] is `num_traits::Float` plus the one thing `Float` does not give: a route to
//! the GEMM kernel of the matching precision. It is sealed; the engine is generic over it
//! so that gradient checks run in `f64` and training runs in `f32` through the same code.

use num_traits::Float;
use std::fmt::{Debug, Display, LowerExp};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type the tape can record: `f32` or `f64`.
///
/// # Examples
///
/// ```
/// use wengert_tape::Real;
/// fn half<T: Real>(x: T) -> T { x * T::lit(0.5) }
/// assert_eq!(half(3.0_f64), 1.5);
/// assert_eq!(half(3.0_f32), 1.5);
/// ```
pub trait Real: Float + Default + Debug + Display + LowerExp + Send + Sync + 'static + sealed::Sealed {
    /// The type's name as it appears in messages and checkpoints ("f32" or "f64").
    const NAME: &'static str;

    /// `x` converted from an `f64` literal (rounded to the nearest `Self`).
    fn lit(x: f64) -> Self;

    /// `C <- alpha * A B + beta * C` for general strided matrices, through `gemmkit` (or the
    /// system CBLAS that [`crate::gemm_backend`] names, with the `openblas` or `blis` feature).
    ///
    /// A is `m x k` with row stride `rsa` and column stride `csa`, B is `k x n`, C is `m x n`.
    /// Strides let the caller read a transpose without copying it.
    ///
    /// # Panics
    ///
    /// If a stride or size would reach outside its slice.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (&[Self], usize, usize),
        b: (&[Self], usize, usize),
        beta: Self,
        c: (&mut [Self], usize, usize),
    );
}

macro_rules! impl_real {
    ($t:ty, $name:literal) => {
        impl Real for $t {
            const NAME: &'static str = $name;

            #[inline(always)]
            fn lit(x: f64) -> Self {
                x as $t
            }

            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: (&[Self], usize, usize),
                b: (&[Self], usize, usize),
                beta: Self,
                c: (&mut [Self], usize, usize),
            ) {
                crate::kernels::gemm(m, k, n, alpha, a, b, beta, c);
            }
        }
    };
}

impl_real!(f32, "f32");
impl_real!(f64, "f64");
