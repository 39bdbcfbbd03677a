//! Every operation the tape knows, one family per file, each op's descriptor, forward and
//! backward side by side.
//!
//! | file | ops | formulas |
//! | --- | --- | --- |
//! | `source.rs` | var, constant, detach | G1 |
//! | `unary.rs` | neg, exp, ln, sqrt, powi, powf, a number on either side, sin, cos, ... | scalar calculus |
//! | `binary.rs` | `+ - * /`, pow, maximum, minimum, atan2, with broadcasting | scalar calculus |
//! | `activation.rs` | sigmoid, tanh, relu, softplus, leaky_relu, elu, gelu, silu | F1-F5 |
//! | `linear.rs` | matmul, add_bias | F15 |
//! | `softmax.rs` | softmax, log_softmax, logsumexp (row-wise); softmax, log_softmax along either axis | F6 |
//! | `loss.rs` | cross_entropy, softmax_cross_entropy, bce_with_logits, mse | F7-F14 |
//! | `reduce.rs` | sum, mean; along an axis: sum, mean, max, min (ties split evenly), logsumexp, var | F16 |
//! | `layout.rs` | t, reshape, slice_rows, slice_cols, concat, stack, element, gather_rows, where | - |
//!
//! Adding an op to a family touches that family's file and its entry in
//! `docs/derivations.md`, nothing else: the family's enum, its descriptor ([`OpSpec`]) and
//! every `match` over it live in that file, and the compiler points at each arm to fill.
//!
//! A rule adds into its inputs' adjoints, never assigns: an input may feed other nodes too.

pub(crate) mod activation;
pub(crate) mod binary;
pub(crate) mod layout;
pub(crate) mod linear;
pub(crate) mod loss;
pub(crate) mod reduce;
pub(crate) mod softmax;
pub(crate) mod source;
mod special;
pub(crate) mod unary;

use crate::custom::CustomOp;
use crate::registry::{Arity, Check, OpSpec, Reads};
use crate::tape::{Node, NO_ADJOINT};
use crate::{Real, Shape};
pub(crate) use activation::Activation;
pub(crate) use binary::Binary;
pub(crate) use layout::Layout;
pub(crate) use linear::Linear;
pub(crate) use loss::Loss;
pub(crate) use reduce::Reduce;
pub(crate) use softmax::Rowwise;
pub(crate) use source::Source;
use std::rc::Rc;
pub(crate) use unary::{scalar_backward, Unary};

/// The operation of a node: its family, and the op within it. Fieldless all the way down
/// (an op's numbers live in the value arena after its value, its indices in the node's
/// spare input slot), so that a node stays 40 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Source(Source),
    Unary(Unary),
    Activation(Activation),
    Binary(Binary),
    Linear(Linear),
    Rowwise(Rowwise),
    Loss(Loss),
    Reduce(Reduce),
    Layout(Layout),
    /// A user's op: its index among the tape's custom ops is the node's spare slot.
    Custom,
}

impl Op {
    /// The op's descriptor.
    #[inline(always)]
    pub fn spec(self) -> &'static OpSpec {
        match self {
            Op::Source(op) => op.spec(),
            Op::Unary(op) => op.spec(),
            Op::Activation(op) => op.spec(),
            Op::Binary(op) => op.spec(),
            Op::Linear(op) => op.spec(),
            Op::Rowwise(op) => op.spec(),
            Op::Loss(op) => op.spec(),
            Op::Reduce(op) => op.spec(),
            Op::Layout(op) => op.spec(),
            Op::Custom => &crate::custom::SPEC,
        }
    }

    /// Every built-in op, family by family, and the custom op.
    pub fn all() -> impl Iterator<Item = Op> {
        (Source::ALL.iter().map(|&op| Op::Source(op)))
            .chain(Unary::ALL.iter().map(|&op| Op::Unary(op)))
            .chain(Activation::ALL.iter().map(|&op| Op::Activation(op)))
            .chain(Binary::ALL.iter().map(|&op| Op::Binary(op)))
            .chain(Linear::ALL.iter().map(|&op| Op::Linear(op)))
            .chain(Rowwise::ALL.iter().map(|&op| Op::Rowwise(op)))
            .chain(Loss::ALL.iter().map(|&op| Op::Loss(op)))
            .chain(Reduce::ALL.iter().map(|&op| Op::Reduce(op)))
            .chain(Layout::ALL.iter().map(|&op| Op::Layout(op)))
            .chain(std::iter::once(Op::Custom))
    }

    /// The op's name, as user-facing messages spell it (a custom op's own name is in
    /// [`node_op_name`]).
    #[inline]
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// True if the inputs of a node of this op are in the tape's side list.
    #[inline(always)]
    pub fn is_variadic(self) -> bool {
        matches!(self.spec().arity, Arity::Variadic)
    }
}

/// The name of node `node`'s op, with a custom op's own name: the one op-name function.
pub(crate) fn node_op_name<T: Real>(node: &Node, custom_ops: &[Rc<dyn CustomOp<T>>]) -> &'static str {
    match node.op {
        Op::Custom => custom_ops[node.aux() as usize].name(),
        op => op.name(),
    }
}

/// Declares a family of ops: a fieldless enum, the list of its ops (`ALL`, read by the
/// registry and so by the property suite) and one [`OpSpec`] per op, all from one list.
macro_rules! op_family {
    (
        $(#[$meta:meta])*
        enum $family:ident {
            $( $(#[$op_meta:meta])* $op:ident => $spec:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $family {
            $( $(#[$op_meta])* $op ),*
        }

        impl $family {
            /// Every op of the family, in declaration order.
            pub(crate) const ALL: &'static [$family] = &[$($family::$op),*];
            const SPECS: &'static [$crate::registry::OpSpec] = &[$($spec),*];

            /// The op's descriptor.
            #[inline(always)]
            pub(crate) fn spec(self) -> &'static $crate::registry::OpSpec {
                &Self::SPECS[self as usize]
            }
        }
    };
}
pub(crate) use op_family;

/// Declares a family of elementwise functions of one value, `y = f(x; constants)`: for each
/// op its descriptor, `f` and its derivative `df` side by side. `k(i)` reads the op's i-th
/// constant; `df` gets the input `x` and the output `y`, and reads what its descriptor says.
macro_rules! unary_family {
    (
        $(#[$meta:meta])*
        enum $family:ident {
            $(
                $(#[$op_meta:meta])*
                $op:ident {
                    spec: $spec:expr,
                    f: |$x:ident, $k:ident| $f:expr,
                    df: |$dx:ident, $dy:ident, $dk:ident| $df:expr $(,)?
                }
            )*
        }
    ) => {
        $crate::ops::op_family! {
            $(#[$meta])*
            enum $family { $( $(#[$op_meta])* $op => $spec ),* }
        }

        impl $crate::ops::UnaryRule for $family {
            #[inline(always)]
            #[allow(unused_variables)]
            fn f<T: $crate::Real>(self, x: T, k: impl Fn(usize) -> T) -> T {
                match self {
                    $( $family::$op => { let ($x, $k) = (x, &k); $f } )*
                }
            }

            #[inline(always)]
            #[allow(unused_variables)]
            fn df<T: $crate::Real>(self, x: T, y: T, k: impl Fn(usize) -> T) -> T {
                match self {
                    $( $family::$op => { let ($dx, $dy, $dk) = (x, y, &k); $df } )*
                }
            }

            #[inline(always)]
            fn constants(self) -> usize {
                self.spec().constants
            }

            #[allow(unused_variables)]
            fn forward_slice<T: $crate::Real>(self, input: &[T], output: &mut [T], k: impl Fn(usize) -> T) {
                // One loop per op, the match outside it: each loop is the op's own, and
                // vectorises where the function allows.
                match self {
                    $( $family::$op => {
                        for (out, &x) in output.iter_mut().zip(input) {
                            let ($x, $k) = (x, &k);
                            *out = $f;
                        }
                    } )*
                }
            }

            #[allow(unused_variables)]
            fn backward_slice<T: $crate::Real>(
                self,
                (input, output): (&[T], &[T]),
                upstream: &[T],
                input_adjoint: &mut [T],
                k: impl Fn(usize) -> T,
            ) {
                match self {
                    $( $family::$op => {
                        for (((adjoint, &g), &x), &y) in input_adjoint.iter_mut().zip(upstream).zip(input).zip(output) {
                            let ($dx, $dy, $dk) = (x, y, &k);
                            *adjoint = *adjoint + g * $df;
                        }
                    } )*
                }
            }
        }
    };
}
pub(crate) use unary_family;

/// Declares a family of elementwise functions of two values, `y = f(a, b)`, broadcast over
/// each other: for each op its descriptor, `f` and its partial derivatives side by side.
macro_rules! binary_family {
    (
        $(#[$meta:meta])*
        enum $family:ident {
            $(
                $(#[$op_meta:meta])*
                $op:ident {
                    spec: $spec:expr,
                    f: |$a:ident, $b:ident| $f:expr,
                    partials: |$pa:ident, $pb:ident, $py:ident| $partials:expr $(,)?
                }
            )*
        }
    ) => {
        $crate::ops::op_family! {
            $(#[$meta])*
            enum $family { $( $(#[$op_meta])* $op => $spec ),* }
        }

        impl $family {
            /// `f(a, b)`.
            #[inline(always)]
            pub(crate) fn f<T: $crate::Real>(self, a: T, b: T) -> T {
                match self {
                    $( $family::$op => { let ($a, $b) = (a, b); $f } )*
                }
            }

            /// The partial derivatives `(dy/da, dy/db)` at `(a, b)`, with `y = f(a, b)`.
            #[inline(always)]
            #[allow(unused_variables)]
            pub(crate) fn partials<T: $crate::Real>(self, a: T, b: T, y: T) -> (T, T) {
                match self {
                    $( $family::$op => { let ($pa, $pb, $py) = (a, b, y); $partials } )*
                }
            }

            /// `out = f(a, b)` over the broadcast `layout`. One loop per op, the match
            /// outside it.
            pub(crate) fn forward_slice<T: $crate::Real>(self, layout: &$crate::ops::binary::Broadcast, a: &[T], b: &[T], out: &mut [T]) {
                match self {
                    $( $family::$op => layout.forward(a, b, out, |$a, $b| $f), )*
                }
            }

            /// Adds `g (.) dy/da` into `a_adjoint` and `g (.) dy/db` into `b_adjoint` (each if
            /// given), summed over the axes the input was broadcast along.
            #[allow(unused_variables)]
            pub(crate) fn backward_slice<T: $crate::Real>(
                self,
                layout: &$crate::ops::binary::Broadcast,
                values: (&[T], &[T], &[T]),
                upstream: &[T],
                adjoints: (Option<&mut [T]>, Option<&mut [T]>),
            ) {
                match self {
                    $( $family::$op => layout.backward(values, upstream, adjoints, |$pa, $pb, $py| $partials), )*
                }
            }
        }
    };
}
pub(crate) use binary_family;

/// An elementwise function of one value and its derivative (a [`unary_family`] op).
pub(crate) trait UnaryRule: Copy {
    /// `f(x)`; `k(i)` is the op's i-th constant.
    fn f<T: Real>(self, x: T, k: impl Fn(usize) -> T) -> T;
    /// `f'(x)`, given `x` and `y = f(x)`.
    fn df<T: Real>(self, x: T, y: T, k: impl Fn(usize) -> T) -> T;
    /// How many constants the op keeps after its value.
    fn constants(self) -> usize;
    /// `output[i] = f(input[i])`.
    fn forward_slice<T: Real>(self, input: &[T], output: &mut [T], k: impl Fn(usize) -> T);
    /// `input_adjoint[i] += upstream[i] f'(input[i])`, given the output too.
    fn backward_slice<T: Real>(
        self,
        values: (&[T], &[T]),
        upstream: &[T],
        input_adjoint: &mut [T],
        k: impl Fn(usize) -> T,
    );
}

/// What a backward rule sees of one node during the sweep: the values of its inputs and
/// of itself, the adjoint it received (`upstream`), and the adjoints of its inputs.
pub(crate) struct BackwardContext<'a, T> {
    pub nodes: &'a [Node],
    pub values: &'a [T],
    pub indices: &'a [usize],
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

    /// The `len` elements the op stored right after its value (its constants, or scratch).
    #[inline]
    pub fn scratch(&self, len: usize) -> &'a [T] {
        let start = self.node.value_offset + self.node.shape.numel();
        &self.values[start..start + len]
    }

    /// Where input `k`'s adjoint starts in [`BackwardContext::lower_adjoints`], or `None` if
    /// that input needs no gradient.
    #[inline]
    pub fn adjoint_offset(&self, k: usize) -> Option<usize> {
        let node = self.input_node(k);
        (node.adjoint_offset != NO_ADJOINT).then_some(node.adjoint_offset)
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

/// Runs the backward rule of one node: one arm per family, each family's own `match`
/// holding its ops' rules.
#[inline(always)]
pub(crate) fn backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    match ctx.node.op {
        Op::Source(_) => {}
        Op::Custom => crate::custom::backward(&*ctx.custom_ops[ctx.node.aux() as usize], ctx),
        Op::Unary(op) => unary_backward(op, ctx),
        Op::Activation(op) => unary_backward(op, ctx),
        Op::Binary(op) => binary::backward(op, ctx),
        Op::Linear(op) => linear::backward(op, ctx),
        Op::Rowwise(op) => softmax::backward(op, ctx),
        Op::Loss(op) => loss::backward(op, ctx),
        Op::Reduce(op) => reduce::backward(op, ctx),
        Op::Layout(op) => layout::backward(op, ctx),
    }
}

/// The backward rule of every elementwise function of one value: adds `upstream (.) f'`
/// into the input's adjoint (F1); the diagonal Jacobian is never built.
#[inline]
pub(crate) fn unary_backward<T: Real, R: UnaryRule>(rule: R, ctx: &mut BackwardContext<'_, T>) {
    let (x, y, g) = (ctx.input(0), ctx.output(), ctx.upstream);
    let constants = ctx.scratch(rule.constants());
    let k = |i: usize| constants[i];
    let Some(x_adjoint) = ctx.adjoint(0) else { return };
    // One element (a scalar tape) skips the zip's length bookkeeping.
    if let ([adjoint], [g], [xi], [yi]) = (&mut *x_adjoint, g, x, y) {
        *adjoint = *adjoint + *g * rule.df(*xi, *yi, k);
        return;
    }
    rule.backward_slice((x, y), g, x_adjoint, k);
}

/// Panics unless `ok`, with a message that names the op and the shapes.
#[track_caller]
pub(crate) fn check_shapes(ok: bool, op: &str, message: impl FnOnce() -> String) {
    if !ok {
        panic!("{op}: {}", message());
    }
}

/// The descriptor of an op of one input (an activation, a reduction): adjoint from its input,
/// its entry anchored at its name.
pub(crate) const fn one_input_spec(
    name: &'static str,
    notes: &'static str,
    reads: Reads,
    constants: usize,
    explain: &'static [&'static str],
    check: Check,
) -> OpSpec {
    OpSpec::new(name, Arity::Fixed(1), reads, explain, check).with_notes(notes).with_constants(constants)
}

/// Input shapes for the property suite: one `[m x n]` matrix.
pub(crate) fn one_matrix(m: usize, n: usize) -> Vec<Shape> {
    vec![Shape::matrix(m, n)]
}

/// Input shapes for the property suite: two `[m x n]` matrices.
pub(crate) fn two_matrices(m: usize, n: usize) -> Vec<Shape> {
    vec![Shape::matrix(m, n), Shape::matrix(m, n)]
}
