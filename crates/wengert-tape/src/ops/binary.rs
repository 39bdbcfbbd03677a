//! Elementwise functions of two values, `y = a (op) b`: `+ - * /`, between values of equal
//! shape or with a scalar on one side. A scalar broadcast over a tensor gets the sum of the
//! contributions of every element it met. Each op's descriptor, function and partial
//! derivatives side by side.

use super::{op_family, two_matrices, BackwardContext, Op};
use crate::registry::{probe, Arity, Check, Domain, Gradient, OpSpec, Reads};
use crate::{Real, Var};

/// A descriptor of this family: two inputs, adjoint from them.
const fn spec(name: &'static str, reads: Reads, explain: &'static [&'static str], check: Check) -> OpSpec {
    OpSpec {
        name,
        notes: "",
        formula: name,
        arity: Arity::Fixed(2),
        reads,
        gradient: Gradient::FromInputs,
        constants: 0,
        explain,
        check,
    }
}

op_family! {
    /// `a (op) b`, elementwise.
    enum Binary {
        Add => spec("add", Reads::Nothing, &["da = g", "db = g"],
            probe!(|v| v[0] + v[1], shapes: two_matrices, domain: Domain::ANY)),
        Sub => spec("sub", Reads::Nothing, &["da = g", "db = -g"],
            probe!(|v| v[0] - v[1], shapes: two_matrices, domain: Domain::ANY)),
        Mul => spec("mul", Reads::Input, &["da = g (.) b", "db = g (.) a"],
            probe!(|v| v[0] * v[1], shapes: two_matrices, domain: Domain::ANY)),
        Div => spec("div", Reads::Both, &["da = g / b", "db = -g (.) y / b"],
            probe!(|v| v[0] / v[1], shapes: two_matrices, domain: Domain::POSITIVE)),
    }
}

impl Binary {
    /// `a (op) b`.
    #[inline(always)]
    pub(crate) fn f<T: Real>(self, a: T, b: T) -> T {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }

    /// The partial derivatives `(dy/da, dy/db)` at `(a, b)`, with `y = a (op) b`.
    #[inline(always)]
    pub(crate) fn partials<T: Real>(self, a: T, b: T, y: T) -> (T, T) {
        match self {
            // d(a + b) = (1, 1).
            Binary::Add => (T::one(), T::one()),
            // d(a - b) = (1, -1).
            Binary::Sub => (T::one(), -T::one()),
            // d(a b) = (b, a).
            Binary::Mul => (b, a),
            // d(a / b) = (1/b, -a/b^2) = (1/b, -y/b).
            Binary::Div => (T::one() / b, -y / b),
        }
    }
}

/// Records `a (op) b`: equal shapes, or a scalar (rank 0) on one side broadcast over the other.
///
/// Inlined so that a scalar op's handle stays in registers: returned through memory, it is
/// reloaded with a wider read than the callee's stores, which the CPU cannot forward.
#[track_caller]
#[inline(always)]
pub(crate) fn binary<'t, T: Real>(op: Binary, a: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
    let (sa, sb) = (a.shape, b.shape);
    if sa.numel() == 1 && sb.numel() == 1 && (sa == sb || sa.is_scalar() || sb.is_scalar()) {
        let shape = if sb.is_scalar() { sa } else { sb };
        return a.tape.record_scalar(Op::Binary(op), [a, b], shape, &[], |[x, y]| op.f(x, y));
    }
    binary_tensor(op, a, b)
}

#[track_caller]
fn binary_tensor<'t, T: Real>(op: Binary, a: Var<'t, T>, b: Var<'t, T>) -> Var<'t, T> {
    let (sa, sb) = (a.shape(), b.shape());
    let shape = if sa == sb || sb.is_scalar() {
        sa
    } else if sa.is_scalar() {
        sb
    } else {
        panic!(
            "{}: shapes {sa} and {sb} differ (elementwise ops need equal shapes, or a scalar on one side)",
            op.spec().name
        )
    };
    a.tape.record(Op::Binary(op), [a, b], shape, 0, |[x, y], out| {
        let (step_x, step_y) = (usize::from(x.len() > 1), usize::from(y.len() > 1));
        for (i, o) in out.iter_mut().enumerate() {
            *o = op.f(x[i * step_x], y[i * step_y]);
        }
    })
}

/// The backward rule of a node of this family on any shape.
#[inline]
pub(crate) fn backward<T: Real>(op: Binary, ctx: &mut BackwardContext<'_, T>) {
    let (a, b, y, g) = (ctx.input(0), ctx.input(1), ctx.output(), ctx.upstream);
    let (step_a, step_b) = (usize::from(a.len() > 1), usize::from(b.len() > 1));
    let partial = |i: usize| op.partials(a[i * step_a], b[i * step_b], y[i]);
    if let Some(a_adjoint) = ctx.adjoint(0) {
        accumulate(a_adjoint, g, |i| partial(i).0);
    }
    if let Some(b_adjoint) = ctx.adjoint(1) {
        accumulate(b_adjoint, g, |i| partial(i).1);
    }
}

/// Adds `upstream[i] * local(i)` into `adjoint[i]`, or, for an input broadcast from one
/// element, their sum into `adjoint[0]`.
fn accumulate<T: Real>(adjoint: &mut [T], upstream: &[T], local: impl Fn(usize) -> T) {
    if adjoint.len() == upstream.len() {
        for (i, (a, &g)) in adjoint.iter_mut().zip(upstream).enumerate() {
            *a = *a + g * local(i);
        }
    } else {
        let total = upstream.iter().enumerate().fold(T::zero(), |sum, (i, &g)| sum + g * local(i));
        adjoint[0] = adjoint[0] + total;
    }
}
