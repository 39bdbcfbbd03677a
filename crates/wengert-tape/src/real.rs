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

    /// `C <- alpha * A B + beta * C` for general strided matrices, through `matrixmultiply`.
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

/// The largest index a strided `rows x cols` matrix touches, plus one (0 when it is empty).
fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

macro_rules! impl_real {
    ($t:ty, $name:literal, $kernel:path) => {
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
                (a, rsa, csa): (&[Self], usize, usize),
                (b, rsb, csb): (&[Self], usize, usize),
                beta: Self,
                (c, rsc, csc): (&mut [Self], usize, usize),
            ) {
                assert!(
                    extent(m, k, rsa, csa) <= a.len(),
                    "gemm: A [{m} x {k}] with strides ({rsa}, {csa}) reaches past its {} elements",
                    a.len()
                );
                assert!(
                    extent(k, n, rsb, csb) <= b.len(),
                    "gemm: B [{k} x {n}] with strides ({rsb}, {csb}) reaches past its {} elements",
                    b.len()
                );
                assert!(
                    extent(m, n, rsc, csc) <= c.len(),
                    "gemm: C [{m} x {n}] with strides ({rsc}, {csc}) reaches past its {} elements",
                    c.len()
                );
                if m == 0 || n == 0 {
                    return;
                }
                // SAFETY: the three asserts above prove that every index the kernel forms,
                // i * row_stride + j * col_stride for i < rows and j < cols, lies inside its
                // slice; `c` is a unique borrow, so it cannot alias `a` or `b`. Strides fit in
                // isize because each extent is at most a slice length. With k = 0 the kernel
                // reads nothing from A or B and scales C by beta. Exercised by every matmul test.
                unsafe {
                    $kernel(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr(),
                        rsa as isize,
                        csa as isize,
                        b.as_ptr(),
                        rsb as isize,
                        csb as isize,
                        beta,
                        c.as_mut_ptr(),
                        rsc as isize,
                        csc as isize,
                    );
                }
            }
        }
    };
}

impl_real!(f32, "f32", matrixmultiply::sgemm);
impl_real!(f64, "f64", matrixmultiply::dgemm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_reads_a_transpose_through_strides() {
        // A = [[1, 2, 3], [4, 5, 6]] stored row-major; A^T B with B = [[1], [1]] is the column sums.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 1.0];
        let mut c = [10.0; 3];
        f64::gemm(3, 2, 1, 1.0, (&a, 1, 3), (&b, 1, 1), 1.0, (&mut c, 1, 1));
        assert_eq!(c, [15.0, 17.0, 19.0]);
    }

    #[test]
    #[should_panic(expected = "gemm: B [3 x 2]")]
    fn gemm_refuses_strides_past_the_slice() {
        let a = [0.0_f32; 6];
        let b = [0.0_f32; 5];
        let mut c = [0.0_f32; 4];
        f32::gemm(2, 3, 2, 1.0, (&a, 3, 1), (&b, 2, 1), 0.0, (&mut c, 2, 1));
    }
}
