//! Answers a [`Request`]: chooses the graph, applies the user's values, records it on the
//! tape, sweeps, and reads everything the page shows from the engine: values, adjoints,
//! `explain`'s rules and BP equations, gradients, `check_gradients`, gradient descent.

use crate::builtin::{self, Example};
use crate::check::check;
use crate::graph::{Graph, Op};
use crate::parse::parse;
use crate::request::{ErrorResponse, GradientOut, NodeOut, Request, Response, StepOut};
use crate::show;
use crate::train::run_training;
use crate::worked::{block, worked, Forward};
use std::collections::BTreeMap;
use wengert_tape::Tape;

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
    pub(crate) fn new(field: &str, message: String) -> Refusal {
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

    let tape = Tape::<f64>::new();
    let vars = graph.record(&tape);
    let forward = Forward {
        values: vars.iter().map(|v| v.values().to_vec()).collect(),
        shapes: vars.iter().map(|v| v.shape()).collect(),
        requires: graph.requires_grad(),
    };
    let Forward { values, shapes, requires } = &forward;
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
                worked(graph, &forward, step, &adjoint)
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

    let check = request.check.then(|| check(graph, shapes));
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
