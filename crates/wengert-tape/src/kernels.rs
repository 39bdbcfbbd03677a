//! The engine's matrix multiply: `C <- alpha A B + beta C` on strided matrices through
//! `gemmkit`, or a system CBLAS with the `openblas` or `blis` feature (`blas.rs`), and the
//! process-wide setting of how many threads a product may use. `matmul`'s forward and backward
//! come here through [`crate::Real::gemm`].

use gemmkit::{GemmScalar, MatMut, MatRef, Parallelism};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The element types the GEMM takes: gemmkit's, and with a CBLAS back-end also CBLAS's.
#[cfg(not(any(feature = "openblas", feature = "blis")))]
pub(crate) trait Element: GemmScalar {}
#[cfg(not(any(feature = "openblas", feature = "blis")))]
impl<T: GemmScalar> Element for T {}
#[cfg(any(feature = "openblas", feature = "blis"))]
pub(crate) trait Element: GemmScalar + crate::blas::Cblas {}
#[cfg(any(feature = "openblas", feature = "blis"))]
impl<T: GemmScalar + crate::blas::Cblas> Element for T {}

/// The GEMM that [`crate::Real::gemm`] hands products to: `"gemmkit"` in the default build,
/// `"openblas"` or `"blis"` with the feature of that name (the system library, through CBLAS).
///
/// With a CBLAS back-end, a product whose operands CBLAS cannot read as stored (neither row
/// stride nor column stride 1, a stride of 0 along a dimension longer than 1, or a size past
/// `i32`) is still made by gemmkit; `matmul`'s forward and backward products never are.
///
/// # Examples
///
/// ```
/// let expected = if cfg!(feature = "openblas") {
///     "openblas"
/// } else if cfg!(feature = "blis") {
///     "blis"
/// } else {
///     "gemmkit"
/// };
/// assert_eq!(wengert_tape::gemm_backend(), expected);
/// ```
pub fn gemm_backend() -> &'static str {
    #[cfg(any(feature = "openblas", feature = "blis"))]
    let name = crate::blas::NAME;
    #[cfg(not(any(feature = "openblas", feature = "blis")))]
    let name = "gemmkit";
    name
}

/// The largest index a strided `rows x cols` matrix touches, plus one (0 when it is empty).
///
/// Saturates at `usize::MAX` instead of wrapping, so an absurd stride fails the bounds assert.
fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1)
            .checked_mul(row_stride)
            .and_then(|r| (cols - 1).checked_mul(col_stride).and_then(|c| r.checked_add(c)))
            .and_then(|last| last.checked_add(1))
            .unwrap_or(usize::MAX)
    }
}

/// A stride as the GEMM takes it. Once the bounds asserts pass, a stride along a dimension
/// longer than 1 is below a slice length and so fits in `isize`; a larger one can only belong
/// to a dimension of length 1, where it is never multiplied by a nonzero index, so 0 does.
fn stride(s: usize) -> isize {
    isize::try_from(s).unwrap_or(0)
}

/// The default thread setting: automatic. Without `threading` that is one thread. With it,
/// gemmkit keeps a product below its parallel threshold (m k n < 48 * 48 * 256) on the calling
/// thread before it looks at rayon, so MLP-S's products cost the same as with a setting of 1
/// (measured, docs/performance.md), while large products get the cores.
const DEFAULT_GEMM_THREADS: usize = 0;

/// The GEMM's thread setting: 0 for automatic, otherwise a cap. One relaxed load per product.
static GEMM_THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_GEMM_THREADS);

/// Sets how many threads every matrix product (`matmul` forward and backward) may use,
/// process-wide, from the next product on.
///
/// `0` (the default) lets the GEMM choose per product from its size, up to the cores the
/// machine reports; `1` keeps every product on the calling thread; `n >= 2` caps a product at
/// `n` threads (rayon's) and at the cores. Small products (`m k n` under 48 * 48 * 256) stay
/// on the calling thread whatever the setting, because splitting them costs more than it
/// saves. The setting changes how a product's tiles are shared out, not the arithmetic of any
/// tile.
///
/// Without the `threading` feature of `wengert-tape` the setting is recorded but every product
/// runs on the calling thread. With it, only a setting of 1 makes a steady-state train step
/// free of heap allocations: handing work to rayon's pool allocates now and then.
///
/// With a CBLAS back-end ([`gemm_backend`]), the library runs the products on its own threads:
/// before a product, a changed setting is handed to it (`openblas_set_num_threads`,
/// `bli_thread_set_num_threads`), `n >= 1` as `n` threads and `0` as one thread, so the
/// library never starts threads of its own beside rayon's unasked. This overrides its
/// environment variables (`OPENBLAS_NUM_THREADS`, `BLIS_NUM_THREADS`, `OMP_NUM_THREADS`).
///
/// # Examples
///
/// ```
/// use wengert_tape::{gemm_threads, set_gemm_threads};
/// assert_eq!(gemm_threads(), 0);
/// set_gemm_threads(1);
/// assert_eq!(gemm_threads(), 1);
/// ```
pub fn set_gemm_threads(n: usize) {
    GEMM_THREADS.store(n, Ordering::Relaxed);
}

/// The thread setting of the matrix products; see [`set_gemm_threads`].
///
/// # Examples
///
/// ```
/// assert_eq!(wengert_tape::gemm_threads(), 0); // automatic, the default
/// ```
pub fn gemm_threads() -> usize {
    GEMM_THREADS.load(Ordering::Relaxed)
}

#[cfg(feature = "threading")]
fn parallelism() -> Parallelism {
    match gemm_threads() {
        1 => Parallelism::Serial,
        n => Parallelism::Rayon(n),
    }
}

#[cfg(not(feature = "threading"))]
fn parallelism() -> Parallelism {
    Parallelism::Serial
}

/// Runs `product`, a call to gemmkit, from inside rayon's pool when it may split.
///
/// gemmkit makes several fork-joins per product (packing B, packing A, the tiles, once per
/// depth slice). Called from a thread outside the pool, each of them parks the caller and
/// wakes it again; called from a worker, the joins are between pool threads that are already
/// awake. On the 2-core benchmark machine that took MLP-L's step with 2 threads from a median
/// of 38.4 to 35.8 ms (docs/performance.md). Products under gemmkit's parallel threshold, a
/// setting of 1, a pool of one thread, or a caller already on a worker run in place, so
/// they pay no hop.
#[cfg(feature = "threading")]
fn run_product(par: Parallelism, work: usize, product: impl FnOnce() + Send) {
    if par != Parallelism::Serial
        && work >= gemmkit::tuning::parallel_threshold()
        && rayon::current_thread_index().is_none()
        && rayon::current_num_threads() > 1
    {
        rayon::scope(|_| product());
    } else {
        product();
    }
}

#[cfg(not(feature = "threading"))]
fn run_product(_: Parallelism, _: usize, product: impl FnOnce()) {
    product();
}

/// `C <- alpha * A B + beta * C`: A is `m x k` with row stride `rsa` and column stride `csa`,
/// B is `k x n`, C is `m x n`. Strides let the caller read a transpose without copying it.
///
/// # Panics
///
/// If a stride or size would reach outside its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Element>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    (a, rsa, csa): (&[T], usize, usize),
    (b, rsb, csb): (&[T], usize, usize),
    beta: T,
    (c, rsc, csc): (&mut [T], usize, usize),
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
    // The asserts above are what `blas::gemm` relies on to hand raw pointers to the library.
    #[cfg(any(feature = "openblas", feature = "blis"))]
    if crate::blas::gemm(m, k, n, alpha, (a, rsa, csa), (b, rsb, csb), beta, (&mut *c, rsc, csc)) {
        return;
    }
    // gemmkit packs A and B into its thread-local workspace, which grows to the
    // largest product the thread has made and is then reused: after the first
    // training step a product allocates nothing. A workspace owned by the tape
    // would do the same with more plumbing, and the pool also serves products
    // made outside any tape (the benchmark's hand-written step) on the same terms.
    // (A product split over threads packs in the pool of the worker that runs it.)
    // With k = 0 it reads nothing from A or B and scales C by beta; with beta = 0
    // it overwrites C without reading it.
    let par = parallelism();
    run_product(par, m.saturating_mul(k).saturating_mul(n), || {
        gemmkit::gemm(
            alpha,
            MatRef::new(a, m, k, stride(rsa), stride(csa)),
            MatRef::new(b, k, n, stride(rsb), stride(csb)),
            beta,
            MatMut::new(c, m, n, stride(rsc), stride(csc)),
            par,
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Real;

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

    #[test]
    #[should_panic(expected = "gemm: A [3 x 2]")]
    fn gemm_refuses_a_stride_whose_extent_overflows() {
        let a = [0.0_f64; 6];
        let b = [0.0_f64; 2];
        let mut c = [0.0_f64; 3];
        f64::gemm(3, 2, 1, 1.0, (&a, usize::MAX / 2, 1), (&b, 1, 1), 0.0, (&mut c, 1, 1));
    }

    #[test]
    fn gemm_with_empty_inner_dimension_scales_c_by_beta() {
        let mut c = [1.0, 2.0, 3.0, 4.0];
        f64::gemm(2, 0, 2, 1.0, (&[], 0, 1), (&[], 2, 1), 0.5, (&mut c, 2, 1));
        assert_eq!(c, [0.5, 1.0, 1.5, 2.0]);
    }

    #[test]
    fn gemm_with_zero_beta_overwrites_c_without_reading_it() {
        let a = [1.0_f32, 2.0];
        let b = [3.0_f32, 4.0];
        let mut c = [f32::NAN];
        f32::gemm(1, 2, 1, 1.0, (&a, 2, 1), (&b, 1, 1), 0.0, (&mut c, 1, 1));
        assert_eq!(c, [11.0]);
    }

    #[test]
    fn gemm_accepts_any_stride_along_a_dimension_of_one() {
        // One row of A, so A's row stride is never applied, however large.
        let a = [1.0_f64, 2.0, 3.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [0.0; 2];
        f64::gemm(1, 3, 2, 1.0, (&a, usize::MAX, 1), (&b, 2, 1), 0.0, (&mut c, usize::MAX, 1));
        assert_eq!(c, [4.0, 5.0]);
    }

    /// The one test that changes the process-wide setting, so that no other test sees it move.
    #[test]
    fn gemm_threads_share_out_a_large_product_without_changing_it() {
        let (m, k, n) = (300, 400, 500);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f64 / 1000.0 - 0.5).collect();
        let product = |threads| {
            set_gemm_threads(threads);
            assert_eq!(gemm_threads(), threads);
            let mut c = vec![0.0; m * n];
            f64::gemm(m, k, n, 1.0, (&a, 1, m), (&b, n, 1), 0.0, (&mut c, n, 1));
            c
        };
        let serial = product(1);
        let (two, automatic) = (product(2), product(0));
        set_gemm_threads(DEFAULT_GEMM_THREADS);
        // Spot-check the serial product against a plain triple loop (A is read transposed).
        for (i, j) in [(0, 0), (17, 311), (m - 1, n - 1)] {
            let want: f64 = (0..k).map(|p| a[p * m + i] * b[p * n + j]).sum();
            assert!((serial[i * n + j] - want).abs() < 1e-9, "C[{i}, {j}] = {}, want {want}", serial[i * n + j]);
        }
        if cfg!(any(feature = "openblas", feature = "blis")) {
            // A CBLAS library may block a split product differently: equal up to rounding.
            for (threads, c) in [(2, &two), (0, &automatic)] {
                let worst = c.iter().zip(&serial).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-12, "{threads} threads: differs from one thread by {worst}");
            }
        } else {
            assert_eq!(two, serial);
            assert_eq!(automatic, serial);
        }
    }
}
