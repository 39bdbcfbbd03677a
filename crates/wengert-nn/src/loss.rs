//! Losses with a choice of reduction, as PyTorch's `reduction=` argument: per element
//! ([`Reduction::None`]), averaged ([`Reduction::Mean`]) or summed ([`Reduction::Sum`]).
//! Each is composed of the engine's elementwise ops, so its gradient is theirs; the fused
//! ops [`Var::mse`] and [`Var::bce_with_logits`] remain the fast path for a mean.
//!
//! [`softmax_cross_entropy`] gives one loss per row of `[N x C]` logits (through the
//! engine's `logsumexp_axis` and `sum_axis`); [`Var::softmax_cross_entropy`] stays the fused,
//! faster form of its mean.

use wengert_tape::{Real, Var};

/// How a loss reduces its per-element values.
///
/// ```
/// use wengert_nn::loss::Reduction;
/// use wengert_tape::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let per_element = tape.constant(&Tensor::from_slice(&[1.0, 2.0, 6.0]));
/// assert_eq!(Reduction::Sum.reduce(per_element).value(), 9.0);
/// assert_eq!(Reduction::Mean.reduce(per_element).value(), 3.0);
/// assert_eq!(Reduction::None.reduce(per_element).values().len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// One loss per element, in the input's shape.
    None,
    /// The mean over all elements: a scalar.
    #[default]
    Mean,
    /// The sum over all elements: a scalar.
    Sum,
}

impl Reduction {
    /// Reduces per-element losses: returns them as they are, or records `.mean()` or
    /// `.sum()`.
    ///
    /// ```
    /// use wengert_nn::loss::Reduction;
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(Reduction::None.reduce(x).index(), x.index()); // nothing recorded
    /// ```
    pub fn reduce<'t, T: Real>(self, per_element: Var<'t, T>) -> Var<'t, T> {
        match self {
            Reduction::None => per_element,
            Reduction::Mean => per_element.mean(),
            Reduction::Sum => per_element.sum(),
        }
    }
}

/// Panics naming `loss` and both shapes unless they are equal: a loss compares element
/// with element, and a broadcast would hide a mistake (a `[N x 1]` prediction against
/// `[N]` targets).
#[track_caller]
fn check_same_shape<T: Real>(loss: &str, input: Var<'_, T>, target: Var<'_, T>) {
    assert!(
        input.shape() == target.shape(),
        "{loss}: input {} and target {} differ in shape (a loss compares element with element)",
        input.shape(),
        target.shape()
    );
}

/// Squared error `(p - t)^2` per element, reduced by `reduction` (PyTorch's
/// `MSELoss(reduction=...)`). Gradient per element `2 (p - t)`, over the element count for
/// a mean.
///
/// # Panics
///
/// If `prediction` and `target` differ in shape.
///
/// ```
/// use wengert_nn::loss::{mse, Reduction};
/// use wengert_tape::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let p = tape.var(&Tensor::from_slice(&[1.0, 3.0]));
/// let t = tape.constant(&Tensor::from_slice(&[0.0, 1.0]));
/// assert_eq!(&*mse(p, t, Reduction::None).values(), &[1.0, 4.0]);
/// assert_eq!(mse(p, t, Reduction::Mean).value(), 2.5);
/// let sum = mse(p, t, Reduction::Sum);
/// assert_eq!(sum.value(), 5.0);
/// assert_eq!(tape.backward(sum).wrt_slice(p), &[2.0, 4.0]);
/// ```
#[track_caller]
pub fn mse<'t, T: Real>(prediction: Var<'t, T>, target: Var<'t, T>, reduction: Reduction) -> Var<'t, T> {
    check_same_shape("mse", prediction, target);
    reduction.reduce((prediction - target).powi(2))
}

/// Binary cross-entropy from logits per element, `softplus(z) - y z` (which is
/// `-y log s - (1 - y) log(1 - s)` with `s = sigmoid(z)`, without forming `log s`: finite
/// at `|z| = 1000`), reduced by `reduction` (PyTorch's
/// `BCEWithLogitsLoss(reduction=...)`). Targets may be soft, in `[0, 1]`. Gradient per
/// element `sigmoid(z) - y`.
///
/// # Panics
///
/// If `logits` and `targets` differ in shape.
///
/// ```
/// use wengert_nn::loss::{bce_with_logits, Reduction};
/// use wengert_tape::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let z = tape.var(&Tensor::from_slice(&[0.0, 1000.0]));
/// let y = tape.constant(&Tensor::from_slice(&[1.0, 1.0]));
/// let per_element = bce_with_logits(z, y, Reduction::None);
/// assert_eq!(&*per_element.values(), &[2f64.ln(), 0.0]);
/// let sum = bce_with_logits(z, y, Reduction::Sum);
/// assert_eq!(tape.backward(sum).wrt_slice(z), &[-0.5, 0.0]);
/// ```
#[track_caller]
pub fn bce_with_logits<'t, T: Real>(logits: Var<'t, T>, targets: Var<'t, T>, reduction: Reduction) -> Var<'t, T> {
    check_same_shape("bce_with_logits", logits, targets);
    reduction.reduce(logits.softplus() - targets * logits)
}

/// Softmax cross-entropy from logits `[N x C]` and one class label per row, per row
/// `logsumexp(z_n) - z_n[k_n]` (stable: the row maximum is subtracted inside
/// `logsumexp_axis`), reduced by `reduction` (PyTorch's
/// `CrossEntropyLoss(reduction=...)`). With [`Reduction::Mean`] it equals the engine's fused
/// `softmax_cross_entropy`; [`Reduction::None`] gives the per-sample losses. Gradient per row
/// `softmax(z_n) - onehot(k_n)`.
///
/// # Panics
///
/// If `logits` is not a matrix, there is not one label per row, or a label is not below the
/// number of classes.
///
/// ```
/// use wengert_nn::loss::{softmax_cross_entropy, Reduction};
/// use wengert_tape::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let z = tape.var(&Tensor::from_rows(&[[0.0, 0.0], [1000.0, -1000.0]]));
/// let per_sample = softmax_cross_entropy(z, &[1, 0], Reduction::None);
/// assert_eq!(&*per_sample.values(), &[2f64.ln(), 0.0]);
/// let mean = softmax_cross_entropy(z, &[1, 0], Reduction::Mean);
/// assert_eq!(mean.value(), z.softmax_cross_entropy(&[1, 0]).value());
/// ```
#[track_caller]
pub fn softmax_cross_entropy<'t, T: Real>(logits: Var<'t, T>, labels: &[usize], reduction: Reduction) -> Var<'t, T> {
    let shape = logits.shape();
    assert!(shape.rank() == 2, "softmax_cross_entropy: logits are {shape}, not rows [N x C]");
    let (rows, classes) = (shape.rows(), shape.cols());
    assert!(labels.len() == rows, "softmax_cross_entropy: {} labels for logits {shape} (one per row)", labels.len());
    if let Some((row, &label)) = labels.iter().enumerate().find(|&(_, &label)| label >= classes) {
        panic!(
            "softmax_cross_entropy: label {label} at row {row} is out of range for logits {shape} ({classes} classes)"
        );
    }
    let one_hot =
        wengert_tape::Tensor::from_fn(shape, |i| if i % classes == labels[i / classes] { T::one() } else { T::zero() });
    let picked = (logits * logits.tape().constant(&one_hot)).sum_axis(1, false);
    reduction.reduce(logits.logsumexp_axis(1, false) - picked)
}
