//! How the registry-driven property suites (`registry.rs`, `second_order.rs`) draw a probed
//! op's cases: shapes, broadcast pairings, values in the op's domain, contraction weights.

use proptest::prelude::*;
use wengert_tape::registry::{Domain, Probe};
use wengert_tape::{Real, Shape, Tensor};

/// The shapes of a broadcasting op's second input tried against `[m x n]`, and on the other
/// side the same: a scalar, a row as `[n]` and as `[1 x n]`, a column `[m x 1]`, and `[m x n]`.
pub fn broadcast_partners(m: usize, n: usize) -> Vec<Shape> {
    vec![Shape::scalar(), Shape::vector(n), Shape::matrix(1, n), Shape::matrix(m, 1), Shape::matrix(m, n)]
}

/// One case: the inputs' shapes for random sides (each 1 to `max_side`) (for a broadcasting op, one of its pairings,
/// the smaller shape on either side), the lattice positions of their values, and a seed for
/// the contraction weights.
pub fn case(probe: Probe, max_side: usize) -> impl Strategy<Value = (Vec<Shape>, Vec<u32>, u64)> {
    (1..=max_side, 1..=max_side, 0..5usize, any::<bool>(), any::<u64>()).prop_flat_map(
        move |(m, n, partner, swap, seed)| {
            let mut shapes = (probe.shapes)(m, n);
            if probe.broadcasts {
                shapes[1] = broadcast_partners(m, n)[partner];
                if swap {
                    shapes.swap(0, 1);
                }
            }
            let count: usize = shapes.iter().map(|s| s.numel()).sum();
            (Just(shapes), proptest::collection::vec(any::<u32>(), count), Just(seed))
        },
    )
}

/// A value of `domain` for input `input` from a random `draw`: uniform over `lo..hi`, moved off
/// any kink; with `apart`, on a lattice of step `2 margin` shifted by `margin` per input, so
/// that two inputs never come within `margin` of each other.
pub fn value_in(domain: &Domain, input: usize, draw: u32) -> f64 {
    let unit = f64::from(draw) / f64::from(u32::MAX);
    if domain.apart {
        let step = 2.0 * domain.margin;
        let slots = ((domain.hi - domain.lo) / step).floor() - 1.0;
        return domain.lo + (unit * slots).floor() * step + input as f64 * domain.margin;
    }
    let mut x = domain.lo + unit * (domain.hi - domain.lo);
    for &kink in domain.kinks {
        if (x - kink).abs() < domain.margin {
            x = kink + if x >= kink { domain.margin } else { -domain.margin };
        }
    }
    x
}

/// Fixed weights that differ per element (`|w|` in `0.5..2`, signs mixed), from `seed`.
pub fn weights<T: Real>(shape: Shape, seed: u64) -> Tensor<T> {
    Tensor::from_fn(shape, |i| {
        let h = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let magnitude = 0.5 + 1.5 * ((h >> 11) as f64 / (1u64 << 53) as f64);
        T::lit(if h & 1 == 0 { magnitude } else { -magnitude })
    })
}
