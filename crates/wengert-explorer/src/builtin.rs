//! The three graphs of the backpropagation notes, with the notes' numbers: the three-weight
//! chain (6c), the 2-3-1 sigmoid network (6a) and XOR with relu (6b).

use crate::graph::{Function, Graph, Op};
use wengert_tape::Shape;

/// A graph with the title and the one-paragraph description the page shows above it.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The graph, its output last.
    pub graph: Graph,
    /// A title: `The 2-3-1 sigmoid network (notes 6a)`.
    pub title: String,
    /// What the graph computes, in a sentence or two.
    pub description: String,
}

/// The names [`example`] knows, in the order the page lists them.
pub const NAMES: [&str; 3] = ["chain", "net231", "xor"];

/// The built-in graph called `name` (one of [`NAMES`]).
///
/// # Examples
///
/// ```
/// use wengert_explorer::builtin::example;
/// let net = example("net231").expect("a built-in graph");
/// assert_eq!(net.graph.nodes.len(), 16); // 6 leaves, 10 ops
/// assert!(example("lenet").is_none());
/// ```
pub fn example(name: &str) -> Option<Example> {
    match name {
        "chain" => Some(chain()),
        "net231" => Some(net231()),
        "xor" => Some(xor()),
        _ => None,
    }
}

/// Notes 6c, first sample: `y = w1 x, z = w2 y, e = w3 z, L = 1/2 (e - t)^2`.
fn chain() -> Example {
    let mut g = Graph::default();
    let x = g.leaf("x", false, &[1.0]);
    let w1 = g.leaf("w1", true, &[0.2333]);
    let w2 = g.leaf("w2", true, &[-0.233]);
    let w3 = g.leaf("w3", true, &[-0.52133]);
    let t = g.leaf("t", false, &[-1.0]);
    let y = g.push(Op::Mul, &[w1, x], "y = w1 x");
    let z = g.push(Op::Mul, &[w2, y], "z = w2 y");
    let e = g.push(Op::Mul, &[w3, z], "e = w3 z");
    let error = g.push(Op::Sub, &[e, t], "e - t");
    let square = g.push(Op::Powi(2), &[error], "(e - t)^2");
    g.push(Op::MulScalar(0.5), &[square], "L");
    Example {
        graph: g,
        title: "The three-weight chain (notes 6c)".to_string(),
        description: "y = w1 x, z = w2 y, e = w3 z, L = 1/2 (e - t)^2, at the first sample x = 1, t = -1.".to_string(),
    }
}

/// Notes 6a: `net_1 = X W + B1, H = sigmoid(net_1), net_2 = H V + B2, Y = sigmoid(net_2),
/// E = 1/2 sum (t - Y)^2`, recorded as `examples/worked_2_3_1.rs` records it.
fn net231() -> Example {
    let mut g = Graph::default();
    let x = g.leaf_with_shape("X", false, Shape::matrix(1, 2), vec![0.4, 0.5]);
    let w = g.leaf_with_shape("W", true, Shape::matrix(2, 3), vec![0.1, 0.3, 0.5, 0.2, 0.4, 0.6]);
    let b1 = g.leaf("B1", true, &[0.1, 0.2, 0.3]);
    let v = g.leaf_with_shape("V", true, Shape::matrix(3, 1), vec![0.1, 0.2, 0.3]);
    let b2 = g.leaf_with_shape("B2", true, Shape::vector(1), vec![0.1]);
    let t = g.leaf("target", false, &[1.0]);
    let xw = g.push(Op::MatMul, &[x, w], "X W");
    let net1 = g.push(Op::AddBias, &[xw, b1], "net_1");
    let h = g.push(Op::Function(Function::Sigmoid), &[net1], "H");
    let hv = g.push(Op::MatMul, &[h, v], "H V");
    let net2 = g.push(Op::AddBias, &[hv, b2], "net_2");
    let y = g.push(Op::Function(Function::Sigmoid), &[net2], "Y");
    let error = g.push(Op::Sub, &[t, y], "t - Y");
    let square = g.push(Op::Powi(2), &[error], "(t - Y)^2");
    let sum = g.push(Op::Sum, &[square], "sum");
    g.push(Op::MulScalar(0.5), &[sum], "E");
    Example {
        graph: g,
        title: "The 2-3-1 sigmoid network (notes 6a)".to_string(),
        description: "net_1 = X W + B1, H = sigmoid(net_1), net_2 = H V + B2, Y = sigmoid(net_2), \
                      E = 1/2 sum (t - Y)^2, one sample X = [0.4, 0.5], target 1."
            .to_string(),
    }
}

/// Notes 6b: `f(X) = relu(X W + c) w + b` on the four XOR inputs, `S` the sum of the outputs.
fn xor() -> Example {
    let mut g = Graph::default();
    let x = g.leaf_with_shape("X", false, Shape::matrix(4, 2), vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let w = g.leaf_with_shape("W", true, Shape::matrix(2, 2), vec![1.0, 1.0, 1.0, 1.0]);
    let c = g.leaf("c", true, &[0.0, -1.0]);
    let w_out = g.leaf_with_shape("w", true, Shape::matrix(2, 1), vec![1.0, -2.0]);
    let b = g.leaf_with_shape("b", true, Shape::vector(1), vec![0.0]);
    let xw = g.push(Op::MatMul, &[x, w], "X W");
    let z = g.push(Op::AddBias, &[xw, c], "X W + c");
    let hidden = g.push(Op::Function(Function::Relu), &[z], "relu(X W + c)");
    let hw = g.push(Op::MatMul, &[hidden, w_out], "relu(.) w");
    let f = g.push(Op::AddBias, &[hw, b], "f(X)");
    g.push(Op::Sum, &[f], "S");
    Example {
        graph: g,
        title: "XOR with relu (notes 6b)".to_string(),
        description: "f(X) = relu(X W + c) w + b on the four XOR inputs, S = sum of the outputs. \
                      Three relu inputs are exactly 0: the tape uses relu'(0) = 0, central \
                      differences average the two slopes there, so the check disagrees on W and c."
            .to_string(),
    }
}
