//! Convolution and pooling of NCHW images: `conv2d` (stride, padding; dilation 1, groups 1)
//! lowered to the GEMM through im2col, `max_pool2d` and `avg_pool2d` (kernel, stride, no
//! padding). Formulas in `docs/derivations.md`, section "Convolution and pooling".
//!
//! conv2d keeps its geometry `[kh, kw, sh, sw, ph, pw]` after its value, then room for one
//! image's im2col matrix (filled image by image), and reserves an adjoint workspace of two
//! such matrices: the weight gradient's `C_n`, recomputed, and the input gradient's
//! `W^T G_n`. A steady-state step allocates nothing, and no batch-sized copy is kept. The pools keep their geometry the same way and recompute the arg-max
//! (the first maximum of each window, as PyTorch) in the backward rule.
//!
//! The taped rules are written with ops that have taped rules of their own (gather_rows,
//! scatter_rows, matmul, permute), so a convolutional network is differentiable twice.

use super::{check_shapes, op_family, BackwardContext, Op, TapedContext};
use crate::registry::{probe, Arity, Domain, OpSpec, Reads};
use crate::{Real, Shape, Tensor, Var};

op_family! {
    /// Convolution and pooling of NCHW images.
    enum Spatial {
        /// Cross-correlation of `x [n x c x h x w]` with `w [o x c x kh x kw]`.
        Conv2d => OpSpec::new("conv2d", Arity::Fixed(2), Reads::Input,
            &["dX_n = col2im(W^T G_n) per image n", "dW = sum_n G_n C_n^T"],
            probe!(|v| v[0].conv2d(v[1], (2, 1), (1, 0)),
                shapes: |m, n| vec![Shape::new(&[2, 2, m + 2, n + 1]), Shape::new(&[3, 2, 2, 2])],
                domain: Domain::ANY)).with_constants(GEOMETRY),
        /// The largest element of each window.
        MaxPool2d => OpSpec::new("max_pool2d", Arity::Fixed(1), Reads::Both,
            &["dX = G routed to each window's first arg-max"],
            probe!(|v| spread(v[0]).max_pool2d((2, 2), (1, 2)),
                shapes: |m, n| vec![Shape::new(&[2, 2, m + 1, n + 2])], domain: Domain::ANY)).with_constants(GEOMETRY),
        /// The mean of each window.
        AvgPool2d => OpSpec::new("avg_pool2d", Arity::Fixed(1), Reads::Nothing,
            &["dX = G / (kh kw) spread over each window"],
            probe!(|v| v[0].avg_pool2d((2, 3), (2, 1)),
                shapes: |m, n| vec![Shape::new(&[2, 3, m + 1, n + 2])], domain: Domain::ANY)).with_constants(GEOMETRY),
        /// A bias per channel (axis 1), added to every position of that channel.
        AddChannelBias => OpSpec::new("add_channel_bias", Arity::Fixed(2), Reads::Nothing,
            &["dX = G", "db_c = sum of G over the images and positions of channel c"],
            probe!(|v| v[0].add_channel_bias(v[1]),
                shapes: |m, n| vec![Shape::new(&[2, 3, m, n]), Shape::vector(3)], domain: Domain::ANY)),
    }
}

/// How many numbers each op keeps after its value: `[kh, kw, sh, sw, ph, pw]`.
const GEOMETRY: usize = 6;

/// `x / 100` plus distinct multiples of 0.1, for the property suite's max-pool: no two
/// elements of a window come within a central difference's step of each other.
fn spread<T: Real>(x: Var<'_, T>) -> Var<'_, T> {
    // Small values (x / 100 plus multiples of 0.1), so that f32's differences keep their
    // digits; see reduce.rs's spread.
    let offsets = Tensor::from_fn(x.shape(), |i| T::lit(0.1 * i as f64));
    x * T::lit(0.01) + x.tape().constant(&offsets)
}

/// Two sizes, along the height and the width: a kernel, a stride or a padding. A single
/// `usize` is the same along both.
///
/// ```
/// use wengert_tape::Size2;
/// assert_eq!(Size2::from(3), Size2(3, 3));
/// assert_eq!(Size2::from((2, 1)), Size2(2, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl From<usize> for Size2 {
    fn from(n: usize) -> Self {
        Size2(n, n)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2(h, w)
    }
}

/// Where the windows of a convolution or a pool lie: an input `[n x c x h x w]`, a kernel
/// `kh x kw` moved by `sh, sw`, the input padded with `ph, pw` zeros on each side, and the
/// output `[n x o x oh x ow]` (`o = c` for a pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// The geometry of `op` on input `x` with `o` output channels, checked: a rank-4 input,
    /// positive kernel and stride, and a kernel no larger than the padded input.
    #[track_caller]
    fn new(op: &str, x: Shape, o: usize, kernel: Size2, stride: Size2, padding: Size2) -> Geometry {
        check_shapes(x.rank() == 4, op, || format!("input {x} is not a batch of images [n x c x h x w]"));
        let (h, w) = (x.dim(2), x.dim(3));
        check_shapes(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0, op, || {
            format!("kernel {kernel:?} and stride {stride:?} must be positive (input {x})")
        });
        let (ph, pw) = (padding.0, padding.1);
        check_shapes(kernel.0 <= h + 2 * ph && kernel.1 <= w + 2 * pw, op, || {
            format!("kernel {kernel:?} is larger than the input {x} padded by {padding:?}")
        });
        Geometry::from_sizes(x, o, [kernel.0, kernel.1, stride.0, stride.1, ph, pw])
    }

    /// The geometry stored after a node's value, with the input's shape and `o`.
    fn stored<T: Real>(x: Shape, o: usize, numbers: &[T]) -> Geometry {
        let k = |i: usize| numbers[i].to_usize().expect("a stored size is a small whole number");
        Geometry::from_sizes(x, o, [k(0), k(1), k(2), k(3), k(4), k(5)])
    }

    /// The geometry of input `x` (rank 4), `o` output channels and `[kh, kw, sh, sw, ph, pw]`,
    /// unchecked ([`Geometry::new`] checks).
    fn from_sizes(x: Shape, o: usize, [kh, kw, sh, sw, ph, pw]: [usize; GEOMETRY]) -> Geometry {
        let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
        let (oh, ow) = ((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1);
        Geometry { n, c, h, w, o, kh, kw, sh, sw, ph, pw, oh, ow }
    }

    fn numbers<T: Real>(&self) -> [T; GEOMETRY] {
        [self.kh, self.kw, self.sh, self.sw, self.ph, self.pw].map(|k| T::lit(k as f64))
    }

    fn output(&self) -> Shape {
        Shape::new(&[self.n, self.o, self.oh, self.ow])
    }

    /// Rows of an image's im2col matrix: one per (channel, kernel row, kernel column).
    pub fn patch(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of an image's im2col matrix: one per output position.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// The input element (within one image) under kernel element `(ci, i, j)` at output
    /// position `(y, x)`, or `None` in the padding.
    #[inline]
    fn source(&self, ci: usize, i: usize, j: usize, y: usize, x: usize) -> Option<usize> {
        let row = (y * self.sh + i).checked_sub(self.ph).filter(|&r| r < self.h)?;
        let col = (x * self.sw + j).checked_sub(self.pw).filter(|&c| c < self.w)?;
        Some((ci * self.h + row) * self.w + col)
    }

    /// The output columns `x_lo..x_hi` whose kernel column `j` falls inside the input (not in
    /// the padding): `x sw + j - pw` in `0..w`.
    #[inline]
    fn inside_columns(&self, j: usize) -> (usize, usize) {
        let lo = if self.pw > j { (self.pw - j).div_ceil(self.sw) } else { 0 }.min(self.ow);
        let hi = if self.w + self.pw > j { (self.w + self.pw - j).div_ceil(self.sw).min(self.ow) } else { 0 };
        (lo, hi.max(lo))
    }

    /// For each row `(ci, i, j)` of an image's im2col matrix and each output row `y`: the
    /// segment of `ow` elements it fills, and the input row it reads (`None` in the padding)
    /// with the inside columns `x_lo..x_hi`. im2col and its adjoint both walk this.
    #[inline]
    fn for_each_segment(&self, mut visit: impl FnMut(usize, Option<usize>, usize, (usize, usize))) {
        let mut segment = 0;
        for ci in 0..self.c {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let columns = self.inside_columns(j);
                    for y in 0..self.oh {
                        let row = (y * self.sh + i).checked_sub(self.ph).filter(|&r| r < self.h);
                        visit(segment, row.map(|r| (ci * self.h + r) * self.w), j, columns);
                        segment += 1;
                    }
                }
            }
        }
    }
}

/// Writes image `image`'s im2col matrix `[c kh kw x oh ow]` into `col`: each segment of
/// `ow` elements is a strided copy of part of one input row (a plain copy at stride 1),
/// zeros in the padding.
fn im2col<T: Real>(g: &Geometry, image: &[T], col: &mut [T]) {
    g.for_each_segment(|segment, row, j, (lo, hi)| {
        let out = &mut col[segment * g.ow..(segment + 1) * g.ow];
        let Some(start) = row else {
            out.fill(T::zero());
            return;
        };
        out[..lo].fill(T::zero());
        out[hi..].fill(T::zero());
        // Output column x reads input column x sw + j - pw.
        let first = start + lo * g.sw + j - g.pw;
        if g.sw == 1 {
            out[lo..hi].copy_from_slice(&image[first..first + (hi - lo)]);
        } else {
            for (k, o) in out[lo..hi].iter_mut().enumerate() {
                *o = image[first + k * g.sw];
            }
        }
    });
}

/// Adds an im2col-shaped `col` back into the image it was read from (im2col's adjoint).
fn col2im_add<T: Real>(g: &Geometry, col: &[T], image: &mut [T]) {
    g.for_each_segment(|segment, row, j, (lo, hi)| {
        let Some(start) = row else { return };
        let values = &col[segment * g.ow + lo..segment * g.ow + hi];
        let first = start + lo * g.sw + j - g.pw;
        if g.sw == 1 {
            // Contiguous: a zip of two slices, which the compiler vectorises.
            for (x, &v) in image[first..first + values.len()].iter_mut().zip(values) {
                *x = *x + v;
            }
        } else {
            for (k, &v) in values.iter().enumerate() {
                let at = first + k * g.sw;
                image[at] = image[at] + v;
            }
        }
    });
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Spatial, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Spatial::Conv2d => conv2d_backward(ctx),
        Spatial::MaxPool2d => max_pool_backward(ctx),
        Spatial::AvgPool2d => avg_pool_backward(ctx),
        Spatial::AddChannelBias => channel_bias_backward(ctx),
    }
}

/// `(images, channels, positions)` of a value whose axis 1 holds its channels.
fn planes(shape: Shape) -> (usize, usize, usize) {
    let (n, c) = (shape.dim(0), shape.dim(1));
    (n, c, shape.numel().checked_div(n * c).unwrap_or(0))
}

fn channel_bias_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let (_, channels, positions) = planes(ctx.input_shape(0));
    let upstream = ctx.upstream;
    if let Some(x_adjoint) = ctx.adjoint(0) {
        for (a, &g) in x_adjoint.iter_mut().zip(upstream) {
            *a = *a + g;
        }
    }
    if let Some(b_adjoint) = ctx.adjoint(1) {
        // Plane k (of `positions` elements) belongs to channel k mod c.
        for (plane, g) in upstream.chunks_exact(positions.max(1)).enumerate() {
            let sum = g.iter().fold(T::zero(), |s, &v| s + v);
            b_adjoint[plane % channels] = b_adjoint[plane % channels] + sum;
        }
    }
}

fn conv2d_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let (x_shape, w_shape) = (ctx.input_shape(0), ctx.input_shape(1));
    let g = Geometry::stored(x_shape, w_shape.dim(0), ctx.scratch(GEOMETRY));
    let (patch, positions) = (g.patch(), g.positions());
    let (x, w, upstream) = (ctx.input(0), ctx.input(1), ctx.upstream);
    let (image_out, image_in) = (g.o * positions, g.c * g.h * g.w);
    let x_offset = ctx.adjoint_offset(0);
    let w_offset = ctx.adjoint_offset(1);
    // The node's workspace: one image's C_n, and one image's dC_n.
    let (col, d_col) = ctx.workspace[..2 * patch * positions].split_at_mut(patch * positions);
    let adjoints = &mut *ctx.lower_adjoints;
    for (image, (x_n, g_n)) in x.chunks_exact(image_in).zip(upstream.chunks_exact(image_out)).enumerate() {
        // dW += G_n C_n^T: [o x oh ow] x [oh ow x c kh kw], C_n recomputed and read transposed.
        if let Some(offset) = w_offset {
            im2col(&g, x_n, col);
            let w_adjoint = &mut adjoints[offset..offset + w_shape.numel()];
            T::gemm(
                g.o,
                positions,
                patch,
                T::one(),
                (g_n, positions, 1),
                (col, 1, positions),
                T::one(),
                (w_adjoint, patch, 1),
            );
        }
        // dX_n += col2im(W^T G_n): [c kh kw x o] x [o x oh ow], W read transposed.
        if let Some(offset) = x_offset {
            T::gemm(
                patch,
                g.o,
                positions,
                T::one(),
                (w, 1, patch),
                (g_n, positions, 1),
                T::zero(),
                (d_col, positions, 1),
            );
            let start = offset + image * image_in;
            col2im_add(&g, d_col, &mut adjoints[start..start + image_in]);
        }
    }
}

/// Calls `visit(k, start)` for output element `k` of a pool, row-major over `(image,
/// channel, y, x)`, with `start` the input position of its window's top-left element; the
/// window is `start + i w + j` for `i < kh`, `j < kw` (no padding).
#[inline]
fn for_each_window(g: &Geometry, mut visit: impl FnMut(usize, usize)) {
    let mut k = 0;
    for plane in 0..g.n * g.c {
        for y in 0..g.oh {
            for x in 0..g.ow {
                visit(k, plane * g.h * g.w + y * g.sh * g.w + x * g.sw);
                k += 1;
            }
        }
    }
}

/// The input positions of the window that starts at `start`, row by row.
fn window(g: &Geometry, start: usize) -> impl Iterator<Item = usize> + '_ {
    (0..g.kh).flat_map(move |i| (0..g.kw).map(move |j| start + i * g.w + j))
}

/// The largest element of a window, the first of equals; NaN if the window holds one.
#[inline]
fn window_max<T: Real>(g: &Geometry, x: &[T], start: usize) -> T {
    let mut max = T::neg_infinity();
    for i in 0..g.kh {
        for &v in &x[start + i * g.w..start + i * g.w + g.kw] {
            if !max.is_nan() && (v > max || v.is_nan()) {
                max = v;
            }
        }
    }
    max
}

/// The mean of a window.
#[inline]
fn window_mean<T: Real>(g: &Geometry, x: &[T], start: usize) -> T {
    let mut sum = T::zero();
    for i in 0..g.kh {
        sum = x[start + i * g.w..start + i * g.w + g.kw].iter().fold(sum, |s, &v| s + v);
    }
    sum / T::lit((g.kh * g.kw) as f64)
}

/// The first position of each window that holds its maximum `y[k]` (none for a window of
/// NaNs), in output order.
fn arg_max<T: Real>(g: &Geometry, x: &[T], y: &[T], mut visit: impl FnMut(usize, Option<usize>)) {
    for_each_window(g, |k, start| visit(k, window(g, start).find(|&p| x[p] == y[k])));
}

fn max_pool_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let x_shape = ctx.input_shape(0);
    let g = Geometry::stored(x_shape, x_shape.dim(1), ctx.scratch(GEOMETRY));
    let (x, y, upstream) = (ctx.input(0), ctx.output(), ctx.upstream);
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    arg_max(&g, x, y, |k, at| {
        if let Some(p) = at {
            x_adjoint[p] = x_adjoint[p] + upstream[k];
        }
    });
}

fn avg_pool_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let x_shape = ctx.input_shape(0);
    let g = Geometry::stored(x_shape, x_shape.dim(1), ctx.scratch(GEOMETRY));
    let scale = T::lit((g.kh * g.kw) as f64).recip();
    let upstream = ctx.upstream;
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    for_each_window(&g, |k, start| {
        let share = upstream[k] * scale;
        for i in 0..g.kh {
            for a in &mut x_adjoint[start + i * g.w..start + i * g.w + g.kw] {
                *a = *a + share;
            }
        }
    });
}

/// The taped rule of a node of this family.
///
/// conv2d, as matrices over all `P = n oh ow` output positions: `C [P x c kh kw]` gathers the
/// (zero-padded) input, `Y = C W^T` read as NCHW; so `dW = G^T C` and `dC = G W`, scattered
/// back into the input positions. The pools route `G` with scatter_rows (max: to the
/// arg-max, a constant of the values, so its second derivative is 0; avg: to every element
/// of the window, divided by its size).
pub(crate) fn taped<T: Real>(op: Spatial, ctx: &mut TapedContext<'_, T>) {
    let (x, upstream) = (ctx.input(0), ctx.upstream);
    let x_numel = x.shape().numel();
    if op == Spatial::AddChannelBias {
        // dX = G; db = G summed over the images and the positions.
        let (n, c, positions) = planes(x.shape());
        if ctx.wants(0) {
            ctx.send(0, upstream);
        }
        if ctx.wants(1) {
            let summed = upstream.reshape(Shape::new(&[n, c, positions])).sum_axis(2, false).sum_axis(0, false);
            ctx.send(1, summed.reshape(ctx.input(1).shape()));
        }
        return;
    }
    let numbers = ctx.constants(GEOMETRY);
    match op {
        Spatial::Conv2d => {
            let w = ctx.input(1);
            let g = Geometry::stored(x.shape(), w.shape().dim(0), &numbers);
            let (positions, patch) = (g.n * g.positions(), g.patch());
            // G as [P x o]: NCHW -> N (oh ow) O.
            let g_rows = upstream.reshape(Shape::new(&[g.n, g.o, g.positions()])).permute(&[0, 2, 1]);
            let g_rows = g_rows.reshape(Shape::matrix(positions, g.o));
            let w_rows = w.reshape(Shape::matrix(g.o, patch));
            // Row p of C, element q: the input at that place, or the zero row past the end.
            let sources = lowered_sources(&g, x_numel);
            if ctx.wants(1) {
                let padded = Var::concat(
                    &[x.reshape(Shape::matrix(x_numel, 1)), ctx.constant(&Tensor::zeros(Shape::matrix(1, 1)))],
                    0,
                );
                let c = padded.gather_rows(&sources).reshape(Shape::matrix(positions, patch));
                ctx.send(1, g_rows.t().matmul(c).reshape(w.shape()));
            }
            if ctx.wants(0) {
                let dc = g_rows.matmul(w_rows).reshape(Shape::matrix(positions * patch, 1));
                let dx = dc.scatter_rows(&sources, x_numel + 1).slice_rows(0..x_numel);
                ctx.send(0, dx.reshape(x.shape()));
            }
        }
        Spatial::AddChannelBias => unreachable!("handled above"),
        Spatial::MaxPool2d | Spatial::AvgPool2d => {
            if !ctx.wants(0) {
                return;
            }
            let g = Geometry::stored(x.shape(), x.shape().dim(1), &numbers);
            let outputs = upstream.shape().numel();
            let column = upstream.reshape(Shape::matrix(outputs, 1));
            let dx = if op == Spatial::MaxPool2d {
                let (xs, ys) = (ctx.input_values(0), ctx.output_values());
                // A window of NaNs routes its gradient nowhere: to a row past the end.
                let mut to = vec![x_numel; outputs];
                arg_max(&g, &xs, &ys, |k, at| to[k] = at.unwrap_or(x_numel));
                column.scatter_rows(&to, x_numel + 1).slice_rows(0..x_numel)
            } else {
                let size = g.kh * g.kw;
                let each: Vec<usize> = (0..outputs).flat_map(|k| std::iter::repeat_n(k, size)).collect();
                let mut to = Vec::with_capacity(outputs * size);
                for_each_window(&g, |_, start| to.extend(window(&g, start)));
                (column.gather_rows(&each) / T::lit(size as f64)).scatter_rows(&to, x_numel)
            };
            ctx.send(0, dx.reshape(x.shape()));
        }
    }
}

/// For the taped conv2d: the input element under each element of the lowered matrix
/// `C [n oh ow x c kh kw]`, row-major, or `x_numel` (a zero row) in the padding.
fn lowered_sources(g: &Geometry, x_numel: usize) -> Vec<usize> {
    let image_in = g.c * g.h * g.w;
    let mut sources = Vec::with_capacity(g.n * g.positions() * g.patch());
    for image in 0..g.n {
        for y in 0..g.oh {
            for x in 0..g.ow {
                for ci in 0..g.c {
                    for i in 0..g.kh {
                        for j in 0..g.kw {
                            sources.push(g.source(ci, i, j, y, x).map_or(x_numel, |s| image * image_in + s));
                        }
                    }
                }
            }
        }
    }
    sources
}

impl<'t, T: Real> Var<'t, T> {
    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of a batch of images
    /// `self [n x c x h x w]` with filters `weight [o x c x kh x kw]`, moved by `stride` and
    /// over the input padded with `padding` zeros on each side: `[n x o x oh x ow]`, `oh = (h +
    /// 2 ph - kh) / sh + 1`. Add a bias with `+ b.reshape([1 x o x 1 x 1])` (or
    /// [`Var::conv2d_bias`]).
    ///
    /// Lowered to the GEMM through im2col: `Y_n = W C_n`, `C_n [c kh kw x oh ow]` the patches
    /// of image n. Backward: `dW = sum_n G_n C_n^T`, `dX_n = col2im(W^T G_n)`.
    ///
    /// # Panics
    ///
    /// If `self` or `weight` is not rank 4, their channels differ, the kernel is larger than
    /// the padded input, or the stride is 0, naming the shapes.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // One 3x3 image, one 2x2 filter of ones: each output is the sum of a 2x2 window.
    /// let x = tape.var(&Tensor::new(Shape::new(&[1, 1, 3, 3]), (1..=9).map(f64::from).collect()));
    /// let w = tape.var(&Tensor::full(Shape::new(&[1, 1, 2, 2]), 1.0));
    /// let y = x.conv2d(w, 1, 0);
    /// assert_eq!(y.shape(), Shape::new(&[1, 1, 2, 2]));
    /// assert_eq!(&*y.values(), &[12.0, 16.0, 24.0, 28.0]);
    /// // The centre is in all four windows, a corner in one.
    /// let grads = tape.backward(y.sum());
    /// assert_eq!(grads.wrt_slice(x), &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
    /// assert_eq!(grads.wrt_slice(w), &[12.0, 16.0, 24.0, 28.0]);
    /// ```
    #[track_caller]
    pub fn conv2d(self, weight: Var<'t, T>, stride: impl Into<Size2>, padding: impl Into<Size2>) -> Self {
        let (x_shape, w_shape) = (self.shape(), weight.shape());
        check_shapes(w_shape.rank() == 4, "conv2d", || {
            format!("weight {w_shape} is not a bank of filters [o x c x kh x kw] (input {x_shape})")
        });
        let kernel = Size2(w_shape.dim(2), w_shape.dim(3));
        let g = Geometry::new("conv2d", x_shape, w_shape.dim(0), kernel, stride.into(), padding.into());
        check_shapes(w_shape.dim(1) == g.c, "conv2d", || {
            format!("input {x_shape} has {} channels, weight {w_shape} expects {}", g.c, w_shape.dim(1))
        });
        let (patch, positions) = (g.patch(), g.positions());
        let out = g.output();
        // After the value: the geometry, then one image's C_n, reused image by image.
        let scratch = GEOMETRY + patch * positions;
        let y = self.tape.record(Op::Spatial(Spatial::Conv2d), [self, weight], out, scratch, |[x, w], buffer| {
            let (y, rest) = buffer.split_at_mut(out.numel());
            let (numbers, col) = rest.split_at_mut(GEOMETRY);
            numbers.copy_from_slice(&g.numbers::<T>());
            let image_in = g.c * g.h * g.w;
            for (image, y_n) in x.chunks_exact(image_in).zip(y.chunks_exact_mut(g.o * positions)) {
                im2col(&g, image, col);
                // Y_n = W C_n: [o x c kh kw] x [c kh kw x oh ow].
                T::gemm(
                    g.o,
                    patch,
                    positions,
                    T::one(),
                    (w, patch, 1),
                    (col, positions, 1),
                    T::zero(),
                    (y_n, positions, 1),
                );
            }
        });
        self.tape.reserve_workspace(y, 2 * patch * positions);
        y
    }

    /// [`Var::conv2d`] plus a bias per output channel, `bias [o]` broadcast over the batch and
    /// the positions.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::zeros(Shape::new(&[2, 1, 3, 3])));
    /// let w = tape.var(&Tensor::zeros(Shape::new(&[4, 1, 3, 3])));
    /// let b = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0]));
    /// let y = x.conv2d_bias(w, b, 1, 1);
    /// assert_eq!(y.shape(), Shape::new(&[2, 4, 3, 3]));
    /// // Each channel's bias reaches 2 images x 9 positions.
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(b), &[18.0; 4]);
    /// ```
    #[track_caller]
    pub fn conv2d_bias(
        self,
        weight: Var<'t, T>,
        bias: Var<'t, T>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> Self {
        self.conv2d(weight, stride, padding).add_channel_bias(bias)
    }

    /// Adds `bias [c]` to every element of channel `k` (axis 1) of `self [n x c x ...]`: a
    /// convolution's bias, as `self + bias.reshape([1 x c x 1 x 1])` would, without the
    /// general broadcast. Backward: `dX = G`, `db_c` = the sum of `G` over channel c.
    ///
    /// # Panics
    ///
    /// If `self` has rank below 2, or `bias` does not have one element per channel.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::zeros(Shape::new(&[2, 3, 2, 2])));
    /// let b = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0]));
    /// let y = x.add_channel_bias(b);
    /// assert_eq!(&y.values()[..8], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    /// // Each channel's bias reaches 2 images x 4 positions.
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(b), &[8.0; 3]);
    /// ```
    #[track_caller]
    pub fn add_channel_bias(self, bias: Var<'t, T>) -> Self {
        let (shape, b) = (self.shape(), bias.shape());
        check_shapes(shape.rank() >= 2, "add_channel_bias", || format!("{shape} has no channel axis (axis 1)"));
        let (_, channels, positions) = planes(shape);
        check_shapes(b.numel() == channels && b.rank() <= 1, "add_channel_bias", || {
            format!("bias {b} does not have one element per channel of {shape} ({channels})")
        });
        self.tape.record(Op::Spatial(Spatial::AddChannelBias), [self, bias], shape, 0, |[x, b], y| {
            for (plane, (y, x)) in
                y.chunks_exact_mut(positions.max(1)).zip(x.chunks_exact(positions.max(1))).enumerate()
            {
                let bias = b[plane % channels];
                for (yi, &xi) in y.iter_mut().zip(x) {
                    *yi = xi + bias;
                }
            }
        })
    }

    /// Records a pool: `reduce(g, x, start)` folds the window at `start` into one value.
    #[track_caller]
    fn pool(self, op: Spatial, kernel: Size2, stride: Size2, reduce: impl Fn(&Geometry, &[T], usize) -> T) -> Self {
        let x_shape = self.shape();
        let channels = if x_shape.rank() == 4 { x_shape.dim(1) } else { 0 };
        let g = Geometry::new(op.spec().name, x_shape, channels, kernel, stride, Size2(0, 0));
        let out = g.output();
        self.tape.record(Op::Spatial(op), [self], out, GEOMETRY, |[x], buffer| {
            let (y, numbers) = buffer.split_at_mut(out.numel());
            numbers.copy_from_slice(&g.numbers::<T>());
            for_each_window(&g, |k, start| y[k] = reduce(&g, x, start));
        })
    }

    /// The maximum of each `kernel` window of each channel, moved by `stride`, no padding
    /// (PyTorch's `max_pool2d`): `[n x c x h x w] -> [n x c x oh x ow]`, `oh = (h - kh) / sh +
    /// 1` (a window that would run past the edge is dropped). Backward: each window's upstream
    /// goes to its first maximum.
    ///
    /// # Panics
    ///
    /// If `self` is not rank 4, or the kernel is larger than the input or the stride 0.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::new(Shape::new(&[1, 1, 2, 4]), vec![1.0, 5.0, 2.0, 2.0, 3.0, 4.0, 0.0, 1.0]));
    /// let y = x.max_pool2d(2, 2);
    /// assert_eq!(&*y.values(), &[5.0, 2.0]);
    /// // The second window ties: its gradient goes to its first maximum.
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn max_pool2d(self, kernel: impl Into<Size2>, stride: impl Into<Size2>) -> Self {
        // The first maximum, as the backward rule finds it; NaN propagates.
        self.pool(Spatial::MaxPool2d, kernel.into(), stride.into(), window_max)
    }

    /// The mean of each `kernel` window of each channel, moved by `stride`, no padding
    /// (PyTorch's `avg_pool2d`). Backward: each window's upstream divided by `kh kw`, added
    /// to every element of the window.
    ///
    /// # Panics
    ///
    /// If `self` is not rank 4, or the kernel is larger than the input or the stride 0.
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::new(Shape::new(&[1, 1, 2, 2]), vec![1.0, 2.0, 3.0, 6.0]));
    /// let y = x.avg_pool2d(2, 2);
    /// assert_eq!(y.value(), 3.0);
    /// assert_eq!(tape.backward(y).wrt_slice(x), &[0.25; 4]);
    /// ```
    #[track_caller]
    pub fn avg_pool2d(self, kernel: impl Into<Size2>, stride: impl Into<Size2>) -> Self {
        self.pool(Spatial::AvgPool2d, kernel.into(), stride.into(), window_mean)
    }
}
