//! Every operation the tape knows, one family per file, forward beside backward.
//!
//! | file | ops | formulas |
//! | --- | --- | --- |
//! | `elementwise.rs` | `+ - * /`, neg, powi, powf, exp, ln, sqrt, and a number on either side | scalar calculus |
//! | `activation.rs` | sigmoid, tanh, relu, softplus | F1-F5 |
//! | `linear.rs` | matmul, add_bias | F15 |
//! | `softmax.rs` | softmax, log_softmax, logsumexp (row-wise) | F6 |
//! | `loss.rs` | cross_entropy, softmax_cross_entropy, bce_with_logits, mse | F7-F14 |
//! | `reduce.rs` | sum, mean | F16 |
//!
//! A rule adds into its inputs' adjoints, never assigns: an input may feed other nodes
//! too. `docs/derivations.md` maps each rule to its formula and to the test that proves it.

pub(crate) mod activation;
pub(crate) mod elementwise;
pub(crate) mod linear;
pub(crate) mod loss;
pub(crate) mod reduce;
pub(crate) mod softmax;

use crate::custom::CustomOp;
use crate::tape::{Node, NO_ADJOINT};
use crate::{Real, Shape};
pub(crate) use activation::Activation;
pub(crate) use elementwise::{scalar_backward, Binary, Unary, UnaryMath};
use std::rc::Rc;

/// The operation of a node, with the constants it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    /// A trainable leaf.
    Parameter,
    /// A leaf without gradient.
    Constant,
    Binary(Binary),
    Unary(Unary),
    Activation(Activation),
    MatMul,
    AddBias,
    Softmax,
    LogSoftmax,
    LogSumExp,
    CrossEntropy,
    /// Mean over rows of `logsumexp(z_i) - z_i[label_i]`; labels live in the tape's label
    /// arena from `labels_start`, one per row; the probabilities follow the value.
    SoftmaxCrossEntropy {
        labels_start: u32,
    },
    BceWithLogits,
    Mse,
    Sum,
    Mean,
    /// A value entered as a constant: no adjoint flows through it.
    Detach,
    /// A user's op: `Op::Custom(i)` is the tape's i-th custom op.
    Custom(u32),
}

impl Op {
    /// The op's name, as user-facing messages spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Parameter => "var",
            Op::Constant => "constant",
            Op::Binary(b) => b.name(),
            Op::Unary(u) => u.name(),
            Op::Activation(a) => a.name(),
            Op::MatMul => "matmul",
            Op::AddBias => "add_bias",
            Op::Softmax => "softmax",
            Op::LogSoftmax => "log_softmax",
            Op::LogSumExp => "logsumexp",
            Op::CrossEntropy => "cross_entropy",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
            Op::BceWithLogits => "bce_with_logits",
            Op::Mse => "mse",
            Op::Sum => "sum",
            Op::Mean => "mean",
            Op::Detach => "detach",
            Op::Custom(_) => "custom",
        }
    }
}

impl Op {
    /// How many inputs a built-in op takes (a custom op's count is kept with its inputs).
    #[inline]
    pub fn arity(&self) -> usize {
        match self {
            Op::Parameter | Op::Constant => 0,
            Op::Unary(_)
            | Op::Activation(_)
            | Op::Softmax
            | Op::LogSoftmax
            | Op::LogSumExp
            | Op::SoftmaxCrossEntropy { .. }
            | Op::Sum
            | Op::Mean
            | Op::Detach => 1,
            Op::Binary(_) | Op::MatMul | Op::AddBias | Op::CrossEntropy | Op::BceWithLogits | Op::Mse => 2,
            Op::Custom(_) => unreachable!("a custom op's inputs are counted in the tape's extra inputs"),
        }
    }
}

/// The name of `op`, with a custom op's own name.
pub(crate) fn op_name<T: Real>(op: &Op, custom_ops: &[Rc<dyn CustomOp<T>>]) -> &'static str {
    match op {
        Op::Custom(index) => custom_ops[*index as usize].name(),
        _ => op.name(),
    }
}

/// What a backward rule sees of one node during the sweep: the values of its inputs and
/// of itself, the adjoint it received (`upstream`), and the adjoints of its inputs.
pub(crate) struct BackwardContext<'a, T> {
    pub nodes: &'a [Node],
    pub values: &'a [T],
    pub labels: &'a [usize],
    pub custom_ops: &'a [Rc<dyn CustomOp<T>>],
    pub node: &'a Node,
    /// The node's inputs' indices.
    pub inputs: &'a [u32],
    /// dL/d(this node's value), one element per element of the value.
    pub upstream: &'a [T],
    /// The adjoint arena below this node's adjoint: every input's adjoint lives there.
    pub lower_adjoints: &'a mut [T],
}

impl<'a, T: Real> BackwardContext<'a, T> {
    #[inline]
    fn input_node(&self, k: usize) -> &'a Node {
        &self.nodes[self.inputs[k] as usize]
    }

    /// The value of input `k`.
    #[inline]
    pub fn input(&self, k: usize) -> &'a [T] {
        let node = self.input_node(k);
        &self.values[node.value_offset..node.value_offset + node.shape.numel()]
    }

    /// The shape of input `k`.
    #[inline]
    pub fn input_shape(&self, k: usize) -> Shape {
        self.input_node(k).shape
    }

    /// This node's own value.
    #[inline]
    pub fn output(&self) -> &'a [T] {
        let start = self.node.value_offset;
        &self.values[start..start + self.node.shape.numel()]
    }

    /// The `len` scratch elements the op stored right after its value.
    #[inline]
    pub fn scratch(&self, len: usize) -> &'a [T] {
        let start = self.node.value_offset + self.node.shape.numel();
        &self.values[start..start + len]
    }

    /// The adjoint of input `k` to add into, or `None` if that input needs no gradient.
    #[inline]
    pub fn adjoint(&mut self, k: usize) -> Option<&mut [T]> {
        let node = self.input_node(k);
        if node.adjoint_offset == NO_ADJOINT {
            return None;
        }
        Some(&mut self.lower_adjoints[node.adjoint_offset..node.adjoint_offset + node.shape.numel()])
    }
}

/// Runs the backward rule of one node: the single `match` that holds every built-in rule.
#[inline(always)]
pub(crate) fn backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    match ctx.node.op {
        Op::Parameter | Op::Constant | Op::Detach => {}
        Op::Custom(index) => crate::custom::backward(&*ctx.custom_ops[index as usize], ctx),
        Op::Binary(op) => elementwise::binary_backward(op, ctx),
        Op::Unary(op) => elementwise::unary_backward(op, ctx),
        Op::Activation(op) => activation::backward(op, ctx),
        Op::MatMul => linear::matmul_backward(ctx),
        Op::AddBias => linear::add_bias_backward(ctx),
        Op::Softmax => softmax::softmax_backward(ctx),
        Op::LogSoftmax => softmax::log_softmax_backward(ctx),
        Op::LogSumExp => softmax::logsumexp_backward(ctx),
        Op::CrossEntropy => loss::cross_entropy_backward(ctx),
        Op::SoftmaxCrossEntropy { labels_start } => loss::softmax_cross_entropy_backward(labels_start as usize, ctx),
        Op::BceWithLogits => loss::bce_with_logits_backward(ctx),
        Op::Mse => loss::mse_backward(ctx),
        Op::Sum => reduce::sum_backward(ctx),
        Op::Mean => reduce::mean_backward(ctx),
    }
}

/// Applies an elementwise rule: `out[i] = f(x[i])`.
pub(crate) fn map_forward<T: Real, R: ElementwiseRule<T>>(rule: R, x: &[T], out: &mut [T]) {
    if let ([y], [v]) = (&mut *out, x) {
        *y = rule.f(*v);
        return;
    }
    for (y, &v) in out.iter_mut().zip(x) {
        *y = rule.f(v);
    }
}

/// Adds `upstream (.) f'` into the input's adjoint (F1): the diagonal Jacobian is never built.
pub(crate) fn map_backward<T: Real, R: ElementwiseRule<T>>(
    rule: R,
    x: &[T],
    y: &[T],
    upstream: &[T],
    x_adjoint: &mut [T],
) {
    // One element (a scalar tape) skips the zip's length bookkeeping.
    if let ([adjoint], [g], [xi], [yi]) = (&mut *x_adjoint, upstream, x, y) {
        *adjoint = *adjoint + *g * rule.df(*xi, *yi);
        return;
    }
    for (((adjoint, &g), &xi), &yi) in x_adjoint.iter_mut().zip(upstream).zip(x).zip(y) {
        *adjoint = *adjoint + g * rule.df(xi, yi);
    }
}

/// One elementwise function and its derivative, side by side.
pub(crate) trait ElementwiseRule<T>: Copy {
    /// The function.
    fn f(self, x: T) -> T;
    /// Its derivative at `x`; `y = f(x)` is passed too, for rules cheaper on the output.
    fn df(self, x: T, y: T) -> T;
}

/// Panics unless `ok`, with a message that names the op and the shapes.
#[track_caller]
pub(crate) fn check_shapes(ok: bool, op: &str, message: impl FnOnce() -> String) {
    if !ok {
        panic!("{op}: {}", message());
    }
}
