//! The projectile's flight, written once for any [`Number`]: a plain `f64` (for central
//! differences) or a handle on the tape (for the reverse sweep), so that both differentiate
//! the very same function.
//!
//! Physics: gravity `g` down and quadratic air drag, `a = -k |v| v - g y^`, from the origin
//! at speed `v0` and angle `theta` above the ground. Integrator: semi-implicit (symplectic)
//! Euler with a fixed step `dt`: the velocity is updated first from the old one,
//! `v' = v + dt a(v)`, then the position with the new velocity, `p' = p + dt v'`. The flight
//! ends at the first step below the ground; the landing point is interpolated linearly
//! between the last two positions, on the tape, so the range is a continuous function of
//! `theta` with a derivative everywhere except where the number of steps changes.

// The example uses all of this, the integration test (tests/suite/projectile.rs) a part.
#![allow(dead_code)]

use std::fmt;
use std::ops::{Add, Div, Mul, Sub};
use wengert::{Tape, Var};

/// Gravity at the Earth's surface, m/s^2.
pub const G: f64 = 9.81;

/// A flight longer than this many steps is refused (a tiny `dt`, a huge speed): the tape
/// would hold tens of nodes per step.
pub const MAX_FLIGHT_STEPS: usize = 200_000;

/// What the flight needs of a number: arithmetic, `sin`, `cos`, `sqrt` and its value.
pub trait Number:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Add<f64, Output = Self>
    + Mul<f64, Output = Self>
{
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn sqrt(self) -> Self;
    fn value(self) -> f64;
    /// A constant `c` of the same kind (on the same tape, for a handle).
    fn constant(self, c: f64) -> Self;
}

impl Number for f64 {
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn value(self) -> f64 {
        self
    }
    fn constant(self, c: f64) -> Self {
        c
    }
}

impl<'t> Number for Var<'t, f64> {
    fn sin(self) -> Self {
        Var::sin(self)
    }
    fn cos(self) -> Self {
        Var::cos(self)
    }
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    fn value(self) -> f64 {
        Var::value(self)
    }
    fn constant(self, c: f64) -> Self {
        self.tape().constant(c)
    }
}

/// Something wrong with the flags, or a problem the descent cannot solve.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectileError {
    /// A flag outside the values that make sense.
    BadFlag { flag: &'static str, value: f64, expected: &'static str },
    /// The projectile was still in the air after [`MAX_FLIGHT_STEPS`] steps.
    NoLanding { theta: f64, steps: usize },
    /// No angle reaches the target.
    OutOfReach { target: f64, max_range: f64, best_angle: f64 },
    /// The descent ran all its steps without reaching the target.
    NotConverged { steps: usize, range: f64, target: f64 },
}

impl fmt::Display for ProjectileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProjectileError::BadFlag { flag, value, expected } => {
                write!(f, "--{flag} {value}: expected {expected}")
            }
            ProjectileError::NoLanding { theta, steps } => write!(
                f,
                "at {:.3} degrees the projectile is still in the air after {steps} steps; use a larger --dt",
                theta.to_degrees()
            ),
            ProjectileError::OutOfReach { target, max_range, best_angle } => write!(
                f,
                "--target {target} m is out of reach: the longest range at this speed and drag is {max_range:.3} m (at {:.2} degrees)",
                best_angle.to_degrees()
            ),
            ProjectileError::NotConverged { steps, range, target } => write!(
                f,
                "did not converge in {steps} steps (range {range:.6} m, target {target} m); raise --steps or change --lr"
            ),
        }
    }
}

impl std::error::Error for ProjectileError {}

/// Launch speed, drag coefficient and time step: everything but the angle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Launch {
    /// m/s.
    pub speed: f64,
    /// `k` in `a = -k |v| v`, 1/m.
    pub drag: f64,
    /// s.
    pub dt: f64,
}

impl Launch {
    /// A launch, its numbers checked.
    pub fn new(speed: f64, drag: f64, dt: f64) -> Result<Launch, ProjectileError> {
        positive("speed", speed)?;
        if !(drag.is_finite() && drag >= 0.0) {
            return Err(ProjectileError::BadFlag { flag: "drag", value: drag, expected: "a number >= 0" });
        }
        positive("dt", dt)?;
        Ok(Launch { speed, drag, dt })
    }
}

/// `Ok` if `value` is finite and above zero, else the flag's error.
pub fn positive(flag: &'static str, value: f64) -> Result<(), ProjectileError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ProjectileError::BadFlag { flag, value, expected: "a finite number > 0" })
    }
}

/// Where and when the projectile came down.
#[derive(Debug, Clone, Copy)]
pub struct Landing<N> {
    /// Horizontal distance from the launch point, interpolated between the last two steps.
    pub range: N,
    /// Steps taken; the last one ends below the ground.
    pub steps: usize,
}

/// Flies the projectile launched at angle `theta` (radians) until it lands.
pub fn fly<N: Number>(theta: N, launch: &Launch) -> Result<Landing<N>, ProjectileError> {
    let Launch { speed, drag, dt } = *launch;
    let (mut x, mut y) = (theta.constant(0.0), theta.constant(0.0));
    let (mut vx, mut vy) = (theta.cos() * speed, theta.sin() * speed);
    for step in 1..=MAX_FLIGHT_STEPS {
        // Semi-implicit Euler: the new velocity from the old one, then the new position.
        let slowing = (vx * vx + vy * vy).sqrt() * (drag * dt);
        let (vx_next, vy_next) = (vx - slowing * vx, vy - slowing * vy + (-G * dt));
        let (x_next, y_next) = (x + vx_next * dt, y + vy_next * dt);
        if y_next.value() < 0.0 {
            // y >= 0 > y_next: the ground is the fraction y / (y - y_next) of the way.
            let fraction = y / (y - y_next);
            return Ok(Landing { range: x + (x_next - x) * fraction, steps: step });
        }
        (x, y, vx, vy) = (x_next, y_next, vx_next, vy_next);
    }
    Err(ProjectileError::NoLanding { theta: theta.value(), steps: MAX_FLIGHT_STEPS })
}

/// The range at `theta` in plain `f64`.
pub fn range(theta: f64, launch: &Launch) -> Result<f64, ProjectileError> {
    Ok(fly(theta, launch)?.range)
}

/// The loss `(range - target)^2` at `theta`, in plain `f64`.
pub fn loss(theta: f64, launch: &Launch, target: f64) -> Result<f64, ProjectileError> {
    Ok((range(theta, launch)? - target).powi(2))
}

/// One evaluation on the tape: the loss, the range and `dL/dtheta` from a reverse sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub theta: f64,
    pub range: f64,
    pub loss: f64,
    pub gradient: f64,
    /// Steps of the flight, which fix the piece of the piecewise-smooth range.
    pub flight_steps: usize,
}

/// Records the flight and the loss `(range - target)^2` on `tape`, sweeps back, and clears
/// the tape for the next call.
pub fn evaluate(tape: &mut Tape<f64>, theta: f64, launch: &Launch, target: f64) -> Result<Evaluation, ProjectileError> {
    let evaluation = {
        let angle = tape.var(theta);
        let landing = fly(angle, launch)?;
        let loss = (landing.range - target).powi(2);
        let gradient = tape.backward(loss).wrt(angle);
        Evaluation { theta, range: landing.range.value(), loss: loss.value(), gradient, flight_steps: landing.steps }
    };
    tape.clear();
    Ok(evaluation)
}

/// The central difference `(L(theta + h) - L(theta - h)) / 2h` of the loss, each side a
/// plain-`f64` run of the simulation.
pub fn central_difference(theta: f64, h: f64, launch: &Launch, target: f64) -> Result<f64, ProjectileError> {
    Ok((loss(theta + h, launch, target)? - loss(theta - h, launch, target)?) / (2.0 * h))
}

/// `|a - b| / max(|a|, |b|)`, and 0 when both are 0.
pub fn relative_difference(a: f64, b: f64) -> f64 {
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

/// The angle of the longest range and that range: a scan in steps of half a degree, then
/// a golden-section search around the best.
pub fn max_range(launch: &Launch) -> Result<(f64, f64), ProjectileError> {
    let step = 0.5_f64.to_radians();
    let mut best = (step, range(step, launch)?);
    for k in 2..180 {
        let theta = k as f64 * step;
        let r = range(theta, launch)?;
        if r > best.1 {
            best = (theta, r);
        }
    }
    let (mut lo, mut hi) = (best.0 - step, best.0 + step);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (a, b) = (hi - ratio * (hi - lo), lo + ratio * (hi - lo));
        if range(a, launch)? > range(b, launch)? {
            hi = b;
        } else {
            lo = a;
        }
    }
    let theta = (lo + hi) / 2.0;
    let r = range(theta, launch)?;
    Ok(if r > best.1 { (theta, r) } else { best })
}

/// How the descent runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Descent {
    /// Distance to hit, m.
    pub target: f64,
    /// Starting angle, radians.
    pub start: f64,
    /// Step size on `dL/dtheta`.
    pub lr: f64,
    /// Most steps to take.
    pub steps: usize,
    /// Done when `|range - target|` is below this, m.
    pub tolerance: f64,
    /// The central difference's half-width, radians.
    pub h: f64,
}

/// One step of the descent, as printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    pub step: usize,
    pub evaluation: Evaluation,
    /// The central difference of the same loss at the same angle.
    pub numeric: f64,
}

/// Gradient descent on theta until the range is within `tolerance` of the target; calls
/// `on_step` with each step's numbers (before its update). Returns the final evaluation.
///
/// Errors: `OutOfReach` before any step if the target is beyond the longest range (or not
/// above 0); `NotConverged` if `steps` run out; `NoLanding` from the flight.
pub fn descend(
    launch: &Launch,
    descent: &Descent,
    mut on_step: impl FnMut(&StepReport),
) -> Result<Evaluation, ProjectileError> {
    positive("target", descent.target)?;
    positive("lr", descent.lr)?;
    if descent.steps == 0 {
        return Err(ProjectileError::BadFlag { flag: "steps", value: 0.0, expected: "at least 1" });
    }
    let (best_angle, max_range) = max_range(launch)?;
    if descent.target > max_range {
        return Err(ProjectileError::OutOfReach { target: descent.target, max_range, best_angle });
    }
    let mut tape = Tape::new();
    let mut theta = descent.start;
    for step in 0..descent.steps {
        let evaluation = evaluate(&mut tape, theta, launch, descent.target)?;
        let numeric = central_difference(theta, descent.h, launch, descent.target)?;
        on_step(&StepReport { step, evaluation, numeric });
        if (evaluation.range - descent.target).abs() < descent.tolerance {
            return Ok(evaluation);
        }
        theta -= descent.lr * evaluation.gradient;
    }
    let last = evaluate(&mut tape, theta, launch, descent.target)?;
    Err(ProjectileError::NotConverged { steps: descent.steps, range: last.range, target: descent.target })
}
