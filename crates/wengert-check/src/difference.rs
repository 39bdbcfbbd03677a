//! Finite differences (G2) for one element at a time: the step scaled to the element, three
//! stencils, and the one-sided probe that tells a kink from a wrong gradient.
//!
//! Every step is `h = eps^(1/k) max(1, |x|)`, rounded so that `x + h` is exactly `h` away
//! from `x`, with `k` the one that balances the stencil's truncation error against its
//! rounding error `eps |f| / h`: `k = 3` for [`Stencil::Central`] (about `6.1e-6` in f64,
//! `4.9e-3` in f32), `k = 5` for [`Stencil::FourPoint`] (`7.4e-4`, `4.1e-2`) and `k = 7` for
//! [`Stencil::Richardson`] (`5.8e-3`, `0.10`).

use wengert_tape::Real;

/// How the numerical derivative of one element is taken.
///
/// | stencil | formula | error | evaluations per element | reach in f64 (at most 1 in size) |
/// | --- | --- | --- | --- | --- |
/// | `Central` | `(f(x+h) - f(x-h)) / 2h`, `h = eps^(1/3)` | `h^2 f'''/6 + eps abs(f)/h`, about `1e-10` | 2 | `6.1e-6` |
/// | `FourPoint` | `(8 (f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h`, `h = eps^(1/5)` | `h^4 f^(5)/30 + 1.5 eps abs(f)/h`, about `1e-12` | 4 | `1.5e-3` |
/// | `Richardson` | central differences at `h`, `h/2`, `h/4` extrapolated twice, `h = eps^(1/7)` | `O(h^6) + 7 eps abs(f)/h`, about `1e-13` | 6 | `5.8e-3` |
///
/// The higher-order stencils assume `f` is smooth within their reach: keep kinks farther
/// away than that (the strategies' `away_from_kinks` does, in f64, for inputs up to 4 in size).
///
/// # Examples
///
/// ```
/// use wengert_check::{derivative, Stencil};
/// // d/dx e^(3x) at 0.5 is 3 e^1.5.
/// let exact = 3.0 * 1.5_f64.exp();
/// let central = derivative(|x: f64| (3.0 * x).exp(), 0.5, Stencil::Central);
/// let richardson = derivative(|x: f64| (3.0 * x).exp(), 0.5, Stencil::Richardson);
/// assert!((central - exact).abs() / exact < 1e-9);
/// assert!((richardson - exact).abs() / exact < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Stencil {
    /// Two points, `x +/- h`, error `O(h^2)`: the default.
    #[default]
    Central,
    /// Four points, `x +/- h` and `x +/- 2h`, error `O(h^4)`.
    FourPoint,
    /// Central differences at `h`, `h/2` and `h/4`, combined by Richardson extrapolation
    /// (`(4 D(h/2) - D(h)) / 3`, then `(16 R(h/4) - R(h/2)) / 15`), error `O(h^6)`.
    Richardson,
}

impl Stencil {
    /// How many evaluations of the function one element costs.
    ///
    /// ```
    /// use wengert_check::Stencil;
    /// assert_eq!(Stencil::Central.evaluations(), 2);
    /// assert_eq!(Stencil::Richardson.evaluations(), 6);
    /// ```
    pub fn evaluations(self) -> usize {
        match self {
            Stencil::Central => 2,
            Stencil::FourPoint => 4,
            Stencil::Richardson => 6,
        }
    }

    /// The stencil's name as reports print it.
    ///
    /// ```
    /// use wengert_check::Stencil;
    /// assert_eq!(Stencil::FourPoint.name(), "four-point differences");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Stencil::Central => "central differences",
            Stencil::FourPoint => "four-point differences",
            Stencil::Richardson => "Richardson-extrapolated central differences",
        }
    }

    /// The base step `h` this stencil takes at an element of value `x` (see the table).
    ///
    /// ```
    /// use wengert_check::Stencil;
    /// let h = Stencil::Central.step(0.5_f64);
    /// assert!((h - f64::EPSILON.cbrt()).abs() < 1e-15);
    /// assert!((Stencil::Central.step(100.0_f64) - 100.0 * f64::EPSILON.cbrt()).abs() < 1e-12);
    /// ```
    pub fn step<T: Real>(self, x: T) -> T {
        match self {
            Stencil::Central => scaled_step(x, 3.0),
            Stencil::FourPoint => scaled_step(x, 5.0),
            Stencil::Richardson => scaled_step(x, 7.0),
        }
    }
}

/// `eps^(1/root) max(1, |x|)`, rounded so that `x + h` and `x - h` are `h` away from `x`
/// where the format allows.
fn scaled_step<T: Real>(x: T, root: f64) -> T {
    let h = T::epsilon().powf(T::lit(1.0 / root)) * x.abs().max(T::one());
    exact_offset(x, h)
}

/// `h` rounded to the offset the format can actually put between `x` and `x + h`.
fn exact_offset<T: Real>(x: T, h: T) -> T {
    (x + h) - x
}

/// The central difference `(g(x + h) - g(x - h)) / 2h`.
fn central<T: Real>(g: &mut impl FnMut(T) -> T, x: T, h: T) -> T {
    (g(x + h) - g(x - h)) / (h + h)
}

/// The derivative of a function of one number by the given stencil (G2).
///
/// `g` is called `stencil.evaluations()` times, never at `x` itself.
///
/// # Examples
///
/// ```
/// use wengert_check::{derivative, Stencil};
/// // d/dx ln(x) = 1/x.
/// let d = derivative(|x: f64| x.ln(), 2.0, Stencil::FourPoint);
/// assert!((d - 0.5).abs() < 1e-12);
/// ```
pub fn derivative<T: Real>(mut g: impl FnMut(T) -> T, x: T, stencil: Stencil) -> T {
    let h = stencil.step(x);
    match stencil {
        Stencil::Central => central(&mut g, x, h),
        Stencil::FourPoint => {
            let near = g(x + h) - g(x - h);
            let far = g(x + (h + h)) - g(x - (h + h));
            (T::lit(8.0) * near - far) / (T::lit(12.0) * h)
        }
        Stencil::Richardson => {
            let half = exact_offset(x, h / T::lit(2.0));
            let quarter = exact_offset(x, h / T::lit(4.0));
            let d0 = central(&mut g, x, h);
            let d1 = central(&mut g, x, half);
            let d2 = central(&mut g, x, quarter);
            let r1 = (T::lit(4.0) * d1 - d0) / T::lit(3.0);
            let r2 = (T::lit(4.0) * d2 - d1) / T::lit(3.0);
            (T::lit(16.0) * r2 - r1) / T::lit(15.0)
        }
    }
}

/// The gradient of a function of a slice, one element at a time, by the given stencil.
///
/// For checking a gradient that comes from anywhere; [`crate::GradCheck`] does the
/// comparison and the report.
///
/// ```
/// use wengert_check::{numeric_gradient, Stencil};
/// let g = numeric_gradient(|x: &[f64]| x[0] * x[0] * x[1], &[3.0, 2.0], Stencil::Central);
/// assert!((g[0] - 12.0).abs() < 1e-8 && (g[1] - 9.0).abs() < 1e-8);
/// ```
pub fn numeric_gradient<T: Real>(mut f: impl FnMut(&[T]) -> T, x: &[T], stencil: Stencil) -> Vec<T> {
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            let d = derivative(
                |t| {
                    point[i] = t;
                    f(&point)
                },
                x[i],
                stencil,
            );
            point[i] = x[i];
            d
        })
        .collect()
}

/// The two one-sided slopes of a function at a point, from the five values at
/// `x - 2h .. x + 2h` with the central step `h`: what a report prints where the function is
/// not differentiable.
///
/// `left` and `right` are the second-order one-sided differences
/// `(3 f(x) - 4 f(x-h) + f(x-2h)) / 2h` and `(-f(x+2h) + 4 f(x+h) - 3 f(x)) / 2h`: exact for
/// a function that is linear on each side (relu at 0, a max with a tie), and within
/// `O(h^2)` of the one-sided derivatives otherwise.
///
/// ```
/// use wengert_check::Slopes;
/// let relu = |z: f64| z.max(0.0);
/// let at_kink = Slopes::probe(relu, 0.0);
/// assert_eq!((at_kink.left, at_kink.right), (0.0, 1.0));
/// assert!(!at_kink.agree(1e-6));
/// assert!(Slopes::probe(|z: f64| z.sin(), 0.3).agree(1e-6));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slopes {
    /// The slope from the left, `(3 f(x) - 4 f(x-h) + f(x-2h)) / 2h`.
    pub left: f64,
    /// The slope from the right, `(-f(x+2h) + 4 f(x+h) - 3 f(x)) / 2h`.
    pub right: f64,
    /// The first-order one-sided differences `(f(x) - f(x-h)) / h` and `(f(x+h) - f(x)) / h`.
    pub first_order: (f64, f64),
    /// The central differences at `h` and at `2h`.
    pub central: (f64, f64),
    /// The central step `h`.
    pub step: f64,
}

impl Slopes {
    /// Probes `g` around `x` with the central step for `x` (five evaluations).
    ///
    /// ```
    /// use wengert_check::{Slopes, Stencil};
    /// let s = Slopes::probe(|x: f64| x.abs(), 0.0);
    /// assert_eq!((s.left, s.right, s.step), (-1.0, 1.0, Stencil::Central.step(0.0)));
    /// assert_eq!(s.central, (0.0, 0.0));
    /// ```
    pub fn probe<T: Real>(mut g: impl FnMut(T) -> T, x: T) -> Slopes {
        let h = Stencil::Central.step(x);
        let two_h = h + h;
        let (down2, down1, center, up1, up2) = (g(x - two_h), g(x - h), g(x), g(x + h), g(x + two_h));
        let (three, four) = (T::lit(3.0), T::lit(4.0));
        let left = (three * center - four * down1 + down2) / two_h;
        let right = (-up2 + four * up1 - three * center) / two_h;
        let f64_of = |v: T| v.to_f64().unwrap_or(f64::NAN);
        Slopes {
            left: f64_of(left),
            right: f64_of(right),
            first_order: (f64_of((center - down1) / h), f64_of((up1 - center) / h)),
            central: (f64_of((up1 - down1) / two_h), f64_of((up2 - down2) / (two_h + two_h))),
            step: f64_of(h),
        }
    }

    /// How far the probe is from what a smooth function gives: the larger of
    /// `|right - left|` and `|central(h) - central(2h)|`. Both are `O(h^2)` where the function
    /// is smooth, and of the size of the jump in slope where a kink lies within `2h` (a
    /// kink exactly at `x` shows in the first, one between `x` and `x +/- 2h` in one of them).
    ///
    /// ```
    /// use wengert_check::Slopes;
    /// assert!(Slopes::probe(|x: f64| x.exp(), 1.0).roughness() < 1e-9);
    /// assert_eq!(Slopes::probe(|x: f64| x.max(0.0), 0.0).roughness(), 1.0);
    /// ```
    pub fn roughness(&self) -> f64 {
        (self.right - self.left).abs().max((self.central.0 - self.central.1).abs())
    }

    /// True if the function looks smooth at this scale to within `allowed`.
    ///
    /// ```
    /// use wengert_check::Slopes;
    /// assert!(Slopes::probe(|x: f64| x.tanh(), -0.2).agree(1e-8));
    /// ```
    pub fn agree(&self, allowed: f64) -> bool {
        self.roughness() <= allowed
    }

    /// True if `slope` lies between the one-sided slopes (either order of the probe), widened
    /// by `allowed`: a defensible derivative where the function is not differentiable.
    ///
    /// ```
    /// use wengert_check::Slopes;
    /// let relu_at_0 = Slopes::probe(|x: f64| x.max(0.0), 0.0);
    /// assert!(relu_at_0.brackets(0.0, 0.0) && relu_at_0.brackets(0.7, 0.0) && !relu_at_0.brackets(1.5, 0.1));
    /// ```
    pub fn brackets(&self, slope: f64, allowed: f64) -> bool {
        let candidates = [self.left, self.right, self.first_order.0, self.first_order.1];
        let low = candidates.iter().copied().fold(f64::INFINITY, f64::min);
        let high = candidates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        slope >= low - allowed && slope <= high + allowed
    }
}
