//! Elementwise activations `a = f(z)`. The sweep never builds the diagonal Jacobian:
//! dL/dz = dL/da (.) f'(z) (F1). Each op's descriptor, function and derivative side by side;
//! each derivative reads the value its comment names.

use super::unary::record_unary;
use super::{one_matrix, unary_family, Op};
use crate::registry::{probe, Arity, Check, Domain, Gradient, OpSpec, Reads};
use crate::{Real, Var};

/// A descriptor of this family: one input, adjoint from it.
const fn spec(
    name: &'static str,
    notes: &'static str,
    reads: Reads,
    constants: usize,
    explain: &'static [&'static str],
    check: Check,
) -> OpSpec {
    OpSpec {
        name,
        notes,
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
    }
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
}
