//! Losses, each reduced to a scalar by a mean: cross-entropy from probabilities (F7, F8),
//! fused softmax cross-entropy from logits (F11), binary cross-entropy from logits (F10)
//! and mean squared error (F14).
//!
//! A mean's 1/N is applied once, here, in the loss's own backward rule; nothing upstream
//! divides again (notes section 4, note 1).

use super::activation::stable_sigmoid;
use super::softmax::softmax_row;
use super::{check_shapes, op_family, two_matrices, BackwardContext, Op, TapedContext};
use crate::registry::{probe, Arity, Check, Domain, OpSpec, Reads};
use crate::{Real, Shape, Tensor, Var};

/// A descriptor of this family: adjoint from the inputs, `arity` of them.
const fn spec(
    name: &'static str,
    notes: &'static str,
    arity: usize,
    reads: Reads,
    explain: &'static [&'static str],
    check: Check,
) -> OpSpec {
    OpSpec::new(name, Arity::Fixed(arity), reads, explain, check).with_notes(notes)
}

op_family! {
    /// Losses, each the mean over its rows or elements.
    enum Loss {
        CrossEntropy => spec("cross_entropy", "F8", 2, Reads::Input,
            &["dp = -g y / (N p), N = {N}", "dy = -g log(p) / N, N = {N}"],
            probe!(|v| v[0].cross_entropy(v[1]), shapes: two_matrices, domain: Domain::POSITIVE)),
        /// The labels start at the node's spare slot in the tape's index arena, one per row;
        /// the probabilities follow the value.
        SoftmaxCrossEntropy => spec("softmax_cross_entropy", "F11", 1, Reads::Output,
            &["dz = g (softmax(z) - onehot(k)) / N, N = {N}"],
            probe!(|v| v[0].softmax_cross_entropy(&probe_labels(v[0].shape())), shapes: super::one_matrix,
                domain: Domain::ANY)),
        BceWithLogits => spec("bce_with_logits", "F10", 2, Reads::Input,
            &["dz = g (sigmoid(z) - y) / M, M = {M}", "dy = -g z / M, M = {M}"],
            probe!(|v| v[0].bce_with_logits(v[1]), shapes: two_matrices, domain: Domain::ANY)),
        Mse => spec("mse", "F14", 2, Reads::Input,
            &["dp = 2 g (p - t) / M, M = {M}", "dt = 2 g (t - p) / M, M = {M}"],
            probe!(|v| v[0].mse(v[1]), shapes: two_matrices, domain: Domain::ANY)),
    }
}

/// Labels for the property suite: row r gets class r mod the number of classes.
fn probe_labels(shape: Shape) -> Vec<usize> {
    (0..shape.rows()).map(|r| r % shape.cols()).collect()
}

/// The backward rule of a node of this family.
pub(crate) fn backward<T: Real>(op: Loss, ctx: &mut BackwardContext<'_, T>) {
    match op {
        Loss::CrossEntropy => cross_entropy_backward(ctx),
        Loss::SoftmaxCrossEntropy => softmax_cross_entropy_backward(ctx),
        Loss::BceWithLogits => bce_with_logits_backward(ctx),
        Loss::Mse => mse_backward(ctx),
    }
}

#[track_caller]
fn check_same_shape(op: &str, what: &str, a: Shape, b: Shape) {
    check_shapes(a == b, op, || format!("{what} {a} and targets {b} differ in shape"));
}

/// Sum of `g * local(i)` added into `adjoint[i]`: the common tail of every loss rule.
fn add_scaled<T: Real>(adjoint: &mut [T], scale: T, local: impl Fn(usize) -> T) {
    for (i, a) in adjoint.iter_mut().enumerate() {
        *a = *a + scale * local(i);
    }
}

fn cross_entropy_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let rows = T::lit(ctx.input_shape(0).rows() as f64);
    let (p, y) = (ctx.input(0), ctx.input(1));
    let scale = ctx.upstream[0] / rows;
    // dL/dp = -y / p, over N rows (F8); a zero target contributes nothing, even where p = 0.
    if let Some(p_adjoint) = ctx.adjoint(0) {
        add_scaled(p_adjoint, scale, |i| if y[i] == T::zero() { T::zero() } else { -y[i] / p[i] });
    }
    // dL/dy = -log p, over N rows.
    if let Some(y_adjoint) = ctx.adjoint(1) {
        add_scaled(y_adjoint, scale, |i| -p[i].ln());
    }
}

fn softmax_cross_entropy_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let labels_start = ctx.node.aux() as usize;
    let shape = ctx.input_shape(0);
    let (rows, cols) = (shape.rows(), shape.cols());
    let probabilities = ctx.scratch(rows * cols);
    let labels = &ctx.indices[labels_start..labels_start + rows];
    let scale = ctx.upstream[0] / T::lit(rows as f64);
    let Some(z_adjoint) = ctx.adjoint(0) else { return };
    // dL/dz = (softmax(z) - onehot(label)) / N (F11); the 1/N of the mean is applied here, once.
    for ((adjoint_row, p_row), &label) in
        z_adjoint.chunks_exact_mut(cols).zip(probabilities.chunks_exact(cols)).zip(labels)
    {
        for (adjoint, &p) in adjoint_row.iter_mut().zip(p_row) {
            *adjoint = *adjoint + scale * p;
        }
        adjoint_row[label] = adjoint_row[label] - scale;
    }
}

fn bce_with_logits_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let n = T::lit(ctx.input_shape(0).numel() as f64);
    let (z, y) = (ctx.input(0), ctx.input(1));
    let scale = ctx.upstream[0] / n;
    // dL/dz = (sigmoid(z) - y) / n (F10): the a(1 - a) of F9 cancels against sigmoid'.
    if let Some(z_adjoint) = ctx.adjoint(0) {
        add_scaled(z_adjoint, scale, |i| stable_sigmoid(z[i]) - y[i]);
    }
    // dL/dy = -z / n.
    if let Some(y_adjoint) = ctx.adjoint(1) {
        add_scaled(y_adjoint, scale, |i| -z[i]);
    }
}

fn mse_backward<T: Real>(ctx: &mut BackwardContext<'_, T>) {
    let n = T::lit(ctx.input_shape(0).numel() as f64);
    let (p, t) = (ctx.input(0), ctx.input(1));
    let scale = (ctx.upstream[0] + ctx.upstream[0]) / n;
    // dL/dp = 2 (p - t) / n (F14), and its negative for the target.
    if let Some(p_adjoint) = ctx.adjoint(0) {
        add_scaled(p_adjoint, scale, |i| p[i] - t[i]);
    }
    if let Some(t_adjoint) = ctx.adjoint(1) {
        add_scaled(t_adjoint, scale, |i| t[i] - p[i]);
    }
}

/// The taped rule of a node of this family, from each loss's closed-form gradient written in
/// `Var` ops; `g` is the scalar upstream, and the mean's 1/N is applied here, once.
pub(crate) fn taped<T: Real>(op: Loss, ctx: &mut TapedContext<'_, T>) {
    let (g, a) = (ctx.upstream, ctx.input(0));
    let shape = a.shape();
    let scale = |count: usize| g / T::lit(count as f64);
    match op {
        Loss::CrossEntropy => {
            let (p, y) = (a, ctx.input(1));
            let scale = scale(shape.rows());
            if ctx.wants(0) {
                // -y / p (F8), and 0 where the target is 0 (p read as 1 there, so that no
                // 0/0 enters the recording, nor its derivatives), as the first-order rule.
                let targets = ctx.input_values(1);
                let p = if targets.iter().any(|&t| t == T::zero()) {
                    let nonzero =
                        Tensor::from_fn(shape, |i| if targets[i] == T::zero() { T::zero() } else { T::one() });
                    Var::where_(&nonzero, p, ctx.constant(&Tensor::scalar(T::one())))
                } else {
                    p
                };
                ctx.send(0, -(y / p) * scale);
            }
            if ctx.wants(1) {
                ctx.send(1, -p.ln() * scale);
            }
        }
        Loss::SoftmaxCrossEntropy => {
            if ctx.wants(0) {
                // (softmax(z) - onehot(label)) / N (F11).
                let labels = ctx.indices(shape.rows());
                let cols = shape.cols();
                let onehot =
                    Tensor::from_fn(shape, |i| if labels[i / cols] == i % cols { T::one() } else { T::zero() });
                let dz = (a.softmax() - ctx.constant(&onehot)) * scale(shape.rows());
                ctx.send(0, dz);
            }
        }
        Loss::BceWithLogits => {
            let (z, y) = (a, ctx.input(1));
            let scale = scale(shape.numel());
            if ctx.wants(0) {
                // (sigmoid(z) - y) / M (F10).
                ctx.send(0, (z.sigmoid() - y) * scale);
            }
            if ctx.wants(1) {
                ctx.send(1, -z * scale);
            }
        }
        Loss::Mse => {
            let (p, t) = (a, ctx.input(1));
            // 2 (p - t) / M (F14), and its negative for the target.
            let scale = scale(shape.numel()) * T::lit(2.0);
            if ctx.wants(0) {
                ctx.send(0, (p - t) * scale);
            }
            if ctx.wants(1) {
                ctx.send(1, (t - p) * scale);
            }
        }
    }
}

impl<'t, T: Real> Var<'t, T> {
    /// Cross-entropy of probabilities `self` against target distributions, averaged over
    /// rows: `L = -(1/N) sum_n sum_j y_nj log p_nj` (F8; F7 with one-hot targets).
    /// A zero target contributes 0 even where `p = 0`. Backward: `dL/dp = -y / (N p)`.
    ///
    /// # Panics
    ///
    /// If `targets` has another shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let p = tape.var(&Tensor::from_rows(&[[0.25, 0.75]]));
    /// let y = tape.constant(&Tensor::from_rows(&[[0.0, 1.0]]));
    /// let loss = p.cross_entropy(y);
    /// assert_eq!(loss.value(), -(0.75f64.ln()));
    /// assert_eq!(tape.backward(loss).wrt_slice(p), &[0.0, -1.0 / 0.75]);
    /// ```
    #[track_caller]
    pub fn cross_entropy(self, targets: Var<'t, T>) -> Self {
        let shape = self.shape();
        check_same_shape("cross_entropy", "probabilities", shape, targets.shape());
        let rows = T::lit(shape.rows() as f64);
        self.tape.record(Op::Loss(Loss::CrossEntropy), [self, targets], Shape::scalar(), 0, |[p, y], out| {
            let total =
                p.iter().zip(y).fold(T::zero(), |s, (&pi, &yi)| if yi == T::zero() { s } else { s - yi * pi.ln() });
            out[0] = total / rows;
        })
    }

    /// Softmax cross-entropy from logits `[N x C]` and one class label per row, averaged
    /// over rows: `L = (1/N) sum_n (logsumexp(z_n) - z_n[label_n])`. Fused and stable: it
    /// never takes `log(0)`. Backward (F11): `dL/dz = (softmax(z) - onehot(label)) / N`.
    ///
    /// # Panics
    ///
    /// If there is not one label per row, or a label is not below the number of classes.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_rows(&[[0.0, 0.0], [1000.0, -1000.0]]));
    /// let loss = z.softmax_cross_entropy(&[1, 0]);
    /// assert_eq!(loss.value(), 2f64.ln() / 2.0);
    /// assert_eq!(tape.backward(loss).wrt_slice(z), &[0.25, -0.25, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn softmax_cross_entropy(self, labels: &[usize]) -> Self {
        let shape = self.shape();
        let (rows, cols) = (shape.rows(), shape.cols());
        let op = "softmax_cross_entropy";
        check_shapes(!shape.is_scalar(), op, || {
            "logits are a scalar; they need one row of class scores per sample".to_string()
        });
        check_shapes(labels.len() == rows, op, || {
            format!("{} labels for logits {shape} (one label per row)", labels.len())
        });
        if let Some((row, &label)) = labels.iter().enumerate().find(|&(_, &label)| label >= cols) {
            check_shapes(false, op, || {
                format!("label {label} at row {row} is out of range for logits {shape} ({cols} classes)")
            });
        }
        let labels_start = self.tape.push_indices(labels);
        let inverse_rows = T::lit(rows as f64).recip();
        let node = Op::Loss(Loss::SoftmaxCrossEntropy);
        self.tape.record_with_aux(node, [self], Shape::scalar(), rows * cols, labels_start, |[z], out| {
            let (loss, probabilities) = out.split_at_mut(1);
            let mut total = T::zero();
            for ((z_row, p_row), &label) in z.chunks_exact(cols).zip(probabilities.chunks_exact_mut(cols)).zip(labels) {
                let log_sum_exp = softmax_row(z_row, p_row);
                total = total + (log_sum_exp - z_row[label]);
            }
            loss[0] = total * inverse_rows;
        })
    }

    /// Binary cross-entropy from logits, averaged over all elements:
    /// `L = mean(softplus(z) - y z)`, which is `-y log a - (1 - y) log(1 - a)` with
    /// `a = sigmoid(z)` (F9), stable at +/-1000. Targets may be soft (in [0, 1]).
    /// Backward (F10): `dL/dz = (sigmoid(z) - y) / n`.
    ///
    /// # Panics
    ///
    /// If `targets` has another shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let z = tape.var(&Tensor::from_slice(&[0.0, 1000.0]));
    /// let y = tape.constant(&Tensor::from_slice(&[1.0, 1.0]));
    /// let loss = z.bce_with_logits(y);
    /// assert!((loss.value() - 2f64.ln() / 2.0).abs() < 1e-15);
    /// assert_eq!(tape.backward(loss).wrt_slice(z), &[-0.25, 0.0]);
    /// ```
    #[track_caller]
    pub fn bce_with_logits(self, targets: Var<'t, T>) -> Self {
        let shape = self.shape();
        check_same_shape("bce_with_logits", "logits", shape, targets.shape());
        let n = T::lit(shape.numel() as f64);
        self.tape.record(Op::Loss(Loss::BceWithLogits), [self, targets], Shape::scalar(), 0, |[z, y], out| {
            // softplus(z) - y z, as (max(z, 0) - y z) + log1p(e^-|z|): no cancellation at large |z|.
            let total = z
                .iter()
                .zip(y)
                .fold(T::zero(), |s, (&zi, &yi)| s + ((zi.max(T::zero()) - yi * zi) + (-zi.abs()).exp().ln_1p()));
            out[0] = total / n;
        })
    }

    /// Mean squared error over all elements, `L = (1/n) sum (p - t)^2` (F14, PyTorch's
    /// `MSELoss`). Backward: `dL/dp = 2 (p - t) / n`. The notes' `1/2 sum (p - t)^2` (F12) is
    /// `0.5 * (p - t).powi(2).sum()`.
    ///
    /// # Panics
    ///
    /// If `target` has another shape.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let p = tape.var(&Tensor::from_slice(&[1.0, 3.0]));
    /// let t = tape.constant(&Tensor::from_slice(&[0.0, 0.0]));
    /// let loss = p.mse(t);
    /// assert_eq!(loss.value(), 5.0);
    /// assert_eq!(tape.backward(loss).wrt_slice(p), &[1.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn mse(self, target: Var<'t, T>) -> Self {
        let shape = self.shape();
        check_same_shape("mse", "predictions", shape, target.shape());
        let n = T::lit(shape.numel() as f64);
        self.tape.record(Op::Loss(Loss::Mse), [self, target], Shape::scalar(), 0, |[p, t], out| {
            let total = p.iter().zip(t).fold(T::zero(), |s, (&pi, &ti)| s + (pi - ti) * (pi - ti));
            out[0] = total / n;
        })
    }
}
