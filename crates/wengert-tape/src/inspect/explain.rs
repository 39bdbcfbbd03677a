//! The reverse sweep told node by node, reconstructed after it: which nodes the output's
//! adjoint reached, what adjoint each received, and which rule it applied to pass it on.
//!
//! The rule texts are one table, [`rule`], a `match` on the op in the notation of
//! `docs/derivations.md` (`g`/`G` is the upstream, `dX = ...` what the rule adds into X's
//! adjoint), each with its formula number from the notes and its row in that page's table.
//! Where a layer `A.matmul(W).add_bias(b)` followed by an activation (or a fused loss) is
//! recognised, its three lines also name the backpropagation equation they carry out
//! (BP1-BP4, notes section 4).

use super::{adjoint_of, number, op_name, reached_from, summary_line};
use crate::ops::{Activation, Binary, Op, UnaryMath};
use crate::tape::Recording;
use crate::{Gradients, Real, Shape};
use std::fmt;

/// One node of an explained sweep: what it received and what it did with it. Prints as
/// one line.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let z = tape.var(0.0);
/// let s = z.sigmoid();
/// let explanation = tape.backward(s).explain();
/// let step = &explanation.lines()[0];
/// assert_eq!((step.index, step.op, step.adjoint.as_str()), (1, "sigmoid", "1"));
/// assert_eq!(step.rule, "dz = g (.) s (1 - s) -> #0");
/// assert_eq!(step.source, "F2, row 19");
/// assert_eq!(step.to_string(), "#1 sigmoid []  adjoint 1  dz = g (.) s (1 - s) -> #0  (F2, row 19)");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainedStep {
    /// The node's index on the tape.
    pub index: usize,
    /// The op's name, as [`crate::Var::op_name`] gives it.
    pub op: &'static str,
    /// The node's shape.
    pub shape: Shape,
    /// A short summary of the adjoint the node received, dL/d(node).
    pub adjoint: String,
    /// The rule applied, with the node each contribution went to:
    /// `dX = G W^T -> #7, dW = X^T G -> #3`. A leaf says what its adjoint is.
    pub rule: String,
    /// Where the rule comes from: the notes' formula and the row of `docs/derivations.md`,
    /// e.g. `F15, rows 23-24`.
    pub source: String,
    /// The backpropagation equation this node carries out, where it belongs to a recognised
    /// layer: `layer 2: db^2 = column sums of delta^2 (BP4)`.
    pub equation: Option<String>,
}

impl fmt::Display for ExplainedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {} {}  adjoint {}  {}  ({})",
            self.index, self.op, self.shape, self.adjoint, self.rule, self.source
        )?;
        if let Some(equation) = &self.equation {
            write!(f, "  |  {equation}")?;
        }
        Ok(())
    }
}

/// The reverse sweep of a [`Gradients`], one [`ExplainedStep`] per node the sweep reached,
/// from the output down to the leaves. Made by [`Gradients::explain`]; prints as a table.
///
/// # Examples
///
/// ```
/// use wengert_tape::Tape;
/// let tape = Tape::<f64>::new();
/// let (a, b) = (tape.var(2.0), tape.var(5.0));
/// let explanation = tape.backward(a * b).explain();
/// assert_eq!(explanation.lines().len(), 3);
/// assert_eq!(explanation.lines()[0].rule, "da = g (.) b -> #0, db = g (.) a -> #1");
/// // d(ab)/da = b = 5, d(ab)/db = a = 2.
/// assert_eq!(explanation.step(0).map(|s| s.adjoint.as_str()), Some("5"));
/// assert_eq!(explanation.step(1).map(|s| s.adjoint.as_str()), Some("2"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    output: usize,
    output_op: &'static str,
    output_shape: Shape,
    steps: Vec<ExplainedStep>,
}

impl Explanation {
    /// One step per node the sweep reached, in the sweep's order (decreasing index).
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let (w, x) = (tape.var(3.0), tape.constant(2.0));
    /// let loss = (w * x).exp();
    /// let explanation = tape.backward(loss).explain();
    /// let indices: Vec<usize> = explanation.lines().iter().map(|step| step.index).collect();
    /// assert_eq!(indices, [3, 2, 0]); // exp, mul, w; the constant x is never reached
    /// assert_eq!(explanation.lines()[1].rule, "da = g (.) b -> #0; nothing for #1 (no adjoint)");
    /// ```
    pub fn lines(&self) -> &[ExplainedStep] {
        &self.steps
    }

    /// The step of node `index`, if the sweep reached it.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(0.0);
    /// let s = w.sigmoid();
    /// let explanation = tape.backward(s).explain();
    /// assert_eq!(explanation.step(1).map(|step| step.op), Some("sigmoid"));
    /// assert_eq!(explanation.step(0).map(|step| step.adjoint.as_str()), Some("0.25"));
    /// assert!(explanation.step(2).is_none());
    /// ```
    pub fn step(&self, index: usize) -> Option<&ExplainedStep> {
        self.steps.iter().find(|step| step.index == index)
    }

    /// The index of the node the sweep started from.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(1.0);
    /// let y = w.exp();
    /// assert_eq!(tape.backward(y).explain().output(), y.index());
    /// ```
    pub fn output(&self) -> usize {
        self.output
    }
}

impl fmt::Display for Explanation {
    /// A header, then one aligned line per step.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(2.0);
    /// let text = tape.backward(w.powi(3)).explain().to_string();
    /// assert!(text.starts_with("reverse sweep from #1 (powi [])"));
    /// assert!(text.contains("dx = g (.) n x^(n-1), n = 3 -> #0"));
    /// assert!(text.contains("adjoint 12")); // d(w^3)/dw = 3 w^2 at w = 2
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reverse sweep from #{} ({} {}): ", self.output, self.output_op, self.output_shape)?;
        if self.steps.is_empty() {
            return writeln!(f, "it depends on no trainable leaf, so no node was reached");
        }
        writeln!(f, "{} nodes reached, from the output down to the leaves", self.steps.len())?;
        let columns: Vec<[String; 3]> = self
            .steps
            .iter()
            .map(|step| [format!("#{}", step.index), format!("{} {}", step.op, step.shape), step.adjoint.clone()])
            .collect();
        // A long adjoint summary overflows its column rather than widening every line.
        const WIDEST_ADJOINT: usize = 48;
        let width = |k: usize| {
            columns.iter().map(|c| c[k].chars().count()).filter(|&w| k < 2 || w <= WIDEST_ADJOINT).max().unwrap_or(0)
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for (step, [index, op, adjoint]) in self.steps.iter().zip(&columns) {
            write!(f, "{index:>w0$} {op:<w1$}  adjoint {adjoint:<w2$}  {}  ({})", step.rule, step.source)?;
            if let Some(equation) = &step.equation {
                write!(f, "  |  {equation}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// What one op's backward rule adds into each input's adjoint.
struct Rule {
    /// One text per input position (`"dX = G W^T"`). A leaf has none.
    inputs: Vec<String>,
    /// What a leaf's adjoint is (leaves apply no rule).
    leaf: Option<&'static str>,
    /// The notes' formula and the row of `docs/derivations.md`.
    source: String,
}

impl Rule {
    fn new<S: ToString>(inputs: impl IntoIterator<Item = S>, source: &str) -> Rule {
        Rule { inputs: inputs.into_iter().map(|s| s.to_string()).collect(), leaf: None, source: source.to_string() }
    }

    fn leaf(text: &'static str, source: &str) -> Rule {
        Rule { inputs: Vec::new(), leaf: Some(text), source: source.to_string() }
    }
}

/// The rule table: every op's backward rule in the notation of `docs/derivations.md`, with
/// its formula (F-number) and row there. `inputs` are the input shapes, `shape` the output's;
/// `constant` is a unary function's constant (`c` of `c x`), read from the node's scratch.
fn rule<T: Real>(op: &Op, constant: T, name: &str, inputs: &[Shape], shape: Shape) -> Rule {
    // N counts the rows of the first input, M its elements (derivations.md's vocabulary).
    let rows = inputs.first().map_or(1, |s| s.rows());
    let elements = inputs.first().map_or(1, |s| s.numel());
    match op {
        Op::Parameter => Rule::leaf("parameter: its adjoint is its gradient", "G1"),
        Op::Constant => Rule::leaf("a constant: no adjoint", "-"),
        Op::Detach => Rule::leaf("detached: no adjoint flows through it", "row 39"),
        Op::Binary(binary) => {
            let (texts, row) = match binary {
                Binary::Add => (["da = g", "db = g"], "row 1"),
                Binary::Sub => (["da = g", "db = -g"], "row 2"),
                Binary::Mul => (["da = g (.) b", "db = g (.) a"], "row 3"),
                Binary::Div => (["da = g / b", "db = -g (.) y / b"], "rows 4-5"),
            };
            // A rank-0 input broadcast over a tensor collects the sum of its contributions (row 6).
            let broadcast = |k: usize| inputs.get(k).is_some_and(|s| s.is_scalar()) && !shape.is_scalar();
            let texts: Vec<String> = texts
                .iter()
                .enumerate()
                .map(|(k, text)| match text.split_once(" = ") {
                    Some((lhs, rhs)) if broadcast(k) => format!("{lhs} = sum({rhs})"),
                    _ => text.to_string(),
                })
                .collect();
            let source = if broadcast(0) || broadcast(1) { format!("{row}, row 6") } else { row.to_string() };
            Rule { inputs: texts, leaf: None, source }
        }
        Op::Unary(unary) => match unary.with_constant(constant) {
            UnaryMath::Neg => Rule::new(["dx = -g"], "row 12"),
            UnaryMath::Exp => Rule::new(["dx = g (.) y"], "row 15"),
            UnaryMath::Ln => Rule::new(["dx = g / x"], "row 16"),
            UnaryMath::Sqrt => Rule::new(["dx = g / (2 y)"], "row 17"),
            UnaryMath::Powi(n) => Rule::new([format!("dx = g (.) n x^(n-1), n = {n}")], "row 13"),
            UnaryMath::Powf(p) => Rule::new([format!("dx = g (.) p x^(p-1), p = {}", number(p))], "row 14"),
            UnaryMath::AddConst(_) => Rule::new(["dx = g"], "row 7"),
            UnaryMath::ConstSub(_) => Rule::new(["dx = -g"], "row 8"),
            UnaryMath::MulConst(c) => Rule::new([format!("dx = c g, c = {}", number(c))], "row 9"),
            UnaryMath::DivConst(c) => Rule::new([format!("dx = g / c, c = {}", number(c))], "row 10"),
            UnaryMath::ConstDiv(_) => Rule::new(["dx = -g (.) y / x"], "row 11"),
        },
        Op::Activation(activation) => match activation {
            Activation::Sigmoid => Rule::new(["dz = g (.) s (1 - s)"], "F2, row 19"),
            Activation::Tanh => Rule::new(["dz = g (.) (1 - t^2)"], "F3, row 20"),
            Activation::Relu => Rule::new(["dz = g (.) 1[z > 0]"], "F5, row 21"),
            Activation::Softplus => Rule::new(["dz = g (.) sigmoid(z)"], "F4, row 22"),
        },
        Op::MatMul => Rule::new(["dX = G W^T", "dW = X^T G"], "F15, rows 23-24"),
        Op::AddBias => Rule::new(["dX = G", "db = 1^T G, the column sums of G"], "F15, rows 25-26"),
        Op::Softmax => Rule::new(["dz = y (.) (g - (g . y)), per row"], "F6, row 27"),
        Op::LogSoftmax => Rule::new(["dz = g - softmax(z) sum_j g_j, per row"], "row 28"),
        Op::LogSumExp => Rule::new(["dz = g_row softmax(z), per row"], "row 29"),
        Op::CrossEntropy => Rule::new(
            [format!("dp = -g y / (N p), N = {rows}"), format!("dy = -g log(p) / N, N = {rows}")],
            "F8, rows 30-31",
        ),
        Op::SoftmaxCrossEntropy { .. } => {
            Rule::new([format!("dz = g (softmax(z) - onehot(k)) / N, N = {rows}")], "F11, row 32")
        }
        Op::BceWithLogits => Rule::new(
            [format!("dz = g (sigmoid(z) - y) / M, M = {elements}"), format!("dy = -g z / M, M = {elements}")],
            "F10, rows 33-34",
        ),
        Op::Mse => Rule::new(
            [format!("dp = 2 g (p - t) / M, M = {elements}"), format!("dt = 2 g (t - p) / M, M = {elements}")],
            "F14, rows 35-36",
        ),
        Op::Sum => Rule::new(["dx_i = g"], "F16, row 37"),
        Op::Mean => Rule::new([format!("dx_i = g / M, M = {elements}")], "F16, row 38"),
        Op::Custom(_) => Rule::new((0..inputs.len()).map(|k| format!("d(input {k}) = {name}'s vjp")), "row 40"),
    }
}

/// The rule as applied at one node: each text followed by the input it went to; inputs
/// without an adjoint are named as getting nothing.
fn applied<T>(rule: &Rule, index: usize, recording: &Recording<T>) -> String {
    let nodes = &recording.nodes;
    if let Some(leaf) = rule.leaf {
        return leaf.to_string();
    }
    let mut sent = Vec::new();
    let mut skipped = Vec::new();
    for (k, &input) in recording.inputs_of(index).iter().enumerate() {
        if nodes[input as usize].requires_grad() {
            let text = rule.inputs.get(k).cloned().unwrap_or_else(|| format!("d(input {k})"));
            sent.push(format!("{text} -> #{input}"));
        } else {
            skipped.push(format!("#{input}"));
        }
    }
    let mut line = sent.join(", ");
    if !skipped.is_empty() {
        line.push_str(&format!("; nothing for {} (no adjoint)", skipped.join(", ")));
    }
    line
}

/// How a recognised layer ends: an activation `A = f(Z)`, or a loss fused with its output
/// function, which gives `delta` directly.
#[derive(Clone, Copy)]
enum Head {
    Activation,
    FusedLoss { delta: &'static str, formula: &'static str },
}

/// A layer `Z = A.matmul(W).add_bias(b)`, then its head, all reached by the sweep.
struct Layer {
    number: usize,
    matmul: usize,
    add_bias: usize,
    head: usize,
    kind: Head,
}

/// Finds the layers among the reached nodes and numbers them 1, 2, ... in recording order.
fn find_layers<T>(recording: &Recording<T>, reached: &[bool]) -> Vec<Layer> {
    let nodes = &recording.nodes;
    let mut layers: Vec<Layer> = Vec::new();
    for (head, node) in nodes.iter().enumerate() {
        let kind = match node.op {
            Op::Activation(_) => Head::Activation,
            Op::SoftmaxCrossEntropy { .. } => Head::FusedLoss { delta: "(softmax(Z) - onehot(k)) / N", formula: "F11" },
            Op::BceWithLogits => Head::FusedLoss { delta: "(sigmoid(Z) - Y) / M", formula: "F10" },
            _ => continue,
        };
        if !reached[head] {
            continue;
        }
        let add_bias = recording.inputs_of(head)[0] as usize;
        if !matches!(nodes[add_bias].op, Op::AddBias) || !reached[add_bias] {
            continue;
        }
        let matmul = recording.inputs_of(add_bias)[0] as usize;
        if !matches!(nodes[matmul].op, Op::MatMul) || !reached[matmul] {
            continue;
        }
        // One head per linear map: a second activation of the same Z is not a layer of its own.
        if layers.iter().any(|layer| layer.add_bias == add_bias) {
            continue;
        }
        layers.push(Layer { number: 0, matmul, add_bias, head, kind });
    }
    layers.sort_by_key(|layer| layer.matmul);
    for (k, layer) in layers.iter_mut().enumerate() {
        layer.number = k + 1;
    }
    layers
}

/// The backpropagation equation each node of a recognised layer carries out, by node index.
fn equations<T>(recording: &Recording<T>, reached: &[bool]) -> Vec<(usize, String)> {
    let nodes = &recording.nodes;
    let layers = find_layers(recording, reached);
    let layer_with_head = |index: usize| layers.iter().find(|layer| layer.head == index);
    let mut equations = Vec::new();
    for layer in &layers {
        let l = layer.number;
        // The head: BP1 at the output layer, BP2 where the activation feeds a layer above.
        let above: Vec<&Layer> =
            layers.iter().filter(|other| recording.inputs_of(other.matmul)[0] as usize == layer.head).collect();
        let head = match layer.kind {
            Head::FusedLoss { delta, formula } => {
                let delta = delta.replace('Z', &format!("Z^{l}"));
                format!(
                    "layer {l}, the output layer: delta^{l} = dL/dZ^{l} = {delta}, BP1 with the fused loss ({formula})"
                )
            }
            Head::Activation if above.is_empty() => {
                format!("layer {l}, the output layer: delta^{l} = dL/dZ^{l} = upstream (.) f'(Z^{l}) (BP1)")
            }
            Head::Activation => {
                let flows: Vec<String> = above.iter().map(|a| format!("delta^{k} (W^{k})^T", k = a.number)).collect();
                let consumers = (layer.head + 1..nodes.len())
                    .filter(|&c| reached[c] && recording.inputs_of(c).iter().any(|&i| i as usize == layer.head))
                    .count();
                let relation = if consumers == above.len() { "=" } else { "includes" };
                format!(
                    "layer {l}: delta^{l} = dL/dZ^{l} = upstream (.) f'(Z^{l}), upstream {relation} {} (BP2)",
                    flows.join(" + ")
                )
            }
        };
        equations.push((layer.head, head));

        // add_bias: BP4 on the bias; delta passes to the matmul unchanged.
        let bias = recording.inputs_of(layer.add_bias)[1] as usize;
        let add_bias = if nodes[bias].requires_grad() {
            format!("layer {l}: db^{l} = column sums of delta^{l} (BP4); delta^{l} passes on to the matmul unchanged")
        } else {
            format!("layer {l}: delta^{l} passes on to the matmul unchanged (the bias needs no gradient)")
        };
        equations.push((layer.add_bias, add_bias));

        // matmul: BP3 on the weights; delta W^T flows to the layer below (BP2).
        let (input, weights) = match *recording.inputs_of(layer.matmul) {
            [input, weights] => (input as usize, weights as usize),
            _ => unreachable!("matmul has two inputs"),
        };
        let below = layer_with_head(input);
        let a = match below {
            Some(below) => format!("(A^{})^T", below.number),
            None => "X^T".to_string(),
        };
        let mut parts = Vec::new();
        if nodes[weights].requires_grad() {
            parts.push(format!("dW^{l} = {a} delta^{l} (BP3)"));
        }
        match below {
            Some(below) => parts.push(format!("delta^{l} (W^{l})^T flows down to layer {} (BP2)", below.number)),
            None if nodes[input].requires_grad() => parts.push(format!("dL/dX = delta^{l} (W^{l})^T -> #{input}")),
            None => {}
        }
        if !parts.is_empty() {
            equations.push((layer.matmul, format!("layer {l}: {}", parts.join(", and "))));
        }
    }
    equations
}

impl<T: Real> Gradients<'_, T> {
    /// The reverse sweep that made these gradients, node by node: every node it reached
    /// (those that need an adjoint and feed the output), from the output down to the leaves,
    /// with the adjoint each received and the rule it applied, in the notation of
    /// `docs/derivations.md`. Layers `A.matmul(W).add_bias(b)` followed by an activation or
    /// a fused loss are recognised, and their lines name BP1-BP4.
    ///
    /// It is reconstructed from the tape and the adjoints after the sweep, so the sweep
    /// itself pays nothing for it.
    ///
    /// ```
    /// use wengert_tape::{Tape, Tensor};
    /// // One sigmoid layer under a half squared error.
    /// let tape = Tape::<f64>::new();
    /// let x = tape.constant(&Tensor::from_rows(&[[1.0, 2.0]]));
    /// let w = tape.var(&Tensor::from_rows(&[[0.5], [-0.25]]));
    /// let b = tape.var(&Tensor::from_slice(&[0.0]));
    /// let y = x.matmul(w).add_bias(b).sigmoid();           // #3 matmul, #4 add_bias, #5 sigmoid
    /// let e = 0.5 * (1.0 - y).powi(2).sum();
    /// let explanation = tape.backward(e).explain();
    /// let equation = |i: usize| explanation.step(i).and_then(|s| s.equation.clone()).unwrap_or_default();
    /// assert!(equation(5).ends_with("(BP1)"));
    /// assert!(equation(4).contains("db^1 = column sums of delta^1 (BP4)"));
    /// assert!(equation(3).contains("dW^1 = X^T delta^1 (BP3)"));
    /// assert_eq!(explanation.step(3).map(|s| s.rule.as_str()), Some("dW = X^T G -> #1; nothing for #0 (no adjoint)"));
    /// // x . w + b = 0, so y = 1/2 and delta = (y - 1) y (1 - y) = -1/8.
    /// assert_eq!(explanation.step(4).map(|s| s.adjoint.as_str()), Some("-0.125"));
    /// ```
    pub fn explain(&self) -> Explanation {
        let recording = self.tape.recording.borrow();
        let nodes = &recording.nodes[..];
        let output = self.output as usize;
        let reached = reached_from(&recording, output);
        let mut equations = equations(&recording, &reached);
        let mut steps = Vec::new();
        for index in (0..=output).rev() {
            if !reached[index] {
                continue;
            }
            let node = &nodes[index];
            let name = op_name(&recording, node);
            let input_shapes: Vec<Shape> =
                recording.inputs_of(index).iter().map(|&i| nodes[i as usize].shape).collect();
            let constant = match node.op {
                Op::Unary(unary) => unary.of_node(node, &recording.values).constant(),
                _ => T::zero(),
            };
            let rule = rule(&node.op, constant, name, &input_shapes, node.shape);
            let adjoint = adjoint_of(self, node).map_or_else(|| "-".to_string(), summary_line);
            let equation = equations.iter().position(|(i, _)| *i == index).map(|k| equations.swap_remove(k).1);
            steps.push(ExplainedStep {
                index,
                op: name,
                shape: node.shape,
                adjoint,
                rule: applied(&rule, index, &recording),
                source: rule.source,
                equation,
            });
        }
        let output_node = &nodes[output];
        Explanation { output, output_op: op_name(&recording, output_node), output_shape: output_node.shape, steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Unary;

    /// The rows of `docs/derivations.md`'s table, by number: (op column, F column, backward column).
    fn derivations_rows() -> Vec<(usize, String, String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/derivations.md");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        text.lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let number = cells.get(1)?.parse().ok()?;
                let clean = |k: usize| cells.get(k).map_or(String::new(), |c| c.replace('`', ""));
                Some((number, clean(2), clean(3), clean(5)))
            })
            .collect()
    }

    /// The row numbers a source names: `"F15, rows 23-24"` -> [23, 24], `"row 9"` -> [9].
    fn rows_of(source: &str) -> Vec<usize> {
        let Some((_, rows)) = source.split_once("row") else { return Vec::new() };
        let rows = rows.trim_start_matches('s').trim();
        let rows = rows.split(',').next().unwrap_or(rows).trim();
        match rows.split_once('-') {
            Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect(),
            None => vec![rows.parse().unwrap()],
        }
    }

    #[test]
    fn every_rule_text_is_the_formula_of_its_row_in_docs_derivations() {
        let table = derivations_rows();
        assert!(table.len() >= 40, "docs/derivations.md's table has {} rows", table.len());
        let m = Shape::matrix(2, 3);
        let ops: Vec<(Op, Vec<Shape>)> = vec![
            (Op::Binary(Binary::Add), vec![m, m]),
            (Op::Binary(Binary::Sub), vec![m, m]),
            (Op::Binary(Binary::Mul), vec![m, m]),
            (Op::Binary(Binary::Div), vec![m, m]),
            (Op::Unary(Unary::Neg), vec![m]),
            (Op::Unary(Unary::Exp), vec![m]),
            (Op::Unary(Unary::Ln), vec![m]),
            (Op::Unary(Unary::Sqrt), vec![m]),
            (Op::Unary(Unary::Powi(3)), vec![m]),
            (Op::Unary(Unary::Powf), vec![m]),
            (Op::Unary(Unary::AddConst), vec![m]),
            (Op::Unary(Unary::MulConst), vec![m]),
            (Op::Unary(Unary::DivConst), vec![m]),
            (Op::Unary(Unary::ConstSub), vec![m]),
            (Op::Unary(Unary::ConstDiv), vec![m]),
            (Op::Activation(Activation::Sigmoid), vec![m]),
            (Op::Activation(Activation::Tanh), vec![m]),
            (Op::Activation(Activation::Relu), vec![m]),
            (Op::Activation(Activation::Softplus), vec![m]),
            (Op::MatMul, vec![m, Shape::matrix(3, 2)]),
            (Op::AddBias, vec![m, Shape::vector(3)]),
            (Op::Softmax, vec![m]),
            (Op::LogSoftmax, vec![m]),
            (Op::LogSumExp, vec![m]),
            (Op::CrossEntropy, vec![m, m]),
            (Op::SoftmaxCrossEntropy { labels_start: 0 }, vec![m]),
            (Op::BceWithLogits, vec![m, m]),
            (Op::Mse, vec![m, m]),
            (Op::Sum, vec![m]),
            (Op::Mean, vec![m]),
            (Op::Detach, vec![m]),
        ];
        for (op, inputs) in &ops {
            let name = op.name();
            let rule = rule(op, 2.0, name, inputs, m);
            let rows = rows_of(&rule.source);
            assert!(!rows.is_empty(), "{name}: the source {:?} names no row", rule.source);
            for &row in &rows {
                let op_cell = &table.iter().find(|r| r.0 == row).expect("row exists").1;
                assert!(op_cell.contains(&format!("({name})")), "{name}: row {row} is about {op_cell:?}");
            }
            // The formula number is the first row's (a second row, for another input, may have none).
            if let Some(f) = rule.source.split(", ").find(|part| part.starts_with('F')) {
                let formula_cell = &table.iter().find(|r| r.0 == rows[0]).expect("row exists").2;
                assert!(
                    formula_cell.contains(f),
                    "{name}: row {} has formula {formula_cell:?}, the rule says {f}",
                    rows[0]
                );
            }
            for (k, text) in rule.inputs.iter().enumerate() {
                // Input k of a two-row source is the k-th row; a one-row source covers every input.
                let row = if rows.len() == rule.inputs.len() { rows[k] } else { rows[0] };
                let backward = &table.iter().find(|r| r.0 == row).expect("row exists").3;
                let formula = text.split(", ").next().unwrap_or(text);
                assert!(backward.contains(formula), "{name}, input {k}: {formula:?} is not in row {row}: {backward:?}");
            }
        }
    }

    #[test]
    fn a_broadcast_scalar_input_collects_a_sum_and_cites_row_6() {
        let rule = rule(
            &Op::Binary(Binary::Mul),
            0.0_f64,
            "mul",
            &[Shape::matrix(2, 2), Shape::scalar()],
            Shape::matrix(2, 2),
        );
        assert_eq!(rule.inputs, ["da = g (.) b", "db = sum(g (.) a)"]);
        assert_eq!(rule.source, "row 3, row 6");
    }
}
