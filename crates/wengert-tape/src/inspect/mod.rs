//! Looking inside a tape: a Graphviz picture of the graph ([`Tape::to_dot`],
//! [`Gradients::to_dot`]), the reverse sweep told node by node with the rule each node
//! applied ([`Gradients::explain`]), and what the tape holds in memory ([`Tape::stats`]).
//!
//! Everything here reads the tape after the fact: recording and sweeping pay nothing for it.
//!
//! ```
//! use wengert_tape::Tape;
//! let tape = Tape::<f64>::new();
//! let w = tape.var(3.0);
//! let loss = (w * w).sigmoid();
//! let grads = tape.backward(loss);
//! assert!(grads.to_dot().contains("sigmoid"));
//! assert_eq!(grads.explain().lines().len(), 3); // sigmoid, mul, var
//! assert_eq!(tape.stats().nodes, 3);
//! ```
//!
//! [`Tape::to_dot`]: crate::Tape::to_dot
//! [`Gradients::to_dot`]: crate::Gradients::to_dot
//! [`Gradients::explain`]: crate::Gradients::explain
//! [`Tape::stats`]: crate::Tape::stats

mod dot;
mod explain;
mod stats;

pub use explain::{ExplainedStep, Explanation};
pub use stats::TapeStats;

use crate::tape::{Node, Recording};
use crate::{Gradients, Real};

/// `x` with 6 significant digits, as C's `%.6g` prints it: `0.0896169`, `36`, `1.5e-07`.
pub(crate) fn number<T: Real>(x: T) -> String {
    significant(x, 6)
}

/// `x` with `digits` significant digits, as C's `%.{digits}g` prints it: fixed notation
/// unless the exponent is below -4 or at least `digits`, trailing zeros dropped. The
/// format of every number [`Gradients::explain`] prints (with 6 digits), public so that
/// tools showing the engine's numbers (the notes use 12 digits) print them the same way.
///
/// # Panics
///
/// If `digits` is 0.
///
/// # Examples
///
/// ```
/// use wengert_tape::inspect::significant;
/// assert_eq!(significant(-0.08961692722490001_f64, 12), "-0.0896169272249");
/// assert_eq!(significant(0.0723034528622_f64, 6), "0.0723035");
/// assert_eq!(significant(2.5e-12_f64, 3), "2.5e-12");
/// assert_eq!(significant(36.0_f64, 12), "36");
/// ```
pub fn significant<T: Real>(x: T, digits: usize) -> String {
    assert!(digits > 0, "significant: digits is 0, at least 1 digit is printed");
    let x = x.to_f64().unwrap_or(f64::NAN);
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    // The exponent after rounding to `digits` digits decides between fixed and scientific notation.
    let mantissa_decimals = digits - 1;
    let scientific = format!("{x:.mantissa_decimals$e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    let digits_i32 = i32::try_from(digits).unwrap_or(i32::MAX);
    if (-4..digits_i32).contains(&exponent) {
        let decimals = usize::try_from(digits_i32 - 1 - exponent).expect("the exponent is below `digits`");
        trim_zeros(format!("{x:.decimals$}"))
    } else {
        format!("{}e{exponent:+03}", trim_zeros(mantissa.to_string()))
    }
}

/// `"0.500000"` -> `"0.5"`, `"36.0000"` -> `"36"`; a number without a point is left alone.
fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A short description of a block of numbers: the number itself for one element, all of
/// them for up to four, else the first three; and, beyond four, a second part with the
/// minimum, mean and maximum.
pub(crate) fn summary<T: Real>(values: &[T]) -> (String, Option<String>) {
    const SHOWN: usize = 3;
    match values {
        [] => ("[]".to_string(), None),
        [x] => (number(*x), None),
        _ if values.len() <= SHOWN + 1 => (format!("[{}]", join(values)), None),
        _ => {
            let head = format!("[{}, ...]", join(&values[..SHOWN]));
            let min = values.iter().copied().fold(T::infinity(), T::min);
            let max = values.iter().copied().fold(T::neg_infinity(), T::max);
            let mean = values.iter().fold(T::zero(), |s, &v| s + v) / T::lit(values.len() as f64);
            (head, Some(format!("min {}, mean {}, max {}", number(min), number(mean), number(max))))
        }
    }
}

/// [`summary`] on one line.
pub(crate) fn summary_line<T: Real>(values: &[T]) -> String {
    match summary(values) {
        (head, None) => head,
        (head, Some(range)) => format!("{head} ({range})"),
    }
}

fn join<T: Real>(values: &[T]) -> String {
    values.iter().map(|&v| number(v)).collect::<Vec<_>>().join(", ")
}

/// Which nodes the reverse sweep from `output` reached: the output, if it needs an adjoint,
/// and every node that needs one and feeds a reached node. The same walk as the sweep's.
pub(crate) fn reached_from<T>(recording: &Recording<T>, output: usize) -> Vec<bool> {
    let nodes = &recording.nodes;
    let mut reached = vec![false; nodes.len()];
    if output >= nodes.len() || !nodes[output].requires_grad() {
        return reached;
    }
    reached[output] = true;
    for index in (0..=output).rev() {
        if reached[index] {
            for &input in recording.inputs_of(index) {
                if nodes[input as usize].requires_grad() {
                    reached[input as usize] = true;
                }
            }
        }
    }
    reached
}

/// A node's adjoint in a sweep's arena, or `None` if it has none (or was recorded after
/// the sweep, beyond the arena).
pub(crate) fn adjoint_of<'a, T>(grads: &'a Gradients<'_, T>, node: &Node) -> Option<&'a [T]> {
    if !node.requires_grad() {
        return None;
    }
    grads.adjoints.get(node.adjoint_offset..node.adjoint_offset + node.shape.numel())
}

/// A node's value in the tape's value arena.
pub(crate) fn value_of<'a, T>(values: &'a [T], node: &Node) -> &'a [T] {
    &values[node.value_offset..node.value_offset + node.shape.numel()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_percent_six_g() {
        let cases: [(f64, &str); 12] = [
            (36.0, "36"),
            (0.5, "0.5"),
            (-0.0896169272249, "-0.0896169"),
            (0.0723034528622, "0.0723035"),
            (123456.7, "123457"),
            (999999.7, "1e+06"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (-2.5e12, "-2.5e+12"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(number(x), want, "number({x:e})");
        }
        assert_eq!(number(0.1_f32), "0.1");
    }

    #[test]
    fn twelve_significant_digits_print_the_notes_numbers() {
        // The notes' 6a numbers, given there with 12 significant digits (%.12g).
        let cases: [(f64, &str); 5] = [
            (-0.0896169272249, "-0.0896169272249"),
            (0.0723034528622, "0.0723034528622"),
            (-0.000883387317786, "-0.000883387317786"),
            (0.24, "0.24"),
            (1.0 / 3.0, "0.333333333333"),
        ];
        for (x, want) in cases {
            assert_eq!(significant(x, 12), want, "significant({x:e}, 12)");
        }
        assert_eq!(significant(123456789012345.0_f64, 12), "1.23456789012e+14");
        assert_eq!(significant(0.00001234_f64, 12), "1.234e-05");
    }

    #[test]
    fn summaries_list_short_blocks_and_give_the_range_of_long_ones() {
        assert_eq!(summary(&[2.0_f64]), ("2".to_string(), None));
        assert_eq!(summary(&[1.0_f64, 2.0, 3.0, 4.0]), ("[1, 2, 3, 4]".to_string(), None));
        let (head, range) = summary(&[1.0_f64, 2.0, 3.0, 4.0, 10.0]);
        assert_eq!(head, "[1, 2, 3, ...]");
        // mean (1 + 2 + 3 + 4 + 10) / 5 = 4.
        assert_eq!(range.as_deref(), Some("min 1, mean 4, max 10"));
    }
}
