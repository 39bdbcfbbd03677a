//! Losses with a reduction against their formulas written out in plain f64, and against
//! the engine's fused mean losses.

use proptest::prelude::*;
use wengert_nn::loss::{bce_with_logits, mse, Reduction};
use wengert_tape::{Shape, Tape, Tensor};

fn tensor(rows: usize, cols: usize, values: &[f64]) -> Tensor<f64> {
    Tensor::from_fn(Shape::matrix(rows, cols), |n| values[n % values.len()])
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `-y log s - (1 - y) log(1 - s)`, the textbook form (fine for moderate |z|).
fn bce_formula(z: f64, y: f64) -> f64 {
    -y * sigmoid(z).ln() - (1.0 - y) * (1.0 - sigmoid(z)).ln()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mse_matches_the_formula_for_each_reduction(
        (rows, cols, p, t, u) in (1_usize..5, 1_usize..5).prop_flat_map(|(r, c)| (
            Just(r), Just(c),
            prop::collection::vec(-10.0_f64..10.0, r * c),
            prop::collection::vec(-10.0_f64..10.0, r * c),
            prop::collection::vec(-2.0_f64..2.0, r * c),
        ))
    ) {
        let n = (rows * cols) as f64;
        let tape = Tape::<f64>::new();
        let (pv, tv) = (tape.var(&tensor(rows, cols, &p)), tape.constant(&tensor(rows, cols, &t)));
        let squares: Vec<f64> = p.iter().zip(&t).map(|(a, b)| (a - b) * (a - b)).collect();

        let none = mse(pv, tv, Reduction::None);
        prop_assert_eq!(none.shape(), Shape::matrix(rows, cols));
        for (got, want) in none.values().iter().zip(&squares) {
            prop_assert!(close(*got, *want), "{} vs {}", got, want);
        }
        // Per-element gradients: weight each loss by u, so d/dp = u 2 (p - t).
        let weighted = (none * tape.constant(&tensor(rows, cols, &u))).sum();
        let gradient = tape.backward(weighted).wrt_slice(pv).to_vec();
        for i in 0..p.len() {
            prop_assert!(close(gradient[i], u[i] * 2.0 * (p[i] - t[i])));
        }

        let sum = mse(pv, tv, Reduction::Sum);
        prop_assert!(close(sum.value(), squares.iter().sum()));
        let mean = mse(pv, tv, Reduction::Mean);
        prop_assert!(close(mean.value(), squares.iter().sum::<f64>() / n));
        prop_assert!(close(mean.value(), pv.mse(tv).value()), "the fused op agrees");
        let gradient = tape.backward(mean).wrt_slice(pv).to_vec();
        for i in 0..p.len() {
            prop_assert!(close(gradient[i], 2.0 * (p[i] - t[i]) / n));
        }
    }

    #[test]
    fn bce_with_logits_matches_the_formula_for_each_reduction(
        (rows, cols, z, y) in (1_usize..5, 1_usize..5).prop_flat_map(|(r, c)| (
            Just(r), Just(c),
            prop::collection::vec(-15.0_f64..15.0, r * c),
            prop::collection::vec(0.0_f64..=1.0, r * c),
        ))
    ) {
        let n = (rows * cols) as f64;
        let tape = Tape::<f64>::new();
        let (zv, yv) = (tape.var(&tensor(rows, cols, &z)), tape.constant(&tensor(rows, cols, &y)));
        let losses: Vec<f64> = z.iter().zip(&y).map(|(&zi, &yi)| bce_formula(zi, yi)).collect();
        // The textbook form loses digits to log(1 - s) near s = 1: compare to 1e-9.
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());

        let none = bce_with_logits(zv, yv, Reduction::None);
        prop_assert_eq!(none.shape(), Shape::matrix(rows, cols));
        for (got, want) in none.values().iter().zip(&losses) {
            prop_assert!(near(*got, *want), "{} vs {}", got, want);
        }
        let sum = bce_with_logits(zv, yv, Reduction::Sum);
        prop_assert!(near(sum.value(), losses.iter().sum()));
        let gradient = tape.backward(sum).wrt_slice(zv).to_vec();
        for i in 0..z.len() {
            prop_assert!(close(gradient[i], sigmoid(z[i]) - y[i]), "{} vs {}", gradient[i], sigmoid(z[i]) - y[i]);
        }
        let mean = bce_with_logits(zv, yv, Reduction::Mean);
        prop_assert!(near(mean.value(), losses.iter().sum::<f64>() / n));
        prop_assert!(close(mean.value(), zv.bce_with_logits(yv).value()), "the fused op agrees");
    }
}

#[test]
fn bce_with_logits_is_finite_and_exact_at_plus_minus_1000() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::from_slice(&[1000.0, -1000.0, 1000.0, -1000.0]));
    let y = tape.constant(&Tensor::from_slice(&[1.0, 0.0, 0.0, 1.0]));
    let losses = bce_with_logits(z, y, Reduction::None);
    // Right answers cost nothing; wrong ones cost |z|.
    assert_eq!(&*losses.values(), &[0.0, 0.0, 1000.0, 1000.0]);
    assert_eq!(tape.backward(losses.sum()).wrt_slice(z), &[0.0, 0.0, 1.0, -1.0]);
}

#[test]
fn mean_is_the_default_reduction_as_in_pytorch() {
    assert_eq!(Reduction::default(), Reduction::Mean);
}

#[test]
#[should_panic(expected = "mse: input [3 x 1] and target [3] differ in shape")]
fn mse_refuses_a_broadcast() {
    let tape = Tape::<f64>::new();
    let p = tape.var(&Tensor::zeros(Shape::matrix(3, 1)));
    mse(p, tape.constant(&Tensor::zeros(Shape::vector(3))), Reduction::Mean);
}

#[test]
#[should_panic(expected = "bce_with_logits: input [2 x 2] and target [4] differ in shape")]
fn bce_with_logits_refuses_a_broadcast() {
    let tape = Tape::<f64>::new();
    let z = tape.var(&Tensor::zeros(Shape::matrix(2, 2)));
    bce_with_logits(z, tape.constant(&Tensor::zeros(Shape::vector(4))), Reduction::Sum);
}
