//! The optional CBLAS back-ends (features `openblas` and `blis`): `Real::gemm` hands a product
//! to the system library's `cblas_sgemm` / `cblas_dgemm` when CBLAS can read every operand as
//! it is stored, and `kernels.rs` makes it with gemmkit otherwise.
//!
//! CBLAS reads a row-major matrix (column stride 1) as stored, with its row stride as the
//! leading dimension, and a column-major one (row stride 1) as the transpose of a row-major
//! one, with its column stride as the leading dimension. A column-major C is made as
//! `C^T = B^T A^T`. Any other strides (a stride of 0, both strides above 1, a leading
//! dimension below the row length) or a size past `c_int` leave the product to gemmkit.

#![deny(clippy::undocumented_unsafe_blocks)]

use crate::kernels::gemm_threads;
use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE};
use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(all(feature = "openblas", feature = "blis"))]
compile_error!("wengert-tape: the features `openblas` and `blis` both link a CBLAS; enable one of them");

/// The back-end's name, as [`crate::gemm_backend`] reports it.
#[cfg(feature = "openblas")]
pub(crate) const NAME: &str = "openblas";
#[cfg(all(feature = "blis", not(feature = "openblas")))]
pub(crate) const NAME: &str = "blis";

// Linking the library here also resolves cblas-sys's declarations, which name no library.
#[cfg(feature = "openblas")]
#[link(name = "openblas")]
unsafe extern "C" {
    fn openblas_set_num_threads(num_threads: c_int);
}

#[cfg(all(feature = "blis", not(feature = "openblas")))]
#[link(name = "blis")]
unsafe extern "C" {
    // `dim_t` is BLIS's 64-bit integer on 64-bit targets (Debian's build leaves the size to
    // BLIS, which picks 64 there); the BLAS and CBLAS integers stay 32-bit (`c_int`).
    fn bli_thread_set_num_threads(n_threads: i64);
}

#[cfg(feature = "openblas")]
fn set_library_threads(n: usize) {
    // SAFETY: takes any int and only stores the count (capped at the build's maximum) for the
    // library's next calls.
    unsafe { openblas_set_num_threads(c_int::try_from(n).unwrap_or(c_int::MAX)) }
}

#[cfg(all(feature = "blis", not(feature = "openblas")))]
fn set_library_threads(n: usize) {
    // SAFETY: takes any count and only stores it in BLIS's global runtime settings.
    unsafe { bli_thread_set_num_threads(i64::try_from(n).unwrap_or(i64::MAX)) }
}

/// The thread count last handed to the library; 0 until the first product.
static APPLIED_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Hands the library the thread count `set_gemm_threads` asks for, when it changed: `n >= 1`
/// threads for a setting of `n`, and one for the automatic setting 0, so that the library's
/// own threads never run beside rayon's or a caller's unasked. One relaxed load per product.
fn apply_thread_setting() {
    let wanted = gemm_threads().max(1);
    if APPLIED_THREADS.load(Ordering::Relaxed) != wanted {
        set_library_threads(wanted);
        APPLIED_THREADS.store(wanted, Ordering::Relaxed);
    }
}

/// How CBLAS reads one operand: as stored (row-major) or transposed, and its leading dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Operand {
    pub transpose: bool,
    pub ld: usize,
}

/// How CBLAS reads a `rows x cols` operand with strides `(rs, cs)`, both sizes at least 1, or
/// `None` if it cannot. A stride along a dimension of length 1 is never applied, so it
/// decides nothing, and the leading dimension is then the smallest CBLAS accepts.
pub(crate) fn operand(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<Operand> {
    if (cols == 1 || cs == 1) && (rows == 1 || rs >= cols) {
        Some(Operand { transpose: false, ld: if rows == 1 { cols } else { rs } })
    } else if (rows == 1 || rs == 1) && (cols == 1 || cs >= rows) {
        Some(Operand { transpose: true, ld: if cols == 1 { rows } else { cs } })
    } else {
        None
    }
}

/// One row-major CBLAS call: `C [m x n] <- alpha op(A) op(B) + beta C`, every size and leading
/// dimension at least 1 and within `c_int`, and whether A and B trade places (a column-major C,
/// made as `C^T = B^T A^T`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Plan {
    pub swapped: bool,
    pub m: c_int,
    pub n: c_int,
    pub k: c_int,
    pub a: (bool, c_int),
    pub b: (bool, c_int),
    pub ldc: c_int,
}

/// The CBLAS call for `C [m x n] = A [m x k] B [k x n]` with these strides, or `None` for
/// gemmkit (an empty dimension too: gemmkit then scales C by beta, or does nothing).
pub(crate) fn plan(
    (m, k, n): (usize, usize, usize),
    (rsa, csa): (usize, usize),
    (rsb, csb): (usize, usize),
    (rsc, csc): (usize, usize),
) -> Option<Plan> {
    if m == 0 || k == 0 || n == 0 {
        return None;
    }
    let c = operand(m, n, rsc, csc)?;
    // A column-major C is the row-major C^T [n x m] = B^T [n x k] A^T [k x m].
    let (swapped, (m, n), (rsa, csa), (rsb, csb)) =
        if c.transpose { (true, (n, m), (csb, rsb), (csa, rsa)) } else { (false, (m, n), (rsa, csa), (rsb, csb)) };
    let (a, b) = (operand(m, k, rsa, csa)?, operand(k, n, rsb, csb)?);
    let int = |x: usize| c_int::try_from(x).ok();
    Some(Plan {
        swapped,
        m: int(m)?,
        n: int(n)?,
        k: int(k)?,
        a: (a.transpose, int(a.ld)?),
        b: (b.transpose, int(b.ld)?),
        ldc: int(c.ld)?,
    })
}

/// The element types with a CBLAS GEMM: `cblas_sgemm` for `f32`, `cblas_dgemm` for `f64`.
pub(crate) trait Cblas: Copy {
    /// Calls the library's row-major GEMM with `plan`'s arguments.
    ///
    /// # Safety
    ///
    /// `a`, `b` and `c` must hold every element the plan reads and writes (see [`gemm`]),
    /// and `c` must not overlap `a` or `b`.
    unsafe fn cblas_gemm(plan: &Plan, alpha: Self, a: *const Self, b: *const Self, beta: Self, c: *mut Self);
}

fn transpose(t: bool) -> CBLAS_TRANSPOSE {
    if t {
        CBLAS_TRANSPOSE::CblasTrans
    } else {
        CBLAS_TRANSPOSE::CblasNoTrans
    }
}

macro_rules! impl_cblas {
    ($t:ty, $f:ident) => {
        impl Cblas for $t {
            unsafe fn cblas_gemm(p: &Plan, alpha: $t, a: *const $t, b: *const $t, beta: $t, c: *mut $t) {
                // SAFETY: the caller keeps this function's contract, which is the library's.
                unsafe {
                    cblas_sys::$f(
                        CBLAS_LAYOUT::CblasRowMajor,
                        transpose(p.a.0),
                        transpose(p.b.0),
                        p.m,
                        p.n,
                        p.k,
                        alpha,
                        a,
                        p.a.1,
                        b,
                        p.b.1,
                        beta,
                        c,
                        p.ldc,
                    )
                }
            }
        }
    };
}

impl_cblas!(f32, cblas_sgemm);
impl_cblas!(f64, cblas_dgemm);

/// `C <- alpha A B + beta C` through CBLAS, as `kernels::gemm` takes it; returns `false`,
/// touching nothing, when the strides need gemmkit ([`plan`]).
///
/// The caller has checked that every strided operand stays inside its slice (the `extent`
/// asserts of `kernels::gemm`); this function relies on that.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Cblas>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    (a, rsa, csa): (&[T], usize, usize),
    (b, rsb, csb): (&[T], usize, usize),
    beta: T,
    (c, rsc, csc): (&mut [T], usize, usize),
) -> bool {
    let Some(plan) = plan((m, k, n), (rsa, csa), (rsb, csb), (rsc, csc)) else {
        return false;
    };
    let (first, second) = if plan.swapped { (b.as_ptr(), a.as_ptr()) } else { (a.as_ptr(), b.as_ptr()) };
    apply_thread_setting();
    // SAFETY: CBLAS reads element (i, j) of a row-major operand at i * ld + j and of a
    // transposed one at j * ld + i. `operand` chose ld as the stride that the stored layout
    // applies to that index (or, along a dimension of length 1, a value that is never
    // multiplied by a nonzero index), and the other stride is 1; so CBLAS touches exactly the
    // elements i * rs + j * cs with i and j below the sizes, which the caller's extent asserts
    // put inside each slice. C is a `&mut` slice, so it overlaps neither A nor B. Every size
    // and leading dimension is at least 1, within `c_int` and at least the row length CBLAS
    // requires, so the library's argument checks pass. The library returns only after its
    // threads, if any, have finished with the slices.
    unsafe { T::cblas_gemm(&plan, alpha, first, second, beta, c.as_mut_ptr()) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_is_read_as_stored_with_the_row_stride() {
        assert_eq!(operand(3, 4, 4, 1), Some(Operand { transpose: false, ld: 4 }));
        assert_eq!(operand(3, 4, 7, 1), Some(Operand { transpose: false, ld: 7 }));
    }

    #[test]
    fn column_major_is_read_transposed_with_the_column_stride() {
        assert_eq!(operand(3, 4, 1, 3), Some(Operand { transpose: true, ld: 3 }));
        assert_eq!(operand(3, 4, 1, 5), Some(Operand { transpose: true, ld: 5 }));
    }

    #[test]
    fn a_stride_along_a_dimension_of_one_decides_nothing() {
        assert_eq!(operand(1, 4, usize::MAX, 1), Some(Operand { transpose: false, ld: 4 }));
        assert_eq!(operand(4, 1, 1, usize::MAX), Some(Operand { transpose: false, ld: 1 }));
        assert_eq!(operand(1, 4, 0, 3), Some(Operand { transpose: true, ld: 3 }));
    }

    #[test]
    fn strides_cblas_cannot_read_go_to_gemmkit() {
        assert_eq!(operand(3, 4, 0, 1), None, "rows repeated by a row stride of 0");
        assert_eq!(operand(3, 4, 8, 2), None, "both strides above 1");
        assert_eq!(operand(3, 4, 2, 1), None, "rows that overlap");
        assert_eq!(operand(3, 4, 1, 2), None, "columns that overlap");
    }

    #[test]
    fn the_engines_matmul_products_all_go_to_cblas() {
        let (m, k, n) = (5, 7, 3);
        let forward = plan((m, k, n), (k, 1), (n, 1), (n, 1)).map(|p| (p.a, p.b, p.ldc));
        assert_eq!(forward, Some(((false, 7), (false, 3), 3)));
        // dA = G B^T and dB = A^T G, as matmul's backward passes them.
        let input_gradient = plan((m, n, k), (n, 1), (1, n), (k, 1)).map(|p| (p.a, p.b, p.ldc));
        assert_eq!(input_gradient, Some(((false, 3), (true, 3), 7)));
        let weight_gradient = plan((k, m, n), (1, k), (n, 1), (n, 1)).map(|p| (p.a, p.b, p.ldc));
        assert_eq!(weight_gradient, Some(((true, 7), (false, 3), 3)));
    }

    #[test]
    fn a_column_major_c_swaps_the_operands() {
        // C [2 x 3] column-major = A [2 x 4] (row-major) B [4 x 3] (row-major), made as
        // C^T [3 x 2] = B^T A^T: B^T is B read transposed, A^T is A read transposed.
        let p = plan((2, 4, 3), (4, 1), (3, 1), (1, 2)).expect("CBLAS takes it");
        assert_eq!((p.swapped, p.m, p.n, p.k), (true, 3, 2, 4));
        assert_eq!((p.a, p.b, p.ldc), ((true, 3), (true, 4), 2));
    }

    #[test]
    fn sizes_past_c_int_and_empty_products_go_to_gemmkit() {
        let big = c_int::MAX as usize + 1;
        assert_eq!(plan((2, 2, 2), (big, 1), (2, 1), (2, 1)), None);
        assert_eq!(plan((2, 0, 2), (0, 1), (2, 1), (2, 1)), None);
    }

    #[test]
    fn a_cblas_product_agrees_with_the_definition() {
        // [[1, 2], [3, 4]] [[5, 6], [7, 8]] = [[19, 22], [43, 50]]; C starts at 1 and beta = 2.
        let (a, b) = ([1.0_f64, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let mut c = [1.0; 4];
        assert!(gemm(2, 2, 2, 1.0, (&a, 2, 1), (&b, 2, 1), 2.0, (&mut c, 2, 1)));
        assert_eq!(c, [21.0, 24.0, 45.0, 52.0]);
        // The same with A read transposed ([[1, 3], [2, 4]]) and C column-major, in f32.
        let (a, b) = ([1.0_f32, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let mut c = [0.0_f32; 4];
        assert!(gemm(2, 2, 2, 1.0, (&a, 1, 2), (&b, 2, 1), 0.0, (&mut c, 1, 2)));
        // A^T B = [[26, 30], [38, 44]], stored by columns.
        assert_eq!(c, [26.0, 38.0, 30.0, 44.0]);
    }

    #[test]
    fn strides_cblas_cannot_read_leave_c_untouched() {
        let a = [1.0_f64; 6];
        let mut c = [7.0; 4];
        assert!(!gemm(2, 2, 2, 1.0, (&a, 3, 2), (&a, 2, 1), 0.0, (&mut c, 2, 1)));
        assert_eq!(c, [7.0; 4]);
    }
}
