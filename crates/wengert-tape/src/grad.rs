//! [`Tape::grad`]: the gradient recorded on the tape, as handles, so that it can be read,
//! combined and differentiated again (second and higher derivatives).
//!
//! The walk is the sweep's ([`crate::sweep`]), with handles where the sweep has numbers:
//! from the output down, each reached node's *taped* rule (beside its numeric rule, in its
//! family's file under `src/ops/`) records its inputs' contributions with ordinary `Var`
//! ops, and contributions to one input are summed with `+`. [`Tape::backward`] stays the
//! fast first-order path; nothing here touches it.

use crate::ops::{self, Op, TapedContext};
use crate::{Real, Tape, Tensor, Var};

impl<T: Real> Tape<T> {
    /// The gradient of the one-element `output` with respect to each handle of `wrt`, as
    /// handles recorded on this tape: read them with `value()`/`values()`, combine them, and
    /// take `grad` of them again for second and higher derivatives.
    ///
    /// A handle of `wrt` may be any node (a leaf or an intermediate value). One that
    /// `output` does not reach through nodes that need gradients (a constant, a detached
    /// value, a node recorded after `output`, a leaf `output` does not use) gets a zero
    /// constant of its shape. Piecewise-linear ops have second derivative 0 (relu'' = 0,
    /// abs'' = 0, clamp'' = 0; maximum, minimum, max_axis and min_axis split ties as their
    /// first-order rule does): `docs/derivations.md`, "Second derivatives".
    ///
    /// [`Tape::backward`] is the fast path for first derivatives as numbers; `grad` records
    /// a node or a few per op of the walk.
    ///
    /// # Panics
    ///
    /// If `output` has more than one element, a handle belongs to another tape, or the walk
    /// meets a custom op ([`crate::CustomOp`] rules compute numbers, not handles).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(0.5);
    /// let y = x.sin() * x;                     // y = x sin x
    /// let [dy] = tape.grad(y, &[x])[..] else { unreachable!() };
    /// let [d2y] = tape.grad(dy, &[x])[..] else { unreachable!() };
    /// // y' = sin x + x cos x, y'' = 2 cos x - x sin x.
    /// assert!((dy.value() - (0.5f64.sin() + 0.5 * 0.5f64.cos())).abs() < 1e-15);
    /// assert!((d2y.value() - (2.0 * 0.5f64.cos() - 0.5 * 0.5f64.sin())).abs() < 1e-15);
    /// ```
    #[track_caller]
    pub fn grad<'t>(&'t self, output: Var<'t, T>, wrt: &[Var<'t, T>]) -> Vec<Var<'t, T>> {
        assert!(std::ptr::eq(output.tape, self), "grad: the output belongs to another tape");
        for v in wrt {
            assert!(std::ptr::eq(v.tape, self), "grad: a handle of wrt belongs to another tape");
        }
        let shape = output.shape();
        assert!(
            shape.numel() == 1,
            "grad: the output is {shape}, not one element (take grad of a sum, or of a dot product with a vector)"
        );
        let last = output.index;
        let leads = self.leads_to(last, wrt);
        let mut adjoints: Vec<Option<Var<'t, T>>> = vec![None; last + 1];
        if leads[last] {
            adjoints[last] = Some(self.constant(&Tensor::full(shape, T::one())));
        }
        let lowest = wrt.iter().map(|v| v.index).min().unwrap_or(last).min(last);
        for index in (lowest..=last).rev() {
            let Some(upstream) = adjoints[index] else { continue };
            if !leads[index] {
                continue;
            }
            let mut context = TapedContext::new(self, index, upstream, |i| leads[i]);
            ops::taped(&mut context);
            for (input, contribution) in context.inputs.iter().zip(context.contributions) {
                if let Some(contribution) = contribution {
                    let adjoint = &mut adjoints[input.index];
                    *adjoint = Some(match *adjoint {
                        Some(sum) => sum + contribution,
                        None => contribution,
                    });
                }
            }
        }
        wrt.iter()
            .map(|v| match adjoints.get(v.index).copied().flatten() {
                Some(adjoint) => adjoint,
                None => self.constant(&Tensor::zeros(v.shape())),
            })
            .collect()
    }

    /// For every node up to `last`: true if it is a handle of `wrt`, or needs a gradient and
    /// has an input for which this holds. The walk visits only these nodes and sends only to
    /// them.
    fn leads_to(&self, last: usize, wrt: &[Var<'_, T>]) -> Vec<bool> {
        let mut leads = vec![false; last + 1];
        for v in wrt.iter().filter(|v| v.index <= last) {
            leads[v.index] = true;
        }
        let Some(lowest) = wrt.iter().map(|v| v.index).min() else { return leads };
        let recording = self.recording.borrow();
        for index in lowest..=last {
            let node = &recording.nodes[index];
            if leads[index] || !node.requires_grad() || matches!(node.op, Op::Source(_)) {
                continue;
            }
            leads[index] = node.inputs(&recording.extra_inputs).iter().any(|&input| leads[input as usize]);
        }
        leads
    }
}
