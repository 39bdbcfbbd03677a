//! Every op of the registry agrees with central finite differences (G2), on the probe its
//! descriptor declares: its input shapes for random sides, values drawn from its domain (kept
//! off its kinks, inputs kept apart where it has ties), and, for a broadcasting op, every
//! broadcast pairing of its two inputs. An op cannot exist without this check: its descriptor
//! must say how to probe it, or why it is exempt.
//!
//! A tensor output is contracted with fixed weights that differ per element, `sum(out (.) W)`,
//! so that every output element gets its own upstream, and every input also feeds a later
//! `0.5 sum(x)`, so that a rule that assigns instead of adding fails.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::registry::{self, Check, Domain, Probe};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// Cases per op in f64; each records a few small tapes, so every op's cases run in a fraction
/// of a second at opt-level 1.
const CASES: u32 = 128;
/// Cases per op in f32.
const F32_CASES: u32 = 32;

/// The shapes of a broadcasting op's second input tried against `[m x n]`, and on the other
/// side the same: a scalar, a row as `[n]` and as `[1 x n]`, a column `[m x 1]`, and `[m x n]`.
fn broadcast_partners(m: usize, n: usize) -> Vec<Shape> {
    vec![Shape::scalar(), Shape::vector(n), Shape::matrix(1, n), Shape::matrix(m, 1), Shape::matrix(m, n)]
}

/// One case: the inputs' shapes for random sides (for a broadcasting op, one of its pairings,
/// the smaller shape on either side), the lattice positions of their values, and a seed for
/// the contraction weights.
fn case(probe: Probe) -> impl Strategy<Value = (Vec<Shape>, Vec<u32>, u64)> {
    (1..=5usize, 1..=5usize, 0..5usize, any::<bool>(), any::<u64>()).prop_flat_map(
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
fn value_in(domain: &Domain, input: usize, draw: u32) -> f64 {
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
fn weights<T: Real>(shape: Shape, seed: u64) -> Tensor<T> {
    Tensor::from_fn(shape, |i| {
        let h = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let magnitude = 0.5 + 1.5 * ((h >> 11) as f64 / (1u64 << 53) as f64);
        T::lit(if h & 1 == 0 { magnitude } else { -magnitude })
    })
}

/// The inputs of a case, and the check of `apply` on them.
fn agrees<T: Real>(
    name: &str,
    domain: &Domain,
    apply: for<'t> fn(&[Var<'t, T>]) -> Var<'t, T>,
    (shapes, draws, seed): &(Vec<Shape>, Vec<u32>, u64),
) -> Result<(), TestCaseError> {
    let mut draws = draws.iter();
    let inputs: Vec<Tensor<T>> = shapes
        .iter()
        .enumerate()
        .map(|(k, &shape)| {
            let data = (0..shape.numel()).map(|_| T::lit(value_in(domain, k, *draws.next().unwrap()))).collect();
            Tensor::new(shape, data)
        })
        .collect();
    let report = check_gradients(
        |tape: &Tape<T>, v| {
            let out = apply(v);
            let contracted = (out * tape.constant(&weights(out.shape(), *seed))).sum();
            v.iter().fold(contracted, |total, &x| total + x.sum() * T::lit(0.5))
        },
        &inputs,
    );
    prop_assert!(
        report.passes(Tolerance::default()),
        "{name} ({}): tape gradient and central differences disagree\ninputs: {inputs:?}\n{report}",
        T::NAME
    );
    Ok(())
}

/// Runs `cases` cases of every probed op, in f64 or f32.
fn check_every_op<T: Real>(cases: u32, apply: impl Fn(&Probe) -> for<'t> fn(&[Var<'t, T>]) -> Var<'t, T>) {
    let mut checked = 0;
    for spec in registry::all() {
        let probe = match spec.check {
            Check::Probe(probe) => probe,
            Check::Exempt(why) => {
                assert!(!why.is_empty(), "{}: an exempt op says why", spec.name);
                continue;
            }
        };
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        let f = apply(&probe);
        if let Err(failure) = runner.run(&case(probe), |case| agrees(spec.name, &probe.domain, f, &case)) {
            panic!("{}: {failure}", spec.name);
        }
        checked += 1;
    }
    assert!(checked >= 28, "only {checked} ops were checked");
}

#[test]
fn every_op_of_the_registry_matches_central_differences() {
    check_every_op::<f64>(CASES, |probe| probe.apply_f64);
}

#[test]
fn every_op_of_the_registry_matches_central_differences_in_f32() {
    check_every_op::<f32>(F32_CASES, |probe| probe.apply_f32);
}

#[test]
fn every_op_is_probed_or_exempt_for_a_stated_reason() {
    let exempt: Vec<&str> =
        registry::all().filter(|spec| matches!(spec.check, Check::Exempt(_))).map(|spec| spec.name).collect();
    // Leaves, detach (no gradient flows) and the user's custom op: nothing else may opt out.
    assert_eq!(exempt, ["var", "constant", "detach", "custom"]);
}

#[test]
fn drawn_values_respect_the_domain() {
    let relu = registry::find("relu").expect("relu is registered");
    let Check::Probe(probe) = relu.check else { panic!("relu is probed") };
    for draw in [0, u32::MAX / 2, u32::MAX / 2 + 1, u32::MAX] {
        assert!(probe.domain.admits(value_in(&probe.domain, 0, draw)), "draw {draw}");
    }
    let apart = Domain::APART;
    for draw in (0..1000).map(|k| k * (u32::MAX / 1000)) {
        let (a, b) = (value_in(&apart, 0, draw), value_in(&apart, 1, draw.wrapping_mul(7)));
        assert!((a - b).abs() >= apart.margin * 0.999, "{a} and {b} are too close");
    }
}
