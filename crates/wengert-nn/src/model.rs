//! [`Model`]: what the training loop, the optimisers and the checkpoints need of a model:
//! its parameters in a fixed order with their names, and a forward pass on a tape. [`Mlp`]
//! and [`Sequential`] are models; so is any type of a user's that implements the two traits.
//!
//! [`Sequential`]: crate::Sequential

use crate::{Dropout, Mlp, MlpVars};
use wengert_tape::{Real, Tape, Tensor, Var};

/// A model: parameters in a fixed order, each with a name (the checkpoint's tensor name), and
/// a way to put them on a tape for one step.
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::{Activation, Mlp, Model, ModelVars};
/// use wengert_tape::{Shape, Tape, Tensor};
/// fn parameter_total<M: Model<f32>>(model: &M) -> usize {
///     model.parameters().map(|p| p.len()).sum()
/// }
/// let mlp = Mlp::<f32>::new(&[3, 4, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// assert_eq!(parameter_total(&mlp), 3 * 4 + 4 + 4 * 2 + 2);
/// assert_eq!(Model::parameter_names(&mlp)[0], "layer0.weight");
/// let tape = Tape::new();
/// let vars = Model::on_tape(&mlp, &tape);
/// let y = ModelVars::forward(&vars, tape.constant(&Tensor::zeros(Shape::matrix(5, 3))));
/// assert_eq!(y.shape(), Shape::matrix(5, 2));
/// ```
pub trait Model<T: Real> {
    /// The parameters' handles on a tape, for one step.
    type Vars<'t>: ModelVars<'t, T>
    where
        T: 't;

    /// Puts the parameters on `tape` as trainable leaves, in the order of
    /// [`Model::parameters`].
    fn on_tape<'t>(&self, tape: &'t Tape<T>) -> Self::Vars<'t>;

    /// The parameters, in a fixed order.
    fn parameters(&self) -> impl Iterator<Item = &Tensor<T>>;

    /// The parameters, mutably, in the order of [`Model::parameters`].
    fn parameters_mut(&mut self) -> impl Iterator<Item = &mut Tensor<T>>;

    /// Each parameter's name, in the order of [`Model::parameters`].
    fn parameter_names(&self) -> Vec<String>;
}

/// A model's parameters on a tape: the forward pass of one step.
pub trait ModelVars<'t, T: Real> {
    /// The model's output (logits, for a classifier) for the batch `x`.
    fn forward(&self, x: Var<'t, T>) -> Var<'t, T>;

    /// The same with `dropout` where the model applies it in training.
    fn forward_with_dropout(&self, x: Var<'t, T>, dropout: &mut Dropout<T>) -> Var<'t, T>;

    /// The parameters' handles, in the order of [`Model::parameters`].
    fn parameters(&self) -> impl Iterator<Item = Var<'t, T>> + '_;
}

impl<T: Real> Model<T> for Mlp<T> {
    type Vars<'t>
        = MlpVars<'t, T>
    where
        T: 't;

    fn on_tape<'t>(&self, tape: &'t Tape<T>) -> MlpVars<'t, T> {
        Mlp::on_tape(self, tape)
    }

    fn parameters(&self) -> impl Iterator<Item = &Tensor<T>> {
        Mlp::parameters(self)
    }

    fn parameters_mut(&mut self) -> impl Iterator<Item = &mut Tensor<T>> {
        Mlp::parameters_mut(self)
    }

    fn parameter_names(&self) -> Vec<String> {
        Mlp::parameter_names(self)
    }
}

impl<'t, T: Real> ModelVars<'t, T> for MlpVars<'t, T> {
    fn forward(&self, x: Var<'t, T>) -> Var<'t, T> {
        MlpVars::forward(self, x)
    }

    fn forward_with_dropout(&self, x: Var<'t, T>, dropout: &mut Dropout<T>) -> Var<'t, T> {
        MlpVars::forward_with_dropout(self, x, dropout)
    }

    fn parameters(&self) -> impl Iterator<Item = Var<'t, T>> + '_ {
        MlpVars::parameters(self)
    }
}
