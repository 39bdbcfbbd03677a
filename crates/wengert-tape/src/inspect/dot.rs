//! Graphviz export: the tape as a DOT graph, one box per node and one edge per input, from
//! inputs to consumers. Render it with `dot -Tsvg tape.dot -o tape.svg`.
//!
//! | node | drawn as |
//! | --- | --- |
//! | a parameter (`var`) | blue box, bold border |
//! | a constant | grey note |
//! | the loss (the output of a sweep) | orange double octagon |
//! | any other op | white rounded box |
//! | a node without an adjoint (it needs none, or the sweep did not reach it) | greyed |
//!
//! A node that takes the same input twice (`x * x`) gets two edges; the edges of an op with
//! several inputs are labelled with the input's position (0, 1, ...). After a sweep, edges
//! along which no adjoint flowed are dashed and grey.
//!
//! The picture is for graphs of up to a few hundred nodes: a layer's matrices are one node
//! each, so a training step of an MLP qualifies, but a long scalar chain does not.

use super::{adjoint_of, reached_from, summary, value_of};
use crate::ops::node_op_name;
use crate::ops::{Op, Source};
use crate::tape::Recording;
use crate::{Gradients, Real, Tape};
use std::fmt::Write;
use std::io;
use std::path::Path;

/// What a node is, for its shape and colour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parameter,
    Constant,
    Loss,
    Op,
}

/// The attributes that draw one kind of node.
struct Style {
    shape: &'static str,
    style: &'static str,
    fillcolor: &'static str,
    color: &'static str,
    fontcolor: &'static str,
}

/// Grey, for a node without an adjoint; a constant is always drawn so.
const GREY: (&str, &str, &str) = ("#eeeeee", "#999999", "#777777");

fn style(kind: Kind, greyed: bool) -> Style {
    let mut style = match kind {
        Kind::Parameter => {
            Style { shape: "box", style: "filled,bold", fillcolor: "#cfe2ff", color: "#1f4e9c", fontcolor: "black" }
        }
        Kind::Constant => Style { shape: "note", style: "filled", fillcolor: GREY.0, color: GREY.1, fontcolor: GREY.2 },
        Kind::Loss => Style {
            shape: "doubleoctagon",
            style: "filled,bold",
            fillcolor: "#ffd8a8",
            color: "#b35900",
            fontcolor: "black",
        },
        Kind::Op => {
            Style { shape: "box", style: "rounded,filled", fillcolor: "white", color: "black", fontcolor: "black" }
        }
    };
    if greyed {
        (style.fillcolor, style.color, style.fontcolor) = GREY;
    }
    style
}

/// Escapes text for a double-quoted DOT string: `"` and `\` get a backslash, a line break
/// becomes DOT's `\n`, other control characters a space.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The DOT text of the tape, with the adjoints of `grads` if given.
fn render<T: Real>(tape: &Tape<T>, grads: Option<&Gradients<'_, T>>) -> String {
    let recording = tape.recording.borrow();
    let Recording { nodes, values, .. } = &*recording;
    let output = grads.map(|g| g.output as usize);
    let reached = output.map(|o| reached_from(&recording, o));

    let mut dot = String::new();
    let caption = match output {
        Some(o) => format!(
            "wengert tape: {} nodes ({}), adjoints of the sweep from #{o}\nblue: var, note: constant, octagon: loss, grey: no adjoint",
            nodes.len(),
            T::NAME
        ),
        None => format!("wengert tape: {} nodes ({})\nblue: var, note: constant, grey: no gradient", nodes.len(), T::NAME),
    };
    dot.push_str("digraph wengert {\n");
    let _ = writeln!(dot, "  graph [rankdir=TB, labelloc=t, fontname=\"Helvetica\", label=\"{}\"];", escape(&caption));
    dot.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    dot.push_str("  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.7];\n");

    for (index, node) in nodes.iter().enumerate() {
        let name = node_op_name(node, &recording.custom_ops);
        let kind = if output == Some(index) {
            Kind::Loss
        } else {
            match node.op {
                Op::Source(Source::Parameter) => Kind::Parameter,
                Op::Source(Source::Constant) => Kind::Constant,
                _ => Kind::Op,
            }
        };
        let mut lines = vec![format!("#{index} {name} {}", node.shape)];
        let (head, range) = summary(value_of(values, node));
        lines.push(format!("value {head}"));
        lines.extend(range);
        let greyed = match (grads, &reached) {
            (Some(grads), Some(reached)) => match adjoint_of(grads, node) {
                Some(adjoint) if reached[index] => {
                    let (head, range) = summary(adjoint);
                    let seed = if output == Some(index) { " (seed)" } else { "" };
                    lines.push(format!("adjoint {head}{seed}"));
                    lines.extend(range);
                    false
                }
                Some(_) => {
                    lines.push("adjoint: not reached by the sweep".to_string());
                    true
                }
                None => {
                    lines.push("no adjoint (needs no gradient)".to_string());
                    true
                }
            },
            _ => {
                if !node.requires_grad() {
                    lines.push("no gradient".to_string());
                }
                !node.requires_grad()
            }
        };
        let style = style(kind, greyed);
        let label = lines.iter().map(|line| escape(line)).collect::<Vec<_>>().join("\\n");
        let _ = writeln!(
            dot,
            "  n{index} [label=\"{label}\", shape={}, style=\"{}\", fillcolor=\"{}\", color=\"{}\", fontcolor=\"{}\"];",
            style.shape, style.style, style.fillcolor, style.color, style.fontcolor
        );
    }

    for index in 0..nodes.len() {
        let inputs = recording.inputs_of(index);
        for (position, &input) in inputs.iter().enumerate() {
            let mut attributes = Vec::new();
            if inputs.len() > 1 {
                attributes.push(format!("label=\"{position}\""));
            }
            if let Some(reached) = &reached {
                let flowed = reached[index] && nodes[input as usize].requires_grad();
                if !flowed {
                    attributes.push("style=dashed, color=\"#bbbbbb\"".to_string());
                }
            }
            if attributes.is_empty() {
                let _ = writeln!(dot, "  n{input} -> n{index};");
            } else {
                let _ = writeln!(dot, "  n{input} -> n{index} [{}];", attributes.join(", "));
            }
        }
    }
    dot.push_str("}\n");
    dot
}

impl<T: Real> Tape<T> {
    /// The graph as Graphviz DOT text: one box per node with its index, op, shape and a
    /// short summary of its value; one edge per input, from the input to its consumer.
    /// Parameters, constants and nodes that need no gradient are drawn distinctly (see the
    /// module table). Render with `dot -Tsvg`.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(3.0);
    /// let y = w * w; // two edges from #0 into #1, labelled 0 and 1
    /// let dot = tape.to_dot();
    /// assert!(dot.starts_with("digraph"));
    /// assert!(dot.contains("#1 mul []\\nvalue 9"));
    /// assert!(dot.contains("n0 -> n1 [label=\"0\"]") && dot.contains("n0 -> n1 [label=\"1\"]"));
    /// # let _ = y;
    /// ```
    pub fn to_dot(&self) -> String {
        render(self, None)
    }

    /// Writes [`Tape::to_dot`] to `path`.
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let _ = tape.var(1.0).exp();
    /// let path = std::env::temp_dir().join(format!("wengert-doc-tape-{}.dot", std::process::id()));
    /// tape.write_dot(&path)?;
    /// assert_eq!(std::fs::read_to_string(&path)?, tape.to_dot());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_dot(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.to_dot())
    }
}

impl<T: Real> Gradients<'_, T> {
    /// The graph as Graphviz DOT text, as [`Tape::to_dot`], with each node's adjoint after
    /// this sweep: the output the sweep started from is drawn as the loss, and nodes the
    /// sweep gave no adjoint (they need none, or it never reached them) are greyed.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(3.0);
    /// let loss = w * w;
    /// let dot = tape.backward(loss).to_dot();
    /// assert!(dot.contains("#0 var []\\nvalue 3\\nadjoint 6"));
    /// assert!(dot.contains("adjoint 1 (seed)"));
    /// assert!(dot.contains("shape=doubleoctagon"));
    /// ```
    pub fn to_dot(&self) -> String {
        render(self.tape, Some(self))
    }

    /// Writes [`Gradients::to_dot`] to `path`.
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    ///
    /// ```
    /// use wengert_tape::Tape;
    /// let tape = Tape::<f64>::new();
    /// let w = tape.var(2.0);
    /// let grads = tape.backward(w.exp());
    /// let path = std::env::temp_dir().join(format!("wengert-doc-grads-{}.dot", std::process::id()));
    /// grads.write_dot(&path)?;
    /// assert!(std::fs::read_to_string(&path)?.contains("adjoint"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_dot(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.to_dot())
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_protects_quotes_backslashes_and_line_breaks() {
        assert_eq!(escape(r#"say "hi"\n"#), r#"say \"hi\"\\n"#);
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(escape("tab\there"), "tab here");
        assert_eq!(escape("plain [2 x 3]"), "plain [2 x 3]");
    }
}
