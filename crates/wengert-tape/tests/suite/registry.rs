//! Every op of the registry agrees with central finite differences (G2), on the probe its
//! descriptor declares: its input shapes for random sides, values drawn from its domain (kept
//! off its kinks, inputs kept apart where it has ties), and, for a broadcasting op, every
//! broadcast pairing of its two inputs. An op cannot exist without this check: its descriptor
//! must say how to probe it, or why it is exempt.
//!
//! A tensor output is contracted with fixed weights that differ per element, `sum(out (.) W)`,
//! so that every output element gets its own upstream, and every input also feeds a later
//! `0.5 sum(x)`, so that a rule that assigns instead of adding fails.

use crate::probing::{case, value_in, weights};
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
        if let Err(failure) = runner.run(&case(probe, 5), |case| agrees(spec.name, &probe.domain, f, &case)) {
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
