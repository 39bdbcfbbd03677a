//! Reductions: sum and mean of every element to a scalar (F16), and along one axis: sum,
//! mean (F16), max and min (as `torch.amax`/`amin`: a tie splits the gradient evenly),
//! logsumexp and variance.
//!
//! Axes follow numpy. A matrix `[m x n]` has axis 0, down each column (`[n]`, or `[1 x n]`
//! with `keepdim`), and axis 1, along each row (`[m]`, or `[m x 1]` with `keepdim`). A vector
//! has one axis, 0, which reduces it to a scalar (or `[1]` with `keepdim`); a scalar has none.
//! A shape of rank 3 or more has axes 0 to rank - 1, the last one along each row, as numpy's.
//! An axis reduction keeps its axis in bits 0..3 of the node's spare slot and `keepdim` in bit 3;
//! the variance keeps its correction as a constant after its value.

use super::{check_shapes, one_input_spec as spec, one_matrix, op_family, reshaped, BackwardContext, Op, TapedContext};
use crate::registry::{probe, Domain, Reads};
use crate::{Real, Shape, Tensor, Var};

op_family! {
    /// Reductions to a scalar, and along one axis.
    enum Reduce {
        Sum => spec("sum", "F16", Reads::Nothing, 0, &["dx_i = g"],
            probe!(|v| v[0].sum(), shapes: one_matrix, domain: Domain::ANY)),
        Mean => spec("mean", "F16", Reads::Nothing, 0, &["dx_i = g / M, M = {M}"],
            probe!(|v| v[0].mean(), shapes: one_matrix, domain: Domain::ANY)),
        // Each axis probe adds a reduced row and a reduced column, which broadcast back to
        // `[m x n]`: one probe covers both axes.
        SumAxis => spec("sum_axis", "F16", Reads::Nothing, 0, &["dx = g, broadcast back along the axis"],
            probe!(|v| v[0].sum_axis(0, true) + v[0].sum_axis(1, true) + v[0].sum_axis(0, false),
                shapes: one_matrix, domain: Domain::ANY)),
        MeanAxis => spec("mean_axis", "F16", Reads::Nothing, 0,
            &["dx = g / n, n = the elements along the axis"],
            probe!(|v| v[0].mean_axis(0, true) + v[0].mean_axis(1, true) + v[0].mean_axis(0, false),
                shapes: one_matrix, domain: Domain::ANY)),
        MaxAxis => spec("max_axis", "", Reads::Both, 0,
            &["dx = g (.) 1[x = max] / ties, ties = how many elements of the lane equal its max"],
            probe!(|v| spread(v[0]).max_axis(0, true) + spread(v[0]).max_axis(1, true),
                shapes: one_matrix, domain: Domain::ANY)),
        MinAxis => spec("min_axis", "", Reads::Both, 0,
            &["dx = g (.) 1[x = min] / ties, ties = how many elements of the lane equal its min"],
            probe!(|v| spread(v[0]).min_axis(0, true) + spread(v[0]).min_axis(1, true),
                shapes: one_matrix, domain: Domain::ANY)),
        LogSumExpAxis => spec("logsumexp_axis", "", Reads::Input, 0,
            &["dx = g (.) softmax(x) along the axis, recomputed with the max subtracted"],
            probe!(|v| v[0].logsumexp_axis(0, true) + v[0].logsumexp_axis(1, true),
                shapes: one_matrix, domain: Domain::ANY)),
        VarAxis => spec("var_axis", "", Reads::Input, 1,
            &["dx = 2 g (.) (x - mean) / (n - c), n = the elements along the axis, c = {c0}"],
            probe!(|v| v[0].var_axis(0, true) + v[0].var_axis_with_correction(1, true, 1),
                shapes: wide_matrix, domain: Domain::ANY)),
    }
}

/// Input shapes for the property suite: one `[m x (n + 1)]` matrix, whose rows have the
/// two elements a sample variance needs.
fn wide_matrix(m: usize, n: usize) -> Vec<Shape> {
    vec![Shape::matrix(m, n + 1)]
}

/// `x / 100` plus distinct multiples of 0.1, for the property suite's max and min: no two
/// elements (`x` drawn from `-3..3`) come within a central difference's step of each other,
/// where the max would switch element between the two evaluations; and the values stay small,
/// so that f32's differences are not lost to the rounding of large offsets (with offsets of
/// 10 i they were, about one run in twenty).
fn spread<T: Real>(x: Var<'_, T>) -> Var<'_, T> {
    let n = x.shape().numel();
    // 7 is prime to every probe size (up to 6 x 6, and the rank-3 and 4 lifts), so `7 i mod n`
    // is a permutation of 0..n: the arg-max lands anywhere.
    let offsets = Tensor::from_fn(x.shape(), |i| T::lit(0.1 * ((7 * i) % n) as f64));
    x * T::lit(0.01) + x.tape().constant(&offsets)
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Reduce, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Reduce::Sum => sum_backward(ctx),
        Reduce::Mean => mean_backward(ctx),
        Reduce::SumAxis => sum_axis_backward(ctx, false),
        Reduce::MeanAxis => sum_axis_backward(ctx, true),
        Reduce::MaxAxis | Reduce::MinAxis => extremum_axis_backward(ctx),
        Reduce::LogSumExpAxis => logsumexp_axis_backward(ctx),
        Reduce::VarAxis => var_axis_backward(ctx),
    }
}

fn sum_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream[0];
    // d(sum x)/dx_i = 1 (F16).
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint.iter_mut().for_each(|a| *a = *a + g);
    }
}

fn mean_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream[0] / T::lit(ctx.input_shape(0).numel() as f64);
    // d(mean x)/dx_i = 1/numel (F16).
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint.iter_mut().for_each(|a| *a = *a + g);
    }
}

/// The lines an axis reduction folds, one per output element: `count` lanes of `len`
/// elements. Along axis `a` of a row-major shape, with `inner` the product of the dimensions
/// after `a`, lane `i` starts at `(i / inner) * len * inner + i % inner` and steps by `inner`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lanes {
    /// How many lanes: the output's elements.
    pub count: usize,
    /// The elements of each lane: `n` of a mean.
    pub len: usize,
    /// The product of the dimensions after the axis: the step between a lane's elements.
    inner: usize,
}

impl Lanes {
    /// The lanes of `shape` along `axis` (an axis [`reduced_shape`] accepted): down each
    /// column for a matrix's axis 0, along each row for its axis 1.
    pub(crate) fn of(shape: Shape, axis: usize) -> Lanes {
        if shape.rank() <= 2 {
            // Without the interned table: a matrix's axis 0, or the last axis.
            let (rows, cols) = (shape.rows(), shape.cols());
            return if shape.rank() == 2 && axis == 0 {
                Lanes { count: cols, len: rows, inner: cols }
            } else {
                Lanes { count: rows, len: cols, inner: 1 }
            };
        }
        let dims = shape.dims();
        let (len, inner): (usize, usize) = (dims[axis], dims[axis + 1..].iter().product());
        let count = dims.iter().enumerate().filter(|&(a, _)| a != axis).map(|(_, &d)| d).product();
        Lanes { count, len, inner }
    }

    /// The input positions of lane `i`, in order.
    #[inline]
    pub(crate) fn lane(self, i: usize) -> impl Iterator<Item = usize> + Clone {
        let start = (i / self.inner) * self.len * self.inner + i % self.inner;
        let step = self.inner;
        (0..self.len).map(move |j| start + j * step)
    }
}

/// The shape `shape` reduced along `axis`, the axis kept as a 1 with `keepdim`.
///
/// # Panics
///
/// If `shape` has no such axis (a matrix has 0 and 1, a vector 0, a scalar none), naming `op`.
#[track_caller]
pub(crate) fn reduced_shape(op: &str, shape: Shape, axis: usize, keepdim: bool) -> Shape {
    let rank = shape.rank();
    if axis >= rank {
        check_shapes(false, op, || {
            let axes = match rank {
                0 => "a scalar has none".to_string(),
                1 => "a vector has only axis 0".to_string(),
                2 => "a matrix has axes 0 and 1".to_string(),
                _ => format!("a rank-{rank} shape has axes 0 to {}", rank - 1),
            };
            format!("axis {axis} is out of range for {shape} ({axes})")
        });
        unreachable!()
    }
    let dims = shape.dims();
    let mut out = [0usize; Shape::MAX_RANK];
    out[..rank].copy_from_slice(&dims);
    if keepdim {
        out[axis] = 1;
        Shape::new(&out[..rank])
    } else {
        out.copy_within(axis + 1..rank, axis);
        Shape::new(&out[..rank - 1])
    }
}

/// The node's spare slot for an axis reduction: bits 0..3 the axis, bit 3 `keepdim`.
pub(crate) fn pack(axis: usize, keepdim: bool) -> u32 {
    axis as u32 | u32::from(keepdim) << 3
}

/// The axis in an axis reduction's spare slot.
pub(crate) fn unpack_axis(aux: u32) -> usize {
    (aux & 7) as usize
}

/// The lanes of a node's input, from the axis in its spare slot.
fn node_lanes<T: Real>(ctx: &BackwardContext<'_, T>) -> Lanes {
    Lanes::of(ctx.input_shape(0), unpack_axis(ctx.node.aux()))
}

/// Adds `g_i local(p)` into the adjoint at every position `p` of lane `i`, for every lane.
#[inline]
fn add_along_lanes<T: Real>(lanes: Lanes, upstream: &[T], adjoint: &mut [T], mut local: impl FnMut(usize, usize) -> T) {
    for (i, &g) in upstream.iter().enumerate().take(lanes.count) {
        for p in lanes.lane(i) {
            adjoint[p] = adjoint[p] + g * local(i, p);
        }
    }
}

fn sum_axis_backward<T: Real>(ctx: &mut BackwardContext<'_, T>, mean: bool) {
    let lanes = node_lanes(ctx);
    // d(sum of a lane)/dx = 1 (F16); the mean's 1/n is applied here, once.
    let scale = if mean { T::lit(lanes.len as f64).recip() } else { T::one() };
    let g = ctx.upstream;
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    add_along_lanes(lanes, g, x_adjoint, |_, _| scale);
}

fn extremum_axis_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let lanes = node_lanes(ctx);
    let (x, y, g) = (ctx.input(0), ctx.output(), ctx.upstream);
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    // The gradient goes to the elements equal to the lane's max (or min), split evenly among
    // them, as torch.amax does. A NaN lane has no such element, and passes nothing back.
    let ties: Vec<T> =
        (0..lanes.count).map(|i| T::lit(lanes.lane(i).filter(|&p| x[p] == y[i]).count() as f64)).collect();
    add_along_lanes(lanes, g, x_adjoint, |i, p| if x[p] == y[i] { ties[i].recip() } else { T::zero() });
}

/// `(max, log sum e^(x - max))` of lane `i`: `logsumexp = max + second`.
fn shifted_log_sum_exp<T: Real>(x: &[T], lanes: Lanes, i: usize) -> (T, T) {
    let max = lanes.lane(i).map(|p| x[p]).fold(T::neg_infinity(), T::max);
    let sum = lanes.lane(i).fold(T::zero(), |s, p| s + (x[p] - max).exp());
    (max, sum.ln())
}

fn logsumexp_axis_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let lanes = node_lanes(ctx);
    let (x, g) = (ctx.input(0), ctx.upstream);
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    // d logsumexp / dx = softmax(x) along the lane, recomputed from the shifted lane (as
    // Rowwise::LogSumExp does): e^(x - l) would lose digits to the rounding of a large l.
    for (i, &gi) in g.iter().enumerate() {
        let (max, log_sum) = shifted_log_sum_exp(x, lanes, i);
        for p in lanes.lane(i) {
            x_adjoint[p] = x_adjoint[p] + gi * ((x[p] - max) - log_sum).exp();
        }
    }
}

/// The mean of lane `i`.
fn lane_mean<T: Real>(x: &[T], lanes: Lanes, i: usize) -> T {
    lanes.lane(i).fold(T::zero(), |s, p| s + x[p]) / T::lit(lanes.len as f64)
}

fn var_axis_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let lanes = node_lanes(ctx);
    let (x, g) = (ctx.input(0), ctx.upstream);
    let divisor = T::lit(lanes.len as f64) - ctx.scratch(1)[0];
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    // var = sum (x - mean)^2 / (n - c); the mean's own derivative drops out, since the
    // deviations sum to 0: dvar/dx_p = 2 (x_p - mean) / (n - c).
    let means: Vec<T> = (0..lanes.count).map(|i| lane_mean(x, lanes, i)).collect();
    let two = T::lit(2.0);
    add_along_lanes(lanes, g, x_adjoint, |i, p| two * (x[p] - means[i]) / divisor);
}

/// `v` broadcast to `shape` (a scalar, or a reduced lane kept as a lane of one), as
/// `0 + v`: exact, and differentiable (its taped rule sums back).
fn expand<'t, T: Real>(v: Var<'t, T>, shape: Shape) -> Var<'t, T> {
    if v.shape() == shape {
        return v;
    }
    v.tape().constant(&Tensor::zeros(shape)) + v
}

/// The taped rule of a node of this family: the upstream broadcast back along what was
/// reduced (F16), times the lane's local derivative. max's and min's derivative is a
/// constant mask from the values (1/ties at the lane's extremum), so their second derivative
/// is 0.
pub(crate) fn taped<T: Real>(op: Reduce, ctx: &mut TapedContext<'_, T>) {
    if !ctx.wants(0) {
        return;
    }
    let (g, x) = (ctx.upstream, ctx.input(0));
    let shape = x.shape();
    let axis = unpack_axis(ctx.node.aux());
    // The upstream of an axis reduction as a lane of one, which broadcasts back over x.
    let lane_g = || reshaped(g, reduced_shape(op.spec().name, shape, axis, true));
    let lanes = Lanes::of(shape, axis);
    let dx = match op {
        Reduce::Sum => expand(g, shape),
        Reduce::Mean => expand(g / T::lit(shape.numel() as f64), shape),
        Reduce::SumAxis => expand(lane_g(), shape),
        Reduce::MeanAxis => expand(lane_g() / T::lit(lanes.len as f64), shape),
        Reduce::MaxAxis | Reduce::MinAxis => {
            let (xs, ys) = (ctx.input_values(0), ctx.output_values());
            let mut mask = Tensor::zeros(shape);
            for (i, &extremum) in ys.iter().enumerate().take(lanes.count) {
                let ties = lanes.lane(i).filter(|&p| xs[p] == extremum).count();
                for p in lanes.lane(i).filter(|&p| xs[p] == extremum) {
                    mask.data_mut()[p] = T::lit(ties as f64).recip();
                }
            }
            lane_g() * ctx.constant(&mask)
        }
        // g softmax(x) along the lane.
        Reduce::LogSumExpAxis => lane_g() * x.softmax_axis(axis),
        // 2 g (x - mean) / (n - c).
        Reduce::VarAxis => {
            let divisor = T::lit(lanes.len as f64) - ctx.constants(1)[0];
            (x - x.mean_axis(axis, true)) * lane_g() * (T::lit(2.0) / divisor)
        }
    };
    ctx.send(0, dx);
}

impl<'t, T: Real> Var<'t, T> {
    /// The sum of all elements, a scalar. Backward: every element gets the upstream (F16).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    /// let s = x.sum();
    /// assert_eq!(s.value(), 10.0);
    /// assert_eq!(tape.backward(s).wrt_slice(x), &[1.0; 4]);
    /// ```
    #[track_caller]
    pub fn sum(self) -> Self {
        self.tape.record(Op::Reduce(Reduce::Sum), [self], Shape::scalar(), 0, |[x], out| {
            out[0] = x.iter().fold(T::zero(), |s, &v| s + v);
        })
    }

    /// The mean of all elements, a scalar. Backward: `1/numel` each (F16).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0, 6.0]));
    /// let m = x.mean();
    /// assert_eq!(m.value(), 3.0);
    /// assert_eq!(tape.backward(m).wrt_slice(x), &[0.25; 4]);
    /// ```
    #[track_caller]
    pub fn mean(self) -> Self {
        let n = T::lit(self.shape().numel() as f64);
        self.tape.record(Op::Reduce(Reduce::Mean), [self], Shape::scalar(), 0, |[x], out| {
            out[0] = x.iter().fold(T::zero(), |s, &v| s + v) / n;
        })
    }

    /// Records `op` reducing each lane along `axis` with `fold(x, lanes, i)`, `constants`
    /// stored after the value.
    #[track_caller]
    fn reduce_axis(
        self,
        op: Reduce,
        axis: usize,
        keepdim: bool,
        constants: &[T],
        fold: impl Fn(&[T], Lanes, usize) -> T,
    ) -> Self {
        let input = self.shape();
        let shape = reduced_shape(op.spec().name, input, axis, keepdim);
        let lanes = Lanes::of(input, axis);
        let node = Op::Reduce(op);
        self.tape.record_with_aux(node, [self], shape, constants.len(), pack(axis, keepdim), |[x], out| {
            let (values, kept) = out.split_at_mut(lanes.count);
            for (i, o) in values.iter_mut().enumerate() {
                *o = fold(x, lanes, i);
            }
            kept.copy_from_slice(constants);
        })
    }

    /// The sum along `axis` (numpy's `sum(axis, keepdims)`): a matrix `[m x n]` gives `[n]`
    /// (`[1 x n]` with `keepdim`) along axis 0 and `[m]` (`[m x 1]`) along axis 1; a vector's
    /// only axis, 0, gives a scalar (`[1]`). Backward (F16): each element gets the upstream
    /// of its lane.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none).
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// let columns = x.sum_axis(0, true);
    /// assert_eq!((columns.shape(), &*columns.values()), (Shape::matrix(1, 3), &[5.0, 7.0, 9.0][..]));
    /// let rows = x.sum_axis(1, false);
    /// assert_eq!((rows.shape(), &*rows.values()), (Shape::vector(2), &[6.0, 15.0][..]));
    /// // Weight each row's sum: every element of row r gets the weight of row r.
    /// let loss = (rows * tape.constant(&Tensor::from_slice(&[1.0, 10.0]))).sum();
    /// assert_eq!(tape.backward(loss).wrt_slice(x), &[1.0, 1.0, 1.0, 10.0, 10.0, 10.0]);
    /// ```
    #[track_caller]
    pub fn sum_axis(self, axis: usize, keepdim: bool) -> Self {
        self.reduce_axis(Reduce::SumAxis, axis, keepdim, &[], |x, lanes, i| {
            lanes.lane(i).fold(T::zero(), |s, p| s + x[p])
        })
    }

    /// The mean along `axis`, shaped as [`Var::sum_axis`]. Backward (F16): each element
    /// gets `g / n` of its lane, `n` the elements along the axis.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 6.0]]));
    /// let m = x.mean_axis(0, false);
    /// assert_eq!(&*m.values(), &[2.0, 4.0]);
    /// assert_eq!(tape.backward(m.sum()).wrt_slice(x), &[0.5; 4]);
    /// ```
    #[track_caller]
    pub fn mean_axis(self, axis: usize, keepdim: bool) -> Self {
        self.reduce_axis(Reduce::MeanAxis, axis, keepdim, &[], |x, lanes, i| lane_mean(x, lanes, i))
    }

    /// The largest element along `axis` (`torch.amax`), shaped as [`Var::sum_axis`]; a NaN
    /// in a lane makes its max NaN. Backward: the upstream goes to the arg-max, and at a tie
    /// is split evenly among the tied elements, as `torch.amax` does (`torch.max(dim)`
    /// instead gives it all to one index).
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 5.0, 5.0], [7.0, 2.0, 3.0]]));
    /// let m = x.max_axis(1, false);
    /// assert_eq!(&*m.values(), &[5.0, 7.0]);
    /// // Row 0's two fives share its gradient.
    /// assert_eq!(tape.backward(m.sum()).wrt_slice(x), &[0.0, 0.5, 0.5, 1.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn max_axis(self, axis: usize, keepdim: bool) -> Self {
        self.reduce_axis(Reduce::MaxAxis, axis, keepdim, &[], |x, lanes, i| {
            lanes.lane(i).map(|p| x[p]).fold(T::neg_infinity(), |m, v| if v > m || v.is_nan() { v } else { m })
        })
    }

    /// The smallest element along `axis` (`torch.amin`), shaped as [`Var::sum_axis`]; a NaN
    /// in a lane makes its min NaN. Backward: the upstream goes to the arg-min, split evenly
    /// among tied elements, as [`Var::max_axis`].
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 5.0], [1.0, 2.0]]));
    /// let m = x.min_axis(0, true);
    /// assert_eq!(&*m.values(), &[1.0, 2.0]);
    /// assert_eq!(tape.backward(m.sum()).wrt_slice(x), &[0.5, 0.0, 0.5, 1.0]);
    /// ```
    #[track_caller]
    pub fn min_axis(self, axis: usize, keepdim: bool) -> Self {
        self.reduce_axis(Reduce::MinAxis, axis, keepdim, &[], |x, lanes, i| {
            lanes.lane(i).map(|p| x[p]).fold(T::infinity(), |m, v| if v < m || v.is_nan() { v } else { m })
        })
    }

    /// `log sum e^x` along `axis`, as `max + log sum e^(x - max)` so that no exponential
    /// overflows, shaped as [`Var::sum_axis`]. Backward: `g (.) softmax(x)` along the axis.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1000.0, 0.0], [1000.0, 0.0]]));
    /// let l = x.logsumexp_axis(0, false);
    /// assert_eq!(&*l.values(), &[1000.0 + 2f64.ln(), 2f64.ln()]);
    /// assert_eq!(tape.backward(l.sum()).wrt_slice(x), &[0.5; 4]);
    /// ```
    #[track_caller]
    pub fn logsumexp_axis(self, axis: usize, keepdim: bool) -> Self {
        self.reduce_axis(Reduce::LogSumExpAxis, axis, keepdim, &[], |x, lanes, i| {
            let (max, log_sum) = shifted_log_sum_exp(x, lanes, i);
            max + log_sum
        })
    }

    /// The population variance along `axis`, `(1/n) sum (x - mean)^2` (numpy's default,
    /// `ddof = 0`; PyTorch's `var` defaults to the sample variance, which is
    /// [`Var::var_axis_with_correction`] with correction 1), shaped as [`Var::sum_axis`].
    /// Backward: `2 g (.) (x - mean) / n`.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none), or the axis has no element.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 3.0]));
    /// let v = x.var_axis(0, false);
    /// assert_eq!(v.value(), 1.0);
    /// assert_eq!(tape.backward(v).wrt_slice(x), &[-1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn var_axis(self, axis: usize, keepdim: bool) -> Self {
        self.var_axis_with_correction(axis, keepdim, 0)
    }

    /// The variance along `axis` with `correction` degrees of freedom taken off,
    /// `sum (x - mean)^2 / (n - correction)`: 0 is the population variance ([`Var::var_axis`],
    /// numpy's `ddof = 0`), 1 the sample variance (PyTorch's default, Bessel's correction).
    /// Shaped as [`Var::sum_axis`]. Backward: `2 g (.) (x - mean) / (n - correction)`.
    ///
    /// # Panics
    ///
    /// If the shape has no axis `axis` (a scalar has none), or `correction` is not below the
    /// number of elements along it.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 6.0]]));
    /// let v = x.var_axis_with_correction(1, true, 1);
    /// assert_eq!(v.value(), 7.0); // deviations -2, -1, 3: (4 + 1 + 9) / 2
    /// assert_eq!(tape.backward(v).wrt_slice(x), &[-2.0, -1.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn var_axis_with_correction(self, axis: usize, keepdim: bool, correction: usize) -> Self {
        let op = Reduce::VarAxis;
        let input = self.shape();
        let name = op.spec().name;
        reduced_shape(name, input, axis, keepdim); // a missing axis panics first
        let len = Lanes::of(input, axis).len;
        check_shapes(correction < len, name, || {
            format!("correction {correction} leaves no degree of freedom along axis {axis} of {input} ({len} elements)")
        });
        let c = T::lit(correction as f64);
        let divisor = T::lit((len - correction) as f64);
        self.reduce_axis(op, axis, keepdim, &[c], |x, lanes, i| {
            let mean = lane_mean(x, lanes, i);
            lanes.lane(i).fold(T::zero(), |s, p| s + (x[p] - mean) * (x[p] - mean)) / divisor
        })
    }
}
