//! Elementwise activations `a = f(z)`. The sweep never builds the diagonal Jacobian:
//! dL/dz = dL/da (.) f'(z) (F1). Each rule reads the value its doc line names.

use super::{map_backward, map_forward, BackwardContext, ElementwiseRule, Op};
use crate::{Real, Var};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Softplus,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Softplus => "softplus",
        }
    }

    fn forward<T: Real>(self, z: &[T], a: &mut [T]) {
        match self {
            Activation::Sigmoid => map_forward(Sigmoid, z, a),
            Activation::Tanh => map_forward(Tanh, z, a),
            Activation::Relu => map_forward(Relu, z, a),
            Activation::Softplus => map_forward(Softplus, z, a),
        }
    }
}

#[inline]
pub(crate) fn backward<T: Real>(op: Activation, ctx: &mut BackwardContext<'_, T>) {
    let (z, a, g) = (ctx.input(0), ctx.output(), ctx.upstream);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    match op {
        Activation::Sigmoid => map_backward(Sigmoid, z, a, g, z_adjoint),
        Activation::Tanh => map_backward(Tanh, z, a, g, z_adjoint),
        Activation::Relu => map_backward(Relu, z, a, g, z_adjoint),
        Activation::Softplus => map_backward(Softplus, z, a, g, z_adjoint),
    }
}

#[track_caller]
fn activation<'t, T: Real>(op: Activation, z: Var<'t, T>) -> Var<'t, T> {
    let shape = z.shape();
    z.tape.record(Op::Activation(op), [z], shape, 0, |[z], a| op.forward(z, a))
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

#[derive(Clone, Copy)]
struct Sigmoid;
impl<T: Real> ElementwiseRule<T> for Sigmoid {
    fn f(self, z: T) -> T {
        stable_sigmoid(z)
    }
    /// sigmoid' = s(1 - s) (F2); reads the output s.
    fn df(self, _z: T, s: T) -> T {
        s * (T::one() - s)
    }
}

#[derive(Clone, Copy)]
struct Tanh;
impl<T: Real> ElementwiseRule<T> for Tanh {
    fn f(self, z: T) -> T {
        z.tanh()
    }
    /// tanh' = 1 - t^2 (F3); reads the output t.
    fn df(self, _z: T, t: T) -> T {
        T::one() - t * t
    }
}

#[derive(Clone, Copy)]
struct Relu;
impl<T: Real> ElementwiseRule<T> for Relu {
    fn f(self, z: T) -> T {
        z.max(T::zero())
    }
    /// relu' = 1[z > 0], so relu'(0) = 0 as in PyTorch and JAX (F5); reads the input z.
    fn df(self, z: T, _a: T) -> T {
        if z > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
}

#[derive(Clone, Copy)]
struct Softplus;
impl<T: Real> ElementwiseRule<T> for Softplus {
    fn f(self, z: T) -> T {
        stable_softplus(z)
    }
    /// softplus' = sigmoid(z) (F4); reads the input z.
    fn df(self, z: T, _a: T) -> T {
        stable_sigmoid(z)
    }
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
        activation(Activation::Sigmoid, self)
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
        activation(Activation::Tanh, self)
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
        activation(Activation::Relu, self)
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
        activation(Activation::Softplus, self)
    }
}
