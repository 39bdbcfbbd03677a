//! Optimisers that update a model's tensors in place from their gradients (G1 and its
//! refinements): SGD with optional momentum, Adam, and clipping by global norm.
//!
//! A step is [`Optimizer::begin_step`], then [`Optimizer::update`] once per parameter, in a
//! fixed order (the index names the parameter, so per-parameter state stays with it). State
//! buffers are allocated at the first step and reused afterwards. An optimiser whose update
//! of each element depends on that element alone (both of these) also lends its step as an
//! [`ElementwiseStep`], which a pool of threads splits into stretches of elements
//! ([`Workers::apply`](crate::parallel::Workers::apply)) with the same result.
//!
//! State goes into a [`Checkpoint`] and comes back checked: each buffer is stored with its
//! parameter's shape under `<optimiser>.<buffer>.<index>` (`adam.m.0`), counters as
//! integers (`adam.step`), and [`Optimizer::load_state`] refuses a missing, misshapen,
//! mistyped or stray entry with a [`CheckpointError`] naming the file and the entry.

use crate::checkpoint::{Checkpoint, CheckpointError};
use wengert_tape::{Real, Shape, Tensor};

/// Updates parameters in place from gradients, and saves and restores its state.
pub trait Optimizer<T: Real> {
    /// Starts a step (Adam counts steps here).
    fn begin_step(&mut self) {}

    /// Updates parameter number `index` from its gradient, multiplied by `gradient_scale`
    /// (1, or the factor of [`clip_scale`]).
    fn update(&mut self, index: usize, parameter: &mut [T], gradient: &[T], gradient_scale: T);

    /// This step as an [`ElementwiseStep`], if each element's update depends on that element
    /// of the parameter, the gradient and the state alone: a pool of threads can then split
    /// the step into stretches of elements ([`Workers::apply`](crate::parallel::Workers::apply)).
    /// Called after [`Optimizer::begin_step`], in place of the step's
    /// [`Optimizer::update`] calls; `lengths` are the parameters' lengths, in order, for the
    /// state buffers to be made at the first step. The default, `None`, has the step taken by
    /// one `update` per parameter.
    ///
    /// ```
    /// use wengert_nn::optim::{Adam, Optimizer};
    /// let (mut one, mut other) = (Adam::new(0.1_f64), Adam::new(0.1_f64));
    /// let (mut w, mut w_split) = ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]);
    /// let g = [0.5, -1.0, 2.0];
    /// one.begin_step();
    /// one.update(0, &mut w, &g, 1.0);
    /// // The same step in two stretches, as two threads would take it.
    /// other.begin_step();
    /// let step = other.elementwise_step(&[3]).expect("Adam is elementwise");
    /// let [m, v] = step.buffers;
    /// let (w_a, w_b) = w_split.split_at_mut(1);
    /// let (m_a, m_b) = m[0].split_at_mut(1);
    /// let (v_a, v_b) = v[0].split_at_mut(1);
    /// step.rule.apply(w_a, &g[..1], 1.0, [m_a, v_a]);
    /// step.rule.apply(w_b, &g[1..], 1.0, [m_b, v_b]);
    /// assert_eq!(w, w_split);
    /// ```
    fn elementwise_step(&mut self, lengths: &[usize]) -> Option<ElementwiseStep<'_, T>> {
        let _ = lengths;
        None
    }

    /// The names of the checkpoint entries [`Optimizer::save_state`] writes for
    /// `parameters` parameters, in any order; restoring refuses any other entry.
    fn state_names(&self, parameters: usize) -> Vec<String>;

    /// Writes the state kept for parameters of shapes `parameters` into `checkpoint`, each
    /// buffer with its parameter's shape. A buffer not yet made (no step taken) is written
    /// as the zeros it would start from, so every checkpoint holds the same entries.
    ///
    /// # Panics
    ///
    /// If a buffer's size is not its parameter's (the optimiser stepped another model).
    fn save_state(&self, parameters: &[Shape], checkpoint: &mut Checkpoint<T>);

    /// Restores the state [`Optimizer::save_state`] wrote for parameters of shapes
    /// `parameters`, after checking every entry: on an error the state is unchanged.
    ///
    /// A buffer stored flat, as a vector of its parameter's size, also loads (the layout of
    /// earlier checkpoints), and so does a counter stored as a whole float scalar.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::MissingTensor`], [`CheckpointError::ShapeMismatch`] (a buffer whose
    /// shape is not its parameter's), [`CheckpointError::DtypeMismatch`] (a counter where a
    /// buffer belongs), [`CheckpointError::BadCounter`], and
    /// [`CheckpointError::UnexpectedTensor`] for an entry under this optimiser's prefix that
    /// it does not keep (a buffer for a parameter the model lacks, say); each names the file
    /// and the entry.
    fn load_state(&mut self, checkpoint: &Checkpoint<T>, parameters: &[Shape]) -> Result<(), CheckpointError>;
}

/// An optimiser's update of one stretch of one parameter: `parameter`, its `gradient`
/// (times `gradient_scale`), and the same stretch of each state buffer the optimiser keeps
/// for that parameter (`state[0]`, `state[1]`; an empty slice for a buffer it does not keep).
/// Each element's new value depends on that element alone, so the stretches of a step can
/// be taken in any order, on any threads, with the same result.
pub trait ElementwiseRule<T>: Sync {
    /// Updates the stretch in place.
    fn apply(&self, parameter: &mut [T], gradient: &[T], gradient_scale: T, state: [&mut [T]; 2]);
}

/// One step of an elementwise optimiser, lent for threads to share
/// ([`Optimizer::elementwise_step`]): the rule, and the state buffers it reads and writes.
pub struct ElementwiseStep<'a, T> {
    /// The update of a stretch.
    pub rule: &'a dyn ElementwiseRule<T>,
    /// `buffers[k][index]`: the optimiser's state buffer `k` for parameter `index`, as long as
    /// the parameter (Adam's first and second moments; SGD's velocity, then nothing). A buffer
    /// the optimiser does not keep is an empty list.
    pub buffers: [&'a mut [Vec<T>]; 2],
}

/// The scale that brings the gradients' global L2 norm down to `max_norm` (1 if it already
/// is at most that): `min(1, max_norm / ||g||)` over all gradients together.
///
/// ```
/// use wengert_nn::optim::clip_scale;
/// let g1 = [3.0_f64];
/// let g2 = [4.0_f64];
/// assert_eq!(clip_scale([&g1[..], &g2[..]], 1.0), 0.2);   // ||g|| = 5
/// assert_eq!(clip_scale([&g1[..], &g2[..]], 10.0), 1.0);
/// ```
pub fn clip_scale<'a, T: Real>(gradients: impl IntoIterator<Item = &'a [T]>, max_norm: T) -> T {
    let squared = gradients.into_iter().flatten().fold(T::zero(), |sum, &g| sum + g * g);
    let norm = squared.sqrt();
    if norm > max_norm {
        max_norm / norm
    } else {
        T::one()
    }
}

/// Stochastic gradient descent, `theta <- theta - lr g` (G1), with optional momentum in
/// PyTorch's form: `v <- mu v + g`, `theta <- theta - lr v`.
///
/// # Examples
///
/// ```
/// use wengert_nn::optim::{Optimizer, Sgd};
/// let mut sgd = Sgd::new(0.1_f64);
/// let mut w = [1.0, 2.0];
/// sgd.begin_step();
/// sgd.update(0, &mut w, &[10.0, -10.0], 1.0);
/// assert_eq!(w, [0.0, 3.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    pub learning_rate: T,
    pub momentum: T,
    velocity: Vec<Vec<T>>,
    /// The rule of the step in progress, for [`Optimizer::elementwise_step`] to lend.
    current: SgdRule<T>,
}

impl<T: Real> Sgd<T> {
    /// Plain SGD.
    pub fn new(learning_rate: T) -> Self {
        Sgd::with_momentum(learning_rate, T::zero())
    }

    /// SGD with momentum `momentum` (0.9 is usual).
    pub fn with_momentum(learning_rate: T, momentum: T) -> Self {
        Sgd { learning_rate, momentum, velocity: Vec::new(), current: SgdRule::default() }
    }

    /// The update rule with the current hyperparameters.
    fn rule(&self) -> SgdRule<T> {
        SgdRule { learning_rate: self.learning_rate, momentum: self.momentum }
    }
}

/// SGD's update of a stretch; `state[0]` is the velocity (empty without momentum).
#[derive(Clone, Copy, Debug, Default)]
struct SgdRule<T> {
    learning_rate: T,
    momentum: T,
}

impl<T: Real> ElementwiseRule<T> for SgdRule<T> {
    /// `theta <- theta - lr g`, or with momentum `v <- mu v + g`, `theta <- theta - lr v`.
    fn apply(&self, parameter: &mut [T], gradient: &[T], gradient_scale: T, [velocity, _]: [&mut [T]; 2]) {
        check_stretch("Sgd", parameter, gradient);
        let (lr, mu) = (self.learning_rate, self.momentum);
        if mu == T::zero() {
            for (p, &g) in parameter.iter_mut().zip(gradient) {
                *p = *p - lr * (g * gradient_scale);
            }
            return;
        }
        check_stretch("Sgd (velocity)", parameter, velocity);
        for ((p, v), &g) in parameter.iter_mut().zip(velocity.iter_mut()).zip(gradient) {
            *v = mu * *v + g * gradient_scale;
            *p = *p - lr * *v;
        }
    }
}

/// Panics unless a stretch's parameter and its gradient (or state) have the same length.
#[track_caller]
fn check_stretch<T>(who: &str, parameter: &[T], other: &[T]) {
    assert!(
        parameter.len() == other.len(),
        "{who}: a stretch of {} parameters with {} gradients or state",
        parameter.len(),
        other.len()
    );
}

/// The buffer for parameter `index`, made (zeroed) at its first use.
fn buffer<T: Real>(buffers: &mut Vec<Vec<T>>, index: usize, len: usize) -> &mut [T] {
    if buffers.len() <= index {
        buffers.resize_with(index + 1, Vec::new);
    }
    if buffers[index].len() != len {
        buffers[index] = vec![T::zero(); len];
    }
    &mut buffers[index]
}

/// Makes (zeroed) the buffers of parameters of `lengths` that do not exist yet or have
/// another length, as [`buffer`] does one at a time.
fn make_buffers<T: Real>(buffers: &mut Vec<Vec<T>>, lengths: &[usize]) {
    if buffers.len() < lengths.len() {
        buffers.resize_with(lengths.len(), Vec::new);
    }
    for (buffer, &len) in buffers.iter_mut().zip(lengths) {
        if buffer.len() != len {
            *buffer = vec![T::zero(); len];
        }
    }
}

/// `prefix.0`, `prefix.1`, ...: the names of one buffer per parameter.
fn buffer_names(prefix: &str, parameters: usize) -> impl Iterator<Item = String> + '_ {
    (0..parameters).map(move |index| format!("{prefix}.{index}"))
}

/// Writes `buffers` (one per parameter, zeros where not yet made) under `prefix.<index>`,
/// each with its parameter's shape.
#[track_caller]
fn save_buffers<T: Real>(
    who: &str,
    prefix: &str,
    buffers: &[Vec<T>],
    parameters: &[Shape],
    checkpoint: &mut Checkpoint<T>,
) {
    for (index, (name, &shape)) in buffer_names(prefix, parameters.len()).zip(parameters).enumerate() {
        let data = match buffers.get(index) {
            Some(buffer) if !buffer.is_empty() => {
                assert!(
                    buffer.len() == shape.numel(),
                    "{who}::save_state: buffer `{name}` holds {} numbers, its parameter is {shape}",
                    buffer.len()
                );
                buffer.clone()
            }
            _ => vec![T::zero(); shape.numel()],
        };
        checkpoint.insert(name, Tensor::new(shape, data));
    }
}

/// Reads one buffer per parameter from `prefix.<index>`, each checked against its
/// parameter's shape (or, as earlier checkpoints stored it, a vector of its size).
fn load_buffers<T: Real>(
    prefix: &str,
    parameters: &[Shape],
    checkpoint: &Checkpoint<T>,
) -> Result<Vec<Vec<T>>, CheckpointError> {
    buffer_names(prefix, parameters.len())
        .zip(parameters)
        .map(|(name, &shape)| {
            let flat = checkpoint.get(&name).filter(|t| t.shape().rank() == 1 && t.len() == shape.numel());
            let tensor = match flat {
                Some(tensor) => tensor,
                None => checkpoint.expect_tensor(&name, shape)?,
            };
            Ok(tensor.data().to_vec())
        })
        .collect()
}

/// Refuses an entry under `prefix` (such as `adam.`) that is not one of `names`.
fn refuse_strays<T: Real>(checkpoint: &Checkpoint<T>, prefix: &str, names: &[String]) -> Result<(), CheckpointError> {
    checkpoint.refuse_unexpected(|name| !name.starts_with(prefix) || names.iter().any(|n| n == name))
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn update(&mut self, index: usize, parameter: &mut [T], gradient: &[T], gradient_scale: T) {
        let rule = self.rule();
        let velocity: &mut [T] =
            if self.momentum == T::zero() { &mut [] } else { buffer(&mut self.velocity, index, parameter.len()) };
        rule.apply(parameter, gradient, gradient_scale, [velocity, &mut []]);
    }

    /// The velocity buffers with momentum; none for plain SGD.
    fn elementwise_step(&mut self, lengths: &[usize]) -> Option<ElementwiseStep<'_, T>> {
        self.current = self.rule();
        let velocity: &mut [Vec<T>] = if self.momentum == T::zero() {
            &mut []
        } else {
            make_buffers(&mut self.velocity, lengths);
            &mut self.velocity[..lengths.len()]
        };
        Some(ElementwiseStep { rule: &self.current, buffers: [velocity, &mut []] })
    }

    /// `sgd.velocity.<index>` per parameter with momentum; nothing for plain SGD.
    fn state_names(&self, parameters: usize) -> Vec<String> {
        if self.momentum == T::zero() {
            return Vec::new();
        }
        buffer_names("sgd.velocity", parameters).collect()
    }

    #[track_caller]
    fn save_state(&self, parameters: &[Shape], checkpoint: &mut Checkpoint<T>) {
        if self.momentum != T::zero() {
            save_buffers("Sgd", "sgd.velocity", &self.velocity, parameters, checkpoint);
        }
    }

    fn load_state(&mut self, checkpoint: &Checkpoint<T>, parameters: &[Shape]) -> Result<(), CheckpointError> {
        let velocity =
            if self.momentum == T::zero() { Vec::new() } else { load_buffers("sgd.velocity", parameters, checkpoint)? };
        refuse_strays(checkpoint, "sgd.", &self.state_names(parameters.len()))?;
        self.velocity = velocity;
        Ok(())
    }
}

/// Adam (Kingma and Ba, 2015): `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
/// `theta <- theta - lr m_hat / (sqrt(v_hat) + eps)` with `m_hat = m / (1 - b1^t)`,
/// `v_hat = v / (1 - b2^t)`; PyTorch's defaults b1 = 0.9, b2 = 0.999, eps = 1e-8.
///
/// # Examples
///
/// The first step moves every parameter by about `lr` against its gradient's sign:
///
/// ```
/// use wengert_nn::optim::{Adam, Optimizer};
/// let mut adam = Adam::new(0.01_f64);
/// let mut w = [1.0, 1.0];
/// adam.begin_step();
/// adam.update(0, &mut w, &[0.5, -2.0], 1.0);
/// assert!((w[0] - 0.99).abs() < 1e-9 && (w[1] - 1.01).abs() < 1e-9);
/// ```
#[derive(Clone, Debug)]
pub struct Adam<T> {
    pub learning_rate: T,
    pub beta1: T,
    pub beta2: T,
    pub epsilon: T,
    step: u64,
    first_moment: Vec<Vec<T>>,
    second_moment: Vec<Vec<T>>,
    /// The rule of the step in progress, for [`Optimizer::elementwise_step`] to lend.
    current: AdamRule<T>,
}

/// Adam's update of a stretch at one step; `state` is `[m, v]`.
#[derive(Clone, Copy, Debug, Default)]
struct AdamRule<T> {
    learning_rate: T,
    beta1: T,
    beta2: T,
    epsilon: T,
    /// `1 - b1^t` and `1 - b2^t`.
    correction1: T,
    correction2: T,
}

impl<T: Real> ElementwiseRule<T> for AdamRule<T> {
    /// `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
    /// `theta <- theta - lr (m / c1) / (sqrt(v / c2) + eps)`.
    fn apply(&self, parameter: &mut [T], gradient: &[T], gradient_scale: T, [m, v]: [&mut [T]; 2]) {
        check_stretch("Adam", parameter, gradient);
        check_stretch("Adam (first moment)", parameter, m);
        check_stretch("Adam (second moment)", parameter, v);
        let AdamRule { learning_rate: lr, beta1: b1, beta2: b2, epsilon: eps, correction1, correction2 } = *self;
        for (((p, m), v), &g) in parameter.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(gradient) {
            let g = g * gradient_scale;
            *m = b1 * *m + (T::one() - b1) * g;
            *v = b2 * *v + (T::one() - b2) * g * g;
            let (m_hat, v_hat) = (*m / correction1, *v / correction2);
            *p = *p - lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
}

impl<T: Real> Adam<T> {
    /// Adam with PyTorch's defaults for everything but the learning rate.
    pub fn new(learning_rate: T) -> Self {
        Adam {
            learning_rate,
            beta1: T::lit(0.9),
            beta2: T::lit(0.999),
            epsilon: T::lit(1e-8),
            step: 0,
            first_moment: Vec::new(),
            second_moment: Vec::new(),
            current: AdamRule::default(),
        }
    }

    /// The update rule at the current step with the current hyperparameters.
    fn rule(&self) -> AdamRule<T> {
        let (b1, b2) = (self.beta1, self.beta2);
        let t = i32::try_from(self.step.max(1)).unwrap_or(i32::MAX);
        AdamRule {
            learning_rate: self.learning_rate,
            beta1: b1,
            beta2: b2,
            epsilon: self.epsilon,
            correction1: T::one() - b1.powi(t),
            correction2: T::one() - b2.powi(t),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    fn begin_step(&mut self) {
        self.step += 1;
    }

    fn update(&mut self, index: usize, parameter: &mut [T], gradient: &[T], gradient_scale: T) {
        let rule = self.rule();
        let m = buffer(&mut self.first_moment, index, parameter.len());
        let v = buffer(&mut self.second_moment, index, parameter.len());
        rule.apply(parameter, gradient, gradient_scale, [m, v]);
    }

    /// The first and second moments.
    fn elementwise_step(&mut self, lengths: &[usize]) -> Option<ElementwiseStep<'_, T>> {
        self.current = self.rule();
        make_buffers(&mut self.first_moment, lengths);
        make_buffers(&mut self.second_moment, lengths);
        let (m, v) = (&mut self.first_moment[..lengths.len()], &mut self.second_moment[..lengths.len()]);
        Some(ElementwiseStep { rule: &self.current, buffers: [m, v] })
    }

    /// `adam.m.<index>` and `adam.v.<index>` per parameter, and `adam.step`.
    fn state_names(&self, parameters: usize) -> Vec<String> {
        let mut names: Vec<String> =
            buffer_names("adam.m", parameters).chain(buffer_names("adam.v", parameters)).collect();
        names.push("adam.step".to_string());
        names
    }

    #[track_caller]
    fn save_state(&self, parameters: &[Shape], checkpoint: &mut Checkpoint<T>) {
        save_buffers("Adam", "adam.m", &self.first_moment, parameters, checkpoint);
        save_buffers("Adam", "adam.v", &self.second_moment, parameters, checkpoint);
        // An integer: a float would stop counting exactly after 2^24 steps in f32.
        checkpoint.insert_counter("adam.step", self.step);
    }

    fn load_state(&mut self, checkpoint: &Checkpoint<T>, parameters: &[Shape]) -> Result<(), CheckpointError> {
        let step = checkpoint.expect_counter("adam.step")?;
        let first_moment = load_buffers("adam.m", parameters, checkpoint)?;
        let second_moment = load_buffers("adam.v", parameters, checkpoint)?;
        refuse_strays(checkpoint, "adam.", &self.state_names(parameters.len()))?;
        (self.step, self.first_moment, self.second_moment) = (step, first_moment, second_moment);
        Ok(())
    }
}
