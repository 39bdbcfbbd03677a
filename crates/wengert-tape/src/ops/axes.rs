//! Ops on the axes of a value of any rank: `permute` reorders them (numpy's `transpose(axes)`,
//! PyTorch's `permute`); `flatten` keeps the first and joins the rest (a reshape).
//!
//! permute's rule moves `G` back by the inverse permutation; it reads no value. The axes
//! live in the index arena from the node's spare slot.

use super::{check_shapes, op_family, BackwardContext, Op, TapedContext};
use crate::broadcast::strided;
use crate::registry::{probe, Arity, Domain, OpSpec, Reads};
use crate::{Real, Shape, Var};

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
}
