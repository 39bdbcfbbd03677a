//! The proptest strategies give what gradient tests need: random shapes that include 1x1,
//! non-square and square; values inside their range and off every avoided point; positive,
//! well-conditioned values; elements kept apart (no ties); uniform coverage of the allowed
//! values; f32 copies; shrinking to the smallest shape and to values near 0; clear panics.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestError, TestRunner};
use wengert_check::strategy::{matrix, scalar, tensor, vector, KINK_MARGIN, POSITIVE};
use wengert_tape::{Shape, Tensor};

fn draw<S: Strategy>(strategy: &S, runner: &mut TestRunner) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

#[test]
fn random_shapes_include_1x1_non_square_and_square() {
    let mut runner = TestRunner::deterministic();
    let shapes: Vec<Shape> = (0..500).map(|_| draw(&matrix(1..=4, 1..=4), &mut runner).shape()).collect();
    assert!(shapes.iter().all(|s| (1..=4).contains(&s.rows()) && (1..=4).contains(&s.cols())));
    assert!(shapes.contains(&Shape::matrix(1, 1)));
    assert!(shapes.iter().any(|s| s.rows() != s.cols()) && shapes.iter().any(|s| s.rows() == s.cols() && s.rows() > 1));
    let lengths: Vec<usize> = (0..200).map(|_| draw(&vector(2..=5), &mut runner).len()).collect();
    assert!(lengths.iter().all(|n| (2..=5).contains(n)) && lengths.contains(&2) && lengths.contains(&5));
    assert!(draw(&scalar(), &mut runner).shape().is_scalar());
}

#[test]
fn values_cover_the_allowed_set_evenly() {
    // [-2, 2] without (-0.5, 0.5): 3 units wide, half of it negative.
    let strategy = vector(100..=100).avoid(0.0, 0.5);
    let mut runner = TestRunner::deterministic();
    let values: Vec<f64> = (0..50).flat_map(|_| draw(&strategy, &mut runner).into_data()).collect();
    let negative = values.iter().filter(|&&x| x < 0.0).count() as f64 / values.len() as f64;
    let outer = values.iter().filter(|&&x| x.abs() > 1.25).count() as f64 / values.len() as f64;
    assert!((negative - 0.5).abs() < 0.03, "{negative}");
    assert!((outer - 0.5).abs() < 0.03, "{outer}");
}

#[test]
fn f32_tensors_are_the_f64_values_rounded() {
    let mut a = TestRunner::deterministic();
    let mut b = TestRunner::deterministic();
    let wide = draw(&matrix(2..=2, 3..=3).positive(), &mut a);
    let narrow: Tensor<f32> = draw(&matrix(2..=2, 3..=3).positive().f32(), &mut b);
    assert_eq!(narrow, wide.cast::<f32>());
}

#[test]
fn a_failing_property_shrinks_to_one_element_nearest_zero() {
    let mut runner = TestRunner::new(Config::with_cases(50));
    let result = runner.run(&matrix(1..=4, 1..=4).away_from_zero(0.1), |_| Err(TestCaseError::fail("always")));
    let Err(TestError::Fail(_, smallest)) = result else { panic!("{result:?}") };
    assert_eq!(smallest.shape(), Shape::matrix(1, 1));
    assert!((smallest.data()[0].abs() - 0.1).abs() < 1e-9, "{smallest:?}");
}

#[test]
#[should_panic(expected = "do not fit in values of total width")]
fn elements_that_cannot_be_kept_apart_panic() {
    draw(&vector(100..=100).values(0.0..=1.0).distinct(0.1), &mut TestRunner::deterministic());
}

#[test]
#[should_panic(expected = "leaves nothing to draw")]
fn a_range_with_nothing_left_panics() {
    draw(&scalar().avoid(0.0, 5.0), &mut TestRunner::deterministic());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Values lie in their range and at least `margin` from every avoided point.
    #[test]
    fn values_stay_in_range_and_off_avoided_points(
        ((start, end, point, margin), t) in (-5.0..0.0f64, 1.0..6.0f64, -3.0..3.0f64, 0.0..0.4f64).prop_flat_map(
            |(low, width, point, margin)| {
                let strategy = tensor(Shape::matrix(4, 5))
                    .values(low..=low + width)
                    .avoid(point, margin)
                    .away_from_zero(0.05);
                (Just((low, low + width, point, margin)), strategy)
            }
        )
    ) {
        for &x in t.data() {
            prop_assert!(x >= start && x <= end, "{x} outside [{start}, {end}]");
            prop_assert!((x - point).abs() >= margin && x.abs() >= 0.05, "{x} near {point} (margin {margin}) or 0");
        }
    }

    /// `away_from_kinks` keeps every element off 0 and every pair apart by `KINK_MARGIN`;
    /// `positive` stays in `POSITIVE`.
    #[test]
    fn kink_free_and_positive_values_keep_their_promises(
        off_kinks in matrix(1..=6, 1..=6).away_from_kinks(),
        positive in matrix(1..=6, 1..=6).positive(),
    ) {
        let mut x = off_kinks.into_data();
        prop_assert!(x.iter().all(|x| x.abs() >= KINK_MARGIN), "{x:?}");
        x.sort_by(f64::total_cmp);
        prop_assert!(x.windows(2).all(|w| w[1] - w[0] >= KINK_MARGIN - 1e-12), "{x:?}");
        prop_assert!(positive.data().iter().all(|x| POSITIVE.contains(x)), "{positive:?}");
    }
}
