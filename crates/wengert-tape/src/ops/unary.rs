//! Elementwise functions of one value, `y = f(x)`: neg, exp, ln, sqrt, powi, powf, and a
//! plain number on either side of `+ - * /` (recorded as one node each, the number kept in the
//! value arena after the value). Each op's descriptor, function and derivative side by side.

use super::{one_matrix, unary_family, Op, UnaryRule};
use crate::registry::{probe, Arity, Domain, Gradient, OpSpec, Reads};
use crate::tape::Node;
use crate::{Real, Var};

/// A descriptor of this family: one input, adjoint from it, `explain` for its one input.
const fn spec(
    name: &'static str,
    reads: Reads,
    constants: usize,
    explain: &'static [&'static str],
    check: crate::registry::Check,
) -> OpSpec {
    OpSpec {
        name,
        notes: "",
        formula: name,
        arity: Arity::Fixed(1),
        reads,
        gradient: Gradient::FromInputs,
        constants,
        explain,
        check,
    }
}

unary_family! {
    /// A function of one value, elementwise.
    enum Unary {
        Neg {
            spec: spec("neg", Reads::Nothing, 0, &["dx = -g"],
                probe!(|v| -v[0], shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| -x,
            // d(-x) = -1.
            df: |x, y, k| -T::one(),
        }
        Exp {
            spec: spec("exp", Reads::Output, 0, &["dx = g (.) y"],
                probe!(|v| v[0].exp(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.exp(),
            // exp' = exp; reads the output y.
            df: |x, y, k| y,
        }
        Ln {
            spec: spec("ln", Reads::Input, 0, &["dx = g / x"],
                probe!(|v| v[0].ln(), shapes: one_matrix, domain: Domain::POSITIVE)),
            f: |x, k| x.ln(),
            // ln' x = 1/x; reads the input.
            df: |x, y, k| x.recip(),
        }
        Sqrt {
            spec: spec("sqrt", Reads::Output, 0, &["dx = g / (2 y)"],
                probe!(|v| v[0].sqrt(), shapes: one_matrix, domain: Domain::POSITIVE)),
            f: |x, k| x.sqrt(),
            // sqrt' x = 1 / (2 sqrt x); reads the output y.
            df: |x, y, k| (y + y).recip(),
        }
        /// `|x|`.
        Abs {
            spec: spec("abs", Reads::Input, 0, &["dx = g (.) sign(x)"],
                probe!(|v| v[0].abs(), shapes: one_matrix, domain: Domain::off_kinks(&[0.0]))),
            f: |x, k| x.abs(),
            // |x|' = sign(x), and 0 at the kink x = 0 (PyTorch's sgn); reads the input.
            df: |x, y, k| if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                T::zero()
            },
        }
        /// `x^n`, n an integer kept as the constant.
        Powi {
            spec: spec("powi", Reads::Input, 1, &["dx = g (.) n x^(n-1), n = {c0}"],
                probe!(|v| v[0].powi(3), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.powi(exponent(k(0))),
            // (x^n)' = n x^(n-1), and 0 for n = 0; reads the input.
            df: |x, y, k| match exponent(k(0)) {
                0 => T::zero(),
                // The square, the common case, without a call to the powi routine (2x exactly).
                2 => x + x,
                n => k(0) * x.powi(n - 1),
            },
        }
        /// `x^p`, p a real constant.
        Powf {
            spec: spec("powf", Reads::Input, 1, &["dx = g (.) p x^(p-1), p = {c0}"],
                probe!(|v| v[0].powf(1.5), shapes: one_matrix, domain: Domain::POSITIVE)),
            f: |x, k| x.powf(k(0)),
            // (x^p)' = p x^(p-1), and 0 for p = 0; reads the input.
            df: |x, y, k| if k(0) == T::zero() { T::zero() } else { k(0) * x.powf(k(0) - T::one()) },
        }
        /// `x + c` (and `x - c`, recorded as `x + (-c)`, which IEEE arithmetic makes identical).
        AddScalar {
            spec: spec("add_scalar", Reads::Nothing, 1, &["dx = g"],
                probe!(|v| v[0] + 1.5, shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x + k(0),
            // d(x + c) = 1.
            df: |x, y, k| T::one(),
        }
        /// `c x`.
        MulScalar {
            spec: spec("mul_scalar", Reads::Nothing, 1, &["dx = c g, c = {c0}"],
                probe!(|v| v[0] * -2.5, shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x * k(0),
            // d(c x) = c.
            df: |x, y, k| k(0),
        }
        /// `x / c`.
        DivScalar {
            spec: spec("div_scalar", Reads::Nothing, 1, &["dx = g / c, c = {c0}"],
                probe!(|v| v[0] / 0.75, shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x / k(0),
            // d(x / c) = 1/c.
            df: |x, y, k| k(0).recip(),
        }
        /// `c - x`.
        ScalarSub {
            spec: spec("scalar_sub", Reads::Nothing, 1, &["dx = -g"],
                probe!(|v| 2.0 - v[0], shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| k(0) - x,
            // d(c - x) = -1.
            df: |x, y, k| -T::one(),
        }
        /// `c / x`.
        ScalarDiv {
            spec: spec("scalar_div", Reads::Both, 1, &["dx = -g (.) y / x"],
                probe!(|v| 2.0 / v[0], shapes: one_matrix, domain: Domain::POSITIVE)),
            f: |x, k| k(0) / x,
            // d(c / x) = -c/x^2 = -y/x; reads both.
            df: |x, y, k| -y / x,
        }
    }
}

/// The integer exponent of `powi`, kept as a number of the tape's type (exact below 2^24).
#[inline(always)]
fn exponent<T: Real>(n: T) -> i32 {
    n.to_i32().unwrap_or(0)
}

/// Records `rule(x)` elementwise as a node of `op`, its constants kept after its value.
/// Inlined so that a scalar op's handle stays in registers: returned through memory, it is
/// reloaded with a wider read than the callee's stores, which the CPU cannot forward.
#[track_caller]
#[inline(always)]
pub(crate) fn record_unary<'t, T: Real, R: UnaryRule>(op: Op, rule: R, constants: &[T], x: Var<'t, T>) -> Var<'t, T> {
    debug_assert_eq!(constants.len(), rule.constants(), "{}", op.name());
    let shape = x.shape();
    if shape.numel() == 1 {
        return x.tape.record_scalar(op, [x], shape, constants, |[x]| rule.f(x, |i| constants[i]));
    }
    record_unary_tensor(op, rule, constants, x)
}

#[track_caller]
fn record_unary_tensor<'t, T: Real, R: UnaryRule>(op: Op, rule: R, constants: &[T], x: Var<'t, T>) -> Var<'t, T> {
    let shape = x.shape();
    x.tape.record(op, [x], shape, constants.len(), |[x], out| {
        let (value, kept) = out.split_at_mut(x.len());
        kept.copy_from_slice(constants);
        super::map_forward(rule, x, value, constants);
    })
}

/// Records `op(x)` for an op of this family.
#[track_caller]
#[inline(always)]
pub(crate) fn unary<'t, T: Real>(op: Unary, constants: &[T], x: Var<'t, T>) -> Var<'t, T> {
    record_unary(Op::Unary(op), op, constants, x)
}

/// The backward rule of a one-element elementwise node (of this family, an activation or a
/// binary op), read and written straight from the arenas, that also marks the inputs with an
/// adjoint as reached: the scalar tape's hot path, with the same rules as the tensor path.
/// Returns false, doing nothing, for any other node.
#[inline(always)]
pub(crate) fn scalar_backward<T: Real>(
    node: &Node,
    (nodes, values): (&[Node], &[T]),
    adjoints: &mut [T],
    reached: &mut [bool],
) -> bool {
    if node.shape.numel() != 1 {
        return false;
    }
    let value = |input: u32| values[nodes[input as usize].value_offset];
    let constant = |i: usize| values[node.value_offset + 1 + i];
    let [a, b] = node.input_slots();
    match node.op {
        Op::Unary(op) => {
            let (y, g) = (values[node.value_offset], adjoints[node.adjoint_offset]);
            send(g * op.df(value(a), y, constant), a, nodes, adjoints, reached);
        }
        Op::Activation(op) => {
            let (y, g) = (values[node.value_offset], adjoints[node.adjoint_offset]);
            send(g * op.df(value(a), y, constant), a, nodes, adjoints, reached);
        }
        // A one-element output has one-element inputs: broadcasting never shrinks a value.
        Op::Binary(op) => {
            let (y, g) = (values[node.value_offset], adjoints[node.adjoint_offset]);
            let (da, db) = op.partials(value(a), value(b), y);
            send(g * da, a, nodes, adjoints, reached);
            send(g * db, b, nodes, adjoints, reached);
        }
        _ => return false,
    }
    true
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
        unary(Unary::Powi, &[T::lit(f64::from(n))], self)
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
        unary(Unary::Powf, &[p], self)
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
        unary(Unary::Exp, &[], self)
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
        unary(Unary::Ln, &[], self)
    }

    /// The absolute value, elementwise. Derivative `sign(x)`, taken as 0 at the kink `x = 0`
    /// (as PyTorch does).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[-2.0, 0.0, 3.0]));
    /// let y = x.abs();
    /// assert_eq!(&*y.values(), &[2.0, 0.0, 3.0]);
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[-1.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    #[inline]
    pub fn abs(self) -> Self {
        unary(Unary::Abs, &[], self)
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
        unary(Unary::Sqrt, &[], self)
    }
}
