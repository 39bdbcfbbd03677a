//! Three GEMM crates (matrixmultiply, gemm, and gemmkit, the engine's default) and the engine's
//! own `Real::gemm` (gemmkit, or the system OpenBLAS or BLIS with the `openblas` or `blis`
//! feature; `wengert_tape::gemm_backend` names it) on the products of an MLP train step:
//! forward `A W`, weight gradient `A^T G` (A read transposed through strides) and input
//! gradient `G W^T` (W read transposed), in f32 on one thread.

use wengert_tape::Real;

use crate::mlp::widths;
use crate::stats::{Samples, Summary};

/// One product: `[m x k] x [k x n]`, with the strides of A and B.
pub struct Product {
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// (row stride, column stride) of A and B as stored.
    pub a_strides: (usize, usize),
    pub b_strides: (usize, usize),
}

/// The products of one train step of MLP `size`, layer by layer.
pub fn products(size: &str) -> Vec<Product> {
    let (widths, batch) = widths(size);
    let mut products = Vec::new();
    for (l, pair) in widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (pair[0], pair[1]);
        let product = |name: &str, m, k, n, a_strides, b_strides| Product {
            name: format!("MLP-{size} layer {l} {name}"),
            m,
            k,
            n,
            a_strides,
            b_strides,
        };
        products.push(product("A W", batch, fan_in, fan_out, (fan_in, 1), (fan_out, 1)));
        products.push(product("A^T G", fan_in, batch, fan_out, (1, fan_in), (fan_out, 1)));
        if l > 0 {
            products.push(product("G W^T", batch, fan_out, fan_in, (fan_out, 1), (1, fan_out)));
        }
    }
    products
}

fn with_matrixmultiply(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: A holds m*k elements and B k*n laid out by the given strides (both are dense
    // row-major or column-major of exactly that size), C holds m*n row-major; nothing aliases.
    unsafe {
        matrixmultiply::sgemm(
            p.m,
            p.k,
            p.n,
            1.0,
            a.as_ptr(),
            p.a_strides.0 as isize,
            p.a_strides.1 as isize,
            b.as_ptr(),
            p.b_strides.0 as isize,
            p.b_strides.1 as isize,
            0.0,
            c.as_mut_ptr(),
            p.n as isize,
            1,
        );
    }
}

fn with_gemm(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: as above; gemm takes (column stride, row stride) pairs, and `read_dst = false`
    // means C is only written.
    unsafe {
        gemm::gemm(
            p.m,
            p.n,
            p.k,
            c.as_mut_ptr(),
            1,
            p.n as isize,
            false,
            a.as_ptr(),
            p.a_strides.1 as isize,
            p.a_strides.0 as isize,
            b.as_ptr(),
            p.b_strides.1 as isize,
            p.b_strides.0 as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn with_gemmkit(workspace: &mut gemmkit::Workspace, p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    let strided =
        |(rows, cols), data, (rs, cs): (usize, usize)| gemmkit::MatRef::new(data, rows, cols, rs as isize, cs as isize);
    gemmkit::gemm_with(
        workspace,
        1.0,
        strided((p.m, p.k), a, p.a_strides),
        strided((p.k, p.n), b, p.b_strides),
        0.0,
        gemmkit::MatMut::from_row_major(c, p.m, p.n),
        gemmkit::Parallelism::Serial,
    );
}

fn with_engine(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    f32::gemm(
        p.m,
        p.k,
        p.n,
        1.0,
        (a, p.a_strides.0, p.a_strides.1),
        (b, p.b_strides.0, p.b_strides.1),
        0.0,
        (c, p.n, 1),
    );
}

/// One product's times, ms per product.
pub struct Times {
    pub matrixmultiply: Summary,
    pub gemm: Summary,
    pub gemmkit: Summary,
    /// `Real::gemm`, on the back-end the build has.
    pub engine: Summary,
    /// The largest difference between any two of the four results.
    pub difference: f32,
}

/// Times the three crates and `Real::gemm` on `p`, interleaved. `Real::gemm` runs with the
/// engine's thread setting, which the caller sets to 1 for a one-thread race.
pub fn race(p: &Product, warmup: usize, steps: usize) -> Times {
    let a: Vec<f32> = (0..p.m * p.k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..p.k * p.n).map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let (mut c1, mut c2, mut c3, mut c4) =
        (vec![0.0; p.m * p.n], vec![0.0; p.m * p.n], vec![0.0; p.m * p.n], vec![0.0; p.m * p.n]);
    let (mut first, mut second, mut third, mut fourth) =
        (Samples::default(), Samples::default(), Samples::default(), Samples::default());
    let mut workspace = gemmkit::Workspace::new();
    for step in 0..warmup + steps {
        let timed = step >= warmup;
        first.time(timed, || with_matrixmultiply(p, &a, &b, &mut c1));
        second.time(timed, || with_gemm(p, &a, &b, &mut c2));
        third.time(timed, || with_gemmkit(&mut workspace, p, &a, &b, &mut c3));
        fourth.time(timed, || with_engine(p, &a, &b, &mut c4));
    }
    let difference = c1
        .iter()
        .zip(&c2)
        .zip(&c3)
        .zip(&c4)
        .fold(0.0_f32, |m, (((x, y), z), w)| m.max((x - y).abs()).max((x - z).abs()).max((x - w).abs()));
    Times {
        matrixmultiply: first.summary(),
        gemm: second.summary(),
        gemmkit: third.summary(),
        engine: fourth.summary(),
        difference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_compute_the_same_products_transposes_included() {
        for p in products("S") {
            let difference = race(&p, 0, 1).difference;
            assert!(difference < 1e-4, "{}: results differ by {difference}", p.name);
        }
    }
}
