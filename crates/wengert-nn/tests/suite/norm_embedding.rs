//! LayerNorm, Embedding and the per-sample softmax cross-entropy against formulas written out
//! here and central differences.

use proptest::collection::vec;
use proptest::prelude::*;
use rand::SeedableRng;
use wengert_nn::loss::{softmax_cross_entropy, Reduction};
use wengert_nn::{Embedding, LayerNorm, LayerNormVars};
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Shape, Tape, Tensor};

/// `(x - mean) / sqrt(var + eps) * gamma + beta` per row, with plain loops.
fn layer_norm_by_hand(x: &[f64], d: usize, gamma: &[f64], beta: &[f64], eps: f64) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d as f64;
            row.iter()
                .enumerate()
                .map(move |(j, v)| (v - mean) / (var + eps).sqrt() * gamma[j] + beta[j])
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn layer_norm_matches_its_formula_and_central_differences(
        (n, d, x, gamma, beta) in (1..=4usize, 2..=5usize).prop_flat_map(|(n, d)| {
            (Just(n), Just(d), vec(-3.0..3.0f64, n * d), vec(0.5..2.0f64, d), vec(-1.0..1.0f64, d))
        }),
    ) {
        let mut norm = LayerNorm::<f64>::new(d, 1e-3);
        norm.gamma = Tensor::from_slice(&gamma);
        norm.beta = Tensor::from_slice(&beta);
        let tape = Tape::new();
        let vars = norm.vars(&tape);
        let y = vars.forward(tape.constant(&Tensor::new(Shape::matrix(n, d), x.clone())));
        let want = layer_norm_by_hand(&x, d, &gamma, &beta, 1e-3);
        for (got, want) in y.values().iter().zip(&want) {
            prop_assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // The gradient with respect to x, gamma and beta, under a contraction that gives every
        // output its own upstream.
        let weights = Tensor::from_fn(Shape::matrix(n, d), |i| 0.5 + (i % 3) as f64 * 0.7);
        let report = check_gradients(
            |tape, v| {
                let out = LayerNormVars { gamma: v[1], beta: v[2], eps: 1e-3 }.forward(v[0]);
                (out * tape.constant(&weights)).sum()
            },
            &[Tensor::new(Shape::matrix(n, d), x.clone()), Tensor::from_slice(&gamma), Tensor::from_slice(&beta)],
        );
        prop_assert!(report.passes(Tolerance::default()), "{report}");
    }

    #[test]
    fn per_sample_cross_entropy_is_logsumexp_minus_the_labelled_logit(
        (n, c, z, labels) in (1..=4usize, 2..=5usize).prop_flat_map(|(n, c)| {
            (Just(n), Just(c), vec(-5.0..5.0f64, n * c), vec(0..c, n))
        }),
    ) {
        let tape = Tape::<f64>::new();
        let logits = tape.var(&Tensor::new(Shape::matrix(n, c), z.clone()));
        let per_sample = softmax_cross_entropy(logits, &labels, Reduction::None);
        for (r, got) in per_sample.values().iter().enumerate() {
            let row = &z[r * c..(r + 1) * c];
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            prop_assert!((got - (lse - row[labels[r]])).abs() < 1e-12);
        }
        let mean = softmax_cross_entropy(logits, &labels, Reduction::Mean);
        let fused = logits.softmax_cross_entropy(&labels);
        prop_assert!((mean.value() - fused.value()).abs() < 1e-12);
        let sum = softmax_cross_entropy(logits, &labels, Reduction::Sum);
        let grads = tape.backward(sum);
        // d/dz of the sum: softmax(z_n) - onehot(k_n) per row, with no 1/N.
        for r in 0..n {
            let row = &z[r * c..(r + 1) * c];
            let total: f64 = row.iter().map(|v| v.exp()).sum();
            for (j, v) in row.iter().enumerate() {
                let want = v.exp() / total - if j == labels[r] { 1.0 } else { 0.0 };
                prop_assert!((grads.wrt_slice(logits)[r * c + j] - want).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn layer_norm_rows_have_zero_mean_and_unit_variance_before_the_affine() {
    let norm = LayerNorm::<f32>::new(4, 1e-5);
    let tape = Tape::new();
    let y = norm
        .vars(&tape)
        .forward(tape.constant(&Tensor::from_rows(&[[1.0, -2.0, 3.5, 0.0], [100.0, 101.0, 99.0, 100.0]])));
    for row in y.values().chunks(4) {
        let mean = row.iter().sum::<f32>() / 4.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "mean {mean}, var {var}");
    }
}

#[test]
fn embedding_rows_are_the_table_rows_and_repeats_accumulate() {
    let embedding = Embedding::<f64>::new(4, 3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
    let tape = Tape::new();
    let table = embedding.vars(&tape);
    let rows = Embedding::lookup(table, &[2, 0, 2, 2]);
    assert_eq!(&rows.values()[..3], &embedding.table.data()[6..9]);
    let weights = tape.constant(&Tensor::from_rows(&[[1.0, 2.0, 3.0]]));
    let grads = tape.backward((rows * weights).sum());
    assert_eq!(&grads.wrt_slice(table)[6..9], &[3.0, 6.0, 9.0]);
    assert_eq!(&grads.wrt_slice(table)[0..3], &[1.0, 2.0, 3.0]);
    assert_eq!(&grads.wrt_slice(table)[3..6], &[0.0; 3]);
}

#[test]
#[should_panic(expected = "gather_rows")]
fn embedding_index_past_the_vocabulary_panics_naming_the_op() {
    let embedding = Embedding::<f64>::new(4, 3, &mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
    let tape = Tape::new();
    let _ = Embedding::lookup(embedding.vars(&tape), &[4]);
}
