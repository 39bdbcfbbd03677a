//! Sources: leaves and detach: the values a computation starts from. A trainable leaf's adjoint is
//! its gradient (G1); a constant and a detached value get none.

use super::op_family;
use crate::registry::{Arity, Check, Gradient, OpSpec, Reads};

op_family! {
    /// A node that applies no rule.
    enum Source {
        /// A trainable leaf, made by `Tape::var`.
        Parameter => OpSpec {
            name: "var", notes: "G1", formula: "var", arity: Arity::Fixed(0), reads: Reads::Nothing,
            gradient: Gradient::Always, constants: 0,
            explain: &["parameter: its adjoint is its gradient"],
            check: Check::Exempt("a leaf: every other op's check reads its gradient"),
        },
        /// A leaf without gradient, made by `Tape::constant`.
        Constant => OpSpec {
            name: "constant", notes: "", formula: "constant", arity: Arity::Fixed(0), reads: Reads::Nothing,
            gradient: Gradient::Never, constants: 0,
            explain: &["a constant: no adjoint"],
            check: Check::Exempt("a leaf without gradient"),
        },
        /// `x.detach()`: the value of x entered as a constant.
        Detach => OpSpec {
            name: "detach", notes: "", formula: "detach", arity: Arity::Fixed(1), reads: Reads::Nothing,
            gradient: Gradient::Never, constants: 0,
            explain: &["detached: no adjoint flows through it"],
            check: Check::Exempt("no gradient flows through it (custom_ops.rs tests that none does)"),
        },
    }
}
