//! Elementwise functions of two values, `y = f(a, b)`: `+ - * /`, pow, maximum, minimum and
//! atan2, broadcast over each other by numpy's rules at rank <= 2: a scalar `[]` against
//! anything, a row (`[n]` or `[1 x n]`) or a column (`[m x 1]`) against `[m x n]`, a row
//! against a column. An input broadcast along an axis gets the sum of its contributions along
//! it. Each op's descriptor, function and partial derivatives side by side.

use super::{binary_family, reshaped, two_matrices, BackwardContext, Op, TapedContext};
use crate::broadcast::{broadcast_shape, collapse, strided};
use crate::registry::{probe, Arity, Check, Domain, OpSpec, Reads};
use crate::{Real, Shape, Tensor, Var};

/// A descriptor of this family: two inputs, adjoint from them.
const fn spec(name: &'static str, reads: Reads, explain: &'static [&'static str], check: Check) -> OpSpec {
    OpSpec::new(name, Arity::Fixed(2), reads, explain, check)
}

/// Half of one: maximum and minimum split the gradient of a tie equally between the two.
fn half<T: Real>() -> T {
    T::lit(0.5)
}

binary_family! {
    /// `f(a, b)`, elementwise with broadcasting.
    enum Binary {
        Add {
            spec: spec("add", Reads::Nothing, &["da = g", "db = g"],
                probe!(|v| v[0] + v[1], shapes: two_matrices, domain: Domain::ANY, broadcasts: true)),
            f: |a, b| a + b,
            // d(a + b) = (1, 1).
            partials: |a, b, y| (T::one(), T::one()),
        }
        Sub {
            spec: spec("sub", Reads::Nothing, &["da = g", "db = -g"],
                probe!(|v| v[0] - v[1], shapes: two_matrices, domain: Domain::ANY, broadcasts: true)),
            f: |a, b| a - b,
            // d(a - b) = (1, -1).
            partials: |a, b, y| (T::one(), -T::one()),
        }
        Mul {
            spec: spec("mul", Reads::Input, &["da = g (.) b", "db = g (.) a"],
                probe!(|v| v[0] * v[1], shapes: two_matrices, domain: Domain::ANY, broadcasts: true)),
            f: |a, b| a * b,
            // d(a b) = (b, a).
            partials: |a, b, y| (b, a),
        }
        Div {
            spec: spec("div", Reads::Both, &["da = g / b", "db = -g (.) y / b"],
                probe!(|v| v[0] / v[1], shapes: two_matrices, domain: Domain::POSITIVE, broadcasts: true)),
            f: |a, b| a / b,
            // d(a / b) = (1/b, -a/b^2) = (1/b, -y/b).
            partials: |a, b, y| (b.recip(), -y / b),
        }
        /// `a^b` for `a > 0`.
        Pow {
            spec: spec("pow", Reads::Both, &["da = g (.) b a^(b-1)", "db = g (.) y log(a)"],
                probe!(|v| v[0].pow(v[1]), shapes: two_matrices, domain: Domain::POSITIVE, broadcasts: true)),
            f: |a, b| a.powf(b),
            // d(a^b) = (b a^(b-1), a^b log a); at a = 0 the second is taken as 0 (0^b is flat in b).
            partials: |a, b, y| {
                let db = if a == T::zero() { T::zero() } else { y * a.ln() };
                (b * a.powf(b - T::one()), db)
            },
        }
        /// The larger of a and b; a tie splits the gradient equally (as PyTorch).
        Maximum {
            spec: spec("maximum", Reads::Input, &["da = g (.) 1[a > b] (1/2 at a tie)", "db = g (.) 1[b > a] (1/2 at a tie)"],
                probe!(|v| v[0].maximum(v[1]), shapes: two_matrices, domain: Domain::APART, broadcasts: true)),
            f: |a, b| if b > a { b } else { a },
            partials: |a, b, y| if a > b {
                (T::one(), T::zero())
            } else if b > a {
                (T::zero(), T::one())
            } else {
                (half(), half())
            },
        }
        /// The smaller of a and b; a tie splits the gradient equally (as PyTorch).
        Minimum {
            spec: spec("minimum", Reads::Input, &["da = g (.) 1[a < b] (1/2 at a tie)", "db = g (.) 1[b < a] (1/2 at a tie)"],
                probe!(|v| v[0].minimum(v[1]), shapes: two_matrices, domain: Domain::APART, broadcasts: true)),
            f: |a, b| if b < a { b } else { a },
            partials: |a, b, y| if a < b {
                (T::one(), T::zero())
            } else if b < a {
                (T::zero(), T::one())
            } else {
                (half(), half())
            },
        }
        /// The angle of the point (x, y) = (b, a): `atan2(a, b)`.
        Atan2 {
            spec: spec("atan2", Reads::Input, &["da = g (.) b / (a^2 + b^2)", "db = -g (.) a / (a^2 + b^2)"],
                probe!(|v| v[0].atan2(v[1]), shapes: two_matrices, domain: Domain::POSITIVE, broadcasts: true)),
            f: |a, b| a.atan2(b),
            // d atan2(a, b) = (b, -a) / (a^2 + b^2).
            partials: |a, b, y| {
                let r2 = a * a + b * b;
                (b / r2, -a / r2)
            },
        }
    }
}

/// Where each element of the output reads its two inputs, with the broadcast's axes
/// collapsed ([`collapse`]): the output is `blocks` of `[rows x cols]`; element `(i, j)` of a
/// block reads input k at its block's base plus `i * strides.0 + j * strides.1`, a stride 0
/// along an axis the input is broadcast along. Up to rank 2 there is one block at base 0.
pub(crate) struct Broadcast {
    rows: usize,
    cols: usize,
    a: (usize, usize),
    b: (usize, usize),
    /// Both inputs have the output's shape: a plain elementwise loop.
    same: bool,
    /// The blocks' dimensions (the collapsed axes before the last two) and each input's
    /// steps along them; rank 0 for a single block.
    outer: (usize, [usize; Shape::MAX_RANK], [[usize; Shape::MAX_RANK]; 2]),
}

impl Broadcast {
    /// The layout of `a (op) b` and the output's shape.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast, naming the op and both shapes.
    #[track_caller]
    fn new(op: &str, a: Shape, b: Shape) -> (Broadcast, Shape) {
        let Some(shape) = broadcast_shape(&[a, b]) else {
            panic!("{op}: shapes {a} and {b} do not broadcast (each dimension must be equal, or 1 on one side)")
        };
        let same = a.numel() == shape.numel() && b.numel() == shape.numel();
        let single = (0, [0; Shape::MAX_RANK], [[0; Shape::MAX_RANK]; 2]);
        if shape.rank() <= 2 {
            // Without the interned table: the matrix reading of rank <= 2.
            let strides = |s: Shape| {
                let row = if s.rows() == shape.rows() && shape.rows() > 1 { s.cols() } else { 0 };
                (row, usize::from(s.cols() == shape.cols() && shape.cols() > 1))
            };
            let layout =
                Broadcast { rows: shape.rows(), cols: shape.cols(), a: strides(a), b: strides(b), same, outer: single };
            return (layout, shape);
        }
        let c = collapse([a, b], shape);
        let r = c.rank;
        let (rows, row_steps) =
            if r >= 2 { (c.dims[r - 2], [c.strides[0][r - 2], c.strides[1][r - 2]]) } else { (1, [0, 0]) };
        let mut outer = single;
        if r > 2 {
            outer.0 = r - 2;
            outer.1[..r - 2].copy_from_slice(&c.dims[..r - 2]);
            for k in 0..2 {
                outer.2[k][..r - 2].copy_from_slice(&c.strides[k][..r - 2]);
            }
        }
        let layout = Broadcast {
            rows,
            cols: c.dims[r - 1],
            a: (row_steps[0], c.strides[0][r - 1]),
            b: (row_steps[1], c.strides[1][r - 1]),
            same,
            outer,
        };
        (layout, shape)
    }

    /// Each block's base offsets in the two inputs, in output order.
    #[inline(always)]
    fn blocks(&self) -> impl Iterator<Item = [usize; 2]> + use<> {
        let (rank, dims, strides) = self.outer;
        strided(&dims[..rank], strides)
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> (usize, usize) {
        (i * self.a.0 + j * self.a.1, i * self.b.0 + j * self.b.1)
    }

    /// `out[i, j] = f(a at (i, j), b at (i, j))`.
    #[inline(always)]
    pub(crate) fn forward<T: Real>(&self, a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
        if self.same {
            for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
            return;
        }
        let block = |out: &mut [T], [base_a, base_b]: [usize; 2]| {
            for i in 0..self.rows {
                for j in 0..self.cols {
                    let (ia, ib) = self.at(i, j);
                    out[i * self.cols + j] = f(a[base_a + ia], b[base_b + ib]);
                }
            }
        };
        if self.outer.0 == 0 {
            // Rank <= 2 (or collapsed to it): one block, as before there were blocks.
            return block(out, [0, 0]);
        }
        let size = (self.rows * self.cols).max(1);
        for (out, bases) in out.chunks_exact_mut(size).zip(self.blocks()) {
            block(out, bases);
        }
    }

    /// Adds `g (.) partials.0` into `a`'s adjoint and `g (.) partials.1` into `b`'s, each at
    /// the element the output read, so that a broadcast input collects the sum along its axes.
    #[inline(always)]
    pub(crate) fn backward<T: Real>(
        &self,
        (a, b, y): (&[T], &[T], &[T]),
        upstream: &[T],
        (a_adjoint, b_adjoint): (Option<&mut [T]>, Option<&mut [T]>),
        partials: impl Fn(T, T, T) -> (T, T),
    ) {
        if self.same {
            if let Some(adjoint) = a_adjoint {
                for (k, (d, &g)) in adjoint.iter_mut().zip(upstream).enumerate() {
                    *d = *d + g * partials(a[k], b[k], y[k]).0;
                }
            }
            if let Some(adjoint) = b_adjoint {
                for (k, (d, &g)) in adjoint.iter_mut().zip(upstream).enumerate() {
                    *d = *d + g * partials(a[k], b[k], y[k]).1;
                }
            }
            return;
        }
        let (mut a_adjoint, mut b_adjoint) = (a_adjoint, b_adjoint);
        let mut block = |start: usize, [base_a, base_b]: [usize; 2]| {
            for i in 0..self.rows {
                for j in 0..self.cols {
                    let k = start + i * self.cols + j;
                    let (ia, ib) = self.at(i, j);
                    let (ia, ib) = (base_a + ia, base_b + ib);
                    let (da, db) = partials(a[ia], b[ib], y[k]);
                    if let Some(adjoint) = a_adjoint.as_deref_mut() {
                        adjoint[ia] = adjoint[ia] + upstream[k] * da;
                    }
                    if let Some(adjoint) = b_adjoint.as_deref_mut() {
                        adjoint[ib] = adjoint[ib] + upstream[k] * db;
                    }
                }
            }
        };
        if self.outer.0 == 0 {
            return block(0, [0, 0]);
        }
        let size = (self.rows * self.cols).max(1);
        for (start, bases) in (0..y.len()).step_by(size).zip(self.blocks()) {
            block(start, bases);
        }
    }
}

/// Records `a (op) b`, broadcasting.
///
/// Inlined so that a scalar op's handle stays in registers: returned through memory, it is
/// reloaded with a wider read than the callee's stores, which the CPU cannot forward.
#[track_caller]
#[inline(always)]
pub(crate) fn binary<'t, T: Real>(op: Binary, a: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
    let (sa, sb) = (a.shape, b.shape);
    if sa.is_one_by_one() && sb.is_one_by_one() {
        // One element each: the result has the larger rank's shape (`[] + [1 x 1]` is `[1 x 1]`).
        let shape = sa.higher_rank_one_by_one(sb);
        let partials = |[x, y]: [T; 2], z| {
            let (dx, dy) = op.partials(x, y, z);
            [dx, dy]
        };
        return a.tape.record_scalar(Op::Binary(op), [a, b], shape, &[], |[x, y]| op.f(x, y), partials);
    }
    binary_tensor(op, a, b)
}

#[track_caller]
fn binary_tensor<'t, T: Real>(op: Binary, a: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
    let (layout, shape) = Broadcast::new(op.spec().name, a.shape(), b.shape());
    a.tape.record(Op::Binary(op), [a, b], shape, 0, |[x, y], out| op.forward_slice(&layout, x, y, out))
}

/// The backward rule of a node of this family on any shape.
#[inline]
pub(crate) fn backward<T: Real>(op: Binary, ctx: &mut BackwardContext<'_, T>) {
    let (layout, _) = Broadcast::new(op.spec().name, ctx.input_shape(0), ctx.input_shape(1));
    let values = (ctx.input(0), ctx.input(1), ctx.output());
    let upstream = ctx.upstream;
    // Both adjoints at once: split the arena below this node between the two inputs.
    let (a_offset, b_offset) = (ctx.adjoint_offset(0), ctx.adjoint_offset(1));
    let (a_len, b_len) = (values.0.len(), values.1.len());
    let adjoints = &mut *ctx.lower_adjoints;
    match (a_offset, b_offset) {
        (Some(ao), Some(bo)) if ao == bo => {
            // The same node on both sides (`x * x`): one adjoint, both contributions.
            op.backward_slice(&layout, values, upstream, (Some(&mut adjoints[ao..ao + a_len]), None));
            op.backward_slice(&layout, values, upstream, (None, Some(&mut adjoints[bo..bo + b_len])));
        }
        (Some(ao), Some(bo)) => {
            let (first, second) = two_ranges(adjoints, (ao, a_len), (bo, b_len));
            op.backward_slice(&layout, values, upstream, (Some(first), Some(second)));
        }
        (Some(ao), None) => op.backward_slice(&layout, values, upstream, (Some(&mut adjoints[ao..ao + a_len]), None)),
        (None, Some(bo)) => op.backward_slice(&layout, values, upstream, (None, Some(&mut adjoints[bo..bo + b_len]))),
        (None, None) => {}
    }
}

/// The taped rule of a node of this family: `da = g (.) dy/da` and `db = g (.) dy/db`
/// ([`vjp`]), each summed back to its input's shape ([`sum_to_shape`]). maximum's and
/// minimum's partials are constant masks from the values (1, 0, or 1/2 each at a tie, as the
/// first-order rule), so their second derivative is 0.
pub(crate) fn taped<'t, T: Real>(op: Binary, ctx: &mut TapedContext<'t, T>) {
    let (g, a, b, y) = (ctx.upstream, ctx.input(0), ctx.input(1), ctx.output);
    for k in 0..2 {
        if !ctx.wants(k) {
            continue;
        }
        let masked = |g: Var<'t, T>| {
            let masks = partial_masks(op, ctx);
            g * ctx.constant(if k == 0 { &masks.0 } else { &masks.1 })
        };
        let contribution = match (op, k) {
            // pow's exponent: y log a, and 0 at a = 0 as the first-order rule: a is read as
            // 1 there, so that log 0 enters neither the value nor its derivatives.
            (Binary::Pow, 1) => {
                let values = ctx.input_values(0);
                let a = if values.iter().any(|&v| v == T::zero()) {
                    let nonzero =
                        Tensor::from_fn(a.shape(), |i| if values[i] == T::zero() { T::zero() } else { T::one() });
                    Var::where_(&nonzero, a, ctx.constant(&Tensor::scalar(T::one())))
                } else {
                    a
                };
                g * y * a.ln()
            }
            _ => vjp(op, k, g, [a, b, y], masked),
        };
        let shape = ctx.input(k).shape();
        ctx.send(k, sum_to_shape(contribution, shape));
    }
}

/// True if input `k`'s contribution ([`vjp`]) is `-g` (the subtrahend of `a - b`): the
/// walk's one-element path subtracts `g` from the input's adjoint rather than recording `-g`
/// and adding it.
#[inline(always)]
pub(crate) fn negates(op: Binary, k: usize) -> bool {
    matches!((op, k), (Binary::Sub, 1))
}

/// The sum of both contributions when the two inputs are the same node `a` and have the
/// output's shape, in fewer nodes than [`vjp`] twice and a sum: `x * x` sends `2 g x` (one
/// product and one scaling, exact, where two products and a sum would take three nodes).
/// `None` for the other ops, whose two contributions the walk adds.
#[inline(always)]
pub(crate) fn vjp_same_input<'t, T: Real>(op: Binary, g: Var<'t, T>, a: Var<'t, T>) -> Option<Var<'t, T>> {
    match op {
        Binary::Mul => Some(g * a * T::lit(2.0)),
        _ => None,
    }
}

/// Input `k`'s contribution `g (.) dy/d(input k)`, of the output's shape, for upstream `g`,
/// inputs `a`, `b` and output `y`, with the partial written in `Var` ops so that it can be
/// differentiated again. `masked(g)` records `g` times maximum's or minimum's partial, a
/// constant from the values (a tensor in the walk's general path, a number in its
/// one-element path, `grad.rs`). Not for pow's exponent, whose partial needs the values
/// (log a, taken as 0 at a = 0): its rule is [`taped`]'s. The handles come and go by value,
/// not in an `Option` or a tuple: moved through memory, a handle is reloaded with wider
/// reads than its stores, which stalls the walk's one-element path at every node.
#[inline(always)]
pub(crate) fn vjp<'t, T: Real>(
    op: Binary,
    k: usize,
    g: Var<'t, T>,
    [a, b, y]: [Var<'t, T>; 3],
    masked: impl FnOnce(Var<'t, T>) -> Var<'t, T>,
) -> Var<'t, T> {
    match (op, k) {
        (Binary::Add, _) | (Binary::Sub, 0) => g,
        (Binary::Sub, _) => -g,
        (Binary::Mul, 0) => g * b,
        (Binary::Mul, _) => g * a,
        (Binary::Div, 0) => g / b,
        // d(a / b)/db = -y / b.
        (Binary::Div, _) => -(g * y / b),
        (Binary::Pow, 0) => g * b * a.pow(b - T::one()),
        (Binary::Pow, _) => unreachable!("pow's exponent has its rule in taped"),
        (Binary::Maximum | Binary::Minimum, _) => masked(g),
        (Binary::Atan2, 0) => g * b / (a * a + b * b),
        (Binary::Atan2, _) => -(g * a / (a * a + b * b)),
    }
}

/// The partials `(dy/da, dy/db)` at every element of the output, from the values, as two
/// constants (a piecewise-constant op's taped derivative).
fn partial_masks<T: Real>(op: Binary, ctx: &TapedContext<'_, T>) -> (Tensor<T>, Tensor<T>) {
    let (a, b) = (ctx.input_values(0), ctx.input_values(1));
    let (layout, shape) = Broadcast::new(op.spec().name, ctx.input(0).shape(), ctx.input(1).shape());
    let (mut da, mut db) = (Tensor::zeros(shape), Tensor::zeros(shape));
    layout.forward(&a, &b, da.data_mut(), |x, z| op.partials(x, z, op.f(x, z)).0);
    layout.forward(&a, &b, db.data_mut(), |x, z| op.partials(x, z, op.f(x, z)).1);
    (da, db)
}

/// `v`, of a broadcast shape, summed along the axes along which `shape` was broadcast to it,
/// and given `shape`: how a broadcast input collects its contributions.
#[track_caller]
pub(crate) fn sum_to_shape<'t, T: Real>(v: Var<'t, T>, shape: Shape) -> Var<'t, T> {
    let from = v.shape();
    if from == shape {
        return v;
    }
    if shape.numel() == 1 {
        return reshaped(v.sum(), shape);
    }
    // Sum (keeping the axis) along every axis `shape`, aligned at its last dimension, has
    // as 1 (or lacks) where `v` has more.
    let (from_dims, dims) = (from.dims(), shape.dims());
    let missing = from_dims.len() - dims.len();
    let mut summed = v;
    for (axis, &size) in from_dims.iter().enumerate() {
        let target = if axis < missing { 1 } else { dims[axis - missing] };
        if target == 1 && size > 1 {
            summed = summed.sum_axis(axis, true);
        }
    }
    reshaped(summed, shape)
}

/// Two disjoint ranges `(offset, len)` of `arena`, mutably, in the order asked.
fn two_ranges<T>(arena: &mut [T], a: (usize, usize), b: (usize, usize)) -> (&mut [T], &mut [T]) {
    if a.0 < b.0 {
        let (low, high) = arena.split_at_mut(b.0);
        (&mut low[a.0..a.0 + a.1], &mut high[..b.1])
    } else {
        let (low, high) = arena.split_at_mut(a.0);
        (&mut high[..a.1], &mut low[b.0..b.0 + b.1])
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// `self^exponent`, elementwise with broadcasting, for a positive base. Derivatives
    /// `b a^(b-1)` for the base and `a^b log a` for the exponent.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (a, b) = (tape.var(2.0), tape.var(3.0));
    /// let y = a.pow(b);
    /// let grads = tape.backward(y);
    /// assert_eq!((y.value(), grads.wrt(a)), (8.0, 12.0));
    /// assert!((grads.wrt(b) - 8.0 * 2f64.ln()).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn pow(self, exponent: Var<'t, T>) -> Self {
        binary(Binary::Pow, self, exponent)
    }

    /// The larger of `self` and `other`, elementwise with broadcasting. The gradient goes to
    /// the larger; at a tie each gets half (as PyTorch's `maximum`).
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(&Tensor::from_slice(&[1.0, 5.0, 2.0]));
    /// let b = tape.var(&Tensor::from_slice(&[3.0, 4.0, 2.0]));
    /// let grads = tape.backward(a.maximum(b).sum());
    /// assert_eq!(grads.wrt_slice(a), &[0.0, 1.0, 0.5]);
    /// assert_eq!(grads.wrt_slice(b), &[1.0, 0.0, 0.5]);
    /// ```
    #[track_caller]
    pub fn maximum(self, other: Var<'t, T>) -> Self {
        binary(Binary::Maximum, self, other)
    }

    /// The smaller of `self` and `other`, elementwise with broadcasting; a tie splits the
    /// gradient equally.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (a, b) = (tape.var(1.0), tape.var(3.0));
    /// let grads = tape.backward(a.minimum(b));
    /// assert_eq!((grads.wrt(a), grads.wrt(b)), (1.0, 0.0));
    /// ```
    #[track_caller]
    pub fn minimum(self, other: Var<'t, T>) -> Self {
        binary(Binary::Minimum, self, other)
    }

    /// `atan2(self, x)`: the angle of the point `(x, self)`, in `(-pi, pi]`, elementwise with
    /// broadcasting. Derivatives `x / (x^2 + y^2)` for `self` and `-y / (x^2 + y^2)` for `x`.
    ///
    /// # Panics
    ///
    /// If the shapes do not broadcast.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (y, x) = (tape.var(1.0), tape.var(1.0));
    /// let angle = y.atan2(x);
    /// let grads = tape.backward(angle);
    /// assert_eq!(angle.value(), std::f64::consts::FRAC_PI_4);
    /// assert_eq!((grads.wrt(y), grads.wrt(x)), (0.5, -0.5));
    /// ```
    #[track_caller]
    pub fn atan2(self, x: Var<'t, T>) -> Self {
        binary(Binary::Atan2, self, x)
    }
}
