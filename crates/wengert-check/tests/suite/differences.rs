//! Finite differences done well (G2): the step is scaled per element
//! (`eps^(1/3) max(1, |x|)` for central differences), each stencil errs by the truncation
//! term its order predicts, the finer stencils and differencing in f64 tighten the
//! tolerance honestly, and f32 gradients pass their defaults.

use proptest::prelude::*;
use wengert_check::strategy::{matrix, scalar, tensor};
use wengert_check::{derivative, numeric_gradient, GradCheck, Stencil};
use wengert_tape::{Real, Shape, Tensor, Var};

#[test]
fn central_step_is_cbrt_eps_times_max_one_abs_x() {
    for x in [0.0_f64, 0.3, -1.0, 2.5, -1e6, 1e-9] {
        let h = Stencil::Central.step(x);
        let expected = f64::EPSILON.cbrt() * f64::max(1.0, x.abs());
        assert!((h - expected).abs() <= f64::EPSILON * x.abs().max(1.0), "x {x}: h {h}, expected {expected}");
        // Rounded so that x + h is exactly h away from x.
        assert_eq!((x + h) - x, h, "x {x}");
    }
    let h32 = Stencil::Central.step(3.0_f32);
    assert!((h32 - 3.0 * f32::EPSILON.cbrt()).abs() < 1e-6, "{h32}");
}

#[test]
fn higher_order_steps_are_eps_to_the_one_fifth_and_one_seventh() {
    let h4 = Stencil::FourPoint.step(0.5_f64);
    let h6 = Stencil::Richardson.step(-2.0_f64);
    assert!((h4 - f64::EPSILON.powf(0.2)).abs() < 1e-15, "{h4}");
    assert!((h6 - 2.0 * f64::EPSILON.powf(1.0 / 7.0)).abs() < 1e-14, "{h6}");
}

/// `((1 + h)^5 - (1 - h)^5) / 2h = 5 + 10 h^2 + h^4` exactly: the central difference errs by
/// `h^2 f'''/6` (f''' = 60), far above its rounding (`eps / h`, about 4e-11).
#[test]
fn central_difference_of_x_to_the_fifth_errs_by_h_squared_f_triple_prime_over_six() {
    let h = Stencil::Central.step(1.0_f64);
    let d = derivative(|x: f64| x.powi(5), 1.0, Stencil::Central);
    assert!((d - 5.0 - 10.0 * h * h).abs() < 1e-10, "d - 5 = {:e}, 10 h^2 = {:e}", d - 5.0, 10.0 * h * h);
    assert!(d - 5.0 > 2e-10);
}

/// The four-point stencil is exact up to degree 4 (error `-h^4 f^(5)/30 = -4 h^4` for x^5),
/// Richardson's up to degree 6 (only rounding is left on x^5): both 100 times below central.
#[test]
fn higher_order_stencils_leave_only_rounding_on_x_to_the_fifth() {
    let h = Stencil::FourPoint.step(1.0_f64);
    let four = derivative(|x: f64| x.powi(5), 1.0, Stencil::FourPoint);
    let richardson = derivative(|x: f64| x.powi(5), 1.0, Stencil::Richardson);
    assert!((four - 5.0 + 4.0 * h.powi(4)).abs() < 5e-13, "{:e}", four - 5.0);
    assert!((richardson - 5.0).abs() < 2e-12, "{:e}", richardson - 5.0);
}

/// A step that does not grow with x would lose the derivative of x^2 at 1e6 to rounding
/// (`eps x^2 / h` is about 40 there); scaled by |x|, the result is good to 1e-10.
#[test]
fn step_scaled_by_x_keeps_large_elements_accurate() {
    let g = numeric_gradient(|x: &[f64]| x[0] * x[0], &[1e6], Stencil::Central);
    assert!((g[0] - 2e6).abs() / 2e6 < 1e-10, "{}", g[0]);
    let g = numeric_gradient(|x: &[f64]| x[0] * x[0], &[-3e-4], Stencil::Central);
    assert!((g[0] + 6e-4).abs() < 1e-10, "{}", g[0]);
}

/// A gradient off by 5e-8 (relative) is inside central differences' honest tolerance
/// (rel 1e-7) and outside the finer stencils' (1e-8 and 1e-9).
#[test]
fn a_subtle_error_passes_central_and_fails_the_finer_stencils() {
    let f = |v: &[Tensor<f64>]| v[0].data().iter().map(|x| x.sin()).sum::<f64>();
    let off = |v: &[Tensor<f64>]| vec![Tensor::from_fn(v[0].shape(), |i| v[0].data()[i].cos() * (1.0 + 5e-8))];
    let x = [Tensor::from_slice(&[0.3, -0.9, 1.2])];
    assert!(GradCheck::new().hand_written(f, off, &x).is_ok());
    for stencil in [Stencil::FourPoint, Stencil::Richardson] {
        let failure = GradCheck::new().stencil(stencil).hand_written(f, off, &x).unwrap_err();
        assert_eq!(failure.report.failures().count(), 3, "{stencil:?}: {failure}");
    }
}

fn layer_loss<'t, T: Real>(v: &[Var<'t, T>]) -> Var<'t, T> {
    v[0].matmul(v[1]).add_bias(v[2]).tanh().softmax_cross_entropy(&[1, 0, 2][..v[0].shape().rows()])
}

/// An f32 gradient off by 1e-3 (relative) passes the f32 tolerance (rel 1e-2, set by
/// rounding in f32 differences) and fails when the same generic function is differenced in
/// f64 (rel 1e-4).
#[test]
fn differencing_an_f32_function_in_f64_tightens_the_tolerance() {
    let f = |v: &[Tensor<f32>]| v[0].data().iter().map(|x| x.exp()).sum::<f32>();
    let f64_twin = |v: &[Tensor<f64>]| v[0].data().iter().map(|x| x.exp()).sum::<f64>();
    let off = |v: &[Tensor<f32>]| vec![Tensor::from_fn(v[0].shape(), |i| v[0].data()[i].exp() * 1.001)];
    let x = [Tensor::from_slice(&[0.25_f32, -0.5, 1.0])];
    assert!(GradCheck::new().hand_written(f, off, &x).is_ok());
    let failure = GradCheck::new().hand_written_in_f64(f64_twin, off, &x).unwrap_err();
    assert_eq!(failure.report.failures().count(), 3, "{failure}");
    assert_eq!((failure.report.precision.analytic, failure.report.precision.numeric), ("f32", "f64"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every stencil agrees with the closed form d/dx e^(sin x) = cos(x) e^(sin x) within
    /// its own default tolerance.
    #[test]
    fn every_stencil_agrees_with_a_closed_form_within_its_tolerance(x in scalar().values(-4.0..=4.0)) {
        let x = x.data()[0];
        let exact = x.cos() * x.sin().exp();
        for (stencil, rel) in [(Stencil::Central, 1e-7), (Stencil::FourPoint, 1e-8), (Stencil::Richardson, 1e-9)] {
            let d = derivative(|t: f64| t.sin().exp(), x, stencil);
            prop_assert!((d - exact).abs() <= rel * exact.abs().max(1.0), "{stencil:?} at {x}: {d} vs {exact}");
        }
    }

    /// A layer with softmax cross-entropy in f32 passes its defaults, differenced in f32 and
    /// in f64 (the same generic function), and with every stencil in f64.
    #[test]
    fn f32_layer_gradients_pass_their_defaults(
        (x, w, b) in (1..=3usize, 1..=4usize).prop_flat_map(|(n, k)| {
            (tensor(Shape::matrix(n, k)), matrix(k..=k, 3..=3), tensor(Shape::vector(3)))
        })
    ) {
        let inputs: Vec<Tensor<f32>> = [x, w, b].iter().map(|t| t.cast()).collect();
        GradCheck::new().tape(|_t, v| layer_loss(v), &inputs)?;
        GradCheck::new().tape_in_f64(|_t, v| layer_loss(v), |_t, v| layer_loss(v), &inputs)?;
        let inputs64: Vec<Tensor<f64>> = inputs.iter().map(|t| t.cast()).collect();
        for stencil in [Stencil::Central, Stencil::FourPoint, Stencil::Richardson] {
            GradCheck::new().stencil(stencil).tape(|_t, v| layer_loss(v), &inputs64)?;
        }
    }
}
