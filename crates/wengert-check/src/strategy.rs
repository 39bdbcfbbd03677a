//! proptest strategies for what gradient tests need: scalars, vectors and matrices of fixed
//! or random shapes (1x1 and non-square included), value ranges, well-conditioned inputs,
//! and inputs kept away from kinks. Everything shrinks: shapes towards the smallest, values
//! towards 0 (or the allowed value nearest 0).
//!
//! ```
//! use proptest::prelude::*;
//! use wengert_check::strategy::{matrix, tensor};
//! use wengert_check::GradCheck;
//! use wengert_tape::Shape;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // In a test file, put #[test] above each fn.
//!     fn ln_has_the_right_gradient(x in matrix(1..=3, 1..=3).positive()) {
//!         GradCheck::new().tape(|_tape, v| v[0].ln().sum(), &[x])?;
//!     }
//!     // Shapes that fit together: draw the dimensions, then the tensors.
//!     fn matmul_has_the_right_gradient(
//!         (a, b) in (1..=3usize, 1..=3usize, 1..=3usize)
//!             .prop_flat_map(|(m, k, n)| (tensor(Shape::matrix(m, k)), tensor(Shape::matrix(k, n))))
//!     ) {
//!         GradCheck::new().tape(|_tape, v| v[0].matmul(v[1]).tanh().sum(), &[a, b])?;
//!     }
//! }
//! ln_has_the_right_gradient();
//! matmul_has_the_right_gradient();
//! ```

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::TestRunner;
use std::marker::PhantomData;
use std::ops::RangeInclusive;
use std::sync::Arc;
use wengert_tape::{Real, Shape, Tensor};

/// How far [`TensorStrategy::away_from_kinks`] keeps values from 0 and from each other.
///
/// Wider than the reach of every stencil in f64 at `|x| <= 4` (the widest, Richardson's,
/// is `5.8e-3 max(1, |x|)`) and than the central step in f32 at `|x| <= 4` (`4.9e-3 max(1, |x|)`).
pub const KINK_MARGIN: f64 = 0.025;

/// The range [`TensorStrategy::positive`] draws from: `1/x <= 4`, `ln` and `sqrt` tame, and
/// every stencil's reach stays clear of 0, even in f32.
pub const POSITIVE: RangeInclusive<f64> = 0.25..=4.0;

/// The default value range.
pub const DEFAULT_VALUES: RangeInclusive<f64> = -2.0..=2.0;

/// Tensors for gradient tests: a shape (fixed or drawn) and values (a range, with points to
/// avoid and an optional minimum distance between elements). Build it with [`scalar`],
/// [`vector`], [`matrix`] or [`tensor`], refine it, and use it as a proptest strategy.
///
/// Values are drawn uniformly from the allowed set (the range minus the avoided intervals)
/// in f64 and rounded to `T`.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use wengert_check::strategy::matrix;
///
/// let mut runner = TestRunner::deterministic();
/// let strategy = matrix(1..=4, 2..=3).values(-3.0..=3.0).away_from_kinks();
/// for _ in 0..100 {
///     let t = strategy.new_tree(&mut runner).unwrap().current();
///     assert!((1..=4).contains(&t.shape().rows()) && (2..=3).contains(&t.shape().cols()));
///     assert!(t.data().iter().all(|x| (-3.0..=3.0).contains(x) && x.abs() >= 0.025));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct TensorStrategy<T = f64> {
    shapes: Shapes,
    values: Values,
    precision: PhantomData<fn() -> T>,
}

#[derive(Clone, Debug)]
enum Shapes {
    Fixed(Shape),
    Vector(RangeInclusive<usize>),
    Matrix(RangeInclusive<usize>, RangeInclusive<usize>),
}

#[derive(Clone, Debug)]
struct Values {
    range: RangeInclusive<f64>,
    avoid: Vec<(f64, f64)>,
    distinct: Option<f64>,
}

/// A rank-0 tensor.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// let t = wengert_check::strategy::scalar().new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!(t.shape().is_scalar() && t.data()[0].abs() <= 2.0);
/// ```
pub fn scalar() -> TensorStrategy {
    tensor(Shape::scalar())
}

/// A vector `[n]` with `n` drawn from `len`.
///
/// # Panics
///
/// If `len` is empty.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// let t = wengert_check::strategy::vector(3..=3).new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert_eq!(t.shape(), wengert_tape::Shape::vector(3));
/// ```
#[track_caller]
pub fn vector(len: RangeInclusive<usize>) -> TensorStrategy {
    assert!(!len.is_empty(), "strategy::vector: the length range {len:?} is empty");
    TensorStrategy::with_shapes(Shapes::Vector(len))
}

/// A matrix `[r x c]` with `r` drawn from `rows` and `c` from `cols`: `matrix(1..=4, 1..=4)`
/// includes 1x1, non-square and square matrices.
///
/// # Panics
///
/// If a range is empty.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// let mut runner = TestRunner::deterministic();
/// let shapes: Vec<_> = (0..200)
///     .map(|_| wengert_check::strategy::matrix(1..=2, 1..=2).new_tree(&mut runner).unwrap().current().shape())
///     .collect();
/// assert!(shapes.iter().any(|s| s.numel() == 1) && shapes.iter().any(|s| s.rows() != s.cols()));
/// ```
#[track_caller]
pub fn matrix(rows: RangeInclusive<usize>, cols: RangeInclusive<usize>) -> TensorStrategy {
    assert!(!rows.is_empty() && !cols.is_empty(), "strategy::matrix: rows {rows:?} or cols {cols:?} is empty");
    TensorStrategy::with_shapes(Shapes::Matrix(rows, cols))
}

/// A tensor of a fixed shape.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use wengert_tape::Shape;
/// let t = wengert_check::strategy::tensor(Shape::matrix(2, 5)).new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert_eq!(t.shape(), Shape::matrix(2, 5));
/// ```
pub fn tensor(shape: Shape) -> TensorStrategy {
    TensorStrategy::with_shapes(Shapes::Fixed(shape))
}

impl TensorStrategy<f64> {
    fn with_shapes(shapes: Shapes) -> Self {
        TensorStrategy {
            shapes,
            values: Values { range: DEFAULT_VALUES, avoid: Vec::new(), distinct: None },
            precision: PhantomData,
        }
    }

    /// The same tensors in f32 (each value rounded to the nearest f32).
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(2..=2).f32().new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// let _: &[f32] = t.data();
    /// assert_eq!(t.len(), 2);
    /// ```
    pub fn f32(self) -> TensorStrategy<f32> {
        TensorStrategy { shapes: self.shapes, values: self.values, precision: PhantomData }
    }
}

impl<T: Real> TensorStrategy<T> {
    /// Draws values from `range` (default `-2.0..=2.0`).
    ///
    /// # Panics
    ///
    /// If the range is empty, a single point, or not finite.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(50..=50).values(5.0..=6.0)
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// assert!(t.data().iter().all(|&x| (5.0..=6.0).contains(&x)));
    /// ```
    #[track_caller]
    pub fn values(mut self, range: RangeInclusive<f64>) -> Self {
        assert!(
            range.start().is_finite() && range.end().is_finite() && range.start() < range.end(),
            "TensorStrategy::values: {range:?} must be finite with start < end"
        );
        self.values.range = range;
        self
    }

    /// Well-conditioned positive values for `ln`, `sqrt`, `powf` and division: the range
    /// [`POSITIVE`], `0.25..=4.0`.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(50..=50).positive()
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// assert!(t.data().iter().all(|&x| (0.25..=4.0).contains(&x)));
    /// ```
    pub fn positive(self) -> Self {
        self.values(POSITIVE)
    }

    /// Keeps every value at least `margin` away from `point`.
    ///
    /// # Panics
    ///
    /// If `margin` is negative or not finite.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(100..=100).avoid(1.0, 0.5)
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// assert!(t.data().iter().all(|&x| (x - 1.0).abs() >= 0.5));
    /// ```
    #[track_caller]
    pub fn avoid(mut self, point: f64, margin: f64) -> Self {
        assert!(
            point.is_finite() && margin.is_finite() && margin >= 0.0,
            "TensorStrategy::avoid: point {point} and margin {margin} must be finite, margin >= 0"
        );
        self.values.avoid.push((point, margin));
        self
    }

    /// Keeps every value at least `margin` away from 0: for division by an input of either sign.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(100..=100).away_from_zero(0.5)
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// assert!(t.data().iter().all(|&x| x.abs() >= 0.5));
    /// ```
    pub fn away_from_zero(self, margin: f64) -> Self {
        self.avoid(0.0, margin)
    }

    /// Keeps every pair of elements at least `margin` apart: no ties for a max or a sort.
    ///
    /// # Panics
    ///
    /// When drawing, if the tensor has too many elements to fit that far apart in the range.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// let t = wengert_check::strategy::vector(30..=30).distinct(0.1)
    ///     .new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// let mut x = t.data().to_vec();
    /// x.sort_by(f64::total_cmp);
    /// assert!(x.windows(2).all(|w| w[1] - w[0] >= 0.1 - 1e-12));
    /// ```
    #[track_caller]
    pub fn distinct(mut self, margin: f64) -> Self {
        assert!(margin.is_finite() && margin >= 0.0, "TensorStrategy::distinct: margin {margin} must be >= 0");
        self.values.distinct = Some(margin);
        self
    }

    /// Keeps inputs away from the usual kinks: at least [`KINK_MARGIN`] from 0 (relu, abs)
    /// and from each other (ties in a max).
    ///
    /// The spacing needs room: in the default range up to 158 elements fit. For bigger
    /// tensors without a max, use `.avoid(0.0, KINK_MARGIN)` alone.
    ///
    /// Only the inputs themselves: a relu applied to a computed value can still sit on its
    /// kink, which the check reports as not differentiable rather than as a wrong gradient.
    ///
    /// ```
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    /// use wengert_check::strategy::{matrix, KINK_MARGIN};
    /// let t = matrix(4..=4, 4..=4).away_from_kinks().new_tree(&mut TestRunner::deterministic()).unwrap().current();
    /// let mut x = t.into_data();
    /// assert!(x.iter().all(|x| x.abs() >= KINK_MARGIN));
    /// x.sort_by(f64::total_cmp);
    /// assert!(x.windows(2).all(|w| w[1] - w[0] >= KINK_MARGIN - 1e-12));
    /// ```
    pub fn away_from_kinks(self) -> Self {
        self.avoid(0.0, KINK_MARGIN).distinct(KINK_MARGIN)
    }

    fn boxed(&self) -> BoxedStrategy<Tensor<T>> {
        let layout = Arc::new(Layout::new(&self.values));
        let shapes: BoxedStrategy<Shape> = match &self.shapes {
            Shapes::Fixed(shape) => Just(*shape).boxed(),
            Shapes::Vector(len) => len.clone().prop_map(Shape::vector).boxed(),
            Shapes::Matrix(rows, cols) => (rows.clone(), cols.clone()).prop_map(|(r, c)| Shape::matrix(r, c)).boxed(),
        };
        shapes
            .prop_flat_map(move |shape| {
                layout.check_room(shape.numel());
                let layout = Arc::clone(&layout);
                vec(layout.draw_range(), shape.numel())
                    .prop_map(move |draws| Tensor::new(shape, layout.place(&draws)).cast::<T>())
            })
            .boxed()
    }
}

impl<T: Real> Strategy for TensorStrategy<T> {
    type Tree = Box<dyn ValueTree<Value = Tensor<T>>>;
    type Value = Tensor<T>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        self.boxed().new_tree(runner)
    }
}

/// The allowed values as disjoint intervals, and the map from a draw to a value.
///
/// A draw `u` is a position in the allowed set measured from the allowed point nearest 0,
/// so that proptest's shrinking of `u` towards 0 shrinks values towards 0.
#[derive(Debug)]
struct Layout {
    intervals: Vec<(f64, f64)>,
    total: f64,
    origin: f64,
    distinct: Option<f64>,
}

impl Layout {
    #[track_caller]
    fn new(values: &Values) -> Self {
        let mut intervals = vec![(*values.range.start(), *values.range.end())];
        for &(point, margin) in &values.avoid {
            let (low, high) = (point - margin, point + margin);
            intervals = intervals
                .into_iter()
                .flat_map(|(s, e)| {
                    if high <= s || low >= e {
                        vec![(s, e)]
                    } else {
                        [(s, low), (high, e)].into_iter().filter(|(a, b)| a < b).collect()
                    }
                })
                .collect();
        }
        intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = intervals.iter().map(|(s, e)| e - s).sum();
        assert!(
            total > 0.0,
            "TensorStrategy: the range {:?} minus the avoided points {:?} leaves nothing to draw",
            values.range,
            values.avoid
        );
        // The position of 0, or of the allowed value just above the hole that holds 0.
        let mut origin = 0.0;
        for &(s, e) in &intervals {
            if 0.0 < s {
                break;
            }
            origin += e.min(0.0) - s;
            if 0.0 <= e {
                break;
            }
        }
        Layout { intervals, total, origin, distinct: values.distinct }
    }

    #[track_caller]
    fn check_room(&self, n: usize) {
        if let Some(margin) = self.distinct {
            assert!(
                (n.saturating_sub(1) as f64) * margin < self.total,
                "TensorStrategy::distinct: {n} elements {margin} apart do not fit in values of total width {}",
                self.total
            );
        }
    }

    fn draw_range(&self) -> RangeInclusive<f64> {
        -self.origin..=self.total - self.origin
    }

    /// The values for the draws: positions in the allowed set, spread to the minimum
    /// distance if asked (sorted order kept, `t'_(k) = s t_(k) + k margin`), then mapped
    /// onto the intervals (which only adds distance).
    fn place(&self, draws: &[f64]) -> Vec<f64> {
        let mut positions: Vec<f64> = draws.iter().map(|u| (u + self.origin).clamp(0.0, self.total)).collect();
        if let Some(margin) = self.distinct {
            let n = positions.len();
            if n > 1 {
                let shrink = (self.total - (n - 1) as f64 * margin) / self.total;
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| positions[a].total_cmp(&positions[b]));
                for (rank, &i) in order.iter().enumerate() {
                    positions[i] = (positions[i] * shrink + rank as f64 * margin).min(self.total);
                }
            }
        }
        positions.into_iter().map(|t| self.value_at(t)).collect()
    }

    fn value_at(&self, mut t: f64) -> f64 {
        for &(s, e) in &self.intervals {
            if t < e - s {
                return s + t;
            }
            t -= e - s;
        }
        self.intervals.last().map_or(0.0, |&(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(range: RangeInclusive<f64>, avoid: &[(f64, f64)], distinct: Option<f64>) -> Layout {
        Layout::new(&Values { range, avoid: avoid.to_vec(), distinct })
    }

    #[test]
    fn a_draw_of_zero_lands_on_the_allowed_value_nearest_zero() {
        assert_eq!(layout(-2.0..=2.0, &[], None).place(&[0.0]), vec![0.0]);
        assert_eq!(layout(-2.0..=2.0, &[(0.0, 0.01)], None).place(&[0.0]), vec![0.01]);
        assert_eq!(layout(0.25..=4.0, &[], None).place(&[0.0]), vec![0.25]);
    }

    #[test]
    fn the_whole_allowed_set_is_reachable_and_nothing_else() {
        let l = layout(-1.0..=1.0, &[(0.0, 0.5)], None);
        assert_eq!(l.total, 1.0);
        let (low, high) = (*l.draw_range().start(), *l.draw_range().end());
        assert_eq!(l.place(&[low, high]), vec![-1.0, 1.0]);
        for k in 0..=100 {
            let x = l.place(&[low + (high - low) * k as f64 / 100.0])[0];
            assert!(x.abs() >= 0.5 && x.abs() <= 1.0, "{x}");
        }
    }

    #[test]
    fn spreading_keeps_order_and_the_minimum_distance() {
        let l = layout(-2.0..=2.0, &[(0.0, 0.01)], Some(0.01));
        let values = l.place(&[0.3, 0.3, -1.0, 0.3000001, 2.0]);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(sorted.windows(2).all(|w| w[1] - w[0] >= 0.01 - 1e-12), "{values:?}");
        assert!(values[2] < values[0] && values[0] < values[3], "{values:?}");
        assert!(values.iter().all(|x| x.abs() >= 0.01 && x.abs() <= 2.0), "{values:?}");
    }
}
