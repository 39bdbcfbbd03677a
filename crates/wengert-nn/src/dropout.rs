//! Dropout (Srivastava et al., 2014) in its inverted form: in training each element is kept
//! with probability `1 - p` and scaled by `1 / (1 - p)`, or zeroed, so that the output's
//! expectation is the input and evaluation needs no rescaling; in evaluation it is the
//! identity. On the tape it is one multiply by a constant mask, so its gradient is the
//! mask: `1 / (1 - p)` where kept, 0 where dropped. No op of its own is needed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wengert_tape::{Real, Var};

/// A dropout probability outside `[0, 1)`.
///
/// ```
/// use wengert_nn::{Dropout, DropoutError};
/// let error = Dropout::<f32>::new(1.0, 0).unwrap_err();
/// assert_eq!(error, DropoutError { p: 1.0 });
/// assert_eq!(error.to_string(), "dropout probability 1 is outside [0, 1)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("dropout probability {p} is outside [0, 1)")]
pub struct DropoutError {
    /// The probability asked for.
    pub p: f64,
}

/// A dropout layer: probability `p` of zeroing each element, a seeded generator of its
/// own that draws a new mask at every call, and a train/eval switch (training at first).
///
/// The mask lives in a buffer that is reused from call to call, so once it has grown to
/// the largest input a call allocates nothing.
///
/// # Examples
///
/// ```
/// use wengert_nn::Dropout;
/// use wengert_tape::{Tape, Tensor};
/// # fn main() -> Result<(), wengert_nn::DropoutError> {
/// let mut dropout = Dropout::<f64>::new(0.5, 7)?;
/// let tape = Tape::new();
/// let x = tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0]));
/// let y = dropout.forward(x);
/// // Each element is dropped (0) or kept and doubled (1 / (1 - 0.5)).
/// for (&xi, &yi) in [1.0, 2.0, 3.0, 4.0].iter().zip(y.values().iter()) {
///     assert!(yi == 0.0 || yi == 2.0 * xi);
/// }
/// // The gradient is the mask.
/// assert_eq!(tape.backward(y.sum()).wrt_slice(x), dropout.mask());
/// // In evaluation, the identity: the same handle back.
/// dropout.eval();
/// assert_eq!(dropout.forward(x).index(), x.index());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Dropout<T> {
    p: f64,
    /// `1 / (1 - p)`, the kept elements' factor.
    scale: T,
    training: bool,
    rng: ChaCha8Rng,
    /// The last mask drawn: `scale` where kept, 0 where dropped.
    mask: Vec<T>,
}

impl<T: Real> Dropout<T> {
    /// A dropout layer with probability `p`, its generator seeded with `seed`, in training.
    ///
    /// # Errors
    ///
    /// [`DropoutError`] if `p` is not in `[0, 1)` (`p = 1` would drop everything and scale
    /// by infinity), or is NaN.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// assert!(Dropout::<f32>::new(0.0, 1).is_ok());
    /// assert!(Dropout::<f32>::new(0.999, 1).is_ok());
    /// assert!(Dropout::<f32>::new(-0.1, 1).is_err());
    /// assert!(Dropout::<f32>::new(f64::NAN, 1).is_err());
    /// ```
    pub fn new(p: f64, seed: u64) -> Result<Self, DropoutError> {
        if !(0.0..1.0).contains(&p) {
            return Err(DropoutError { p });
        }
        Ok(Dropout {
            p,
            scale: T::lit(1.0 / (1.0 - p)),
            training: true,
            rng: ChaCha8Rng::seed_from_u64(seed),
            mask: Vec::new(),
        })
    }

    /// The probability of dropping an element.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// assert_eq!(Dropout::<f64>::new(0.25, 0).map(|d| d.p()), Ok(0.25));
    /// ```
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Restarts the generator at `seed`, on stream `stream` (ChaCha's independent streams:
    /// a trainer can give each epoch its own, so that a resumed run draws the same masks).
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// use wengert_tape::{Tape, Tensor};
    /// # fn main() -> Result<(), wengert_nn::DropoutError> {
    /// let mut dropout = Dropout::<f64>::new(0.5, 3)?;
    /// let tape = Tape::new();
    /// let x = tape.constant(&Tensor::from_slice(&[1.0; 64]));
    /// dropout.reseed(3, 1);
    /// let first = dropout.forward(x).to_tensor();
    /// dropout.reseed(3, 1);
    /// assert_eq!(dropout.forward(x).to_tensor(), first);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reseed(&mut self, seed: u64, stream: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.rng.set_stream(stream);
    }

    /// Switches to training: [`Dropout::forward`] draws masks.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// let mut dropout = Dropout::<f32>::new(0.5, 0).expect("valid p");
    /// dropout.eval();
    /// dropout.train();
    /// assert!(dropout.is_training());
    /// ```
    pub fn train(&mut self) {
        self.training = true;
    }

    /// Switches to evaluation: [`Dropout::forward`] is the identity.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// let mut dropout = Dropout::<f32>::new(0.5, 0).expect("valid p");
    /// dropout.eval();
    /// assert!(!dropout.is_training());
    /// ```
    pub fn eval(&mut self) {
        self.training = false;
    }

    /// Whether [`Dropout::forward`] draws masks.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// assert!(Dropout::<f32>::new(0.5, 0).expect("valid p").is_training());
    /// ```
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// In training with `p > 0`, draws a new mask of `x`'s shape and records `x * mask`
    /// (one multiply by a constant): each element kept and scaled by `1 / (1 - p)` with
    /// probability `1 - p`, zeroed otherwise. In evaluation, or with `p = 0`, returns `x`
    /// itself and records nothing.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// use wengert_tape::Tape;
    /// let mut dropout = Dropout::<f64>::new(0.0, 0).expect("valid p");
    /// let tape = Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(dropout.forward(x).index(), x.index()); // p = 0: nothing recorded
    /// ```
    pub fn forward<'t>(&mut self, x: Var<'t, T>) -> Var<'t, T> {
        if !self.training || self.p == 0.0 {
            return x;
        }
        let (p, scale, rng) = (self.p, self.scale, &mut self.rng);
        self.mask.clear();
        // `random` is uniform in [0, 1): an element is dropped with probability p exactly.
        self.mask.extend((0..x.shape().numel()).map(|_| if rng.random::<f64>() < p { T::zero() } else { scale }));
        x * x.tape().constant((x.shape(), &self.mask[..]))
    }

    /// The last mask [`Dropout::forward`] drew, in `x`'s row-major order: `1 / (1 - p)`
    /// where kept, 0 where dropped; empty before the first draw.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// use wengert_tape::{Tape, Tensor};
    /// let mut dropout = Dropout::<f64>::new(0.75, 5).expect("valid p");
    /// assert!(dropout.mask().is_empty());
    /// let tape = Tape::new();
    /// dropout.forward(tape.constant(&Tensor::from_slice(&[1.0; 8])));
    /// assert_eq!(dropout.mask().len(), 8);
    /// assert!(dropout.mask().iter().all(|&m| m == 0.0 || m == 4.0));
    /// ```
    pub fn mask(&self) -> &[T] {
        &self.mask
    }
}
