//! Custom ops, detach and no-grad: a user's op with its own vector-Jacobian rule takes part
//! in the sweep like a built-in and passes the gradient check; a wrong rule fails it;
//! detached values and values computed under `no_grad` let no gradient through.

use proptest::prelude::*;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{CustomOp, Shape, Tape, Tensor};

/// Huber loss of a residual r, elementwise, summed: r^2 / 2 for |r| <= delta, and
/// delta (|r| - delta / 2) beyond; derivative r clipped to [-delta, delta].
struct Huber {
    delta: f64,
}

impl CustomOp<f64> for Huber {
    fn name(&self) -> &'static str {
        "huber"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs {
            [_] => Ok(Shape::scalar()),
            _ => Err(format!("takes one input, got {}", inputs.len())),
        }
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        output[0] = inputs[0]
            .iter()
            .map(|&r| if r.abs() <= self.delta { 0.5 * r * r } else { self.delta * (r.abs() - 0.5 * self.delta) })
            .sum();
    }
    fn vjp(&self, _input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for (a, &r) in adjoint.iter_mut().zip(inputs[0]) {
            *a += upstream[0] * r.clamp(-self.delta, self.delta);
        }
    }
}

/// `a * b` elementwise with its two-input rule, optionally wrong (b's rule uses b).
struct Product {
    wrong: bool,
}

impl CustomOp<f64> for Product {
    fn name(&self) -> &'static str {
        "product"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs {
            [a, b] if a == b => Ok(*a),
            _ => Err("needs two inputs of one shape".to_string()),
        }
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for ((y, &a), &b) in output.iter_mut().zip(inputs[0]).zip(inputs[1]) {
            *y = a * b;
        }
    }
    fn vjp(&self, input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        let other = if self.wrong { inputs[input] } else { inputs[1 - input] };
        for ((a, &g), &o) in adjoint.iter_mut().zip(upstream).zip(other) {
            *a += g * o;
        }
    }
}

/// `a b + c` elementwise: three inputs, more than a node keeps inline.
struct MultiplyAdd;

impl CustomOp<f64> for MultiplyAdd {
    fn name(&self) -> &'static str {
        "multiply_add"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs {
            [a, b, c] if a == b && b == c => Ok(*a),
            _ => Err("needs three inputs of one shape".to_string()),
        }
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for (i, y) in output.iter_mut().enumerate() {
            *y = inputs[0][i] * inputs[1][i] + inputs[2][i];
        }
    }
    /// d/da = b, d/db = a, d/dc = 1.
    fn vjp(&self, input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for (i, (a, &g)) in adjoint.iter_mut().zip(upstream).enumerate() {
            *a += g * match input {
                0 => inputs[1][i],
                1 => inputs[0][i],
                _ => 1.0,
            };
        }
    }
}

fn residuals() -> impl Strategy<Value = Vec<f64>> {
    // Kept 1e-3 away from the kinks at +/-delta (delta = 1), where a central difference
    // straddles two pieces.
    prop::collection::vec((-4.0..4.0f64).prop_filter("off the kink", |r: &f64| (r.abs() - 1.0).abs() > 1e-3), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn huber_custom_op_passes_the_gradient_check(r in residuals()) {
        let report = check_gradients(|tape, v| tape.custom(Huber { delta: 1.0 }, &[v[0]]) * 3.0, &[Tensor::from_slice(&r)]);
        prop_assert!(report.passes(Tolerance::default()), "{report}");
    }

    #[test]
    fn custom_op_with_two_inputs_and_reuse_passes(a in prop::collection::vec(-3.0..3.0f64, 1..6)) {
        let b: Vec<f64> = a.iter().map(|x| x * 0.5 - 1.0).collect();
        // The same node as both inputs (x * x) and a custom node feeding a built-in one.
        let report = check_gradients(
            |tape, v| (tape.custom(Product { wrong: false }, &[v[0], v[1]]) + tape.custom(Product { wrong: false }, &[v[0], v[0]])).tanh().sum(),
            &[Tensor::from_slice(&a), Tensor::from_slice(&b)],
        );
        prop_assert!(report.passes(Tolerance::default()), "{report}");
    }
}

#[test]
fn custom_op_with_three_inputs_gets_each_its_own_gradient() {
    let mut tape = Tape::<f64>::new();
    for round in 0..2 {
        // Twice, with a clear between, so that the inputs kept outside the nodes are reset too.
        let (a, b, c) = (tape.var(2.0 + f64::from(round)), tape.var(-3.0), tape.var(0.5));
        let unused = tape.custom(MultiplyAdd, &[c, c, c]);
        let y = tape.custom(MultiplyAdd, &[a, b, c]);
        let loss = y * y;
        let grads = tape.backward(loss);
        // loss = (a b + c)^2: d/da = 2 y b, d/db = 2 y a, d/dc = 2 y.
        let value = (2.0 + f64::from(round)) * -3.0 + 0.5;
        assert_eq!(y.value(), value);
        assert_eq!(grads.wrt(a), 2.0 * value * -3.0);
        assert_eq!(grads.wrt(b), 2.0 * value * (2.0 + f64::from(round)));
        assert_eq!(grads.wrt(c), 2.0 * value);
        assert_eq!(grads.wrt(unused), 0.0, "recorded before the output but not on its path");
        let dot = tape.to_dot();
        for position in 0..3 {
            assert!(dot.contains(&format!("label=\"{position}\"")), "input {position} missing in\n{dot}");
        }
        drop(grads);
        tape.clear();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn custom_op_with_three_inputs_passes_the_gradient_check(a in prop::collection::vec(-3.0..3.0f64, 1..6)) {
        let b: Vec<f64> = a.iter().map(|x| 1.0 - x).collect();
        let c: Vec<f64> = a.iter().map(|x| x * x - 0.5).collect();
        let report = check_gradients(
            |tape, v| tape.custom(MultiplyAdd, &[v[0], v[1], v[2]]).tanh().sum(),
            &[Tensor::from_slice(&a), Tensor::from_slice(&b), Tensor::from_slice(&c)],
        );
        prop_assert!(report.passes(Tolerance::default()), "{report}");
    }
}

#[test]
fn wrong_custom_rule_fails_the_gradient_check() {
    let inputs = [Tensor::from_slice(&[0.5, -1.5]), Tensor::from_slice(&[2.0, 0.25])];
    let report = check_gradients(|tape, v| tape.custom(Product { wrong: true }, &[v[0], v[1]]).sum(), &inputs);
    assert!(!report.passes(Tolerance::default()), "{report}");
    // d(sum a b)/da = b = [2, 0.25]; the wrong rule says a = [0.5, -1.5].
    assert_eq!(report.analytic[0].data(), &[0.5, -1.5]);
}

#[test]
fn custom_node_is_named_after_the_op() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_slice(&[0.5, 2.0]));
    let loss = tape.custom(Huber { delta: 1.0 }, &[x]);
    assert_eq!(loss.op_name(), "huber");
    // 0.5^2 / 2 + 1 * (2 - 0.5) = 0.125 + 1.5.
    assert_eq!(loss.value(), 1.625);
    assert_eq!(tape.backward(loss).wrt_slice(x), &[0.5, 1.0]);
}

#[test]
#[should_panic(expected = "product: inputs [[2], [3]]: needs two inputs of one shape")]
fn custom_op_shape_refusal_panics_naming_op_and_shapes() {
    let tape = Tape::<f64>::new();
    let (a, b) = (tape.var(&Tensor::from_slice(&[1.0, 2.0])), tape.var(&Tensor::from_slice(&[1.0, 2.0, 3.0])));
    tape.custom(Product { wrong: false }, &[a, b]);
}

#[test]
fn detach_stops_the_gradient_but_keeps_the_value() {
    let tape = Tape::<f64>::new();
    let x = tape.var(3.0);
    let frozen = (x * x).detach();
    assert_eq!(frozen.value(), 9.0);
    assert!(!frozen.requires_grad());
    // d/dx (x * c) with c = x^2 held constant is c = 9, not 3 x^2 = 27.
    assert_eq!(tape.backward(x * frozen).wrt(x), 9.0);
}

#[test]
fn no_grad_records_values_without_adjoints_and_restores_itself() {
    let tape = Tape::<f64>::new();
    let w = tape.var(2.0);
    let (inside, leaf_inside) = tape.no_grad(|| (w.exp(), tape.var(1.0)));
    assert!(!inside.requires_grad());
    assert!(leaf_inside.requires_grad(), "a leaf made with var stays trainable");
    assert_eq!(inside.value(), 2f64.exp());
    let after = w * 3.0;
    assert!(after.requires_grad(), "recording is back on after the scope");
    let grads = tape.backward(after + inside * w);
    assert_eq!(grads.wrt(w), 3.0 + 2f64.exp());
    assert!(grads.get(inside).is_none());
}

#[test]
fn no_grad_restores_after_a_panic_and_nests() {
    let tape = Tape::<f64>::new();
    let w = tape.var(1.0);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tape.no_grad(|| panic!("inside"))));
    assert!(caught.is_err());
    assert!((w * 2.0).requires_grad());
    let nested = tape.no_grad(|| tape.no_grad(|| w + 1.0) + w);
    assert!(!nested.requires_grad());
    assert!((w * 2.0).requires_grad());
}

#[test]
fn intermediate_gradients_are_kept_by_default() {
    let tape = Tape::<f64>::new();
    let x = tape.var(2.0);
    let h = x.tanh();
    let y = h * h;
    let grads = tape.backward(y);
    // dy/dh = 2h, read from the intermediate node without asking for it in advance.
    assert_eq!(grads.wrt(h), 2.0 * 2f64.tanh());
}

#[test]
fn a_long_tape_after_custom_nodes_sweeps_through_them() {
    // The sweep looks ahead at the nodes it will meet (to prefetch their inputs); a custom
    // node's stored slots are not inputs, and must not be read as such.
    let tape = Tape::<f64>::new();
    let (a, b, c) = (tape.var(1.5), tape.var(2.0), tape.var(-1.0));
    let mut y = tape.custom(MultiplyAdd, &[a, b, c]);
    for _ in 0..200 {
        y = tape.custom(MultiplyAdd, &[y, b, c]) * 0.5;
    }
    let grads = tape.backward(y);
    // y_{k+1} = (2 y_k - 1) / 2 = y_k - 1/2: dy/da = b = 2 after any number of steps.
    assert_eq!(grads.wrt(a), 2.0);
}
