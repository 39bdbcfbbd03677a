//! Custom ops: a user's function with its own vector-Jacobian rule takes part in the sweep
//! like a built-in op, and `check::check_gradients` verifies it like any other.

use crate::ops::{BackwardContext, Op};
use crate::registry::{Arity, Check, Gradient, OpSpec, Reads};
use crate::tape::value_of;
use crate::{Real, Shape, Tape, Var};
use smallvec::SmallVec;
use std::rc::Rc;

/// An operation defined outside the engine: a forward value and a vector-Jacobian product.
///
/// # Examples
///
/// Swish, `x sigmoid(x)`, with derivative `s + x s (1 - s)`:
///
/// ```
/// use wengert_tape::check::assert_gradients;
/// use wengert_tape::{CustomOp, Shape, Tape, Tensor};
///
/// struct Swish;
/// impl CustomOp<f64> for Swish {
///     fn name(&self) -> &'static str { "swish" }
///     fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
///         match inputs { [x] => Ok(*x), _ => Err(format!("takes one input, got {}", inputs.len())) }
///     }
///     fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
///         for (y, &x) in output.iter_mut().zip(inputs[0]) { *y = x / (1.0 + (-x).exp()); }
///     }
///     fn vjp(&self, _input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
///         for ((a, &g), &x) in adjoint.iter_mut().zip(upstream).zip(inputs[0]) {
///             let s = 1.0 / (1.0 + (-x).exp());
///             *a += g * (s + x * s * (1.0 - s));
///         }
///     }
/// }
///
/// let tape = Tape::<f64>::new();
/// let x = tape.var(0.0);
/// assert_eq!(tape.backward(tape.custom(Swish, &[x])).wrt(x), 0.5);
/// assert_gradients(|tape, v| tape.custom(Swish, &[v[0]]).sum(), &[Tensor::from_slice(&[-2.0, 0.3, 4.0])]);
/// ```
pub trait CustomOp<T>: 'static {
    /// The op's name, as messages and graphs show it.
    fn name(&self) -> &'static str;

    /// The output's shape for these input shapes, or a message saying what is wrong
    /// (the tape panics with it, naming the op).
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String>;

    /// Writes the value into `output` (row-major, the size of `output_shape`).
    fn forward(&self, inputs: &[&[T]], output: &mut [T]);

    /// Adds `upstream^T (d output / d inputs[input])` into `adjoint` (the size of that
    /// input). Add, never assign: the input may feed other nodes too. Called once for each
    /// input that needs a gradient.
    fn vjp(&self, input: usize, inputs: &[&[T]], output: &[T], upstream: &[T], adjoint: &mut [T]);
}

impl<T: Real> Tape<T> {
    /// Records a custom op on `inputs`.
    ///
    /// # Panics
    ///
    /// If `op.output_shape` refuses the input shapes (the message names the op and the
    /// shapes), or an input belongs to another tape.
    #[track_caller]
    pub fn custom<'t>(&'t self, op: impl CustomOp<T>, inputs: &[Var<'t, T>]) -> Var<'t, T> {
        let shapes: SmallVec<[Shape; 4]> = inputs.iter().map(|v| v.shape()).collect();
        let shape = op.output_shape(&shapes).unwrap_or_else(|message| {
            let shapes: Vec<String> = shapes.iter().map(Shape::to_string).collect();
            panic!("{}: inputs [{}]: {message}", op.name(), shapes.join(", "))
        });
        // Shared with the tape before the node exists, so that the node never names a
        // missing op, whatever the op's forward does.
        let op: Rc<dyn CustomOp<T>> = Rc::new(op);
        let index = {
            let mut recording = self.recording_mut();
            recording.custom_ops.push(Rc::clone(&op));
            u32::try_from(recording.custom_ops.len() - 1).expect("tape: more than 2^32 custom ops")
        };
        self.record_node(Op::Custom, inputs, shape, 0, index, |nodes, before, out| {
            let values: SmallVec<[&[T]; 4]> = inputs.iter().map(|v| value_of(nodes, before, v.index as u32)).collect();
            op.forward(&values, out);
        })
    }
}

/// The descriptor of every custom op: its name, rule and reads are the user's.
pub(crate) const SPEC: OpSpec = OpSpec {
    name: "custom",
    notes: "",
    formula: "custom",
    arity: Arity::Variadic,
    reads: Reads::Both,
    gradient: Gradient::FromInputs,
    constants: 0,
    explain: &[],
    check: Check::Exempt("a user's op: `check::check_gradients` and wengert-check's `custom_op` check it"),
};

/// The sweep's step for a custom node: the op's `vjp` once per input that needs a gradient.
pub(crate) fn backward<T: Real>(op: &dyn CustomOp<T>, ctx: &mut BackwardContext<'_, T>) {
    let inputs: SmallVec<[&[T]; 4]> = (0..ctx.inputs.len()).map(|k| ctx.input(k)).collect();
    let (output, upstream) = (ctx.output(), ctx.upstream);
    for k in 0..inputs.len() {
        if let Some(adjoint) = ctx.adjoint(k) {
            op.vjp(k, &inputs, output, upstream, adjoint);
        }
    }
}
