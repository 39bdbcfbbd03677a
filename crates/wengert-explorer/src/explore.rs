//! Answers a [`Request`]: chooses the graph, applies the user's values, records it on the
//! tape, sweeps, and reads everything the page shows from the engine: values, adjoints,
//! `explain`'s rules and BP equations, gradients, `check_gradients`, gradient descent.

use crate::builtin::{self, Example};
use crate::graph::{Graph, Op};
use crate::parse::parse;
use crate::request::{
    CheckOut, CheckRow, ErrorResponse, GradientOut, NodeOut, Request, Response, StepOut, TrainOut, MAX_TRAIN_STEPS,
};
use crate::show;
use std::collections::BTreeMap;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{registry, Shape, Tape, Tensor};

/// A request that cannot be answered, before it is written as an [`ErrorResponse`].
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// The request field at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// For an expression, the column of the problem.
    pub column: Option<usize>,
}

impl Refusal {
    fn new(field: &str, message: String) -> Refusal {
        Refusal { field: field.to_string(), message, column: None }
    }

    /// The JSON form.
    pub fn into_response(self) -> ErrorResponse {
        ErrorResponse { ok: false, field: self.field, error: self.message, column: self.column }
    }
}

/// Answers `request` with the engine.
///
/// # Errors
///
/// A [`Refusal`] naming the field: an unknown graph, an expression that does not parse (with
/// its column), a value for a leaf that does not exist or of the wrong length or not
/// finite, a training run out of bounds.
///
/// # Examples
///
/// ```
/// use wengert_explorer::explore::answer;
/// use wengert_explorer::request::Request;
/// let response = answer(&Request { graph: "net231".into(), ..Request::default() })?;
/// assert_eq!(response.loss, "0.0723034528622");
/// # Ok::<(), wengert_explorer::explore::Refusal>(())
/// ```
pub fn answer(request: &Request) -> Result<Response, Refusal> {
    let mut example = choose(request)?;
    apply_values(&mut example.graph, &request.values)?;
    let graph = &example.graph;
    let output = graph.output();
    let requires = graph.requires_grad();

    let tape = Tape::<f64>::new();
    let vars = graph.record(&tape);
    let values: Vec<Vec<f64>> = vars.iter().map(|v| v.values().to_vec()).collect();
    let shapes: Vec<Shape> = vars.iter().map(|v| v.shape()).collect();
    let loss = vars[output].value();
    let grads = tape.backward(vars[output]);
    let explanation = grads.explain();
    let loss_name = loss_name(graph);

    let nodes = (0..graph.nodes.len())
        .map(|i| {
            let node = &graph.nodes[i];
            let (leaf, trainable, raw) = match &node.op {
                Op::Leaf { trainable, values, .. } => (true, *trainable, values.clone()),
                _ => (false, false, Vec::new()),
            };
            NodeOut {
                id: i,
                op: vars[i].op_name().to_string(),
                label: node.label.clone(),
                shape: shapes[i].to_string(),
                dims: shapes[i].dims().to_vec(),
                inputs: node.inputs.clone(),
                value: values[i].iter().map(|&x| show(x)).collect(),
                raw,
                trainable,
                leaf,
                requires_grad: requires[i],
            }
        })
        .collect();

    let sweep = explanation
        .lines()
        .iter()
        .map(|step| {
            let adjoint = grads.wrt_slice(vars[step.index]).to_vec();
            let worked = if graph.nodes[step.index].inputs.is_empty() {
                let node = &graph.nodes[step.index];
                vec![format!("d{loss_name}/d{} = {}", node.label, block(&adjoint, shapes[step.index]))]
            } else {
                worked(graph, step.index, step.op, &step.rule, &values, &shapes, &adjoint, &requires)
            };
            StepOut {
                node: step.index,
                op: step.op.to_string(),
                adjoint: adjoint.iter().map(|&x| show(x)).collect(),
                rule: step.rule.clone(),
                source: step.source.clone(),
                equation: step.equation.clone(),
                worked,
                line: step.to_string(),
            }
        })
        .collect();

    let gradients = graph
        .trainable()
        .into_iter()
        .map(|i| GradientOut {
            node: i,
            name: graph.nodes[i].label.clone(),
            dims: shapes[i].dims().to_vec(),
            values: grads.wrt_slice(vars[i]).iter().map(|&x| show(x)).collect(),
        })
        .collect();

    let check = request.check.then(|| check(graph, &shapes));
    let train = match request.train {
        Some(train) => Some(run_training(graph, train.steps, train.learning_rate)?),
        None => None,
    };
    Ok(Response {
        ok: true,
        title: example.title.clone(),
        description: example.description.clone(),
        nodes,
        output,
        loss: show(loss),
        loss_name: loss_name.clone(),
        sweep,
        gradients,
        check,
        train,
        explain: explanation.to_string(),
    })
}

/// The name of the loss in `dE/dW`: the output's label if it is a short name (`E`, `L`,
/// `S`), else `L`.
fn loss_name(graph: &Graph) -> String {
    let label = &graph.nodes[graph.output()].label;
    let short = !label.is_empty() && label.len() <= 3 && label.chars().all(char::is_alphanumeric);
    if short {
        label.clone()
    } else {
        "L".to_string()
    }
}

/// The graph the request names, with its default values.
fn choose(request: &Request) -> Result<Example, Refusal> {
    if request.graph == "expression" {
        let text = request.expression.as_deref().unwrap_or("");
        let parsed = parse(text).map_err(|error| Refusal {
            field: "expression".to_string(),
            message: error.to_string(),
            column: Some(error.column),
        })?;
        return Ok(Example {
            graph: parsed.graph,
            title: "Your expression".to_string(),
            description: format!("L = {}, every name a trainable scalar.", text.trim()),
        });
    }
    builtin::example(&request.graph).ok_or_else(|| {
        Refusal::new(
            "graph",
            format!("unknown graph {:?}; choose one of {}, expression", request.graph, builtin::NAMES.join(", ")),
        )
    })
}

/// Puts the request's values into the leaves they name.
fn apply_values(graph: &mut Graph, values: &BTreeMap<String, Vec<f64>>) -> Result<(), Refusal> {
    for (name, given) in values {
        let field = format!("values.{name}");
        let leaves: Vec<usize> = (0..graph.nodes.len())
            .filter(|&i| matches!(graph.nodes[i].op, Op::Leaf { .. }) && graph.nodes[i].label == *name)
            .collect();
        if leaves.is_empty() {
            return Err(Refusal::new(&field, format!("the graph has no leaf called {name:?}")));
        }
        if let Some(k) = given.iter().position(|x| !x.is_finite()) {
            return Err(Refusal::new(&field, format!("value {k} is not a finite number")));
        }
        for leaf in leaves {
            let holds = graph.leaf_values(leaf).len();
            if given.len() != holds {
                return Err(Refusal::new(&field, format!("{name} holds {holds} numbers, {} given", given.len())));
            }
            graph.leaf_values_mut(leaf).copy_from_slice(given);
        }
    }
    Ok(())
}

/// The rule of node `index` with the numbers put in: one line per input it sends to, each
/// ending with the contribution the engine's rule computed (replayed by
/// [`Graph::contributions`]) and the node it went to. Not for a leaf.
#[allow(clippy::too_many_arguments)]
fn worked(
    graph: &Graph,
    index: usize,
    op_name: &str,
    rule: &str,
    values: &[Vec<f64>],
    shapes: &[Shape],
    adjoint: &[f64],
    requires: &[bool],
) -> Vec<String> {
    let node = &graph.nodes[index];
    let contributions = graph.contributions(index, values, shapes, adjoint);
    // The registry's texts name every input by position (`da`, `db`; `dz` for one input).
    let symbols: Vec<String> = registry::find(op_name)
        .map(|spec| spec.explain.iter().map(|text| input_symbol(text)).collect())
        .unwrap_or_default();
    let mut bindings: Vec<(String, Vec<f64>, Shape)> = vec![
        ("g".to_string(), adjoint.to_vec(), shapes[index]),
        ("G".to_string(), adjoint.to_vec(), shapes[index]),
        // Rules that read the output call it y, or s for sigmoid and t for tanh.
        ("y".to_string(), values[index].clone(), shapes[index]),
        ("s".to_string(), values[index].clone(), shapes[index]),
        ("t".to_string(), values[index].clone(), shapes[index]),
    ];
    for (symbol, &input) in symbols.iter().zip(&node.inputs) {
        bindings.retain(|(name, _, _)| name != symbol);
        bindings.push((symbol.clone(), values[input].clone(), shapes[input]));
    }
    let receiving = node.inputs.iter().enumerate().filter(|&(_, &input)| requires[input]);
    receiving
        .zip(rule_texts(rule))
        .map(|((k, &input), (text, _))| {
            let result = block(&contributions[k], shapes[input]);
            substitute(&text, &bindings, &result, input)
        })
        .collect()
}

/// `"dX = G W^T -> #7, dW = X^T G -> #3; nothing for #0 (no adjoint)"` ->
/// `[("dX = G W^T", 7), ("dW = X^T G", 3)]`.
fn rule_texts(rule: &str) -> Vec<(String, usize)> {
    let mut parts = Vec::new();
    let mut rest = rule;
    while let Some(arrow) = rest.find(" -> #") {
        let text = rest[..arrow].to_string();
        let after = &rest[arrow + 5..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        let target = after[..digits].parse().unwrap_or(0);
        parts.push((text, target));
        rest = after[digits..].strip_prefix(", ").unwrap_or(&after[digits..]);
    }
    parts
}

/// `"dz = g (.) s (1 - s)"` -> `"z"`; `"dx_i = g"` -> `"x"`.
fn input_symbol(text: &str) -> String {
    let lhs = text.split(" = ").next().unwrap_or("");
    lhs.strip_prefix('d').unwrap_or(lhs).chars().take_while(|c| c.is_alphanumeric()).collect()
}

/// `"n = 2"` -> `[("n", 2)]`; `None` unless the text is only such definitions.
fn constants(text: &str) -> Option<Vec<(String, f64)>> {
    text.split(", ")
        .map(|part| {
            let (name, value) = part.split_once(" = ")?;
            let name = name.trim();
            let ok = !name.is_empty() && name.chars().all(char::is_alphanumeric);
            ok.then_some(())?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The rule text with the numbers put in for scalars (`(-0.38) (.) 0.62 (1 - 0.62)`), or
/// followed by the bound blocks for tensors, then `= result -> #input`.
fn substitute(text: &str, bindings: &[(String, Vec<f64>, Shape)], result: &str, input: usize) -> String {
    let (lhs, rhs) = text.split_once(" = ").unwrap_or((text, ""));
    // `g (.) n x^(n-1), n = 2`: the constants after the formula are put in too; other words
    // after a comma (`1^T G, the column sums of G`) are left out of the worked line.
    let mut bound: Vec<(String, Vec<f64>, Shape)> = bindings.to_vec();
    let formula = match rhs.split_once(", ") {
        Some((formula, rest)) => {
            for (name, value) in constants(rest).unwrap_or_default() {
                bound.retain(|(n, _, _)| *n != name);
                bound.push((name, vec![value], Shape::scalar()));
            }
            formula
        }
        None => rhs,
    };
    let mut used: Vec<&(String, Vec<f64>, Shape)> = Vec::new();
    for token in words(formula) {
        if let Some(binding) = bound.iter().find(|(name, _, _)| name == token) {
            if !used.iter().any(|(name, _, _)| name == token) {
                used.push(binding);
            }
        }
    }
    if used.is_empty() {
        return format!("{lhs} = {formula} = {result} -> #{input}");
    }
    if used.iter().all(|(_, values, _)| values.len() == 1) {
        let mut out = String::new();
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            match used.iter().find(|(name, _, _)| name == word) {
                // In parentheses, so that `n x` reads as a product: `(2) (0.38)`.
                Some((_, values, _)) => out.push_str(&format!("({})", show(values[0]))),
                None => out.push_str(word),
            }
            word.clear();
        };
        for c in formula.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        return format!("{lhs} = {formula} = {out} = {result} -> #{input}");
    }
    let given: Vec<String> =
        used.iter().map(|(name, values, shape)| format!("{name} = {}", block(values, *shape))).collect();
    format!("{lhs} = {formula}, with {}: {lhs} = {result} -> #{input}", given.join(", "))
}

/// The words of a formula: runs of letters, digits and `_`.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect()
}

/// A block of numbers as the page prints it: `0.5`, `[0.1, 0.2]`, `[[0.1, 0.3], [0.2, 0.4]]`.
///
/// ```
/// use wengert_explorer::explore::block;
/// use wengert_tape::Shape;
/// assert_eq!(block(&[0.5], Shape::scalar()), "0.5");
/// assert_eq!(block(&[1.0, 2.0, 3.0, 4.0], Shape::matrix(2, 2)), "[[1, 2], [3, 4]]");
/// ```
pub fn block(values: &[f64], shape: Shape) -> String {
    let shown: Vec<String> = values.iter().map(|&x| show(x)).collect();
    match shape.rank() {
        0 => shown.join(", "),
        1 => format!("[{}]", shown.join(", ")),
        _ => {
            let cols = shape.cols().max(1);
            let rows: Vec<String> = shown.chunks(cols).map(|row| format!("[{}]", row.join(", "))).collect();
            format!("[{}]", rows.join(", "))
        }
    }
}

/// The gradient check of every trainable leaf, by the library's `check_gradients`.
fn check(graph: &Graph, shapes: &[Shape]) -> CheckOut {
    let output = graph.output();
    let trainable = graph.trainable();
    let inputs: Vec<Tensor<f64>> =
        trainable.iter().map(|&i| Tensor::new(shapes[i], graph.leaf_values(i).to_vec())).collect();
    let report = check_gradients(|tape, vars| graph.record_with(tape, Some(vars))[output], &inputs);
    let tolerance = Tolerance::<f64>::default();
    let mut rows = Vec::new();
    for (k, &leaf) in trainable.iter().enumerate() {
        let shape = shapes[leaf];
        let (analytic, numeric) = (report.analytic[k].data(), report.numeric[k].data());
        for (e, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
            rows.push(CheckRow {
                name: element_name(&graph.nodes[leaf].label, shape, e),
                analytic: show(a),
                numeric: show(n),
                agrees: tolerance.accepts(a, n, report.value),
            });
        }
    }
    CheckOut { passes: report.passes(tolerance), max_abs_error: show(report.max_abs_error), rows }
}

/// `W[0][2]` for a matrix, `B1[1]` for a vector, `w1` for a scalar.
fn element_name(name: &str, shape: Shape, element: usize) -> String {
    match shape.rank() {
        0 => name.to_string(),
        1 => format!("{name}[{element}]"),
        _ => format!("{name}[{}][{}]", element / shape.cols().max(1), element % shape.cols().max(1)),
    }
}

/// Gradient descent on every trainable leaf (G1): all gradients from one sweep, then all
/// updates.
fn run_training(graph: &Graph, steps: usize, learning_rate: f64) -> Result<TrainOut, Refusal> {
    if steps > MAX_TRAIN_STEPS {
        return Err(Refusal::new("train.steps", format!("{steps} steps asked, at most {MAX_TRAIN_STEPS}")));
    }
    if !(learning_rate.is_finite() && learning_rate > 0.0) {
        return Err(Refusal::new("train.learning_rate", format!("{learning_rate} is not a finite positive number")));
    }
    let mut graph = graph.clone();
    let output = graph.output();
    let trainable = graph.trainable();
    let mut losses = Vec::with_capacity(steps + 1);
    for step in 0..=steps {
        let tape = Tape::<f64>::new();
        let vars = graph.record(&tape);
        let loss = vars[output].value();
        losses.push(loss);
        if step == steps {
            break;
        }
        let grads = tape.backward(vars[output]);
        let updates: Vec<Vec<f64>> = trainable.iter().map(|&i| grads.wrt_slice(vars[i]).to_vec()).collect();
        drop(grads);
        for (&leaf, gradient) in trainable.iter().zip(updates) {
            for (theta, g) in graph.leaf_values_mut(leaf).iter_mut().zip(gradient) {
                *theta -= learning_rate * g;
            }
        }
    }
    let values = trainable.iter().map(|&i| (graph.nodes[i].label.clone(), graph.leaf_values(i).to_vec())).collect();
    Ok(TrainOut {
        steps,
        learning_rate: show(learning_rate),
        first: show(losses[0]),
        last: show(losses[steps]),
        losses: losses.iter().map(|&x| x.is_finite().then_some(x)).collect(),
        values,
    })
}
