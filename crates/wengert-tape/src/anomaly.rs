//! Anomaly mode: the first value or adjoint that is NaN or infinite stops the computation
//! with an [`Anomaly`] naming the node, its op, its inputs' ops and where it was recorded.
//!
//! Off by default and free when off: one flag test per node recorded and per node swept.
//! When on, every node also remembers the caller's file and line (via `#[track_caller]`).

use crate::custom::CustomOp;
use crate::ops::node_op_name;
use crate::tape::Node;
use crate::{Real, Tape};
use std::fmt;
use std::panic::Location;
use std::rc::Rc;

/// The nodes and the custom ops they name.
/// The recorded nodes, the extra inputs of custom ops, and the custom ops.
pub(crate) type Graph<'a, T> = (&'a [Node], &'a [u32], &'a [Rc<dyn CustomOp<T>>]);

/// The tape's anomaly-mode state.
#[derive(Default)]
pub(crate) struct AnomalyMode {
    pub enabled: bool,
    /// Where each node recorded while the mode was on was recorded, in node order.
    pub locations: Vec<(u32, &'static Location<'static>)>,
}

impl AnomalyMode {
    fn location(&self, index: u32) -> Option<&'static Location<'static>> {
        self.locations.binary_search_by_key(&index, |&(i, _)| i).ok().map(|at| self.locations[at].1)
    }
}

/// Where an anomaly showed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// In the node's forward value.
    Forward,
    /// In the adjoint of the node's input number `input` (0-based), written by the node's
    /// backward rule.
    Backward { input: usize },
}

/// A NaN or infinity caught in anomaly mode.
///
/// # Examples
///
/// ```
/// use wengert_tape::{anomaly::Phase, BackwardError, Tape};
/// let tape = Tape::<f64>::new();
/// tape.set_anomaly_detection(true);
/// let x = tape.var(0.0);
/// let y = x.sqrt(); // sqrt(0) = 0 is fine; its derivative 1 / (2 sqrt 0) is not
/// let anomaly = tape.try_backward(y).err().and_then(BackwardError::into_anomaly).expect("an infinite adjoint");
/// assert_eq!((anomaly.node, anomaly.op, anomaly.phase), (1, "sqrt", Phase::Backward { input: 0 }));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// The node's index on the tape.
    pub node: usize,
    /// The node's op.
    pub op: &'static str,
    /// Its inputs: (index, op).
    pub inputs: Vec<(usize, &'static str)>,
    pub phase: Phase,
    /// What was found: "NaN", "inf" or "-inf".
    pub found: &'static str,
    /// `file:line:column` where the node was recorded, if anomaly mode was on then.
    pub location: Option<String>,
}

fn first_non_finite<T: Real>(values: &[T]) -> Option<&'static str> {
    values.iter().find(|v| !v.is_finite()).map(|v| {
        if v.is_nan() {
            "NaN"
        } else if *v > T::zero() {
            "inf"
        } else {
            "-inf"
        }
    })
}

impl Anomaly {
    fn new<T: Real>(
        (nodes, extra_inputs, custom_ops): Graph<'_, T>,
        index: u32,
        phase: Phase,
        found: &'static str,
        location: Option<&Location<'_>>,
    ) -> Self {
        let node = &nodes[index as usize];
        let name = |i: u32| node_op_name(&nodes[i as usize], custom_ops);
        Anomaly {
            node: index as usize,
            op: name(index),
            inputs: node.inputs(extra_inputs).iter().map(|&i| (i as usize, name(i))).collect(),
            phase,
            found,
            location: location.map(|l| l.to_string()),
        }
    }

    /// The anomaly in a freshly recorded node's value, if any.
    pub(crate) fn in_forward<T: Real>(
        graph: Graph<'_, T>,
        index: u32,
        value: &[T],
        location: &Location<'_>,
    ) -> Option<Self> {
        let found = first_non_finite(value)?;
        Some(Anomaly::new(graph, index, Phase::Forward, found, Some(location)))
    }

    /// The anomaly in the adjoints a node's backward rule has just written, if any.
    pub(crate) fn in_backward<T: Real>(
        mode: &AnomalyMode,
        graph: Graph<'_, T>,
        index: u32,
        adjoints: &[T],
    ) -> Option<Self> {
        let (nodes, extra_inputs, _) = graph;
        let node = &nodes[index as usize];
        node.inputs(extra_inputs).iter().enumerate().find_map(|(k, &input)| {
            let input = &nodes[input as usize];
            if !input.requires_grad() {
                return None;
            }
            let found = first_non_finite(&adjoints[input.adjoint_offset..input.adjoint_offset + input.shape.numel()])?;
            Some(Anomaly::new(graph, index, Phase::Backward { input: k }, found, mode.location(index)))
        })
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            Phase::Forward => {
                write!(f, "anomaly: node #{} ({}) computed {} in its value", self.node, self.op, self.found)?
            }
            Phase::Backward { input } => write!(
                f,
                "anomaly: the backward rule of node #{} ({}) made the adjoint of its input {input} {}",
                self.node, self.op, self.found
            )?,
        }
        let inputs: Vec<String> = self.inputs.iter().map(|(i, op)| format!("#{i} {op}")).collect();
        write!(f, "; inputs: [{}]", inputs.join(", "))?;
        match &self.location {
            Some(location) => write!(f, "; recorded at {location}"),
            None => write!(f, "; recorded before anomaly mode was on"),
        }
    }
}

impl std::error::Error for Anomaly {}

impl<T: Real> Tape<T> {
    /// Turns anomaly mode on or off (off by default). When on, recording a value that is NaN
    /// or infinite panics with an [`Anomaly`] message, and a sweep whose rule writes one
    /// stops: [`Tape::try_backward`] returns the anomaly, [`Tape::backward`] panics with it.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.var(-1.0);
    /// let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.ln()));
    /// let message = caught.unwrap_err().downcast::<String>().unwrap();
    /// assert!(message.starts_with("anomaly: node #1 (ln) computed NaN"), "{message}");
    /// ```
    pub fn set_anomaly_detection(&self, enabled: bool) {
        self.recording_mut().anomaly.enabled = enabled;
    }

    /// True if anomaly mode is on.
    pub fn anomaly_detection(&self) -> bool {
        self.recording.borrow().anomaly.enabled
    }
}
