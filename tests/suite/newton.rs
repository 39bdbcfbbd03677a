//! The Newton example's method (examples/newton/method.rs): the tape's Hessian of the
//! Rosenbrock function against its closed form, the Cholesky solve against a system solved by
//! hand, and Newton's method converging from the standard start in 2 and 100 dimensions where
//! gradient descent, given as many iterations, does not.

#[path = "../../examples/newton/method.rs"]
mod method;

use method::{cholesky_solve, gradient_descent, newton, rosenbrock, standard_start};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// H = [[1200 x^2 - 400 y + 2, -400 x], [-400 x, 200]] for f = 100 (y - x^2)^2 + (1 - x)^2.
    #[test]
    fn tape_hessian_is_the_closed_form(x in -2.0..2.0f64, y in -2.0..2.0f64) {
        let h = wengert::hessian(&[x, y], rosenbrock);
        let want = [1200.0 * x * x - 400.0 * y + 2.0, -400.0 * x, -400.0 * x, 200.0];
        for (got, want) in h.data().iter().zip(want) {
            prop_assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{got} against {want}");
        }
    }
}

#[test]
fn cholesky_solves_a_system_solved_by_hand() {
    // [[4, 2], [2, 3]] y = [2, 1]: determinant 8, y = [(3 * 2 - 2 * 1) / 8, (4 * 1 - 2 * 2) / 8].
    let y = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], 2, 0.0, &[2.0, 1.0]).expect("positive definite");
    assert!((y[0] - 0.5).abs() < 1e-15 && y[1].abs() < 1e-15, "{y:?}");
    // Indefinite ([[1, 2], [2, 1]] has eigenvalues 3 and -1) until shifted past 1.
    assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, 0.0, &[1.0, 0.0]).is_none());
    let y = cholesky_solve(&[1.0, 2.0, 2.0, 1.0], 2, 2.0, &[1.0, 0.0]).expect("shifted: eigenvalues 5 and 1");
    // [[3, 2], [2, 3]] y = [1, 0]: y = [3, -2] / 5.
    assert!((y[0] - 0.6).abs() < 1e-15 && (y[1] + 0.4).abs() < 1e-15, "{y:?}");
}

#[test]
fn newton_converges_from_the_standard_start_where_gradient_descent_does_not() {
    for n in [2, 100] {
        let x0 = standard_start(n);
        let (history, x) = newton(&x0, 1e-10, 60);
        let last = history.last().unwrap();
        assert!(last.gradient_norm < 1e-10, "n = {n}: |grad f| = {:e} after {}", last.gradient_norm, last.iteration);
        assert!(last.iteration <= 40, "n = {n}: {} iterations", last.iteration);
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-9), "n = {n}: not at (1, ..., 1)");
        assert!(history[..history.len() - 1].iter().all(|it| it.step > 0.0), "n = {n}: a step of length 0");
        // Every Newton step decreased f (the line search's Armijo condition).
        assert!(history.windows(2).all(|w| w[1].value < w[0].value || w[1].value == 0.0), "n = {n}");
        let (descent, _) = gradient_descent(&x0, last.iteration);
        let after = descent.last().unwrap();
        assert!(after.gradient_norm > 1e-3 && after.value > 1e-3, "n = {n}: descent got {after:?}");
    }
}
