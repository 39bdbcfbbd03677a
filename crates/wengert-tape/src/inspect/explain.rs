//! The reverse sweep told node by node, reconstructed after it: which nodes the output's
//! adjoint reached, what adjoint each received, and which rule it applied to pass it on.
//!
//! The rule texts, [`rule`], are in the notation of
//! `docs/derivations.md` (`g`/`G` is the upstream, `dX = ...` what the rule adds into X's
//! adjoint), read from each op's descriptor ([`crate::registry`]), with its formula number
//! from the notes and the anchor of its entry on that page.
//! Where a layer `A.matmul(W).add_bias(b)` followed by an activation (or a fused loss) is
//! recognised, its three lines also name the backpropagation equation they carry out
//! (BP1-BP4, notes section 4).

use super::{adjoint_of, number, reached_from, summary_line};
use crate::ops::node_op_name;
use crate::ops::{Linear, Loss, Op};
use crate::registry::{Arity, Gradient, OpSpec};
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
/// assert_eq!(step.source, "F2, #sigmoid");
/// assert_eq!(step.to_string(), "#1 sigmoid []  adjoint 1  dz = g (.) s (1 - s) -> #0  (F2, #sigmoid)");
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
    /// Where the rule comes from: the notes' formula and the anchor of the op's entry in
    /// `docs/derivations.md`, e.g. `F15, #matmul`.
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
    /// The notes' formula and the anchor of the op's entry in `docs/derivations.md`.
    source: String,
}

/// Where a rule comes from: `F2, #sigmoid` (the notes' formula, then the anchor of its entry
/// in `docs/derivations.md`), or `#exp` where the notes have none.
fn source(spec: &OpSpec) -> String {
    match spec.notes {
        "" => format!("#{}", spec.formula),
        notes => format!("{notes}, #{}", spec.formula),
    }
}

/// An op's rule texts from its descriptor, with its constants (`{c0}`, `{c1}`), the rows
/// (`{N}`) and the elements (`{M}`) of its first input filled in. `inputs` are the input
/// shapes, `shape` the output's; `name` is a custom op's own name.
fn rule<T: Real>(op: Op, constants: &[T], name: &str, inputs: &[Shape], shape: Shape) -> Rule {
    let spec = op.spec();
    let source = source(spec);
    if spec.gradient == Gradient::Always || spec.gradient == Gradient::Never {
        let leaf = spec.explain.first().copied().unwrap_or("no adjoint");
        return Rule { inputs: Vec::new(), leaf: Some(leaf), source };
    }
    if op == Op::Custom {
        let texts = (0..inputs.len()).map(|k| format!("d(input {k}) = {name}'s vjp")).collect();
        return Rule { inputs: texts, leaf: None, source };
    }
    let rows = inputs.first().map_or(1, |s| s.rows());
    let elements = inputs.first().map_or(1, |s| s.numel());
    let fill = |text: &str| {
        let mut text = text.replace("{N}", &rows.to_string()).replace("{M}", &elements.to_string());
        for (i, &c) in constants.iter().enumerate() {
            text = text.replace(&format!("{{c{i}}}"), &number(c));
        }
        text
    };
    // An input broadcast over a larger output collects the sum of its contributions.
    let broadcast = |k: usize| matches!(op, Op::Binary(_)) && inputs.get(k).is_some_and(|s| s.numel() < shape.numel());
    let mut texts: Vec<String> = spec
        .explain
        .iter()
        .enumerate()
        .map(|(k, text)| match fill(text).split_once(" = ") {
            Some((lhs, rhs)) if broadcast(k) => format!("{lhs} = sum({rhs})"),
            _ => fill(text),
        })
        .collect();
    // A variadic op with one text per kind of part (concat's `dX_k`) uses its last text for
    // every further part.
    if let (Arity::Variadic, Some(last)) = (spec.arity, texts.last().cloned()) {
        texts.resize(texts.len().max(inputs.len()), last);
    }
    let source = if broadcast(0) || broadcast(1) { format!("{source}, #broadcast") } else { source };
    Rule { inputs: texts, leaf: None, source }
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
            Op::Loss(Loss::SoftmaxCrossEntropy) => {
                Head::FusedLoss { delta: "(softmax(Z) - onehot(k)) / N", formula: "F11" }
            }
            Op::Loss(Loss::BceWithLogits) => Head::FusedLoss { delta: "(sigmoid(Z) - Y) / M", formula: "F10" },
            _ => continue,
        };
        if !reached[head] {
            continue;
        }
        let add_bias = recording.inputs_of(head)[0] as usize;
        if !matches!(nodes[add_bias].op, Op::Linear(Linear::AddBias)) || !reached[add_bias] {
            continue;
        }
        let matmul = recording.inputs_of(add_bias)[0] as usize;
        if !matches!(nodes[matmul].op, Op::Linear(Linear::MatMul)) || !reached[matmul] {
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
            let name = node_op_name(node, &recording.custom_ops);
            let input_shapes: Vec<Shape> =
                recording.inputs_of(index).iter().map(|&i| nodes[i as usize].shape).collect();
            let constants_start = node.value_offset + node.shape.numel();
            let constants = &recording.values[constants_start..constants_start + node.op.spec().constants];
            let rule = rule(node.op, constants, name, &input_shapes, node.shape);
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
        Explanation {
            output,
            output_op: node_op_name(output_node, &recording.custom_ops),
            output_shape: output_node.shape,
            steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Binary;

    /// `docs/derivations.md`'s table: for each entry's anchor, the backward cells of its rows
    /// (an entry's later rows, for another input, carry no anchor of their own).
    fn derivations_entries() -> Vec<(String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/derivations.md");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let mut current = None;
        let mut entries = Vec::new();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 8 || !line.starts_with("| ") {
                continue;
            }
            if let Some((_, rest)) = cells[1].split_once("<a id=\"") {
                current = rest.split_once('"').map(|(id, _)| id.to_string());
            }
            if let Some(id) = &current {
                entries.push((id.clone(), cells[5].replace('`', "")));
            }
        }
        entries
    }

    #[test]
    fn every_op_in_the_registry_has_a_derivations_entry_holding_its_rule_texts() {
        let entries = derivations_entries();
        let m = Shape::matrix(2, 3);
        for op in Op::all() {
            let spec = op.spec();
            let rows: Vec<&String> = entries.iter().filter(|(id, _)| id == spec.formula).map(|(_, b)| b).collect();
            assert!(!rows.is_empty(), "{}: docs/derivations.md has no entry <a id=\"{}\">", spec.name, spec.formula);
            // A variadic op is tried on as many inputs as it has texts (a custom op on two).
            let arity = match spec.arity {
                Arity::Fixed(n) => n,
                Arity::Variadic => spec.explain.len().max(2),
            };
            let constants = vec![2.0_f64; spec.constants];
            let rule = rule(op, &constants, spec.name, &vec![m; arity], m);
            if op != Op::Custom && rule.leaf.is_none() {
                assert_eq!(rule.inputs.len(), arity, "{}: one rule text per input", spec.name);
            }
            for text in &rule.inputs {
                let formula = text.split(", ").next().unwrap_or(text);
                let formula = formula.replace("{", "").replace("}", "");
                assert!(
                    op == Op::Custom || rows.iter().any(|backward| backward.contains(&formula)),
                    "{}: {formula:?} is in none of its rows: {rows:?}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn every_anchor_in_docs_derivations_is_unique() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/derivations.md");
        let text = std::fs::read_to_string(path).expect("docs/derivations.md");
        let mut ids: Vec<&str> =
            text.split("<a id=\"").skip(1).filter_map(|rest| rest.split_once('"')).map(|(id, _)| id).collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "an anchor appears twice in docs/derivations.md");
    }

    #[test]
    fn a_broadcast_scalar_input_collects_a_sum_and_cites_the_broadcast_entry() {
        let rule = rule(
            Op::Binary(Binary::Mul),
            &[] as &[f64],
            "mul",
            &[Shape::matrix(2, 2), Shape::scalar()],
            Shape::matrix(2, 2),
        );
        assert_eq!(rule.inputs, ["da = g (.) b", "db = sum(g (.) a)"]);
        assert_eq!(rule.source, "#mul, #broadcast");
    }
}
