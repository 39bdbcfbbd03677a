//! [`Var`]: a `Copy` handle to one node of a [`Tape`], and what it can tell about its value.

use crate::{Real, Shape, Tape, Tensor};
use std::cell::Ref;
use std::fmt;

/// A handle to a value recorded on a [`Tape`]: small, `Copy`, and tied to its tape by the
/// lifetime `'t`.
///
/// Operations on handles record new nodes: `a * b`, `2.0 * x`, `x.matmul(w).add_bias(b)`.
/// Using a handle with another tape's handle panics, naming the operation.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let x = tape.var(0.0);
/// let s = x.sigmoid();
/// assert_eq!(s.value(), 0.5);
/// assert_eq!(tape.backward(s).wrt(x), 0.25);
/// ```
#[derive(Clone, Copy)]
pub struct Var<'t, T> {
    pub(crate) tape: &'t Tape<T>,
    /// The node's index (below 2^32), stored as a word like the other two fields: a handle
    /// is then copied with whole-word moves only (see `Shape`).
    pub(crate) index: usize,
    /// A copy of the node's shape, so that shape checks need not borrow the tape.
    pub(crate) shape: Shape,
}

impl<'t, T: Real> Var<'t, T> {
    /// The tape this handle belongs to.
    pub fn tape(self) -> &'t Tape<T> {
        self.tape
    }

    /// The node's position on the tape (0 for the first node recorded).
    pub fn index(self) -> usize {
        self.index
    }

    /// The shape of the value.
    pub fn shape(self) -> Shape {
        self.shape
    }

    /// The value of a one-element node (a scalar, `[1]` or `[1 x 1]`).
    ///
    /// # Panics
    ///
    /// If the node has more than one element.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// assert_eq!((tape.constant(2.0) * 3.0).value(), 6.0);
    /// ```
    #[track_caller]
    pub fn value(self) -> T {
        let values = self.values();
        assert!(values.len() == 1, "value: the node is {}, not a scalar; use values() or to_tensor()", self.shape());
        values[0]
    }

    /// The node's values, row-major, borrowed from the tape.
    ///
    /// Drop the borrow before recording more: the tape cannot grow while it is read, and
    /// recording while the borrow is alive panics, saying so.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let y = tape.constant(&Tensor::from_slice(&[1.0, 2.0])) * 2.0;
    /// assert_eq!(&*y.values(), &[2.0, 4.0]);
    /// ```
    pub fn values(self) -> Ref<'t, [T]> {
        Ref::map(self.tape.recording.borrow(), |recording| {
            let start = recording.nodes[self.index].value_offset;
            &recording.values[start..start + self.shape.numel()]
        })
    }

    /// The node's value copied into an owned [`Tensor`].
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let t = Tensor::from_rows(&[[1.0, -2.0]]);
    /// assert_eq!(tape.constant(&t).relu().to_tensor(), Tensor::from_rows(&[[1.0, 0.0]]));
    /// ```
    pub fn to_tensor(self) -> Tensor<T> {
        Tensor::new(self.shape(), self.values().to_vec())
    }

    /// True if the value depends on a trainable leaf, so that it gets an adjoint.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (w, x) = (tape.var(1.0), tape.constant(2.0));
    /// assert!((w * x).requires_grad());
    /// assert!(!(x * x).requires_grad());
    /// ```
    pub fn requires_grad(self) -> bool {
        self.tape.recording.borrow().nodes[self.index].requires_grad()
    }

    /// The name of the operation that made this node ("matmul", "sigmoid", "var", ...).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// assert_eq!(tape.var(1.0).tanh().op_name(), "tanh");
    /// ```
    pub fn op_name(self) -> &'static str {
        let recording = self.tape.recording.borrow();
        crate::ops::node_op_name(&recording.nodes[self.index], &recording.custom_ops)
    }

    /// The same value entering the tape as a constant: no gradient flows back through it.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(2.0);
    /// let y = x * x.detach(); // d/dx of x * c with c = 2
    /// assert_eq!(tape.backward(y).wrt(x), 2.0);
    /// ```
    #[track_caller]
    pub fn detach(self) -> Self {
        let shape = self.shape;
        self.tape.record(crate::ops::Op::Source(crate::ops::Source::Detach), [self], shape, 0, |[x], out| {
            out.copy_from_slice(x)
        })
    }
}

impl<T: Real> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var(#{} {} {})", self.index, self.op_name(), self.shape())
    }
}
