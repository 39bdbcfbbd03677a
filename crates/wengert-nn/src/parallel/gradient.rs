//! The gradient of every parameter of a model in one flat buffer, and a step's loss and
//! accuracy counts: what the workers hand back and what a reduction sums.

use crate::Model;
use std::ops::AddAssign;
use wengert_tape::Tensor;

/// The gradients of a model's parameters, one after another in the order of
/// [`Model::parameters`], in one buffer: the unit the shards' gradients are summed in (and
/// that an allreduce over processes would sum).
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::parallel::FlatGradient;
/// use wengert_nn::{Activation, Mlp};
/// let model = Mlp::<f32>::new(&[3, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let mut total = FlatGradient::for_model(&model);
/// assert_eq!(total.len(), 3 * 2 + 2);
/// assert_eq!(total.parameter(1), &[0.0, 0.0]); // the bias
/// total.as_mut_slice().fill(0.5);
/// let mut other = FlatGradient::for_model(&model);
/// other.as_mut_slice().fill(0.25);
/// total += &other;
/// assert_eq!(total.parameter(0), &[0.75; 6]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FlatGradient {
    data: Vec<f32>,
    /// Where each parameter starts, and the end: one more than there are parameters.
    offsets: Vec<usize>,
}

impl FlatGradient {
    /// Zeros laid out for `model`'s parameters.
    pub fn for_model<M: Model<f32> + ?Sized>(model: &M) -> Self {
        let mut offsets = vec![0];
        offsets.extend(model.parameters().map(Tensor::len).scan(0, |end, len| {
            *end += len;
            Some(*end)
        }));
        FlatGradient { data: vec![0.0; offsets[offsets.len() - 1]], offsets }
    }

    /// The numbers in the buffer: the model's parameter count.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the model has no parameters.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// How many parameters (tensors) the buffer holds.
    pub fn parameter_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The gradient of parameter `index` (in the order of [`Model::parameters`]).
    ///
    /// # Panics
    ///
    /// If `index` is not below [`FlatGradient::parameter_count`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::parallel::FlatGradient;
    /// use wengert_nn::{Activation, Mlp};
    /// let model = Mlp::<f32>::new(&[2, 3, 1], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// let mut flat = FlatGradient::for_model(&model);
    /// assert_eq!(flat.parameter_count(), 4);
    /// flat.parameter_mut(2).fill(1.0); // layer 1's weight, [3 x 1]
    /// assert_eq!(flat.as_slice()[2 * 3 + 3..][..3], [1.0; 3]);
    /// let lengths: Vec<usize> = flat.parameters().map(<[f32]>::len).collect();
    /// assert_eq!(lengths, [6, 3, 3, 1]);
    /// ```
    #[track_caller]
    pub fn parameter(&self, index: usize) -> &[f32] {
        &self.data[self.range(index)]
    }

    /// The gradient of parameter `index`, to write.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`FlatGradient::parameter_count`].
    #[track_caller]
    pub fn parameter_mut(&mut self, index: usize) -> &mut [f32] {
        let range = self.range(index);
        &mut self.data[range]
    }

    /// Every parameter's gradient, in order.
    pub fn parameters(&self) -> impl Iterator<Item = &[f32]> + '_ {
        self.offsets.windows(2).map(|pair| &self.data[pair[0]..pair[1]])
    }

    /// The whole buffer.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The whole buffer, to write (a reduction across processes sums it in place).
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Copies `other` (of the same layout) into `self`.
    ///
    /// # Panics
    ///
    /// If the layouts differ.
    #[track_caller]
    pub fn copy_from(&mut self, other: &FlatGradient) {
        self.check_layout("FlatGradient::copy_from", other);
        self.data.copy_from_slice(&other.data);
    }

    /// Where each parameter starts, and the end.
    pub(crate) fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    #[track_caller]
    fn range(&self, index: usize) -> std::ops::Range<usize> {
        let count = self.parameter_count();
        assert!(index < count, "FlatGradient: parameter {index} of {count}");
        self.offsets[index]..self.offsets[index + 1]
    }

    #[track_caller]
    fn check_layout(&self, op: &str, other: &FlatGradient) {
        assert!(
            self.offsets == other.offsets,
            "{op}: layouts differ ({} numbers in {} parameters, and {} in {})",
            self.len(),
            self.parameter_count(),
            other.len(),
            other.parameter_count()
        );
    }
}

impl AddAssign<&FlatGradient> for FlatGradient {
    /// Adds `other` (of the same layout) element by element.
    ///
    /// # Panics
    ///
    /// If the layouts differ.
    #[track_caller]
    fn add_assign(&mut self, other: &FlatGradient) {
        self.check_layout("FlatGradient += FlatGradient", other);
        for (total, &g) in self.data.iter_mut().zip(&other.data) {
            *total += g;
        }
    }
}

/// What a step (or a shard of it) measured before its update: rows seen, the sum over
/// them of the loss (the mean loss times the rows), and how many were classified right.
///
/// ```
/// use wengert_nn::parallel::StepStats;
/// let mut total = StepStats { rows: 2, loss_sum: 1.5, correct: 1 };
/// total += StepStats { rows: 3, loss_sum: 1.0, correct: 3 };
/// assert_eq!(total, StepStats { rows: 5, loss_sum: 2.5, correct: 4 });
/// assert_eq!(total.mean_loss(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Rows the step (or shard) saw.
    pub rows: usize,
    /// The sum over those rows of their loss.
    pub loss_sum: f64,
    /// Rows whose largest logit was their label's.
    pub correct: usize,
}

impl StepStats {
    /// The mean loss over the rows (NaN with no rows).
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.rows as f64
    }
}

impl AddAssign for StepStats {
    fn add_assign(&mut self, other: StepStats) {
        self.rows += other.rows;
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
    }
}
