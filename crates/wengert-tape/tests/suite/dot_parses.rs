//! The Graphviz export read back by a DOT parser from crates.io (`graphviz-rust`, a pest
//! grammar of the DOT language), so that the output is checked as DOT on every machine, with
//! or without Graphviz installed: it parses, it declares one node per tape node and one edge
//! per recorded input link, and its labels carry each node's op and value.
//!
//! The expected counts and values come from the graphs as built here (a binary op records
//! two input links, a unary op one) and from the maths of each op, not from the tape.

use graphviz_rust::dot_structures::{Attribute, Edge, EdgeTy, Graph, Id, Node, NodeId, Stmt, Vertex};
use proptest::prelude::*;
use std::collections::BTreeMap;
use wengert_tape::{CustomOp, Shape, Tape, Tensor};

/// The DOT text of an id as Graphviz reads it: a quoted string unescaped (`\"` is a quote,
/// `\\` a backslash, `\n` a line break, as in a label's escString), anything else as written.
fn text(id: &Id) -> String {
    match id {
        Id::Escaped(quoted) => {
            let inner = quoted.strip_prefix('"').and_then(|s| s.strip_suffix('"')).expect("a quoted id");
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => panic!("a quoted id ends in a lone backslash: {quoted}"),
                }
            }
            out
        }
        Id::Plain(plain) | Id::Html(plain) | Id::Anonymous(plain) => plain.clone(),
    }
}

/// The index `i` of a node id `n<i>`, the only form the writer uses.
fn index_of(id: &NodeId) -> usize {
    assert!(id.1.is_none(), "the writer uses no ports: {id:?}");
    let name = text(&id.0);
    name.strip_prefix('n').and_then(|digits| digits.parse().ok()).unwrap_or_else(|| panic!("node id {name}"))
}

fn attributes(list: &[Attribute]) -> BTreeMap<String, String> {
    list.iter().map(|Attribute(key, value)| (text(key), text(value))).collect()
}

/// What the parser found: node index -> attributes, and (from, to, attributes) per edge.
struct Parsed {
    nodes: BTreeMap<usize, BTreeMap<String, String>>,
    edges: Vec<(usize, usize, BTreeMap<String, String>)>,
    graph_label: Option<String>,
}

impl Parsed {
    fn label(&self, index: usize) -> &str {
        self.nodes[&index].get("label").map_or("", String::as_str)
    }

    /// The number after `value ` in node `index`'s label (a scalar's value).
    fn value(&self, index: usize) -> f64 {
        let label = self.label(index);
        let line = label.lines().find_map(|line| line.strip_prefix("value ")).unwrap_or_else(|| panic!("{label}"));
        line.parse().unwrap_or_else(|_| panic!("value {line:?} of #{index} is not a number"))
    }

    fn edge_pairs(&self) -> Vec<(usize, usize)> {
        let mut pairs: Vec<_> = self.edges.iter().map(|(from, to, _)| (*from, *to)).collect();
        pairs.sort_unstable();
        pairs
    }
}

/// Parses `dot` with graphviz-rust and checks its frame: a directed graph, node statements
/// `n0`..`n<k>` each written once, edges only between declared nodes.
fn parse(dot: &str) -> Parsed {
    let graph = graphviz_rust::parse(dot).unwrap_or_else(|error| panic!("not valid DOT: {error}\n{dot}"));
    let Graph::DiGraph { strict: false, stmts, .. } = graph else { panic!("not a (non-strict) digraph:\n{dot}") };
    let mut parsed = Parsed { nodes: BTreeMap::new(), edges: Vec::new(), graph_label: None };
    for stmt in &stmts {
        match stmt {
            Stmt::Node(Node { id, attributes: list }) => {
                let index = index_of(id);
                assert!(parsed.nodes.insert(index, attributes(list)).is_none(), "n{index} declared twice:\n{dot}");
            }
            Stmt::Edge(Edge { ty: EdgeTy::Pair(Vertex::N(from), Vertex::N(to)), attributes: list }) => {
                parsed.edges.push((index_of(from), index_of(to), attributes(list)));
            }
            Stmt::GAttribute(graphviz_rust::dot_structures::GraphAttributes::Graph(list)) => {
                parsed.graph_label = attributes(list).remove("label");
            }
            Stmt::GAttribute(_) => {}
            other => panic!("the writer emits no {other:?}:\n{dot}"),
        }
    }
    let count = parsed.nodes.len();
    assert_eq!(parsed.nodes.keys().copied().collect::<Vec<_>>(), (0..count).collect::<Vec<_>>(), "{dot}");
    for (from, to, _) in &parsed.edges {
        assert!(from < to && *to < count, "edge n{from} -> n{to}: inputs come before their consumer\n{dot}");
    }
    parsed
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn a_scalar_chain_parses_with_one_node_per_op_and_one_edge_per_input() {
    // w = 0.5; a = sigmoid w; b = a w; c = exp b; d = c + a; e = tanh d.
    let tape = Tape::<f64>::new();
    let w = tape.var(0.5);
    let a = w.sigmoid();
    let b = a * w;
    let c = b.exp();
    let d = c + a;
    let e = d.tanh();
    for (dot, swept) in [(tape.to_dot(), false), (tape.backward(e).to_dot(), true)] {
        let parsed = parse(&dot);
        assert_eq!(parsed.nodes.len(), 6, "six recorded nodes");
        // Inputs: sigmoid 1, mul 2, exp 1, add 2, tanh 1.
        let (iw, ia, ib, ic, id, ie) = (w.index(), a.index(), b.index(), c.index(), d.index(), e.index());
        let mut expected = vec![(iw, ia), (ia, ib), (iw, ib), (ib, ic), (ic, id), (ia, id), (id, ie)];
        expected.sort_unstable();
        assert_eq!(parsed.edge_pairs(), expected);
        for (v, op) in [(w, "var"), (a, "sigmoid"), (b, "mul"), (c, "exp"), (d, "add"), (e, "tanh")] {
            let first = parsed.label(v.index()).lines().next().unwrap_or_default().to_string();
            assert_eq!(first, format!("#{} {op} []", v.index()));
        }
        let va = 1.0 / (1.0 + (-0.5_f64).exp());
        let vb = va * 0.5;
        let (vc, vd) = (vb.exp(), vb.exp() + va);
        for (v, expected) in [(w, 0.5), (a, va), (b, vb), (c, vc), (d, vd), (e, vd.tanh())] {
            let found = parsed.value(v.index());
            assert!(close(found, expected), "#{}: value {found}, expected {expected}", v.index());
        }
        assert_eq!(parsed.label(e.index()).contains("adjoint 1 (seed)"), swept, "{dot}");
        assert!(parsed.graph_label.as_deref().is_some_and(|l| l.starts_with("wengert tape: 6 nodes")), "{dot}");
    }
}

#[test]
fn an_mlp_layer_with_softmax_cross_entropy_parses_with_shapes_and_the_loss() {
    // x [4 x 3] constant, w [3 x 2] zeros, b = [0, ln 3]: every row's logits are b, so
    // softmax = [1/4, 3/4] and the mean loss over labels [0, 1, 1, 0] is (ln 4 + ln 4/3) / 2.
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [0.0, 1.0, 0.0]]));
    let w = tape.var(&Tensor::zeros(Shape::matrix(3, 2)));
    let b = tape.var(&Tensor::from_slice(&[0.0, 3.0_f64.ln()]));
    let xw = x.matmul(w);
    let z = xw.add_bias(b);
    let loss = z.softmax_cross_entropy(&[0, 1, 1, 0]);
    let grads = tape.backward(loss);
    let parsed = parse(&grads.to_dot());
    assert_eq!(parsed.nodes.len(), 6);
    // matmul: x, w; add_bias: xw, b; the loss: z (labels are not nodes).
    let mut expected =
        vec![(x.index(), xw.index()), (w.index(), xw.index()), (xw.index(), z.index()), (b.index(), z.index())];
    expected.push((z.index(), loss.index()));
    expected.sort_unstable();
    assert_eq!(parsed.edge_pairs(), expected);
    assert!(parsed.label(x.index()).starts_with(&format!("#{} constant [4 x 3]", x.index())));
    assert!(parsed.label(xw.index()).starts_with(&format!("#{} matmul [4 x 2]", xw.index())));
    assert!(parsed.label(z.index()).starts_with(&format!("#{} add_bias [4 x 2]", z.index())));
    assert!(parsed.label(loss.index()).starts_with(&format!("#{} softmax_cross_entropy []", loss.index())));
    let expected_loss = (4.0_f64.ln() + (4.0_f64 / 3.0).ln()) / 2.0;
    assert!(close(parsed.value(loss.index()), expected_loss), "{}", parsed.label(loss.index()));
    // The edges into the matmul are labelled by position; x's is dashed (x needs no adjoint).
    let into_matmul: BTreeMap<usize, &BTreeMap<String, String>> =
        parsed.edges.iter().filter(|(_, to, _)| *to == xw.index()).map(|(from, _, a)| (*from, a)).collect();
    assert_eq!(into_matmul[&x.index()].get("label").map(String::as_str), Some("0"));
    assert_eq!(into_matmul[&w.index()].get("label").map(String::as_str), Some("1"));
    assert_eq!(into_matmul[&x.index()].get("style").map(String::as_str), Some("dashed"));
    assert_eq!(into_matmul[&w.index()].get("style"), None);
    assert_eq!(parsed.nodes[&loss.index()].get("shape").map(String::as_str), Some("doubleoctagon"));
}

/// A custom op whose name holds every character that DOT strings treat specially, and then
/// some: quotes, backslashes (one before `N`, which Graphviz would expand as `\N` unescaped),
/// braces, angle brackets, a bar, a tab, a line break and non-ASCII letters.
struct Awkward;
impl CustomOp<f64> for Awkward {
    fn name(&self) -> &'static str {
        "say \"hi\" \\N {x} <y> | \u{2202}y/\u{2202}x\tend\nsecond line \\"
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        for ((o, &a), &b) in output.iter_mut().zip(inputs[0]).zip(inputs[1]) {
            *o = a * b;
        }
    }
    fn vjp(&self, input: usize, inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for ((a, &g), &other) in adjoint.iter_mut().zip(upstream).zip(inputs[1 - input]) {
            *a += g * other;
        }
    }
}

#[test]
fn a_custom_op_with_special_characters_in_its_name_parses_and_reads_back() {
    let tape = Tape::<f64>::new();
    let w = tape.var(3.0);
    let q = tape.custom(Awkward, &[w, w]);
    let dot = tape.backward(q).to_dot();
    let parsed = parse(&dot);
    assert_eq!(parsed.nodes.len(), 2);
    assert_eq!(parsed.edge_pairs(), [(0, 1), (0, 1)], "w used twice: two edges");
    // The writer's documented escaping: the tab becomes a space, the line break a new line.
    let lines: Vec<&str> = parsed.label(1).lines().collect();
    assert_eq!(lines[0], "#1 say \"hi\" \\N {x} <y> | \u{2202}y/\u{2202}x end");
    assert_eq!(lines[1], "second line \\ []");
    assert!(close(parsed.value(1), 9.0), "w * w = 9: {lines:?}");
    assert!(lines.contains(&"adjoint 1 (seed)"), "{lines:?}");
}

#[test]
fn a_two_layer_mlp_and_its_sweep_parse_with_matching_counts() {
    // x [2 x 2] -> relu(x W1 + b1) [2 x 3] -> (h W2 + b2) [2 x 2] -> loss; plus t = tanh(W1),
    // which the loss does not use. Nodes: x, W1, b1, W2, b2 (5), matmul, add_bias, relu,
    // matmul, add_bias, loss, tanh (7). Links: 2 + 2 + 1 + 2 + 2 + 1 + 1 = 11.
    let tape = Tape::<f32>::new();
    let x = tape.constant(&Tensor::from_rows(&[[0.5, -1.0], [2.0, 0.25]]));
    let w1 = tape.var(&Tensor::from_rows(&[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]));
    let b1 = tape.var(&Tensor::from_slice(&[0.0, 0.1, 0.2]));
    let w2 = tape.var(&Tensor::from_rows(&[[1.0, -1.0], [0.5, 0.5], [-0.5, 2.0]]));
    let b2 = tape.var(&Tensor::from_slice(&[0.01, -0.01]));
    let h = x.matmul(w1).add_bias(b1).relu();
    let loss = h.matmul(w2).add_bias(b2).softmax_cross_entropy(&[1, 0]);
    let _unused = w1.tanh();
    for dot in [tape.to_dot(), tape.backward(loss).to_dot()] {
        let parsed = parse(&dot);
        assert_eq!((parsed.nodes.len(), parsed.edges.len()), (12, 11), "{dot}");
        let ops: Vec<String> =
            (0..12).map(|i| parsed.label(i).split_whitespace().nth(1).unwrap_or_default().to_string()).collect();
        let expected = [
            "constant",
            "var",
            "var",
            "var",
            "var",
            "matmul",
            "add_bias",
            "relu",
            "matmul",
            "add_bias",
            "softmax_cross_entropy",
            "tanh",
        ];
        assert_eq!(ops, expected);
    }
}

/// A random chain of unary and binary ops over two parameters.
fn chain(steps: &[(u8, usize)]) -> (String, usize, usize) {
    let tape = Tape::<f64>::new();
    let mut vars = vec![tape.var(0.3), tape.var(-1.2)];
    let mut links = 0;
    for &(kind, pick) in steps {
        let a = vars[pick % vars.len()];
        let b = vars[(pick / 7) % vars.len()];
        let next = match kind % 5 {
            0 => a.sigmoid(),
            1 => a.tanh(),
            2 => a * b,
            3 => a + b,
            _ => a - b,
        };
        links += if kind % 5 < 2 { 1 } else { 2 };
        vars.push(next);
    }
    let last = *vars.last().expect("two parameters at least");
    let dot = tape.backward(last).to_dot();
    (dot, vars.len(), links)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_chain_of_ops_writes_dot_that_parses_with_its_counts(
        steps in prop::collection::vec((any::<u8>(), 0_usize..1000), 0..40)
    ) {
        let (dot, nodes, links) = chain(&steps);
        let parsed = parse(&dot);
        prop_assert_eq!(parsed.nodes.len(), nodes);
        prop_assert_eq!(parsed.edges.len(), links);
    }
}

#[test]
fn the_parser_refuses_the_mistakes_a_dot_writer_can_make() {
    // What the checks above rely on: text that Graphviz refuses does not parse here either.
    let good = "digraph g {\n  n0 [label=\"say \\\"hi\\\" \\\\ bye\"];\n  n0 -> n1 [label=\"0\"];\n}\n";
    assert!(graphviz_rust::parse(good).is_ok(), "{good}");
    for bad in [
        "digraph g {\n  n0 [label=\"say \"hi\"\"];\n}\n", // a quote left unescaped
        "digraph g {\n  n0 [label=\"ends in \\\"];\n}\n", // the closing quote escaped away
        "digraph g {\n  n0 [label=\"open];\n}\n",         // an unterminated string
        "digraph g {\n  n0 [label=\"a\", shape=];\n}\n",  // an attribute without a value
        "digraph g {\n  n0 -> ;\n}\n",                    // an edge without a head
        "digraph g {\n  n0 [label=\"a\"];\n",             // no closing brace
    ] {
        assert!(graphviz_rust::parse(bad).is_err(), "parsed invalid DOT:\n{bad}");
    }
}

/// Renders `dot` with Graphviz's `dot -Tsvg`, or returns `None` if Graphviz is not installed.
fn render_with_graphviz(dot: &str) -> Option<(bool, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().expect("piped stdin").write_all(dot.as_bytes()).expect("write to dot");
    let output = child.wait_with_output().expect("dot runs");
    Some((output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned()))
}

#[test]
fn the_awkward_and_mlp_graphs_render_with_graphviz_where_it_is_installed() {
    let tape = Tape::<f64>::new();
    let w = tape.var(&Tensor::from_rows(&[[1.0, -2.0], [0.5, 4.0]]));
    let q = tape.custom(Awkward, &[w, w]);
    let loss = q.matmul(w).add_bias(tape.var(&Tensor::from_slice(&[0.1, 0.2]))).softmax_cross_entropy(&[1, 0]);
    for dot in [tape.to_dot(), tape.backward(loss).to_dot()] {
        parse(&dot);
        let Some((ok, warnings)) = render_with_graphviz(&dot) else {
            println!("note: the `dot` program is not installed; the parse above is the check here");
            return;
        };
        assert!(ok && warnings.trim().is_empty(), "dot -Tsvg: {warnings}\n{dot}");
    }
}
