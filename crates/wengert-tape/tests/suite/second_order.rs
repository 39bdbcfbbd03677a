//! Derivatives of derivatives: `Tape::grad` against the numeric sweep, and its second
//! derivatives against central differences of the sweep's own gradient, for every op of the
//! registry on the probe its descriptor declares (as tests/registry.rs does for first
//! order); then the closed forms of the issue, the conventions at kinks, and the helpers
//! `hvp`, `hessian` and `jvp`.
//!
//! A probed op's function is `f(x) = sum(op(x) (.) W) + 0.5 sum(x)` with weights `W` that differ
//! per element, so that every output element gets its own upstream.

use crate::probing::{case, value_in, weights};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use wengert_tape::registry::{self, Check, Probe};
use wengert_tape::{CustomOp, Shape, Tape, Tensor, Var};

/// Cases per op: each records two tapes with their second-order walks and sweeps two more.
const CASES: u32 = 24;
/// The central-difference step along the direction v: at most `2 STEP` per element, far
/// inside every domain's margin from its kinks (values drawn by `probing::value_in`).
const STEP: f64 = 1e-5;

type Apply = for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>;

/// `sum(op(x) (.) W) + 0.5 sum(x)` on the tape.
fn objective<'t>(apply: Apply, tape: &'t Tape<f64>, inputs: &[Var<'t, f64>], seed: u64) -> Var<'t, f64> {
    let out = apply(inputs);
    let contracted = (out * tape.constant(&weights(out.shape(), seed))).sum();
    inputs.iter().fold(contracted, |total, &x| total + x.sum() * 0.5)
}

/// The sweep's gradient of the objective at `inputs`, every input's in turn.
fn swept_gradient(apply: Apply, inputs: &[Tensor<f64>], seed: u64) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let vars: Vec<_> = inputs.iter().map(|x| tape.var(x)).collect();
    let grads = tape.backward(objective(apply, &tape, &vars, seed));
    vars.iter().map(|&v| grads.wrt_slice(v).to_vec()).collect()
}

/// True if `a` and `b` agree to `tolerance` relative to the larger of their magnitude and
/// `scale`.
fn close(a: f64, b: f64, tolerance: f64, scale: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(scale)
}

/// Both checks of one case: (a) `grad`'s numbers equal the sweep's, and (b) the
/// Hessian-vector product by reverse over reverse equals central differences of the
/// sweep's gradient along v.
fn agrees(name: &str, probe: &Probe, (shapes, draws, seed): &(Vec<Shape>, Vec<u32>, u64)) -> Result<(), TestCaseError> {
    let apply = probe.apply_f64;
    let mut draws = draws.iter();
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(k, &shape)| Tensor::from_fn(shape, |_| value_in(&probe.domain, k, *draws.next().unwrap())))
        .collect();
    let directions: Vec<Tensor<f64>> =
        shapes.iter().enumerate().map(|(k, &shape)| weights(shape, seed.rotate_left(17 + k as u32))).collect();
    let swept = swept_gradient(apply, &inputs, *seed);

    let tape = Tape::new();
    let vars: Vec<_> = inputs.iter().map(|x| tape.var(x)).collect();
    let f = objective(apply, &tape, &vars, *seed);
    let gradient = tape.grad(f, &vars);
    for (k, (g, s)) in gradient.iter().zip(&swept).enumerate() {
        let g = g.values().to_vec();
        let scale = s.iter().fold(1e-300f64, |m, x| m.max(x.abs()));
        let same = g.iter().zip(s).all(|(&a, &b)| close(a, b, 1e-12, scale));
        prop_assert!(same, "{name}: input {k}: grad {g:?} differs from the sweep's {s:?}\ninputs: {inputs:?}");
    }

    let along = gradient
        .iter()
        .zip(&directions)
        .map(|(&g, v)| (g * tape.constant(v)).sum())
        .reduce(|a, b| a + b)
        .expect("an op has inputs");
    let hessian_times_v = tape.grad(along, &vars);

    let shifted = |sign: f64| -> Vec<Tensor<f64>> {
        inputs
            .iter()
            .zip(&directions)
            .map(|(x, v)| Tensor::from_fn(x.shape(), |i| x.data()[i] + sign * STEP * v.data()[i]))
            .collect()
    };
    let (plus, minus) = (swept_gradient(apply, &shifted(1.0), *seed), swept_gradient(apply, &shifted(-1.0), *seed));
    for (k, hv) in hessian_times_v.iter().enumerate() {
        let hv = hv.values().to_vec();
        let differences: Vec<f64> = plus[k].iter().zip(&minus[k]).map(|(p, m)| (p - m) / (2.0 * STEP)).collect();
        let same = hv.iter().zip(&differences).all(|(&a, &b)| close(a, b, 1e-6, 1.0));
        prop_assert!(
            same,
            "{name}: input {k}: H v by reverse over reverse {hv:?}, by central differences {differences:?}\ninputs: {inputs:?}"
        );
    }
    Ok(())
}

#[test]
fn every_probed_op_has_first_and_second_derivatives_on_the_tape() {
    let mut covered = Vec::new();
    for spec in registry::all() {
        let Check::Probe(probe) = spec.check else { continue };
        let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
        if let Err(failure) = runner.run(&case(probe, 4), |case| agrees(spec.name, &probe, &case)) {
            panic!("{}: {failure}", spec.name);
        }
        covered.push(spec.name);
    }
    // Every op of the registry but the exempt ones (leaves, detach, the user's custom op).
    let all: Vec<&str> = registry::all().map(|spec| spec.name).collect();
    let uncovered: Vec<&str> = all.iter().copied().filter(|name| !covered.contains(name)).collect();
    assert_eq!(uncovered, ["var", "constant", "detach", "custom"]);
}

/// The ops of the elementwise families, whose one-element nodes take `grad`'s short path.
const ELEMENTWISE: &str = "neg exp ln sqrt abs sin cos tan asinh atan log1p expm1 erf clamp powi powf \
    add_scalar mul_scalar div_scalar scalar_sub scalar_div sigmoid tanh relu softplus leaky_relu elu gelu gelu_tanh \
    silu add sub mul div pow maximum minimum atan2";

#[test]
fn every_elementwise_op_on_one_element_inputs_has_first_and_second_derivatives_on_the_tape() {
    // The probe suite draws matrices of 1 to 4 rows and columns, so `grad`'s one-element path
    // sees few of its cases: here every input holds one element, of shape [] or (the first)
    // [1 x 1], so that a binary op's contribution is reshaped back to its input's shape.
    let mut covered = Vec::new();
    let elementwise: Vec<&str> = ELEMENTWISE.split_whitespace().collect();
    for spec in registry::all().filter(|spec| elementwise.contains(&spec.name)) {
        let Check::Probe(probe) = spec.check else { panic!("{}: an elementwise op without a probe", spec.name) };
        let one_element = case(probe, 4).prop_map(|(shapes, draws, seed)| {
            let first = if seed % 2 == 0 { Shape::scalar() } else { Shape::matrix(1, 1) };
            let shapes = (0..shapes.len()).map(|k| if k == 0 { first } else { Shape::scalar() }).collect();
            (shapes, draws, seed)
        });
        let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
        if let Err(failure) = runner.run(&one_element, |case| agrees(spec.name, &probe, &case)) {
            panic!("{} on one-element inputs: {failure}", spec.name);
        }
        covered.push(spec.name);
    }
    assert_eq!(covered.len(), elementwise.len(), "covered {covered:?}");
}

/// The first three derivatives of `f` at the scalar `x`, by `grad` three times.
fn first_three(x: f64, f: impl for<'t> Fn(Var<'t, f64>) -> Var<'t, f64>) -> [f64; 3] {
    let tape = Tape::new();
    let x = tape.var(x);
    let d1 = tape.grad(f(x), &[x])[0];
    let d2 = tape.grad(d1, &[x])[0];
    let d3 = tape.grad(d2, &[x])[0];
    [d1.value(), d2.value(), d3.value()]
}

#[test]
fn a_scalar_fed_to_both_sides_of_a_product_has_three_derivatives() {
    // f = e^(x x): f' = 2x f, f'' = (2 + 4x^2) f, f''' = (12x + 8x^3) f. `x * x` sends
    // 2 g x to x in one contribution; the second and third walks differentiate that.
    for x in [-1.3, -0.4, 0.0, 0.6, 1.1] {
        let f = f64::exp(x * x);
        let expected = [2.0 * x * f, (2.0 + 4.0 * x * x) * f, (12.0 * x + 8.0 * x * x * x) * f];
        let got = first_three(x, |x| (x * x).exp());
        for (order, (a, b)) in got.iter().zip(expected).enumerate() {
            assert!(close(*a, b, 1e-13, 1.0), "x = {x}: derivative {}: grad {a}, closed form {b}", order + 1);
        }
    }
}

#[test]
fn negated_contributions_have_three_derivatives() {
    // f = (1 - x)^3 - x x - (x - 2): f' = -3 (1 - x)^2 - 2x - 1, f'' = 6 (1 - x) - 2,
    // f''' = -6. `1 - x` and both subtrahends send -g: subtracted from an adjoint that
    // exists, or recorded as -g where none does yet.
    for x in [-2.0f64, -0.5, 0.0, 0.3, 1.7] {
        let expected = [-3.0 * (1.0 - x).powi(2) - 2.0 * x - 1.0, 6.0 * (1.0 - x) - 2.0, -6.0];
        let got = first_three(x, |x| (1.0 - x).powi(3) - x * x - (x - 2.0));
        for (order, (a, b)) in got.iter().zip(expected).enumerate() {
            assert!(close(*a, b, 1e-13, 1.0), "x = {x}: derivative {}: grad {a}, closed form {b}", order + 1);
        }
    }
}

#[test]
fn the_extended_rosenbrock_hvp_on_scalars_matches_its_hand_written_hessian() {
    // f = sum (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2, its Hessian tridiagonal:
    // H_ii = 2 + 1200 x_i^2 - 400 x_{i+1} (i < n-1) + 200 (i > 0), H_i,i+1 = -400 x_i.
    let x = [-1.2f64, 1.0, 0.3, -0.7, 2.0, 0.5];
    let v = [0.5f64, -1.0, 0.25, 2.0, -0.75, 1.5];
    let n = x.len();
    let hv = wengert_tape::hvp(&x, &v, |x| {
        let mut total = x[0].tape().constant(0.0);
        for pair in x.windows(2) {
            let (xi, next) = (pair[0], pair[1]);
            total = total + ((1.0 - xi).powi(2) + 100.0 * (next - xi * xi).powi(2));
        }
        total
    });
    for i in 0..n {
        let mut diagonal = 0.0;
        if i + 1 < n {
            diagonal += 2.0 + 1200.0 * x[i] * x[i] - 400.0 * x[i + 1];
        }
        if i > 0 {
            diagonal += 200.0;
        }
        let mut expected = diagonal * v[i];
        if i + 1 < n {
            expected += -400.0 * x[i] * v[i + 1];
        }
        if i > 0 {
            expected += -400.0 * x[i - 1] * v[i - 1];
        }
        assert!(close(hv[i], expected, 1e-12, 1.0), "(H v)_{i}: hvp {}, hand-written {expected}", hv[i]);
    }
}

/// The first and second derivative of `f` at the scalar `x`, by `grad` twice.
fn first_and_second(x: f64, f: impl for<'t> Fn(Var<'t, f64>) -> Var<'t, f64>) -> (f64, f64) {
    let tape = Tape::new();
    let x = tape.var(x);
    let d1 = tape.grad(f(x), &[x])[0];
    let d2 = tape.grad(d1, &[x])[0];
    (d1.value(), d2.value())
}

const POINTS: [f64; 7] = [-4.0, -1.5, -0.3, 0.0, 0.7, 2.0, 5.0];

#[test]
fn sigmoid_second_derivative_is_s_one_minus_s_one_minus_two_s() {
    for z in POINTS {
        let s = 1.0 / (1.0 + (-z).exp());
        let (_, d2) = first_and_second(z, |x| x.sigmoid());
        assert!((d2 - s * (1.0 - s) * (1.0 - 2.0 * s)).abs() < 1e-15, "at {z}: {d2}");
    }
}

#[test]
fn tanh_second_derivative_is_minus_two_t_one_minus_t_squared() {
    for z in POINTS {
        let t = z.tanh();
        let (_, d2) = first_and_second(z, |x| x.tanh());
        assert!((d2 + 2.0 * t * (1.0 - t * t)).abs() < 1e-15, "at {z}: {d2}");
    }
}

#[test]
fn softplus_second_derivative_is_s_one_minus_s() {
    for z in POINTS {
        let s = 1.0 / (1.0 + (-z).exp());
        let (d1, d2) = first_and_second(z, |x| x.softplus());
        assert!((d1 - s).abs() < 1e-15 && (d2 - s * (1.0 - s)).abs() < 1e-15, "at {z}: {d1}, {d2}");
    }
}

#[test]
fn piecewise_linear_ops_have_second_derivative_zero() {
    for z in [-1.5, -0.2, 0.0, 0.4, 2.0] {
        assert_eq!(first_and_second(z, |x| x.relu()).1, 0.0, "relu at {z}");
        assert_eq!(first_and_second(z, |x| x.abs()).1, 0.0, "abs at {z}");
        assert_eq!(first_and_second(z, |x| x.clamp(-1.0, 1.0)).1, 0.0, "clamp at {z}");
        assert_eq!(first_and_second(z, |x| x.leaky_relu(0.1)).1, 0.0, "leaky_relu at {z}");
    }
    // The first derivative keeps its convention at the kink: relu'(0) = 0, abs'(0) = 0.
    assert_eq!(first_and_second(0.0, |x| x.relu()).0, 0.0);
    assert_eq!(first_and_second(0.0, |x| x.abs()).0, 0.0);
}

#[test]
fn maximum_at_a_tie_splits_as_the_first_order_rule() {
    let tape = Tape::<f64>::new();
    let (a, b) = (tape.var(1.5), tape.var(1.5));
    let y = a.maximum(b) * a;
    let grads = tape.grad(y, &[a, b]);
    let swept = tape.backward(y);
    // d(max(a, b) a)/da = 1/2 a + max = 2.25, d/db = 1/2 a = 0.75.
    assert_eq!((grads[0].value(), grads[1].value()), (swept.wrt(a), swept.wrt(b)));
    assert_eq!((grads[0].value(), grads[1].value()), (2.25, 0.75));
    // d2/da2 = 1/2 + 1/2 (the mask is constant), d2/dadb = 1/2.
    let second = tape.grad(grads[0], &[a, b]);
    assert_eq!((second[0].value(), second[1].value()), (1.0, 0.5));
}

#[test]
fn third_derivative_by_repeating_grad() {
    let tape = Tape::<f64>::new();
    let x = tape.var(1.5);
    let mut derivative = x.powi(4);
    for _ in 0..3 {
        derivative = tape.grad(derivative, &[x])[0];
    }
    // (x^4)''' = 24 x.
    assert_eq!(derivative.value(), 36.0);
}

#[test]
fn mse_hessian_is_two_identity_over_n() {
    let n = 4;
    let tape = Tape::<f64>::new();
    let p = tape.var(&Tensor::from_slice(&[0.3, -1.2, 2.0, 0.5]));
    let t = tape.constant(&Tensor::from_slice(&[1.0, 0.0, -1.0, 0.25]));
    let gradient = tape.grad(p.mse(t), &[p])[0];
    for i in 0..n {
        let row = tape.grad(gradient.element(i), &[p])[0].to_tensor();
        for j in 0..n {
            let expected = if i == j { 2.0 / n as f64 } else { 0.0 };
            assert!((row.data()[j] - expected).abs() < 1e-15, "H[{i}][{j}] = {}", row.data()[j]);
        }
    }
}

#[test]
fn softmax_cross_entropy_hessian_is_diag_p_minus_p_p_transposed_over_n_per_row() {
    let logits = Tensor::from_rows(&[[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]]);
    let (rows, cols) = (2, 3);
    let tape = Tape::<f64>::new();
    let z = tape.var(&logits);
    let gradient = tape.grad(z.softmax_cross_entropy(&[2, 0]), &[z])[0];
    let probabilities: Vec<Vec<f64>> = logits
        .data()
        .chunks(cols)
        .map(|row| {
            let total: f64 = row.iter().map(|v| v.exp()).sum();
            row.iter().map(|v| v.exp() / total).collect()
        })
        .collect();
    for i in 0..rows * cols {
        let row = tape.grad(gradient.element(i), &[z])[0].to_tensor();
        for j in 0..rows * cols {
            let (ri, ci, rj, cj) = (i / cols, i % cols, j / cols, j % cols);
            let p = &probabilities[ri];
            let expected =
                if ri != rj { 0.0 } else { (if ci == cj { p[ci] } else { 0.0 } - p[ci] * p[cj]) / rows as f64 };
            assert!((row.data()[j] - expected).abs() < 1e-15, "H[{i}][{j}] = {}, not {expected}", row.data()[j]);
        }
    }
}

#[test]
fn a_handle_the_output_does_not_reach_gets_zeros_of_its_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.var(2.0);
    let unused = tape.var(&Tensor::from_rows(&[[1.0, 2.0]]));
    let data = tape.constant(3.0);
    let grads = tape.grad(x * x, &[x, unused, data, x.detach()]);
    assert_eq!(grads[0].value(), 4.0);
    assert_eq!(grads[1].to_tensor(), Tensor::zeros(Shape::matrix(1, 2)));
    assert_eq!((grads[2].value(), grads[3].value()), (0.0, 0.0));
}

#[test]
fn grad_with_respect_to_an_intermediate_value() {
    let tape = Tape::<f64>::new();
    let x = tape.var(3.0);
    let h = x * x;
    let y = h.sin() + x;
    // dy/dh = cos h, with x held (the path through h only).
    assert_eq!(tape.grad(y, &[h])[0].value(), 9.0f64.cos());
}

#[test]
fn gradient_handles_count_as_gradients_not_constants() {
    // A gradient penalty: d/dw of (df/dw)^2 for f = w^3, which is 2 (3 w^2)(6 w) = 36 w^3.
    let tape = Tape::<f64>::new();
    let w = tape.var(0.5);
    let g = tape.grad(w.powi(3), &[w])[0];
    assert!(g.requires_grad());
    let penalty = tape.grad(g * g, &[w])[0];
    assert_eq!(penalty.value(), 36.0 * 0.125);
    // The sweep agrees on the recorded gradient.
    assert_eq!(tape.backward(g * g).wrt(w), 36.0 * 0.125);
}

struct Cube;

impl CustomOp<f64> for Cube {
    fn name(&self) -> &'static str {
        "cube"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        output.iter_mut().zip(inputs[0]).for_each(|(y, x)| *y = x * x * x);
    }
    fn vjp(&self, _: usize, inputs: &[&[f64]], _: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for ((a, g), x) in adjoint.iter_mut().zip(upstream).zip(inputs[0]) {
            *a += g * 3.0 * x * x;
        }
    }
}

#[test]
#[should_panic(expected = "grad: the custom op cube has no taped rule")]
fn grad_through_a_custom_op_panics_naming_it() {
    let tape = Tape::<f64>::new();
    let x = tape.var(2.0);
    let _ = tape.grad(tape.custom(Cube, &[x]), &[x]);
}

#[test]
fn a_custom_op_off_the_path_does_not_stop_grad() {
    let tape = Tape::<f64>::new();
    let (x, w) = (tape.var(2.0), tape.var(1.0));
    let y = tape.custom(Cube, &[w]) + x * x;
    assert_eq!(tape.grad(y, &[x])[0].value(), 4.0);
}

#[test]
#[should_panic(expected = "grad: the output is [2], not one element")]
fn grad_of_a_vector_output_panics_naming_its_shape() {
    let tape = Tape::<f64>::new();
    let x = tape.var(&Tensor::from_slice(&[1.0, 2.0]));
    let _ = tape.grad(x * x, &[x]);
}

/// A smooth function of three variables with every kind of coupling.
fn coupled<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
    (v[0] * v[1]).sin() + v[2].exp() * v[0].powi(2) + (v[1] / (v[2] + 3.0)).tanh()
}

#[test]
fn hessian_is_symmetric_and_its_columns_are_hvps() {
    let x = [0.4, -0.8, 0.3];
    let h = wengert_tape::hessian(&x, coupled);
    for i in 0..3 {
        for j in 0..3 {
            let (a, b) = (h.data()[i * 3 + j], h.data()[j * 3 + i]);
            assert!((a - b).abs() <= 1e-14 * a.abs().max(1.0), "H[{i}][{j}] = {a}, H[{j}][{i}] = {b}");
        }
        let mut e = [0.0; 3];
        e[i] = 1.0;
        let column = wengert_tape::hvp(&x, &e, coupled);
        for (j, &got) in column.iter().enumerate() {
            assert!((got - h.data()[j * 3 + i]).abs() < 1e-14, "column {i}, row {j}");
        }
    }
}

#[test]
fn hvp_matches_central_differences_of_the_gradient() {
    let (x, v) = ([0.4, -0.8, 0.3], [0.7, -1.1, 0.5]);
    let hv = wengert_tape::hvp(&x, &v, coupled);
    let at = |sign: f64| {
        let shifted: Vec<f64> = x.iter().zip(&v).map(|(a, d)| a + sign * STEP * d).collect();
        wengert_tape::gradient(&shifted, coupled).1
    };
    let (plus, minus) = (at(1.0), at(-1.0));
    for i in 0..3 {
        let difference = (plus[i] - minus[i]) / (2.0 * STEP);
        assert!((hv[i] - difference).abs() < 1e-8, "{i}: {} against {difference}", hv[i]);
    }
}

#[test]
fn jvp_is_the_jacobian_times_the_vector() {
    let (x, v) = ([0.4, -0.8, 0.3], [0.7, -1.1, 0.5]);
    fn f<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        Var::stack(&[v[0] * v[1], v[2].sin() + v[0], coupled(v), v[1].exp()])
    }
    let (value, jv) = wengert_tape::jvp(&x, &v, f);
    // The Jacobian from the sweep, one row per output.
    let tape = Tape::new();
    let input = tape.var(&Tensor::from_slice(&x));
    let parts: Vec<_> = (0..3).map(|i| input.element(i)).collect();
    let output = f(&parts);
    assert_eq!(value, output.values().to_vec());
    let jacobian = tape.jacobian(output, input);
    for (row, &got) in jv.iter().enumerate() {
        let expected: f64 = (0..3).map(|col| jacobian.data()[row * 3 + col] * v[col]).sum();
        assert!((got - expected).abs() < 1e-14, "row {row}: {got} against {expected}");
    }
}

/// The 2-3-1 sigmoid network of the notes (6a) and its loss E = 1/2 (1 - Y)^2 on one sample,
/// from its four parameters.
fn network_loss<'t>(tape: &'t Tape<f64>, p: &[Var<'t, f64>]) -> Var<'t, f64> {
    let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]));
    let h = x.matmul(p[0]).add_bias(p[1]).sigmoid();
    let y = h.matmul(p[2]).add_bias(p[3]).sigmoid();
    (1.0 - y).powi(2).sum() * 0.5
}

/// The notes' parameters W [2 x 3], b1 [3], V [3 x 1], b2 [1].
fn network_parameters() -> Vec<Tensor<f64>> {
    vec![
        Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        Tensor::from_slice(&[0.1, 0.2, 0.3]),
        Tensor::from_rows(&[[0.1], [0.2], [0.3]]),
        Tensor::from_slice(&[0.1]),
    ]
}

#[test]
fn two_three_one_network_hessian_matches_central_differences_of_its_gradient() {
    let parameters = network_parameters();
    let sizes: Vec<usize> = parameters.iter().map(|p| p.len()).collect();
    let n: usize = sizes.iter().sum();
    let flat: Vec<f64> = parameters.iter().flat_map(|p| p.data().to_vec()).collect();
    let unflatten = |values: &[f64]| -> Vec<Tensor<f64>> {
        let mut rest = values;
        parameters
            .iter()
            .map(|p| {
                let (head, tail) = rest.split_at(p.len());
                rest = tail;
                Tensor::new(p.shape(), head.to_vec())
            })
            .collect()
    };
    let swept = |values: &[f64]| -> Vec<f64> {
        let tape = Tape::new();
        let vars: Vec<_> = unflatten(values).iter().map(|p| tape.var(p)).collect();
        let grads = tape.backward(network_loss(&tape, &vars));
        vars.iter().flat_map(|&v| grads.wrt_slice(v).to_vec()).collect()
    };

    // The dense Hessian by grad twice: the gradient once, then one walk per element of it.
    let tape = Tape::new();
    let vars: Vec<_> = parameters.iter().map(|p| tape.var(p)).collect();
    let gradient = tape.grad(network_loss(&tape, &vars), &vars);
    let mut hessian = vec![0.0; n * n];
    let mut row = 0;
    for (g, &size) in gradient.iter().zip(&sizes) {
        for i in 0..size {
            let second = tape.grad(g.element(i), &vars);
            let values: Vec<f64> = second.iter().flat_map(|h| h.values().to_vec()).collect();
            hessian[row * n..(row + 1) * n].copy_from_slice(&values);
            row += 1;
        }
    }
    for j in 0..n {
        let at = |sign: f64| {
            let mut shifted = flat.clone();
            shifted[j] += sign * STEP;
            swept(&shifted)
        };
        let (plus, minus) = (at(1.0), at(-1.0));
        for i in 0..n {
            let difference = (plus[i] - minus[i]) / (2.0 * STEP);
            let (h, ht) = (hessian[i * n + j], hessian[j * n + i]);
            assert!((h - difference).abs() < 1e-9, "H[{i}][{j}] = {h}, central differences {difference}");
            assert!((h - ht).abs() <= 1e-15, "H[{i}][{j}] = {h}, H[{j}][{i}] = {ht}");
        }
    }
}

/// A random DAG of smooth scalar steps over three inputs: each step applies an op to one or
/// two earlier values (inputs included), chosen by `picks`.
fn random_dag<'t>(x: &[Var<'t, f64>], picks: &[(u8, u8, u8)]) -> Var<'t, f64> {
    let mut values: Vec<Var<'t, f64>> = x.to_vec();
    for &(op, a, b) in picks {
        let (a, b) = (values[a as usize % values.len()], values[b as usize % values.len()]);
        values.push(match op % 8 {
            0 => a * b,
            1 => a + b,
            2 => a.sin() * b,
            3 => a.tanh() - b,
            4 => a.sigmoid() * b.exp(),
            5 => (a * a + 1.0).ln(),
            6 => a / (b * b + 1.0),
            _ => a.atan2(b.exp()),
        });
    }
    values.iter().skip(3).fold(values[2], |sum, &v| sum + v)
}

proptest! {
    #![proptest_config(Config { cases: 48, failure_persistence: None, ..Config::default() })]

    #[test]
    fn hessian_of_a_random_dag_is_symmetric(
        x in proptest::collection::vec(-1.5..1.5f64, 3),
        picks in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..12),
    ) {
        let h = wengert_tape::hessian(&x, |v| random_dag(v, &picks));
        for i in 0..3 {
            for j in 0..i {
                let (a, b) = (h.data()[i * 3 + j], h.data()[j * 3 + i]);
                prop_assert!((a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0), "H[{i}][{j}] = {a}, H[{j}][{i}] = {b}");
            }
        }
    }
}

#[test]
fn zero_targets_and_a_zero_base_keep_the_first_order_convention_and_stay_finite() {
    // cross_entropy with p = 0 where y = 0: that term contributes 0, first and second order.
    let tape = Tape::<f64>::new();
    let p = tape.var(&Tensor::from_rows(&[[0.0, 0.25, 0.75]]));
    let y = tape.constant(&Tensor::from_rows(&[[0.0, 0.5, 0.5]]));
    let gradient = tape.grad(p.cross_entropy(y), &[p])[0];
    let first = gradient.values().to_vec();
    assert_eq!(first, tape.backward(p.cross_entropy(y)).wrt_slice(p).to_vec());
    // d2/dp_j^2 of -sum y log p = y_j / p_j^2: 0, 8, 8/9.
    let diagonal: Vec<f64> = (0..3).map(|j| tape.grad(gradient.element(j), &[p])[0].values()[j]).collect();
    assert_eq!(diagonal[0], 0.0);
    assert!((diagonal[1] - 8.0).abs() < 1e-13 && (diagonal[2] - 8.0 / 9.0).abs() < 1e-13, "{diagonal:?}");
    // pow at a zero base: d(a^b)/db is taken as 0 there, and its derivatives are finite.
    let (a, b) = (tape.var(&Tensor::from_slice(&[0.0, 2.0])), tape.var(&Tensor::from_slice(&[2.0, 3.0])));
    let db = tape.grad(a.pow(b).sum(), &[b])[0];
    assert_eq!(db.values()[0], 0.0);
    let second = tape.grad(db.sum(), &[a, b]);
    assert!(second.iter().all(|h| h.values().iter().all(|v| v.is_finite())));
}

#[test]
fn helpers_on_a_linear_function_give_zero_curvature() {
    fn linear<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        v[0] * 2.0 - v[1]
    }
    assert_eq!(wengert_tape::hvp(&[1.0, 2.0], &[1.0, 1.0], linear), vec![0.0, 0.0]);
    assert_eq!(wengert_tape::hessian(&[1.0, 2.0], linear), Tensor::zeros(Shape::matrix(2, 2)));
    fn constant<'t>(v: &[Var<'t, f64>]) -> Var<'t, f64> {
        Var::stack(&[v[0].tape().constant(1.0), v[0].tape().constant(2.0)])
    }
    assert_eq!(wengert_tape::jvp(&[1.0], &[1.0], constant), (vec![1.0, 2.0], vec![0.0, 0.0]));
}
