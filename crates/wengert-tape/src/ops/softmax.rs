//! Row-wise softmax, log-softmax and log-sum-exp (F6), and softmax and log-softmax down each
//! column, each with the row's (column's) maximum subtracted first so that no exponential
//! overflows: softmax([1000, 0]) = [1, e^-1000].
//!
//! A matrix is normalised row by row; a vector (or scalar) is one row; a shape of rank 3 or
//! more along its last axis. `softmax_axis` along the last axis records the row-wise op
//! itself, so that the row path stays as it is; along any other axis it records the `_axis`
//! op, whose axis is the node's spare slot.

use super::reduce::{reduced_shape, unpack_axis, Lanes};
use super::{one_matrix, op_family, reshaped, BackwardContext, Op, TapedContext};
use crate::registry::{probe, Arity, Check, Domain, OpSpec, Reads};
use crate::{Real, Shape, Var};

/// A descriptor of this family: one input, adjoint from it.
const fn spec(
    name: &'static str,
    notes: &'static str,
    reads: Reads,
    explain: &'static [&'static str],
    check: Check,
) -> OpSpec {
    OpSpec::new(name, Arity::Fixed(1), reads, explain, check).with_notes(notes)
}

op_family! {
    /// Normalisations along each row, or down each column.
    enum Rowwise {
        Softmax => spec("softmax", "F6", Reads::Output, &["dz = y (.) (g - (g . y)), per row"],
            probe!(|v| v[0].softmax(), shapes: one_matrix, domain: Domain::ANY)),
        LogSoftmax => spec("log_softmax", "", Reads::Output, &["dz = g - softmax(z) sum_j g_j, per row"],
            probe!(|v| v[0].log_softmax(), shapes: one_matrix, domain: Domain::ANY)),
        LogSumExp => spec("logsumexp", "", Reads::Input, &["dz = g_row softmax(z), per row"],
            probe!(|v| v[0].logsumexp(), shapes: one_matrix, domain: Domain::ANY)),
        /// Softmax along an axis other than the last (`softmax_axis(0)` of a matrix: down each column).
        SoftmaxAxis => spec("softmax_axis", "F6", Reads::Output, &["dz = y (.) (g - (g . y)), per column"],
            probe!(|v| v[0].softmax_axis(0), shapes: one_matrix, domain: Domain::ANY)),
        /// Log-softmax along an axis other than the last (`log_softmax_axis(0)` of a matrix).
        LogSoftmaxAxis => spec("log_softmax_axis", "", Reads::Output,
            &["dz = g - softmax(z) sum_i g_i, per column"],
            probe!(|v| v[0].log_softmax_axis(0), shapes: one_matrix, domain: Domain::ANY)),
    }
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Rowwise, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Rowwise::Softmax => softmax_backward(ctx),
        Rowwise::LogSoftmax => log_softmax_backward(ctx),
        Rowwise::LogSumExp => logsumexp_backward(ctx),
        Rowwise::SoftmaxAxis => softmax_columns_backward(ctx),
        Rowwise::LogSoftmaxAxis => log_softmax_columns_backward(ctx),
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

/// Writes softmax (or, with `log`, log-softmax) of each lane of `z` (along one axis) into `y`.
fn normalise_columns<T: Real>(z: &[T], y: &mut [T], columns: Lanes, log: bool) {
    for j in 0..columns.count {
        let max = columns.lane(j).map(|p| z[p]).fold(T::neg_infinity(), T::max);
        let mut sum = T::zero();
        for p in columns.lane(j) {
            y[p] = z[p] - max;
            sum = sum + y[p].exp();
        }
        if log {
            let log_sum = sum.ln();
            columns.lane(j).for_each(|p| y[p] = y[p] - log_sum);
        } else {
            let inverse = sum.recip();
            columns.lane(j).for_each(|p| y[p] = y[p].exp() * inverse);
        }
    }
}

/// The lanes of an `_axis` node's input, along the axis in its spare slot.
fn node_lanes<T: Real>(ctx: &BackwardContext<'_, T>) -> Lanes {
    Lanes::of(ctx.input_shape(0), unpack_axis(ctx.node.aux()))
}

fn softmax_columns_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let columns = node_lanes(ctx);
    let (y, g) = (ctx.output(), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // F6 down each column: dL/dz = y (.) (g - (g . y)), the dot product over the column.
    for j in 0..columns.count {
        let g_dot_y = columns.lane(j).fold(T::zero(), |s, p| s + g[p] * y[p]);
        for p in columns.lane(j) {
            z_adjoint[p] = z_adjoint[p] + y[p] * (g[p] - g_dot_y);
        }
    }
}

fn log_softmax_columns_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let columns = node_lanes(ctx);
    let (y, g) = (ctx.output(), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // dL/dz = g - softmax(z) (sum of g over the column), with softmax(z) = e^y.
    for j in 0..columns.count {
        let g_sum = columns.lane(j).fold(T::zero(), |s, p| s + g[p]);
        for p in columns.lane(j) {
            z_adjoint[p] = z_adjoint[p] + g[p] - y[p].exp() * g_sum;
        }
    }
}

/// The sum of each lane of `v` along `axis`, kept as a lane of one (`[m x 1]` along a
/// matrix's rows, `[1 x n]` down its columns), so that it broadcasts back over `v`. A scalar
/// is its own sum.
fn lane_sums<T: Real>(v: Var<'_, T>, axis: usize) -> Var<'_, T> {
    if v.shape().rank() == 0 {
        v
    } else {
        v.sum_axis(axis, true)
    }
}

/// The last axis of `shape` (0 for a scalar): the one the row-wise ops normalise along.
fn last_axis(shape: Shape) -> usize {
    shape.rank().saturating_sub(1)
}

/// The taped rule of a node of this family, per row (per column for the `_axis` ops on a
/// matrix): softmax `dz = y (.) (g - sum(g (.) y))` (F6); log_softmax `dz = g - e^y sum(g)`;
/// logsumexp `dz = g softmax(z)`.
pub(crate) fn taped<T: Real>(op: Rowwise, ctx: &mut TapedContext<'_, T>) {
    if !ctx.wants(0) {
        return;
    }
    let (g, z, y) = (ctx.upstream, ctx.input(0), ctx.output);
    let axis = match op {
        Rowwise::SoftmaxAxis | Rowwise::LogSoftmaxAxis => unpack_axis(ctx.node.aux()),
        _ => last_axis(z.shape()),
    };
    let dz = match op {
        Rowwise::Softmax | Rowwise::SoftmaxAxis => y * (g - lane_sums(g * y, axis)),
        Rowwise::LogSoftmax | Rowwise::LogSoftmaxAxis => g - y.exp() * lane_sums(g, axis),
        Rowwise::LogSumExp => {
            // One number per row: as a lane of one (`[m x 1]`), it multiplies its row.
            let rows =
                if z.shape().rank() >= 2 { reduced_shape("logsumexp", z.shape(), axis, true) } else { g.shape() };
            reshaped(g, rows) * z.softmax()
        }
    };
    ctx.send(0, dz);
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
        // One number per row: the shape without its last axis.
        let shape = if input.rank() >= 2 {
            reduced_shape("logsumexp", input, last_axis(input), false)
        } else {
            Shape::scalar()
        };
        self.tape.record(Op::Rowwise(Rowwise::LogSumExp), [self], shape, 0, |[z], out| {
            for (z_row, o) in z.chunks_exact(cols).zip(out.iter_mut()) {
                let (max, log_sum) = shifted_log_sum_exp(z_row);
                *o = max + log_sum;
            }
        })
    }

    /// Softmax along `axis`, numpy's axes (`scipy.special.softmax(z, axis)`): along axis 1 each
    /// row is normalised, as [`Var::softmax`], which it records; along axis 0 each column of a
    /// matrix. A vector's only axis, 0, normalises it whole. Backward (F6): per row or column,
    /// `dL/dz = y (.) (g - (g . y))`.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a matrix has 0 and 1, a vector 0, a scalar none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_rows(&[[1000.0, 0.0], [0.0, 0.0]]));
    /// let y = z.softmax_axis(0);
    /// assert_eq!(&*y.values(), &[1.0, 0.5, 0.0, 0.5]);
    /// // Each column sums to 1 whatever z is, so the gradient of the sum is 0.
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(z), &[0.0; 4]);
    /// ```
    #[track_caller]
    pub fn softmax_axis(self, axis: usize) -> Self {
        let shape = self.shape();
        reduced_shape("softmax_axis", shape, axis, false); // a missing axis panics here
        if axis == last_axis(shape) {
            return self.softmax();
        }
        let lanes = Lanes::of(shape, axis);
        self.tape.record_with_aux(Op::Rowwise(Rowwise::SoftmaxAxis), [self], shape, 0, axis as u32, |[z], y| {
            normalise_columns(z, y, lanes, false);
        })
    }

    /// Log-softmax along `axis`, `z - logsumexp(z)` per row (axis 1, recording
    /// [`Var::log_softmax`]) or per column of a matrix (axis 0); a vector's only axis, 0,
    /// normalises it whole. Stable at +/-1000. Backward: `dL/dz = g - softmax(z) sum(g)`, the
    /// sum over the row or column.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a matrix has 0 and 1, a vector 0, a scalar none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_rows(&[[1000.0, 0.0], [0.0, 0.0]]));
    /// let y = z.log_softmax_axis(0);
    /// assert_eq!(&*y.values(), &[0.0, -(2f64.ln()), -1000.0, -(2f64.ln())]);
    /// // d(sum of column 1)/dz: 1 - 2 softmax = 0 in column 1; column 0 is [1 - 2, 1 - 0].
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(z), &[-1.0, 0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn log_softmax_axis(self, axis: usize) -> Self {
        let shape = self.shape();
        reduced_shape("log_softmax_axis", shape, axis, false); // a missing axis panics here
        if axis == last_axis(shape) {
            return self.log_softmax();
        }
        let lanes = Lanes::of(shape, axis);
        self.tape.record_with_aux(Op::Rowwise(Rowwise::LogSoftmaxAxis), [self], shape, 0, axis as u32, |[z], y| {
            normalise_columns(z, y, lanes, true);
        })
    }
}
