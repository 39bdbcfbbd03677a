//! Dropout: its expectation, evaluation and p = 0 as the identity, the gradient as the
//! mask, reproducible seeds, and bad probabilities refused.

use rand::{Rng, SeedableRng};
use wengert_nn::{Dropout, DropoutError};
use wengert_tape::{Shape, Tape, Tensor};

/// Inputs of varied sizes and signs, never zero.
fn input(rows: usize, cols: usize, seed: u64) -> Tensor<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Tensor::from_fn(Shape::matrix(rows, cols), |_| {
        let magnitude = rng.random_range(0.5..3.0);
        if rng.random::<bool>() {
            magnitude
        } else {
            -magnitude
        }
    })
}

#[test]
fn the_output_s_mean_is_the_input_s_in_expectation() {
    // Element i of the output is x_i B_i / (1 - p) with B_i ~ Bernoulli(1 - p): mean x_i,
    // variance x_i^2 p / (1 - p). The sum's deviation from sum x_i is then within 5 of its
    // standard deviations sqrt(sum x_i^2 p / (1 - p)) but with probability 6e-7 (normal
    // approximation; n = 40,000 terms), and the dropped fraction within 5 of
    // sqrt(p (1 - p) / n) of p. The seed is fixed, so the test is deterministic; the bound
    // says it was not tuned to the seed.
    let x = input(200, 200, 1);
    let n = x.len() as f64;
    for (k, p) in [0.1, 0.5, 0.9].into_iter().enumerate() {
        let mut dropout = Dropout::new(p, 100 + k as u64).expect("valid p");
        let tape = Tape::new();
        let y = dropout.forward(tape.constant(&x));
        let (input_sum, output_sum): (f64, f64) = (x.data().iter().sum(), y.values().iter().sum());
        let variance: f64 = x.data().iter().map(|v| v * v * p / (1.0 - p)).sum();
        let deviation = (output_sum - input_sum).abs();
        assert!(deviation <= 5.0 * variance.sqrt(), "p = {p}: sum off by {deviation}, sd {}", variance.sqrt());
        let dropped = y.values().iter().filter(|&&v| v == 0.0).count() as f64 / n;
        assert!((dropped - p).abs() <= 5.0 * (p * (1.0 - p) / n).sqrt(), "p = {p}: dropped {dropped}");
    }
}

#[test]
fn evaluation_is_the_identity_exactly() {
    let x = input(7, 5, 2);
    let mut dropout = Dropout::new(0.5, 3).expect("valid p");
    dropout.eval();
    let tape = Tape::new();
    let leaf = tape.var(&x);
    let y = dropout.forward(leaf);
    assert_eq!(y.index(), leaf.index(), "evaluation records no node");
    assert_eq!(y.to_tensor(), x);
    assert_eq!(tape.backward(y.sum()).wrt_slice(leaf), &[1.0; 35]);
    dropout.train();
    assert_ne!(dropout.forward(leaf).to_tensor(), x, "back in training it drops");
}

#[test]
fn zero_probability_is_the_identity_in_training() {
    let x = input(4, 9, 4);
    let mut dropout = Dropout::new(0.0, 5).expect("valid p");
    assert!(dropout.is_training());
    let tape = Tape::new();
    let leaf = tape.var(&x);
    for _ in 0..3 {
        let y = dropout.forward(leaf);
        assert_eq!(y.index(), leaf.index());
        assert_eq!(y.to_tensor(), x);
    }
}

#[test]
fn the_gradient_is_the_mask_over_one_minus_p_exactly() {
    for p in [0.2, 0.5, 0.75] {
        let x = input(16, 12, 6);
        let upstream = input(16, 12, 7);
        let mut dropout = Dropout::new(p, 8).expect("valid p");
        let tape = Tape::new();
        let leaf = tape.var(&x);
        let y = dropout.forward(leaf);
        let gradient = tape.backward((y * tape.constant(&upstream)).sum()).wrt_slice(leaf).to_vec();
        let scale = 1.0 / (1.0 - p);
        let (mut kept, mut dropped) = (0, 0);
        let outputs = y.to_tensor();
        for (i, &gi) in gradient.iter().enumerate() {
            // Kept: the output is x scaled and the gradient the upstream one scaled.
            let (xi, yi, ui) = (x.data()[i], outputs.data()[i], upstream.data()[i]);
            if yi == 0.0 {
                assert_eq!(gi, 0.0, "p = {p}, element {i}: dropped, yet gradient {gi}");
                dropped += 1;
            } else {
                assert_eq!(yi, xi * scale, "p = {p}, element {i}");
                assert_eq!(gi, ui * scale, "p = {p}, element {i}");
                kept += 1;
            }
            assert_eq!(dropout.mask()[i], if yi == 0.0 { 0.0 } else { scale });
        }
        assert!(kept > 0 && dropped > 0, "p = {p}: {kept} kept, {dropped} dropped");
    }
}

/// The masks of `calls` successive calls on a [4 x 8] input.
fn masks(dropout: &mut Dropout<f32>, calls: usize) -> Vec<Vec<f32>> {
    let tape = Tape::new();
    let x = tape.constant(&Tensor::from_fn(Shape::matrix(4, 8), |_| 1.0_f32));
    (0..calls)
        .map(|_| {
            dropout.forward(x);
            dropout.mask().to_vec()
        })
        .collect()
}

#[test]
fn a_seed_reproduces_its_masks_and_each_call_draws_anew() {
    let first = masks(&mut Dropout::new(0.5, 42).expect("valid p"), 3);
    assert_eq!(masks(&mut Dropout::new(0.5, 42).expect("valid p"), 3), first);
    assert_ne!(first[0], first[1]);
    assert_ne!(first[1], first[2]);
    assert_ne!(masks(&mut Dropout::new(0.5, 43).expect("valid p"), 3), first);
    // Reseeding starts the sequence again; another stream is another sequence.
    let mut dropout = Dropout::new(0.5, 1).expect("valid p");
    dropout.reseed(42, 0);
    assert_eq!(masks(&mut dropout, 3), first);
    dropout.reseed(42, 1);
    assert_ne!(masks(&mut dropout, 3), first);
}

#[test]
fn probabilities_outside_zero_to_one_are_refused() {
    for p in [-0.1, 1.0, 1.5, f64::INFINITY, 0.0_f64.next_down()] {
        assert_eq!(Dropout::<f64>::new(p, 0).unwrap_err(), DropoutError { p });
    }
    let error = Dropout::<f64>::new(f64::NAN, 0).unwrap_err();
    assert!(error.p.is_nan());
    assert_eq!(error.to_string(), "dropout probability NaN is outside [0, 1)");
    assert_eq!(Dropout::<f64>::new(1.0, 0).unwrap_err().to_string(), "dropout probability 1 is outside [0, 1)");
    assert!(Dropout::<f64>::new(1.0_f64.next_down(), 0).is_ok());
}

#[test]
fn the_mask_buffer_keeps_its_allocation_from_call_to_call() {
    let mut dropout = Dropout::<f64>::new(0.5, 9).expect("valid p");
    let tape = Tape::new();
    let x = tape.constant(&Tensor::from_fn(Shape::matrix(8, 8), |_| 1.0));
    dropout.forward(x);
    let address = dropout.mask().as_ptr();
    for _ in 0..4 {
        dropout.forward(x);
        assert_eq!(dropout.mask().as_ptr(), address);
    }
}
