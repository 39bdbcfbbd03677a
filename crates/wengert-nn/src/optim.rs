//! Optimisers that update a model's tensors in place from their gradients (G1 and its
//! refinements): SGD with optional momentum, Adam, and clipping by global norm.
//!
//! A step is [`Optimizer::begin_step`], then [`Optimizer::update`] once per parameter, in a
//! fixed order (the index names the parameter, so per-parameter state stays with it). State
//! buffers are allocated at the first step and reused afterwards.

use wengert_tape::{Real, Shape, Tensor};

/// Updates parameters in place from gradients.
pub trait Optimizer<T: Real> {
    /// Starts a step (Adam counts steps here).
    fn begin_step(&mut self) {}

    /// Updates parameter number `index` from its gradient, multiplied by `gradient_scale`
    /// (1, or the factor of [`clip_scale`]).
    fn update(&mut self, index: usize, parameter: &mut [T], gradient: &[T], gradient_scale: T);

    /// The optimiser's state as named tensors, for a checkpoint.
    fn state(&self) -> Vec<(String, Tensor<T>)>;

    /// Restores the state from named tensors as [`Optimizer::state`] wrote them.
    ///
    /// # Errors
    ///
    /// If an expected tensor is missing or has an unexpected shape; the message names it.
    fn load_state(&mut self, tensors: &dyn Fn(&str) -> Option<Tensor<T>>) -> Result<(), String>;
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
}

impl<T: Real> Sgd<T> {
    /// Plain SGD.
    pub fn new(learning_rate: T) -> Self {
        Sgd { learning_rate, momentum: T::zero(), velocity: Vec::new() }
    }

    /// SGD with momentum `momentum` (0.9 is usual).
    pub fn with_momentum(learning_rate: T, momentum: T) -> Self {
        Sgd { learning_rate, momentum, velocity: Vec::new() }
    }
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

/// Loads `name` into `buffers[index]`, or reports what is wrong with it.
fn load_buffer<T: Real>(
    buffers: &mut Vec<Vec<T>>,
    index: usize,
    name: &str,
    tensors: &dyn Fn(&str) -> Option<Tensor<T>>,
) -> Result<(), String> {
    let tensor = tensors(name).ok_or_else(|| format!("optimiser state '{name}' is missing"))?;
    if buffers.len() <= index {
        buffers.resize_with(index + 1, Vec::new);
    }
    buffers[index] = tensor.into_data();
    Ok(())
}

fn buffers_state<T: Real>(prefix: &str, buffers: &[Vec<T>]) -> Vec<(String, Tensor<T>)> {
    buffers
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("{prefix}.{i}"), Tensor::new(Shape::vector(b.len()), b.clone())))
        .collect()
}

/// How many state buffers a checkpoint holds under `prefix` (they are numbered from 0).
fn count_buffers<T>(prefix: &str, tensors: &dyn Fn(&str) -> Option<Tensor<T>>) -> usize {
    (0..).take_while(|i| tensors(&format!("{prefix}.{i}")).is_some()).count()
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn update(&mut self, index: usize, parameter: &mut [T], gradient: &[T], gradient_scale: T) {
        let lr = self.learning_rate;
        if self.momentum == T::zero() {
            for (p, &g) in parameter.iter_mut().zip(gradient) {
                *p = *p - lr * (g * gradient_scale);
            }
            return;
        }
        let mu = self.momentum;
        let velocity = buffer(&mut self.velocity, index, parameter.len());
        for ((p, v), &g) in parameter.iter_mut().zip(velocity.iter_mut()).zip(gradient) {
            *v = mu * *v + g * gradient_scale;
            *p = *p - lr * *v;
        }
    }

    fn state(&self) -> Vec<(String, Tensor<T>)> {
        buffers_state("sgd.velocity", &self.velocity)
    }

    fn load_state(&mut self, tensors: &dyn Fn(&str) -> Option<Tensor<T>>) -> Result<(), String> {
        self.velocity.clear();
        for index in 0..count_buffers("sgd.velocity", tensors) {
            load_buffer(&mut self.velocity, index, &format!("sgd.velocity.{index}"), tensors)?;
        }
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
        let (b1, b2, eps, lr) = (self.beta1, self.beta2, self.epsilon, self.learning_rate);
        let t = i32::try_from(self.step.max(1)).unwrap_or(i32::MAX);
        let (correction1, correction2) = (T::one() - b1.powi(t), T::one() - b2.powi(t));
        let m = buffer(&mut self.first_moment, index, parameter.len());
        let v = buffer(&mut self.second_moment, index, parameter.len());
        for (((p, m), v), &g) in parameter.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(gradient) {
            let g = g * gradient_scale;
            *m = b1 * *m + (T::one() - b1) * g;
            *v = b2 * *v + (T::one() - b2) * g * g;
            let (m_hat, v_hat) = (*m / correction1, *v / correction2);
            *p = *p - lr * m_hat / (v_hat.sqrt() + eps);
        }
    }

    fn state(&self) -> Vec<(String, Tensor<T>)> {
        let mut state = buffers_state("adam.m", &self.first_moment);
        state.extend(buffers_state("adam.v", &self.second_moment));
        // The step count as a float: exact up to 2^24 steps in f32, 2^53 in f64.
        state.push(("adam.step".to_string(), Tensor::scalar(T::lit(self.step as f64))));
        state
    }

    fn load_state(&mut self, tensors: &dyn Fn(&str) -> Option<Tensor<T>>) -> Result<(), String> {
        let step = tensors("adam.step").ok_or("optimiser state 'adam.step' is missing")?;
        let step = step
            .data()
            .first()
            .copied()
            .and_then(|s| s.to_u64())
            .ok_or("optimiser state 'adam.step' is not a count")?;
        self.step = step;
        self.first_moment.clear();
        self.second_moment.clear();
        for index in 0..count_buffers("adam.m", tensors) {
            load_buffer(&mut self.first_moment, index, &format!("adam.m.{index}"), tensors)?;
            load_buffer(&mut self.second_moment, index, &format!("adam.v.{index}"), tensors)?;
        }
        Ok(())
    }
}
