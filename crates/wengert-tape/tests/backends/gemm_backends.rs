//! `Real::gemm` against a plain triple loop, through whichever back-end the build has (gemmkit
//! by default, OpenBLAS or BLIS with the `openblas` or `blis` feature): every layout of A, B
//! and C that CBLAS reads as stored (row-major, column-major, padded leading dimensions),
//! layouts it cannot read (left to gemmkit), the three products of `matmul`, f32 and f64,
//! several alpha and beta. Run with each feature by `.ci/run`.

use wengert_tape::{gemm_backend, Real};

/// A small deterministic generator (xorshift), so that every run checks the same numbers.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    fn value(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn size(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }
}

/// How a `rows x cols` operand is stored.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    /// Row-major with 3 unused elements after each row.
    RowMajorPadded,
    ColumnMajor,
    ColumnMajorPadded,
    /// Every element 2 apart along rows and columns: CBLAS cannot read it, gemmkit makes it.
    Scattered,
}

const LAYOUTS: [Layout; 5] =
    [Layout::RowMajor, Layout::RowMajorPadded, Layout::ColumnMajor, Layout::ColumnMajorPadded, Layout::Scattered];

impl Layout {
    /// (row stride, column stride) and the slice length.
    fn strides(self, rows: usize, cols: usize) -> ((usize, usize), usize) {
        let strides = match self {
            Layout::RowMajor => (cols, 1),
            Layout::RowMajorPadded => (cols + 3, 1),
            Layout::ColumnMajor => (1, rows),
            Layout::ColumnMajorPadded => (1, rows + 3),
            Layout::Scattered => (2 * cols, 2),
        };
        (strides, (rows - 1) * strides.0 + (cols - 1) * strides.1 + 1)
    }
}

/// A strided matrix with random entries and its values by (row, column) in f64.
struct Matrix {
    data: Vec<f64>,
    strides: (usize, usize),
    rows: usize,
    cols: usize,
}

impl Matrix {
    fn random(rows: usize, cols: usize, layout: Layout, numbers: &mut Numbers) -> Matrix {
        let (strides, len) = layout.strides(rows, cols);
        Matrix { data: (0..len).map(|_| numbers.value()).collect(), strides, rows, cols }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.strides.0 + j * self.strides.1]
    }

    fn cast<T: Real>(&self) -> Vec<T> {
        self.data.iter().map(|&x| T::lit(x)).collect()
    }
}

/// Runs `C <- alpha A B + beta C` in `T` and checks every element of C, and that the padding
/// and gaps of C keep their values, against the triple loop in f64 on the same inputs
/// (rounded to `T` first). The bound is the worst case of any summation order, FMA or not:
/// `(k + 2) eps` times the sum of the terms' magnitudes, doubled to cover the loop's own
/// rounding when `T` is f64.
fn check<T: Real>(a: &Matrix, b: &Matrix, c: &Matrix, alpha: f64, beta: f64) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let tolerance = 2.0 * (k as f64 + 2.0) * T::epsilon().to_f64().expect("finite");
    let round = |x: f64| T::lit(x).to_f64().expect("finite");
    let (a_t, b_t) = (a.cast::<T>(), b.cast::<T>());
    let mut c_t = c.cast::<T>();
    T::gemm(
        m,
        k,
        n,
        T::lit(alpha),
        (&a_t, a.strides.0, a.strides.1),
        (&b_t, b.strides.0, b.strides.1),
        T::lit(beta),
        (&mut c_t, c.strides.0, c.strides.1),
    );
    let mut written = vec![false; c.data.len()];
    for i in 0..m {
        for j in 0..n {
            let terms = (0..k).map(|p| round(a.at(i, p)) * round(b.at(p, j)));
            let (sum, magnitude) = terms.fold((0.0, 0.0), |(s, g), t: f64| (s + t, g + t.abs()));
            let start = round(c.at(i, j));
            let want = round(alpha) * sum + round(beta) * start;
            let scale = round(alpha).abs() * magnitude + round(beta).abs() * start.abs() + f64::MIN_POSITIVE;
            let index = i * c.strides.0 + j * c.strides.1;
            let got = c_t[index].to_f64().expect("finite");
            assert!(
                (got - want).abs() <= tolerance * scale,
                "{} {}: C[{i}, {j}] of [{m} x {k}] x [{k} x {n}] with strides A {:?} B {:?} C {:?}, alpha {alpha}, \
                 beta {beta}: got {got}, want {want}",
                gemm_backend(),
                T::NAME,
                a.strides,
                b.strides,
                c.strides
            );
            written[index] = true;
        }
    }
    for (index, _) in written.iter().enumerate().filter(|&(_, &w)| !w) {
        assert_eq!(c_t[index], T::lit(c.data[index]), "C's element {index} lies outside the matrix and changed");
    }
}

/// Every layout of A, B and C, on random shapes with sizes of 1 among them, each alpha and beta.
fn every_layout<T: Real>() {
    let mut numbers = Numbers(0x9e37_79b9_7f4a_7c15);
    let shapes = [(1, 1, 1), (1, 5, 4), (6, 1, 3), (4, 7, 1), (2, 3, 2)]
        .into_iter()
        .chain((0..4).map(|_| (numbers.size(23), numbers.size(23), numbers.size(23))));
    for (m, k, n) in shapes.collect::<Vec<_>>() {
        for a_layout in LAYOUTS {
            for b_layout in LAYOUTS {
                for c_layout in LAYOUTS {
                    let a = Matrix::random(m, k, a_layout, &mut numbers);
                    let b = Matrix::random(k, n, b_layout, &mut numbers);
                    let c = Matrix::random(m, n, c_layout, &mut numbers);
                    for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (-0.5, 0.25)] {
                        check::<T>(&a, &b, &c, alpha, beta);
                    }
                }
            }
        }
    }
}

#[test]
fn f32_gemm_matches_the_triple_loop_for_every_layout() {
    every_layout::<f32>();
}

#[test]
fn f64_gemm_matches_the_triple_loop_for_every_layout() {
    every_layout::<f64>();
}

/// matmul's forward `A W`, input gradient `G W^T` and weight gradient `A^T G` (beta = 1, as the
/// backward adds into the adjoints), with the strides `ops/linear.rs` passes, on MLP-M's first
/// layer: large enough for a library to block and split them.
fn matmul_products<T: Real>() {
    let mut numbers = Numbers(42);
    let (batch, fan_in, fan_out) = (128, 200, 96);
    let x = Matrix::random(batch, fan_in, Layout::RowMajor, &mut numbers);
    let w = Matrix::random(fan_in, fan_out, Layout::RowMajor, &mut numbers);
    let g = Matrix::random(batch, fan_out, Layout::RowMajor, &mut numbers);
    let z = Matrix::random(batch, fan_out, Layout::RowMajor, &mut numbers);
    check::<T>(&x, &w, &z, 1.0, 0.0);
    // W^T is W read with strides (1, fan_out); X^T is X read with strides (1, fan_in).
    let w_transposed = Matrix { data: w.data.clone(), strides: (1, fan_out), rows: fan_out, cols: fan_in };
    let x_adjoint = Matrix::random(batch, fan_in, Layout::RowMajor, &mut numbers);
    check::<T>(&g, &w_transposed, &x_adjoint, 1.0, 1.0);
    let x_transposed = Matrix { data: x.data.clone(), strides: (1, fan_in), rows: fan_in, cols: batch };
    let w_adjoint = Matrix::random(fan_in, fan_out, Layout::RowMajor, &mut numbers);
    check::<T>(&x_transposed, &g, &w_adjoint, 1.0, 1.0);
}

#[test]
fn matmuls_forward_and_backward_products_match_the_triple_loop() {
    matmul_products::<f32>();
    matmul_products::<f64>();
}

#[test]
fn a_row_stride_of_zero_repeats_one_row() {
    // A's three rows are the same stored row: gemmkit makes it, whatever the back-end.
    let a = [1.0_f64, 2.0];
    let b = [1.0, 0.0, 0.0, 1.0];
    let mut c = [0.0; 6];
    f64::gemm(3, 2, 2, 1.0, (&a, 0, 1), (&b, 2, 1), 0.0, (&mut c, 2, 1));
    assert_eq!(c, [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
}

#[test]
fn the_backend_is_the_one_the_features_chose() {
    let expected = if cfg!(feature = "openblas") {
        "openblas"
    } else if cfg!(feature = "blis") {
        "blis"
    } else {
        "gemmkit"
    };
    assert_eq!(gemm_backend(), expected);
}
