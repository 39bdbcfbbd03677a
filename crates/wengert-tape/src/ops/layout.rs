//! Layout ops: values moved, not computed. Transpose, reshape, row and column slices,
//! concatenation, scalars stacked into a vector, one element picked out, rows of a table
//! gathered (an embedding lookup) and rows scattered back into a table (its adjoint), and an
//! elementwise choice by a constant mask.
//!
//! Each rule adds `G`, or a piece of it, back where the forward took the values from: a
//! slice's rule adds `G` into the sliced block, concat's hands each part its block, gather's
//! adds each row of `G` into the row it came from (so a repeated index collects every row).
//! None reads a value except `where`, which reads its mask.
//!
//! Shapes are read as matrices: a vector `[n]` is one row, `[1 x n]`; a scalar is `[1 x 1]`.
//! Reshape, element and where take any rank, and concat and gather_rows through `axes.rs`;
//! the others matrices (or less), and say so (`Var::slice` slices along any axis).

use super::binary::sum_to_shape;
use super::{
    check_matrix_rank, check_shapes, one_matrix, op_family, reshaped, two_matrices, BackwardContext, Op, TapedContext,
};
use crate::broadcast::{broadcast_shape, positions};
use crate::registry::{probe, Arity, Domain, OpSpec, Reads};
use crate::tape::value_of;
use crate::{Real, Shape, Tensor, Var};
use std::ops::Range;

op_family! {
    /// Ops that move values without computing new ones.
    enum Layout {
        /// `X^T` of a matrix.
        Transpose => OpSpec::new("t", Arity::Fixed(1), Reads::Nothing, &["dX = G^T"],
            probe!(|v| v[0].t(), shapes: one_matrix, domain: Domain::ANY)),
        /// The same elements, row-major, in another shape.
        Reshape => OpSpec::new("reshape", Arity::Fixed(1), Reads::Nothing, &["dx = g read in the shape of x"],
            probe!(|v| v[0].reshape(Shape::matrix(v[0].shape().cols(), v[0].shape().rows())),
                shapes: one_matrix, domain: Domain::ANY)),
        /// Rows `start..end`; the range is in the index arena from the node's spare slot.
        SliceRows => OpSpec::new("slice_rows", Arity::Fixed(1), Reads::Nothing, &["dX = G added into the sliced rows"],
            probe!(|v| v[0].slice_rows(probe_range(v[0].shape().rows())), shapes: one_matrix, domain: Domain::ANY)),
        /// Columns `start..end`; the range is in the index arena from the node's spare slot.
        SliceCols => OpSpec::new("slice_cols", Arity::Fixed(1), Reads::Nothing, &["dX = G added into the sliced columns"],
            probe!(|v| v[0].slice_cols(probe_range(v[0].shape().cols())), shapes: one_matrix, domain: Domain::ANY)),
        /// Parts joined along the axis kept in the node's spare slot (0: rows, 1: columns).
        Concat => OpSpec::new("concat", Arity::Variadic, Reads::Nothing, &["dX_k = block k of G"],
            probe!(|v| Var::concat(&[Var::concat(&v[..2], 0), v[2]], 1),
                shapes: |m, n| vec![Shape::matrix(m, n), Shape::matrix(n, n), Shape::matrix(m + n, m)],
                domain: Domain::ANY)),
        /// One-element parts as the elements of a vector.
        Stack => OpSpec::new("stack", Arity::Variadic, Reads::Nothing, &["dx_k = g_k"],
            probe!(|v| Var::stack(v), shapes: |_, _| vec![Shape::scalar(); 3], domain: Domain::ANY)),
        /// Element `i` (row-major) as a scalar; `i` is in the index arena.
        Element => OpSpec::new("element", Arity::Fixed(1), Reads::Nothing, &["dx_i = g at the element read"],
            probe!(|v| v[0].element(v[0].shape().numel() / 2), shapes: one_matrix, domain: Domain::ANY)),
        /// Rows of a table by index; the indices are in the index arena.
        GatherRows => OpSpec::new("gather_rows", Arity::Fixed(1), Reads::Nothing, &["dT[i_k] = G[k] for every k"],
            probe!(|v| v[0].gather_rows(&probe_indices(v[0].shape())), shapes: one_matrix, domain: Domain::ANY)),
        /// Rows added into the rows of a zero table by index (gather_rows' adjoint, and its
        /// taped rule); the indices are in the index arena.
        ScatterRows => OpSpec::new("scatter_rows", Arity::Fixed(1), Reads::Nothing, &["dX[k] = G[i_k] for every k"],
            probe!(|v| v[0].scatter_rows(&probe_scatter(v[0].shape().rows()), v[0].shape().rows() + 1),
                shapes: one_matrix, domain: Domain::ANY)),
        /// `mask != 0 ? a : b` elementwise; the inputs are `[mask, a, b]`, the mask a constant.
        Where => OpSpec::new("where", Arity::Variadic, Reads::Input,
            &["dmask: none (a constant)", "da = g (.) 1[mask != 0]", "db = g (.) 1[mask = 0]"],
            probe!(|v| Var::where_(&probe_mask(v[0].shape(), v[1].shape()), v[0], v[1]),
                shapes: two_matrices, domain: Domain::ANY, broadcasts: true)),
    }
}

/// The middle third (at least one) of `len` rows or columns, for the property suite.
fn probe_range(len: usize) -> Range<usize> {
    len / 3..len - len / 3
}

/// Rows of a table for the property suite: the last row twice, so that a repeated index must
/// collect both rows of `G`, and the first.
fn probe_indices(table: Shape) -> Vec<usize> {
    let last = table.rows() - 1;
    vec![last, 0, last]
}

/// Where scatter_rows sends `rows` rows in the property suite, into a table of `rows + 1`:
/// the last row and the first in turn, so that rows collide.
fn probe_scatter(rows: usize) -> Vec<usize> {
    (0..rows).map(|k| if k % 2 == 0 { rows } else { 0 }).collect()
}

/// A mask for the property suite over the broadcast of `a` and `b`: two of every three
/// elements set.
fn probe_mask<T: Real>(a: Shape, b: Shape) -> Tensor<T> {
    let shape = broadcast_shape(&[a, b]).expect("the property suite pairs shapes that broadcast");
    Tensor::from_fn(shape, |i| if i % 3 == 1 { T::zero() } else { T::one() })
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Layout, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Layout::Transpose => transpose_backward(ctx),
        Layout::Reshape => reshape_backward(ctx),
        Layout::SliceRows | Layout::SliceCols => slice_backward(op, ctx),
        Layout::Concat => concat_backward(ctx),
        Layout::Stack => stack_backward(ctx),
        Layout::Element => element_backward(ctx),
        Layout::GatherRows => gather_rows_backward(ctx),
        Layout::ScatterRows => scatter_rows_backward(ctx),
        Layout::Where => where_backward(ctx),
    }
}

/// A `rows x cols` block at (`row`, `col`) of a row-major value `stride` columns wide.
#[derive(Clone, Copy, Debug)]
struct Block {
    row: usize,
    col: usize,
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Block {
    /// For each row of the block: where its elements are in the wide value, and where in the
    /// block's own (row-major, `cols` wide).
    fn segments(self) -> impl Iterator<Item = (Range<usize>, Range<usize>)> {
        (0..self.rows).map(move |i| {
            let wide = (self.row + i) * self.stride + self.col;
            (wide..wide + self.cols, i * self.cols..(i + 1) * self.cols)
        })
    }
}

/// `into[i] += from[i]`.
fn add_into<T: Real>(into: &mut [T], from: &[T]) {
    for (a, &g) in into.iter_mut().zip(from) {
        *a = *a + g;
    }
}

/// `into[j, i] += from[i, j]` for `from` of `rows x cols`.
fn add_transposed<T: Real>(from: &[T], rows: usize, cols: usize, into: &mut [T]) {
    for (i, row) in from.chunks_exact(cols).enumerate() {
        for (j, &x) in row.iter().enumerate() {
            into[j * rows + i] = into[j * rows + i] + x;
        }
    }
}

fn transpose_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let out = ctx.node.shape;
    let g = ctx.upstream;
    // Y = X^T, so dX = G^T: G is [n x m], X's adjoint [m x n].
    if let Some(x_adjoint) = ctx.adjoint(0) {
        add_transposed(g, out.rows(), out.cols(), x_adjoint);
    }
}

fn reshape_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream;
    // The same elements in the same order: dx = g, read in x's shape.
    if let Some(x_adjoint) = ctx.adjoint(0) {
        add_into(x_adjoint, g);
    }
}

/// The block a slice node took from its input.
fn slice_block(op: Layout, indices: &[usize], input: Shape) -> Block {
    let (start, end) = (indices[0], indices[1]);
    match op {
        Layout::SliceRows => Block { row: start, col: 0, rows: end - start, cols: input.cols(), stride: input.cols() },
        _ => Block { row: 0, col: start, rows: input.rows(), cols: end - start, stride: input.cols() },
    }
}

fn slice_backward<T: Real>(op: Layout, ctx: &mut BackwardContext<'_, T>) {
    let start = ctx.node.aux() as usize;
    let block = slice_block(op, &ctx.indices[start..start + 2], ctx.input_shape(0));
    let g = ctx.upstream;
    // Y = X[block], so dX[block] += G and nothing elsewhere.
    if let Some(x_adjoint) = ctx.adjoint(0) {
        for (wide, own) in block.segments() {
            add_into(&mut x_adjoint[wide], &g[own]);
        }
    }
}

/// Where each part of a concat along `axis` sits in the output, `out_cols` wide.
fn concat_blocks(shapes: impl Iterator<Item = Shape>, axis: usize, out_cols: usize) -> impl Iterator<Item = Block> {
    shapes.scan(0, move |offset, s| {
        let at = *offset;
        *offset += if axis == 0 { s.rows() } else { s.cols() };
        let (row, col) = if axis == 0 { (at, 0) } else { (0, at) };
        Some(Block { row, col, rows: s.rows(), cols: s.cols(), stride: out_cols })
    })
}

fn concat_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let (axis, out_cols) = (ctx.node.aux() as usize, ctx.node.shape.cols());
    let shapes: Vec<Shape> = (0..ctx.inputs.len()).map(|k| ctx.input_shape(k)).collect();
    let g = ctx.upstream;
    // Part k gets its own block of G; a part given twice collects both blocks.
    for (k, block) in concat_blocks(shapes.into_iter(), axis, out_cols).enumerate() {
        if let Some(adjoint) = ctx.adjoint(k) {
            for (wide, own) in block.segments() {
                add_into(&mut adjoint[own], &g[wide]);
            }
        }
    }
}

fn stack_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream;
    // y_k = x_k, so dx_k = g_k.
    for (k, &gk) in g.iter().enumerate() {
        if let Some(adjoint) = ctx.adjoint(k) {
            adjoint[0] = adjoint[0] + gk;
        }
    }
}

fn element_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let i = ctx.indices[ctx.node.aux() as usize];
    let g = ctx.upstream[0];
    // y = x_i, so dx_i += g and nothing elsewhere.
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint[i] = x_adjoint[i] + g;
    }
}

fn gather_rows_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let start = ctx.node.aux() as usize;
    let (rows, cols) = (ctx.node.shape.rows(), ctx.node.shape.cols());
    let indices = &ctx.indices[start..start + rows];
    let g = ctx.upstream;
    // Y[k] = T[i_k], so dT[i_k] += G[k]: a row gathered twice collects both rows of G.
    if let Some(table_adjoint) = ctx.adjoint(0) {
        for (&index, g_row) in indices.iter().zip(g.chunks_exact(cols)) {
            add_into(&mut table_adjoint[index * cols..(index + 1) * cols], g_row);
        }
    }
}

fn scatter_rows_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let start = ctx.node.aux() as usize;
    let (rows, cols) = (ctx.input_shape(0).rows(), ctx.node.shape.cols());
    let indices = &ctx.indices[start..start + rows];
    let g = ctx.upstream;
    // Y[i_k] += X[k], so dX[k] += G[i_k].
    if let Some(x_adjoint) = ctx.adjoint(0) {
        for (&index, adjoint_row) in indices.iter().zip(x_adjoint.chunks_exact_mut(cols)) {
            add_into(adjoint_row, &g[index * cols..(index + 1) * cols]);
        }
    }
}

fn where_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let shapes = [ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2)];
    let (mask, out, g) = (ctx.input(0), ctx.node.shape, ctx.upstream);
    // g goes to a where the mask is set and to b elsewhere (summed where an input was
    // broadcast); one input at a time, so that `where_(m, x, x)` collects both.
    for (k, set) in [(1, true), (2, false)] {
        if let Some(adjoint) = ctx.adjoint(k) {
            for (&gi, at) in g.iter().zip(positions(shapes, out)) {
                if (mask[at[0]] != T::zero()) == set {
                    adjoint[at[k]] = adjoint[at[k]] + gi;
                }
            }
        }
    }
}

/// The taped rule of a node of this family: `G`, or pieces of it, moved back where the
/// forward took them from, with layout ops (a slice's rule pads `G` with zero blocks by
/// concat, concat's slices `G`, gather's scatters its rows back with scatter_rows, and the
/// other way round).
pub(crate) fn taped<T: Real>(op: Layout, ctx: &mut TapedContext<'_, T>) {
    let g = ctx.upstream;
    match op {
        Layout::Transpose => send_if_wanted(ctx, 0, |_| g.t()),
        Layout::Reshape => send_if_wanted(ctx, 0, |x| reshaped(g, x.shape())),
        Layout::SliceRows | Layout::SliceCols => {
            let range = ctx.indices(2);
            send_if_wanted(ctx, 0, |x| padded(op, g, range[0]..range[1], x.shape()))
        }
        Layout::Concat => {
            let axis = ctx.node.aux() as usize;
            let mut offset = 0;
            for k in 0..ctx.inputs.len() {
                let part = ctx.input(k).shape();
                let len = if axis == 0 { part.rows() } else { part.cols() };
                let range = offset..offset + len;
                offset += len;
                if ctx.wants(k) {
                    let block = if axis == 0 { g.slice_rows(range) } else { g.slice_cols(range) };
                    ctx.send(k, reshaped(block, part));
                }
            }
        }
        Layout::Stack => {
            for k in 0..ctx.inputs.len() {
                send_if_wanted(ctx, k, |x| reshaped(g.element(k), x.shape()));
            }
        }
        Layout::Element => {
            let i = ctx.indices(1)[0];
            send_if_wanted(ctx, 0, |x| {
                let onehot = Tensor::from_fn(x.shape(), |p| if p == i { T::one() } else { T::zero() });
                g * x.tape().constant(&onehot)
            })
        }
        Layout::GatherRows => {
            let indices = ctx.indices(ctx.node.shape.rows());
            send_if_wanted(ctx, 0, |table| reshaped(g.scatter_rows(&indices, table.shape().rows()), table.shape()))
        }
        Layout::ScatterRows => {
            let indices = ctx.indices(ctx.input(0).shape().rows());
            send_if_wanted(ctx, 0, |_| g.gather_rows(&indices))
        }
        Layout::Where => {
            let mask = ctx.input(0).to_tensor();
            let zero = ctx.constant(&Tensor::scalar(T::zero()));
            // g where the mask is set goes to a, elsewhere to b.
            send_if_wanted(ctx, 1, |a| sum_to_shape(Var::where_(&mask, g, zero), a.shape()));
            send_if_wanted(ctx, 2, |b| sum_to_shape(Var::where_(&mask, zero, g), b.shape()));
        }
    }
}

/// Sends `contribution(input k)` to input `k` if it needs one.
fn send_if_wanted<'t, T: Real>(
    ctx: &mut TapedContext<'t, T>,
    k: usize,
    contribution: impl FnOnce(Var<'t, T>) -> Var<'t, T>,
) {
    if ctx.wants(k) {
        let dx = contribution(ctx.input(k));
        ctx.send(k, dx);
    }
}

/// `G` of a slice of `range` of an input of `shape`, padded with zero blocks back to `shape`.
fn padded<'t, T: Real>(op: Layout, g: Var<'t, T>, range: Range<usize>, shape: Shape) -> Var<'t, T> {
    let rows = op == Layout::SliceRows;
    let len = if rows { shape.rows() } else { shape.cols() };
    if range.start == 0 && range.end == len {
        return reshaped(g, shape);
    }
    let zeros = |count: usize| {
        let block = match (rows, shape.rank()) {
            (true, _) => Shape::matrix(count, shape.cols()),
            (false, 2) => Shape::matrix(shape.rows(), count),
            (false, _) => Shape::vector(count),
        };
        g.tape().constant(&Tensor::zeros(block))
    };
    let mut parts = Vec::with_capacity(3);
    if range.start > 0 {
        parts.push(zeros(range.start));
    }
    parts.push(g);
    if range.end < len {
        parts.push(zeros(len - range.end));
    }
    reshaped(Var::concat(&parts, usize::from(!rows)), shape)
}

/// The shapes of `parts`, listed for a message: `[2 x 3], [4]`.
fn list(parts: &[Var<'_, impl Real>]) -> String {
    parts.iter().map(|p| p.shape().to_string()).collect::<Vec<_>>().join(", ")
}

/// Panics unless `range` is a non-empty part of `0..len`, naming the op, what is sliced
/// and the shape.
#[track_caller]
fn check_range(op: &str, what: &str, range: &Range<usize>, len: usize, shape: Shape) {
    check_shapes(!shape.is_scalar(), op, || format!("{what} {range:?} of a scalar []: a scalar has no {what}"));
    check_shapes(range.start < range.end, op, || {
        format!("{what} {range:?} of {shape} are empty or reversed (the start must be below the end)")
    });
    check_shapes(range.end <= len, op, || {
        let count = if len == 1 { format!("1 {}", what.trim_end_matches('s')) } else { format!("{len} {what}") };
        let vector = if shape.rank() == 1 && what == "rows" { ": a vector is one row" } else { "" };
        format!("{what} {range:?} are out of bounds for {shape} ({count}{vector})")
    });
}

impl<'t, T: Real> Var<'t, T> {
    /// The transpose of a matrix, `[m x n] -> [n x m]`. A vector or a scalar is its own
    /// transpose, as numpy's `.T`: it comes back unchanged and no node is recorded.
    /// Backward: `dX = G^T`.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// let y = x.t();
    /// assert_eq!(y.to_tensor(), Tensor::from_rows(&[[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]));
    /// let w = tape.constant(&Tensor::from_rows(&[[1.0, 10.0], [100.0, 1000.0], [0.0, 0.0]]));
    /// // d/dX sum(X^T (.) W) = W^T.
    /// assert_eq!(tape.backward((y * w).sum()).wrt_slice(x), &[1.0, 100.0, 0.0, 10.0, 1000.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn t(self) -> Self {
        let shape = self.shape;
        check_matrix_rank("t", shape, "permute the axes of a higher rank");
        if shape.rank() < 2 {
            return self;
        }
        let (m, n) = (shape.rows(), shape.cols());
        self.tape.record(Op::Layout(Layout::Transpose), [self], Shape::matrix(n, m), 0, |[x], out| {
            add_transposed(x, m, n, out);
        })
    }

    /// The same elements, row-major, in another shape of as many elements (numpy's
    /// `reshape`). Backward: `dx = g`, read in the shape of x.
    ///
    /// # Panics
    ///
    /// If `shape` holds another number of elements, naming both shapes.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let y = x.reshape(Shape::matrix(2, 3));
    /// assert_eq!(y.to_tensor(), Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// // Row 1 of y is elements 3..6 of x.
    /// let row = tape.constant(&Tensor::from_rows(&[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]));
    /// assert_eq!(tape.backward((y * row).sum()).wrt_slice(x), &[0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn reshape(self, shape: Shape) -> Self {
        let from = self.shape;
        check_shapes(from.numel() == shape.numel(), "reshape", || {
            format!("cannot reshape {from} ({} elements) into {shape} ({} elements)", from.numel(), shape.numel())
        });
        self.tape.record(Op::Layout(Layout::Reshape), [self], shape, 0, |[x], out| out.copy_from_slice(x))
    }

    /// Rows `range` of a matrix, `[m x n] -> [len x n]`. A vector is one row: its only
    /// slice is `0..1`, which gives the vector back (as a new node). Backward: `G` added
    /// into the sliced rows of `dX`, nothing elsewhere.
    ///
    /// # Panics
    ///
    /// If the range is empty or reversed, reaches past the last row, or `self` is a scalar;
    /// the message names the op, the range and the shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let y = x.slice_rows(1..3);
    /// assert_eq!(y.to_tensor(), Tensor::from_rows(&[[3.0, 4.0], [5.0, 6.0]]));
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn slice_rows(self, range: Range<usize>) -> Self {
        let shape = self.shape;
        check_matrix_rank("slice_rows", shape, "reshape to a matrix first");
        check_range("slice_rows", "rows", &range, shape.rows(), shape);
        let out = if shape.rank() == 2 { Shape::matrix(range.len(), shape.cols()) } else { shape };
        self.record_slice(Layout::SliceRows, range, out)
    }

    /// Columns `range` of a matrix, `[m x n] -> [m x len]`; of a vector, its elements
    /// `range`. Backward: `G` added into the sliced columns of `dX`, nothing elsewhere.
    ///
    /// # Panics
    ///
    /// If the range is empty or reversed, reaches past the last column, or `self` is a
    /// scalar; the message names the op, the range and the shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// let y = x.slice_cols(0..2);
    /// assert_eq!(y.to_tensor(), Tensor::from_rows(&[[1.0, 2.0], [4.0, 5.0]]));
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[1.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    /// let v = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0]));
    /// assert_eq!(&*v.slice_cols(1..3).values(), &[2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn slice_cols(self, range: Range<usize>) -> Self {
        let shape = self.shape;
        check_matrix_rank("slice_cols", shape, "reshape to a matrix first");
        check_range("slice_cols", "columns", &range, shape.cols(), shape);
        let out = if shape.rank() == 2 { Shape::matrix(shape.rows(), range.len()) } else { Shape::vector(range.len()) };
        self.record_slice(Layout::SliceCols, range, out)
    }

    /// Records a checked slice.
    #[track_caller]
    fn record_slice(self, op: Layout, range: Range<usize>, out: Shape) -> Self {
        let start = self.tape.push_indices(&[range.start, range.end]);
        let block = slice_block(op, &[range.start, range.end], self.shape);
        self.tape.record_with_aux(Op::Layout(op), [self], out, 0, start, |[x], out| {
            for (wide, own) in block.segments() {
                out[own].copy_from_slice(&x[wide]);
            }
        })
    }

    /// The parts joined along `axis`: 0 stacks their rows (equal columns needed), 1 puts
    /// them side by side (equal rows needed). A vector counts as one row; vectors joined
    /// along axis 1 give a vector, along axis 0 a matrix (numpy's `vstack`). Parts of rank 3
    /// or more join along any of their axes (numpy's `concatenate`), the others equal.
    /// Backward: each part gets its own block of `G` (a part given twice collects both).
    ///
    /// # Panics
    ///
    /// If `parts` is empty, a part is a scalar (use [`Var::stack`]), `axis` is not 0 or 1,
    /// the parts' other dimension differs, or the parts belong to different tapes; the
    /// message names the op and every part's shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(&Tensor::from_rows(&[[1.0, 2.0]]));
    /// let b = tape.var(&Tensor::from_rows(&[[3.0, 4.0], [5.0, 6.0]]));
    /// let rows = Var::concat(&[a, b], 0);
    /// assert_eq!(rows.to_tensor(), Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let side = Var::concat(&[b, b.slice_cols(0..1)], 1);
    /// assert_eq!(side.to_tensor(), Tensor::from_rows(&[[3.0, 4.0, 3.0], [5.0, 6.0, 5.0]]));
    /// let w = tape.constant(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let grads = tape.backward((rows * w).sum());
    /// assert_eq!((grads.wrt_slice(a), grads.wrt_slice(b)), (&[1.0, 2.0][..], &[3.0, 4.0, 5.0, 6.0][..]));
    /// ```
    #[track_caller]
    pub fn concat(parts: &[Var<'t, T>], axis: usize) -> Var<'t, T> {
        let op = "concat";
        check_shapes(!parts.is_empty(), op, || "no parts to join (the list is empty)".to_string());
        if parts.iter().any(|p| p.shape().rank() > 2) {
            return super::axes::concat_any_rank(parts, axis);
        }
        check_shapes(axis <= 1, op, || {
            format!("axis {axis} is neither 0 (rows) nor 1 (columns); parts {}", list(parts))
        });
        check_shapes(parts.iter().all(|p| !p.shape().is_scalar()), op, || {
            format!("parts {} include a scalar (Var::stack joins scalars)", list(parts))
        });
        let first = parts[0].shape();
        let shape = if axis == 0 {
            check_shapes(parts.iter().all(|p| p.shape().cols() == first.cols()), op, || {
                format!("parts {} differ in columns (axis 0 stacks rows, which needs equal columns)", list(parts))
            });
            Shape::matrix(parts.iter().map(|p| p.shape().rows()).sum(), first.cols())
        } else {
            check_shapes(parts.iter().all(|p| p.shape().rows() == first.rows()), op, || {
                format!("parts {} differ in rows (axis 1 joins columns, which needs equal rows)", list(parts))
            });
            let cols = parts.iter().map(|p| p.shape().cols()).sum();
            if parts.iter().all(|p| p.shape().rank() == 1) {
                Shape::vector(cols)
            } else {
                Shape::matrix(first.rows(), cols)
            }
        };
        let blocks = concat_blocks(parts.iter().map(|p| p.shape()), axis, shape.cols());
        parts[0].tape.record_node(Op::Layout(Layout::Concat), parts, shape, 0, axis as u32, |nodes, before, out| {
            for (part, block) in parts.iter().zip(blocks) {
                let x = value_of(nodes, before, part.index as u32);
                for (wide, own) in block.segments() {
                    out[wide].copy_from_slice(&x[own]);
                }
            }
        })
    }

    /// One-element parts (scalars, `[1]` or `[1 x 1]`) as the elements of a vector `[n]`:
    /// how a scalar computation builds a vector. Backward: `dx_k = g_k`.
    ///
    /// # Panics
    ///
    /// If `parts` is empty, a part has more than one element (use [`Var::concat`]), or the
    /// parts belong to different tapes; the message names the op and every part's shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let (a, b) = (tape.var(2.0), tape.var(3.0));
    /// let v = Var::stack(&[a * b, a, b.exp().ln()]);
    /// assert_eq!(&*v.values(), &[6.0, 2.0, 3.0]);
    /// let w = tape.constant(&Tensor::from_slice(&[1.0, 10.0, 100.0]));
    /// let grads = tape.backward((v * w).sum());
    /// // d/da (ab + 10a) = b + 10; d/db (ab + 100b) = a + 100.
    /// assert_eq!(grads.wrt(a), 13.0);
    /// assert!((grads.wrt(b) - 102.0).abs() < 1e-12);
    /// ```
    #[track_caller]
    pub fn stack(parts: &[Var<'t, T>]) -> Var<'t, T> {
        check_shapes(!parts.is_empty(), "stack", || "no parts to stack (the list is empty)".to_string());
        check_shapes(parts.iter().all(|p| p.shape().numel() == 1), "stack", || {
            format!("parts {} are not all one element (Var::concat joins larger parts)", list(parts))
        });
        let shape = Shape::vector(parts.len());
        parts[0].tape.record_node(Op::Layout(Layout::Stack), parts, shape, 0, 0, |nodes, before, out| {
            for (y, part) in out.iter_mut().zip(parts) {
                *y = value_of(nodes, before, part.index as u32)[0];
            }
        })
    }

    /// Element `i` of the value, row-major, as a scalar (for a matrix `[m x n]`, row
    /// `i / n`, column `i % n`). Backward: `g` added into element `i` of `dx`, nothing
    /// elsewhere. ([`Var::index`] is the node's position on the tape, not this.)
    ///
    /// # Panics
    ///
    /// If `i` is not below the number of elements, naming the op, `i` and the shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    /// let y = x.element(2);
    /// assert_eq!(y.value(), 3.0);
    /// assert_eq!(tape.backward(y * y).wrt_slice(x), &[0.0, 0.0, 6.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn element(self, i: usize) -> Self {
        let shape = self.shape;
        check_shapes(i < shape.numel(), "element", || {
            format!("index {i} is out of range for {shape} ({} elements)", shape.numel())
        });
        let start = self.tape.push_indices(&[i]);
        self.tape.record_with_aux(Op::Layout(Layout::Element), [self], Shape::scalar(), 0, start, |[x], out| {
            out[0] = x[i];
        })
    }

    /// The element at row `row`, column `col`, as a scalar: [`Var::element`] of
    /// `row * cols + col`. A vector is one row (`at(0, j)`), a scalar `[1 x 1]`.
    ///
    /// # Panics
    ///
    /// If `row` or `col` is out of range, naming the op, the position and the shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    /// let y = x.at(1, 2);
    /// assert_eq!(y.value(), 6.0);
    /// assert_eq!(tape.backward(y).wrt_slice(x), &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn at(self, row: usize, col: usize) -> Self {
        let shape = self.shape;
        check_shapes(row < shape.rows() && col < shape.cols(), "at", || {
            format!("({row}, {col}) is out of range for {shape} ({} rows, {} columns)", shape.rows(), shape.cols())
        });
        self.element(row * shape.cols() + col)
    }

    /// Rows `indices` of a table `[v x d]`, as a matrix `[k x d]` (an embedding lookup;
    /// a vector table is one row). An index may repeat. A table of rank 3 or more is
    /// indexed along its first axis (`[n x a x b]` gives `[k x a x b]`). Backward: row k of
    /// `G` is added into row `indices[k]` of `dT`, so a row gathered twice collects both.
    ///
    /// # Panics
    ///
    /// If `indices` is empty, an index is not below the table's rows, or the table is a
    /// scalar; the message names the op, the index and the table's shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let table = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let y = table.gather_rows(&[2, 0, 2]);
    /// assert_eq!(y.to_tensor(), Tensor::from_rows(&[[5.0, 6.0], [1.0, 2.0], [5.0, 6.0]]));
    /// // Row 2 was gathered twice, row 1 never.
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(table), &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn gather_rows(self, indices: &[usize]) -> Self {
        let (op, table) = ("gather_rows", self.shape);
        check_shapes(!table.is_scalar(), op, || "the table is a scalar []; it needs rows to gather".to_string());
        check_shapes(!indices.is_empty(), op, || format!("no indices to gather from the table {table}"));
        // A table of rank 3 or more is indexed along its first axis.
        let rows = if table.rank() > 2 { table.dim(0) } else { table.rows() };
        if let Some((k, &index)) = indices.iter().enumerate().find(|&(_, &index)| index >= rows) {
            check_shapes(false, op, || {
                format!("index {index} at position {k} is out of range for the table {table} ({rows} rows)")
            });
        }
        if table.rank() > 2 {
            return super::axes::gather_any_rank(self, indices);
        }
        let cols = table.cols();
        let start = self.tape.push_indices(indices);
        let shape = Shape::matrix(indices.len(), cols);
        self.tape.record_with_aux(Op::Layout(Layout::GatherRows), [self], shape, 0, start, |[x], out| {
            for (&index, row) in indices.iter().zip(out.chunks_exact_mut(cols)) {
                row.copy_from_slice(&x[index * cols..(index + 1) * cols]);
            }
        })
    }

    /// The rows of `self` (`[k x d]`) added into a `[rows x d]` table of zeros, row `k` into
    /// row `indices[k]`: gather_rows' adjoint, so an index given twice collects both rows.
    /// Backward: `dX[k] = G[i_k]` (a gather).
    ///
    /// # Panics
    ///
    /// If `self` is a scalar, `indices` does not hold one index per row, or an index is not
    /// below `rows`.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]));
    /// let table = x.scatter_rows(&[2, 0, 2], 3);
    /// assert_eq!(table.to_tensor(), Tensor::from_rows(&[[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]]));
    /// // Each row of x lands once: d sum(table) / dx = 1 everywhere.
    /// assert_eq!(tape.backward(table.sum()).wrt_slice(x), &[1.0; 6]);
    /// ```
    #[track_caller]
    pub fn scatter_rows(self, indices: &[usize], rows: usize) -> Self {
        let (op, shape) = ("scatter_rows", self.shape);
        check_matrix_rank(op, shape, "reshape the rows to a matrix first");
        check_shapes(!shape.is_scalar(), op, || "the rows are a scalar []; they need rows to scatter".to_string());
        check_shapes(indices.len() == shape.rows(), op, || {
            format!("{} indices for rows {shape} (one index per row)", indices.len())
        });
        if let Some((k, &index)) = indices.iter().enumerate().find(|&(_, &index)| index >= rows) {
            check_shapes(false, op, || {
                format!("index {index} at position {k} is out of range for a table of {rows} rows")
            });
        }
        let cols = shape.cols();
        let start = self.tape.push_indices(indices);
        let out = Shape::matrix(rows, cols);
        self.tape.record_with_aux(Op::Layout(Layout::ScatterRows), [self], out, 0, start, |[x], out| {
            for (&index, row) in indices.iter().zip(x.chunks_exact(cols)) {
                add_into(&mut out[index * cols..(index + 1) * cols], row);
            }
        })
    }

    /// `mask != 0 ? a : b`, elementwise (numpy's `where`). The mask enters the tape as a
    /// constant, so the node's inputs are `[mask, a, b]`; the three broadcast against each
    /// other as the binary ops do (a scalar against anything, a row or a column against a
    /// matrix). Backward: `da = g (.) 1[mask != 0]`, `db = g (.) 1[mask = 0]` (each summed
    /// along the axes it was broadcast along); the mask gets no gradient.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast, naming the op and the three shapes, or `a` and `b`
    /// belong to different tapes.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor, Var};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[-1.0, 2.0, -3.0]));
    /// let zero = tape.constant(0.0);
    /// let mask = Tensor::from_slice(&[0.0, 1.0, 0.0]);
    /// let y = Var::where_(&mask, x, zero);
    /// assert_eq!(&*y.values(), &[0.0, 2.0, 0.0]);
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn where_(mask: &Tensor<T>, a: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
        let shapes = [mask.shape(), a.shape(), b.shape()];
        let Some(shape) = broadcast_shape(&shapes) else {
            panic!(
                "where: mask {}, a {} and b {} do not broadcast (each dimension must be equal, or 1)",
                shapes[0], shapes[1], shapes[2]
            )
        };
        let mask = a.tape.constant(mask);
        a.tape.record_node(Op::Layout(Layout::Where), &[mask, a, b], shape, 0, 0, |nodes, before, out| {
            let [m, x, y] = [mask, a, b].map(|v| value_of(nodes, before, v.index as u32));
            for (o, at) in out.iter_mut().zip(positions(shapes, shape)) {
                *o = if m[at[0]] != T::zero() { x[at[1]] } else { y[at[2]] };
            }
        })
    }
}
