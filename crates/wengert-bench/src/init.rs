//! The deterministic start shared with the reference scripts: SplitMix64 streams.
//!
//! Value `i` (0-based) of stream `seed` is `mix(seed * 0xD1B54A32D192ED03 + (i + 1) *
//! 0x9E3779B97F4A7C15)` with wrapping arithmetic, so any element can be computed alone.

use wengert_tape::{Shape, Tensor};

/// SplitMix64's output function.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// Value `i` of stream `seed`.
pub fn value(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_mul(0xD1B54A32D192ED03).wrapping_add((i + 1).wrapping_mul(0x9E3779B97F4A7C15)))
}

/// A uniform `[0, 1)` f32 from value `i` of stream `seed`: the top 24 bits over 2^24.
pub fn uniform(seed: u64, i: u64) -> f32 {
    (value(seed, i) >> 40) as f32 / 16_777_216.0
}

/// Layer `l` of an MLP: weights `[fan_in x fan_out]` from stream `10 + 2l`, bias `[fan_out]`
/// from stream `11 + 2l`, each `(2u - 1) / sqrt(fan_in)` computed in f32.
pub fn layer(l: usize, fan_in: usize, fan_out: usize) -> (Tensor<f32>, Tensor<f32>) {
    let scale = (fan_in as f32).sqrt();
    let draw = |seed: u64| move |i: usize| (2.0 * uniform(seed, i as u64) - 1.0) / scale;
    let w = Tensor::from_fn(Shape::matrix(fan_in, fan_out), draw(10 + 2 * l as u64));
    let b = Tensor::from_fn(Shape::vector(fan_out), draw(11 + 2 * l as u64));
    (w, b)
}

/// Convolution `l`: filters `[outputs x inputs x k x k]` from stream `30 + 2l`, bias
/// `[outputs]` from stream `31 + 2l`, each `(2u - 1) / sqrt(inputs k k)` computed in f32.
pub fn conv(l: usize, inputs: usize, outputs: usize, k: usize) -> (Tensor<f32>, Tensor<f32>) {
    let scale = ((inputs * k * k) as f32).sqrt();
    let draw = |seed: u64| move |i: usize| (2.0 * uniform(seed, i as u64) - 1.0) / scale;
    let w = Tensor::from_fn(Shape::new(&[outputs, inputs, k, k]), draw(30 + 2 * l as u64));
    let b = Tensor::from_fn(Shape::vector(outputs), draw(31 + 2 * l as u64));
    (w, b)
}

/// A tensor of `shape`, uniform `[-1, 1)` from stream `seed`.
pub fn signed(shape: Shape, seed: u64) -> Tensor<f32> {
    Tensor::from_fn(shape, |i| 2.0 * uniform(seed, i as u64) - 1.0)
}

/// The input batch `[batch x width]`, uniform `[0, 1)` from stream 1.
pub fn inputs(batch: usize, width: usize) -> Tensor<f32> {
    Tensor::from_fn(Shape::matrix(batch, width), |i| uniform(1, i as u64))
}

/// `batch` labels in 0..10: `(value >> 33) % 10` from stream 2.
pub fn labels(batch: usize) -> Vec<usize> {
    (0..batch as u64).map(|i| ((value(2, i) >> 33) % 10) as usize).collect()
}

/// Rosenbrock's start: `x_i = 2u - 1` from stream 3 (computed in f32, used in f64).
pub fn rosenbrock_start(n: usize) -> Vec<f64> {
    (0..n as u64).map(|i| f64::from(2.0 * uniform(3, i) - 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Stream 0 is SplitMix64 seeded with 0: its first outputs are well known.
        assert_eq!(value(0, 0), 0xE220A8397B1DCDAF);
        assert_eq!(value(0, 1), 0x6E789E6AA1B965F4);
        assert_eq!(value(0, 2), 0x06C45D188009454F);
    }

    #[test]
    fn uniforms_stay_in_the_unit_interval_and_labels_below_ten() {
        assert!((0..1000).all(|i| (0.0..1.0).contains(&uniform(1, i))));
        assert!(labels(1000).iter().all(|&l| l < 10));
    }
}
