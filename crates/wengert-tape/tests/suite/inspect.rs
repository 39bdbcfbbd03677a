//! Inspecting a tape: the Graphviz export has exactly one box per node and one edge per
//! input, with the right labels and styles; the explained backward lists exactly the nodes
//! the sweep reached, with the notes' adjoints of 6a (delta_1, delta_2) and BP1-BP4 on the
//! lines of the layer that carries each out (F2, F11, F15); the statistics count nodes by op
//! and measure the arenas as count x element size.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use wengert_tape::{CustomOp, Shape, Tape, Tensor, Var};

// ---------------------------------------------------------------------------------------
// A small reader for the DOT the engine writes: node and edge statements with attributes.
// ---------------------------------------------------------------------------------------

/// One parsed node statement: its index and its attributes, label unescaped.
#[derive(Debug)]
struct DotNode {
    attributes: BTreeMap<String, String>,
}

impl DotNode {
    fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }

    fn label_lines(&self) -> Vec<&str> {
        self.attribute("label").split('\n').collect()
    }

    /// (shape, style, fillcolor): how the node looks.
    fn look(&self) -> (String, String, String) {
        (self.attribute("shape").into(), self.attribute("style").into(), self.attribute("fillcolor").into())
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct DotEdge {
    from: usize,
    to: usize,
    label: Option<String>,
    dashed: bool,
}

struct Dot {
    nodes: BTreeMap<usize, DotNode>,
    edges: Vec<DotEdge>,
}

/// Reads `key=value, key="quoted \" value"` up to the closing `]`, unescaping DOT's `\"`,
/// `\\` and `\n`.
fn parse_attributes(text: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('='), "attribute {key} without a value in {text}");
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c) => value.push(c),
                        None => panic!("dangling backslash in {text}"),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => panic!("unterminated string in {text}"),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',' && *c != ' ')).collect();
        }
        attributes.insert(key, value);
    }
    attributes
}

fn parse_dot(dot: &str) -> Dot {
    let body = dot.trim();
    assert!(body.starts_with("digraph") && body.ends_with('}'), "not a digraph:\n{dot}");
    let mut nodes = BTreeMap::new();
    let mut edges = Vec::new();
    for line in body.lines().map(str::trim) {
        // Node and edge statements start with a node id, `n` and a digit; `node [...]`,
        // `edge [...]` and `graph [...]` set defaults.
        let Some(statement) = line.strip_prefix('n').filter(|s| s.starts_with(|c: char| c.is_ascii_digit())) else {
            continue;
        };
        let statement = statement.strip_suffix(';').unwrap_or_else(|| panic!("statement without `;`: {line}"));
        let (head, attributes) = match statement.split_once(" [") {
            Some((head, rest)) => (head, parse_attributes(rest.strip_suffix(']').expect("attributes end with ]"))),
            None => (statement, BTreeMap::new()),
        };
        if let Some((from, to)) = head.split_once(" -> n") {
            let dashed = attributes.get("style").is_some_and(|s| s.contains("dashed"));
            edges.push(DotEdge {
                from: from.parse().expect("edge source"),
                to: to.parse().expect("edge target"),
                label: attributes.get("label").cloned(),
                dashed,
            });
        } else {
            let index: usize = head.parse().unwrap_or_else(|_| panic!("node id in {line}"));
            assert!(nodes.insert(index, DotNode { attributes }).is_none(), "node n{index} written twice");
        }
    }
    Dot { nodes, edges }
}

fn edge(from: usize, to: usize, label: Option<&str>, dashed: bool) -> DotEdge {
    DotEdge { from, to, label: label.map(str::to_string), dashed }
}

// ---------------------------------------------------------------------------------------
// The small graph of the DOT tests.
// ---------------------------------------------------------------------------------------

/// w = 3 (var), x = 2 (constant), y = w x = 6, z = y y = 36, k = x x = 4 (no adjoint),
/// loss = z + k = 40, and t = tanh(w), which the loss does not use.
/// d loss/dz = 1, d loss/dy = 2y = 12, d loss/dw = 12 x = 24.
struct Small<'t> {
    w: Var<'t, f64>,
    x: Var<'t, f64>,
    y: Var<'t, f64>,
    z: Var<'t, f64>,
    k: Var<'t, f64>,
    loss: Var<'t, f64>,
    t: Var<'t, f64>,
}

fn small(tape: &Tape<f64>) -> Small<'_> {
    let w = tape.var(3.0);
    let x = tape.constant(2.0);
    let y = w * x;
    let z = y * y;
    let k = x * x;
    let loss = z + k;
    let t = w.tanh();
    Small { w, x, y, z, k, loss, t }
}

#[test]
fn dot_has_one_box_per_node_and_one_edge_per_input_labelled_by_position() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let grads = tape.backward(g.loss);
    let dot = parse_dot(&grads.to_dot());
    let indices: Vec<usize> = dot.nodes.keys().copied().collect();
    assert_eq!(indices, (0..7).collect::<Vec<_>>(), "one box per node");
    let (w, x, y, z, k, loss, t) =
        (g.w.index(), g.x.index(), g.y.index(), g.z.index(), g.k.index(), g.loss.index(), g.t.index());
    let mut expected = vec![
        edge(w, y, Some("0"), false),
        edge(x, y, Some("1"), true), // x has no adjoint: nothing flows back to it
        edge(y, z, Some("0"), false),
        edge(y, z, Some("1"), false), // y used twice by one op: two edges
        edge(x, k, Some("0"), true),
        edge(x, k, Some("1"), true), // k is not reached, and x has no adjoint
        edge(z, loss, Some("0"), false),
        edge(k, loss, Some("1"), true),
        edge(w, t, None, true), // one input: no position label; t is not reached
    ];
    let mut got = dot.edges.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "edges (9: one per input)");
}

#[test]
fn dot_labels_give_index_op_shape_value_and_adjoint() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let grads = tape.backward(g.loss);
    let dot = parse_dot(&grads.to_dot());
    let label = |v: Var<'_, f64>| dot.nodes[&v.index()].label_lines().join(" | ");
    assert_eq!(label(g.w), "#0 var [] | value 3 | adjoint 24");
    assert_eq!(label(g.x), "#1 constant [] | value 2 | no adjoint (needs no gradient)");
    assert_eq!(label(g.y), "#2 mul [] | value 6 | adjoint 12");
    assert_eq!(label(g.z), "#3 mul [] | value 36 | adjoint 1");
    assert_eq!(label(g.k), "#4 mul [] | value 4 | no adjoint (needs no gradient)");
    assert_eq!(label(g.loss), "#5 add [] | value 40 | adjoint 1 (seed)");
    // tanh(3) = 0.995055 to 6 digits.
    assert_eq!(label(g.t), "#6 tanh [] | value 0.995055 | adjoint: not reached by the sweep");
}

#[test]
fn dot_draws_var_constant_and_loss_distinctly_and_greys_nodes_without_adjoint() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let grads = tape.backward(g.loss);
    let dot = parse_dot(&grads.to_dot());
    let look = |v: Var<'_, f64>| dot.nodes[&v.index()].look();
    let (var, constant, loss, op) = (look(g.w), look(g.x), look(g.loss), look(g.z));
    let looks = [&var, &constant, &loss];
    for (i, a) in looks.iter().enumerate() {
        for b in &looks[i + 1..] {
            assert_ne!(a.0, b.0, "var, constant and loss need distinct shapes: {looks:?}");
            assert_ne!(a.2, b.2, "var, constant and loss need distinct fill colours: {looks:?}");
        }
    }
    for special in looks {
        assert_ne!(special, &op, "an ordinary op must look different from var, constant and loss");
    }
    assert_eq!(constant.0, "note");
    assert_eq!(loss.0, "doubleoctagon");
    // Greyed: the constant, the node made from constants only, the node the sweep did not
    // reach; not greyed: every node that received an adjoint.
    let grey = &constant.2;
    for v in [g.k, g.t] {
        assert_eq!(&look(v).2, grey, "node #{} has no adjoint and should be grey", v.index());
    }
    for v in [g.w, g.y, g.z, g.loss] {
        assert_ne!(&look(v).2, grey, "node #{} received an adjoint and should not be grey", v.index());
    }
}

#[test]
fn tape_dot_has_no_adjoints_no_loss_and_greys_only_nodes_without_gradient() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let text = tape.to_dot();
    let dot = parse_dot(&text);
    assert_eq!(dot.nodes.len(), 7);
    assert_eq!(dot.edges.len(), 9);
    assert!(dot.edges.iter().all(|e| !e.dashed), "no sweep, no dashed edges:\n{text}");
    assert!(!text.contains("adjoint"), "no sweep, no adjoint:\n{text}");
    assert!(!text.contains("doubleoctagon"), "no sweep, no loss:\n{text}");
    let grey = dot.nodes[&g.x.index()].look().2;
    assert_eq!(dot.nodes[&g.k.index()].look().2, grey, "k needs no gradient");
    assert_eq!(dot.nodes[&g.k.index()].label_lines(), ["#4 mul []", "value 4", "no gradient"]);
    assert_ne!(dot.nodes[&g.t.index()].look().2, grey, "t depends on w: it can get an adjoint");
    assert_eq!(dot.nodes[&g.loss.index()].look(), dot.nodes[&g.z.index()].look(), "the loss is an ordinary op here");
}

#[test]
fn dot_summarises_a_tensor_by_its_first_elements_and_range() {
    let tape = Tape::<f64>::new();
    let m = tape.var(&Tensor::from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    let loss = (m * m).sum();
    let grads = tape.backward(loss);
    let dot = parse_dot(&grads.to_dot());
    // mean of 1..6 = 3.5; d sum(m^2)/dm = 2m = [2, 4, 6, 8, 10, 12], mean 7.
    assert_eq!(
        dot.nodes[&m.index()].label_lines(),
        [
            "#0 var [2 x 3]",
            "value [1, 2, 3, ...]",
            "min 1, mean 3.5, max 6",
            "adjoint [2, 4, 6, ...]",
            "min 2, mean 7, max 12"
        ]
    );
}

/// A custom op whose name needs escaping in DOT.
struct Quoted;
impl CustomOp<f64> for Quoted {
    fn name(&self) -> &'static str {
        r#"say "hi" \ bye"#
    }
    fn output_shape(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn forward(&self, inputs: &[&[f64]], output: &mut [f64]) {
        output.copy_from_slice(inputs[0]);
    }
    fn vjp(&self, _input: usize, _inputs: &[&[f64]], _output: &[f64], upstream: &[f64], adjoint: &mut [f64]) {
        for (a, &g) in adjoint.iter_mut().zip(upstream) {
            *a += g;
        }
    }
}

#[test]
fn dot_escapes_quotes_and_backslashes_in_labels() {
    let tape = Tape::<f64>::new();
    let w = tape.var(1.0);
    let q = tape.custom(Quoted, &[w]);
    let text = tape.backward(q).to_dot();
    assert!(text.contains(r#"#1 say \"hi\" \\ bye []"#), "escaped name missing:\n{text}");
    let dot = parse_dot(&text);
    assert_eq!(dot.nodes[&1].label_lines()[0], r#"#1 say "hi" \ bye []"#, "the label reads back unescaped");
}

#[test]
fn dot_renders_with_graphviz_where_it_is_installed() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let text = tape.backward(g.loss).to_dot();
    let child = Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            // tests/dot_parses.rs still parses the DOT, with or without Graphviz.
            println!("note: the `dot` program is not installed ({error}); skipping the Graphviz rendering check");
            return;
        }
    };
    child.stdin.take().expect("piped stdin").write_all(text.as_bytes()).expect("write to dot");
    let output = child.wait_with_output().expect("dot runs");
    assert!(output.status.success(), "dot -Tsvg failed: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    let warnings = String::from_utf8_lossy(&output.stderr);
    assert!(warnings.trim().is_empty(), "dot -Tsvg warned: {warnings}\n{text}");
    let svg = String::from_utf8_lossy(&output.stdout);
    assert!(svg.contains("<svg"), "dot -Tsvg wrote no SVG");
    assert!(svg.contains("adjoint 24"), "the SVG lacks w's adjoint");
}

#[test]
fn write_dot_writes_the_text_of_to_dot() {
    let tape = Tape::<f64>::new();
    let g = small(&tape);
    let dir = std::env::temp_dir();
    let tape_path = dir.join(format!("wengert-inspect-test-tape-{}.dot", std::process::id()));
    let grads_path = dir.join(format!("wengert-inspect-test-grads-{}.dot", std::process::id()));
    tape.write_dot(&tape_path).expect("write the tape's DOT");
    let grads = tape.backward(g.loss);
    grads.write_dot(&grads_path).expect("write the gradients' DOT");
    let (tape_text, grads_text) = (std::fs::read_to_string(&tape_path), std::fs::read_to_string(&grads_path));
    let _ = (std::fs::remove_file(&tape_path), std::fs::remove_file(&grads_path));
    assert_eq!(tape_text.expect("read back"), tape.to_dot());
    assert_eq!(grads_text.expect("read back"), grads.to_dot());
    let missing = dir.join("wengert-no-such-directory").join("x.dot");
    assert!(tape.write_dot(missing).is_err(), "a path in a missing directory is an error, not a panic");
}

// ---------------------------------------------------------------------------------------
// The explained backward, on the notes' 2-3-1 network (6a).
// ---------------------------------------------------------------------------------------

/// Every node of 6a, recorded as net_1 = X W + B1, H = sigmoid(net_1), net_2 = H V + B2,
/// Y = sigmoid(net_2), E = 0.5 sum (1 - Y)^2. With `distractors`, an unused branch
/// `sum(exp(V))` is recorded before E and `tanh(W)` after it: the sweep reaches neither.
struct Network<'t> {
    x: Var<'t, f64>,
    w: Var<'t, f64>,
    b1: Var<'t, f64>,
    v: Var<'t, f64>,
    b2: Var<'t, f64>,
    xw: Var<'t, f64>,
    net1: Var<'t, f64>,
    h: Var<'t, f64>,
    hv: Var<'t, f64>,
    net2: Var<'t, f64>,
    y: Var<'t, f64>,
    residual: Var<'t, f64>,
    square: Var<'t, f64>,
    total: Var<'t, f64>,
    e: Var<'t, f64>,
    unreached: Vec<Var<'t, f64>>,
}

fn network(tape: &Tape<f64>, distractors: bool) -> Network<'_> {
    let x = tape.constant(&Tensor::from_rows(&[[0.4, 0.5]]));
    let w = tape.var(&Tensor::from_rows(&[[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]));
    let b1 = tape.var(&Tensor::from_slice(&[0.1, 0.2, 0.3]));
    let v = tape.var(&Tensor::from_rows(&[[0.1], [0.2], [0.3]]));
    let b2 = tape.var(&Tensor::from_slice(&[0.1]));
    let xw = x.matmul(w);
    let net1 = xw.add_bias(b1);
    let h = net1.sigmoid();
    let hv = h.matmul(v);
    let net2 = hv.add_bias(b2);
    let y = net2.sigmoid();
    let mut unreached = Vec::new();
    if distractors {
        let exp = v.exp();
        unreached.extend([exp, exp.sum()]);
    }
    let residual = 1.0 - y;
    let square = residual.powi(2);
    let total = square.sum();
    let e = 0.5 * total;
    if distractors {
        unreached.push(w.tanh());
    }
    Network { x, w, b1, v, b2, xw, net1, h, hv, net2, y, residual, square, total, e, unreached }
}

#[test]
fn explanation_lists_every_reached_node_once_in_sweep_order_and_no_other() {
    let tape = Tape::<f64>::new();
    let n = network(&tape, true);
    let explanation = tape.backward(n.e).explain();
    let listed: Vec<usize> = explanation.lines().iter().map(|step| step.index).collect();
    // Every node that needs an adjoint and feeds E; not X (a constant), not the branches
    // E does not use.
    let mut expected: Vec<usize> =
        [n.e, n.total, n.square, n.residual, n.y, n.net2, n.hv, n.h, n.net1, n.xw, n.w, n.b1, n.v, n.b2]
            .iter()
            .map(|v| v.index())
            .collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed, expected, "reached nodes, output first, each once:\n{explanation}");
    for v in n.unreached.iter().chain([&n.x]) {
        assert!(
            explanation.step(v.index()).is_none(),
            "#{} ({}) was not reached but is listed",
            v.index(),
            v.op_name()
        );
    }
    assert_eq!(explanation.output(), n.e.index());
}

#[test]
fn explanation_names_bp1_to_bp4_on_the_lines_of_the_layer_that_carries_them_out() {
    let tape = Tape::<f64>::new();
    let n = network(&tape, true);
    let explanation = tape.backward(n.e).explain();
    let equation = |v: Var<'_, f64>| {
        explanation.step(v.index()).unwrap_or_else(|| panic!("#{} not listed", v.index())).equation.clone()
    };
    let names = |v: Var<'_, f64>| -> Vec<&'static str> {
        let text = equation(v).unwrap_or_default();
        ["BP1", "BP2", "BP3", "BP4"].into_iter().filter(|bp| text.contains(bp)).collect()
    };
    // Output layer (2): Y = sigmoid(net_2) is BP1; B2 gets BP4; V gets BP3 and H's adjoint
    // is delta_2 V^T (BP2). Hidden layer (1): H = sigmoid(net_1) is BP2; B1 gets BP4; W gets
    // BP3, and X, a constant, gets nothing.
    assert_eq!(names(n.y), ["BP1"], "{:?}", equation(n.y));
    assert_eq!(names(n.net2), ["BP4"], "{:?}", equation(n.net2));
    assert_eq!(names(n.hv), ["BP2", "BP3"], "{:?}", equation(n.hv));
    assert_eq!(names(n.h), ["BP2"], "{:?}", equation(n.h));
    assert_eq!(names(n.net1), ["BP4"], "{:?}", equation(n.net1));
    assert_eq!(names(n.xw), ["BP3"], "{:?}", equation(n.xw));
    let y_line = equation(n.y).unwrap();
    assert!(y_line.contains("delta^2 = dL/dZ^2 = upstream (.) f'(Z^2)"), "{y_line}");
    let h_line = equation(n.h).unwrap();
    assert!(h_line.contains("delta^1 = dL/dZ^1") && h_line.contains("delta^2 (W^2)^T"), "{h_line}");
    assert!(equation(n.net2).unwrap().contains("db^2 = column sums of delta^2"));
    assert!(equation(n.hv).unwrap().contains("dW^2 = (A^1)^T delta^2"));
    assert!(equation(n.xw).unwrap().contains("dW^1 = X^T delta^1"));
    for v in [n.e, n.total, n.square, n.residual, n.w, n.b1, n.v, n.b2] {
        assert_eq!(equation(v), None, "#{} ({}) is not part of a layer", v.index(), v.op_name());
    }
}

#[test]
fn explanation_rules_send_each_contribution_to_the_right_input() {
    let tape = Tape::<f64>::new();
    let n = network(&tape, false);
    let explanation = tape.backward(n.e).explain();
    let rule = |v: Var<'_, f64>| explanation.step(v.index()).expect("listed").rule.clone();
    let (x, w, b1, v, b2) = (n.x.index(), n.w.index(), n.b1.index(), n.v.index(), n.b2.index());
    assert_eq!(rule(n.e), format!("dx = c g, c = 0.5 -> #{}", n.total.index()));
    assert_eq!(rule(n.total), format!("dx_i = g -> #{}", n.square.index()));
    assert_eq!(rule(n.square), format!("dx = g (.) n x^(n-1), n = 2 -> #{}", n.residual.index()));
    assert_eq!(rule(n.residual), format!("dx = -g -> #{}", n.y.index()));
    assert_eq!(rule(n.y), format!("dz = g (.) s (1 - s) -> #{}", n.net2.index()));
    assert_eq!(rule(n.net2), format!("dX = G -> #{}, db = 1^T G, the column sums of G -> #{b2}", n.hv.index()));
    assert_eq!(rule(n.hv), format!("dX = G W^T -> #{}, dW = X^T G -> #{v}", n.h.index()));
    assert_eq!(rule(n.h), format!("dz = g (.) s (1 - s) -> #{}", n.net1.index()));
    assert_eq!(rule(n.net1), format!("dX = G -> #{}, db = 1^T G, the column sums of G -> #{b1}", n.xw.index()));
    assert_eq!(rule(n.xw), format!("dW = X^T G -> #{w}; nothing for #{x} (no adjoint)"));
    let sources: Vec<&str> =
        [n.y, n.hv, n.net1].iter().map(|v| explanation.step(v.index()).unwrap().source.as_str()).collect();
    assert_eq!(sources, ["F2, #sigmoid", "F15, #matmul", "F15, #add_bias"]);
}

#[test]
fn explanation_adjoints_are_the_notes_deltas() {
    let tape = Tape::<f64>::new();
    let n = network(&tape, false);
    let explanation = tape.backward(n.e).explain();
    let adjoint = |v: Var<'_, f64>| explanation.step(v.index()).expect("listed").adjoint.clone();
    // The notes' 6a table to 6 significant digits: dE/dY = Y - t = -0.380272146922,
    // delta_2 = -0.0896169272249, delta_1 = [-0.00220846829447, -0.00419108697401, -0.00575097891173],
    // dE/dB2 = delta_2; the seed of E is 1.
    assert_eq!(adjoint(n.e), "1");
    assert_eq!(adjoint(n.y), "-0.380272");
    assert_eq!(adjoint(n.net2), "-0.0896169");
    assert_eq!(adjoint(n.b2), "-0.0896169");
    assert_eq!(adjoint(n.net1), "[-0.00220847, -0.00419109, -0.00575098]");
    assert_eq!(adjoint(n.b1), "[-0.00220847, -0.00419109, -0.00575098]");
    // dE/dW = X^T delta_1 has 6 elements (notes 6a): the first three, then the range of all six
    // (min, mean and max of the six table values, computed separately).
    assert_eq!(
        adjoint(n.w),
        "[-0.000883387, -0.00167643, -0.00230039, ...] (min -0.00287549, mean -0.00182258, max -0.000883387)"
    );
}

#[test]
fn explanation_of_a_softmax_cross_entropy_mlp_names_the_fused_bp1() {
    // Two layers: relu hidden, softmax cross-entropy on the logits (notes section 4, note 3).
    let tape = Tape::<f64>::new();
    let x = tape.constant(&Tensor::from_rows(&[[0.5, -1.0], [2.0, 0.25]]));
    let w1 = tape.var(&Tensor::from_rows(&[[0.3, -0.2, 0.4], [0.1, 0.5, -0.6]]));
    let b1 = tape.var(&Tensor::from_slice(&[0.1, 0.2, 0.3]));
    let w2 = tape.var(&Tensor::from_rows(&[[0.2, -0.1], [0.4, 0.3], [-0.5, 0.6]]));
    let b2 = tape.var(&Tensor::from_rows(&[[0.0, 0.1]]));
    let z1 = x.matmul(w1);
    let a1 = z1.add_bias(b1).relu();
    let z2 = a1.matmul(w2);
    let logits = z2.add_bias(b2);
    let loss = logits.softmax_cross_entropy(&[1, 0]);
    let explanation = tape.backward(loss).explain();
    let equation = |v: Var<'_, f64>| explanation.step(v.index()).and_then(|s| s.equation.clone()).unwrap_or_default();
    let loss_line = equation(loss);
    assert!(loss_line.contains("delta^2 = dL/dZ^2 = (softmax(Z^2) - onehot(k)) / N"), "{loss_line}");
    assert!(loss_line.contains("BP1 with the fused loss (F11)"), "{loss_line}");
    assert!(equation(a1).contains("(BP2)") && equation(a1).contains("delta^2 (W^2)^T"), "{}", equation(a1));
    assert!(equation(logits).contains("(BP4)"));
    assert!(equation(z2).contains("(BP3)") && equation(z2).contains("flows down to layer 1 (BP2)"));
    assert!(equation(z1).contains("dW^1 = X^T delta^1 (BP3)") && !equation(z1).contains("BP2"));
    let step = explanation.step(loss.index()).unwrap();
    assert_eq!(step.rule, format!("dz = g (softmax(z) - onehot(k)) / N, N = 2 -> #{}", logits.index()));
    assert_eq!(step.source, "F11, #softmax_cross_entropy");
}

#[test]
fn explanation_display_has_a_header_and_one_line_per_step() {
    let tape = Tape::<f64>::new();
    let n = network(&tape, true);
    let explanation = tape.backward(n.e).explain();
    let text = explanation.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + explanation.lines().len(), "{text}");
    assert_eq!(
        lines[0],
        format!(
            "reverse sweep from #{} (mul_scalar []): 14 nodes reached, from the output down to the leaves",
            n.e.index()
        )
    );
    for (line, step) in lines[1..].iter().zip(explanation.lines()) {
        assert!(line.trim_start().starts_with(&format!("#{} {}", step.index, step.op)), "{line}");
        assert!(line.contains(&step.rule), "{line}");
        assert_eq!(
            step.equation.as_ref().is_some_and(|e| line.contains(e.as_str())),
            step.equation.is_some(),
            "{line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Statistics.
// ---------------------------------------------------------------------------------------

#[test]
fn stats_count_nodes_by_op_most_frequent_first() {
    let tape = Tape::<f64>::new();
    let _n = network(&tape, false);
    let stats = tape.stats();
    // X; W, B1, V, B2; two matmuls, two add_bias, two sigmoids; 1 - Y, its square, the sum, 0.5 x.
    assert_eq!(stats.nodes, 15);
    assert_eq!(
        stats.by_op,
        [
            ("var", 4),
            ("add_bias", 2),
            ("matmul", 2),
            ("sigmoid", 2),
            ("constant", 1),
            ("mul_scalar", 1),
            ("powi", 1),
            ("scalar_sub", 1),
            ("sum", 1)
        ]
    );
    assert_eq!(stats.by_op.iter().map(|&(_, count)| count).sum::<usize>(), stats.nodes);
    assert_eq!(stats.count("sigmoid"), 2);
    assert_eq!(stats.count("relu"), 0);
    let text = stats.to_string();
    assert!(text.contains("var") && text.contains("scalar_sub"), "{text}");
}

#[test]
fn stats_bytes_are_counts_times_element_sizes() {
    let tape = Tape::<f64>::with_capacity(64, 256);
    let _n = network(&tape, false);
    let stats = tape.stats();
    // Values: X 2, W 6, B1 3, V 3, B2 1, layer 1: 3 + 3 + 3, layer 2: 1 + 1 + 1, loss chain 4,
    // the constants of 1 - Y, powi's exponent 2 and 0.5 x, kept after their values: 3, and
    // the local partial derivative of each one-element elementwise node (Y's sigmoid, 1 - Y,
    // the square, 0.5 x), kept before its value: 4.
    assert_eq!(stats.value_elements, 38);
    assert_eq!(stats.value_bytes, 38 * 8);
    // Adjoints: every node but X.
    assert_eq!(stats.adjoint_elements, 29);
    assert_eq!(stats.adjoint_bytes, 29 * 8);
    // docs/architecture.md: a node record is 40 bytes.
    assert_eq!(stats.node_size, 40);
    assert_eq!(stats.node_bytes, 15 * 40);
    assert_eq!(stats.label_bytes, 0);
    assert!(stats.node_capacity_bytes >= 64 * 40 && stats.node_capacity_bytes.is_multiple_of(40));
    assert!(stats.value_capacity_bytes >= 256 * 8 && stats.value_capacity_bytes.is_multiple_of(8));
    // A test runs on a thread of its own, so no earlier tape left this one an adjoint buffer.
    assert_eq!(stats.adjoint_capacity_bytes, 0, "no sweep yet, no adjoint buffer");
    assert_eq!(stats.total_bytes(), 15 * 40 + 38 * 8 + 29 * 8);
}

#[test]
fn stats_count_the_saved_probabilities_and_labels_of_the_fused_loss_in_f32() {
    let tape = Tape::<f32>::new();
    let z = tape.var(&Tensor::from_rows(&[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]));
    let _ = z.softmax_cross_entropy(&[0, 1, 1]);
    let stats = tape.stats();
    assert_eq!(stats.element_type, "f32");
    // z: 6; the loss: 1, then its 3 x 2 probabilities.
    assert_eq!(stats.value_elements, 13);
    assert_eq!(stats.value_bytes, 13 * 4);
    assert_eq!(stats.adjoint_bytes, 7 * 4);
    assert_eq!(stats.label_bytes, 3 * std::mem::size_of::<usize>());
}

#[test]
fn stats_reserved_bytes_outlive_clear_and_include_the_adjoint_buffer() {
    let mut tape = Tape::<f64>::new();
    {
        let n = network(&tape, false);
        drop(tape.backward(n.e));
    }
    let before = tape.stats();
    assert!(before.adjoint_capacity_bytes >= 29 * 8, "the swept buffer is back in the pool: {before:?}");
    tape.clear();
    let after = tape.stats();
    assert_eq!((after.nodes, after.node_bytes, after.value_bytes, after.adjoint_bytes), (0, 0, 0, 0));
    assert!(after.by_op.is_empty());
    assert_eq!(after.node_capacity_bytes, before.node_capacity_bytes);
    assert_eq!(after.value_capacity_bytes, before.value_capacity_bytes);
    assert_eq!(after.adjoint_capacity_bytes, before.adjoint_capacity_bytes);
}
