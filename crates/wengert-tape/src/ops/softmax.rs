//! Row-wise softmax, log-softmax and log-sum-exp (F6), each with the row maximum
//! subtracted first so that no exponential overflows: softmax([1000, 0]) = [1, e^-1000].
//!
//! A matrix is normalised row by row; a vector (or scalar) is one row.

use super::{one_matrix, op_family, BackwardContext, Op};
use crate::registry::{probe, Arity, Check, Domain, Gradient, OpSpec, Reads};
use crate::{Real, Shape, Var};

/// A descriptor of this family: one input, adjoint from it.
const fn spec(
    name: &'static str,
    notes: &'static str,
    reads: Reads,
    explain: &'static [&'static str],
    check: Check,
) -> OpSpec {
    OpSpec {
        name,
        notes,
        formula: name,
        arity: Arity::Fixed(1),
        reads,
        gradient: Gradient::FromInputs,
        constants: 0,
        explain,
        check,
    }
}

op_family! {
    /// Row-wise normalisations.
    enum Rowwise {
        Softmax => spec("softmax", "F6", Reads::Output, &["dz = y (.) (g - (g . y)), per row"],
            probe!(|v| v[0].softmax(), shapes: one_matrix, domain: Domain::ANY)),
        LogSoftmax => spec("log_softmax", "", Reads::Output, &["dz = g - softmax(z) sum_j g_j, per row"],
            probe!(|v| v[0].log_softmax(), shapes: one_matrix, domain: Domain::ANY)),
        LogSumExp => spec("logsumexp", "", Reads::Input, &["dz = g_row softmax(z), per row"],
            probe!(|v| v[0].logsumexp(), shapes: one_matrix, domain: Domain::ANY)),
    }
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Rowwise, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Rowwise::Softmax => softmax_backward(ctx),
        Rowwise::LogSoftmax => log_softmax_backward(ctx),
        Rowwise::LogSumExp => logsumexp_backward(ctx),
    }
}

/// `(max, log sum e^(z - max))` of one row; `logsumexp = max + second`.
fn shifted_log_sum_exp<T: Real>(row: &[T]) -> (T, T) {
    let max = row.iter().copied().fold(T::neg_infinity(), T::max);
    let sum = row.iter().fold(T::zero(), |s, &z| s + (z - max).exp());
    (max, sum.ln())
}

/// Writes `softmax(row)` into `out` and returns `logsumexp(row)`, from the same exponentials.
pub(crate) fn softmax_row<T: Real>(row: &[T], out: &mut [T]) -> T {
    let max = row.iter().copied().fold(T::neg_infinity(), T::max);
    let mut sum = T::zero();
    for (o, &z) in out.iter_mut().zip(row) {
        *o = (z - max).exp();
        sum = sum + *o;
    }
    let inverse = sum.recip();
    for o in out.iter_mut() {
        *o = *o * inverse;
    }
    max + sum.ln()
}

fn softmax_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let cols = ctx.input_shape(0).cols();
    let (y, g) = (ctx.output(), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // dL/dz = y (.) (g - (g . y)) per row (F6): the vector-Jacobian product of diag(y) - y y^T.
    for ((adjoint_row, y_row), g_row) in
        z_adjoint.chunks_exact_mut(cols).zip(y.chunks_exact(cols)).zip(g.chunks_exact(cols))
    {
        let g_dot_y = g_row.iter().zip(y_row).fold(T::zero(), |s, (&gi, &yi)| s + gi * yi);
        for ((adjoint, &yi), &gi) in adjoint_row.iter_mut().zip(y_row).zip(g_row) {
            *adjoint = *adjoint + yi * (gi - g_dot_y);
        }
    }
}

fn log_softmax_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let cols = ctx.input_shape(0).cols();
    let (y, g) = (ctx.output(), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // y = z - logsumexp(z), so dL/dz = g - softmax(z) (sum of g), with softmax(z) = e^y.
    for ((adjoint_row, y_row), g_row) in
        z_adjoint.chunks_exact_mut(cols).zip(y.chunks_exact(cols)).zip(g.chunks_exact(cols))
    {
        let g_sum = g_row.iter().fold(T::zero(), |s, &gi| s + gi);
        for ((adjoint, &yi), &gi) in adjoint_row.iter_mut().zip(y_row).zip(g_row) {
            *adjoint = *adjoint + gi - yi.exp() * g_sum;
        }
    }
}

fn logsumexp_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let cols = ctx.input_shape(0).cols();
    let (z, g) = (ctx.input(0), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // d logsumexp(z) / dz = softmax(z), recomputed from the shifted row: e^(z - logsumexp)
    // would lose digits to the rounding of a large logsumexp.
    for ((adjoint_row, z_row), &gi) in z_adjoint.chunks_exact_mut(cols).zip(z.chunks_exact(cols)).zip(g) {
        let (max, log_sum) = shifted_log_sum_exp(z_row);
        for (adjoint, &zj) in adjoint_row.iter_mut().zip(z_row) {
            *adjoint = *adjoint + gi * ((zj - max) - log_sum).exp();
        }
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Softmax of each row, `y_i = e^(z_i) / sum_k e^(z_k)`, stable at +/-1000.
    /// Backward (F6): `dL/dz = y (.) (g - (g . y))`, the product with `diag(y) - y y^T`.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.constant(&Tensor::from_rows(&[[1000.0, 0.0], [0.0, 0.0]])).softmax();
    /// assert_eq!(&*y.values(), &[1.0, 0.0, 0.5, 0.5]);
    /// ```
    #[track_caller]
    pub fn softmax(self) -> Self {
        let shape = self.shape();
        let cols = shape.cols();
        self.tape.record(Op::Rowwise(Rowwise::Softmax), [self], shape, 0, |[z], y| {
            for (z_row, y_row) in z.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                softmax_row(z_row, y_row);
            }
        })
    }

    /// Log-softmax of each row, `z_i - logsumexp(z)`, stable at +/-1000.
    /// Backward: `dL/dz = g - softmax(z) sum(g)`.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.constant(&Tensor::from_slice(&[1000.0, 0.0])).log_softmax();
    /// assert_eq!(&*y.values(), &[0.0, -1000.0]);
    /// ```
    #[track_caller]
    pub fn log_softmax(self) -> Self {
        let shape = self.shape();
        let cols = shape.cols();
        self.tape.record(Op::Rowwise(Rowwise::LogSoftmax), [self], shape, 0, |[z], y| {
            for (z_row, y_row) in z.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                let (max, log_sum) = shifted_log_sum_exp(z_row);
                for (yi, &zi) in y_row.iter_mut().zip(z_row) {
                    *yi = (zi - max) - log_sum;
                }
            }
        })
    }

    /// `log sum_k e^(z_k)` of each row, as `max + log sum e^(z - max)`: a matrix
    /// `[m x n]` gives a vector `[m]`, a vector gives a scalar.
    /// Backward: `dL/dz = g_row softmax(z)`.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_slice(&[1000.0, 1000.0]));
    /// let l = z.logsumexp();
    /// assert_eq!(l.value(), 1000.0 + 2f64.ln());
    /// for g in tape.backward(l).wrt_slice(z) {
    ///     assert!((g - 0.5).abs() < 1e-15);
    /// }
    /// ```
    #[track_caller]
    pub fn logsumexp(self) -> Self {
        let input = self.shape();
        let cols = input.cols();
        let shape = if input.rank() == 2 { Shape::vector(input.rows()) } else { Shape::scalar() };
        self.tape.record(Op::Rowwise(Rowwise::LogSumExp), [self], shape, 0, |[z], out| {
            for (z_row, o) in z.chunks_exact(cols).zip(out.iter_mut()) {
                let (max, log_sum) = shifted_log_sum_exp(z_row);
                *o = max + log_sum;
            }
        })
    }
}
