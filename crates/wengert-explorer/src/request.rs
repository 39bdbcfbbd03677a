//! What the page asks ([`Request`]) and what it gets back ([`Response`], or an
//! [`ErrorResponse`]), as JSON. Every number the page prints arrives as a string in the
//! library's format ([`crate::show`]), so the page prints exactly what the engine computed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The graph `handle` answers when the request names none.
pub const DEFAULT_GRAPH: &str = "net231";

/// The most gradient-descent steps one request may ask for.
pub const MAX_TRAIN_STEPS: usize = 5000;

/// One question from the page.
///
/// # Examples
///
/// ```
/// use wengert_explorer::request::Request;
/// let request: Request = serde_json::from_str(r#"{"graph": "chain", "check": true}"#)?;
/// assert_eq!(request.graph, "chain");
/// assert!(request.check && request.train.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `chain`, `net231`, `xor` or `expression`.
    #[serde(default = "default_graph")]
    pub graph: String,
    /// The expression, when `graph` is `expression`.
    #[serde(default)]
    pub expression: Option<String>,
    /// New values for leaves, by name, row-major: `{"W": [0.7, 0.3, 0.5, 0.2, 0.4, 0.6]}`.
    #[serde(default)]
    pub values: BTreeMap<String, Vec<f64>>,
    /// Whether to compare every gradient with central differences.
    #[serde(default)]
    pub check: bool,
    /// Gradient-descent steps to run from the given values.
    #[serde(default)]
    pub train: Option<Train>,
}

fn default_graph() -> String {
    DEFAULT_GRAPH.to_string()
}

/// How to train: `steps` updates `theta <- theta - learning_rate dL/dtheta` (G1).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Train {
    /// How many updates, at most [`MAX_TRAIN_STEPS`].
    pub steps: usize,
    /// The learning rate, a finite positive number.
    pub learning_rate: f64,
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Response {
    /// Always `true` (an [`ErrorResponse`] has `false`).
    pub ok: bool,
    /// The graph's title.
    pub title: String,
    /// What the graph computes.
    pub description: String,
    /// Every node in recording order (node k is tape node #k).
    pub nodes: Vec<NodeOut>,
    /// The output node, the loss.
    pub output: usize,
    /// The loss, printed.
    pub loss: String,
    /// What gradients are written with: `E` in `dE/dW`; the output's label where it is a
    /// short name, else `L`.
    pub loss_name: String,
    /// The reverse sweep, one step per node it reached, from the output down to the leaves.
    pub sweep: Vec<StepOut>,
    /// The gradient of the loss with respect to every trainable leaf.
    pub gradients: Vec<GradientOut>,
    /// The comparison with central differences, when asked for.
    pub check: Option<CheckOut>,
    /// The training run, when asked for.
    pub train: Option<TrainOut>,
    /// The whole sweep as the library prints it (`Explanation`'s `Display`).
    pub explain: String,
}

/// One node of the graph.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NodeOut {
    /// Its index on the tape.
    pub id: usize,
    /// The engine's op name (`var`, `constant`, `matmul`, `sigmoid`, ...).
    pub op: String,
    /// What it stands for: a leaf's name, `net_1`, `w1 * x`.
    pub label: String,
    /// The shape as the engine prints it: `[]`, `[3]`, `[2 x 3]`.
    pub shape: String,
    /// The dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// The nodes it reads.
    pub inputs: Vec<usize>,
    /// Its value, row-major, printed.
    pub value: Vec<String>,
    /// A leaf's raw values, for the page's editors (empty for an op).
    pub raw: Vec<f64>,
    /// Whether it is a trainable leaf.
    pub trainable: bool,
    /// Whether it is a leaf.
    pub leaf: bool,
    /// Whether the sweep gives it an adjoint.
    pub requires_grad: bool,
}

/// One step of the reverse sweep.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepOut {
    /// The node.
    pub node: usize,
    /// Its op name.
    pub op: String,
    /// Its adjoint dL/d(node), row-major, printed.
    pub adjoint: Vec<String>,
    /// The rule, as `Gradients::explain` gives it: `dz = g (.) s (1 - s) -> #9`.
    pub rule: String,
    /// Where the rule comes from: `F2, #sigmoid`.
    pub source: String,
    /// The backpropagation equation (BP1-BP4) where the node belongs to a layer.
    pub equation: Option<String>,
    /// The rule with the numbers put in, one line per input it sends to.
    pub worked: Vec<String>,
    /// The line `explain` prints for this step.
    pub line: String,
}

/// A trainable leaf's gradient.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GradientOut {
    /// The leaf.
    pub node: usize,
    /// Its name.
    pub name: String,
    /// Its dimensions.
    pub dims: Vec<usize>,
    /// dL/d(leaf), row-major, printed.
    pub values: Vec<String>,
}

/// Every gradient element against central differences (G2), by `check_gradients`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckOut {
    /// Whether every element agrees within the default f64 tolerance.
    pub passes: bool,
    /// The largest |analytic - numeric|, printed.
    pub max_abs_error: String,
    /// One row per element.
    pub rows: Vec<CheckRow>,
}

/// One gradient element, both ways.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CheckRow {
    /// `W[0][2]`, `w1`.
    pub name: String,
    /// The tape's value.
    pub analytic: String,
    /// The central difference.
    pub numeric: String,
    /// Whether the two agree within the tolerance.
    pub agrees: bool,
}

/// A run of gradient descent from the request's values.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrainOut {
    /// The updates made.
    pub steps: usize,
    /// The learning rate.
    pub learning_rate: String,
    /// The loss before each update, then after the last one (`steps + 1` numbers; a value
    /// that is not finite is `null`).
    pub losses: Vec<Option<f64>>,
    /// The first loss, printed.
    pub first: String,
    /// The last loss, printed.
    pub last: String,
    /// The trainable leaves after the run, by name, for the page to keep.
    pub values: BTreeMap<String, Vec<f64>>,
}

/// A request that could not be answered: what is wrong and, for an expression, where.
///
/// # Examples
///
/// ```
/// let answer = wengert_explorer::handle(r#"{"graph": "lenet"}"#);
/// let error: serde_json::Value = serde_json::from_str(&answer)?;
/// assert_eq!(error["ok"], false);
/// assert_eq!(error["field"], "graph");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ErrorResponse {
    /// Always `false`.
    pub ok: bool,
    /// The request field at fault: `graph`, `expression`, `values.W`, `train.steps`.
    pub field: String,
    /// What is wrong.
    pub error: String,
    /// For an expression, the column (from 1) of the problem.
    pub column: Option<usize>,
}
