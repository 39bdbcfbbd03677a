//! [`Conv2d`]: a convolutional layer over NCHW images, filters `[o x c x kh x kw]` (PyTorch's
//! layout) and a bias per output channel.

use crate::init::Init;
use rand::Rng;
use wengert_tape::{Real, Shape, Size2, Tape, Tensor, Var};

/// A 2-D convolution layer: `y = conv2d(x, W, stride, padding) + b`, `x [n x c x h x w]`,
/// `W [o x c x kh x kw]`, `b [o]`.
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::{init::Init, Conv2d};
/// use wengert_tape::{Shape, Tape, Tensor};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let conv = Conv2d::<f32>::new(1, 8, 5, 1, 2, Init::HeUniform, &mut rng);
/// assert_eq!(conv.weight.shape(), Shape::new(&[8, 1, 5, 5]));
/// let tape = Tape::new();
/// let y = conv.on_tape(&tape).forward(tape.constant(&Tensor::zeros(Shape::new(&[2, 1, 28, 28]))));
/// assert_eq!(y.shape(), Shape::new(&[2, 8, 28, 28]));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d<T> {
    /// `[o x c x kh x kw]`.
    pub weight: Tensor<T>,
    /// `[o]`.
    pub bias: Tensor<T>,
    pub stride: Size2,
    pub padding: Size2,
}

/// A [`Conv2d`] layer's parameters on a tape, for one step.
#[derive(Clone, Copy)]
pub struct Conv2dVars<'t, T> {
    pub weight: Var<'t, T>,
    pub bias: Var<'t, T>,
    pub stride: Size2,
    pub padding: Size2,
}

impl<'t, T: Real> Conv2dVars<'t, T> {
    /// `conv2d(x, W) + b`.
    #[track_caller]
    pub fn forward(self, x: Var<'t, T>) -> Var<'t, T> {
        x.conv2d_bias(self.weight, self.bias, self.stride, self.padding)
    }
}

impl<T: Real> Conv2d<T> {
    /// A layer of `outputs` filters over `inputs` channels, weights drawn by `init` with
    /// fan-in `inputs kh kw` and fan-out `outputs kh kw`, zero biases.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: impl Into<Size2>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
        init: Init,
        rng: &mut impl Rng,
    ) -> Self {
        let Size2(kh, kw) = kernel.into();
        let weights = init.weights::<T>(inputs * kh * kw, outputs * kh * kw, rng);
        // The draws are independent, so any order of them is the same distribution.
        let weight =
            Tensor::new(Shape::new(&[outputs, inputs, kh, kw]), weights.data()[..outputs * inputs * kh * kw].to_vec());
        Conv2d { weight, bias: Tensor::zeros(Shape::vector(outputs)), stride: stride.into(), padding: padding.into() }
    }

    /// A layer from given tensors.
    ///
    /// # Panics
    ///
    /// If the weight is not `[o x c x kh x kw]` or the bias not `[o]`.
    #[track_caller]
    pub fn from_tensors(
        weight: Tensor<T>,
        bias: Tensor<T>,
        stride: impl Into<Size2>,
        padding: impl Into<Size2>,
    ) -> Self {
        let (w, b) = (weight.shape(), bias.shape());
        assert!(
            w.rank() == 4 && b.rank() == 1 && b.cols() == w.dim(0),
            "Conv2d: weight {w} and bias {b} do not fit (weight [o x c x kh x kw], bias [o])"
        );
        Conv2d { weight, bias, stride: stride.into(), padding: padding.into() }
    }

    /// Input channels, output channels, and the kernel.
    pub fn dims(&self) -> (usize, usize, Size2) {
        let w = self.weight.shape();
        (w.dim(1), w.dim(0), Size2(w.dim(2), w.dim(3)))
    }

    /// Puts the parameters on `tape` as trainable leaves.
    pub fn on_tape<'t>(&self, tape: &'t Tape<T>) -> Conv2dVars<'t, T> {
        Conv2dVars {
            weight: tape.var(&self.weight),
            bias: tape.var(&self.bias),
            stride: self.stride,
            padding: self.padding,
        }
    }
}
