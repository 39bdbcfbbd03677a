//! Each step of the sweep worked out with numbers: the rule `explain` gives, with the
//! values it reads put in, and what it sends into each input's adjoint, computed by the
//! engine (`Graph::contributions`).

use crate::graph::Graph;
use crate::show;
use wengert_tape::{registry, ExplainedStep, Shape};

/// What the forward pass left for the sweep's steps, by node index.
pub(crate) struct Forward {
    /// Each node's value, row-major.
    pub values: Vec<Vec<f64>>,
    /// Each node's shape.
    pub shapes: Vec<Shape>,
    /// Whether each node gets an adjoint.
    pub requires: Vec<bool>,
}

/// The rule of node `index` with the numbers put in: one line per input it sends to, each
/// ending with the contribution the engine's rule computed (replayed by
/// [`Graph::contributions`]) and the node it went to. Not for a leaf.
pub(crate) fn worked(graph: &Graph, forward: &Forward, step: &ExplainedStep, adjoint: &[f64]) -> Vec<String> {
    let Forward { values, shapes, requires } = forward;
    let (index, op_name, rule) = (step.index, step.op, step.rule.as_str());
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
        if let Some(binding) = bound.iter().find(|(name, _, _)| name == token)
            && !used.iter().any(|(name, _, _)| name == token)
        {
            used.push(binding);
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
/// use wengert_explorer::worked::block;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_rules_split_into_one_text_per_receiving_input() {
        let parts = rule_texts("dX = G W^T -> #7, dW = X^T G -> #3; nothing for #0 (no adjoint)");
        assert_eq!(parts, [("dX = G W^T".to_string(), 7), ("dW = X^T G".to_string(), 3)]);
        assert_eq!(rule_texts("dx = g (.) n x^(n-1), n = 3 -> #12"), [("dx = g (.) n x^(n-1), n = 3".to_string(), 12)]);
        assert!(rule_texts("parameter: its adjoint is its gradient").is_empty());
    }

    #[test]
    fn scalar_rules_get_their_numbers_and_constants_put_in() {
        let bindings =
            vec![("g".to_string(), vec![-2.0], Shape::scalar()), ("x".to_string(), vec![3.0], Shape::scalar())];
        // powi with n = 2 at x = 3, upstream -2: -2 * 2 * 3 = -12.
        let line = substitute("dx = g (.) n x^(n-1), n = 2", &bindings, "-12", 4);
        assert_eq!(line, "dx = g (.) n x^(n-1) = (-2) (.) (2) (3)^((2)-1) = -12 -> #4");
        assert_eq!(input_symbol("dz = g (.) s (1 - s)"), "z");
        assert_eq!(input_symbol("dx_i = g"), "x");
        assert_eq!(constants("c = 0.5"), Some(vec![("c".to_string(), 0.5)]));
        assert_eq!(constants("the column sums of G"), None);
    }

    #[test]
    fn tensor_rules_list_the_blocks_they_read() {
        let bindings = vec![("G".to_string(), vec![1.0, 2.0], Shape::matrix(1, 2))];
        let line = substitute("dX = G", &bindings, "[[1, 2]]", 6);
        assert_eq!(line, "dX = G, with G = [[1, 2]]: dX = [[1, 2]] -> #6");
    }
}
