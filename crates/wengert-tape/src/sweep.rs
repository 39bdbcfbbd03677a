//! The reverse sweep: one loop from the output's node down to the first node.
//!
//! Before: the output's adjoint is the seed (1 for a scalar loss), every other adjoint is 0.
//! Each reached node adds `upstream x local derivative` into its inputs' adjoints, so a
//! value that fans out collects every contribution. A node is skipped when the output's
//! adjoint cannot reach it (it was recorded after the output, or feeds nothing the output
//! uses) or when it depends on no trainable leaf (it has no adjoint at all).
//! After: every node that depends on a [`Tape::var`] holds dL/d(node).

use crate::anomaly::Anomaly;
use crate::ops::{self, BackwardContext};
use crate::{Real, Tape, Tensor, Var};

/// The adjoints of one reverse sweep: dL/dv for every node `v` that depends on a trainable
/// leaf, intermediate nodes included.
///
/// It borrows the tape's adjoint buffer and gives it back when dropped, so a training loop
/// that sweeps every step reuses one buffer.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let x = tape.var(3.0);
/// let y = x * x;          // an intermediate node
/// let z = y * 2.0;
/// let grads = tape.backward(z);
/// assert_eq!(grads.wrt(x), 12.0);
/// assert_eq!(grads.wrt(y), 2.0);
/// ```
pub struct Gradients<'t, T> {
    pub(crate) tape: &'t Tape<T>,
    /// The adjoint arena: node `i`'s adjoint at `nodes[i].adjoint_offset` (if it has one).
    pub(crate) adjoints: Vec<T>,
    /// The index of the node the sweep started from.
    pub(crate) output: u32,
    /// How many nodes the tape held at the sweep: a node recorded later has no adjoint here.
    pub(crate) covered: usize,
}

/// Why a reverse sweep could not give gradients.
///
/// # Examples
///
/// ```
/// use wengert_tape::{BackwardError, Tape};
/// let tape = Tape::<f64>::new();
/// let c = tape.constant(3.0);
/// let error = tape.try_backward(c * c).err().expect("no trainable leaf");
/// assert!(matches!(error, BackwardError::NoTrainableLeaf { output: 1, .. }));
/// assert!(error.to_string().contains("depends on no trainable leaf"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum BackwardError {
    /// The output depends on no trainable leaf ([`Tape::var`]), so every gradient would be
    /// zero: usually a leaf made with `constant` instead of `var`, a `detach`, or a loss
    /// recorded inside `no_grad`.
    NoTrainableLeaf {
        /// The output node's index.
        output: usize,
        /// The output node's op.
        op: &'static str,
    },
    /// Anomaly mode found a NaN or infinite adjoint.
    Anomaly(Anomaly),
}

impl BackwardError {
    /// The anomaly, if that is what stopped the sweep.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.var(0.0);
    /// let anomaly = tape.try_backward(x.sqrt()).err().and_then(|e| e.into_anomaly());
    /// assert_eq!(anomaly.map(|a| a.op), Some("sqrt"));
    /// ```
    pub fn into_anomaly(self) -> Option<Anomaly> {
        match self {
            BackwardError::Anomaly(anomaly) => Some(anomaly),
            BackwardError::NoTrainableLeaf { .. } => None,
        }
    }
}

impl std::fmt::Display for BackwardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackwardError::NoTrainableLeaf { output, op } => write!(
                f,
                "backward: the output (node #{output}, {op}) depends on no trainable leaf, so it has no gradient \
                 (make the leaves you train with Tape::var, not Tape::constant, and record the loss outside no_grad)"
            ),
            BackwardError::Anomaly(anomaly) => anomaly.fmt(f),
        }
    }
}

impl std::error::Error for BackwardError {}

impl From<Anomaly> for BackwardError {
    fn from(anomaly: Anomaly) -> Self {
        BackwardError::Anomaly(anomaly)
    }
}

/// How many nodes ahead of the one it works on the sweep prefetches inputs. On a long scalar
/// tape a node's inputs often lie far back (the leaves were all recorded first), out of
/// every cache, and the sweep would otherwise wait for each: Rosenbrock with n = 100,000
/// records and sweeps about 3% faster with it (an A/B of
/// `cargo run --release -p wengert-bench -- --only rosen`, docs/performance.md).
const PREFETCH_AHEAD: usize = 48;

/// Asks the CPU to bring the cache line holding `value` closer, ahead of its use. A hint:
/// it changes nothing the program computes. A no-op off x86_64.
#[inline(always)]
fn prefetch<V>(value: &V) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has; a prefetch reads no data
    // into the program, never faults, and the address comes from a live reference.
    // Exercised by every sweep of more than PREFETCH_AHEAD nodes (the chain and
    // Rosenbrock tests in tests/suite/tape.rs).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const V).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

impl<T: Real> Tape<T> {
    /// The gradient of a scalar `output` with respect to every trainable leaf: one reverse sweep.
    ///
    /// # Panics
    ///
    /// If `output` has more than one element (use [`Tape::backward_with_seed`]), depends on
    /// no trainable leaf (as PyTorch refuses it: every gradient would be zero; see
    /// [`Tape::try_backward`]), or belongs to another tape.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (a, b) = (tape.var(2.0), tape.var(5.0));
    /// let grads = tape.backward(a * b + a);
    /// assert_eq!((grads.wrt(a), grads.wrt(b)), (6.0, 2.0));
    /// ```
    #[track_caller]
    pub fn backward<'t>(&'t self, output: Var<'t, T>) -> Gradients<'t, T> {
        let shape = output.shape();
        assert!(
            shape.numel() == 1,
            "backward: the output is {shape}, not a scalar (use backward_with_seed for a vector-Jacobian product)"
        );
        self.backward_with_seed(output, &[T::one()])
    }

    /// The vector-Jacobian product `seed^T J`: the sweep starts from dL/d(output) = `seed`
    /// (row-major, one element per element of `output`) instead of 1.
    ///
    /// # Panics
    ///
    /// If `seed` has another length than `output`, `output` depends on no trainable leaf, or
    /// belongs to another tape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    /// let y = x * x;                              // J = diag(2x)
    /// let grads = tape.backward_with_seed(y, &[1.0, 10.0]);
    /// assert_eq!(grads.wrt_slice(x), &[2.0, 40.0]);
    /// ```
    #[track_caller]
    pub fn backward_with_seed<'t>(&'t self, output: Var<'t, T>, seed: &[T]) -> Gradients<'t, T> {
        self.try_backward_with_seed(output, seed).unwrap_or_else(|error| panic!("{error}"))
    }

    /// As [`Tape::backward`], but an output that depends on no trainable leaf, and in anomaly
    /// mode a NaN or infinite adjoint, are returned as a [`BackwardError`] instead of a panic.
    ///
    /// # Errors
    ///
    /// [`BackwardError::NoTrainableLeaf`], or [`BackwardError::Anomaly`] with the first
    /// anomaly the sweep met, naming the node whose rule produced it.
    ///
    /// # Panics
    ///
    /// As [`Tape::backward`].
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(tape.try_backward(x.sqrt()).unwrap().wrt(x), 0.25);
    /// ```
    #[track_caller]
    pub fn try_backward<'t>(&'t self, output: Var<'t, T>) -> Result<Gradients<'t, T>, BackwardError> {
        let shape = output.shape();
        assert!(shape.numel() == 1, "backward: the output is {shape}, not a scalar (use try_backward_with_seed)");
        self.try_backward_with_seed(output, &[T::one()])
    }

    /// As [`Tape::backward_with_seed`], returning a [`BackwardError`] instead of panicking.
    ///
    /// # Errors
    ///
    /// As [`Tape::try_backward`].
    ///
    /// # Panics
    ///
    /// As [`Tape::backward_with_seed`].
    #[track_caller]
    pub fn try_backward_with_seed<'t>(
        &'t self,
        output: Var<'t, T>,
        seed: &[T],
    ) -> Result<Gradients<'t, T>, BackwardError> {
        assert!(std::ptr::eq(output.tape, self), "backward: the output belongs to another tape");
        let mut guard = self.recording_mut();
        let recording = &mut *guard;
        let last = output.index;
        let covered = recording.nodes.len();
        let output_node = &recording.nodes[last];
        assert_eq!(
            seed.len(),
            output_node.shape.numel(),
            "backward: the seed has {} elements, the output is {}",
            seed.len(),
            output_node.shape
        );
        if !output_node.requires_grad() {
            let op = crate::ops::node_op_name(output_node, &recording.custom_ops);
            return Err(BackwardError::NoTrainableLeaf { output: last, op });
        }
        let mut adjoints = std::mem::take(&mut recording.adjoint_pool);
        adjoints.clear();
        adjoints.resize(recording.adjoint_len, T::zero());
        let start = output_node.adjoint_offset;
        adjoints[start..start + seed.len()].copy_from_slice(seed);

        let reached = &mut recording.reached;
        reached.clear();
        reached.resize(last + 1, false);
        reached[last] = true;
        let (nodes, values, indices) = (&recording.nodes[..], &recording.values[..], &recording.indices[..]);
        let (extra_inputs, custom_ops, anomaly) =
            (&recording.extra_inputs[..], &recording.custom_ops[..], &recording.anomaly);
        for index in (0..=last).rev() {
            if let Some(ahead) = index.checked_sub(PREFETCH_AHEAD) {
                for input in nodes[ahead].input_slots() {
                    if let Some(input) = nodes.get(input as usize) {
                        prefetch(&input.value_offset);
                    }
                }
            }
            if !reached[index] {
                continue;
            }
            let node = &nodes[index];
            if !ops::scalar_backward(node, (nodes, values), &mut adjoints, reached) {
                let inputs = node.inputs(extra_inputs);
                let (lower_adjoints, own) = adjoints.split_at_mut(node.adjoint_offset);
                // Past the node's own adjoint: the workspace a rule reserved (conv2d's), and above
                // it the adjoints of later nodes, which no rule touches.
                let (upstream, workspace) = own.split_at_mut(node.shape.numel());
                let upstream = &*upstream;
                let mut context = BackwardContext {
                    nodes,
                    values,
                    indices,
                    custom_ops,
                    node,
                    inputs,
                    upstream,
                    lower_adjoints,
                    workspace,
                };
                ops::backward(&mut context);
                for &input in inputs {
                    if nodes[input as usize].requires_grad() {
                        reached[input as usize] = true;
                    }
                }
            }
            if anomaly.enabled {
                let graph = (nodes, extra_inputs, custom_ops);
                if let Some(found) = Anomaly::in_backward(anomaly, graph, index as u32, &adjoints) {
                    return Err(found.into());
                }
            }
        }
        Ok(Gradients { tape: self, adjoints, output: output.index as u32, covered })
    }

    /// The Jacobian of `output` with respect to `input`, `[numel(output) x numel(input)]`,
    /// built row by row from one vector-Jacobian product per output element.
    ///
    /// # Panics
    ///
    /// If `input` is not a trainable leaf or node that depends on one.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_slice(&[0.0, 0.0]));
    /// let j = tape.jacobian(z.softmax(), z);
    /// // diag(y) - y y^T with y = [1/2, 1/2] (F6).
    /// assert_eq!(j.data(), &[0.25, -0.25, -0.25, 0.25]);
    /// ```
    #[track_caller]
    pub fn jacobian<'t>(&'t self, output: Var<'t, T>, input: Var<'t, T>) -> Tensor<T> {
        let (rows, cols) = (output.shape().numel(), input.shape().numel());
        let mut jacobian = Tensor::zeros(crate::Shape::matrix(rows, cols));
        let mut seed = vec![T::zero(); rows];
        for row in 0..rows {
            seed[row] = T::one();
            let grads = self.backward_with_seed(output, &seed);
            let Some(input_adjoint) = grads.get(input) else {
                panic!("jacobian: the input (a {} node) needs no gradient; make it with Tape::var", input.op_name());
            };
            jacobian.data_mut()[row * cols..(row + 1) * cols].copy_from_slice(input_adjoint);
            seed[row] = T::zero();
        }
        jacobian
    }
}

impl<'t, T: Real> Gradients<'t, T> {
    /// dL/dv for a one-element `v`.
    ///
    /// # Panics
    ///
    /// If `v` has more than one element, needs no gradient (a constant), or belongs to
    /// another tape.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(tape.backward(x.powi(3)).wrt(x), 12.0);
    /// ```
    #[track_caller]
    pub fn wrt(&self, v: Var<'t, T>) -> T {
        let adjoint = self.wrt_slice(v);
        assert!(adjoint.len() == 1, "wrt: the node is {}, not a scalar; use wrt_slice or wrt_tensor", v.shape());
        adjoint[0]
    }

    /// dL/dv, row-major, one element per element of `v`.
    ///
    /// # Panics
    ///
    /// If `v` needs no gradient (a constant, or made only from constants), was recorded
    /// after the sweep, or belongs to another tape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    /// assert_eq!(tape.backward((x * x).sum()).wrt_slice(x), &[2.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn wrt_slice(&self, v: Var<'t, T>) -> &[T] {
        match self.get(v) {
            Some(adjoint) => adjoint,
            None if v.index >= self.covered => panic!(
                "wrt: node #{} ({}, {}) was recorded after the sweep, which covered nodes #0 to #{}; sweep again to get its gradient",
                v.index,
                v.op_name(),
                v.shape(),
                self.covered - 1
            ),
            None => panic!(
                "wrt: node #{} ({}, {}) depends on no trainable leaf, so it has no gradient (make it with Tape::var)",
                v.index,
                v.op_name(),
                v.shape()
            ),
        }
    }

    /// dL/dv as a [`Tensor`] of `v`'s shape.
    ///
    /// # Panics
    ///
    /// As [`Gradients::wrt_slice`].
    ///
    /// ```
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(&Tensor::from_rows(&[[1.0, 2.0]]));
    /// let g = tape.backward(w.sum()).wrt_tensor(w);
    /// assert_eq!(g.shape(), Shape::matrix(1, 2));
    /// ```
    #[track_caller]
    pub fn wrt_tensor(&self, v: Var<'t, T>) -> Tensor<T> {
        Tensor::new(v.shape(), self.wrt_slice(v).to_vec())
    }

    /// dL/dv, or `None` if `v` depends on no trainable leaf or was recorded after the sweep.
    ///
    /// # Panics
    ///
    /// If `v` belongs to another tape.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (w, x) = (tape.var(1.0), tape.constant(2.0));
    /// let grads = tape.backward(w * x);
    /// assert_eq!(grads.get(w), Some(&[2.0][..]));
    /// assert_eq!(grads.get(x), None);
    /// ```
    #[track_caller]
    pub fn get(&self, v: Var<'t, T>) -> Option<&[T]> {
        assert!(std::ptr::eq(v.tape, self.tape), "wrt: the handle belongs to another tape");
        if v.index >= self.covered {
            return None;
        }
        let recording = self.tape.recording.borrow();
        let node = &recording.nodes[v.index];
        if !node.requires_grad() {
            return None;
        }
        Some(&self.adjoints[node.adjoint_offset..node.adjoint_offset + node.shape.numel()])
    }
}

impl<T> Drop for Gradients<'_, T> {
    fn drop(&mut self) {
        // Give the buffer back for the next sweep; if another sweep's buffer is already
        // there (two Gradients alive at once), keep the larger.
        if let Ok(mut recording) = self.tape.recording.try_borrow_mut()
            && recording.adjoint_pool.capacity() < self.adjoints.capacity()
        {
            recording.adjoint_pool = std::mem::take(&mut self.adjoints);
        }
    }
}
