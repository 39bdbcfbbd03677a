//! The projectile example's simulation (examples/projectile/sim.rs): the tape's gradient
//! against central differences over random launches, the drag-free range against the
//! closed form `v0^2 sin(2 theta) / g`, and the descent's outcomes.

#[path = "../../examples/projectile/sim.rs"]
mod sim;

use proptest::prelude::*;
use sim::{Descent, Launch, ProjectileError, G};
use wengert::Tape;

const H: f64 = 1e-6;

/// The flight's step count at `theta`: the piece of the piecewise-smooth range it is on.
fn flight_steps(theta: f64, launch: &Launch) -> usize {
    sim::fly(theta, launch).expect("lands").steps
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_tape_gradient_matches_central_differences(
        degrees in 5.0_f64..85.0,
        speed in 5.0_f64..80.0,
        drag in 0.0_f64..0.01,
        target in 1.0_f64..300.0,
    ) {
        let launch = Launch::new(speed, drag, 0.01).expect("valid");
        let theta = degrees.to_radians();
        // Across a change in the number of steps the range has a kink, where a central
        // difference means nothing; h = 1e-6 rarely straddles one.
        let steps = flight_steps(theta, &launch);
        prop_assume!(flight_steps(theta - H, &launch) == steps && flight_steps(theta + H, &launch) == steps);
        let evaluation = sim::evaluate(&mut Tape::new(), theta, &launch, target).expect("lands");
        let numeric = sim::central_difference(theta, H, &launch, target).expect("lands");
        // Rounding in the difference quotient: ~1e-16 L / h relative to L' ~ L / theta.
        let tolerance = 1e-6 * evaluation.gradient.abs().max(1e-3 * evaluation.loss.max(1.0));
        prop_assert!(
            (evaluation.gradient - numeric).abs() <= tolerance,
            "theta {degrees} deg, v0 {speed}, k {drag}: tape {} vs central {numeric}",
            evaluation.gradient
        );
        prop_assert_eq!(evaluation.range, sim::range(theta, &launch).expect("lands"));
    }

    #[test]
    fn without_drag_the_range_is_the_closed_form_less_the_time_step_error(
        degrees in 10.0_f64..80.0,
        speed in 5.0_f64..80.0,
        dt in prop::sample::select(vec![0.01, 0.002]),
    ) {
        let launch = Launch::new(speed, 0.0, dt).expect("valid");
        let theta = degrees.to_radians();
        let range = sim::range(theta, &launch).expect("lands");
        let closed_form = speed * speed * (2.0 * theta).sin() / G;
        // Semi-implicit Euler puts the points exactly on the parabola launched with vy0 - g dt/2,
        // which lands after T - dt: the range falls short by vx0 dt. The chord to the last
        // point lies below that (concave) parabola by at most g dt^2 / 8, landing earlier by
        // at most that over the descent speed (> vy0 - g dt).
        let (vx0, vy0) = (speed * theta.cos(), speed * theta.sin());
        let shortfall = closed_form - range;
        let slack = 1e-9 * closed_form;
        prop_assert!(shortfall >= vx0 * dt - slack, "short by {shortfall}, expected at least {}", vx0 * dt);
        let most = vx0 * dt + vx0 * G * dt * dt / (8.0 * (vy0 - G * dt));
        prop_assert!(shortfall <= most + slack, "short by {shortfall}, expected at most {most}");
    }
}

#[test]
fn the_drag_free_longest_range_is_at_45_degrees() {
    let launch = Launch::new(30.0, 0.0, 0.001).expect("valid");
    let (angle, longest) = sim::max_range(&launch).expect("lands");
    assert!((angle.to_degrees() - 45.0).abs() < 0.1, "longest range at {} degrees", angle.to_degrees());
    let closed_form = 30.0 * 30.0 / G;
    assert!(longest < closed_form && closed_form - longest < 30.0 * 0.001 * 1.01, "{longest} vs {closed_form}");
}

#[test]
fn drag_shortens_the_longest_range_and_lowers_its_angle() {
    let (vacuum_angle, vacuum) = sim::max_range(&Launch::new(50.0, 0.0, 0.01).expect("valid")).expect("lands");
    let (angle, with_drag) = sim::max_range(&Launch::new(50.0, 0.002, 0.01).expect("valid")).expect("lands");
    assert!(with_drag < 0.9 * vacuum, "{with_drag} vs {vacuum}");
    assert!(angle < vacuum_angle - 1f64.to_radians());
}

fn descent(target: f64, steps: usize) -> Descent {
    Descent { target, start: 15f64.to_radians(), lr: 6e-6, steps, tolerance: 1e-4, h: H }
}

#[test]
fn the_descent_hits_the_target_and_every_step_s_gradient_matches() {
    let launch = Launch::new(50.0, 0.002, 0.01).expect("valid");
    let mut reports = Vec::new();
    let last = sim::descend(&launch, &descent(150.0, 60), |r| reports.push(*r)).expect("converges");
    assert!((last.range - 150.0).abs() < 1e-4);
    assert!(reports.len() < 40, "{} steps", reports.len());
    // Independent check: the range at the final angle, in plain f64.
    assert!((sim::range(last.theta, &launch).expect("lands") - 150.0).abs() < 1e-4);
    for report in &reports[..5] {
        assert!(sim::relative_difference(report.evaluation.gradient, report.numeric) < 1e-6, "{report:?}");
    }
}

#[test]
fn a_target_beyond_the_longest_range_is_refused_before_any_step() {
    let launch = Launch::new(50.0, 0.002, 0.01).expect("valid");
    let mut steps = 0;
    let error = sim::descend(&launch, &descent(400.0, 60), |_| steps += 1).unwrap_err();
    assert_eq!(steps, 0);
    let ProjectileError::OutOfReach { max_range, .. } = error else { panic!("{error}") };
    assert!(max_range < 50.0 * 50.0 / G);
    assert!(error.to_string().starts_with("--target 400 m is out of reach"), "{error}");
}

#[test]
fn running_out_of_steps_is_an_error_that_says_so() {
    let launch = Launch::new(50.0, 0.002, 0.01).expect("valid");
    let error = sim::descend(&launch, &descent(150.0, 2), |_| {}).unwrap_err();
    assert!(matches!(error, ProjectileError::NotConverged { steps: 2, .. }), "{error}");
    assert!(error.to_string().contains("did not converge in 2 steps"));
}

#[test]
fn bad_numbers_name_their_flag() {
    for (launch, flag) in [
        (Launch::new(-1.0, 0.0, 0.01), "speed"),
        (Launch::new(10.0, -0.1, 0.01), "drag"),
        (Launch::new(10.0, 0.0, 0.0), "dt"),
        (Launch::new(f64::NAN, 0.0, 0.01), "speed"),
    ] {
        let error = launch.unwrap_err();
        assert!(matches!(error, ProjectileError::BadFlag { flag: f, .. } if f == flag), "{error}");
        assert!(error.to_string().starts_with(&format!("--{flag} ")));
    }
    let launch = Launch::new(10.0, 0.0, 0.01).expect("valid");
    let error = sim::descend(&launch, &Descent { lr: 0.0, ..descent(5.0, 10) }, |_| {}).unwrap_err();
    assert!(matches!(error, ProjectileError::BadFlag { flag: "lr", .. }));
}
