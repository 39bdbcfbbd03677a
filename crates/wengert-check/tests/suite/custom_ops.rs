//! Target (3): a custom op's vector-Jacobian rule, checked against finite differences of its
//! forward function; a correct rule passes on random inputs, wrong rules are caught, including
//! one that is right only for an all-ones upstream.

use proptest::prelude::*;
use wengert_check::GradCheck;
use wengert_tape::{CustomOp, Shape, Tensor};

/// Which rule the op's `vjp` applies.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// d(x * softplus(y)) = (softplus(y), x sigmoid(y)).
    Right,
    /// Takes d/dy as x softplus(y): the classic F4 slip of sigmoid for softplus reversed.
    WrongSecondInput,
    /// Ignores the upstream: right only when every upstream element is 1.
    IgnoresUpstream,
}

/// `x * softplus(y)`, elementwise, two inputs of one shape.
#[derive(Clone)]
struct GatedSoftplus(Rule);

fn softplus(y: f64) -> f64 {
    y.max(0.0) + (-y.abs()).exp().ln_1p()
}

fn sigmoid(y: f64) -> f64 {
    1.0 / (1.0 + (-y).exp())
}

impl CustomOp<f64> for GatedSoftplus {
    fn name(&self) -> &'static str {
        "gated_softplus"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs {
            [x, y] if x == y => Ok(*x),
            _ => Err("needs two inputs of one shape".to_string()),
        }
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for ((o, &x), &y) in output.iter_mut().zip(inputs[0]).zip(inputs[1]) {
            *o = x * softplus(y);
        }
    }
    fn vjp(&self, input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for (i, a) in adjoint.iter_mut().enumerate() {
            let (x, y) = (inputs[0][i], inputs[1][i]);
            let g = if self.0 == Rule::IgnoresUpstream { 1.0 } else { upstream[i] };
            let local = match (input, self.0) {
                (0, _) => softplus(y),
                (_, Rule::WrongSecondInput) => x * softplus(y),
                _ => x * sigmoid(y),
            };
            *a += g * local;
        }
    }
}

fn pair() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (1..6usize).prop_flat_map(|n| (prop::collection::vec(-3.0..3.0f64, n), prop::collection::vec(-5.0..5.0f64, n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn correct_custom_rule_passes((x, y) in pair()) {
        let inputs = [Tensor::from_slice(&x), Tensor::from_slice(&y)];
        let result = GradCheck::new().custom_op(&GatedSoftplus(Rule::Right), &inputs);
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

#[test]
fn wrong_rule_for_the_second_input_is_caught_there_only() {
    let inputs = [Tensor::from_slice(&[0.5, -1.5, 2.0]), Tensor::from_slice(&[1.0, -0.5, 0.25])];
    let failure = GradCheck::new().custom_op(&GatedSoftplus(Rule::WrongSecondInput), &inputs).unwrap_err();
    let text = failure.to_string();
    assert!(text.contains("input 1"), "{text}");
    assert!(!text.contains("WRONG GRADIENT at input 0"), "{text}");
}

#[test]
fn rule_that_ignores_the_upstream_is_caught() {
    // With a plain sum every upstream element is 1 and this rule would pass; the check's
    // element-wise weights expose it.
    let inputs = [Tensor::from_slice(&[0.5, -1.5, 2.0]), Tensor::from_slice(&[1.0, -0.5, 0.25])];
    assert!(GradCheck::new().custom_op(&GatedSoftplus(Rule::IgnoresUpstream), &inputs).is_err());
    let summed = GradCheck::new().tape(|tape, v| tape.custom(GatedSoftplus(Rule::IgnoresUpstream), v).sum(), &inputs);
    assert!(summed.is_ok(), "a plain sum cannot see this bug, which is why custom_op weights the output");
}
