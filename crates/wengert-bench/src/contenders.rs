//! The contenders of the scalar races (Rosenbrock and the chain), one name each, and the check
//! that runs before any timing: every contender's f and gradient must match the hand-written
//! ones, or the bench stops and names the contender.

use crate::{peers, scalar};
use std::fmt;
use wengert_tape::Tape;

/// One implementation of a scalar workload's gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// wengert on one tape, cleared and reused for every gradient.
    Wengert,
    /// wengert on a new tape per gradient.
    WengertNewTape,
    /// echidna 0.15, `echidna::grad`.
    Echidna,
    /// reverse 0.2, a new `reverse::Tape` per gradient.
    Reverse,
    /// The gradient written out by hand, no tape.
    Hand,
}

impl Contender {
    /// Every contender, in the order the races interleave them.
    pub const ALL: [Contender; 5] =
        [Contender::Wengert, Contender::WengertNewTape, Contender::Echidna, Contender::Reverse, Contender::Hand];

    /// The name in tables and in `RESULT ... impl=NAME` lines. The reused tape keeps the name
    /// `wengert` that scripts (scripts/race.sh) already read.
    ///
    /// ```
    /// use wengert_bench::contenders::Contender;
    /// let names: Vec<_> = Contender::ALL.iter().map(|c| c.name()).collect();
    /// assert_eq!(names, ["wengert", "wengert-new-tape", "echidna", "reverse", "hand"]);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Contender::Wengert => "wengert",
            Contender::WengertNewTape => "wengert-new-tape",
            Contender::Echidna => "echidna",
            Contender::Reverse => "reverse",
            Contender::Hand => "hand",
        }
    }

    /// One line on what the contender runs, for `--help`.
    ///
    /// ```
    /// use wengert_bench::contenders::Contender;
    /// assert!(Contender::Echidna.description().contains("echidna::grad"));
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            Contender::Wengert => "wengert, one Tape cleared and reused for every gradient (its buffers are kept)",
            Contender::WengertNewTape => {
                "wengert, `let tape = Tape::new();` for every gradient (the README's code), dropped after it"
            }
            Contender::Echidna => {
                "echidna 0.15, `echidna::grad` on Reverse<f64> (it clears and reuses a tape pooled per thread)"
            }
            Contender::Reverse => "reverse 0.2, a new reverse::Tape per gradient, `f.grad().wrt(&vars)`",
            Contender::Hand => "the gradient written out by hand in one loop, no tape",
        }
    }
}

/// The contenders listed for `--help`, one per line.
///
/// ```
/// let help = wengert_bench::contenders::help();
/// assert_eq!(help.lines().filter(|l| l.starts_with("  ")).count(), 5);
/// ```
pub fn help() -> String {
    let mut text = String::from(
        "Contenders of the scalar workloads (rosen, chain), raced in this process, interleaved step by step,\n\
         each checked against the hand-written gradient before timing:\n",
    );
    for contender in Contender::ALL {
        text += &format!("  {:<17} {}\n", contender.name(), contender.description());
    }
    text
}

/// Largest relative difference allowed between a contender's numbers and the hand-written ones.
pub const TOLERANCE: f64 = 1e-12;

/// A contender whose f or gradient differs from the hand-written one by more than [`TOLERANCE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// `rosen` or `chain`.
    pub workload: &'static str,
    pub contender: Contender,
    /// `f` or `gradient[i]`.
    pub what: String,
    /// The contender's number.
    pub got: f64,
    /// The hand-written code's number.
    pub want: f64,
    /// Their [`relative_error`].
    pub error: f64,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: contender {} computes {} = {:e}, the hand-written code {:e} (relative error {:.1e} > {TOLERANCE:e})",
            self.workload,
            self.contender.name(),
            self.what,
            self.got,
            self.want,
            self.error
        )
    }
}

impl std::error::Error for Mismatch {}

/// |got - want| / max(|want|, 1): relative, but absolute for numbers under 1 in size, so that
/// a component that cancels to nearly 0 does not demand more digits than f64 has.
///
/// ```
/// use wengert_bench::contenders::relative_error;
/// assert_eq!(relative_error(101.0, 100.0), 0.01);
/// assert_eq!(relative_error(0.25, 0.0), 0.25);
/// ```
pub fn relative_error(got: f64, want: f64) -> f64 {
    let error = (got - want).abs() / want.abs().max(1.0);
    // A NaN must fail the check, not slip past a comparison.
    if error.is_nan() {
        f64::INFINITY
    } else {
        error
    }
}

/// Compares a contender's f and gradient with the hand-written ones.
///
/// # Errors
///
/// The first number whose [`relative_error`] exceeds [`TOLERANCE`], as a [`Mismatch`].
///
/// ```
/// use wengert_bench::contenders::{compare, Contender};
/// assert!(compare("rosen", Contender::Reverse, (1.0, &[2.0]), (1.0, &[2.0])).is_ok());
/// let mismatch = compare("rosen", Contender::Reverse, (1.0, &[2.1]), (1.0, &[2.0])).unwrap_err();
/// assert_eq!(mismatch.what, "gradient[0]");
/// assert!(mismatch.to_string().starts_with("rosen: contender reverse"));
/// ```
pub fn compare(
    workload: &'static str,
    contender: Contender,
    (f_got, gradient_got): (f64, &[f64]),
    (f_want, gradient_want): (f64, &[f64]),
) -> Result<(), Mismatch> {
    assert_eq!(gradient_got.len(), gradient_want.len(), "compare: gradients of different lengths");
    let numbers = std::iter::once((String::from("f"), f_got, f_want)).chain(
        gradient_got
            .iter()
            .zip(gradient_want)
            .enumerate()
            .map(|(i, (&got, &want))| (format!("gradient[{i}]"), got, want)),
    );
    for (what, got, want) in numbers {
        let error = relative_error(got, want);
        if error > TOLERANCE {
            return Err(Mismatch { workload, contender, what, got, want, error });
        }
    }
    Ok(())
}

/// What the contenders keep between gradients: wengert's reused tape (the other contenders
/// start afresh each time or keep their own state, as echidna's thread-local pool).
#[derive(Default)]
pub struct Contenders {
    tape: Tape<f64>,
}

impl Contenders {
    /// Contenders with an empty reused tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// Nodes the reused tape holds: those of the last gradient `Contender::Wengert` computed.
    pub fn reused_tape_len(&self) -> usize {
        self.tape.len()
    }

    /// Rosenbrock's f at `x` as `contender` computes it; writes the gradient into `gradient`.
    ///
    /// # Panics
    ///
    /// If `x` has fewer than 2 elements or `gradient` is not as long as `x`.
    ///
    /// ```
    /// use wengert_bench::contenders::{Contender, Contenders};
    /// let mut contenders = Contenders::new();
    /// for contender in Contender::ALL {
    ///     let mut gradient = [0.0; 2];
    ///     assert_eq!(contenders.rosenbrock(contender, &[0.0, 0.0], &mut gradient), 1.0);
    ///     assert_eq!(gradient, [-2.0, 0.0]);
    /// }
    /// ```
    pub fn rosenbrock(&mut self, contender: Contender, x: &[f64], gradient: &mut [f64]) -> f64 {
        match contender {
            Contender::Wengert => scalar::rosenbrock_tape(&mut self.tape, x, gradient),
            Contender::WengertNewTape => scalar::rosenbrock_new_tape(x, gradient),
            Contender::Echidna => peers::rosenbrock_echidna(x, gradient),
            Contender::Reverse => peers::rosenbrock_reverse(x, gradient),
            Contender::Hand => scalar::rosenbrock_hand(x, gradient),
        }
    }

    /// The chain of `ops` ops from y = x as `contender` computes it: (y, dy/dx).
    ///
    /// ```
    /// use wengert_bench::contenders::{Contender, Contenders};
    /// use wengert_bench::scalar::{MULTIPLIER, SHIFT};
    /// let mut contenders = Contenders::new();
    /// for contender in Contender::ALL {
    ///     assert_eq!(contenders.chain(contender, 2.0, 2), (MULTIPLIER * 2.0 + SHIFT, MULTIPLIER));
    /// }
    /// ```
    pub fn chain(&mut self, contender: Contender, x: f64, ops: usize) -> (f64, f64) {
        match contender {
            Contender::Wengert => scalar::chain_tape(&mut self.tape, x, ops),
            Contender::WengertNewTape => scalar::chain_new_tape(x, ops),
            Contender::Echidna => peers::chain_echidna(x, ops),
            Contender::Reverse => peers::chain_reverse(x, ops),
            Contender::Hand => scalar::chain_hand(x, ops),
        }
    }

    /// Checks every contender's Rosenbrock f and gradient at `x` against the hand-written ones.
    ///
    /// # Errors
    ///
    /// The first contender that differs, as a [`Mismatch`] naming it.
    ///
    /// ```
    /// use wengert_bench::contenders::Contenders;
    /// assert!(Contenders::new().check_rosenbrock(&[0.3, -0.7, 1.2]).is_ok());
    /// ```
    pub fn check_rosenbrock(&mut self, x: &[f64]) -> Result<(), Mismatch> {
        let mut want = vec![0.0; x.len()];
        let f_want = scalar::rosenbrock_hand(x, &mut want);
        let mut got = vec![0.0; x.len()];
        for contender in Contender::ALL {
            let f_got = self.rosenbrock(contender, x, &mut got);
            compare("rosen", contender, (f_got, &got), (f_want, &want))?;
        }
        Ok(())
    }

    /// Checks every contender's chain (y and dy/dx) against the hand-written one.
    ///
    /// # Errors
    ///
    /// The first contender that differs, as a [`Mismatch`] naming it.
    ///
    /// ```
    /// use wengert_bench::contenders::Contenders;
    /// assert!(Contenders::new().check_chain(0.5, 1000).is_ok());
    /// ```
    pub fn check_chain(&mut self, x: f64, ops: usize) -> Result<(), Mismatch> {
        let (y_want, dy_want) = scalar::chain_hand(x, ops);
        for contender in Contender::ALL {
            let (y_got, dy_got) = self.chain(contender, x, ops);
            compare("chain", contender, (y_got, &[dy_got]), (y_want, &[dy_want]))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::rosenbrock_start;

    #[test]
    fn every_contender_computes_the_hand_written_rosenbrock_gradient() {
        // The bench's own start, n = 10; each contender compared on its own so a failure names it.
        let x = rosenbrock_start(10);
        let mut want = [0.0; 10];
        let f_want = scalar::rosenbrock_hand(&x, &mut want);
        let mut contenders = Contenders::new();
        for contender in Contender::ALL {
            let mut got = [0.0; 10];
            let f_got = contenders.rosenbrock(contender, &x, &mut got);
            assert!(relative_error(f_got, f_want) <= TOLERANCE, "{contender:?}: f = {f_got}, want {f_want}");
            for i in 0..10 {
                let error = relative_error(got[i], want[i]);
                assert!(error <= TOLERANCE, "{contender:?}: df/dx_{i} = {}, want {} ({error:e})", got[i], want[i]);
            }
        }
        assert!(contenders.check_rosenbrock(&x).is_ok());
    }

    #[test]
    fn every_contender_computes_the_chain_derivative_c_to_the_number_of_multiplies() {
        // 1001 ops: 501 multiplies by c and 500 shifts, so dy/dx = c^501 in closed form.
        let want = scalar::MULTIPLIER.powi(501);
        let mut contenders = Contenders::new();
        for contender in Contender::ALL {
            let (_, dy) = contenders.chain(contender, 0.5, 1001);
            assert!(relative_error(dy, want) <= TOLERANCE, "{contender:?}: dy/dx = {dy}, want {want}");
        }
        assert!(contenders.check_chain(0.5, 1001).is_ok());
    }

    #[test]
    fn a_reused_tape_gives_the_same_gradient_every_time() {
        let x = rosenbrock_start(10);
        let mut contenders = Contenders::new();
        let (mut first, mut second) = ([0.0; 10], [0.0; 10]);
        contenders.rosenbrock(Contender::Wengert, &x, &mut first);
        let len = contenders.reused_tape_len();
        contenders.rosenbrock(Contender::Wengert, &x, &mut second);
        assert_eq!(first, second);
        assert_eq!(contenders.reused_tape_len(), len, "the reused tape must be cleared between gradients");
    }

    #[test]
    fn a_wrong_gradient_fails_the_check_and_names_the_contender() {
        let want = [1.0, -3.0];
        let mismatch = compare("rosen", Contender::Echidna, (2.0, &[1.0, -3.0 * (1.0 + 1e-9)]), (2.0, &want))
            .expect_err("a 1e-9 relative error must fail");
        assert_eq!((mismatch.contender, mismatch.what.as_str()), (Contender::Echidna, "gradient[1]"));
        assert!(mismatch.to_string().contains("contender echidna"));
        let nan = compare("chain", Contender::Reverse, (f64::NAN, &[1.0]), (2.0, &[1.0]));
        assert_eq!(nan.map_err(|m| m.what), Err(String::from("f")));
    }
}
