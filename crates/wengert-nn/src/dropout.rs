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
    /// The seed of the generator (from [`Dropout::new`] or [`Dropout::reseed`]).
    seed: u64,
    /// Set by [`Dropout::seek_rows`]: the masks are keyed by their place in a batch.
    place: Option<RowPlace>,
    /// The last mask drawn: `scale` where kept, 0 where dropped.
    mask: Vec<T>,
}

/// Where [`Dropout::seek_rows`] put the masks: the first row of the rows to come, and how
/// many masks have been drawn since (the layer of the next one).
#[derive(Debug, Clone, Copy)]
struct RowPlace {
    first_row: usize,
    call: u64,
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
            seed,
            place: None,
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
        self.seed = seed;
        self.place = None;
    }

    /// Ties the masks of the next calls to their place in a batch instead of to the order of
    /// the draws: the `c`-th call from here on (the `c`-th hidden layer) draws the rows
    /// `first_row..` of mask `c` of the batch named by `key` (a trainer passes its epoch and
    /// step). Mask `c` of a batch is one fixed sequence of numbers, from a generator keyed
    /// by `(seed, key)` on stream `c`, and row `r` of it always takes the same stretch of
    /// that sequence. So a batch split into shards of contiguous rows, each shard recorded
    /// after its own `seek_rows(key, first_row)`, draws exactly the masks the whole batch
    /// draws after `seek_rows(key, 0)`, however it is split and in whatever order the shards
    /// run. [`Dropout::reseed`] returns to drawing in order.
    ///
    /// Seeking allocates nothing.
    ///
    /// ```
    /// use wengert_nn::Dropout;
    /// use wengert_tape::{Shape, Tape, Tensor};
    /// # fn main() -> Result<(), wengert_nn::DropoutError> {
    /// let ones = Tensor::from_fn(Shape::matrix(5, 3), |_| 1.0_f64);
    /// let mut whole = Dropout::<f64>::new(0.5, 11)?;
    /// let tape = Tape::new();
    /// whole.seek_rows([1, 7], 0);
    /// let all_rows = whole.forward(tape.constant(&ones)).to_tensor();
    /// // Rows 2..5 alone, drawn after rows 0..2 or before them: the same numbers.
    /// let mut shard = Dropout::<f64>::new(0.5, 11)?;
    /// shard.seek_rows([1, 7], 2);
    /// let last_rows = shard.forward(tape.constant(&Tensor::from_fn(Shape::matrix(3, 3), |_| 1.0))).to_tensor();
    /// assert_eq!(last_rows.data(), &all_rows.data()[2 * 3..]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn seek_rows(&mut self, key: [u64; 2], first_row: usize) {
        let mut seed = [0u8; 32];
        for (bytes, word) in seed.chunks_exact_mut(8).zip([self.seed, key[0], key[1]]) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        self.rng = ChaCha8Rng::from_seed(seed);
        self.place = Some(RowPlace { first_row, call: 0 });
    }

    /// Moves the generator to the start of `first_row` of mask `call` (elements `width`
    /// wide): stream `call`, two 32-bit words per element (one `f64` draw each).
    fn seek_mask(&mut self, place: RowPlace, width: usize) {
        self.rng.set_stream(place.call);
        self.rng.set_word_pos(2 * place.first_row as u128 * width as u128);
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
        if let Some(place) = self.place {
            let width = x.shape().numel() / x.shape().rows().max(1);
            self.seek_mask(place, width);
            self.place = Some(RowPlace { call: place.call + 1, ..place });
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
