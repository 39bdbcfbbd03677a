//! Reductions to a scalar: sum and mean (F16).

use super::{BackwardContext, Op};
use crate::{Real, Shape, Var};

pub(crate) fn sum_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let g = ctx.upstream[0];
    // d(sum x)/dx_i = 1 (F16).
    if let Some(x_adjoint) = ctx.adjoint(0) {
        x_adjoint.iter_mut().for_each(|a| *a = *a + g);
    }
}

pub(crate) fn mean_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
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
        self.tape.record(Op::Sum, [self], Shape::scalar(), 0, |[x], out| {
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
        self.tape.record(Op::Mean, [self], Shape::scalar(), 0, |[x], out| {
            out[0] = x.iter().fold(T::zero(), |s, &v| s + v) / n;
        })
    }
}
