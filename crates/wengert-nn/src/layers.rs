//! Layers that own their parameters as plain tensors and put them on a tape for a step:
//! [`Linear`] (`Z = X W + b`) and [`Mlp`], a stack of them with one hidden activation and
//! optionally a layer norm before it, which saves to and loads from a safetensors file
//! ([`Mlp::save`], [`Mlp::load`]).

use crate::checkpoint::CheckpointError;
use crate::init::Init;
use crate::{Dropout, LayerNorm, LayerNormVars};
use rand::Rng;
use smallvec::SmallVec;
use std::path::Path;
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// An elementwise activation between layers.
///
/// Each has a lowercase name (the trainers' `--activation` flag, the `activation` field of
/// checkpoints and of PyTorch exports) and a PyTorch module with the same numbers.
///
/// | variant | name | PyTorch module | `a(z)` |
/// | --- | --- | --- | --- |
/// | `Sigmoid` | `sigmoid` | `nn.Sigmoid()` | `1 / (1 + e^-z)` |
/// | `Tanh` | `tanh` | `nn.Tanh()` | `tanh z` |
/// | `Relu` | `relu` | `nn.ReLU()` | `max(z, 0)` |
/// | `Softplus` | `softplus` | `nn.Softplus()` | `log(1 + e^z)` |
/// | `LeakyRelu` | `leaky_relu` | `nn.LeakyReLU()` (slope 0.01) | `z` for `z > 0`, else `0.01 z` |
/// | `Gelu` | `gelu` | `nn.GELU()` (exact, erf form) | `z Phi(z)` |
/// | `Silu` | `silu` | `nn.SiLU()` | `z sigmoid(z)` |
///
/// ```
/// use wengert_nn::Activation;
/// for activation in Activation::ALL {
///     assert_eq!(activation.name().parse::<Activation>(), Ok(activation));
/// }
/// assert_eq!(Activation::LeakyRelu.torch_module(), "LeakyReLU");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    Softplus,
    /// Slope [`LEAKY_RELU_SLOPE`] below zero.
    LeakyRelu,
    /// The exact form, `z Phi(z)` ([`Var::gelu`]).
    Gelu,
    Silu,
}

/// The slope of [`Activation::LeakyRelu`] below zero: PyTorch's default `negative_slope`.
///
/// ```
/// use wengert_nn::{Activation, LEAKY_RELU_SLOPE};
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// assert_eq!(Activation::LeakyRelu.apply(tape.constant(-2.0)).value(), -2.0 * LEAKY_RELU_SLOPE);
/// ```
pub const LEAKY_RELU_SLOPE: f64 = 0.01;

impl Activation {
    /// Every activation, in the order of the table above.
    ///
    /// ```
    /// use wengert_nn::Activation;
    /// assert_eq!(Activation::ALL.len(), 7);
    /// assert_eq!(Activation::ALL[6], Activation::Silu);
    /// ```
    pub const ALL: [Activation; 7] = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Softplus,
        Activation::LeakyRelu,
        Activation::Gelu,
        Activation::Silu,
    ];

    /// Records the activation of `z`.
    ///
    /// ```
    /// use wengert_nn::Activation;
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// assert_eq!(Activation::Relu.apply(tape.constant(-2.0)).value(), 0.0);
    /// assert_eq!(Activation::LeakyRelu.apply(tape.constant(-2.0)).value(), -0.02);
    /// assert_eq!(Activation::Silu.apply(tape.constant(0.0)).value(), 0.0);
    /// let gelu_at_one = Activation::Gelu.apply(tape.constant(1.0)).value(); // Phi(1) = 0.8413...
    /// assert!((gelu_at_one - 0.841_344_746_068_543).abs() < 1e-12);
    /// ```
    pub fn apply<'t, T: Real>(self, z: Var<'t, T>) -> Var<'t, T> {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.relu(),
            Activation::Softplus => z.softplus(),
            Activation::LeakyRelu => z.leaky_relu(T::lit(LEAKY_RELU_SLOPE)),
            Activation::Gelu => z.gelu(),
            Activation::Silu => z.silu(),
        }
    }

    /// The lowercase name, as the trainers' flags spell it.
    ///
    /// ```
    /// use wengert_nn::Activation;
    /// assert_eq!(Activation::LeakyRelu.name(), "leaky_relu");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Softplus => "softplus",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
        }
    }

    /// The name of the `torch.nn` module that computes the same function with its default
    /// arguments (`nn.LeakyReLU()` has slope 0.01, `nn.GELU()` is the exact form).
    ///
    /// ```
    /// use wengert_nn::Activation;
    /// assert_eq!(Activation::Gelu.torch_module(), "GELU");
    /// assert_eq!(Activation::Silu.torch_module(), "SiLU");
    /// ```
    pub fn torch_module(self) -> &'static str {
        match self {
            Activation::Sigmoid => "Sigmoid",
            Activation::Tanh => "Tanh",
            Activation::Relu => "ReLU",
            Activation::Softplus => "Softplus",
            Activation::LeakyRelu => "LeakyReLU",
            Activation::Gelu => "GELU",
            Activation::Silu => "SiLU",
        }
    }
}

/// The names [`Activation::name`] gives, for error messages.
const ACTIVATION_NAMES: &str = "sigmoid, tanh, relu, softplus, leaky_relu, gelu or silu";

impl std::str::FromStr for Activation {
    type Err = String;
    /// ```
    /// use wengert_nn::Activation;
    /// assert_eq!("tanh".parse::<Activation>(), Ok(Activation::Tanh));
    /// assert_eq!("gelu".parse::<Activation>(), Ok(Activation::Gelu));
    /// assert!("swish".parse::<Activation>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL
            .into_iter()
            .find(|activation| activation.name() == s)
            .ok_or_else(|| format!("unknown activation '{s}' (expected {ACTIVATION_NAMES})"))
    }
}

/// A fully connected layer, `Z = X W + b`: weights `[in x out]`, bias `[out]`.
///
/// # Examples
///
/// ```
/// use wengert_nn::Linear;
/// use wengert_tape::{Tape, Tensor};
/// let layer = Linear::from_tensors(Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0]]), Tensor::from_slice(&[0.5, -0.5]));
/// let tape = Tape::<f64>::new();
/// let z = layer.on_tape(&tape).forward(tape.constant(&Tensor::from_rows(&[[1.0, 1.0]])));
/// assert_eq!(&*z.values(), &[4.5, 5.5]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Linear<T> {
    /// `[in x out]`.
    pub weight: Tensor<T>,
    /// `[out]`.
    pub bias: Tensor<T>,
}

/// A [`Linear`] layer's parameters on a tape, for one step.
#[derive(Clone, Copy)]
pub struct LinearVars<'t, T> {
    pub weight: Var<'t, T>,
    pub bias: Var<'t, T>,
}

impl<'t, T: Real> LinearVars<'t, T> {
    /// `x W + b` (F15 in the backward sweep).
    #[track_caller]
    pub fn forward(self, x: Var<'t, T>) -> Var<'t, T> {
        x.matmul(self.weight).add_bias(self.bias)
    }
}

impl<T: Real> Linear<T> {
    /// A layer with weights drawn by `init` and a zero bias.
    pub fn new(inputs: usize, outputs: usize, init: Init, rng: &mut impl Rng) -> Self {
        Linear { weight: init.weights(inputs, outputs, rng), bias: Tensor::zeros(Shape::vector(outputs)) }
    }

    /// A layer from given tensors.
    ///
    /// # Panics
    ///
    /// If the weight is not a matrix or the bias not a vector as wide as its columns.
    #[track_caller]
    pub fn from_tensors(weight: Tensor<T>, bias: Tensor<T>) -> Self {
        let (w, b) = (weight.shape(), bias.shape());
        assert!(
            w.rank() == 2 && b.rank() == 1 && b.cols() == w.cols(),
            "Linear: weight {w} and bias {b} do not fit (weight [in x out], bias [out])"
        );
        Linear { weight, bias }
    }

    /// Inputs and outputs.
    pub fn dims(&self) -> (usize, usize) {
        (self.weight.shape().rows(), self.weight.shape().cols())
    }

    /// Puts the parameters on `tape` as trainable leaves.
    pub fn on_tape<'t>(&self, tape: &'t Tape<T>) -> LinearVars<'t, T> {
        LinearVars { weight: tape.var(&self.weight), bias: tape.var(&self.bias) }
    }
}

/// A multi-layer perceptron: linear layers with one hidden activation between them and
/// none after the last (its output is logits, or a regression's prediction), and optionally
/// a [`LayerNorm`] in each hidden layer.
///
/// A hidden layer computes `a = act(Z)` with `Z = X W + b`, or, with layer norm,
/// `a = act(LayerNorm(X W + b))`: Linear -> LayerNorm -> activation, the order of the
/// original Transformer's post-norm blocks and of PyTorch's
/// `nn.Sequential(Linear, LayerNorm, act, ...)`. The output layer is never normalised.
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::{Activation, Mlp};
/// use wengert_tape::{Tape, Tensor, Shape};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let mlp = Mlp::<f32>::new(&[4, 8, 3], Activation::Tanh, &mut rng);
/// let tape = Tape::new();
/// let x = tape.constant(&Tensor::zeros(Shape::matrix(5, 4)));
/// let logits = mlp.on_tape(&tape).forward(x);
/// assert_eq!(logits.shape(), Shape::matrix(5, 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<T> {
    pub layers: Vec<Linear<T>>,
    pub hidden: Activation,
    /// The layer norms of the hidden layers: empty for none, or one per hidden layer
    /// (`layers.len() - 1`), `norms[l]` as wide as `layers[l]`'s outputs and applied to
    /// them before the activation. [`Mlp::with_layer_norm`] makes them.
    pub norms: Vec<LayerNorm<T>>,
}

/// An [`Mlp`]'s parameters on a tape, for one step.
#[derive(Clone)]
pub struct MlpVars<'t, T> {
    pub layers: SmallVec<[LinearVars<'t, T>; 6]>,
    pub hidden: Activation,
    /// The hidden layers' layer norms: empty, or one per hidden layer.
    pub norms: SmallVec<[LayerNormVars<'t, T>; 6]>,
}

impl<'t, T: Real> MlpVars<'t, T> {
    /// Hidden layer `l` after its linear map `z`: its layer norm if there is one, then the
    /// activation.
    #[track_caller]
    fn hidden_layer(&self, l: usize, z: Var<'t, T>) -> Var<'t, T> {
        let z = match self.norms.get(l) {
            Some(norm) => norm.forward(z),
            None => z,
        };
        self.hidden.apply(z)
    }

    /// The output of the last layer (no activation after it).
    #[track_caller]
    pub fn forward(&self, x: Var<'t, T>) -> Var<'t, T> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |a, (l, layer)| {
            let z = layer.forward(a);
            if l < last {
                self.hidden_layer(l, z)
            } else {
                z
            }
        })
    }

    /// As [`MlpVars::forward`], with `dropout` after each hidden activation (a new mask
    /// each time; none after the output layer). In evaluation, or with `p = 0`, this
    /// records exactly what [`MlpVars::forward`] records.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Dropout, Mlp};
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let mlp = Mlp::<f64>::new(&[3, 4, 4, 2], Activation::Relu, &mut rng);
    /// let tape = Tape::new();
    /// let x = tape.constant(&Tensor::from_fn(Shape::matrix(2, 3), |n| n as f64));
    /// let vars = mlp.on_tape(&tape);
    /// let mut dropout = Dropout::new(0.5, 1).expect("valid p");
    /// dropout.eval();
    /// let plain = vars.forward(x).to_tensor();
    /// assert_eq!(vars.forward_with_dropout(x, &mut dropout).to_tensor(), plain);
    /// dropout.train();
    /// let dropped = vars.forward_with_dropout(x, &mut dropout);
    /// assert_eq!(dropout.mask().len(), 2 * 4); // the last hidden layer's mask
    /// assert_eq!(dropped.shape(), Shape::matrix(2, 2));
    /// ```
    #[track_caller]
    pub fn forward_with_dropout(&self, x: Var<'t, T>, dropout: &mut Dropout<T>) -> Var<'t, T> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |a, (l, layer)| {
            let z = layer.forward(a);
            if l < last {
                dropout.forward(self.hidden_layer(l, z))
            } else {
                z
            }
        })
    }

    /// The parameters' handles in the order of [`Mlp::parameters`].
    pub fn parameters(&self) -> impl Iterator<Item = Var<'t, T>> + '_ {
        self.layers.iter().enumerate().flat_map(|(l, layer)| {
            let norm = self.norms.get(l);
            [Some(layer.weight), Some(layer.bias), norm.map(|n| n.gamma), norm.map(|n| n.beta)].into_iter().flatten()
        })
    }
}

/// The names and shapes of the parameters of an MLP with layer sizes `sizes`, with a layer
/// norm in each hidden layer or none, in the order of [`Mlp::parameters`]. Computed from
/// the sizes alone, so that a file can be checked before any tensor is allocated.
pub(crate) fn parameter_layout(sizes: &[usize], layer_norm: bool) -> Vec<(String, Shape)> {
    let hidden_layers = sizes.len().saturating_sub(2);
    let mut layout = Vec::with_capacity(4 * sizes.len());
    for (l, pair) in sizes.windows(2).enumerate() {
        let (inputs, outputs) = (pair[0], pair[1]);
        layout.push((format!("layer{l}.weight"), Shape::matrix(inputs, outputs)));
        layout.push((format!("layer{l}.bias"), Shape::vector(outputs)));
        if layer_norm && l < hidden_layers {
            layout.push((format!("norm{l}.gamma"), Shape::vector(outputs)));
            layout.push((format!("norm{l}.beta"), Shape::vector(outputs)));
        }
    }
    layout
}

impl<T: Real> Mlp<T> {
    /// An MLP with the given layer sizes (`[inputs, hidden..., outputs]`), weights drawn by
    /// the initialiser that suits `hidden` ([`Init::for_activation`]), zero biases, and no
    /// layer norm ([`Mlp::with_layer_norm`] adds it).
    ///
    /// # Panics
    ///
    /// If fewer than two sizes are given.
    #[track_caller]
    pub fn new(sizes: &[usize], hidden: Activation, rng: &mut impl Rng) -> Self {
        Self::with_init(sizes, hidden, Init::for_activation(hidden), rng)
    }

    /// As [`Mlp::new`], with a chosen initialiser.
    ///
    /// # Panics
    ///
    /// If fewer than two sizes are given.
    #[track_caller]
    pub fn with_init(sizes: &[usize], hidden: Activation, init: Init, rng: &mut impl Rng) -> Self {
        assert!(sizes.len() >= 2, "Mlp: needs at least an input and an output size, got {sizes:?}");
        let layers = sizes.windows(2).map(|pair| Linear::new(pair[0], pair[1], init, rng)).collect();
        Mlp { layers, hidden, norms: Vec::new() }
    }

    /// The same MLP with a fresh [`LayerNorm`] (gamma ones, beta zeros, `eps`) in each hidden
    /// layer, between its linear map and its activation; any norms it had are replaced. An
    /// MLP with no hidden layer gets none. PyTorch's `nn.LayerNorm` uses `eps` =
    /// [`LAYER_NORM_EPS`](crate::LAYER_NORM_EPS), as the trainers' `--layer-norm` does.
    ///
    /// The norms take nothing from a random generator, so `Mlp::new(...)` draws the same
    /// weights with layer norm as without.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Mlp, LAYER_NORM_EPS};
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let mlp = Mlp::<f64>::new(&[3, 4, 5, 2], Activation::Relu, &mut rng).with_layer_norm(LAYER_NORM_EPS);
    /// assert_eq!(mlp.norms.len(), 2);
    /// assert_eq!(mlp.norms[1].features(), 5);
    /// // Two matrices and biases, and a gamma and a beta for each hidden layer.
    /// assert_eq!(mlp.parameter_count(), (3 * 4 + 4) + (4 * 5 + 5) + (5 * 2 + 2) + 2 * (4 + 5));
    /// assert_eq!(mlp.parameter_names()[2..4], ["norm0.gamma", "norm0.beta"]);
    ///
    /// // Normalised and shifted by beta = 1 before the relu: every hidden unit of a row is
    /// // positive or zero, and the row's pre-activations average to beta.
    /// let mut shifted = mlp.clone();
    /// shifted.norms[0].beta = Tensor::from_slice(&[1.0; 4]);
    /// let tape = Tape::new();
    /// let vars = shifted.on_tape(&tape);
    /// let x = tape.constant(&Tensor::from_rows(&[[1.0, -2.0, 3.0]]));
    /// let pre = vars.norms[0].forward(vars.layers[0].forward(x));
    /// assert!((pre.values().iter().sum::<f64>() / 4.0 - 1.0).abs() < 1e-12);
    /// assert_eq!(vars.forward(x).shape(), Shape::matrix(1, 2));
    /// ```
    pub fn with_layer_norm(mut self, eps: T) -> Self {
        let hidden_layers = self.layers.len().saturating_sub(1);
        self.norms = self.layers[..hidden_layers].iter().map(|layer| LayerNorm::new(layer.dims().1, eps)).collect();
        self
    }

    /// Whether the hidden layers are layer-normalised.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Mlp};
    /// let mlp = Mlp::<f32>::new(&[2, 3, 1], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// assert!(!mlp.has_layer_norm());
    /// assert!(mlp.with_layer_norm(1e-5).has_layer_norm());
    /// ```
    pub fn has_layer_norm(&self) -> bool {
        !self.norms.is_empty()
    }

    /// The `eps` of the layer norms (`None` without layer norm).
    ///
    /// # Panics
    ///
    /// If the norms do not all have the same `eps` (files record one; only an `Mlp` whose
    /// norms were set by hand can differ).
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Mlp};
    /// let mlp = Mlp::<f64>::new(&[2, 3, 3, 1], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// assert_eq!(mlp.layer_norm_eps(), None);
    /// assert_eq!(mlp.with_layer_norm(1e-3).layer_norm_eps(), Some(1e-3));
    /// ```
    #[track_caller]
    pub fn layer_norm_eps(&self) -> Option<T> {
        let eps = self.norms.first()?.eps;
        if let Some((l, other)) = self.norms.iter().enumerate().find(|(_, norm)| norm.eps != eps) {
            panic!("Mlp: layer norm {l} has eps {}, layer norm 0 has {eps}; one eps serves them all", other.eps);
        }
        Some(eps)
    }

    /// Checks that the norms are none or one per hidden layer, each as wide as its layer.
    #[track_caller]
    pub(crate) fn check_norms(&self, caller: &str) {
        if self.norms.is_empty() {
            return;
        }
        let hidden_layers = self.layers.len().saturating_sub(1);
        assert!(
            self.norms.len() == hidden_layers,
            "{caller}: {} layer norms for {hidden_layers} hidden layers (expected none or one per hidden layer)",
            self.norms.len()
        );
        for (l, (layer, norm)) in self.layers.iter().zip(&self.norms).enumerate() {
            let (outputs, gamma, beta) = (layer.dims().1, norm.gamma.shape(), norm.beta.shape());
            assert!(
                gamma == Shape::vector(outputs) && beta == Shape::vector(outputs),
                "{caller}: layer norm {l}: gamma {gamma} and beta {beta} do not fit layer {l}'s {outputs} outputs"
            );
        }
    }

    /// Layer sizes, `[inputs, hidden..., outputs]`.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.layers[0].dims().0];
        sizes.extend(self.layers.iter().map(|l| l.dims().1));
        sizes
    }

    /// Puts every parameter on `tape` as a trainable leaf.
    ///
    /// # Panics
    ///
    /// If `norms` is neither empty nor one [`LayerNorm`] per hidden layer as wide as it.
    #[track_caller]
    pub fn on_tape<'t>(&self, tape: &'t Tape<T>) -> MlpVars<'t, T> {
        self.check_norms("Mlp::on_tape");
        MlpVars {
            layers: self.layers.iter().map(|l| l.on_tape(tape)).collect(),
            hidden: self.hidden,
            norms: self.norms.iter().map(|n| n.vars(tape)).collect(),
        }
    }

    /// The parameters in a fixed order, layer by layer: layer 0 weight, layer 0 bias, then
    /// with layer norm layer 0's gamma and beta, then layer 1 weight, ... (the order of
    /// [`Mlp::parameter_names`], and of the optimisers' state indices).
    pub fn parameters(&self) -> impl Iterator<Item = &Tensor<T>> {
        self.layers.iter().enumerate().flat_map(|(l, layer)| {
            let norm = self.norms.get(l);
            [Some(&layer.weight), Some(&layer.bias), norm.map(|n| &n.gamma), norm.map(|n| &n.beta)]
                .into_iter()
                .flatten()
        })
    }

    /// The parameters, mutably, in the order of [`Mlp::parameters`].
    pub fn parameters_mut(&mut self) -> impl Iterator<Item = &mut Tensor<T>> {
        let norms = self.norms.iter_mut().map(Some).chain(std::iter::repeat_with(|| None));
        self.layers.iter_mut().zip(norms).flat_map(|(layer, norm)| {
            let (gamma, beta) = match norm {
                Some(norm) => (Some(&mut norm.gamma), Some(&mut norm.beta)),
                None => (None, None),
            };
            [Some(&mut layer.weight), Some(&mut layer.bias), gamma, beta].into_iter().flatten()
        })
    }

    /// The parameters' names in the order of [`Mlp::parameters`]: `layer0.weight`,
    /// `layer0.bias`, with layer norm `norm0.gamma` and `norm0.beta`, then `layer1.weight`, ...
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Mlp};
    /// let mlp = Mlp::<f64>::new(&[2, 3, 1], Activation::Sigmoid, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    /// assert_eq!(mlp.parameter_names(), ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias"]);
    /// assert_eq!(
    ///     mlp.with_layer_norm(1e-5).parameter_names(),
    ///     ["layer0.weight", "layer0.bias", "norm0.gamma", "norm0.beta", "layer1.weight", "layer1.bias"]
    /// );
    /// ```
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(2 * (self.layers.len() + self.norms.len()));
        for l in 0..self.layers.len() {
            names.extend([format!("layer{l}.weight"), format!("layer{l}.bias")]);
            if l < self.norms.len() {
                names.extend([format!("norm{l}.gamma"), format!("norm{l}.beta")]);
            }
        }
        names
    }

    /// The number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.parameters().map(Tensor::len).sum()
    }

    /// Writes the model to `path` as a safetensors file in wengert's own layout, replacing
    /// the file atomically (a temporary file beside it, synced, then renamed over it: a
    /// failed save leaves the old file whole).
    ///
    /// The layout: for each layer `l`, `layer<l>.weight` with shape `[in, out]` (wengert's
    /// `Z = X W + b`, so the transpose of PyTorch's `nn.Linear.weight`, which is
    /// `[out, in]`) and `layer<l>.bias` with shape `[out]`, of dtype `F32` or `F64` as `T`;
    /// metadata `format` = `wengert-mlp-v1`, `sizes` (such as `784-256-10`) and
    /// `activation` (the hidden one, such as `relu`). With layer norm, also `norm<l>.gamma`
    /// and `norm<l>.beta` (`[out]`) for each hidden layer `l`, and metadata `layer_norm` =
    /// `true` and `layer_norm_eps` (such as `0.00001`); a file without `layer_norm` (as
    /// every file before layer norm) is a model without. [`Mlp::load`] reads it back.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Io`] naming `path` if it cannot be written (a missing directory,
    /// a full disk).
    ///
    /// # Panics
    ///
    /// If `norms` is neither empty nor one [`LayerNorm`] per hidden layer as wide as it, or
    /// the norms' `eps` differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use wengert_nn::{Activation, Mlp};
    /// # fn main() -> Result<(), wengert_nn::checkpoint::CheckpointError> {
    /// # let dir = tempfile::tempdir().expect("temporary directory");
    /// let path = dir.path().join("model.safetensors");
    /// let mlp = Mlp::<f32>::new(&[4, 8, 3], Activation::Tanh, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    /// mlp.save(&path)?;
    /// let loaded = Mlp::<f32>::load(&path)?;
    /// assert_eq!(loaded, mlp);
    /// assert_eq!(loaded.layers[0].weight.shape().to_string(), "[4 x 8]"); // [in x out]
    ///
    /// let normed = mlp.with_layer_norm(1e-5);
    /// normed.save(&path)?;
    /// assert_eq!(Mlp::<f32>::load(&path)?, normed);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        crate::checkpoint::model::save_mlp(self, path.as_ref())
    }

    /// Reads a model written by [`Mlp::save`] (the layout is described there): sizes,
    /// activation and layer norm from the metadata, and every tensor checked against them
    /// before the model is built.
    ///
    /// # Errors
    ///
    /// A [`CheckpointError`] naming `path` and the field or tensor: `Io`, `Format`,
    /// `DtypeMismatch` (such as an `f64` file read as `Mlp<f32>`) as for
    /// [`Checkpoint::load`](crate::checkpoint::Checkpoint::load); `MissingMetadata` or
    /// `BadMetadata` for a `format` that is not `wengert-mlp-v1` (a training checkpoint,
    /// say), unreadable `sizes`, an unknown `activation`, a `layer_norm` other than `true`
    /// or `false`, or a `layer_norm_eps` missing (with `layer_norm` = `true`) or not a finite
    /// number from 0; `MissingTensor` or `ShapeMismatch` for a layer's weight or bias, or a
    /// layer norm's gamma or beta, absent or not of the shape the sizes give;
    /// `UnexpectedTensor` for any other tensor (`norm0.gamma` in a file without
    /// `layer_norm` = `true`, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use wengert_nn::checkpoint::{Checkpoint, CheckpointError};
    /// use wengert_nn::Mlp;
    /// use wengert_tape::Tensor;
    /// # fn main() -> Result<(), CheckpointError> {
    /// # let dir = tempfile::tempdir().expect("temporary directory");
    /// let path = dir.path().join("model.safetensors");
    /// // A 2-1 model whose weight is stored [out, in] = [1 x 2], as PyTorch would.
    /// let mut file = Checkpoint::new();
    /// file.insert("layer0.weight", Tensor::from_rows(&[[0.5_f32, -0.5]]));
    /// file.insert("layer0.bias", Tensor::from_slice(&[0.0]));
    /// file.set_metadata("format", "wengert-mlp-v1");
    /// file.set_metadata("sizes", "2-1");
    /// file.set_metadata("activation", "relu");
    /// file.save(&path)?;
    /// let error = Mlp::<f32>::load(&path).unwrap_err();
    /// assert!(matches!(error, CheckpointError::ShapeMismatch { ref name, .. } if name == "layer0.weight"));
    /// assert!(error.to_string().ends_with("tensor `layer0.weight` is [1 x 2], the model expects [2 x 1]"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        crate::checkpoint::model::load_mlp(path.as_ref())
    }
}
