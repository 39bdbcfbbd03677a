//! An embedding: a trainable table of `[V x D]` rows looked up by index, through the
//! engine's `gather_rows`, whose backward adds each looked-up row's gradient into its row of
//! the table (an index used twice collects twice).

use rand::Rng;
use rand_distr::{Distribution, Normal};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// A table of `vocabulary` rows of `dim` numbers, initialised from N(0, 1) as PyTorch's
/// `nn.Embedding` is.
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// use wengert_nn::Embedding;
/// use wengert_tape::Tape;
/// let embedding = Embedding::<f64>::new(5, 3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
/// let tape = Tape::new();
/// let table = embedding.vars(&tape);
/// let rows = Embedding::lookup(table, &[4, 1, 4]);
/// let grads = tape.backward(rows.sum());
/// // Row 4 was looked up twice, row 1 once, the others never.
/// assert_eq!(&grads.wrt_slice(table)[12..15], &[2.0; 3]);
/// assert_eq!(&grads.wrt_slice(table)[3..6], &[1.0; 3]);
/// assert_eq!(&grads.wrt_slice(table)[0..3], &[0.0; 3]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding<T> {
    /// The table, `[vocabulary x dim]`.
    pub table: Tensor<T>,
}

impl<T: Real> Embedding<T> {
    /// A table of `vocabulary` rows of `dim` numbers drawn from N(0, 1).
    ///
    /// # Panics
    ///
    /// If `vocabulary` or `dim` is 0.
    pub fn new(vocabulary: usize, dim: usize, rng: &mut impl Rng) -> Self {
        assert!(vocabulary > 0 && dim > 0, "embedding: a [{vocabulary} x {dim}] table is empty");
        let normal = Normal::new(0.0, 1.0).expect("N(0, 1) is a distribution");
        Embedding { table: Tensor::from_fn(Shape::matrix(vocabulary, dim), |_| T::lit(normal.sample(rng))) }
    }

    /// Puts the table on `tape` as a trainable leaf.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let e = wengert_nn::Embedding::<f32>::new(3, 2, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    /// let tape = wengert_tape::Tape::new();
    /// assert_eq!(e.vars(&tape).shape(), wengert_tape::Shape::matrix(3, 2));
    /// ```
    pub fn vars<'t>(&self, tape: &'t Tape<T>) -> Var<'t, T> {
        tape.var(&self.table)
    }

    /// The rows `indices` of the table on the tape, `[k x dim]`.
    ///
    /// # Panics
    ///
    /// If an index is not below the vocabulary, naming it and the table's shape.
    #[track_caller]
    pub fn lookup<'t>(table: Var<'t, T>, indices: &[usize]) -> Var<'t, T> {
        table.gather_rows(indices)
    }
}
