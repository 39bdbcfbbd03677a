//! Anomaly mode: the first NaN or infinity, in a forward value or in an adjoint, is caught
//! at the node that produced it, named with its op, its inputs' ops and where it was
//! recorded; with the mode off the same computations run on silently.

use std::panic::{catch_unwind, AssertUnwindSafe};
use wengert_tape::anomaly::Phase;
use wengert_tape::{BackwardError, Tape, Tensor};

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("anomaly mode should stop this");
    payload.downcast::<String>().map(|s| *s).expect("a formatted message")
}

#[test]
fn log_of_a_negative_is_caught_at_the_ln_node_in_forward() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(2.0);
    let shifted = x - 3.0; // node 1: -1, still finite
    let line = line!() + 2; // the line of `shifted.ln()` below
    let message = panic_message(|| {
        let _ = shifted.ln();
    });
    assert!(message.starts_with("anomaly: node #2 (ln) computed NaN in its value"), "{message}");
    assert!(message.contains("inputs: [#1 add_scalar]"), "{message}");
    assert!(message.contains(&format!("anomaly.rs:{line}:")), "the caller's line {line}: {message}");
}

#[test]
fn zero_over_zero_is_caught_at_the_div_node_in_forward() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let (a, b) = (tape.var(0.0), tape.constant(0.0));
    let message = panic_message(|| {
        let _ = a / b;
    });
    assert!(message.starts_with("anomaly: node #2 (div) computed NaN"), "{message}");
    assert!(message.contains("inputs: [#0 var, #1 constant]"), "{message}");
}

#[test]
fn overflowing_exp_is_caught_at_the_exp_node_in_forward() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(&Tensor::from_slice(&[1.0, 800.0]));
    let message = panic_message(|| {
        let _ = x.exp();
    });
    assert!(message.starts_with("anomaly: node #1 (exp) computed inf"), "{message}");
}

#[test]
fn infinite_derivative_of_sqrt_at_zero_is_caught_in_backward() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(0.0);
    let y = x.sqrt() * 2.0; // forward values 0 and 0: finite
    let anomaly = tape.try_backward(y).err().and_then(BackwardError::into_anomaly).expect("d sqrt(x)/dx = inf at 0");
    assert_eq!(
        (anomaly.node, anomaly.op, anomaly.phase, anomaly.found),
        (1, "sqrt", Phase::Backward { input: 0 }, "inf")
    );
    assert_eq!(anomaly.inputs, [(0, "var")]);
    assert!(anomaly.location.as_deref().is_some_and(|l| l.contains("anomaly.rs")));
}

#[test]
fn underflowing_denominator_is_caught_at_the_div_node_in_backward() {
    // x / y with x = y = 1e-200: the value is 1 and the loss 1e200, both finite. The div
    // rule's d/dy = -upstream * (x / y) / y = -1e200 * 1 / 1e-200 = -1e400 overflows to -inf.
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let (x, y) = (tape.var(1e-200), tape.var(1e-200));
    let ratio = x / y;
    let loss = ratio * 1e200;
    let anomaly = tape.try_backward(loss).err().and_then(BackwardError::into_anomaly).expect("an overflowing adjoint");
    assert_eq!((anomaly.node, anomaly.op), (2, "div"));
    assert!(matches!(anomaly.phase, Phase::Backward { .. }), "{anomaly}");
}

#[test]
fn backward_panics_with_the_anomaly_message() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(0.0);
    let y = x.sqrt();
    let message = panic_message(|| {
        let _ = tape.backward(y);
    });
    assert!(
        message.starts_with("anomaly: the backward rule of node #1 (sqrt) made the adjoint of its input 0 inf"),
        "{message}"
    );
}

#[test]
fn with_anomaly_mode_off_nothing_is_checked() {
    let tape = Tape::<f64>::new();
    assert!(!tape.anomaly_detection());
    let x = tape.var(-1.0);
    assert!(x.ln().value().is_nan());
    let z = tape.var(0.0);
    assert_eq!(tape.try_backward(z.sqrt()).unwrap().wrt(z), f64::INFINITY);
}

#[test]
fn anomaly_mode_can_be_switched_on_midway() {
    let tape = Tape::<f64>::new();
    let x = tape.var(0.0);
    let y = x.sqrt(); // recorded before the mode was on
    tape.set_anomaly_detection(true);
    let anomaly = tape.try_backward(y).err().and_then(BackwardError::into_anomaly).unwrap();
    assert_eq!(anomaly.location, None);
    assert!(anomaly.to_string().contains("recorded before anomaly mode was on"));
}

#[test]
fn log_near_zero_is_caught_at_the_ln_node_in_backward() {
    // ln(1e-310) = -713.8 is finite; its derivative 1 / 1e-310 overflows to inf.
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(1e-310);
    let y = x.ln();
    assert!(y.value().is_finite());
    let anomaly = tape.try_backward(y).err().and_then(BackwardError::into_anomaly).expect("an infinite adjoint");
    assert_eq!((anomaly.node, anomaly.op, anomaly.found), (1, "ln", "inf"));
}

#[test]
fn overflowing_exp_is_caught_at_the_exp_node_in_backward() {
    // t = e^x - e^x = 0 and L = 1e300 t = 0 are finite, but each exp node receives the
    // upstream +/-1e300 and its rule multiplies it by e^700 = 1e304: +/-inf.
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(700.0);
    let (a, b) = (x.exp(), x.exp());
    let loss = (a - b) * 1e300;
    assert_eq!(loss.value(), 0.0);
    let anomaly = tape.try_backward(loss).err().and_then(BackwardError::into_anomaly).expect("an overflowing adjoint");
    // The sweep meets the later exp node (#2) first.
    assert_eq!((anomaly.node, anomaly.op, anomaly.found), (2, "exp", "-inf"));
}

#[test]
fn zero_times_infinity_is_caught_as_nan_in_backward() {
    // sqrt(0) * 0: values 0 and 0; the sqrt rule multiplies the upstream 0 by 1 / (2 sqrt 0)
    // = inf, the indeterminate 0 x inf, and writes NaN.
    let tape = Tape::<f64>::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(0.0);
    let loss = x.sqrt() * 0.0;
    let anomaly = tape.try_backward(loss).err().and_then(BackwardError::into_anomaly).expect("a NaN adjoint");
    assert_eq!((anomaly.node, anomaly.op, anomaly.found), (1, "sqrt", "NaN"));
}
