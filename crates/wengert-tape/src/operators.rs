//! Operator overloading for [`Var`]: `a + b`, `2.0 * x`, `x - 1.0`, `-x`, all recording
//! on the tape. Arithmetic with a plain number records one node, with the number inside it.

use crate::ops::binary::binary;
use crate::ops::unary::unary;
use crate::ops::{Binary, Unary};
use crate::{Real, Var};
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! var_with_var {
    ($trait:ident, $method:ident, $op:expr) => {
        impl<'t, T: Real> $trait<Var<'t, T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            #[inline]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                binary($op, self, rhs)
            }
        }
    };
}

var_with_var!(Add, add, Binary::Add);
var_with_var!(Sub, sub, Binary::Sub);
var_with_var!(Mul, mul, Binary::Mul);
var_with_var!(Div, div, Binary::Div);

impl<'t, T: Real> Add<T> for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    #[inline]
    fn add(self, c: T) -> Var<'t, T> {
        unary(Unary::AddScalar, &[c], self)
    }
}

impl<'t, T: Real> Sub<T> for Var<'t, T> {
    type Output = Var<'t, T>;
    /// `x - c`, recorded as `x + (-c)`: the same number in IEEE arithmetic.
    #[track_caller]
    #[inline]
    fn sub(self, c: T) -> Var<'t, T> {
        unary(Unary::AddScalar, &[-c], self)
    }
}

impl<'t, T: Real> Mul<T> for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    #[inline]
    fn mul(self, c: T) -> Var<'t, T> {
        unary(Unary::MulScalar, &[c], self)
    }
}

impl<'t, T: Real> Div<T> for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    #[inline]
    fn div(self, c: T) -> Var<'t, T> {
        unary(Unary::DivScalar, &[c], self)
    }
}

impl<'t, T: Real> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    #[inline]
    fn neg(self) -> Var<'t, T> {
        unary(Unary::Neg, &[], self)
    }
}

/// A plain number on the left: `2.0 * x`, `1.0 - x`, `1.0 / x`.
macro_rules! number_with_var {
    ($t:ty) => {
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            #[inline]
            fn add(self, x: Var<'t, $t>) -> Var<'t, $t> {
                unary(Unary::AddScalar, &[self], x)
            }
        }
        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            #[inline]
            fn sub(self, x: Var<'t, $t>) -> Var<'t, $t> {
                unary(Unary::ScalarSub, &[self], x)
            }
        }
        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            #[inline]
            fn mul(self, x: Var<'t, $t>) -> Var<'t, $t> {
                unary(Unary::MulScalar, &[self], x)
            }
        }
        impl<'t> Div<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            #[inline]
            fn div(self, x: Var<'t, $t>) -> Var<'t, $t> {
                unary(Unary::ScalarDiv, &[self], x)
            }
        }
    };
}

number_with_var!(f32);
number_with_var!(f64);

#[cfg(test)]
mod tests {
    use crate::Tape;

    #[test]
    fn numbers_on_either_side_record_one_node_each() {
        let tape = Tape::<f64>::new();
        let x = tape.var(2.0);
        let y = (2.0 * x) + (x - 1.0) + (1.0 - x) + (x / 4.0) + (8.0 / x) + (3.0 + x);
        // 1 leaf, 6 number ops, 5 additions.
        assert_eq!(tape.len(), 12);
        // 2x + (x - 1) + (1 - x) + x/4 + 8/x + 3 + x at x = 2: 4 + 1 - 1 + 0.5 + 4 + 5.
        assert_eq!(y.value(), 13.5);
        // d/dx = 2 + 1 - 1 + 1/4 - 8/x^2 + 1 = 1.25 at x = 2.
        assert_eq!(tape.backward(y).wrt(x), 1.25);
    }
}
