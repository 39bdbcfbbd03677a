//! Elementwise activations `a = f(z)`. The sweep never builds the diagonal Jacobian:
//! dL/dz = dL/da (.) f'(z) (F1). Each op's descriptor, function and derivative side by side;
//! each derivative reads the value its comment names.

use super::unary::one_minus;
use super::unary::record_unary;
use super::{numeric_derivative, one_input_spec as spec, one_matrix, special, unary_family, Op, TapedContext};
use crate::registry::{probe, Domain, Reads};
use crate::{Real, Tensor, Var};

unary_family! {
    /// An activation function, elementwise.
    enum Activation {
        Sigmoid {
            spec: spec("sigmoid", "F2", Reads::Output, 0, &["dz = g (.) s (1 - s)"],
                probe!(|v| v[0].sigmoid(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| stable_sigmoid(z),
            // sigmoid' = s(1 - s) (F2); reads the output s.
            df: |z, s, k| s * (T::one() - s),
        }
        Tanh {
            spec: spec("tanh", "F3", Reads::Output, 0, &["dz = g (.) (1 - t^2)"],
                probe!(|v| v[0].tanh(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| z.tanh(),
            // tanh' = 1 - t^2 (F3); reads the output t.
            df: |z, t, k| T::one() - t * t,
        }
        Relu {
            spec: spec("relu", "F5", Reads::Input, 0, &["dz = g (.) 1[z > 0]"],
                probe!(|v| v[0].relu(), shapes: one_matrix, domain: Domain::off_kinks(&[0.0]))),
            f: |z, k| z.max(T::zero()),
            // relu' = 1[z > 0], so relu'(0) = 0 as in PyTorch and JAX (F5); reads the input z.
            df: |z, a, k| if z > T::zero() { T::one() } else { T::zero() },
        }
        Softplus {
            spec: spec("softplus", "F4", Reads::Input, 0, &["dz = g (.) sigmoid(z)"],
                probe!(|v| v[0].softplus(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| stable_softplus(z),
            // softplus' = sigmoid(z) (F4); reads the input z.
            df: |z, a, k| stable_sigmoid(z),
        }
        /// `z` for `z > 0`, `slope z` otherwise; the slope kept as the constant.
        LeakyRelu {
            spec: spec("leaky_relu", "", Reads::Input, 1, &["dz = g (.) (1 if z > 0, else slope), slope = {c0}"],
                probe!(|v| v[0].leaky_relu(0.1), shapes: one_matrix, domain: Domain::off_kinks(&[0.0]))),
            f: |z, k| if z > T::zero() { z } else { k(0) * z },
            // leaky_relu' = 1 for z > 0, the slope otherwise (z = 0 included, as PyTorch).
            df: |z, a, k| if z > T::zero() { T::one() } else { k(0) },
        }
        /// `z` for `z > 0`, `alpha (e^z - 1)` otherwise; alpha kept as the constant.
        Elu {
            spec: spec("elu", "", Reads::Both, 1, &["dz = g (.) (1 if z > 0, else a + alpha), alpha = {c0}"],
                probe!(|v| v[0].elu(0.7), shapes: one_matrix, domain: Domain::off_kinks(&[0.0]))),
            f: |z, k| if z > T::zero() { z } else { k(0) * z.exp_m1() },
            // elu' = 1 for z > 0, alpha e^z = a + alpha otherwise; reads the input and output.
            df: |z, a, k| if z > T::zero() { T::one() } else { a + k(0) },
        }
        /// `z Phi(z)`, Phi the standard normal distribution function (the exact, erf form).
        Gelu {
            spec: spec("gelu", "", Reads::Input, 0, &["dz = g (.) (Phi(z) + z phi(z))"],
                probe!(|v| v[0].gelu(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| z * normal_cdf(z),
            // gelu' = Phi(z) + z phi(z), phi the normal density; reads the input.
            df: |z, a, k| normal_cdf(z) + z * normal_pdf(z),
        }
        /// `z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))`, the tanh approximation of gelu.
        GeluTanh {
            spec: spec("gelu_tanh", "", Reads::Input, 0,
                &["dz = g (.) (1/2 (1 + t) + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 c z^2))"],
                probe!(|v| v[0].gelu_tanh(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| T::lit(0.5) * z * (T::one() + gelu_tanh_inner(z).tanh()),
            // With t = tanh(u), u = sqrt(2/pi) (z + c z^3), c = 0.044715:
            // gelu_tanh' = (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 c z^2); reads the input.
            df: |z, a, k| {
                let t = gelu_tanh_inner(z).tanh();
                let du = T::lit(SQRT_2_OVER_PI) * (T::one() + T::lit(3.0 * GELU_C) * z * z);
                T::lit(0.5) * (T::one() + t) + T::lit(0.5) * z * (T::one() - t * t) * du
            },
        }
        /// `z sigmoid(z)` (swish with beta = 1).
        Silu {
            spec: spec("silu", "", Reads::Input, 0, &["dz = g (.) s (1 + z (1 - s)), s = sigmoid(z)"],
                probe!(|v| v[0].silu(), shapes: one_matrix, domain: Domain::ANY)),
            f: |z, k| z * stable_sigmoid(z),
            // silu' = s + z s (1 - s) = s (1 + z (1 - s)); reads the input.
            df: |z, a, k| {
                let s = stable_sigmoid(z);
                s * (T::one() + z * (T::one() - s))
            },
        }
    }
}

/// `sqrt(2 / pi)`.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh form of gelu.
const GELU_C: f64 = 0.044_715;

/// `sqrt(2/pi) (z + 0.044715 z^3)`, the argument of tanh in the tanh form of gelu.
#[inline(always)]
fn gelu_tanh_inner<T: Real>(z: T) -> T {
    T::lit(SQRT_2_OVER_PI) * (z + T::lit(GELU_C) * z * z * z)
}

/// The standard normal distribution function, `Phi(z) = erfc(-z / sqrt 2) / 2`: from erfc,
/// so that the left tail keeps its digits (`Phi(-30)` is about 5e-198, not 0).
#[inline]
fn normal_cdf<T: Real>(z: T) -> T {
    let z = z.to_f64().unwrap_or(f64::NAN);
    T::lit(0.5 * special::erfc(-z * std::f64::consts::FRAC_1_SQRT_2))
}

/// The standard normal density, `phi(z) = e^(-z^2/2) / sqrt(2 pi)`.
#[inline]
fn normal_pdf<T: Real>(z: T) -> T {
    T::lit(0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2) * (-z * z * T::lit(0.5)).exp()
}

/// The logistic function, `1 / (1 + e^-z)`, computed as `e^z / (1 + e^z)` for `z < 0`:
/// `e^-|z|` never overflows, so it is finite and accurate at +/-1000 (F2).
#[inline(always)]
pub(crate) fn stable_sigmoid<T: Real>(z: T) -> T {
    let e = (-z.abs()).exp();
    if z >= T::zero() {
        (T::one() + e).recip()
    } else {
        e / (T::one() + e)
    }
}

/// `log(1 + e^z)` as `max(z, 0) + log1p(e^-|z|)`: no overflow, no cancellation (F4).
#[inline(always)]
pub(crate) fn stable_softplus<T: Real>(z: T) -> T {
    z.max(T::zero()) + (-z.abs()).exp().ln_1p()
}

/// The taped rule of a node of this family: `dz = g (.) f'(z)` ([`vjp`]). relu's and
/// leaky_relu's derivatives are constant masks from the values (relu'' = 0, and leaky_relu's
/// slope has derivative 0); elu's is a mask between 1 and `a + alpha`.
pub(crate) fn taped<T: Real>(op: Activation, ctx: &mut TapedContext<'_, T>) {
    if !ctx.wants(0) {
        return;
    }
    let (g, z, a) = (ctx.upstream, ctx.input(0), ctx.output);
    let dz = match op {
        Activation::Elu => {
            let alpha = ctx.constants(1)[0];
            let zs = ctx.input_values(0);
            let positive = Tensor::from_fn(z.shape(), |i| if zs[i] > T::zero() { T::one() } else { T::zero() });
            g * Var::where_(&positive, ctx.constant(&Tensor::scalar(T::one())), a + alpha)
        }
        _ => vjp(op, g, z, a, |g| g * ctx.constant(&numeric_derivative(op, ctx))),
    };
    ctx.send(0, dz);
}

/// `dz = g (.) f'(z)` for upstream `g`, input `z` and output `a`, with `f'` written in `Var`
/// ops so that it can be differentiated again. `masked(g)` records `g` times relu's or
/// leaky_relu's derivative, a constant from the values (a tensor in the walk's general path,
/// a number in its one-element path, `grad.rs`). Not for elu, whose derivative is a mask
/// of the values between two handles: its rule is [`taped`]'s.
#[inline(always)]
pub(crate) fn vjp<'t, T: Real>(
    op: Activation,
    g: Var<'t, T>,
    z: Var<'t, T>,
    a: Var<'t, T>,
    masked: impl FnOnce(Var<'t, T>) -> Var<'t, T>,
) -> Var<'t, T> {
    let half = T::lit(0.5);
    let derivative = match op {
        // s' = s (1 - s) (F2).
        Activation::Sigmoid => a * one_minus(a),
        // t' = 1 - t^2 (F3).
        Activation::Tanh => one_minus(a * a),
        Activation::Relu | Activation::LeakyRelu => return masked(g),
        Activation::Softplus => z.sigmoid(),
        Activation::Elu => unreachable!("elu has its rule in taped"),
        // Phi(z) + z phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2, phi(z) = e^(-z^2/2) / sqrt(2 pi).
        Activation::Gelu => {
            let cdf = ((z * T::lit(std::f64::consts::FRAC_1_SQRT_2)).erf() + T::one()) * half;
            let pdf = (z * z * -half).exp()
                * T::lit(0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2);
            cdf + z * pdf
        }
        // (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 c z^2), t = tanh(sqrt(2/pi) (z + c z^3)).
        Activation::GeluTanh => {
            let t = ((z + z.powi(3) * T::lit(GELU_C)) * T::lit(SQRT_2_OVER_PI)).tanh();
            let du = (z * z * T::lit(3.0 * GELU_C) + T::one()) * T::lit(SQRT_2_OVER_PI);
            (t + T::one()) * half + z * half * one_minus(t * t) * du
        }
        // s (1 + z (1 - s)).
        Activation::Silu => {
            let s = z.sigmoid();
            s * (z * one_minus(s) + T::one())
        }
    };
    g * derivative
}

/// Records `op(z)` for an op of this family.
#[track_caller]
#[inline]
fn activation<'t, T: Real>(op: Activation, constants: &[T], z: Var<'t, T>) -> Var<'t, T> {
    record_unary(Op::Activation(op), op, constants, z)
}

impl<'t, T: Real> Var<'t, T> {
    /// The logistic sigmoid `1 / (1 + e^-z)`, elementwise; finite and accurate at +/-1000.
    /// Derivative `s (1 - s)` (F2).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(0.0);
    /// let s = z.sigmoid();
    /// assert_eq!((s.value(), tape.backward(s).wrt(z)), (0.5, 0.25));
    /// ```
    #[track_caller]
    pub fn sigmoid(self) -> Self {
        activation(Activation::Sigmoid, &[], self)
    }

    /// The hyperbolic tangent, elementwise. Derivative `1 - t^2` (F3).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(0.0);
    /// assert_eq!(tape.backward(z.tanh()).wrt(z), 1.0);
    /// ```
    #[track_caller]
    pub fn tanh(self) -> Self {
        activation(Activation::Tanh, &[], self)
    }

    /// `max(0, z)`, elementwise. Derivative `1[z > 0]`: exactly 0 at `z = 0` (F5).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_slice(&[-1.0, 0.0, 2.0]));
    /// let grads = tape.backward(z.relu().sum());
    /// assert_eq!(grads.wrt_slice(z), &[0.0, 0.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn relu(self) -> Self {
        activation(Activation::Relu, &[], self)
    }

    /// `log(1 + e^z)`, elementwise; finite and accurate at +/-1000. Derivative `sigmoid(z)` (F4).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(1000.0);
    /// let a = z.softplus();
    /// assert_eq!((a.value(), tape.backward(a).wrt(z)), (1000.0, 1.0));
    /// ```
    #[track_caller]
    pub fn softplus(self) -> Self {
        activation(Activation::Softplus, &[], self)
    }

    /// `z` for `z > 0`, `slope z` otherwise, elementwise. Derivative 1 for `z > 0` and `slope`
    /// otherwise (at 0 too, as PyTorch).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_slice(&[-2.0, 0.0, 3.0]));
    /// let a = z.leaky_relu(0.1);
    /// assert_eq!(&*a.values(), &[-0.2, 0.0, 3.0]);
    /// assert_eq!(tape.backward(a.sum()).wrt_slice(z), &[0.1, 0.1, 1.0]);
    /// ```
    #[track_caller]
    pub fn leaky_relu(self, slope: T) -> Self {
        activation(Activation::LeakyRelu, &[slope], self)
    }

    /// `z` for `z > 0`, `alpha (e^z - 1)` otherwise, elementwise. Derivative 1 for `z > 0`,
    /// `alpha e^z` otherwise.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(-1.0);
    /// let a = z.elu(1.0);
    /// assert_eq!(a.value(), (-1f64).exp_m1());
    /// assert_eq!(tape.backward(a).wrt(z), (-1f64).exp());
    /// ```
    #[track_caller]
    pub fn elu(self, alpha: T) -> Self {
        activation(Activation::Elu, &[alpha], self)
    }

    /// GELU in its exact form, `z Phi(z)` with `Phi` the standard normal distribution
    /// function (PyTorch's `gelu`, `approximate='none'`), elementwise; accurate in both tails.
    /// Derivative `Phi(z) + z phi(z)`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(0.0);
    /// let a = z.gelu();
    /// assert_eq!((a.value(), tape.backward(a).wrt(z)), (0.0, 0.5));
    /// ```
    #[track_caller]
    pub fn gelu(self) -> Self {
        activation(Activation::Gelu, &[], self)
    }

    /// GELU in its tanh form, `z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))` (PyTorch's
    /// `gelu(approximate='tanh')`), elementwise.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(1.0);
    /// let exact = tape.var(1.0).gelu();
    /// assert!((z.gelu_tanh().value() - exact.value()).abs() < 1e-3);
    /// ```
    #[track_caller]
    pub fn gelu_tanh(self) -> Self {
        activation(Activation::GeluTanh, &[], self)
    }

    /// SiLU (swish), `z sigmoid(z)`, elementwise. Derivative `s (1 + z (1 - s))`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(0.0);
    /// let a = z.silu();
    /// assert_eq!((a.value(), tape.backward(a).wrt(z)), (0.0, 0.5));
    /// ```
    #[track_caller]
    pub fn silu(self) -> Self {
        activation(Activation::Silu, &[], self)
    }
}
