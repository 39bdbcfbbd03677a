//! Elementwise functions of one value, `y = f(x)`: neg, exp, ln, sqrt, powi, powf, and a
//! plain number on either side of `+ - * /` (recorded as one node each, the number kept in the
//! value arena after the value). Each op's descriptor, function and derivative side by side.

use super::{numeric_derivative, one_matrix, special, unary_family, Op, TapedContext, UnaryRule};
use crate::registry::{probe, Arity, Domain, OpSpec, Reads};
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
    OpSpec::new(name, Arity::Fixed(1), reads, explain, check).with_constants(constants)
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
        Sin {
            spec: spec("sin", Reads::Input, 0, &["dx = g (.) cos x"],
                probe!(|v| v[0].sin(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.sin(),
            // sin' = cos; reads the input.
            df: |x, y, k| x.cos(),
        }
        Cos {
            spec: spec("cos", Reads::Input, 0, &["dx = -g (.) sin x"],
                probe!(|v| v[0].cos(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.cos(),
            // cos' = -sin; reads the input.
            df: |x, y, k| -x.sin(),
        }
        Tan {
            spec: spec("tan", Reads::Output, 0, &["dx = g (.) (1 + y^2)"],
                probe!(|v| v[0].tan(), shapes: one_matrix, domain: Domain::range(-1.2, 1.2))),
            f: |x, k| x.tan(),
            // tan' = 1 + tan^2; reads the output y.
            df: |x, y, k| T::one() + y * y,
        }
        Asinh {
            spec: spec("asinh", Reads::Input, 0, &["dx = g / sqrt(1 + x^2)"],
                probe!(|v| v[0].asinh(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.asinh(),
            // asinh' x = 1 / sqrt(1 + x^2), as 1 / hypot(1, x) so that x^2 never overflows.
            df: |x, y, k| T::one().hypot(x).recip(),
        }
        Atan {
            spec: spec("atan", Reads::Input, 0, &["dx = g / (1 + x^2)"],
                probe!(|v| v[0].atan(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.atan(),
            // atan' x = 1 / (1 + x^2); reads the input.
            df: |x, y, k| (T::one() + x * x).recip(),
        }
        /// `log(1 + x)`, accurate near 0.
        Log1p {
            spec: spec("log1p", Reads::Input, 0, &["dx = g / (1 + x)"],
                probe!(|v| v[0].log1p(), shapes: one_matrix, domain: Domain::range(-0.8, 3.0))),
            f: |x, k| x.ln_1p(),
            // log1p' x = 1 / (1 + x); reads the input.
            df: |x, y, k| (T::one() + x).recip(),
        }
        /// `e^x - 1`, accurate near 0.
        Expm1 {
            spec: spec("expm1", Reads::Output, 0, &["dx = g (.) (y + 1)"],
                probe!(|v| v[0].expm1(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| x.exp_m1(),
            // expm1' x = e^x = y + 1; reads the output y.
            df: |x, y, k| y + T::one(),
        }
        /// The error function.
        Erf {
            spec: spec("erf", Reads::Input, 0, &["dx = g (.) 2/sqrt(pi) e^(-x^2)"],
                probe!(|v| v[0].erf(), shapes: one_matrix, domain: Domain::ANY)),
            f: |x, k| T::lit(special::erf(x.to_f64().unwrap_or(f64::NAN))),
            // erf' x = 2/sqrt(pi) e^(-x^2); reads the input.
            df: |x, y, k| T::lit(special::TWO_OVER_SQRT_PI) * (-x * x).exp(),
        }
        /// `min(max(x, lo), hi)`, lo and hi kept as the two constants.
        Clamp {
            spec: spec("clamp", Reads::Input, 2, &["dx = g (.) 1[lo <= x <= hi], lo = {c0}, hi = {c1}"],
                probe!(|v| v[0].clamp(-0.5, 0.5), shapes: one_matrix, domain: Domain::off_kinks(&[-0.5, 0.5]))),
            f: |x, k| x.max(k(0)).min(k(1)),
            // clamp' = 1 inside [lo, hi], ends included (as PyTorch), 0 outside; reads the input.
            df: |x, y, k| if x >= k(0) && x <= k(1) { T::one() } else { T::zero() },
        }
        /// `x^n`, n an integer kept as the constant.
        Powi {
            spec: spec("powi", Reads::Input, 1, &["dx = g (.) n x^(n-1), n = {c0}"],
                probe!(|v| v[0].powi(3), shapes: one_matrix, domain: Domain::ANY)),
            // The square, the common case, is told by a comparison of the kept number, before
            // any conversion to an integer and without a call to the powi routine.
            f: |x, k| if k(0) == T::lit(2.0) { x * x } else { x.powi(exponent(k(0))) },
            // (x^n)' = n x^(n-1), and 0 for n = 0; reads the input.
            df: |x, y, k| if k(0) == T::lit(2.0) {
                x + x
            } else {
                match exponent(k(0)) {
                    0 => T::zero(),
                    n => k(0) * x.powi(n - 1),
                }
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
    if shape.is_one_by_one() {
        let k = |i: usize| constants[i];
        return x.tape.record_scalar(op, [x], shape, constants, |[x]| rule.f(x, k), |[x], y| [rule.df(x, y, k)]);
    }
    record_unary_tensor(op, rule, constants, x)
}

#[track_caller]
fn record_unary_tensor<'t, T: Real, R: UnaryRule>(op: Op, rule: R, constants: &[T], x: Var<'t, T>) -> Var<'t, T> {
    let shape = x.shape();
    x.tape.record(op, [x], shape, constants.len(), |[x], out| {
        let (value, kept) = out.split_at_mut(x.len());
        kept.copy_from_slice(constants);
        rule.forward_slice(x, value, |i| constants[i]);
    })
}

/// Records `op(x)` for an op of this family.
#[track_caller]
#[inline(always)]
pub(crate) fn unary<'t, T: Real>(op: Unary, constants: &[T], x: Var<'t, T>) -> Var<'t, T> {
    record_unary(Op::Unary(op), op, constants, x)
}

/// The backward rule of a one-element elementwise node (of this family, an activation or a
/// binary op): adds `upstream x partial` into each input's adjoint, the partials read from
/// where [`crate::Tape::record_scalar`] kept them, right before the value (every node of
/// these families whose shape [`crate::Shape::is_one_by_one`] is recorded there), and marks
/// the inputs with an adjoint as reached. The scalar tape's hot path: no dispatch on the op, no read of an input's value.
/// The partials come from the same rules as the tensor path (`df`, `partials`). Returns
/// false, doing nothing, for any other node.
#[inline(always)]
pub(crate) fn scalar_backward<T: Real>(
    node: &Node,
    (nodes, values): (&[Node], &[T]),
    adjoints: &mut [T],
    reached: &mut [bool],
) -> bool {
    if !node.shape.is_one_by_one() {
        return false;
    }
    let partial = |k: usize| values[node.value_offset - 1 - k];
    let [a, b] = node.input_slots();
    match node.op {
        Op::Unary(_) | Op::Activation(_) => {
            let g = adjoints[node.adjoint_offset];
            send(g * partial(0), a, nodes, adjoints, reached);
        }
        // A one-element output has one-element inputs: broadcasting never shrinks a value.
        Op::Binary(_) => {
            let g = adjoints[node.adjoint_offset];
            send(g * partial(0), a, nodes, adjoints, reached);
            send(g * partial(1), b, nodes, adjoints, reached);
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

/// `1 - v`, one node (a plain number on the left needs a concrete type; this is generic).
#[track_caller]
pub(crate) fn one_minus<'t, T: Real>(v: Var<'t, T>) -> Var<'t, T> {
    unary(Unary::ScalarSub, &[T::one()], v)
}

/// The taped rule of a node of this family: `dx = g (.) f'(x)` ([`vjp`]). A
/// piecewise-constant derivative (abs, clamp) is a constant mask from the values, so its own
/// derivative is 0 (abs'' = 0, clamp'' = 0).
pub(crate) fn taped<T: Real>(op: Unary, ctx: &mut TapedContext<'_, T>) {
    if !ctx.wants(0) {
        return;
    }
    let k = ctx.constants(op.constants());
    let dx = vjp(op, ctx.upstream, ctx.input(0), ctx.output, &k, |g| g * ctx.constant(&numeric_derivative(op, ctx)));
    ctx.send(0, dx);
}

/// True for the ops whose [`vjp`] is `-g` (neg, `c - x`): the walk's one-element path
/// subtracts `g` from the input's adjoint rather than recording `-g` and adding it.
#[inline(always)]
pub(crate) fn negates(op: Unary) -> bool {
    matches!(op, Unary::Neg | Unary::ScalarSub)
}

/// `dx = g (.) f'(x)` for upstream `g`, input `x` and output `y`, with `f'` written in `Var`
/// ops so that it can be differentiated again; `k` holds the op's constants. `masked(g)`
/// records `g` times abs's or clamp's derivative, a constant from the values (a tensor in
/// the walk's general path, a number in its one-element path, `grad.rs`).
#[inline(always)]
pub(crate) fn vjp<'t, T: Real>(
    op: Unary,
    g: Var<'t, T>,
    x: Var<'t, T>,
    y: Var<'t, T>,
    k: &[T],
    masked: impl FnOnce(Var<'t, T>) -> Var<'t, T>,
) -> Var<'t, T> {
    match op {
        Unary::Neg | Unary::ScalarSub => -g,
        Unary::Exp => g * y,
        Unary::Ln => g / x,
        Unary::Sqrt => g / (y * T::lit(2.0)),
        Unary::Abs | Unary::Clamp => masked(g),
        Unary::Sin => g * x.cos(),
        Unary::Cos => -(g * x.sin()),
        Unary::Tan => g * (y * y + T::one()),
        Unary::Asinh => g / (x * x + T::one()).sqrt(),
        Unary::Atan => g / (x * x + T::one()),
        Unary::Log1p => g / (x + T::one()),
        Unary::Expm1 => g * (y + T::one()),
        Unary::Erf => g * (-(x * x)).exp() * T::lit(special::TWO_OVER_SQRT_PI),
        // (x^n)' = n x^(n-1); 0 for n = 0. The square's is 2 x g, with no node for x^1.
        Unary::Powi => match exponent(k[0]) {
            0 => g * T::zero(),
            1 => g,
            2 => g * x * k[0],
            n => g * x.powi(n - 1) * k[0],
        },
        Unary::Powf if k[0] == T::zero() => g * T::zero(),
        Unary::Powf => g * x.powf(k[0] - T::one()) * k[0],
        Unary::AddScalar => g,
        Unary::MulScalar => g * k[0],
        Unary::DivScalar => g / k[0],
        // d(c / x) = -y / x.
        Unary::ScalarDiv => -(g * y / x),
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

    /// The sine, elementwise. Derivative `cos x`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(0.0);
    /// let y = x.sin();
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (0.0, 1.0));
    /// ```
    #[track_caller]
    #[inline]
    pub fn sin(self) -> Self {
        unary(Unary::Sin, &[], self)
    }

    /// The cosine, elementwise. Derivative `-sin x`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(std::f64::consts::FRAC_PI_2);
    /// assert_eq!(tape.backward(x.cos()).wrt(x), -1.0);
    /// ```
    #[track_caller]
    #[inline]
    pub fn cos(self) -> Self {
        unary(Unary::Cos, &[], self)
    }

    /// The tangent, elementwise. Derivative `1 + tan^2 x` (read from the output).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(std::f64::consts::FRAC_PI_4);
    /// let g = tape.backward(x.tan()).wrt(x);
    /// assert!((g - 2.0).abs() < 1e-15);
    /// ```
    #[track_caller]
    #[inline]
    pub fn tan(self) -> Self {
        unary(Unary::Tan, &[], self)
    }

    /// The inverse hyperbolic sine, elementwise. Derivative `1 / sqrt(1 + x^2)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(0.75);
    /// assert_eq!(tape.backward(x.asinh()).wrt(x), 0.8); // 1 / sqrt(1 + 9/16) = 4/5
    /// ```
    #[track_caller]
    #[inline]
    pub fn asinh(self) -> Self {
        unary(Unary::Asinh, &[], self)
    }

    /// The arctangent, elementwise. Derivative `1 / (1 + x^2)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(1.0);
    /// let y = x.atan();
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (std::f64::consts::FRAC_PI_4, 0.5));
    /// ```
    #[track_caller]
    #[inline]
    pub fn atan(self) -> Self {
        unary(Unary::Atan, &[], self)
    }

    /// `log(1 + x)`, elementwise, accurate for `x` near 0 (where `(1 + x).ln()` loses the
    /// digits of x). Derivative `1 / (1 + x)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(1e-18);
    /// let y = x.log1p();
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (1e-18, 1.0));
    /// ```
    #[track_caller]
    #[inline]
    pub fn log1p(self) -> Self {
        unary(Unary::Log1p, &[], self)
    }

    /// `e^x - 1`, elementwise, accurate for `x` near 0. Derivative `e^x`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(1e-18);
    /// let y = x.expm1();
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (1e-18, 1.0));
    /// ```
    #[track_caller]
    #[inline]
    pub fn expm1(self) -> Self {
        unary(Unary::Expm1, &[], self)
    }

    /// The error function `erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt`, elementwise, accurate to
    /// a few ulps over the whole line. Derivative `2/sqrt(pi) e^(-x^2)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(0.0);
    /// let y = x.erf();
    /// assert_eq!((y.value(), tape.backward(y).wrt(x)), (0.0, std::f64::consts::FRAC_2_SQRT_PI));
    /// ```
    #[track_caller]
    #[inline]
    pub fn erf(self) -> Self {
        unary(Unary::Erf, &[], self)
    }

    /// `x` limited to `[lo, hi]`, elementwise. Derivative 1 inside `[lo, hi]` (its ends
    /// included, as PyTorch does) and 0 outside.
    ///
    /// # Panics
    ///
    /// If `lo > hi` or either is NaN.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[-2.0, 0.5, 3.0]));
    /// let y = x.clamp(-1.0, 1.0);
    /// assert_eq!(&*y.values(), &[-1.0, 0.5, 1.0]);
    /// assert_eq!(tape.backward(y.sum()).wrt_slice(x), &[0.0, 1.0, 0.0]);
    /// ```
    #[track_caller]
    #[inline]
    pub fn clamp(self, lo: T, hi: T) -> Self {
        assert!(lo <= hi, "clamp: the lower bound {lo} is above the upper bound {hi}, on {}", self.shape());
        unary(Unary::Clamp, &[lo, hi], self)
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
