//! The tape's gradient of random computation graphs agrees with central differences (G2):
//! DAGs of up to ~50 nodes over a few leaves (tensors of one shape and rank-0 scalars), built
//! from `+ - * /` between nodes (a node with itself, a scalar broadcast on either side),
//! plain numbers on either side, exp, ln, sqrt, powi, sigmoid, tanh, softplus, relu (F2-F5),
//! neg, sum and mean (F16), with heavy fan-out: operands lean toward recent nodes and toward
//! one hub node. And the fan-out rule itself in closed form: a node used k times collects the
//! sum of its k adjoints (`x + ... + x` has gradient k, `x * x` has gradient `2x`).

use proptest::collection::vec;
use proptest::prelude::*;
use wengert_tape::check::{check_gradients, Tolerance};
use wengert_tape::{Shape, Tape, Tensor, Var};

/// Random graphs checked. A case records the graph twice per leaf element per central
/// difference (up to 45 leaf elements, ~100 nodes each), so 512 cases take well under a second.
const GRAPH_CASES: u32 = 512;
/// Cases of the closed-form fan-out properties (one tiny tape each).
const FAN_OUT_CASES: u32 = 256;

/// Most steps a graph has before shrinking.
const MAX_STEPS: usize = 50;
/// A node whose static bound exceeds this is squashed as `4 tanh(v / 4)` (bound 4).
const SQUASH_ABOVE: f64 = 8.0;
/// |leaf value| at most this.
const LEAF_BOUND: f64 = 1.5;
/// relu inputs must be exactly 0 (a structural zero such as `relu(x - x)`, constant under any
/// perturbation) or at least this far from the kink.
const RELU_MARGIN: f64 = 1e-2;

// ---------------------------------------------------------------------------------------
// Graph descriptions: plain data, so that proptest can shrink them
// ---------------------------------------------------------------------------------------

/// Which existing node an operand is, resolved when the graph is replayed, so that any
/// prefix or sub-list of steps (what shrinking produces) is still a valid graph.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// The k-th most recent node (0 = the last one).
    Recent(usize),
    /// The hub node, reused all over the graph.
    Hub,
    /// Any node, uniformly.
    Any(usize),
}

/// The second operand of a binary op.
#[derive(Clone, Copy, Debug)]
enum Second {
    /// The first operand again: `x + x`, `x * x`, `x / x`, `x - x`.
    Same,
    Other(Pick),
}

#[derive(Clone, Copy, Debug)]
enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// `a / (softplus(b) + offset)`: a denominator kept at least `offset` from 0.
    Div,
}

#[derive(Clone, Copy, Debug)]
enum UnaryOp {
    /// `exp(a)` where a's bound is at most 2, `exp(tanh(a))` otherwise.
    Exp,
    /// `ln(softplus(a) + offset)`.
    Ln,
    /// `sqrt(softplus(a) + offset)`.
    Sqrt,
    /// `a^n` for n > 0, `(softplus(a) + offset)^n` for n <= 0.
    Powi(i32),
    Sigmoid,
    Tanh,
    Softplus,
    Relu,
    Neg,
}

/// A plain number `c` with a node: `a + c`, `a - c`, `c - a`, `a * c`, `c * a`, `a / c`, and
/// `c / (softplus(a) + 1/2)`.
#[derive(Clone, Copy, Debug)]
enum NumberOp {
    AddC,
    SubC,
    CSub,
    MulC,
    CMul,
    DivC,
    CDiv,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Binary {
        op: BinaryOp,
        a: Pick,
        b: Second,
        offset: f64,
    },
    Unary {
        op: UnaryOp,
        a: Pick,
        offset: f64,
    },
    Number {
        op: NumberOp,
        a: Pick,
        c: f64,
    },
    /// Sum or mean of a node to a rank-0 scalar (F16).
    Reduce {
        mean: bool,
        a: Pick,
    },
}

/// One term of the output: `w * node` for a scalar node, `sum(node (.) W)` for a tensor node.
#[derive(Clone, Debug)]
struct Term {
    node: Pick,
    scalar_weight: f64,
    tensor_weights: Tensor<f64>,
}

#[derive(Clone, Debug)]
struct Graph {
    /// The leaves: tensors of one shape, and rank-0 scalars.
    leaves: Vec<Tensor<f64>>,
    /// The hub's node index (clamped to the nodes that exist when it is used).
    hub: usize,
    steps: Vec<Step>,
    /// The output is the sum of the terms; the first is always the last node.
    terms: Vec<Term>,
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        4 => (0..4usize).prop_map(Pick::Recent),
        2 => Just(Pick::Hub),
        2 => any::<usize>().prop_map(Pick::Any),
    ]
}

fn second() -> impl Strategy<Value = Second> {
    prop_oneof![1 => Just(Second::Same), 5 => pick().prop_map(Second::Other)]
}

/// `|c|` in [0.25, 2] with a random sign.
fn number() -> impl Strategy<Value = f64> {
    (0.25..2.0, any::<bool>()).prop_map(|(m, negative): (f64, bool)| if negative { -m } else { m })
}

fn step() -> impl Strategy<Value = Step> {
    let binary_op = prop_oneof![Just(BinaryOp::Add), Just(BinaryOp::Sub), Just(BinaryOp::Mul), Just(BinaryOp::Div)];
    let unary_op = prop_oneof![
        Just(UnaryOp::Exp),
        Just(UnaryOp::Ln),
        Just(UnaryOp::Sqrt),
        (-2..=3i32).prop_map(UnaryOp::Powi),
        Just(UnaryOp::Sigmoid),
        Just(UnaryOp::Tanh),
        Just(UnaryOp::Softplus),
        Just(UnaryOp::Relu),
        Just(UnaryOp::Neg),
    ];
    let number_op = prop_oneof![
        Just(NumberOp::AddC),
        Just(NumberOp::SubC),
        Just(NumberOp::CSub),
        Just(NumberOp::MulC),
        Just(NumberOp::CMul),
        Just(NumberOp::DivC),
        Just(NumberOp::CDiv),
    ];
    prop_oneof![
        5 => (binary_op, pick(), second(), 0.25..1.0).prop_map(|(op, a, b, offset)| Step::Binary { op, a, b, offset }),
        4 => (unary_op, pick(), 0.25..1.0).prop_map(|(op, a, offset)| Step::Unary { op, a, offset }),
        2 => (number_op, pick(), number()).prop_map(|(op, a, c)| Step::Number { op, a, c }),
        1 => (any::<bool>(), pick()).prop_map(|(mean, a)| Step::Reduce { mean, a }),
    ]
}

/// The tensor leaves' shape: a vector or a small matrix, 1 to 9 elements.
fn leaf_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![(1..=4usize).prop_map(Shape::vector), (1..=3usize, 1..=3usize).prop_map(|(r, c)| Shape::matrix(r, c))]
}

fn tensor(shape: Shape, element: impl Strategy<Value = f64>) -> impl Strategy<Value = Tensor<f64>> {
    vec(element, shape.numel()).prop_map(move |data| Tensor::new(shape, data))
}

/// 2 to 5 leaves, each a tensor of the one shape or a rank-0 scalar, values in [-1.5, 1.5];
/// 1 to 50 steps; the last node and up to 3 more in the output, weights `|w|` in [0.25, 2].
fn graph() -> impl Strategy<Value = Graph> {
    (leaf_shape(), vec(any::<bool>(), 2..=5)).prop_flat_map(|(shape, scalar_leaf)| {
        let leaves: Vec<_> = scalar_leaf
            .iter()
            .map(|&scalar| tensor(if scalar { Shape::scalar() } else { shape }, -LEAF_BOUND..LEAF_BOUND))
            .collect();
        let term = move |node: BoxedStrategy<Pick>| {
            (node, number(), tensor(shape, number())).prop_map(|(node, scalar_weight, tensor_weights)| Term {
                node,
                scalar_weight,
                tensor_weights,
            })
        };
        let last = term(Just(Pick::Recent(0)).boxed());
        let others = vec(term(pick().boxed()), 0..=3);
        let hub = 0..scalar_leaf.len() + 8;
        (leaves, hub, vec(step(), 1..=MAX_STEPS), last, others).prop_map(|(leaves, hub, steps, last, others)| {
            let mut terms = vec![last];
            terms.extend(others);
            Graph { leaves, hub, steps, terms }
        })
    })
}

// ---------------------------------------------------------------------------------------
// Replay on a tape
// ---------------------------------------------------------------------------------------

/// The nodes of a replayed graph with a static bound on each one's |value|: a function of the
/// graph alone, never of the values, so the graph's structure (where it squashes, which form
/// of exp it takes) is the same at every point a central difference visits.
struct Replay<'t> {
    nodes: Vec<(Var<'t, f64>, f64)>,
    relu_inputs: Vec<Var<'t, f64>>,
    output: Var<'t, f64>,
}

fn resolve(pick: Pick, hub: usize, count: usize) -> usize {
    match pick {
        Pick::Recent(k) => count - 1 - k.min(count - 1),
        Pick::Hub => hub.min(count - 1),
        Pick::Any(u) => u % count,
    }
}

/// `softplus(v) + offset`, positive, with its bound.
fn positive<'t>(v: Var<'t, f64>, bound: f64, offset: f64) -> (Var<'t, f64>, f64) {
    (v.softplus() + offset, bound + std::f64::consts::LN_2 + offset)
}

// `d / d` is deliberate: a node divided by itself.
#[allow(clippy::eq_op)]
fn replay<'t>(tape: &'t Tape<f64>, leaves: &[Var<'t, f64>], graph: &Graph) -> Replay<'t> {
    let mut nodes: Vec<(Var<'t, f64>, f64)> = leaves.iter().map(|&v| (v, LEAF_BOUND)).collect();
    let mut relu_inputs = Vec::new();
    for step in &graph.steps {
        let count = nodes.len();
        let node = |p: Pick| nodes[resolve(p, graph.hub, count)];
        let (value, bound) = match *step {
            Step::Binary { op, a, b: second, offset } => {
                let (a, bound_a) = node(a);
                let (b, bound_b) = match second {
                    Second::Same => (a, bound_a),
                    Second::Other(p) => node(p),
                };
                match op {
                    BinaryOp::Add => (a + b, bound_a + bound_b),
                    BinaryOp::Sub => (a - b, bound_a + bound_b),
                    BinaryOp::Mul => (a * b, bound_a * bound_b),
                    BinaryOp::Div => {
                        let (d, _) = positive(b, bound_b, offset);
                        match second {
                            // d / d: the same node on both sides.
                            Second::Same => (d / d, 1.0),
                            Second::Other(_) => (a / d, bound_a / offset),
                        }
                    }
                }
            }
            Step::Unary { op, a, offset } => {
                let (a, bound) = node(a);
                match op {
                    UnaryOp::Exp if bound <= 2.0 => (a.exp(), bound.exp()),
                    UnaryOp::Exp => (a.tanh().exp(), std::f64::consts::E),
                    UnaryOp::Ln => {
                        let (p, bound_p) = positive(a, bound, offset);
                        (p.ln(), offset.ln().abs().max(bound_p.ln().abs()))
                    }
                    UnaryOp::Sqrt => {
                        let (p, bound_p) = positive(a, bound, offset);
                        (p.sqrt(), bound_p.sqrt())
                    }
                    UnaryOp::Powi(n) if n > 0 => (a.powi(n), bound.powi(n)),
                    UnaryOp::Powi(n) => {
                        let (p, bound_p) = positive(a, bound, offset);
                        (p.powi(n), offset.powi(n).max(bound_p.powi(n)))
                    }
                    UnaryOp::Sigmoid => (a.sigmoid(), 1.0),
                    UnaryOp::Tanh => (a.tanh(), 1.0),
                    UnaryOp::Softplus => (a.softplus(), bound + std::f64::consts::LN_2),
                    UnaryOp::Relu => {
                        relu_inputs.push(a);
                        (a.relu(), bound)
                    }
                    UnaryOp::Neg => (-a, bound),
                }
            }
            Step::Number { op, a, c } => {
                let (a, bound) = node(a);
                match op {
                    NumberOp::AddC => (a + c, bound + c.abs()),
                    NumberOp::SubC => (a - c, bound + c.abs()),
                    NumberOp::CSub => (c - a, bound + c.abs()),
                    NumberOp::MulC => (a * c, bound * c.abs()),
                    NumberOp::CMul => (c * a, bound * c.abs()),
                    NumberOp::DivC => (a / c, bound / c.abs()),
                    NumberOp::CDiv => (c / positive(a, bound, 0.5).0, c.abs() / 0.5),
                }
            }
            Step::Reduce { mean, a } => {
                let (a, bound) = node(a);
                if mean {
                    (a.mean(), bound)
                } else {
                    (a.sum(), bound * a.shape().numel() as f64)
                }
            }
        };
        let squashed = if bound > SQUASH_ABOVE { ((value / 4.0).tanh() * 4.0, 4.0) } else { (value, bound) };
        nodes.push(squashed);
    }
    let count = nodes.len();
    let mut output: Option<Var<'t, f64>> = None;
    for term in &graph.terms {
        let (v, _) = nodes[resolve(term.node, graph.hub, count)];
        let contribution = if v.shape().is_scalar() {
            v * term.scalar_weight
        } else {
            (v * tape.constant(&term.tensor_weights)).sum()
        };
        output = Some(match output {
            Some(total) => total + contribution,
            None => contribution,
        });
    }
    Replay { nodes, relu_inputs, output: output.expect("a graph has at least one output term") }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(GRAPH_CASES))]

    /// The tape's gradient with respect to every leaf of a random DAG agrees with central
    /// differences within the default f64 tolerance (`abs 1e-7 max(1, |f|) + rel 1e-6`).
    ///
    /// Why that tolerance holds: every operand is bounded by 8 in magnitude (statically;
    /// larger nodes are squashed by `4 tanh(v / 4)`), exp and the positive-ised ln, sqrt and
    /// negative powers see bounded arguments and denominators of at least 1/4, so the
    /// third derivatives stay moderate and the central difference's truncation error
    /// `h^2 f''' / 6` with `h ~ 6e-6` is ~1e-11 relative; its rounding error `eps |terms| / h`
    /// is ~4e-11 per unit of the terms, which are a few dozen at most. Both sit well below
    /// 1e-7 (the worst absolute error seen was ~1e-9), while a wrong rule or a lost fan-out
    /// contribution moves a gradient by order 1. relu inputs are kept 1e-2 from the kink (a
    /// step moves them by ~1e-5 or less); about 5% of the graphs are rejected for it.
    #[test]
    fn random_graph_gradients_match_central_differences(graph in graph()) {
        {
            let tape = Tape::<f64>::new();
            let leaves: Vec<_> = graph.leaves.iter().map(|t| tape.constant(t)).collect();
            let replay = replay(&tape, &leaves, &graph);
            for &(v, bound) in &replay.nodes {
                let values = v.values();
                prop_assert!(
                    values.iter().all(|x| x.is_finite() && x.abs() <= bound * (1.0 + 1e-12)),
                    "node {v:?} = {:?} breaks its static bound {bound}\ngraph: {graph:?}",
                    &*values
                );
            }
            let off_the_kink = replay.relu_inputs.iter().all(|z| z.values().iter().all(|&x| x == 0.0 || x.abs() >= RELU_MARGIN));
            prop_assume!(off_the_kink);
        }
        let report = check_gradients(|tape, v| replay(tape, v, &graph).output, &graph.leaves);
        prop_assert!(
            report.passes(Tolerance::default()),
            "tape gradient and central differences disagree\ngraph: {graph:?}\n{report}"
        );
    }
}

/// A leaf of random shape: a rank-0 scalar, a vector or a matrix.
fn leaf(element: impl Strategy<Value = f64> + Clone) -> impl Strategy<Value = Tensor<f64>> {
    prop_oneof![Just(Shape::scalar()), leaf_shape()].prop_flat_map(move |s| tensor(s, element.clone()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(FAN_OUT_CASES))]

    /// `x + x + ... + x` (k terms) has gradient exactly k: every use adds 1 into x's adjoint.
    #[test]
    fn k_fold_sum_of_one_leaf_has_gradient_k(x in leaf(-3.0..3.0), k in 1..=64usize) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&x);
        let total = (1..k).fold(v, |total, _| total + v);
        let grads = tape.backward(total.sum());
        let expected = vec![k as f64; x.len()];
        prop_assert_eq!(grads.wrt_slice(v), &expected[..], "x = {:?}, k = {}", x, k);
    }

    /// `u = tanh(x)` used k times as `c_i u` has gradient `(sum c_i) (1 - t^2)`: the adjoints
    /// of all k uses reach u before u's own rule runs (F3 for the last factor).
    #[test]
    fn intermediate_used_k_times_collects_every_adjoint(x in leaf(-3.0..3.0), c in vec(number(), 1..=32)) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&x);
        let u = v.tanh();
        let total = c.iter().skip(1).fold(u * c[0], |total, &ci| total + u * ci);
        let grads = tape.backward(total.sum());
        let (c_sum, c_abs): (f64, f64) = (c.iter().sum(), c.iter().map(|ci| ci.abs()).sum());
        for (i, (&got, &xi)) in grads.wrt_slice(v).iter().zip(x.data()).enumerate() {
            let want = c_sum * (1.0 - xi.tanh() * xi.tanh());
            // Adding k terms in another order rounds differently by at most ~k eps sum |c_i|.
            prop_assert!((got - want).abs() <= 1e-13 * c_abs, "element {i}: tape {got}, closed form {want}; x = {x:?}, c = {c:?}");
        }
    }

    /// `x * x` has gradient exactly `2x`: the product's rule adds `g b` into a's adjoint and
    /// `g a` into b's, and here both are x's (fan_out_sums_both_adjoints).
    #[test]
    fn fan_out_sums_both_adjoints(x in leaf(-3.0..3.0)) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&x);
        let grads = tape.backward((v * v).sum());
        let expected: Vec<f64> = x.data().iter().map(|xi| 2.0 * xi).collect();
        prop_assert_eq!(grads.wrt_slice(v), &expected[..], "x = {:?}", x);
    }

    /// `(x * x) * x` has gradient `3 x^2`: three adjoints of `x^2` each, summed.
    #[test]
    fn cube_by_repeated_product_has_gradient_three_x_squared(x in leaf(-3.0..3.0)) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&x);
        let grads = tape.backward((v * v * v).sum());
        for (i, (&got, &xi)) in grads.wrt_slice(v).iter().zip(x.data()).enumerate() {
            let want = 3.0 * xi * xi;
            prop_assert!((got - want).abs() <= 1e-15 * want, "element {i}: tape {got}, closed form {want}; x = {x:?}");
        }
    }

    /// `x - x` and `x / x` have gradient exactly 0: the two adjoints of each cancel exactly
    /// (`1 - 1`, and `1/x - (x/x)/x = 1/x - 1/x`).
    #[test]
    #[allow(clippy::eq_op)] // x - x and x / x are the point.
    fn self_difference_and_self_quotient_have_zero_gradient(x in leaf(prop_oneof![-3.0..-0.1, 0.1..3.0])) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&x);
        let grads = tape.backward((v - v).sum() + (v / v).sum());
        let zeros = vec![0.0; x.len()];
        prop_assert_eq!(grads.wrt_slice(v), &zeros[..], "x = {:?}", x);
    }

    /// A hub leaf feeding four different ops, `e^u + u u + tanh(u) + c u`, has gradient
    /// `e^u + 2u + (1 - tanh^2 u) + c`: one adjoint per path, summed.
    #[test]
    fn hub_feeding_different_ops_sums_one_adjoint_per_path(u in leaf(-3.0..3.0), c in number()) {
        let tape = Tape::<f64>::new();
        let v = tape.var(&u);
        let y = v.exp() + v * v + v.tanh() + c * v;
        let grads = tape.backward(y.sum());
        for (i, (&got, &ui)) in grads.wrt_slice(v).iter().zip(u.data()).enumerate() {
            let terms = [ui.exp(), 2.0 * ui, 1.0 - ui.tanh() * ui.tanh(), c];
            let want: f64 = terms.iter().sum();
            let scale: f64 = terms.iter().map(|t| t.abs()).sum();
            prop_assert!((got - want).abs() <= 1e-14 * scale, "element {i}: tape {got}, closed form {want}; u = {u:?}, c = {c}");
        }
    }
}
