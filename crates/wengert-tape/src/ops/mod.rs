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
//! | `layout.rs` | t, reshape, slice_rows, slice_cols, concat, stack, element, gather_rows, scatter_rows, where | - |
//! | `axes.rs` | permute (and flatten, a reshape) | - |
//! | `conv.rs` | conv2d, max_pool2d, avg_pool2d (NCHW, through im2col and the GEMM) | - |
//!
//! Adding an op to a family touches that family's file and its entry in
//! `docs/derivations.md`, nothing else: the family's enum, its descriptor ([`OpSpec`]) and
//! every `match` over it live in that file, and the compiler points at each arm to fill.
//!
//! A rule adds into its inputs' adjoints, never assigns: an input may feed other nodes too.
//!
//! Each family also has a *taped* rule (`taped`), the same vector-Jacobian product written
//! with `Var` ops, so that [`crate::Tape::grad`] records the gradient on the tape, where it
//! can be differentiated again. [`taped`] below matches every family; each family's own
//! `taped` matches every op of it, so a new op without a taped rule does not compile.

pub(crate) mod activation;
pub(crate) mod axes;
pub(crate) mod binary;
pub(crate) mod conv;
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
use crate::{Real, Shape, Tape, Tensor, Var};
pub(crate) use activation::Activation;
pub(crate) use axes::Axes;
pub(crate) use binary::Binary;
pub(crate) use conv::Spatial;
pub(crate) use layout::Layout;
pub(crate) use linear::Linear;
pub(crate) use loss::Loss;
pub(crate) use reduce::Reduce;
use smallvec::SmallVec;
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
    Axes(Axes),
    Spatial(Spatial),
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
            Op::Axes(op) => op.spec(),
            Op::Spatial(op) => op.spec(),
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
            .chain(Axes::ALL.iter().map(|&op| Op::Axes(op)))
            .chain(Spatial::ALL.iter().map(|&op| Op::Spatial(op)))
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
    /// The adjoint arena past this node's adjoint. Its first elements are the node's own
    /// workspace when the op reserved one ([`Tape::reserve_workspace`]); the rest belongs
    /// to later nodes and must not be touched.
    pub workspace: &'a mut [T],
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
        Op::Axes(op) => axes::backward(op, ctx),
        Op::Spatial(op) => conv::backward(op, ctx),
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

/// Panics unless `shape` has rank 2 or less, for an op defined on scalars, vectors and
/// matrices only, naming the op, the shape and what to use instead.
#[track_caller]
pub(crate) fn check_matrix_rank(op: &str, shape: Shape, instead: &str) {
    check_shapes(shape.rank() <= 2, op, || {
        format!("{shape} has rank {}; {op} takes scalars, vectors and matrices ({instead})", shape.rank())
    });
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

/// What a taped rule sees of one node during [`Tape::grad`]'s walk: the node (a copy, so that
/// no borrow of the recording is held while the rule records), handles to its inputs and to
/// itself, the adjoint it received as a handle, and the contributions it sends back.
pub(crate) struct TapedContext<'t, T> {
    pub tape: &'t Tape<T>,
    pub node: Node,
    /// The node itself, as a handle (rules that read the output read it through this).
    pub output: Var<'t, T>,
    /// dL/d(this node), recorded on the tape.
    pub upstream: Var<'t, T>,
    /// The node's inputs, as handles.
    pub inputs: SmallVec<[Var<'t, T>; 3]>,
    /// Which inputs lead to a handle the gradient is taken with respect to.
    wanted: SmallVec<[bool; 3]>,
    /// What the rule sends to each input, summed when it sends twice.
    pub contributions: SmallVec<[Option<Var<'t, T>>; 3]>,
}

impl<'t, T: Real> TapedContext<'t, T> {
    /// The context of node `index`, whose adjoint is `upstream`; `wanted(i)` says whether
    /// node `i` needs a contribution.
    pub(crate) fn new(tape: &'t Tape<T>, index: usize, upstream: Var<'t, T>, wanted: impl Fn(usize) -> bool) -> Self {
        let recording = tape.recording.borrow();
        let node = recording.nodes[index];
        let inputs: SmallVec<[Var<'t, T>; 3]> = node
            .inputs(&recording.extra_inputs)
            .iter()
            .map(|&i| Var { tape, index: i as usize, shape: recording.nodes[i as usize].shape })
            .collect();
        let wanted = inputs.iter().map(|v| wanted(v.index)).collect();
        let contributions = inputs.iter().map(|_| None).collect();
        let output = Var { tape, index, shape: node.shape };
        TapedContext { tape, node, output, upstream, inputs, wanted, contributions }
    }

    /// Input `k`'s handle.
    #[inline]
    pub fn input(&self, k: usize) -> Var<'t, T> {
        self.inputs[k]
    }

    /// True if input `k` needs a contribution (rules skip recording the others).
    #[inline]
    pub fn wants(&self, k: usize) -> bool {
        self.wanted[k]
    }

    /// Adds `contribution` to what input `k` receives.
    #[track_caller]
    pub fn send(&mut self, k: usize, contribution: Var<'t, T>) {
        debug_assert_eq!(contribution.shape(), self.inputs[k].shape(), "{}: input {k}", self.node.op.name());
        self.contributions[k] = Some(match self.contributions[k] {
            Some(sum) => sum + contribution,
            None => contribution,
        });
    }

    /// A copy of input `k`'s values (for a constant mask of a piecewise-constant derivative).
    pub fn input_values(&self, k: usize) -> Vec<T> {
        self.inputs[k].values().to_vec()
    }

    /// A copy of the node's own values.
    pub fn output_values(&self) -> Vec<T> {
        self.output.values().to_vec()
    }

    /// A copy of the `len` numbers the op keeps after its value (its constants; at most two,
    /// so no allocation on a scalar tape's walk).
    pub fn constants(&self, len: usize) -> SmallVec<[T; 2]> {
        let recording = self.tape.recording.borrow();
        let start = self.node.value_offset + self.node.shape.numel();
        SmallVec::from_slice(&recording.values[start..start + len])
    }

    /// A copy of `len` indices the op keeps, from the start in its spare slot.
    pub fn indices(&self, len: usize) -> Vec<usize> {
        let start = self.node.aux() as usize;
        self.tape.recording.borrow().indices[start..start + len].to_vec()
    }

    /// A constant on the tape.
    pub fn constant(&self, tensor: &Tensor<T>) -> Var<'t, T> {
        self.tape.constant(tensor)
    }
}

/// Runs the taped rule of one node: one arm per family, each family's `taped` holding its
/// ops' rules. Leaves send nothing; a custom op has no taped rule.
#[track_caller]
pub(crate) fn taped<T: Real>(ctx: &mut TapedContext<'_, T>) {
    match ctx.node.op {
        Op::Source(_) => {}
        Op::Custom => {
            let name = ctx.output.op_name();
            panic!(
                "grad: the custom op {name} has no taped rule (its CustomOp::vjp computes numbers, not handles); \
                 higher-order derivatives need a differentiable rule: write the op with Var ops instead"
            )
        }
        Op::Unary(op) => unary::taped(op, ctx),
        Op::Activation(op) => activation::taped(op, ctx),
        Op::Binary(op) => binary::taped(op, ctx),
        Op::Linear(op) => linear::taped(op, ctx),
        Op::Rowwise(op) => softmax::taped(op, ctx),
        Op::Loss(op) => loss::taped(op, ctx),
        Op::Reduce(op) => reduce::taped(op, ctx),
        Op::Layout(op) => layout::taped(op, ctx),
        Op::Axes(op) => axes::taped(op, ctx),
        Op::Spatial(op) => conv::taped(op, ctx),
    }
}

/// `derivative`, a constant computed elementwise from the values of input `x` and of the
/// output `y` by the op's own numeric derivative: the taped form of a piecewise-constant
/// derivative (relu, abs, clamp, ...), whose own derivative is then 0.
pub(crate) fn numeric_derivative<T: Real, R: UnaryRule>(rule: R, ctx: &TapedContext<'_, T>) -> Tensor<T> {
    let (x, y, k) = (ctx.input_values(0), ctx.output_values(), ctx.constants(rule.constants()));
    let data = x.iter().zip(&y).map(|(&xi, &yi)| rule.df(xi, yi, |i| k[i])).collect();
    Tensor::new(ctx.node.shape, data)
}

/// `v` in `shape` (same number of elements), recording a reshape only if the shape differs.
pub(crate) fn reshaped<'t, T: Real>(v: Var<'t, T>, shape: Shape) -> Var<'t, T> {
    if v.shape() == shape {
        v
    } else {
        v.reshape(shape)
    }
}
