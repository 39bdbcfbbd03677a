//! A training run's state in one checkpoint: the model's parameters under their names
//! (`layer0.weight`, ..., with layer norm `norm0.gamma`, ...) and the optimiser's state (`adam.m.0`, `adam.step`, ...), taken by
//! [`Checkpoint::from_training`] and put back, checked end to end, by
//! [`Checkpoint::restore_training`].

use super::{Checkpoint, CheckpointError};
use crate::optim::Optimizer;
use crate::Model;
use std::collections::BTreeSet;
use wengert_tape::{Real, Shape, Tensor};

impl<T: Real> Checkpoint<T> {
    /// A checkpoint of `model`'s parameters, named as [`Model::parameter_names`], and of
    /// `optimizer`'s state ([`Optimizer::save_state`]). Add metadata (the epoch, the
    /// settings a resumed run must share) and [`Checkpoint::save`] it.
    ///
    /// # Panics
    ///
    /// If `optimizer` holds state for parameters of other sizes than `model`'s (it was
    /// stepping another model).
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::checkpoint::Checkpoint;
    /// use wengert_nn::optim::Adam;
    /// use wengert_nn::{Activation, Mlp};
    /// let model = Mlp::<f32>::new(&[4, 3, 2], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// let checkpoint = Checkpoint::from_training(&model, &Adam::new(0.01));
    /// // 4 parameters, a first and a second moment for each, and the step counter.
    /// assert_eq!(checkpoint.len(), 4 + 4 + 4 + 1);
    /// assert_eq!(checkpoint.counter("adam.step"), Some(0));
    /// assert_eq!(checkpoint.get("adam.v.2").map(|t| t.shape().to_string()), Some("[3 x 2]".to_string()));
    /// ```
    #[track_caller]
    pub fn from_training(model: &impl Model<T>, optimizer: &dyn Optimizer<T>) -> Self {
        let mut checkpoint = Checkpoint::new();
        for (name, tensor) in model.parameter_names().into_iter().zip(model.parameters()) {
            checkpoint.insert(name, tensor.clone());
        }
        let shapes: Vec<Shape> = model.parameters().map(Tensor::shape).collect();
        optimizer.save_state(&shapes, &mut checkpoint);
        checkpoint
    }

    /// Puts a checkpoint of [`Checkpoint::from_training`] back into `model` and `optimizer`,
    /// after checking it end to end: every parameter of `model` and every piece of state
    /// `optimizer` keeps for them ([`Optimizer::state_names`]) must be there, each with the
    /// dtype and shape the model gives it, and nothing else may be. Metadata is not read:
    /// compare the fields you stored (epoch, settings) yourself.
    ///
    /// The model's architecture is `model`'s: build it with the sizes, activation and layer
    /// norm the checkpoint was trained with. On an error neither `model` nor `optimizer` is
    /// changed.
    ///
    /// # Errors
    ///
    /// The first problem found, naming the file and the tensor: `MissingTensor`,
    /// `ShapeMismatch` (for example `adam.m.0` stored as `[100]` for a `[784 x 256]`
    /// weight), `DtypeMismatch` (a counter where a tensor belongs), `BadCounter`, and
    /// `UnexpectedTensor` for an entry neither the model nor the optimiser has (a
    /// checkpoint of another optimiser or a deeper model); a parameter the model lacks is
    /// named before any optimiser state. A checkpoint of a model with layer norm restored
    /// into one without is `UnexpectedTensor` naming `norm0.beta`; the other way round,
    /// `MissingTensor` naming `norm0.gamma`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_nn::optim::{Adam, Sgd};
    /// use wengert_nn::{Activation, Mlp};
    /// use wengert_tape::{Shape, Tensor};
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let mut model = Mlp::<f32>::new(&[4, 3, 2], Activation::Tanh, &mut rng);
    /// let mut checkpoint = Checkpoint::from_training(&model, &Adam::new(0.01));
    /// checkpoint.restore_training(&mut model, &mut Adam::new(0.01))?;
    ///
    /// // Another optimiser does not expect Adam's moments.
    /// let error = checkpoint.restore_training(&mut model, &mut Sgd::new(0.1)).unwrap_err();
    /// assert!(matches!(error, CheckpointError::UnexpectedTensor { ref name, .. } if name == "adam.m.0"));
    ///
    /// // A model with layer norm expects the gamma and beta the checkpoint lacks.
    /// let mut normed = model.clone().with_layer_norm(1e-5);
    /// let error = checkpoint.restore_training(&mut normed, &mut Adam::new(0.01)).unwrap_err();
    /// assert!(matches!(error, CheckpointError::MissingTensor { ref name, .. } if name == "norm0.gamma"));
    ///
    /// // A moment of the wrong size is refused, naming it and both shapes.
    /// checkpoint.insert("adam.v.2", Tensor::zeros(Shape::matrix(5, 5)));
    /// let error = checkpoint.restore_training(&mut model, &mut Adam::new(0.01)).unwrap_err();
    /// assert_eq!(error.to_string(), "checkpoint <memory>: tensor `adam.v.2` is [5 x 5], the model expects [3 x 2]");
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn restore_training(
        &self,
        model: &mut impl Model<T>,
        optimizer: &mut dyn Optimizer<T>,
    ) -> Result<(), CheckpointError> {
        let names = model.parameter_names();
        let shapes: Vec<Shape> = model.parameters().map(Tensor::shape).collect();
        for (name, &shape) in names.iter().zip(&shapes) {
            self.expect_tensor(name, shape)?;
        }
        let expected: BTreeSet<String> = names.iter().cloned().chain(optimizer.state_names(shapes.len())).collect();
        // A parameter the model lacks (a deeper model's layer, a layer norm's gamma) is named
        // before the optimiser state that comes with it, which sorts first (`adam.m.4`).
        self.refuse_unexpected(|name| expected.contains(name) || !is_parameter_name(name))?;
        self.refuse_unexpected(|name| expected.contains(name))?;
        // The optimiser checks its own entries before it changes anything; after it, the
        // parameters' copies cannot fail: they were checked above.
        optimizer.load_state(self, &shapes)?;
        for (name, parameter) in names.iter().zip(model.parameters_mut()) {
            self.restore(name, parameter)?;
        }
        Ok(())
    }
}

/// A name [`Model::parameter_names`] gives: `layer<l>.` or `norm<l>.` and a field.
fn is_parameter_name(name: &str) -> bool {
    let Some((module, _field)) = name.split_once('.') else { return false };
    let layer = module.strip_prefix("layer").or_else(|| module.strip_prefix("norm"));
    layer.is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}
