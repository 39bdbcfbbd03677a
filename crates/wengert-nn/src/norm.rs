//! Layer normalisation, composed from the engine's ops: each row of `[N x D]` is centred and
//! scaled to unit variance over its D features, then given a learned scale and shift,
//! `y = (x - mean) / sqrt(var + eps) (.) gamma + beta`, with the population variance (1/D) as
//! PyTorch's `LayerNorm` uses. Its gradient comes out of the sweep through `mean_axis`,
//! `var_axis`, broadcasting and the arithmetic: no rule of its own to get wrong.

use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// The `eps` of PyTorch's `nn.LayerNorm` by default, and of the trainers' `--layer-norm`.
///
/// ```
/// use wengert_nn::{LayerNorm, LAYER_NORM_EPS};
/// let norm = LayerNorm::<f32>::new(3, LAYER_NORM_EPS as f32);
/// assert_eq!(norm.eps, 1e-5);
/// ```
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// A layer norm over the last axis of `[N x D]` rows, with its parameters gamma (ones at
/// first) and beta (zeros at first), each `[D]`.
///
/// # Examples
///
/// ```
/// use wengert_nn::LayerNorm;
/// use wengert_tape::{Tape, Tensor};
/// let norm = LayerNorm::<f64>::new(3, 1e-5);
/// let tape = Tape::new();
/// let vars = norm.vars(&tape);
/// let x = tape.constant(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]]));
/// let y = vars.forward(x);
/// for row in y.values().chunks(3) {
///     let mean = row.iter().sum::<f64>() / 3.0;
///     let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
///     assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-4);
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm<T> {
    /// The scale, `[D]`.
    pub gamma: Tensor<T>,
    /// The shift, `[D]`.
    pub beta: Tensor<T>,
    /// Added to the variance before its square root.
    pub eps: T,
}

/// A [`LayerNorm`]'s parameters on a tape.
#[derive(Clone, Copy)]
pub struct LayerNormVars<'t, T> {
    /// gamma, a trainable leaf.
    pub gamma: Var<'t, T>,
    /// beta, a trainable leaf.
    pub beta: Var<'t, T>,
    /// Added to the variance before its square root.
    pub eps: T,
}

impl<T: Real> LayerNorm<T> {
    /// A layer norm over `features` features: gamma ones, beta zeros.
    ///
    /// ```
    /// let norm = wengert_nn::LayerNorm::<f32>::new(4, 1e-5);
    /// assert_eq!(norm.gamma.data(), &[1.0; 4]);
    /// ```
    pub fn new(features: usize, eps: T) -> Self {
        LayerNorm {
            gamma: Tensor::from_fn(Shape::vector(features), |_| T::one()),
            beta: Tensor::zeros(Shape::vector(features)),
            eps,
        }
    }

    /// The number of features D it normalises over.
    ///
    /// ```
    /// assert_eq!(wengert_nn::LayerNorm::<f64>::new(7, 1e-5).features(), 7);
    /// ```
    pub fn features(&self) -> usize {
        self.gamma.len()
    }

    /// Puts gamma and beta on `tape` as trainable leaves.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let norm = wengert_nn::LayerNorm::<f64>::new(2, 1e-5);
    /// let tape = Tape::new();
    /// assert!(norm.vars(&tape).gamma.requires_grad());
    /// ```
    pub fn vars<'t>(&self, tape: &'t Tape<T>) -> LayerNormVars<'t, T> {
        LayerNormVars { gamma: tape.var(&self.gamma), beta: tape.var(&self.beta), eps: self.eps }
    }
}

impl<'t, T: Real> LayerNormVars<'t, T> {
    /// `(x - mean) / sqrt(var + eps) (.) gamma + beta`, row by row of `x` `[N x D]`.
    ///
    /// # Panics
    ///
    /// If `x` is not a matrix whose rows have D features (the engine's message names the op
    /// and both shapes).
    ///
    /// ```
    /// use wengert_nn::LayerNorm;
    /// use wengert_tape::{Tape, Tensor};
    /// let tape = Tape::new();
    /// let vars = LayerNorm::<f64>::new(2, 0.0).vars(&tape);
    /// let y = vars.forward(tape.constant(&Tensor::from_rows(&[[1.0, 3.0]])));
    /// assert_eq!(&*y.values(), &[-1.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn forward(self, x: Var<'t, T>) -> Var<'t, T> {
        assert!(x.shape().rank() == 2, "layer_norm: input is {}, not rows [N x D]", x.shape());
        let centred = x - x.mean_axis(1, true);
        let scale = (centred.powi(2).mean_axis(1, true) + self.eps).sqrt();
        centred / scale * self.gamma + self.beta
    }
}
