//! Every gradient element against central differences (G2), by the library's
//! `check_gradients`, in the form the page shows.

use crate::graph::Graph;
use crate::request::{CheckOut, CheckRow};
use crate::show;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Shape, Tensor};

/// The gradient check of every trainable leaf, by the library's `check_gradients`.
pub(crate) fn check(graph: &Graph, shapes: &[Shape]) -> CheckOut {
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
