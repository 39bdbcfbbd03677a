//! Scalar arithmetic, elementwise: `+ - * /` between values of equal shape or with a
//! scalar on either side, a plain number on either side, and neg, powi, powf, exp, ln, sqrt.
//!
//! Subtraction and division by a plain number are recorded as one node each (no constant
//! leaf is made for the number). A scalar broadcast over a tensor gets the sum of the
//! contributions of every element it met.

use super::{map_backward, map_forward, BackwardContext, ElementwiseRule, Op};
use crate::tape::Node;
use crate::{Real, Var};

/// `a (op) b`, elementwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
        }
    }

    #[inline(always)]
    fn f<T: Real>(self, a: T, b: T) -> T {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }

    /// The partial derivatives `(dy/da, dy/db)` at `(a, b)`, with `y = a (op) b`:
    /// d(a + b) = (1, 1); d(a - b) = (1, -1); d(a b) = (b, a); d(a / b) = (1/b, -y/b).
    #[inline(always)]
    fn partials<T: Real>(self, a: T, b: T, y: T) -> (T, T) {
        match self {
            Binary::Add => (T::one(), T::one()),
            Binary::Sub => (T::one(), -T::one()),
            Binary::Mul => (b, a),
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
        return a.tape.record_scalar(Op::Binary(op), [a, b], shape, None, |[x, y]| op.f(x, y));
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
            op.name()
        )
    };
    a.tape.record(Op::Binary(op), [a, b], shape, 0, |[x, y], out| {
        let (step_x, step_y) = (usize::from(x.len() > 1), usize::from(y.len() > 1));
        for (i, o) in out.iter_mut().enumerate() {
            *o = op.f(x[i * step_x], y[i * step_y]);
        }
    })
}

#[inline]
pub(crate) fn binary_backward<T: Real>(op: Binary, ctx: &mut BackwardContext<'_, T>) {
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

/// A function of one value with the constants it needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryMath<T> {
    Neg,
    Exp,
    Ln,
    Sqrt,
    Powi(i32),
    Powf(T),
    /// `x + c` (and `x - c`, recorded as `x + (-c)`, which IEEE arithmetic makes identical).
    AddConst(T),
    MulConst(T),
    DivConst(T),
    /// `c - x`.
    ConstSub(T),
    /// `c / x`.
    ConstDiv(T),
}

impl<T> UnaryMath<T> {
    pub fn name(&self) -> &'static str {
        match self {
            UnaryMath::Neg => "neg",
            UnaryMath::Exp => "exp",
            UnaryMath::Ln => "ln",
            UnaryMath::Sqrt => "sqrt",
            UnaryMath::Powi(_) => "powi",
            UnaryMath::Powf(_) => "powf",
            UnaryMath::AddConst(_) => "add_scalar",
            UnaryMath::MulConst(_) => "mul_scalar",
            UnaryMath::DivConst(_) => "div_scalar",
            UnaryMath::ConstSub(_) => "scalar_sub",
            UnaryMath::ConstDiv(_) => "scalar_div",
        }
    }
}

/// What a node records of a [`UnaryMath`]: the function without its constant. A function with
/// a constant (`AddConst`, `MulConst`, ...) keeps it in the value arena, right after the value,
/// so that a node stays small (an `f64` inside the op would make every node 8 bytes larger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Exp,
    Ln,
    Sqrt,
    Powi(i32),
    Powf,
    AddConst,
    MulConst,
    DivConst,
    ConstSub,
    ConstDiv,
}

impl<T: Real> UnaryMath<T> {
    /// The constant (0 for a function without one).
    pub(crate) fn constant(self) -> T {
        self.split().1.unwrap_or_else(T::zero)
    }

    /// The function without its constant, and the constant if it has one.
    #[inline(always)]
    fn split(self) -> (Unary, Option<T>) {
        match self {
            UnaryMath::Neg => (Unary::Neg, None),
            UnaryMath::Exp => (Unary::Exp, None),
            UnaryMath::Ln => (Unary::Ln, None),
            UnaryMath::Sqrt => (Unary::Sqrt, None),
            UnaryMath::Powi(n) => (Unary::Powi(n), None),
            UnaryMath::Powf(p) => (Unary::Powf, Some(p)),
            UnaryMath::AddConst(c) => (Unary::AddConst, Some(c)),
            UnaryMath::MulConst(c) => (Unary::MulConst, Some(c)),
            UnaryMath::DivConst(c) => (Unary::DivConst, Some(c)),
            UnaryMath::ConstSub(c) => (Unary::ConstSub, Some(c)),
            UnaryMath::ConstDiv(c) => (Unary::ConstDiv, Some(c)),
        }
    }
}

impl Unary {
    pub fn name(self) -> &'static str {
        self.with_constant(0.0).name()
    }

    /// True for the functions that keep a constant after their value.
    #[inline(always)]
    pub fn has_constant(self) -> bool {
        !matches!(self, Unary::Neg | Unary::Exp | Unary::Ln | Unary::Sqrt | Unary::Powi(_))
    }

    /// The function with its constant `c` (ignored by those without one).
    #[inline(always)]
    pub fn with_constant<T>(self, c: T) -> UnaryMath<T> {
        match self {
            Unary::Neg => UnaryMath::Neg,
            Unary::Exp => UnaryMath::Exp,
            Unary::Ln => UnaryMath::Ln,
            Unary::Sqrt => UnaryMath::Sqrt,
            Unary::Powi(n) => UnaryMath::Powi(n),
            Unary::Powf => UnaryMath::Powf(c),
            Unary::AddConst => UnaryMath::AddConst(c),
            Unary::MulConst => UnaryMath::MulConst(c),
            Unary::DivConst => UnaryMath::DivConst(c),
            Unary::ConstSub => UnaryMath::ConstSub(c),
            Unary::ConstDiv => UnaryMath::ConstDiv(c),
        }
    }

    /// The function of node `node`, its constant read from the arena `values`.
    #[inline(always)]
    pub(crate) fn of_node<T: Real>(self, node: &Node, values: &[T]) -> UnaryMath<T> {
        let c = if self.has_constant() { values[node.value_offset + node.shape.numel()] } else { T::zero() };
        self.with_constant(c)
    }
}

macro_rules! dispatch_unary {
    ($op:expr, $rule:ident => $body:expr) => {
        match $op {
            UnaryMath::Neg => {
                let $rule = Neg;
                $body
            }
            UnaryMath::Exp => {
                let $rule = Exp;
                $body
            }
            UnaryMath::Ln => {
                let $rule = Ln;
                $body
            }
            UnaryMath::Sqrt => {
                let $rule = Sqrt;
                $body
            }
            UnaryMath::Powi(n) => {
                let $rule = Powi(n);
                $body
            }
            UnaryMath::Powf(p) => {
                let $rule = Powf(p);
                $body
            }
            UnaryMath::AddConst(c) => {
                let $rule = AddConst(c);
                $body
            }
            UnaryMath::MulConst(c) => {
                let $rule = MulConst(c);
                $body
            }
            UnaryMath::DivConst(c) => {
                let $rule = DivConst(c);
                $body
            }
            UnaryMath::ConstSub(c) => {
                let $rule = ConstSub(c);
                $body
            }
            UnaryMath::ConstDiv(c) => {
                let $rule = ConstDiv(c);
                $body
            }
        }
    };
}

/// Records `f(x)`, elementwise. Inlined like [`binary`].
#[track_caller]
#[inline(always)]
pub(crate) fn unary<'t, T: Real>(op: UnaryMath<T>, x: Var<'t, T>) -> Var<'t, T> {
    let shape = x.shape();
    if shape.numel() == 1 {
        let (kind, constant) = op.split();
        return x.tape.record_scalar(
            Op::Unary(kind),
            [x],
            shape,
            constant,
            |[x]| dispatch_unary!(op, rule => rule.f(x)),
        );
    }
    unary_tensor(op, x)
}

#[track_caller]
fn unary_tensor<'t, T: Real>(op: UnaryMath<T>, x: Var<'t, T>) -> Var<'t, T> {
    let shape = x.shape();
    let (kind, constant) = op.split();
    let scratch = usize::from(constant.is_some());
    x.tape.record(Op::Unary(kind), [x], shape, scratch, |[x], out| {
        let (value, scratch) = out.split_at_mut(x.len());
        dispatch_unary!(op, rule => map_forward(rule, x, value));
        if let Some(c) = constant {
            scratch[0] = c;
        }
    })
}

#[inline]
pub(crate) fn unary_backward<T: Real>(kind: Unary, ctx: &mut BackwardContext<'_, T>) {
    let op = kind.of_node(ctx.node, ctx.values);
    let (x, y, g) = (ctx.input(0), ctx.output(), ctx.upstream);
    if let Some(x_adjoint) = ctx.adjoint(0) {
        dispatch_unary!(op, rule => map_backward(rule, x, y, g, x_adjoint));
    }
}

/// The backward rule of a one-element `Unary` or `Binary` node, read and written straight
/// from the arenas, that also marks the inputs with an adjoint as reached: the scalar
/// tape's hot path, with the same rules as [`unary_backward`] and [`binary_backward`].
/// Returns false, doing nothing, for any other node.
#[inline(always)]
pub(crate) fn scalar_backward<T: Real>(
    node: &Node,
    (nodes, values): (&[Node], &[T]),
    adjoints: &mut [T],
    reached: &mut [bool],
) -> bool {
    let one_element = node.shape.numel() == 1;
    let value = |input: u32| values[nodes[input as usize].value_offset];
    match node.op {
        Op::Unary(kind) if one_element => {
            let [x, _] = node.input_slots();
            let (y, g) = (values[node.value_offset], adjoints[node.adjoint_offset]);
            let op = kind.of_node(node, values);
            let dx = dispatch_unary!(op, rule => rule.df(value(x), y));
            send(g * dx, x, nodes, adjoints, reached);
            true
        }
        Op::Binary(op) if one_element => {
            let [a, b] = node.input_slots();
            let (y, g) = (values[node.value_offset], adjoints[node.adjoint_offset]);
            let (da, db) = op.partials(value(a), value(b), y);
            send(g * da, a, nodes, adjoints, reached);
            send(g * db, b, nodes, adjoints, reached);
            true
        }
        _ => false,
    }
}

/// Adds `contribution` into the adjoint of one-element node `input`, if it has one, and
/// marks it reached.
#[inline(always)]
fn send<T: Real>(contribution: T, input: u32, nodes: &[Node], adjoints: &mut [T], reached: &mut [bool]) {
    let input_node = &nodes[input as usize];
    if input_node.requires_grad() {
        let adjoint = &mut adjoints[input_node.adjoint_offset];
        *adjoint = *adjoint + contribution;
        reached[input as usize] = true;
    }
}

#[derive(Clone, Copy)]
struct Neg;
impl<T: Real> ElementwiseRule<T> for Neg {
    fn f(self, x: T) -> T {
        -x
    }
    /// d(-x) = -1.
    fn df(self, _x: T, _y: T) -> T {
        -T::one()
    }
}

#[derive(Clone, Copy)]
struct Exp;
impl<T: Real> ElementwiseRule<T> for Exp {
    fn f(self, x: T) -> T {
        x.exp()
    }
    /// exp' = exp; reads the output y.
    fn df(self, _x: T, y: T) -> T {
        y
    }
}

#[derive(Clone, Copy)]
struct Ln;
impl<T: Real> ElementwiseRule<T> for Ln {
    fn f(self, x: T) -> T {
        x.ln()
    }
    /// ln' x = 1/x; reads the input.
    fn df(self, x: T, _y: T) -> T {
        x.recip()
    }
}

#[derive(Clone, Copy)]
struct Sqrt;
impl<T: Real> ElementwiseRule<T> for Sqrt {
    fn f(self, x: T) -> T {
        x.sqrt()
    }
    /// sqrt' x = 1 / (2 sqrt x); reads the output y.
    fn df(self, _x: T, y: T) -> T {
        (y + y).recip()
    }
}

#[derive(Clone, Copy)]
struct Powi(i32);
impl<T: Real> ElementwiseRule<T> for Powi {
    fn f(self, x: T) -> T {
        x.powi(self.0)
    }
    /// (x^n)' = n x^(n-1), and 0 for n = 0; reads the input.
    fn df(self, x: T, _y: T) -> T {
        match self.0 {
            0 => T::zero(),
            // The square, the common case, without a call to the powi routine (2x exactly).
            2 => x + x,
            n => T::lit(f64::from(n)) * x.powi(n - 1),
        }
    }
}

#[derive(Clone, Copy)]
struct Powf<T>(T);
impl<T: Real> ElementwiseRule<T> for Powf<T> {
    fn f(self, x: T) -> T {
        x.powf(self.0)
    }
    /// (x^p)' = p x^(p-1), and 0 for p = 0; reads the input.
    fn df(self, x: T, _y: T) -> T {
        if self.0 == T::zero() {
            T::zero()
        } else {
            self.0 * x.powf(self.0 - T::one())
        }
    }
}

#[derive(Clone, Copy)]
struct AddConst<T>(T);
impl<T: Real> ElementwiseRule<T> for AddConst<T> {
    fn f(self, x: T) -> T {
        x + self.0
    }
    /// d(x + c) = 1.
    fn df(self, _x: T, _y: T) -> T {
        T::one()
    }
}

#[derive(Clone, Copy)]
struct MulConst<T>(T);
impl<T: Real> ElementwiseRule<T> for MulConst<T> {
    fn f(self, x: T) -> T {
        x * self.0
    }
    /// d(c x) = c.
    fn df(self, _x: T, _y: T) -> T {
        self.0
    }
}

#[derive(Clone, Copy)]
struct DivConst<T>(T);
impl<T: Real> ElementwiseRule<T> for DivConst<T> {
    fn f(self, x: T) -> T {
        x / self.0
    }
    /// d(x / c) = 1/c.
    fn df(self, _x: T, _y: T) -> T {
        self.0.recip()
    }
}

#[derive(Clone, Copy)]
struct ConstSub<T>(T);
impl<T: Real> ElementwiseRule<T> for ConstSub<T> {
    fn f(self, x: T) -> T {
        self.0 - x
    }
    /// d(c - x) = -1.
    fn df(self, _x: T, _y: T) -> T {
        -T::one()
    }
}

#[derive(Clone, Copy)]
struct ConstDiv<T>(T);
impl<T: Real> ElementwiseRule<T> for ConstDiv<T> {
    fn f(self, x: T) -> T {
        self.0 / x
    }
    /// d(c / x) = -c/x^2 = -y/x; reads both.
    fn df(self, x: T, y: T) -> T {
        -y / x
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// `x^n` for an integer `n`, elementwise. Derivative `n x^(n-1)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(3.0);
    /// let y = x.powi(2);
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (9.0, 6.0));
    /// ```
    #[track_caller]
    #[inline]
    pub fn powi(self, n: i32) -> Self {
        unary(UnaryMath::Powi(n), self)
    }

    /// `x^p` for a constant real `p`, elementwise. Derivative `p x^(p-1)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(4.0);
    /// let y = x.powf(1.5);
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (8.0, 3.0));
    /// ```
    #[track_caller]
    #[inline]
    pub fn powf(self, p: T) -> Self {
        unary(UnaryMath::Powf(p), self)
    }

    /// `e^x`, elementwise. Derivative `e^x` (read from the output).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(tape.backward(x.exp()).wrt(x), 1.0);
    /// ```
    #[track_caller]
    #[inline]
    pub fn exp(self) -> Self {
        unary(UnaryMath::Exp, self)
    }

    /// The natural logarithm, elementwise. Derivative `1/x`. `ln` of a negative is NaN.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(tape.backward(x.ln()).wrt(x), 0.25);
    /// ```
    #[track_caller]
    #[inline]
    pub fn ln(self) -> Self {
        unary(UnaryMath::Ln, self)
    }

    /// The square root, elementwise. Derivative `1 / (2 sqrt x)` (read from the output).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(tape.backward(x.sqrt()).wrt(x), 0.25);
    /// ```
    #[track_caller]
    #[inline]
    pub fn sqrt(self) -> Self {
        unary(UnaryMath::Sqrt, self)
    }
}
