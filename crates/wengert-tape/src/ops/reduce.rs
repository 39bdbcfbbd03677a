//! Reductions to a scalar: sum and mean (F16).

use super::{one_matrix, op_family, BackwardContext, Op};
use crate::registry::{probe, Arity, Domain, Gradient, OpSpec, Reads};
use crate::{Real, Shape, Var};

op_family! {
    /// Reductions to a scalar.
    enum Reduce {
        Sum => OpSpec {
            name: "sum", notes: "F16", formula: "sum", arity: Arity::Fixed(1), reads: Reads::Nothing,
            gradient: Gradient::FromInputs, constants: 0, explain: &["dx_i = g"],
            check: probe!(|v| v[0].sum(), shapes: one_matrix, domain: Domain::ANY),
        },
        Mean => OpSpec {
            name: "mean", notes: "F16", formula: "mean", arity: Arity::Fixed(1), reads: Reads::Nothing,
            gradient: Gradient::FromInputs, constants: 0, explain: &["dx_i = g / M, M = {M}"],
            check: probe!(|v| v[0].mean(), shapes: one_matrix, domain: Domain::ANY),
        },
    }
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Reduce, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Reduce::Sum => sum_backward(ctx),
        Reduce::Mean => mean_backward(ctx),
    }
}

fn sum_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream[0];
    // d(sum x)/dx_i = 1 (F16).
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint.iter_mut().for_each(|a| *a = *a + g);
    }
}

fn mean_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream[0] / T::lit(ctx.input_shape(0).numel() as f64);
    // d(mean x)/dx_i = 1/numel (F16).
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint.iter_mut().for_each(|a| *a = *a + g);
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// The sum of all elements, a scalar. Backward: every element gets the upstream (F16).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]));
    /// let s = x.sum();
    /// assert_eq!(s.value(), 10.0);
    /// assert_eq!(tape.backward(s).wrt_slice(x), &[1.0; 4]);
    /// ```
    #[track_caller]
    pub fn sum(self) -> Self {
        self.tape.record(Op::Reduce(Reduce::Sum), [self], Shape::scalar(), 0, |[x], out| {
            out[0] = x.iter().fold(T::zero(), |s, &v| s + v);
        })
    }

    /// The mean of all elements, a scalar. Backward: `1/numel` each (F16).
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0, 6.0]));
    /// let m = x.mean();
    /// assert_eq!(m.value(), 3.0);
    /// assert_eq!(tape.backward(m).wrt_slice(x), &[0.25; 4]);
    /// ```
    #[track_caller]
    pub fn mean(self) -> Self {
        let n = T::lit(self.shape().numel() as f64);
        self.tape.record(Op::Reduce(Reduce::Mean), [self], Shape::scalar(), 0, |[x], out| {
            out[0] = x.iter().fold(T::zero(), |s, &v| s + v) / n;
        })
    }
}
