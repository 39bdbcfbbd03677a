//! Ops on the axes of a value of any rank: `permute` reorders them (numpy's `transpose(axes)`,
//! PyTorch's `permute`); `flatten` keeps the first and joins the rest (a reshape). `slice`
//! along any axis, and `concat` and `gather_rows` of a rank above 2, are written as the
//! matrix ops on a reshaped view (`[outer x (len inner)]`), so they reuse those ops' rules,
//! first and second order.
//!
//! permute's rule moves `G` back by the inverse permutation; it reads no value. The axes
//! live in the index arena from the node's spare slot.

use super::{check_shapes, op_family, BackwardContext, Op, TapedContext};
use crate::broadcast::strided;
use crate::registry::{probe, Arity, Domain, OpSpec, Reads};
use crate::{Real, Shape, Var};
use smallvec::SmallVec;
use std::ops::Range;

op_family! {
    /// Ops on the axes of a value.
    enum Axes {
        /// The axes in another order: output axis `i` is input axis `axes[i]`.
        Permute => OpSpec::new("permute", Arity::Fixed(1), Reads::Nothing,
            &["dX = G with its axes put back (the inverse permutation)"],
            probe!(|v| v[0].permute(&[2, 0, 1]), shapes: |m, n| vec![Shape::new(&[m, n, 2])], domain: Domain::ANY)),
    }
}

/// The inverse of a permutation of `rank` axes.
fn inverse(axes: &[usize]) -> [usize; Shape::MAX_RANK] {
    let mut inverse = [0; Shape::MAX_RANK];
    for (i, &a) in axes.iter().enumerate() {
        inverse[a] = i;
    }
    inverse
}

/// The row-major strides of `shape` read in the order `axes`: stepping output axis `i` steps
/// input axis `axes[i]`.
fn permuted_strides(shape: Shape, axes: &[usize]) -> [usize; Shape::MAX_RANK] {
    let dims = shape.dims();
    let mut contiguous = [0; Shape::MAX_RANK];
    let mut step = 1;
    for axis in (0..dims.len()).rev() {
        contiguous[axis] = step;
        step *= dims[axis];
    }
    let mut strides = [0; Shape::MAX_RANK];
    for (i, &a) in axes.iter().enumerate() {
        strides[i] = contiguous[a];
    }
    strides
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Axes, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Axes::Permute => {
            let (input, rank) = (ctx.input_shape(0), ctx.input_shape(0).rank());
            let start = ctx.node.aux() as usize;
            let mut axes = [0; Shape::MAX_RANK];
            axes[..rank].copy_from_slice(&ctx.indices[start..start + rank]);
            let (out, g) = (ctx.node.shape, ctx.upstream);
            let Some(x_adjoint) = ctx.adjoint(0) else { return };
            // Y[i] = X[at(i)], so dX[at(i)] += G[i].
            for (&gi, [at]) in g.iter().zip(strided(&out.dims(), [permuted_strides(input, &axes[..rank])])) {
                x_adjoint[at] = x_adjoint[at] + gi;
            }
        }
    }
}

/// The taped rule: `G` permuted back.
pub(crate) fn taped<T: Real>(op: Axes, ctx: &mut TapedContext<'_, T>) {
    match op {
        Axes::Permute => {
            if ctx.wants(0) {
                let rank = ctx.input(0).shape().rank();
                let axes = ctx.indices(rank);
                let back = inverse(&axes);
                ctx.send(0, ctx.upstream.permute(&back[..rank]));
            }
        }
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The axes in the order `axes` (PyTorch's `permute`, numpy's `transpose(axes)`): output
    /// axis `i` is input axis `axes[i]`, so `[n x c x h x w].permute(&[0, 2, 3, 1])` is
    /// `[n x h x w x c]`. The values are copied into the new row-major order. Backward: `G`
    /// permuted back by the inverse permutation.
    ///
    /// # Panics
    ///
    /// If `axes` is not a permutation of `0..rank`, naming the shape and the axes.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::new(Shape::new(&[2, 3, 1]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let y = x.permute(&[2, 1, 0]);
    /// assert_eq!(y.shape(), Shape::new(&[1, 3, 2]));
    /// assert_eq!(&*y.values(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// // Weighting y's elements 1..6 and reading the gradient in x's order undoes the move.
    /// let w = tape.constant(&Tensor::new(Shape::new(&[1, 3, 2]), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// assert_eq!(tape.backward((y * w).sum()).wrt_slice(x), &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn permute(self, axes: &[usize]) -> Self {
        let shape = self.shape();
        let rank = shape.rank();
        let mut seen = [false; Shape::MAX_RANK];
        let is_permutation =
            axes.len() == rank && axes.iter().all(|&a| a < rank && !std::mem::replace(&mut seen[a], true));
        check_shapes(is_permutation, "permute", || {
            format!("axes {axes:?} are not a permutation of the {rank} axes of {shape} (each of 0..{rank} once)")
        });
        let dims = shape.dims();
        let mut out = [0; Shape::MAX_RANK];
        for (i, &a) in axes.iter().enumerate() {
            out[i] = dims[a];
        }
        let out = Shape::new(&out[..rank]);
        let start = self.tape.push_indices(axes);
        let strides = permuted_strides(shape, axes);
        self.tape.record_with_aux(Op::Axes(Axes::Permute), [self], out, 0, start, |[x], y| {
            for (yi, [at]) in y.iter_mut().zip(strided(&out.dims(), [strides])) {
                *yi = x[at];
            }
        })
    }

    /// The first axis kept and the others joined, `[n x c x h x w] -> [n x (c h w)]` (PyTorch's
    /// `flatten(1)`), a reshape; a vector or scalar is returned as it is.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f32>::new();
    /// let x = tape.var(&Tensor::zeros(Shape::new(&[64, 16, 5, 5])));
    /// assert_eq!(x.flatten().shape(), Shape::matrix(64, 400));
    /// ```
    #[track_caller]
    pub fn flatten(self) -> Self {
        let shape = self.shape();
        if shape.rank() <= 2 {
            return self;
        }
        let first = shape.dim(0);
        let rest = shape.numel().checked_div(first).unwrap_or_else(|| shape.dims()[1..].iter().product());
        self.reshape(Shape::matrix(first, rest))
    }

    /// Elements `range` along `axis` (numpy's `x[..., start:end, ...]`), the other axes
    /// whole: `[2 x 5 x 3].slice(1, 1..4)` is `[2 x 3 x 3]`. Backward: `G` added into the
    /// sliced part of `dX`, nothing elsewhere (as [`Var::slice_cols`], which it records on a
    /// `[outer x (len inner)]` view).
    ///
    /// # Panics
    ///
    /// If `axis` is not an axis of the shape, or `range` is empty or runs past its length.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_fn(Shape::new(&[2, 3, 2]), |i| i as f64));
    /// let y = x.slice(1, 1..3);
    /// assert_eq!(y.shape(), Shape::new(&[2, 2, 2]));
    /// assert_eq!(&*y.values(), &[2.0, 3.0, 4.0, 5.0, 8.0, 9.0, 10.0, 11.0]);
    /// let g = tape.backward(y.sum());
    /// assert_eq!(g.wrt_slice(x), &[0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn slice(self, axis: usize, range: Range<usize>) -> Self {
        let shape = self.shape();
        let rank = shape.rank();
        check_shapes(axis < rank, "slice", || format!("axis {axis} is out of range for {shape} (rank {rank})"));
        let dims = shape.dims();
        check_shapes(range.start < range.end && range.end <= dims[axis], "slice", || {
            format!("range {range:?} along axis {axis} of {shape} is empty or runs past its {} elements", dims[axis])
        });
        match (rank, axis) {
            (2, 0) => return self.slice_rows(range),
            (1, _) | (2, _) => return self.slice_cols(range),
            _ => {}
        }
        let (outer, inner) = outer_inner(&dims, axis);
        let view = self.reshape(Shape::matrix(outer, dims[axis] * inner));
        let mut out = [0; Shape::MAX_RANK];
        out[..rank].copy_from_slice(&dims);
        out[axis] = range.len();
        view.slice_cols(range.start * inner..range.end * inner).reshape(Shape::new(&out[..rank]))
    }
}

/// The products of the dimensions before `axis` and after it.
fn outer_inner(dims: &[usize], axis: usize) -> (usize, usize) {
    (dims[..axis].iter().product(), dims[axis + 1..].iter().product())
}

/// [`Var::concat`] of parts of rank 3 or more: each read as `[outer x (len inner)]` and joined
/// side by side, so that their blocks along `axis` follow each other.
#[track_caller]
pub(crate) fn concat_any_rank<'t, T: Real>(parts: &[Var<'t, T>], axis: usize) -> Var<'t, T> {
    let first = parts[0].shape();
    let (rank, dims) = (first.rank(), first.dims());
    check_shapes(axis < rank, "concat", || format!("axis {axis} is out of range for {first} (rank {rank})"));
    let fits = |s: Shape| {
        let d = s.dims();
        d.len() == rank && (0..rank).all(|a| a == axis || d[a] == dims[a])
    };
    check_shapes(parts.iter().all(|p| fits(p.shape())), "concat", || {
        let shapes: Vec<String> = parts.iter().map(|p| p.shape().to_string()).collect();
        format!("parts {} differ in rank or along an axis other than {axis}", shapes.join(", "))
    });
    let (outer, inner) = outer_inner(&dims, axis);
    let views: SmallVec<[Var<'t, T>; 8]> =
        parts.iter().map(|p| p.reshape(Shape::matrix(outer, p.shape().dim(axis) * inner))).collect();
    let mut out = [0; Shape::MAX_RANK];
    out[..rank].copy_from_slice(&dims);
    out[axis] = parts.iter().map(|p| p.shape().dim(axis)).sum();
    Var::concat(&views, 1).reshape(Shape::new(&out[..rank]))
}

/// [`Var::gather_rows`] of a table of rank 3 or more: its first axis indexed, each entry the
/// rest of the dimensions (`[n x a x b]` gives `[k x a x b]`).
#[track_caller]
pub(crate) fn gather_any_rank<'t, T: Real>(table: Var<'t, T>, indices: &[usize]) -> Var<'t, T> {
    let shape = table.shape();
    let dims = shape.dims();
    let rest: usize = dims[1..].iter().product();
    let rows = table.reshape(Shape::matrix(dims[0], rest)).gather_rows(indices);
    let mut out = [0; Shape::MAX_RANK];
    out[..dims.len()].copy_from_slice(&dims);
    out[0] = indices.len();
    rows.reshape(Shape::new(&out[..dims.len()]))
}
