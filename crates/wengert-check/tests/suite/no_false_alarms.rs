//! The toolkit does not cry wolf: over 4,000 random f64 cases per op family (shapes 1x1 to
//! 4x4, non-square included), correct gradients never fail the default check, whether they
//! come from the tape (target 1) or are hand-written (target 2, the rules of
//! `tests/common`). Families: the product and quotient rules, sigmoid, tanh, relu, softplus,
//! softmax, matmul, add_bias, softmax cross-entropy, mse, sum and mean (F2-F6, F11, F14-F16).

use crate::common;

use crate::common::{family, Family};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::atomic::{AtomicUsize, Ordering};
use wengert_check::GradCheck;

/// Cases per family (at least 1,000 asked). Each case runs two checks of 2 to 48 elements,
/// some tens of microseconds: the 13 families take about a second at opt-level 1.
const CASES: u32 = 4000;

/// Runs `CASES` random cases of a family through both targets; panics with the report of
/// the smallest case that fails.
fn never_cries_wolf(family: &Family) {
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let counter = AtomicUsize::new(0);
    let result = runner.run(&(family.inputs)(), |x| {
        counter.fetch_add(1, Ordering::Relaxed);
        let on_tape = GradCheck::new().tape(family.on_tape, &x)?;
        let by_hand = GradCheck::new().hand_written(family.loss, family.gradient, &x)?;
        // Both targets check the same function.
        prop_assert!(
            (on_tape.value - by_hand.value).abs() <= 1e-12 * on_tape.value.abs().max(1.0),
            "{}: tape {} and hand-written {} values differ at {x:?}",
            family.name,
            on_tape.value,
            by_hand.value
        );
        Ok(())
    });
    if let Err(error) = result {
        panic!("{}: a correct gradient failed: {error}", family.name);
    }
    assert_eq!(counter.load(Ordering::Relaxed), CASES as usize, "{}: not every case ran", family.name);
}

macro_rules! no_false_alarms {
    ($($test:ident: $family:literal,)*) => {
        $(
            #[test]
            fn $test() {
                never_cries_wolf(family($family));
            }
        )*
    };
}

no_false_alarms! {
    correct_product_rule_never_fails: "mul",
    correct_quotient_rule_never_fails: "div",
    correct_sigmoid_gradient_never_fails: "sigmoid",
    correct_tanh_gradient_never_fails: "tanh",
    correct_relu_gradient_never_fails_off_the_kink: "relu",
    correct_softplus_gradient_never_fails: "softplus",
    correct_softmax_gradient_never_fails: "softmax",
    correct_matmul_gradients_never_fail: "matmul",
    correct_add_bias_gradients_never_fail: "add_bias",
    correct_softmax_cross_entropy_gradient_never_fails: "softmax_cross_entropy",
    correct_mse_gradients_never_fail: "mse",
    correct_sum_gradient_never_fails: "sum",
    correct_mean_gradient_never_fails: "mean",
}

#[test]
fn every_family_is_checked_here() {
    assert_eq!(common::FAMILIES.len(), 13);
}
