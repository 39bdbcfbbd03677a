//! [`Tape::grad`]: the gradient recorded on the tape, as handles, so that it can be read,
//! combined and differentiated again (second and higher derivatives).
//!
//! The walk is the sweep's ([`crate::sweep`]), with handles where the sweep has numbers:
//! from the output down, each reached node's *taped* rule (beside its numeric rule, in its
//! family's file under `src/ops/`) records its inputs' contributions with ordinary `Var`
//! ops, and contributions to one input are summed with `+`. [`Tape::backward`] stays the
//! fast first-order path; nothing here touches it.
//!
//! One-element nodes of the elementwise families (unary, activation, binary: a scalar
//! tape's every node) take a short path, [`Tape::scalar_step`]: one borrow of the recording
//! to read the node, its inputs' handles and the few numbers a piecewise-constant rule needs,
//! then the family's own rule of handles (`vjp` in its file), with no per-node context.

use crate::ops::{self, activation, binary, unary, Activation, Binary, Op, TapedContext, UnaryRule};
use crate::registry::Arity;
use crate::{Real, Tape, Tensor, Var};

/// How many nodes and values the walk reserves per node it will visit (a scalar walk records
/// about 1.6 nodes per node, each with its value and up to two partials): enough that the
/// arenas do not grow while the walk runs, the first time the thread's buffers see a walk.
const NODES_PER_VISIT: usize = 2;
const VALUES_PER_VISIT: usize = 5;

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
        let mut adjoints = vec![NO_ADJOINT_YET; last + 1];
        if leads[last] {
            adjoints[last] = self.constant(&Tensor::full(shape, T::one())).index as u32;
        }
        let lowest = wrt.iter().map(|v| v.index).min().unwrap_or(last).min(last);
        self.reserve_for_walk(leads[lowest..].iter().filter(|&&l| l).count());
        for index in (lowest..=last).rev() {
            if adjoints[index] == NO_ADJOINT_YET || !leads[index] || self.scalar_step(index, &leads, &mut adjoints) {
                continue;
            }
            let upstream = Var { tape: self, index: adjoints[index] as usize, shape: self.shape_of(index) };
            let mut context = TapedContext::new(self, index, upstream, |i| leads[i]);
            ops::taped(&mut context);
            for (&input, contribution) in context.inputs.iter().zip(context.contributions) {
                if let Some(contribution) = contribution {
                    accumulate(&mut adjoints, input, contribution);
                }
            }
        }
        wrt.iter()
            .map(|&v| match adjoints.get(v.index) {
                Some(&slot) if slot != NO_ADJOINT_YET => Var { tape: self, index: slot as usize, shape: v.shape },
                _ => self.constant(&Tensor::zeros(v.shape())),
            })
            .collect()
    }

    /// The shape of node `index`.
    fn shape_of(&self, index: usize) -> crate::Shape {
        self.recording.borrow().nodes[index].shape
    }

    /// The walk's step at one-element node `index` of the unary, activation or binary family,
    /// whose adjoint is `g`: records each wanted input's contribution with the family's rule
    /// of handles and adds it into `adjoints`. Returns false, recording nothing, for any other
    /// node, and for elu and pow, whose rules read the values beyond a mask (the general path
    /// takes them).
    #[inline(always)]
    fn scalar_step<'t>(&'t self, index: usize, leads: &[bool], adjoints: &mut [u32]) -> bool {
        let recording = self.recording.borrow();
        let node = recording.nodes[index];
        if matches!(node.op, Op::Source(_)) {
            return true; // a leaf sends nothing
        }
        let elementwise = matches!(node.op, Op::Unary(_) | Op::Activation(_) | Op::Binary(_));
        let needs_values = matches!(node.op, Op::Activation(Activation::Elu) | Op::Binary(Binary::Pow));
        if !node.shape.is_one_by_one() || !elementwise || needs_values {
            return false;
        }
        let handle = |i: u32| Var { tape: self, index: i as usize, shape: recording.nodes[i as usize].shape };
        let value = |i: u32| recording.values[recording.nodes[i as usize].value_offset];
        let y = Var { tape: self, index, shape: node.shape };
        let g = Var { tape: self, index: adjoints[index] as usize, shape: node.shape };
        let yv = recording.values[node.value_offset];
        let [ia, ib] = node.input_slots();
        let (x, xv) = (handle(ia), value(ia));
        // The op's constants (at most two; none for a binary op) follow its value.
        let count = node.op.spec().constants;
        let mut k = [T::zero(); 2];
        k[..count].copy_from_slice(&recording.values[node.value_offset + 1..][..count]);
        match node.op {
            Op::Unary(op) => {
                drop(recording);
                if leads[x.index] && unary::negates(op) {
                    subtract(adjoints, x, g);
                } else if leads[x.index] {
                    let dx = unary::vjp(op, g, x, y, &k[..count], |g| g * op.df(xv, yv, |i| k[i]));
                    accumulate(adjoints, x, dx);
                }
            }
            Op::Activation(op) => {
                drop(recording);
                if leads[x.index] {
                    let dz = activation::vjp(op, g, x, y, |g| g * op.df(xv, yv, |i| k[i]));
                    accumulate(adjoints, x, dz);
                }
            }
            Op::Binary(op) => {
                let (b, bv) = (handle(ib), value(ib));
                drop(recording);
                if ia == ib
                    && leads[x.index]
                    && x.shape == y.shape
                    && let Some(both) = binary::vjp_same_input(op, g, x)
                {
                    accumulate(adjoints, x, both);
                    return true;
                }
                for (k, input) in [x, b].into_iter().enumerate() {
                    if !leads[input.index] {
                        continue;
                    }
                    if binary::negates(op, k) && input.shape == y.shape {
                        subtract(adjoints, input, g);
                        continue;
                    }
                    let masked = |g: Var<'t, T>| {
                        let (da, db) = op.partials(xv, bv, yv);
                        g * if k == 0 { da } else { db }
                    };
                    let contribution = binary::vjp(op, k, g, [x, b, y], masked);
                    // `[] + [1 x 1]` is `[1 x 1]`: the contribution takes its input's shape.
                    accumulate(adjoints, input, ops::reshaped(contribution, input.shape));
                }
            }
            _ => unreachable!("only elementwise nodes reach here"),
        }
        true
    }

    /// Reserves room in the arenas for what a walk visiting `visits` nodes records.
    fn reserve_for_walk(&self, visits: usize) {
        let mut recording = self.recording_mut();
        recording.nodes.reserve(NODES_PER_VISIT * visits);
        recording.values.reserve(VALUES_PER_VISIT * visits);
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
            let [a, b] = node.input_slots();
            leads[index] = match node.op.spec().arity {
                Arity::Fixed(1) => leads[a as usize],
                Arity::Fixed(2) => leads[a as usize] || leads[b as usize],
                _ => node.inputs(&recording.extra_inputs).iter().any(|&input| leads[input as usize]),
            };
        }
        leads
    }
}

/// Subtracts `g` from `input`'s adjoint, for a rule whose contribution is `-g`
/// ([`unary::negates`], [`binary::negates`]): one node (`sum - g`), where adding the rule's
/// `-g` would record two. `-g` when the input has no adjoint yet.
#[inline(always)]
fn subtract<'t, T: Real>(adjoints: &mut [u32], input: Var<'t, T>, g: Var<'t, T>) {
    let slot = &mut adjoints[input.index];
    let difference =
        if *slot == NO_ADJOINT_YET { -g } else { Var { tape: g.tape, index: *slot as usize, shape: input.shape } - g };
    *slot = difference.index as u32;
}

/// Marks a node the walk has sent nothing to yet, in the walk's adjoint slots.
const NO_ADJOINT_YET: u32 = u32::MAX;

/// Adds `contribution` into `input`'s adjoint (a value used twice collects both). The walk
/// keeps each adjoint as the index of the node that holds it (4 bytes a node, not a handle's
/// 24): the handle is rebuilt from it and the input's shape, which every contribution has.
#[inline(always)]
fn accumulate<'t, T: Real>(adjoints: &mut [u32], input: Var<'t, T>, contribution: Var<'t, T>) {
    let slot = &mut adjoints[input.index];
    let sum = if *slot == NO_ADJOINT_YET {
        contribution
    } else {
        Var { tape: contribution.tape, index: *slot as usize, shape: input.shape } + contribution
    };
    *slot = sum.index as u32;
}
