//! A graph the explorer records on wengert's tape: leaves with their values, then ops in
//! recording order. Each graph node records exactly one tape node, so node k of the graph is
//! node #k of the tape and of [`wengert_tape::Gradients::explain`].

use wengert_tape::{Shape, Tape, Tensor, Var};

/// A function of one input, by the name the expression parser and the page use.
///
/// # Examples
///
/// ```
/// use wengert_explorer::graph::Function;
/// assert_eq!(Function::from_name("sigmoid"), Some(Function::Sigmoid));
/// assert_eq!(Function::Sigmoid.name(), "sigmoid");
/// assert!(Function::from_name("sigmiod").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// `sigmoid(z) = 1 / (1 + e^-z)`.
    Sigmoid,
    /// `tanh(z)`.
    Tanh,
    /// `relu(z) = max(0, z)`.
    Relu,
    /// `softplus(z) = log(1 + e^z)`.
    Softplus,
    /// `exp(x)`.
    Exp,
    /// The natural logarithm, `ln(x)` (also read as `log`).
    Ln,
    /// `sqrt(x)`.
    Sqrt,
    /// `sin(x)`.
    Sin,
    /// `cos(x)`.
    Cos,
    /// `abs(x)`.
    Abs,
}

impl Function {
    /// Every function, in the order the page lists them.
    pub const ALL: [Function; 10] = [
        Function::Sigmoid,
        Function::Tanh,
        Function::Relu,
        Function::Softplus,
        Function::Exp,
        Function::Ln,
        Function::Sqrt,
        Function::Sin,
        Function::Cos,
        Function::Abs,
    ];

    /// The name the engine records it under (`ln` for the natural logarithm).
    pub fn name(self) -> &'static str {
        match self {
            Function::Sigmoid => "sigmoid",
            Function::Tanh => "tanh",
            Function::Relu => "relu",
            Function::Softplus => "softplus",
            Function::Exp => "exp",
            Function::Ln => "ln",
            Function::Sqrt => "sqrt",
            Function::Sin => "sin",
            Function::Cos => "cos",
            Function::Abs => "abs",
        }
    }

    /// The function called `name`; `log` is the natural logarithm.
    pub fn from_name(name: &str) -> Option<Function> {
        if name == "log" {
            return Some(Function::Ln);
        }
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    fn apply<'t>(self, x: Var<'t, f64>) -> Var<'t, f64> {
        match self {
            Function::Sigmoid => x.sigmoid(),
            Function::Tanh => x.tanh(),
            Function::Relu => x.relu(),
            Function::Softplus => x.softplus(),
            Function::Exp => x.exp(),
            Function::Ln => x.ln(),
            Function::Sqrt => x.sqrt(),
            Function::Sin => x.sin(),
            Function::Cos => x.cos(),
            Function::Abs => x.abs(),
        }
    }
}

/// What one node does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A leaf holding its values: a trainable parameter (`tape.var`) or data (`tape.constant`).
    Leaf {
        /// Whether gradient descent changes it (and the sweep gives it an adjoint).
        trainable: bool,
        /// Its shape.
        shape: Shape,
        /// Its values, row-major.
        values: Vec<f64>,
    },
    /// A function of one input.
    Function(Function),
    /// `-x`.
    Neg,
    /// `x + c`.
    AddScalar(f64),
    /// `x * c`.
    MulScalar(f64),
    /// `x / c`.
    DivScalar(f64),
    /// `c - x`.
    ScalarSub(f64),
    /// `c / x`.
    ScalarDiv(f64),
    /// `x^n`, n an integer.
    Powi(i32),
    /// `x^p`, p a number.
    Powf(f64),
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`, elementwise.
    Mul,
    /// `a / b`, elementwise.
    Div,
    /// `a^b`, both on the tape.
    Pow,
    /// The matrix product `X W`.
    MatMul,
    /// `Z + b`, the row `b` added to every row of `Z`.
    AddBias,
    /// The sum of every element.
    Sum,
}

impl Op {
    fn record<'t>(&self, inputs: &[Var<'t, f64>]) -> Var<'t, f64> {
        let x = inputs[0];
        let other = || inputs[1];
        match *self {
            Op::Leaf { .. } => unreachable!("leaves are recorded by Graph::record"),
            Op::Function(f) => f.apply(x),
            Op::Neg => -x,
            Op::AddScalar(c) => x + c,
            Op::MulScalar(c) => x * c,
            Op::DivScalar(c) => x / c,
            Op::ScalarSub(c) => c - x,
            Op::ScalarDiv(c) => c / x,
            Op::Powi(n) => x.powi(n),
            Op::Powf(p) => x.powf(p),
            Op::Add => x + other(),
            Op::Sub => x - other(),
            Op::Mul => x * other(),
            Op::Div => x / other(),
            Op::Pow => x.pow(other()),
            Op::MatMul => x.matmul(other()),
            Op::AddBias => x.add_bias(other()),
            Op::Sum => x.sum(),
        }
    }
}

/// One node: its op, the nodes it reads (earlier ones), and the name the page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What it does.
    pub op: Op,
    /// The nodes it reads, by index.
    pub inputs: Vec<usize>,
    /// A short name: a leaf's name, or what the node stands for (`net_1`, `H`, `w1 * x`).
    pub label: String,
}

/// A graph in recording order whose last node is the output (the loss).
///
/// # Examples
///
/// ```
/// use wengert_explorer::graph::{Graph, Op};
/// use wengert_tape::Tape;
/// let mut graph = Graph::default();
/// let w = graph.leaf("w", true, &[3.0]);
/// let x = graph.leaf("x", false, &[2.0]);
/// graph.push(Op::Mul, &[w, x], "w * x");
/// let tape = Tape::<f64>::new();
/// let vars = graph.record(&tape);
/// assert_eq!(vars[2].value(), 6.0);
/// assert_eq!(tape.backward(vars[2]).wrt(vars[0]), 2.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// The nodes, in recording order.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Adds a scalar leaf (one value) or a vector leaf (several), returns its index.
    pub fn leaf(&mut self, name: &str, trainable: bool, values: &[f64]) -> usize {
        let shape = if values.len() == 1 { Shape::scalar() } else { Shape::vector(values.len()) };
        self.leaf_with_shape(name, trainable, shape, values.to_vec())
    }

    /// Adds a leaf of any shape, returns its index.
    ///
    /// # Panics
    ///
    /// If `values` does not fill `shape`.
    pub fn leaf_with_shape(&mut self, name: &str, trainable: bool, shape: Shape, values: Vec<f64>) -> usize {
        assert!(
            values.len() == shape.numel(),
            "Graph::leaf: {name} is {shape} ({} elements) but has {} values",
            shape.numel(),
            values.len()
        );
        self.nodes.push(Node {
            op: Op::Leaf { trainable, shape, values },
            inputs: Vec::new(),
            label: name.to_string(),
        });
        self.nodes.len() - 1
    }

    /// Adds an op node reading `inputs`, returns its index.
    ///
    /// # Panics
    ///
    /// If an input is not an earlier node.
    pub fn push(&mut self, op: Op, inputs: &[usize], label: &str) -> usize {
        let len = self.nodes.len();
        assert!(inputs.iter().all(|&i| i < len), "Graph::push: {label} reads {inputs:?}, only {len} nodes exist");
        self.nodes.push(Node { op, inputs: inputs.to_vec(), label: label.to_string() });
        len
    }

    /// The output node's index: the last node.
    pub fn output(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    /// The indices of the trainable leaves, in order.
    pub fn trainable(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| matches!(self.nodes[i].op, Op::Leaf { trainable: true, .. })).collect()
    }

    /// The values of leaf `index`.
    ///
    /// # Panics
    ///
    /// If node `index` is not a leaf.
    pub fn leaf_values(&self, index: usize) -> &[f64] {
        match &self.nodes[index].op {
            Op::Leaf { values, .. } => values,
            _ => panic!("Graph::leaf_values: node {index} ({}) is not a leaf", self.nodes[index].label),
        }
    }

    /// The values of leaf `index`, to change.
    ///
    /// # Panics
    ///
    /// If node `index` is not a leaf.
    pub fn leaf_values_mut(&mut self, index: usize) -> &mut Vec<f64> {
        let label = self.nodes[index].label.clone();
        match &mut self.nodes[index].op {
            Op::Leaf { values, .. } => values,
            _ => panic!("Graph::leaf_values_mut: node {index} ({label}) is not a leaf"),
        }
    }

    /// Which nodes get an adjoint: trainable leaves and every node reading one.
    pub fn requires_grad(&self) -> Vec<bool> {
        let mut requires = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let own = match node.op {
                Op::Leaf { trainable, .. } => trainable,
                _ => node.inputs.iter().any(|&i| requires[i]),
            };
            requires.push(own);
        }
        requires
    }

    /// Records the whole graph on an empty tape: one var per node, node k at tape index k.
    ///
    /// # Panics
    ///
    /// If the tape already holds nodes.
    pub fn record<'t>(&self, tape: &'t Tape<f64>) -> Vec<Var<'t, f64>> {
        let vars = self.record_with(tape, None);
        if let Some(first) = vars.first() {
            assert_eq!(first.index(), 0, "Graph::record: the tape must be empty");
        }
        vars
    }

    /// Records the graph on `tape`, taking the trainable leaves from `parameters` (in the
    /// order of [`Graph::trainable`]) when given, as `check_gradients` hands them over.
    ///
    /// # Panics
    ///
    /// If `parameters` holds fewer vars than the graph has trainable leaves.
    pub fn record_with<'t>(&self, tape: &'t Tape<f64>, parameters: Option<&[Var<'t, f64>]>) -> Vec<Var<'t, f64>> {
        let mut vars: Vec<Var<'t, f64>> = Vec::with_capacity(self.nodes.len());
        let mut next_parameter = 0;
        for node in &self.nodes {
            let var = match &node.op {
                Op::Leaf { trainable: true, shape, values } => match parameters {
                    Some(given) => {
                        next_parameter += 1;
                        given[next_parameter - 1]
                    }
                    None => tape.var((*shape, values.as_slice())),
                },
                Op::Leaf { trainable: false, shape, values } => tape.constant((*shape, values.as_slice())),
                op => {
                    let inputs: Vec<Var<'t, f64>> = node.inputs.iter().map(|&i| vars[i]).collect();
                    op.record(&inputs)
                }
            };
            vars.push(var);
        }
        vars
    }

    /// What node `index` sends into each input's adjoint when it receives `upstream`: the op
    /// replayed alone on a fresh tape, every input a var, under the loss
    /// `sum(upstream (.) op(inputs))`, so the engine's own rule computes each contribution.
    /// `values` holds every node's forward values. A leaf sends nothing.
    pub fn contributions(
        &self,
        index: usize,
        values: &[Vec<f64>],
        shapes: &[Shape],
        upstream: &[f64],
    ) -> Vec<Vec<f64>> {
        let node = &self.nodes[index];
        if matches!(node.op, Op::Leaf { .. }) {
            return Vec::new();
        }
        let tape = Tape::<f64>::new();
        let inputs: Vec<Var<'_, f64>> =
            node.inputs.iter().map(|&i| tape.var((shapes[i], values[i].as_slice()))).collect();
        let output = node.op.record(&inputs);
        let seed = tape.constant(&Tensor::new(shapes[index], upstream.to_vec()));
        let grads = tape.backward((output * seed).sum());
        inputs.iter().map(|&v| grads.wrt_slice(v).to_vec()).collect()
    }
}
