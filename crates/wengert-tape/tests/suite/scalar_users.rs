//! The scalar user's way in: many leaves at once (`Tape::vars`), their gradient as one slice
//! (`Gradients::wrt_vars`), `gradient(x, f)` on a new tape, and the local partials a
//! one-element node keeps for the sweep (Jacobian taping): gradients against closed forms,
//! and a new tape per gradient bit for bit equal to a reused one.

use proptest::collection::vec;
use proptest::prelude::*;
use wengert_tape::{gradient, Tape, Var};

/// The extended Rosenbrock function, `sum (1 - x_i)^2 + 100 (x_{i+1} - x_i^2)^2`, as a scalar
/// user writes it.
fn rosenbrock<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    let mut total = x[0] * 0.0;
    for pair in x.windows(2) {
        total = total + (1.0 - pair[0]).powi(2) + 100.0 * (pair[1] - pair[0] * pair[0]).powi(2);
    }
    total
}

/// Its gradient in closed form: df/dx_i = -2 (1 - x_i) - 400 x_i (x_{i+1} - x_i^2)
/// + 200 (x_i - x_{i-1}^2).
fn rosenbrock_gradient(x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len() - 1 {
        let wall = x[i + 1] - x[i] * x[i];
        g[i] += -2.0 * (1.0 - x[i]) - 400.0 * x[i] * wall;
        g[i + 1] += 200.0 * wall;
    }
    g
}

/// Scalar ops of every kind the sweep's one-element path handles: unary ops with and without
/// constants, activations, binary ops, reading inputs or outputs.
fn mixed<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    let (a, b, c) = (x[0], x[1], x[2]);
    (a * b).sin() + (b / (c * c + 1.0)).exp() - a.tanh() * c.sigmoid()
        + (a - c).powf(2.0).sqrt()
        + 3.0 / (b.abs() + 1.0)
        + a.atan2(c)
}

/// Its gradient in closed form, at `(a, b, c)` with `a != c` and `b != 0`.
fn mixed_gradient(a: f64, b: f64, c: f64) -> [f64; 3] {
    let sigmoid = 1.0 / (1.0 + (-c).exp());
    let q = c * c + 1.0;
    let e = (b / q).exp();
    let t = a.tanh();
    let sign = (a - c).signum();
    let d = b.abs() + 1.0;
    let r2 = a * a + c * c;
    [
        b * (a * b).cos() - (1.0 - t * t) * sigmoid + sign + c / r2,
        a * (a * b).cos() + e / q - 3.0 * b.signum() / (d * d),
        e * (-b * 2.0 * c / (q * q)) - t * sigmoid * (1.0 - sigmoid) - sign - a / r2,
    ]
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-11 * want.abs().max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn gradient_of_rosenbrock_is_its_closed_form(x in vec(-2.0..2.0f64, 2..40)) {
        let (value, got) = gradient(&x, rosenbrock);
        let want = rosenbrock_gradient(&x);
        let want_value: f64 = x.windows(2).map(|p| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2)).sum();
        prop_assert!(close(value, want_value), "value {value} against {want_value}");
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            prop_assert!(close(g, w), "df/dx_{i}: {g} against {w}");
        }
    }

    #[test]
    fn one_element_partials_give_the_closed_form(
        a in -2.0..2.0f64, b in 0.1..2.0f64, c in -2.0..2.0f64, b_negative: bool,
    ) {
        prop_assume!((a - c).abs() > 1e-3 && a.hypot(c) > 1e-3);
        let b = if b_negative { -b } else { b };
        let (_, got) = gradient(&[a, b, c], mixed);
        let want = mixed_gradient(a, b, c);
        for k in 0..3 {
            prop_assert!(close(got[k], want[k]), "input {k}: {} against {}", got[k], want[k]);
        }
    }
}

#[test]
fn wrt_vars_reads_every_leaf_including_unused_ones() {
    let tape = Tape::<f64>::new();
    let before = tape.var(5.0);
    let x = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
    let after = tape.var(7.0);
    let f = x[0] * x[2] + before * after;
    let grads = tape.backward(f);
    // x[1] and x[3] feed nothing: gradient 0. The leaves around x are not part of the slice.
    assert_eq!(grads.wrt_vars(&x), &[3.0, 0.0, 1.0, 0.0]);
    assert_eq!((grads.wrt(before), grads.wrt(after)), (7.0, 5.0));
    let none = tape.vars(&[]);
    assert!(grads.wrt_vars(&none).is_empty());
}

#[test]
#[should_panic(expected = "was recorded after the sweep")]
fn wrt_vars_of_leaves_recorded_after_the_sweep_panics() {
    let tape = Tape::<f64>::new();
    let w = tape.var(1.0);
    let grads = tape.backward(w * w);
    let later = tape.vars(&[1.0, 2.0]);
    let _ = grads.wrt_vars(&later);
}

#[test]
fn a_new_tape_per_gradient_matches_a_reused_tape_bit_for_bit() {
    let x: Vec<f64> = (0..500).map(|i| (f64::from(i) * 0.91).cos() * 1.5).collect();
    let mut reused = Tape::<f64>::new();
    let mut first = None;
    for _ in 0..3 {
        reused.clear();
        let vars = reused.vars(&x);
        let on_reused = reused.backward(rosenbrock(&vars)).wrt_vars(&vars).to_vec();
        // A new tape takes the buffers the last one dropped on this thread left behind.
        let (_, on_new) = gradient(&x, rosenbrock);
        let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&on_new), bits(&on_reused));
        assert_eq!(*first.get_or_insert_with(|| bits(&on_new)), bits(&on_new));
    }
}

#[test]
fn no_grad_nodes_keep_no_partials_and_still_combine() {
    // A node recorded in no_grad has no adjoint and so no partials; mixed with one that has,
    // the sweep still reads each node's own partials.
    let tape = Tape::<f64>::new();
    let w = tape.var(3.0);
    let frozen = tape.no_grad(|| (w * w).exp());
    let y = (w * frozen).sin() + w.powi(3);
    let g = tape.backward(y).wrt(w);
    let f = 9.0_f64.exp();
    assert!(close(g, (3.0 * f).cos() * f + 27.0), "{g}");
}
