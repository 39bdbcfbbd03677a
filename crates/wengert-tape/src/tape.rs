//! The Wengert list itself: nodes in one `Vec`, values in one flat arena.
//!
//! Recording appends; nothing is ever removed until [`Tape::clear`], which keeps every
//! buffer's capacity so that the next training step records without allocating. Because a
//! node can only name inputs recorded before it, the recording order is a topological order
//! and the reverse sweep ([`crate::sweep`]) is a single loop.

use crate::anomaly::{Anomaly, AnomalyMode};
use crate::custom::CustomOp;
use crate::ops::{Op, Source};
use crate::pool::Arenas;
use crate::registry::{Arity, Gradient};
use crate::{Real, Shape, Tensor, Var};
use std::cell::RefCell;
use std::rc::Rc;

/// The value of node `index`, from the values recorded before the current node.
#[inline(always)]
pub(crate) fn value_of<'a, T>(nodes: &[Node], values: &'a [T], index: u32) -> &'a [T] {
    let node = &nodes[index as usize];
    &values[node.value_offset..node.value_offset + node.shape.numel()]
}

/// Marks a node that depends on no parameter: it has no adjoint and gets no backward work.
pub(crate) const NO_ADJOINT: usize = usize::MAX;

/// One recorded operation.
///
/// `Copy`, with no heap part, so that clearing a tape of a million nodes costs nothing and
/// the sweep reads one small record per node.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub op: Op,
    /// The input nodes' indices, all smaller than this node's own index, for an op of fixed
    /// arity (at most two). A variadic op (a custom op, concat, stack) keeps its list in
    /// [`Recording::extra_inputs`], its length first, from index `inputs[0]`. An op with
    /// fewer than two inputs, or a variadic one, may keep one number of its own in the
    /// second slot (a custom op's index, where a loss's labels start): [`Node::aux`]. Read
    /// the inputs with [`Node::inputs`].
    inputs: [u32; 2],
    pub shape: Shape,
    /// Where the value starts in the value arena. An op with scratch data (the fused
    /// softmax cross-entropy keeps its probabilities) stores it right after the value.
    pub value_offset: usize,
    /// Where the adjoint starts in the adjoint arena, or [`NO_ADJOINT`].
    pub adjoint_offset: usize,
}

impl Node {
    #[inline(always)]
    pub fn requires_grad(&self) -> bool {
        self.adjoint_offset != NO_ADJOINT
    }

    /// The two input slots as stored: a built-in op's inputs (unused slots 0); for a custom
    /// op, where its list starts in the extra inputs. Use [`Node::inputs`] unless the op is known.
    #[inline(always)]
    pub fn input_slots(&self) -> [u32; 2] {
        self.inputs
    }

    /// The input nodes' indices; `extra` is the tape's [`Recording::extra_inputs`].
    #[inline(always)]
    pub fn inputs<'a>(&'a self, extra: &'a [u32]) -> &'a [u32] {
        match self.op.spec().arity {
            Arity::Fixed(n) => &self.inputs[..n],
            Arity::Variadic => {
                let start = self.inputs[0] as usize;
                &extra[start + 1..start + 1 + extra[start] as usize]
            }
        }
    }

    /// The op's own number kept in the spare input slot (0 if it keeps none).
    #[inline(always)]
    pub fn aux(&self) -> u32 {
        self.inputs[1]
    }
}

/// Everything a tape records, behind the tape's `RefCell`.
pub(crate) struct Recording<T> {
    pub nodes: Vec<Node>,
    /// The inputs of custom-op nodes: for each, the count, then the indices.
    pub extra_inputs: Vec<u32>,
    pub values: Vec<T>,
    /// Indices that ops keep (the fused softmax cross-entropy's class labels, ...).
    pub indices: Vec<usize>,
    /// Elements in the adjoint arena: the sum of the sizes of the nodes that need one.
    pub adjoint_len: usize,
    /// The adjoint buffer, lent to a [`crate::Gradients`] during its life and given back on drop.
    pub adjoint_pool: Vec<T>,
    /// Scratch of the sweep: which nodes the output's adjoint has reached.
    pub reached: Vec<bool>,
    /// The user's ops; a custom node names its op by index in its spare slot.
    pub custom_ops: Vec<Rc<dyn CustomOp<T>>>,
    /// False inside [`Tape::no_grad`]: new nodes get no adjoint.
    pub grad_enabled: bool,
    pub anomaly: AnomalyMode,
    /// Hands the buffers to the thread when the tape is dropped ([`crate::pool::give_back`]
    /// for this `T`; a field because `Drop` cannot name `T: Real`).
    give_back: fn(&mut Recording<T>),
}

impl<T: Real> Recording<T> {
    /// Whether a new node of `op` on `inputs` needs an adjoint: a parameter does, a
    /// constant does not, and any other node does if gradients are on and an input needs one.
    #[inline(always)]
    fn requires_grad(&self, op: &Op, inputs: &[Var<'_, T>]) -> bool {
        match op.spec().gradient {
            Gradient::Always => true,
            Gradient::Never => false,
            Gradient::FromInputs => self.grad_enabled && inputs.iter().any(|v| self.nodes[v.index].requires_grad()),
        }
    }

    /// Pushes the node whose value was just written at `value_offset`; returns its index.
    /// `len` is `shape.numel()`, which the caller knows (1 on the scalar path) without
    /// decoding the shape again.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        op: Op,
        inputs: &[Var<'_, T>],
        (shape, len): (Shape, usize),
        value_offset: usize,
        requires_grad: bool,
        aux: u32,
    ) -> u32 {
        let index = u32::try_from(self.nodes.len()).expect("tape: more than 2^32 nodes");
        let adjoint_offset = if requires_grad {
            self.adjoint_len += len;
            self.adjoint_len - len
        } else {
            NO_ADJOINT
        };
        debug_assert!(op.is_variadic() || op.spec().arity == Arity::Fixed(inputs.len()), "{}", op.name());
        let inputs = match *inputs {
            _ if op.is_variadic() => {
                let start = u32::try_from(self.extra_inputs.len()).expect("tape: more than 2^32 extra inputs");
                let count =
                    u32::try_from(inputs.len()).unwrap_or_else(|_| panic!("{}: more than 2^32 inputs", op.name()));
                self.extra_inputs.push(count);
                self.extra_inputs.extend(inputs.iter().map(|v| v.index as u32));
                [start, aux]
            }
            [] => [0, aux],
            [a] => [a.index as u32, aux],
            [a, b] => {
                debug_assert_eq!(aux, 0, "{}: an op of two inputs keeps no number of its own", op.name());
                [a.index as u32, b.index as u32]
            }
            _ => unreachable!("{}: an op of fixed arity has at most two inputs", op.name()),
        };

        self.nodes.push(Node { op, inputs, shape, value_offset, adjoint_offset });
        index
    }
}

impl<T> Recording<T> {
    /// The input nodes' indices of node `index`.
    #[inline]
    pub fn inputs_of(&self, index: usize) -> &[u32] {
        self.nodes[index].inputs(&self.extra_inputs)
    }
}

/// A Wengert tape: records operations on values of type `T` (`f32` or `f64`) and sweeps
/// them in reverse to get gradients.
///
/// Handles ([`Var`]) borrow the tape, so they are `Copy`, cannot outlive it, and must all be
/// gone before [`Tape::clear`] (the compiler checks it).
///
/// # Examples
///
/// The three-weight chain of the notes (6c), first sample:
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let (w1, w2, w3) = (tape.var(0.2333), tape.var(-0.233), tape.var(-0.52133));
/// let x = tape.constant(1.0);
/// let e = w3 * (w2 * (w1 * x));
/// let loss = 0.5 * (e + 1.0).powi(2);
/// let grads = tape.backward(loss);
/// assert!((grads.wrt(w1) - 0.124912216143).abs() < 1e-11);
/// assert!((grads.wrt(w3) + 0.0558993728085).abs() < 1e-11);
/// ```
pub struct Tape<T> {
    pub(crate) recording: RefCell<Recording<T>>,
}

/// What can enter a tape as a leaf: a number, a [`Tensor`], or a shape with a slice.
///
/// # Examples
///
/// ```
/// use wengert_tape::{Shape, Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let a = tape.constant(2.0);
/// let b = tape.constant(&Tensor::from_slice(&[1.0, 2.0]));
/// let c = tape.constant((Shape::matrix(1, 2), &[3.0, 4.0][..]));
/// assert_eq!((a.shape(), b.shape(), c.shape()), (Shape::scalar(), Shape::vector(2), Shape::matrix(1, 2)));
/// ```
pub trait Leaf<T> {
    /// The leaf's shape.
    fn leaf_shape(&self) -> Shape;
    /// The leaf's values, row-major.
    fn leaf_values(&self) -> &[T];
}

impl<T: Real> Leaf<T> for T {
    fn leaf_shape(&self) -> Shape {
        Shape::scalar()
    }
    fn leaf_values(&self) -> &[T] {
        std::slice::from_ref(self)
    }
}

impl<T: Real> Leaf<T> for &Tensor<T> {
    fn leaf_shape(&self) -> Shape {
        self.shape()
    }
    fn leaf_values(&self) -> &[T] {
        self.data()
    }
}

impl<T: Real> Leaf<T> for (Shape, &[T]) {
    fn leaf_shape(&self) -> Shape {
        self.0
    }
    fn leaf_values(&self) -> &[T] {
        self.1
    }
}

impl<T: Real> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real> Tape<T> {
    /// An empty tape.
    ///
    /// It records into the buffers the last tape dropped on this thread left behind, if any
    /// ([`crate::release_thread_arenas`]), so a new tape per gradient costs what a cleared,
    /// reused one does: the buffers have already grown.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// for step in 0..3 {
    ///     let tape = Tape::<f64>::new(); // from the second step on, the first tape's buffers
    ///     let w = tape.var(step as f64);
    ///     assert_eq!(tape.backward(w * w).wrt(w), 2.0 * step as f64);
    /// }
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// An empty tape with room for `nodes` nodes and `values` elements before it reallocates
    /// (more if the thread had larger buffers to give, as for [`Tape::new`]).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f32>::with_capacity(1024, 1 << 20);
    /// assert_eq!(tape.len(), 0);
    /// ```
    pub fn with_capacity(nodes: usize, values: usize) -> Self {
        let mut arenas = crate::pool::take::<T>().unwrap_or_else(|| Arenas::with_capacity(0, 0));
        arenas.nodes.reserve(nodes);
        arenas.values.reserve(values);
        let Arenas { nodes, extra_inputs, values, indices, adjoints, reached } = arenas;
        Tape {
            recording: RefCell::new(Recording {
                nodes,
                extra_inputs,
                values,
                indices,
                adjoint_len: 0,
                adjoint_pool: adjoints,
                reached,
                custom_ops: Vec::new(),
                grad_enabled: true,
                anomaly: AnomalyMode::default(),
                give_back: |recording| {
                    crate::pool::give_back(Arenas {
                        nodes: std::mem::take(&mut recording.nodes),
                        extra_inputs: std::mem::take(&mut recording.extra_inputs),
                        values: std::mem::take(&mut recording.values),
                        indices: std::mem::take(&mut recording.indices),
                        adjoints: std::mem::take(&mut recording.adjoint_pool),
                        reached: std::mem::take(&mut recording.reached),
                    })
                },
            }),
        }
    }

    /// A trainable leaf: its gradient is computed by [`Tape::backward`].
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(3.0);
    /// assert_eq!(tape.backward(w * w).wrt(w), 6.0);
    /// ```
    #[track_caller]
    #[inline]
    pub fn var<L: Leaf<T>>(&self, leaf: L) -> Var<'_, T> {
        self.leaf(Op::Source(Source::Parameter), leaf)
    }

    /// A constant leaf (data, targets): no gradient, and no backward work spent on it.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (w, x) = (tape.var(3.0), tape.constant(2.0));
    /// let grads = tape.backward(w * x);
    /// assert_eq!(grads.wrt(w), 2.0);
    /// assert!(grads.get(x).is_none());
    /// ```
    #[track_caller]
    #[inline]
    pub fn constant<L: Leaf<T>>(&self, leaf: L) -> Var<'_, T> {
        self.leaf(Op::Source(Source::Constant), leaf)
    }

    #[track_caller]
    #[inline]
    fn leaf<L: Leaf<T>>(&self, op: Op, leaf: L) -> Var<'_, T> {
        let shape = leaf.leaf_shape();
        let values = leaf.leaf_values();
        assert_eq!(
            values.len(),
            shape.numel(),
            "{}: shape {shape} holds {} elements, the slice has {}",
            op.name(),
            shape.numel(),
            values.len()
        );
        if let [value] = *values {
            return self.record_scalar(op, [], shape, &[], |[]| value, |[], _| []);
        }
        self.record(op, [], shape, 0, |[], out| out.copy_from_slice(values))
    }

    /// Appends a node whose inputs are a fixed number of handles (every built-in op).
    /// `forward` receives the inputs' values and the output buffer: `shape.numel()` elements
    /// followed by `scratch` elements for the op's own use. Inlined: it is every op's hot path.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn record<'t, const N: usize>(
        &'t self,
        op: Op,
        inputs: [Var<'t, T>; N],
        shape: Shape,
        scratch: usize,
        forward: impl FnOnce([&[T]; N], &mut [T]),
    ) -> Var<'t, T> {
        self.record_with_aux(op, inputs, shape, scratch, 0, forward)
    }

    /// Gives `node`, the node just recorded, `len` more adjoint elements right after its own,
    /// if it has an adjoint: a workspace its backward rule writes into (as
    /// `BackwardContext::workspace`), so that the sweep allocates nothing for it. The adjoint
    /// arena is reused from step to step like the others.
    pub(crate) fn reserve_workspace(&self, node: Var<'_, T>, len: usize) {
        let mut recording = self.recording_mut();
        debug_assert_eq!(node.index + 1, recording.nodes.len(), "only the last node can grow its adjoint");
        if recording.nodes[node.index].requires_grad() {
            recording.adjoint_len += len;
        }
    }

    /// [`Tape::record`] for an op that keeps a number of its own in the node's spare slot.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn record_with_aux<'t, const N: usize>(
        &'t self,
        op: Op,
        inputs: [Var<'t, T>; N],
        shape: Shape,
        scratch: usize,
        aux: u32,
        forward: impl FnOnce([&[T]; N], &mut [T]),
    ) -> Var<'t, T> {
        self.record_node(op, &inputs, shape, scratch, aux, |nodes, before, out| {
            forward(inputs.map(|v| value_of(nodes, before, v.index as u32)), out)
        })
    }

    /// Appends a node: checks that the inputs belong to this tape, decides whether it needs
    /// an adjoint, runs `forward(nodes, values so far, output buffer)`, and checks the value
    /// in anomaly mode.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn record_node<'t>(
        &'t self,
        op: Op,
        inputs: &[Var<'t, T>],
        shape: Shape,
        scratch: usize,
        aux: u32,
        forward: impl FnOnce(&[Node], &[T], &mut [T]),
    ) -> Var<'t, T> {
        self.check_inputs(&op, inputs);
        let mut guard = self.recording_mut();
        let recording = &mut *guard;
        let requires_grad = recording.requires_grad(&op, inputs);
        let value_offset = recording.values.len();
        let len = shape.numel();
        recording.values.resize(value_offset + len + scratch, T::zero());
        let (before, out) = recording.values.split_at_mut(value_offset);
        forward(&recording.nodes, before, out);
        let index = recording.append(op, inputs, (shape, len), value_offset, requires_grad, aux);
        self.check_forward(guard, index);
        Var { tape: self, index: index as usize, shape }
    }

    /// [`Tape::record`] for an op whose inputs and output each hold one element: the
    /// scalar tape's hot path, with no slices and no zero-fill of the value. The op's
    /// `constants` are stored right after the value.
    ///
    /// A node that gets an adjoint also keeps its local partial derivatives, `partials(inputs,
    /// value)`, right *before* its value (dy/d(input k) at `value_offset - 1 - k`): the sweep
    /// then multiplies and adds ([`crate::ops::scalar_backward`]) with no dispatch on the op
    /// and no read of the inputs' values (Jacobian taping, as Adept and CoDiPack do). Here
    /// the op is known where this is inlined, so the rule costs no dispatch either.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn record_scalar<'t, const N: usize>(
        &'t self,
        op: Op,
        inputs: [Var<'t, T>; N],
        shape: Shape,
        constants: &[T],
        f: impl FnOnce([T; N]) -> T,
        partials: impl FnOnce([T; N], T) -> [T; N],
    ) -> Var<'t, T> {
        debug_assert!(shape.numel() == 1 && inputs.iter().all(|v| v.shape.numel() == 1));
        self.check_inputs(&op, &inputs);
        let mut guard = self.recording_mut();
        let recording = &mut *guard;
        let requires_grad = recording.requires_grad(&op, &inputs);
        let xs = inputs.map(|v| recording.values[recording.nodes[v.index].value_offset]);
        let value = f(xs);
        if requires_grad {
            // Last input's partial first: input k's partial ends up at value_offset - 1 - k.
            for &partial in partials(xs, value).iter().rev() {
                recording.values.push(partial);
            }
        }
        let value_offset = recording.values.len();
        recording.values.push(value);
        // Pushed one by one: the count is known where this is inlined (0, 1 or 2), and a push
        // costs less than extend_from_slice's general copy on this hot path.
        for &c in constants {
            recording.values.push(c);
        }
        let index = recording.append(op, &inputs, (shape, 1), value_offset, requires_grad, 0);
        self.check_forward(guard, index);
        Var { tape: self, index: index as usize, shape }
    }

    /// The recording, mutably. Recording while a borrow from [`Var::values`] is alive would
    /// let the arena move under it, so that panics, saying so (rather than the standard
    /// library's bare "already borrowed").
    #[track_caller]
    #[inline(always)]
    pub(crate) fn recording_mut(&self) -> std::cell::RefMut<'_, Recording<T>> {
        match self.recording.try_borrow_mut() {
            Ok(recording) => recording,
            Err(_) => values_still_borrowed(),
        }
    }

    /// Panics unless every input was recorded on this tape.
    #[track_caller]
    #[inline(always)]
    fn check_inputs(&self, op: &Op, inputs: &[Var<'_, T>]) {
        for input in inputs {
            assert!(
                std::ptr::eq(input.tape, self),
                "{}: an input belongs to another tape (a handle cannot move between tapes)",
                op.name()
            );
        }
    }

    /// In anomaly mode, remembers where node `index` was recorded and panics if its value
    /// is not finite.
    #[track_caller]
    #[inline(always)]
    fn check_forward(&self, guard: std::cell::RefMut<'_, Recording<T>>, index: u32) {
        if guard.anomaly.enabled {
            self.check_forward_slow(guard, index);
        }
    }

    #[track_caller]
    #[inline(never)]
    fn check_forward_slow(&self, mut guard: std::cell::RefMut<'_, Recording<T>>, index: u32) {
        let location = std::panic::Location::caller();
        guard.anomaly.locations.push((index, location));
        let recording = &*guard;
        let node = &recording.nodes[index as usize];
        let value = &recording.values[node.value_offset..node.value_offset + node.shape.numel()];
        let graph = (&recording.nodes[..], &recording.extra_inputs[..], &recording.custom_ops[..]);
        if let Some(anomaly) = Anomaly::in_forward(graph, index, value, location) {
            drop(guard);
            panic!("{anomaly}");
        }
    }

    /// Runs `f` with gradient recording off: nodes recorded inside get no adjoint and no
    /// backward work, whatever their inputs (leaves made with [`Tape::var`] stay trainable).
    /// Nests, and restores the previous state even if `f` panics.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(3.0);
    /// let frozen = tape.no_grad(|| w * w);
    /// assert!(!frozen.requires_grad());
    /// assert_eq!(frozen.value(), 9.0);
    /// assert_eq!(tape.backward(w * frozen).wrt(w), 9.0); // frozen counts as a constant
    /// ```
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore<'a, T> {
            tape: &'a Tape<T>,
            previous: bool,
        }
        impl<T> Drop for Restore<'_, T> {
            fn drop(&mut self) {
                self.tape.recording.borrow_mut().grad_enabled = self.previous;
            }
        }
        let previous = std::mem::replace(&mut self.recording_mut().grad_enabled, false);
        let _restore = Restore { tape: self, previous };
        f()
    }

    /// Appends indices an op keeps (a loss's class labels) and returns where they start.
    pub(crate) fn push_indices(&self, indices: &[usize]) -> u32 {
        let mut recording = self.recording_mut();
        let start = u32::try_from(recording.indices.len()).expect("tape: more than 2^32 indices");
        recording.indices.extend_from_slice(indices);
        start
    }

    /// The number of recorded nodes.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(1.0);
    /// let _ = x.exp() + 1.0;
    /// assert_eq!(tape.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.recording.borrow().nodes.len()
    }

    /// True if nothing has been recorded since the tape was made or cleared.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node and value, keeping the buffers' capacity for the next step.
    ///
    /// It takes `&mut self`, so every [`Var`] and [`crate::Gradients`] of the tape must be
    /// gone: a stale handle is a compile error, not a wrong answer.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let mut tape = Tape::<f64>::new();
    /// for step in 0..3 {
    ///     let w = tape.var(step as f64);
    ///     assert_eq!(tape.backward(w * w).wrt(w), 2.0 * step as f64);
    ///     tape.clear();
    /// }
    /// assert!(tape.is_empty());
    /// ```
    pub fn clear(&mut self) {
        let recording = self.recording.get_mut();
        recording.nodes.clear();
        recording.extra_inputs.clear();
        recording.values.clear();
        recording.indices.clear();
        recording.custom_ops.clear();
        recording.anomaly.locations.clear();
        recording.adjoint_len = 0;
    }
}

impl<T> Drop for Tape<T> {
    fn drop(&mut self) {
        let recording = self.recording.get_mut();
        (recording.give_back)(recording);
    }
}

/// The panic of recording while a [`Var::values`] borrow is alive.
#[cold]
#[inline(never)]
#[track_caller]
fn values_still_borrowed() -> ! {
    panic!(
        "tape: cannot record while a borrow of a value from Var::values() is alive (recording may move the \
         value arena); drop it first, or copy the value with Var::to_tensor()"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_costs_40_bytes() {
        // docs/architecture.md quotes this size; a larger node slows every scalar op. The
        // same in f32 and f64: constants live in the value arena, not in the node.
        assert_eq!(std::mem::size_of::<Node>(), 40);
    }

    #[test]
    fn a_handle_costs_24_bytes() {
        // docs/architecture.md: the tape reference, the index and a copy of the shape.
        assert_eq!(std::mem::size_of::<Var<'_, f64>>(), 24);
    }
}
