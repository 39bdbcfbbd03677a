//! [`Sequential`]: layers applied one after another, as PyTorch's `nn.Sequential`: linear
//! and convolutional layers, pools, activations, and the reshapes between images and rows.
//! Its architecture reads and prints as one line of text (`conv2d(1->8, k5, p2) | relu |
//! max_pool2d(k2) | flatten | linear(1568->10)`), which the trainers take as a flag and the
//! model files store.

use crate::checkpoint::CheckpointError;
use crate::init::Init;
use crate::model::{Model, ModelVars};
use crate::{Activation, Conv2d, Conv2dVars, Dropout, Linear, LinearVars};
use rand::Rng;
use smallvec::SmallVec;
use std::fmt;
use std::path::Path;
use wengert_tape::{Real, Shape, Size2, Tape, Tensor, Var};

/// One layer of a [`Sequential`].
#[derive(Clone, Debug, PartialEq)]
pub enum Layer<T> {
    /// Each row of features read as one sample of this shape (`[784]` as `[1 x 28 x 28]`,
    /// PyTorch's `nn.Unflatten(1, ...)`).
    Unflatten(Shape),
    Conv2d(Conv2d<T>),
    MaxPool2d {
        kernel: Size2,
        stride: Size2,
    },
    AvgPool2d {
        kernel: Size2,
        stride: Size2,
    },
    /// Each sample's dimensions joined into one row.
    Flatten,
    Linear(Linear<T>),
    Activation(Activation),
}

/// A [`Layer`] on a tape, for one step: the parameters as handles, the rest as numbers.
#[derive(Clone, Copy)]
pub enum LayerVars<'t, T> {
    Unflatten(Shape),
    Conv2d(Conv2dVars<'t, T>),
    MaxPool2d { kernel: Size2, stride: Size2 },
    AvgPool2d { kernel: Size2, stride: Size2 },
    Flatten,
    Linear(LinearVars<'t, T>),
    Activation(Activation),
}

impl<'t, T: Real> LayerVars<'t, T> {
    /// The layer applied to the batch `x` (its first axis the samples).
    #[track_caller]
    pub fn forward(self, x: Var<'t, T>) -> Var<'t, T> {
        match self {
            LayerVars::Unflatten(sample) => {
                let mut dims = [0; Shape::MAX_RANK];
                dims[0] = x.shape().rows();
                dims[1..=sample.rank()].copy_from_slice(&sample.dims());
                x.reshape(Shape::new(&dims[..=sample.rank()]))
            }
            LayerVars::Conv2d(conv) => conv.forward(x),
            LayerVars::MaxPool2d { kernel, stride } => x.max_pool2d(kernel, stride),
            LayerVars::AvgPool2d { kernel, stride } => x.avg_pool2d(kernel, stride),
            LayerVars::Flatten => x.flatten(),
            LayerVars::Linear(linear) => linear.forward(x),
            LayerVars::Activation(activation) => activation.apply(x),
        }
    }
}

/// Layers applied in order: a model for [`crate::train::fit`], the optimisers and the
/// checkpoints, like [`crate::Mlp`].
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::{Model, ModelVars, Sequential};
/// use wengert_tape::{Shape, Tape, Tensor};
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let text = "unflatten(1x28x28) | conv2d(1->8, k5, p2) | relu | max_pool2d(k2) | flatten | linear(1568->10)";
/// let model = Sequential::<f32>::from_architecture(text, &mut rng).unwrap();
/// assert_eq!(model.to_string(), "unflatten(1x28x28) | conv2d(1->8, k5, s1, p2) | relu | max_pool2d(k2, s2) | flatten | linear(1568->10)");
/// assert_eq!(model.output_shape(784), Ok(Shape::vector(10)));
/// let tape = Tape::new();
/// let logits = model.on_tape(&tape).forward(tape.constant(&Tensor::zeros(Shape::matrix(3, 784))));
/// assert_eq!(logits.shape(), Shape::matrix(3, 10));
/// assert_eq!(model.parameter_names()[0], "layer1.weight");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Sequential<T> {
    pub layers: Vec<Layer<T>>,
}

/// A [`Sequential`]'s layers on a tape, for one step (no heap for up to 16 layers).
#[derive(Clone)]
pub struct SequentialVars<'t, T> {
    pub layers: SmallVec<[LayerVars<'t, T>; 16]>,
}

/// An architecture that does not parse, or whose layers do not fit together: the layer (from
/// 0), its text, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("layer {layer} `{text}`: {reason}")]
pub struct ArchitectureError {
    pub layer: usize,
    pub text: String,
    pub reason: String,
}

impl<T: Real> Sequential<T> {
    /// A model from an architecture's text: layers separated by `|`, each one of
    /// `unflatten(CxHxW)`, `conv2d(IN->OUT, kK, sS, pP)` (stride 1 and padding 0 unless given;
    /// `k5x3` for a kernel of 5 rows and 3 columns, the same for s and p),
    /// `max_pool2d(kK, sS)` and `avg_pool2d(kK, sS)` (the stride the kernel's unless given),
    /// `flatten`, `linear(IN->OUT)`, or an activation's name (`relu`, `tanh`, ...). Weights
    /// are drawn for the activation that follows the layer ([`Init::for_activation`]; Xavier
    /// for the last), biases are zero.
    ///
    /// # Errors
    ///
    /// An [`ArchitectureError`] naming the layer that does not parse.
    pub fn from_architecture(text: &str, rng: &mut impl Rng) -> Result<Self, ArchitectureError> {
        let specs: Vec<&str> = text.split('|').map(str::trim).collect();
        let mut layers = Vec::with_capacity(specs.len());
        for (index, spec) in specs.iter().enumerate() {
            let error = |reason: String| ArchitectureError { layer: index, text: spec.to_string(), reason };
            // The activation after this layer, for its initialiser.
            let next_activation = specs[index + 1..].iter().find_map(|s| s.parse::<Activation>().ok());
            let init = next_activation.map_or(Init::XavierUniform, Init::for_activation);
            layers.push(parse_layer(spec, init, rng).map_err(error)?);
        }
        Ok(Sequential { layers })
    }

    /// The shape of one sample's output for rows of `width` features, checking that each
    /// layer fits what the one before gives.
    ///
    /// # Errors
    ///
    /// An [`ArchitectureError`] naming the first layer that does not fit, and the shape it got.
    pub fn output_shape(&self, width: usize) -> Result<Shape, ArchitectureError> {
        let tape = Tape::<T>::new();
        let mut sample = Shape::vector(width);
        for (index, layer) in self.layers.iter().enumerate() {
            let text = LayerText(layer).to_string();
            let error = |reason: String| ArchitectureError { layer: index, text: text.clone(), reason };
            let dims = sample.dims();
            let fits = match layer {
                Layer::Unflatten(s) => s.numel() == sample.numel(),
                Layer::Conv2d(conv) => dims.len() == 3 && dims[0] == conv.dims().0,
                Layer::MaxPool2d { .. } | Layer::AvgPool2d { .. } => dims.len() == 3,
                Layer::Linear(linear) => dims.len() == 1 && dims[0] == linear.dims().0,
                Layer::Flatten | Layer::Activation(_) => true,
            };
            if !fits {
                return Err(error(format!("does not take samples of shape {sample}")));
            }
            // One sample through the layer on a scratch tape: the engine's own shape rules.
            let mut batch = [0; Shape::MAX_RANK];
            batch[0] = 1;
            batch[1..=dims.len()].copy_from_slice(&dims);
            let x = tape.constant(&Tensor::zeros(Shape::new(&batch[..=dims.len()])));
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                layer_on_tape(layer, &tape).forward(x).shape()
            }));
            let out = result.map_err(|_| error(format!("does not fit samples of shape {sample}")))?;
            sample = Shape::new(&out.dims()[1..]);
        }
        Ok(sample)
    }

    /// Writes the model to `path` atomically: tensors `layer<i>.weight` and `layer<i>.bias`
    /// for each layer with parameters (`i` its place in the list; a linear weight `[in x
    /// out]`, a convolution's `[o x c x kh x kw]`), metadata `format` and `architecture`.
    ///
    /// # Errors
    ///
    /// A [`CheckpointError`] naming the file if it cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        crate::checkpoint::model::save_sequential(self, path.as_ref())
    }

    /// Reads a model written by [`Sequential::save`], checking the architecture and every
    /// tensor's shape before building it.
    ///
    /// # Errors
    ///
    /// A [`CheckpointError`] naming the file and the field or tensor at fault.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        crate::checkpoint::model::load_sequential(path.as_ref())
    }
}

/// A layer's handles on `tape`.
fn layer_on_tape<'t, T: Real>(layer: &Layer<T>, tape: &'t Tape<T>) -> LayerVars<'t, T> {
    match layer {
        Layer::Unflatten(s) => LayerVars::Unflatten(*s),
        Layer::Conv2d(conv) => LayerVars::Conv2d(conv.on_tape(tape)),
        Layer::MaxPool2d { kernel, stride } => LayerVars::MaxPool2d { kernel: *kernel, stride: *stride },
        Layer::AvgPool2d { kernel, stride } => LayerVars::AvgPool2d { kernel: *kernel, stride: *stride },
        Layer::Flatten => LayerVars::Flatten,
        Layer::Linear(linear) => LayerVars::Linear(linear.on_tape(tape)),
        Layer::Activation(activation) => LayerVars::Activation(*activation),
    }
}

/// The most parameters one layer read from text may hold: 2^28 (1 GiB of f32), so that a
/// mistyped or hostile architecture (in a flag or a file) is refused before any allocation.
pub const MAX_LAYER_PARAMETERS: usize = 1 << 28;

/// Refuses a layer of more than [`MAX_LAYER_PARAMETERS`] weights.
fn check_size(factors: &[usize]) -> Result<(), String> {
    match factors.iter().try_fold(1usize, |n, &f| n.checked_mul(f)) {
        Some(n) if n <= MAX_LAYER_PARAMETERS => Ok(()),
        _ => Err(format!("more than {MAX_LAYER_PARAMETERS} weights in one layer")),
    }
}

/// `IN->OUT`.
fn parse_arrow(text: &str) -> Result<(usize, usize), String> {
    let (a, b) = text.split_once("->").ok_or_else(|| format!("`{text}` is not IN->OUT"))?;
    Ok((positive(a)?, positive(b)?))
}

/// A size from 1.
fn positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{}` is not a size from 1", text.trim())),
    }
}

/// `K` or `HxW` after its letter.
fn parse_pair(text: &str, allow_zero: bool) -> Result<Size2, String> {
    let number = |t: &str| match t.trim().parse::<usize>() {
        Ok(n) if n > 0 || allow_zero => Ok(n),
        _ => Err(format!("`{}` is not a size{}", t.trim(), if allow_zero { "" } else { " from 1" })),
    };
    match text.split_once('x') {
        Some((h, w)) => Ok(Size2(number(h)?, number(w)?)),
        None => Ok(Size2::from(number(text)?)),
    }
}

/// The `k`, `s` and `p` arguments of a conv or pool, each given at most once.
struct Window {
    kernel: Option<Size2>,
    stride: Option<Size2>,
    padding: Option<Size2>,
}

fn parse_window(args: &[&str]) -> Result<Window, String> {
    let (mut k, mut s, mut p) = (None, None, None);
    for arg in args {
        let (slot, allow_zero) = match arg.chars().next() {
            Some('k') => (&mut k, false),
            Some('s') => (&mut s, false),
            Some('p') => (&mut p, true),
            _ => return Err(format!("`{arg}` is not kK, sS or pP")),
        };
        if slot.is_some() {
            return Err(format!("`{arg}` repeats an argument"));
        }
        *slot = Some(parse_pair(&arg[1..], allow_zero)?);
    }
    Ok(Window { kernel: k, stride: s, padding: p })
}

fn parse_layer<T: Real>(spec: &str, init: Init, rng: &mut impl Rng) -> Result<Layer<T>, String> {
    let (name, args) = match spec.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')').ok_or_else(|| "an argument list without its `)`".to_string())?;
            (name.trim(), inner.split(',').map(str::trim).filter(|a| !a.is_empty()).collect::<Vec<_>>())
        }
        None => (spec, Vec::new()),
    };
    let no_args = |layer: Layer<T>| if args.is_empty() { Ok(layer) } else { Err(format!("{name} takes no arguments")) };
    match name {
        "unflatten" => {
            let [dims] = args[..] else { return Err("unflatten takes one shape, CxHxW".to_string()) };
            let dims = dims.split('x').map(positive).collect::<Result<Vec<_>, _>>()?;
            check_size(&dims)?;
            if dims.len() > Shape::MAX_RANK - 1 {
                return Err(format!("{} dimensions are more than a sample can have", dims.len()));
            }
            Ok(Layer::Unflatten(Shape::new(&dims)))
        }
        "conv2d" => {
            let Some((channels, window)) = args.split_first() else {
                return Err("conv2d takes IN->OUT and a kernel kK".to_string());
            };
            let (inputs, outputs) = parse_arrow(channels)?;
            let Window { kernel, stride, padding } = parse_window(window)?;
            let kernel = kernel.ok_or_else(|| "conv2d needs a kernel, kK".to_string())?;
            let (stride, padding) = (stride.unwrap_or(Size2(1, 1)), padding.unwrap_or(Size2(0, 0)));
            check_size(&[inputs, outputs, kernel.0, kernel.1])?;
            Ok(Layer::Conv2d(Conv2d::new(inputs, outputs, kernel, stride, padding, init, rng)))
        }
        "max_pool2d" | "avg_pool2d" => {
            let Window { kernel, stride, padding } = parse_window(&args)?;
            let kernel = kernel.ok_or_else(|| format!("{name} needs a kernel, kK"))?;
            if padding.is_some() {
                return Err(format!("{name} takes no padding"));
            }
            let stride = stride.unwrap_or(kernel);
            Ok(if name == "max_pool2d" { Layer::MaxPool2d { kernel, stride } } else { Layer::AvgPool2d { kernel, stride } })
        }
        "flatten" => no_args(Layer::Flatten),
        "linear" => {
            let [sizes] = args[..] else { return Err("linear takes IN->OUT".to_string()) };
            let (inputs, outputs) = parse_arrow(sizes)?;
            check_size(&[inputs, outputs])?;
            Ok(Layer::Linear(Linear::new(inputs, outputs, init, rng)))
        }
        _ => match name.parse::<Activation>() {
            Ok(activation) => no_args(Layer::Activation(activation)),
            Err(_) => Err(format!(
                "unknown layer `{name}` (expected unflatten, conv2d, max_pool2d, avg_pool2d, flatten, linear or an activation)"
            )),
        },
    }
}

/// A layer's text, as [`Sequential::from_architecture`] reads it.
struct LayerText<'a, T>(&'a Layer<T>);

impl<T: Real> fmt::Display for LayerText<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pair = |s: Size2| if s.0 == s.1 { s.0.to_string() } else { format!("{}x{}", s.0, s.1) };
        match self.0 {
            Layer::Unflatten(s) => {
                let dims: Vec<String> = s.dims().iter().map(usize::to_string).collect();
                write!(f, "unflatten({})", dims.join("x"))
            }
            Layer::Conv2d(conv) => {
                let (inputs, outputs, kernel) = conv.dims();
                write!(
                    f,
                    "conv2d({inputs}->{outputs}, k{}, s{}, p{})",
                    pair(kernel),
                    pair(conv.stride),
                    pair(conv.padding)
                )
            }
            Layer::MaxPool2d { kernel, stride } => write!(f, "max_pool2d(k{}, s{})", pair(*kernel), pair(*stride)),
            Layer::AvgPool2d { kernel, stride } => write!(f, "avg_pool2d(k{}, s{})", pair(*kernel), pair(*stride)),
            Layer::Flatten => write!(f, "flatten"),
            Layer::Linear(linear) => write!(f, "linear({}->{})", linear.dims().0, linear.dims().1),
            Layer::Activation(activation) => write!(f, "{}", activation.name()),
        }
    }
}

impl<T: Real> fmt::Display for Sequential<T> {
    /// The architecture's text, which [`Sequential::from_architecture`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, layer) in self.layers.iter().enumerate() {
            if index > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{}", LayerText(layer))?;
        }
        Ok(())
    }
}

impl<T: Real> Model<T> for Sequential<T> {
    type Vars<'t>
        = SequentialVars<'t, T>
    where
        T: 't;

    fn on_tape<'t>(&self, tape: &'t Tape<T>) -> SequentialVars<'t, T> {
        SequentialVars { layers: self.layers.iter().map(|layer| layer_on_tape(layer, tape)).collect() }
    }

    fn parameters(&self) -> impl Iterator<Item = &Tensor<T>> {
        self.layers
            .iter()
            .flat_map(|layer| match layer {
                Layer::Conv2d(conv) => [Some(&conv.weight), Some(&conv.bias)],
                Layer::Linear(linear) => [Some(&linear.weight), Some(&linear.bias)],
                _ => [None, None],
            })
            .flatten()
    }

    fn parameters_mut(&mut self) -> impl Iterator<Item = &mut Tensor<T>> {
        self.layers
            .iter_mut()
            .flat_map(|layer| match layer {
                Layer::Conv2d(conv) => [Some(&mut conv.weight), Some(&mut conv.bias)],
                Layer::Linear(linear) => [Some(&mut linear.weight), Some(&mut linear.bias)],
                _ => [None, None],
            })
            .flatten()
    }

    fn parameter_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            if matches!(layer, Layer::Conv2d(_) | Layer::Linear(_)) {
                names.push(format!("layer{index}.weight"));
                names.push(format!("layer{index}.bias"));
            }
        }
        names
    }
}

impl<'t, T: Real> ModelVars<'t, T> for SequentialVars<'t, T> {
    fn forward(&self, x: Var<'t, T>) -> Var<'t, T> {
        self.layers.iter().fold(x, |a, layer| layer.forward(a))
    }

    /// Dropout after every activation but a last one.
    fn forward_with_dropout(&self, x: Var<'t, T>, dropout: &mut Dropout<T>) -> Var<'t, T> {
        let last = self.layers.len().saturating_sub(1);
        self.layers.iter().enumerate().fold(x, |a, (index, layer)| {
            let y = layer.forward(a);
            if matches!(layer, LayerVars::Activation(_)) && index < last {
                dropout.forward(y)
            } else {
                y
            }
        })
    }

    fn parameters(&self) -> impl Iterator<Item = Var<'t, T>> + '_ {
        self.layers
            .iter()
            .flat_map(|layer| match layer {
                LayerVars::Conv2d(conv) => [Some(conv.weight), Some(conv.bias)],
                LayerVars::Linear(linear) => [Some(linear.weight), Some(linear.bias)],
                _ => [None, None],
            })
            .flatten()
    }
}
