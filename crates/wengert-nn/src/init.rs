//! Weight initialisers: Xavier/Glorot and He, uniform and normal, from a seeded generator
//! so that a run with the same seed starts from the same weights, bit for bit.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use wengert_tape::{Real, Shape, Tensor};

/// How to draw a layer's weights `[fan_in x fan_out]`.
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::init::Init;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let w = Init::XavierUniform.weights::<f64>(784, 256, &mut rng);
/// let bound = (6.0_f64 / (784.0 + 256.0)).sqrt();
/// assert!(w.data().iter().all(|x| x.abs() <= bound));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Glorot and Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
    XavierUniform,
    /// Glorot and Bengio (2010): N(0, 2 / (fan_in + fan_out)).
    XavierNormal,
    /// He et al. (2015), for relu: U(-a, a) with a = sqrt(6 / fan_in).
    HeUniform,
    /// He et al. (2015), for relu: N(0, 2 / fan_in).
    HeNormal,
}

impl Init {
    /// A `[fan_in x fan_out]` weight matrix drawn from `rng`.
    pub fn weights<T: Real>(self, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Tensor<T> {
        let (fan_in_f, fan_out_f) = (fan_in as f64, fan_out as f64);
        let shape = Shape::matrix(fan_in, fan_out);
        match self {
            Init::XavierUniform => uniform(shape, (6.0 / (fan_in_f + fan_out_f)).sqrt(), rng),
            Init::XavierNormal => normal(shape, (2.0 / (fan_in_f + fan_out_f)).sqrt(), rng),
            Init::HeUniform => uniform(shape, (6.0 / fan_in_f).sqrt(), rng),
            Init::HeNormal => normal(shape, (2.0 / fan_in_f).sqrt(), rng),
        }
    }

    /// The usual choice for a hidden activation: He for relu and its relatives (leaky relu,
    /// gelu, silu), which pass about half of a zero-mean input, Xavier for the others.
    ///
    /// ```
    /// use wengert_nn::{init::Init, Activation};
    /// assert_eq!(Init::for_activation(Activation::Relu), Init::HeUniform);
    /// assert_eq!(Init::for_activation(Activation::Gelu), Init::HeUniform);
    /// assert_eq!(Init::for_activation(Activation::Tanh), Init::XavierUniform);
    /// ```
    pub fn for_activation(activation: crate::Activation) -> Init {
        match activation {
            crate::Activation::Relu
            | crate::Activation::LeakyRelu
            | crate::Activation::Gelu
            | crate::Activation::Silu => Init::HeUniform,
            _ => Init::XavierUniform,
        }
    }
}

fn uniform<T: Real>(shape: Shape, bound: f64, rng: &mut impl Rng) -> Tensor<T> {
    let distribution = Uniform::new_inclusive(-bound, bound).expect("a finite, non-negative bound");
    Tensor::from_fn(shape, |_| T::lit(distribution.sample(rng)))
}

fn normal<T: Real>(shape: Shape, std_dev: f64, rng: &mut impl Rng) -> Tensor<T> {
    let distribution = Normal::new(0.0, std_dev).expect("a finite, non-negative standard deviation");
    Tensor::from_fn(shape, |_| T::lit(distribution.sample(rng)))
}
