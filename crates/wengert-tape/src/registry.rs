//! Every op the engine knows, each described once: its name, arity, what its rule reads, the
//! formula it implements (an anchor of `docs/derivations.md`), its explanation, and how the
//! property suite probes it.
//!
//! The descriptors are data: the sweep, the inspector (DOT, explain, stats), anomaly mode and
//! the finite-difference property suite read them. An op's forward and its vector-Jacobian
//! rule sit beside its descriptor, in its family's file under `src/ops/`.
//!
//! ```
//! use wengert_tape::registry;
//! let sigmoid = registry::all().find(|op| op.name == "sigmoid").unwrap();
//! assert_eq!((sigmoid.notes, sigmoid.formula), ("F2", "sigmoid"));
//! assert_eq!(sigmoid.explain, &["dz = g (.) s (1 - s)"]);
//! // Every op has a distinct name.
//! let mut names: Vec<_> = registry::all().map(|op| op.name).collect();
//! names.sort();
//! let count = names.len();
//! names.dedup();
//! assert_eq!(names.len(), count);
//! ```

use crate::{Shape, Var};

/// The value a vector-Jacobian rule reads besides the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Only the upstream (and shapes, and the op's constants).
    Nothing,
    /// The inputs' values.
    Input,
    /// The op's own output.
    Output,
    /// Inputs and output.
    Both,
}

/// How many inputs an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many (0 for a leaf).
    Fixed(usize),
    /// Any number, kept in the tape's side list of inputs (custom ops, concat, stack).
    Variadic,
}

/// Whether a node of the op gets an adjoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradient {
    /// Always: a trainable leaf.
    Always,
    /// Never: a constant, a detached value, an integer-valued result.
    Never,
    /// If gradients are on and an input has an adjoint.
    FromInputs,
}

/// Where the property suite draws an op's input values from: `lo..hi`, at least `margin`
/// away from each of `kinks` (where the derivative jumps and central differences average
/// two slopes), and, with `apart`, inputs that differ elementwise by at least `margin`
/// (for ops with ties, such as `maximum`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Domain {
    /// The smallest value drawn.
    pub lo: f64,
    /// The largest value drawn.
    pub hi: f64,
    /// Points to keep away from.
    pub kinks: &'static [f64],
    /// True if two inputs must not be (nearly) equal elementwise.
    pub apart: bool,
    /// How far from a kink, or from each other, values stay.
    pub margin: f64,
}

impl Domain {
    /// Any value in `-3..3`.
    pub const ANY: Domain = Domain { lo: -3.0, hi: 3.0, kinks: &[], apart: false, margin: 0.0 };
    /// Positive values, `0.2..3` (ln, sqrt, powf, pow's base).
    pub const POSITIVE: Domain = Domain { lo: 0.2, hi: 3.0, kinks: &[], apart: false, margin: 0.0 };

    /// `lo..hi`.
    pub const fn range(lo: f64, hi: f64) -> Domain {
        Domain { lo, hi, kinks: &[], apart: false, margin: 0.0 }
    }

    /// `-3..3` away from `kinks` by `1e-2`.
    pub const fn off_kinks(kinks: &'static [f64]) -> Domain {
        Domain { lo: -3.0, hi: 3.0, kinks, apart: false, margin: 1e-2 }
    }

    /// `-3..3` with inputs kept `0.05` apart (farther than f32's central-difference step).
    pub const APART: Domain = Domain { lo: -3.0, hi: 3.0, kinks: &[], apart: true, margin: 0.05 };

    /// True if `x` may be drawn.
    pub fn admits(&self, x: f64) -> bool {
        x >= self.lo && x <= self.hi && self.kinks.iter().all(|k| (x - k).abs() >= self.margin)
    }
}

/// How the property suite exercises an op: the input shapes for two random sides, the
/// values' domain, and the op applied to leaves of those shapes (in f64 and in f32).
#[derive(Clone, Copy)]
pub struct Probe {
    /// The inputs' shapes for random sides `m` and `n` (each 1 to 6).
    pub shapes: fn(usize, usize) -> Vec<Shape>,
    /// Where the values come from.
    pub domain: Domain,
    /// True for a binary elementwise op that broadcasts: the suite also tries every
    /// broadcast pairing of the two inputs.
    pub broadcasts: bool,
    /// The op on f64 leaves.
    pub apply_f64: for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>,
    /// The op on f32 leaves.
    pub apply_f32: for<'t> fn(&[Var<'t, f32>]) -> Var<'t, f32>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("domain", &self.domain).field("broadcasts", &self.broadcasts).finish()
    }
}

/// How the property suite checks an op: with a probe, or not at all, with the reason.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// Central differences on the probe.
    Probe(Probe),
    /// No gradient to check, and why (a leaf, a user's op, an integer-valued result).
    Exempt(&'static str),
}

/// One op, described once.
#[derive(Clone, Copy, Debug)]
pub struct OpSpec {
    /// The name messages, graphs and `Var::op_name` use.
    pub name: &'static str,
    /// The backpropagation notes' formula number (`"F2"`), or `""` where they have none.
    pub notes: &'static str,
    /// The anchor of the op's entry in `docs/derivations.md` (`<a id="sigmoid"></a>`).
    pub formula: &'static str,
    /// How many inputs.
    pub arity: Arity,
    /// What the rule reads.
    pub reads: Reads,
    /// Whether a node gets an adjoint.
    pub gradient: Gradient,
    /// How many numbers the op keeps after its value (`c` of `x + c`, `p` of `powf`).
    pub constants: usize,
    /// What the rule adds into each input's adjoint, one text per input in the notation of
    /// `docs/derivations.md` (`{c0}` stands for the first constant, `{N}` for the rows and
    /// `{M}` for the elements of the first input); a leaf's single text says what its
    /// adjoint is.
    pub explain: &'static [&'static str],
    /// How the property suite checks it.
    pub check: Check,
}

impl OpSpec {
    /// The descriptor most ops start from: its entry in `docs/derivations.md` anchored at its
    /// name, no formula of the notes, an adjoint from its inputs, no constants.
    pub(crate) const fn new(
        name: &'static str,
        arity: Arity,
        reads: Reads,
        explain: &'static [&'static str],
        check: Check,
    ) -> OpSpec {
        OpSpec {
            name,
            notes: "",
            formula: name,
            arity,
            reads,
            gradient: Gradient::FromInputs,
            constants: 0,
            explain,
            check,
        }
    }

    /// The same, implementing the notes' formula `notes` (`"F2"`).
    pub(crate) const fn with_notes(self, notes: &'static str) -> OpSpec {
        OpSpec { notes, ..self }
    }

    /// The same, keeping `constants` numbers after its value.
    pub(crate) const fn with_constants(self, constants: usize) -> OpSpec {
        OpSpec { constants, ..self }
    }
}

/// Every op's descriptor, family by family.
///
/// ```
/// use wengert_tape::registry;
/// assert!(registry::all().any(|op| op.name == "matmul"));
/// ```
pub fn all() -> impl Iterator<Item = &'static OpSpec> {
    crate::ops::Op::all().map(|op| op.spec())
}

/// The descriptor of the op called `name`, if there is one.
///
/// ```
/// use wengert_tape::registry;
/// assert_eq!(registry::find("tanh").map(|op| op.notes), Some("F3"));
/// assert!(registry::find("no such op").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static OpSpec> {
    all().find(|op| op.name == name)
}

/// A [`Probe`] from one expression in `v` (the input handles) that builds the op in f64 and
/// in f32 alike.
macro_rules! probe {
    (|$v:ident| $body:expr, shapes: $shapes:expr, domain: $domain:expr $(, broadcasts: $b:expr)? $(,)?) => {
        $crate::registry::Check::Probe($crate::registry::Probe {
            shapes: $shapes,
            domain: $domain,
            broadcasts: false $(|| $b)?,
            apply_f64: |$v| $body,
            apply_f32: |$v| $body,
        })
    };
}
pub(crate) use probe;
