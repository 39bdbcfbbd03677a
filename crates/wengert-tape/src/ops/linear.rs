//! The linear map of a layer, `Z = X W + b`, as two ops: matmul and add_bias (F15).
//!
//! matmul goes through `Real::gemm` (gemmkit); its backward reads the transposes
//! `W^T` and `X^T` through strides, never through a transposed copy.

use super::binary::sum_to_shape;
use super::{check_matrix_rank, check_shapes, op_family, reshaped, BackwardContext, Op, TapedContext};
use crate::registry::{probe, Arity, Domain, Gradient, OpSpec, Reads};
use crate::{Real, Shape, Var};

op_family! {
    /// The two halves of a linear map.
    enum Linear {
        /// `X W`.
        MatMul => OpSpec {
            name: "matmul", notes: "F15", formula: "matmul", arity: Arity::Fixed(2), reads: Reads::Input,
            gradient: Gradient::FromInputs, constants: 0,
            explain: &["dX = G W^T", "dW = X^T G"],
            check: probe!(|v| v[0].matmul(v[1]), shapes: |m, n| vec![Shape::matrix(m, n), Shape::matrix(n, m + 1)],
                domain: Domain::ANY),
        },
        /// `X + 1 b`.
        AddBias => OpSpec {
            name: "add_bias", notes: "F15", formula: "add_bias", arity: Arity::Fixed(2), reads: Reads::Nothing,
            gradient: Gradient::FromInputs, constants: 0,
            explain: &["dX = G", "db = 1^T G, the column sums of G"],
            check: probe!(|v| v[0].add_bias(v[1]), shapes: |m, n| vec![Shape::matrix(m, n), Shape::vector(n)],
                domain: Domain::ANY),
        },
    }
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Linear, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Linear::MatMul => matmul_backward(ctx),
        Linear::AddBias => add_bias_backward(ctx),
    }
}

/// The taped rule of a node of this family (F15): `dX = G W^T`, `dW = X^T G` with `t()` and
/// `matmul` (a vector read as a row on the left, a column on the right, as the forward
/// reads it); add_bias: `dX = G`, `db` = the column sums of `G`.
pub(crate) fn taped<T: Real>(op: Linear, ctx: &mut TapedContext<'_, T>) {
    let (g, a, b) = (ctx.upstream, ctx.input(0), ctx.input(1));
    match op {
        Linear::MatMul => {
            let (m, k, n, _) = matmul_dims(a.shape(), b.shape());
            let g = reshaped(g, Shape::matrix(m, n));
            if ctx.wants(0) {
                let b = reshaped(b, Shape::matrix(k, n));
                ctx.send(0, reshaped(g.matmul(b.t()), a.shape()));
            }
            if ctx.wants(1) {
                let a = reshaped(a, Shape::matrix(m, k));
                ctx.send(1, reshaped(a.t().matmul(g), b.shape()));
            }
        }
        Linear::AddBias => {
            if ctx.wants(0) {
                ctx.send(0, g);
            }
            if ctx.wants(1) {
                ctx.send(1, sum_to_shape(g, b.shape()));
            }
        }
    }
}

/// `(m, k, n)` for `a [m x k] x b [k x n]`, with a vector on the left read as one row and a
/// vector on the right as one column, and the shape of the product.
#[track_caller]
fn matmul_dims(a: Shape, b: Shape) -> (usize, usize, usize, Shape) {
    check_matrix_rank("matmul", a, "reshape to a matrix first");
    check_matrix_rank("matmul", b, "reshape to a matrix first");
    check_shapes(!a.is_scalar() && !b.is_scalar(), "matmul", || {
        format!("{a} x {b}: a scalar has no matrix product (use `*`)")
    });
    let (m, k) = (a.rows(), a.cols());
    let (k2, n) = if b.rank() == 1 { (b.cols(), 1) } else { (b.rows(), b.cols()) };
    check_shapes(k == k2, "matmul", || format!("{a} x {b}: inner dimensions {k} and {k2} differ"));
    let shape = match (a.rank(), b.rank()) {
        (2, 2) => Shape::matrix(m, n),
        (1, 2) => Shape::vector(n),
        (2, 1) => Shape::vector(m),
        _ => Shape::scalar(),
    };
    (m, k, n, shape)
}

fn matmul_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let (m, k, n, _) = matmul_dims(ctx.input_shape(0), ctx.input_shape(1));
    let (a, b, g) = (ctx.input(0), ctx.input(1), ctx.upstream);
    // dA = G B^T: [m x n] x [n x k]; B^T is B read with strides (1, n).
    if let Some(a_adjoint) = ctx.adjoint(0) {
        T::gemm(m, n, k, T::one(), (g, n, 1), (b, 1, n), T::one(), (a_adjoint, k, 1));
    }
    // dB = A^T G: [k x m] x [m x n]; A^T is A read with strides (1, k).
    if let Some(b_adjoint) = ctx.adjoint(1) {
        T::gemm(k, m, n, T::one(), (a, 1, k), (g, n, 1), T::one(), (b_adjoint, n, 1));
    }
}

/// The bias must be `[n]` or `[1 x n]` for rows `[m x n]` (or `[n]`).
#[track_caller]
fn check_bias(x: Shape, b: Shape) {
    check_shapes(!x.is_scalar() && b.numel() == x.cols() && b.rows() == 1 && !b.is_scalar(), "add_bias", || {
        format!("bias is {b}, rows are {x} (the bias needs [{}] or [1 x {}])", x.cols(), x.cols())
    });
}

fn add_bias_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream;
    let cols = ctx.input_shape(0).cols();
    // dX = G.
    if let Some(x_adjoint) = ctx.adjoint(0) {
        for (adjoint, &gi) in x_adjoint.iter_mut().zip(g) {
            *adjoint = *adjoint + gi;
        }
    }
    // db = column sums of G (BP4r).
    if let Some(b_adjoint) = ctx.adjoint(1) {
        for row in g.chunks_exact(cols) {
            for (adjoint, &gi) in b_adjoint.iter_mut().zip(row) {
                *adjoint = *adjoint + gi;
            }
        }
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The matrix product `self [m x k] x w [k x n] -> [m x n]`.
    ///
    /// A vector on the left is read as one row (`[k] x [k x n] -> [n]`), on the right as one
    /// column (`[m x k] x [k] -> [m]`); two vectors give their dot product.
    /// Backward (F15): `dA = G B^T`, `dB = A^T G`, transposes read through strides.
    ///
    /// # Panics
    ///
    /// If the inner dimensions differ, or an operand is a scalar:
    /// `matmul: [32 x 784] x [256 x 10]: inner dimensions 784 and 256 differ`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]));
    /// let w = tape.var(&Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]));
    /// let z = x.matmul(w);
    /// let expected = [0.14, 0.32, 0.5];
    /// for (got, want) in z.values().iter().zip(expected) {
    ///     assert!((got - want).abs() < 1e-15);
    /// }
    /// // d(sum Z)/dW = X^T 1: each row of dW is one input value.
    /// let grads = tape.backward(z.sum());
    /// assert_eq!(grads.wrt_slice(w), &[0.4, 0.4, 0.4, 0.5, 0.5, 0.5]);
    /// ```
    #[track_caller]
    pub fn matmul(self, w: Var<'t, T>) -> Self {
        let (m, k, n, shape) = matmul_dims(self.shape(), w.shape());
        self.tape.record(Op::Linear(Linear::MatMul), [self, w], shape, 0, |[a, b], c| {
            T::gemm(m, k, n, T::one(), (a, k, 1), (b, n, 1), T::zero(), (c, n, 1));
        })
    }

    /// Adds a bias row `b [n]` (or `[1 x n]`) to every row of `self [m x n]`.
    ///
    /// Backward (F15, BP4r): `dX = G`, `db = column sums of G`.
    ///
    /// # Panics
    ///
    /// If the bias is not one row as wide as `self`: `add_bias: bias is [12], rows are [32 x 10] ...`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.constant(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    /// let b = tape.var(&Tensor::from_slice(&[10.0, 20.0]));
    /// let y = z.add_bias(b);
    /// assert_eq!(&*y.values(), &[11.0, 22.0, 13.0, 24.0]);
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(b), &[2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn add_bias(self, b: Var<'t, T>) -> Self {
        let shape = self.shape();
        check_bias(shape, b.shape());
        let cols = shape.cols();
        self.tape.record(Op::Linear(Linear::AddBias), [self, b], shape, 0, |[x, b], out| {
            for (out_row, x_row) in out.chunks_exact_mut(cols).zip(x.chunks_exact(cols)) {
                for ((o, &xi), &bi) in out_row.iter_mut().zip(x_row).zip(b) {
                    *o = xi + bi;
                }
            }
        })
    }
}
