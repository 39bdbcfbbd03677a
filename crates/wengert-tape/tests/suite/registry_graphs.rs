//! The tape's gradient of random computation graphs built from the whole op registry agrees
//! with central differences (G2). `registry.rs` checks each op alone and `random_graphs.rs`
//! composes a hand-picked few; here every step of a DAG applies an op drawn from all the ops
//! whose descriptor has a probe, so a new op joins these graphs by being registered.
//!
//! The nodes of a graph are scalars, so that any node can feed any op. A step draws an op and,
//! for each of its inputs (shapes from its probe for random sides `m, n` in 1..=4, and a random
//! broadcast pairing where it broadcasts), builds the tensor `X = into_domain(a W + L)`: `a`
//! an earlier node (leaning to recent ones and to one hub, so nodes fan out), `W` fixed
//! weights, `L` the trainable leaf of that shape (one per shape, shared by every input of that
//! shape), and `into_domain(z) = lo + (hi - lo) sigmoid(z)`, which keeps `X` inside the op's
//! domain. The step's node is `sum(op(X_1, ...) (.) C) + 0.5 mean(X_1) + ...`: the output
//! contracted with fixed weights, plus every input again, so that every rule's input fans out.
//! The graph's output sums a few nodes.
//!
//! Ops with kinks (abs, relu, clamp, ...) are valid only `margin` away from them: a graph whose
//! recorded inputs come closer is rejected, and so is one where a central difference's step
//! carries an input across a kink all the same (f32's step can, through a chain of steep ops).
//! Ops whose inputs must stay apart (maximum, minimum) get one input in the lower and the
//! other in the upper part of the domain, `2 margin` apart, in a random pattern element by
//! element, so they never tie and which input wins varies.
//!
//! f64 graphs are checked with f64's default tolerance. f32 graphs with f32's, where f32's
//! own central differences are accurate enough to judge (`inaccurate_differences`). A failure
//! is shrunk to a small graph and reported as text, a line per node, with the gradients.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::sync::LazyLock;
use std::time::Instant;
use wengert_tape::check::{check_gradients, GradCheck, Tolerance};
use wengert_tape::registry::{self, Check, Domain, Probe};
use wengert_tape::{Real, Shape, Tape, Tensor, Var};

/// Graphs checked in f64. A case records its graph of up to `MAX_STEPS` ops twice per leaf
/// element; at opt-level 1 a case takes about 2 ms, the run about a second.
const CASES: u32 = 512;
/// Graphs checked in f32 (about 4 ms each, with the f64 reference).
const F32_CASES: u32 = 128;
/// Most steps a graph has before shrinking.
const MAX_STEPS: usize = 24;
/// |leaf value| at most this.
const LEAF_BOUND: f64 = 1.5;

/// An op the graphs draw: its name and its probe.
#[derive(Clone, Copy)]
struct Drawable {
    name: &'static str,
    probe: Probe,
}

/// Every op of the registry that has a probe, in registry order.
static OPS: LazyLock<Vec<Drawable>> = LazyLock::new(|| {
    registry::all()
        .filter_map(|spec| match spec.check {
            Check::Probe(probe) => Some(Drawable { name: spec.name, probe }),
            Check::Exempt(_) => None,
        })
        .collect()
});

/// The most inputs any probe takes, for the operands a step draws.
fn max_inputs() -> usize {
    OPS.iter().map(|op| (op.probe.shapes)(1, 1).len()).max().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Graph descriptions: plain data, so that proptest can shrink them
// ---------------------------------------------------------------------------------------

/// Which existing node an operand is, resolved when the graph is replayed, so that any
/// sub-list of steps (what shrinking produces) is still a valid graph.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// The k-th most recent node (0 = the last one).
    Recent(usize),
    /// The hub node, reused all over the graph.
    Hub,
    /// Any node, uniformly.
    Any(usize),
}

#[derive(Clone, Debug)]
struct Step {
    /// Index into `OPS`.
    op: usize,
    /// The node `a` of each input, as many as the most inputs an op takes (an op with fewer
    /// uses the first ones).
    operands: Vec<Pick>,
    /// For a broadcasting op, which partner shape its second input takes
    /// (`broadcast_partners`), and whether the two swap sides.
    partner: usize,
    swap: bool,
    /// Seeds the step's fixed weights `W` and `C` and its lower/upper pattern.
    seed: u64,
}

#[derive(Clone)]
struct Graph {
    /// The sides every probe's shapes are built from.
    m: usize,
    n: usize,
    /// The rank-0 leaves, which are also the first nodes.
    scalars: Vec<f64>,
    /// Seeds the tensor leaves' values.
    seed: u64,
    /// The hub's node index (clamped to the nodes that exist when it is used).
    hub: usize,
    steps: Vec<Step>,
    /// The output is `sum w node` over these; the first is always the last node.
    terms: Vec<(Pick, f64)>,
}

impl Graph {
    /// The inputs' shapes of step `step`: the probe's, with its broadcast pairing.
    fn input_shapes(&self, step: &Step) -> Vec<Shape> {
        let probe = OPS[step.op].probe;
        let mut shapes = (probe.shapes)(self.m, self.n);
        if probe.broadcasts {
            let partners = broadcast_partners(shapes[0]);
            shapes[1] = partners[step.partner % partners.len()];
            if step.swap {
                shapes.swap(0, 1);
            }
        }
        shapes
    }

    /// The tensor leaves' shapes, in order of first use: one leaf per distinct shape.
    fn leaf_shapes(&self) -> Vec<Shape> {
        let mut shapes: Vec<Shape> = Vec::new();
        for shape in self.steps.iter().flat_map(|step| self.input_shapes(step)) {
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
        shapes
    }

    /// The inputs of `check_gradients`: the scalars, then a tensor leaf per shape.
    fn leaves<T: Real>(&self) -> Vec<Tensor<T>> {
        let scalars = self.scalars.iter().map(|&x| Tensor::scalar(T::lit(x)));
        let tensors = self.leaf_shapes().into_iter().enumerate().map(|(k, shape)| {
            Tensor::from_fn(shape, |i| T::lit(LEAF_BOUND * (2.0 * unit(self.seed ^ mix(k as u64), i) - 1.0)))
        });
        scalars.chain(tensors).collect()
    }

    /// The graph as text, a line per node, for failure reports: the leaves in the order of the
    /// report's inputs, then the nodes.
    fn describe(&self) -> String {
        let mut text = format!("m = {}, n = {}\n", self.m, self.n);
        let shapes = self.leaf_shapes();
        for (k, leaf) in self.leaves::<f64>().iter().enumerate() {
            let _ = match k.checked_sub(self.scalars.len()) {
                None => writeln!(text, "input {k}: n{k} = {}", leaf.data()[0]),
                Some(t) => writeln!(text, "input {k}: L{} = {:?}", shapes[t], leaf.data()),
            };
        }
        text.push_str(
            "X(a, L) = into_domain(a W + L); n = op[X_1, ...] is sum(op(X_1, ...) (.) C) + 0.5 mean(X_1) + ...\n",
        );
        let mut count = self.scalars.len();
        for step in &self.steps {
            let inputs: Vec<String> = self
                .input_shapes(step)
                .iter()
                .zip(&step.operands)
                .map(|(shape, &pick)| format!("X(n{}, L{shape})", resolve(pick, self.hub, count)))
                .collect();
            let _ = writeln!(text, "n{count} = {}[{}]", OPS[step.op].name, inputs.join(", "));
            count += 1;
        }
        let terms: Vec<String> =
            self.terms.iter().map(|&(pick, w)| format!("{w} n{}", resolve(pick, self.hub, count))).collect();
        let _ = write!(text, "output = {}", terms.join(" + "));
        text
    }
}

/// The graph as text, then its data on one line (what proptest prints for a failing case).
impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Graph { m, n, scalars, seed, hub, steps, terms } = self;
        writeln!(f, "{}", self.describe())?;
        write!(f, "data: m {m}, n {n}, scalars {scalars:?}, seed {seed}, hub {hub}, steps {steps:?}, terms {terms:?}")
    }
}

/// The shapes a broadcasting op's second input takes against `[r x c]`: a scalar, a row as
/// `[c]` and as `[1 x c]`, a column `[r x 1]`, and `[r x c]`.
fn broadcast_partners(full: Shape) -> Vec<Shape> {
    let (r, c) = (full.rows(), full.cols());
    vec![Shape::scalar(), Shape::vector(c), Shape::matrix(1, c), Shape::matrix(r, 1), Shape::matrix(r, c)]
}

/// The row-major index of the element of `shape` that broadcasts to `(row, col)`.
fn broadcast_index(shape: Shape, row: usize, col: usize) -> usize {
    match shape.dims()[..] {
        [] | [1, 1] => 0,
        [_] | [1, _] => col,
        [_, 1] => row,
        [_, cols] => row * cols + col,
        _ => unreachable!("shapes have rank 2 at most"),
    }
}

fn resolve(pick: Pick, hub: usize, count: usize) -> usize {
    match pick {
        Pick::Recent(k) => count - 1 - k.min(count - 1),
        Pick::Hub => hub.min(count - 1),
        Pick::Any(u) => u % count,
    }
}

/// A 64-bit mix of `x` (splitmix64's finaliser).
fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A number in `[0, 1)` for element `i` of what `seed` seeds.
fn unit(seed: u64, i: usize) -> f64 {
    (mix(seed ^ mix(i as u64 + 1)) >> 11) as f64 / (1u64 << 53) as f64
}

/// Fixed weights of `shape` with `|w|` in `lo..hi` and mixed signs.
fn weights<T: Real>(shape: Shape, seed: u64, lo: f64, hi: f64) -> Tensor<T> {
    Tensor::from_fn(shape, |i| {
        let magnitude = lo + (hi - lo) * unit(seed, i);
        T::lit(if mix(seed ^ i as u64) & 1 == 0 { magnitude } else { -magnitude })
    })
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

fn step() -> impl Strategy<Value = Step> {
    (0..OPS.len(), vec(pick(), max_inputs()), 0..5usize, any::<bool>(), any::<u64>())
        .prop_map(|(op, operands, partner, swap, seed)| Step { op, operands, partner, swap, seed })
}

/// `|w|` in `0.25..2` with a random sign.
fn number() -> impl Strategy<Value = f64> {
    (0.25..2.0, any::<bool>()).prop_map(|(m, negative): (f64, bool)| if negative { -m } else { m })
}

/// Sides 1 to 4, 2 or 3 scalar leaves, 1 to `MAX_STEPS` steps, the last node and up to 3 more
/// in the output.
fn graph() -> impl Strategy<Value = Graph> {
    let scalars = vec(-LEAF_BOUND..LEAF_BOUND, 2..=3);
    let terms = ((Just(Pick::Recent(0)), number()), vec((pick(), number()), 0..=3));
    (1..=4usize, 1..=4usize, scalars, any::<u64>(), 0..8usize, vec(step(), 1..=MAX_STEPS), terms).prop_map(
        |(m, n, scalars, seed, hub, steps, (last, others))| {
            let mut terms = vec![last];
            terms.extend(others);
            Graph { m, n, scalars, seed, hub, steps, terms }
        },
    )
}

// ---------------------------------------------------------------------------------------
// Replay on a tape
// ---------------------------------------------------------------------------------------

/// An element type with its probe function: `apply_f64` or `apply_f32`.
trait Precision: Real {
    /// True if the format's own central differences are judged against f64's before they
    /// judge the tape (see `inaccurate_differences`).
    const NEEDS_REFERENCE: bool;
    fn apply(probe: &Probe) -> for<'t> fn(&[Var<'t, Self>]) -> Var<'t, Self>;
}

impl Precision for f64 {
    const NEEDS_REFERENCE: bool = false;
    fn apply(probe: &Probe) -> for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64> {
        probe.apply_f64
    }
}

impl Precision for f32 {
    const NEEDS_REFERENCE: bool = true;
    fn apply(probe: &Probe) -> for<'t> fn(&[Var<'t, f32>]) -> Var<'t, f32> {
        probe.apply_f32
    }
}

/// The inputs one op saw, kept to check them against its domain.
struct Applied<'t, T: Real> {
    step: usize,
    op: Drawable,
    inputs: Vec<Var<'t, T>>,
    /// True if the tape holds more nodes named after the op after the step than before it
    /// (counted only when asked: the count walks the whole tape).
    recorded: bool,
}

/// A graph recorded on a tape: its output and what each op saw.
struct Replay<'t, T: Real> {
    output: Var<'t, T>,
    applied: Vec<Applied<'t, T>>,
}

/// `lo + (hi - lo) sigmoid(z)` of `domain`, or, for the inputs of an op with ties, the lower
/// part `lo..mid - margin` where `upper` is false and the upper part `mid + margin..hi` where
/// it is true.
fn into_domain<'t, T: Real>(z: Var<'t, T>, domain: &Domain, upper: Option<Vec<bool>>) -> Var<'t, T> {
    let s = z.sigmoid();
    match upper {
        None => s * T::lit(domain.hi - domain.lo) + T::lit(domain.lo),
        Some(upper) => {
            let mid = 0.5 * (domain.lo + domain.hi);
            let width = mid - domain.margin - domain.lo;
            let base = Tensor::from_fn(z.shape(), |i| T::lit(if upper[i] { mid + domain.margin } else { domain.lo }));
            s * T::lit(width) + z.tape().constant(&base)
        }
    }
}

/// For a two-input op whose inputs must stay apart: which elements of each input lie in the
/// upper part of the domain. The smaller input (the second, if both are full) gets a random
/// pattern; the other the opposite at every position of the broadcast, so that the two differ
/// by at least `2 margin` everywhere.
fn upper_patterns(shapes: &[Shape], seed: u64) -> [Vec<bool>; 2] {
    let small = usize::from(shapes[1].numel() <= shapes[0].numel());
    let full = 1 - small;
    let small_upper: Vec<bool> = (0..shapes[small].numel()).map(|i| mix(seed ^ mix(i as u64)) & 2 == 0).collect();
    let cols = shapes[full].cols();
    let full_upper =
        (0..shapes[full].numel()).map(|i| !small_upper[broadcast_index(shapes[small], i / cols, i % cols)]).collect();
    if small == 1 {
        [full_upper, small_upper]
    } else {
        [small_upper, full_upper]
    }
}

/// Records `graph` on `tape` over `leaves` (its scalars, then a tensor per shape of
/// `leaf_shapes`); with `count_ops`, also notes whether each step recorded its op.
fn replay<'t, T: Precision>(tape: &'t Tape<T>, leaves: &[Var<'t, T>], graph: &Graph, count_ops: bool) -> Replay<'t, T> {
    let leaf_shapes = graph.leaf_shapes();
    let (scalars, tensors) = leaves.split_at(graph.scalars.len());
    let mut nodes: Vec<Var<'t, T>> = scalars.to_vec();
    let mut applied = Vec::with_capacity(graph.steps.len());
    for (index, step) in graph.steps.iter().enumerate() {
        let op = OPS[step.op];
        let domain = op.probe.domain;
        let shapes = graph.input_shapes(step);
        let mut upper: Vec<Option<Vec<bool>>> = vec![None; shapes.len()];
        if domain.apart && shapes.len() == 2 {
            let [a, b] = upper_patterns(&shapes, step.seed);
            upper = vec![Some(a), Some(b)];
        }
        let inputs: Vec<Var<'t, T>> = shapes
            .iter()
            .zip(&step.operands)
            .zip(upper)
            .enumerate()
            .map(|(k, ((&shape, &pick), upper))| {
                let a = nodes[resolve(pick, graph.hub, nodes.len())];
                let w = tape.constant(&weights(shape, step.seed ^ mix(k as u64), 0.25, 1.0));
                let leaf = tensors[leaf_shapes.iter().position(|&s| s == shape).expect("every input shape has a leaf")];
                into_domain(a * w + leaf, &domain, upper)
            })
            .collect();
        let before = if count_ops { tape.stats().count(op.name) } else { 0 };
        let out = T::apply(&op.probe)(&inputs);
        let recorded = count_ops && tape.stats().count(op.name) > before;
        // Weights `(0.5..2) / size`, so that a node is about as large as the op's values.
        let size = out.shape().numel() as f64;
        let c = tape.constant(&weights(out.shape(), mix(step.seed), 0.5 / size, 2.0 / size));
        let contracted = (out * c).sum();
        // Every input also feeds the node through a term recorded after the op: the sweep
        // reaches that term first, so a rule that sets its input's adjoint instead of adding
        // into it loses the term's share.
        let node = inputs.iter().fold(contracted, |node, &x| node + x.mean() * T::lit(0.5));
        nodes.push(node);
        applied.push(Applied { step: index, op, inputs, recorded });
    }
    let count = nodes.len();
    let output = graph
        .terms
        .iter()
        .map(|&(pick, w)| nodes[resolve(pick, graph.hub, count)] * T::lit(w))
        .reduce(|total, term| total + term)
        .expect("a graph has at least one output term");
    Replay { output, applied }
}

// ---------------------------------------------------------------------------------------
// Checks of a replayed graph
// ---------------------------------------------------------------------------------------

/// The inputs' values of an applied op, as f64 tensors.
fn input_values<T: Real>(applied: &Applied<'_, T>) -> Vec<Tensor<f64>> {
    applied.inputs.iter().map(|x| x.to_tensor().cast()).collect()
}

/// Why an input lies outside the op's `lo..hi` (beyond the rounding of `into_domain`).
fn outside_domain(applied: &Applied<'_, impl Real>) -> Option<String> {
    let domain = applied.op.probe.domain;
    let slack = 1e-6 * (domain.hi - domain.lo);
    for (k, x) in input_values(applied).iter().enumerate() {
        if let Some((i, v)) =
            x.data().iter().enumerate().find(|&(_, &v)| v < domain.lo - slack || v > domain.hi + slack)
        {
            return Some(format!(
                "step {}: {} input {k} element {i} = {v} is outside {}..{}",
                applied.step, applied.op.name, domain.lo, domain.hi
            ));
        }
    }
    None
}

/// The signed distances a central difference must not carry across 0: every input element
/// of an op with kinks minus each kink, and, for an op with ties, one input minus the other
/// at every position of their broadcast. Their signs say which smooth piece of the graph a
/// point lies on.
fn guarded_distances(applied: &Applied<'_, impl Real>) -> Vec<f64> {
    let domain = applied.op.probe.domain;
    if domain.kinks.is_empty() && !domain.apart {
        return Vec::new();
    }
    let values = input_values(applied);
    let mut distances: Vec<f64> =
        values.iter().flat_map(|x| x.data().iter().flat_map(|&v| domain.kinks.iter().map(move |&k| v - k))).collect();
    if let ([a, b], true) = (&values[..], domain.apart) {
        let full = if a.len() >= b.len() { a.shape() } else { b.shape() };
        for (row, col) in (0..full.rows()).flat_map(|row| (0..full.cols()).map(move |col| (row, col))) {
            distances
                .push(a.data()[broadcast_index(a.shape(), row, col)] - b.data()[broadcast_index(b.shape(), row, col)]);
        }
    }
    distances
}

/// Why central differences cannot be trusted at the recorded point: an input within `margin`
/// of a kink of its op, or two inputs of an op with ties within `margin` of each other.
fn too_close(applied: &Applied<'_, impl Real>) -> Option<String> {
    let margin = applied.op.probe.domain.margin;
    let closest = guarded_distances(applied).into_iter().min_by(|a, b| a.abs().total_cmp(&b.abs()))?;
    (closest.abs() < margin).then(|| {
        format!(
            "step {}: an input of {} is {closest:e} from a kink or from its other input (margin {margin})",
            applied.step, applied.op.name
        )
    })
}

/// The signs of every guarded distance of a replay: its smooth piece.
fn piece(applied: &[Applied<'_, impl Real>]) -> Vec<bool> {
    applied.iter().flat_map(guarded_distances).map(|d| d > 0.0).collect()
}

/// What a run of the property saw: the steps of each op in graphs that passed, and how many
/// graphs were rejected, and why.
#[derive(Default)]
struct Tally {
    checked: BTreeMap<&'static str, usize>,
    cases: usize,
    rejected: usize,
    crossed: usize,
    /// f32 graphs whose own central differences were too far from f64's to judge the tape.
    inaccurate: usize,
    /// The largest `|analytic - numeric|` seen, as a fraction of what the tolerance allows.
    worst: f64,
}

/// The largest `|analytic - numeric|` of a report as a fraction of what `tolerance` allows.
fn tolerance_used<T: Real>(report: &GradCheck<T>, tolerance: Tolerance<T>) -> f64 {
    let used = |(&a, &n): (&T, &T)| {
        let allowed = tolerance.abs * report.value.abs().max(T::one()) + tolerance.rel * a.abs().max(n.abs());
        ((a - n).abs() / allowed).to_f64().unwrap_or(f64::INFINITY)
    };
    report
        .analytic
        .iter()
        .zip(&report.numeric)
        .flat_map(|(a, n)| a.data().iter().zip(n.data()).map(used))
        .fold(0.0, f64::max)
}

/// Why the central differences of `report` (in f32) cannot judge the tape: some element is
/// farther than half the tolerance from the f64 central difference of the same graph.
///
/// f32's step, `5e-3 max(1, |x|)`, leaves a truncation error `h^2 f''' / 6` that a chain of
/// steep ops (tan near its pole, `2 / x` near 0.2) can grow, and its rounding error
/// `eps |terms| / h` grows with values that cancel (max_axis's probe adds multiples of 10).
/// In one or two graphs in 10,000 that alone comes near the whole tolerance. Where f32's numbers
/// are within half the tolerance of f64's (whose error is a few thousandths of f64's
/// tolerance), a gradient that fails the check is the tape's fault. The tape's gradient is not
/// looked at here, so a wrong rule cannot get its case rejected.
fn inaccurate_differences<T: Real>(graph: &Graph, report: &GradCheck<T>) -> Option<String> {
    let reference = check_gradients(|tape, v| replay::<f64>(tape, v, graph, false).output, &graph.leaves::<f64>());
    let tolerance = Tolerance::<T>::default();
    let half = Tolerance { abs: tolerance.abs / T::lit(2.0), rel: tolerance.rel / T::lit(2.0) };
    let pairs =
        report.numeric.iter().zip(&reference.numeric).flat_map(|(own, exact)| own.data().iter().zip(exact.data()));
    pairs
        .map(|(&own, &exact)| (own, T::lit(exact)))
        .find(|&(own, exact)| !half.accepts(own, exact, report.value))
        .map(|(own, exact)| format!("{}'s central difference {own:e} is far from f64's {exact:e}", T::NAME))
}

/// One case: the graph recorded once to check that every step records its op and that every
/// op's inputs lie in its domain (rejected if they come within `margin` of a kink or a tie),
/// then the tape's gradient against central differences with the default tolerance (rejected
/// if a moved input carries some op's input across a kink or a tie after all, which f32's
/// larger step can do through a chain of steep ops, or if f32's own central differences are
/// inaccurate).
fn gradients_agree<T: Precision>(graph: &Graph, tally: &RefCell<Tally>) -> Result<(), TestCaseError> {
    let leaves = graph.leaves::<T>();
    let recorded_piece = {
        let tape = Tape::<T>::new();
        let vars: Vec<Var<'_, T>> = leaves.iter().map(|leaf| tape.constant(leaf)).collect();
        let applied = replay(&tape, &vars, graph, true).applied;
        for applied in &applied {
            let name = applied.op.name;
            prop_assert!(applied.recorded, "step {}: the probe of {name} records no {name} node", applied.step);
            if let Some(why) = outside_domain(applied) {
                return Err(TestCaseError::fail(why));
            }
            if let Some(why) = too_close(applied) {
                tally.borrow_mut().rejected += 1;
                return Err(TestCaseError::reject(why));
            }
        }
        piece(&applied)
    };
    let crossed = Cell::new(false);
    let report = check_gradients(
        |tape, v| {
            let replay = replay(tape, v, graph, false);
            if piece(&replay.applied) != recorded_piece {
                crossed.set(true);
            }
            replay.output
        },
        &leaves,
    );
    if crossed.get() {
        tally.borrow_mut().crossed += 1;
        return Err(TestCaseError::reject("a central difference crossed a kink or a tie"));
    }
    if T::NEEDS_REFERENCE
        && let Some(why) = inaccurate_differences(graph, &report)
    {
        tally.borrow_mut().inaccurate += 1;
        return Err(TestCaseError::reject(why));
    }
    prop_assert!(
        report.passes(Tolerance::default()),
        "{} graph: tape gradient and central differences disagree\n{report}",
        T::NAME
    );
    let mut tally = tally.borrow_mut();
    tally.cases += 1;
    tally.worst = tally.worst.max(tolerance_used(&report, Tolerance::default()));
    for step in &graph.steps {
        *tally.checked.entry(OPS[step.op].name).or_default() += 1;
    }
    Ok(())
}

/// Runs `cases` graphs in `T`; panics with the shrunk failing graph and its gradient report,
/// or if some op was in no checked graph, or if more than a tenth of the graphs were rejected.
fn check_random_graphs<T: Precision>(cases: u32) {
    let mut runner =
        TestRunner::new(Config { cases, max_global_rejects: cases, failure_persistence: None, ..Config::default() });
    let tally = RefCell::new(Tally::default());
    let start = Instant::now();
    if let Err(failure) = runner.run(&graph(), |graph| gradients_agree::<T>(&graph, &tally)) {
        panic!("{failure}");
    }
    let Tally { checked, cases, rejected, crossed, inaccurate, worst } = tally.into_inner();
    // Shown with `--nocapture`.
    eprintln!(
        "{}: {cases} graphs ({} steps) checked in {:.2?}, at most {:.1}% of the tolerance used; \
         rejected: {rejected} near a kink or tie, {crossed} crossing one, {inaccurate} for inaccurate differences",
        T::NAME,
        checked.values().sum::<usize>(),
        start.elapsed(),
        100.0 * worst,
    );
    let missing: Vec<&str> = OPS.iter().map(|op| op.name).filter(|name| !checked.contains_key(name)).collect();
    assert!(missing.is_empty(), "{}: ops in no checked graph: {missing:?}", T::NAME);
    let rejected = rejected + crossed + inaccurate;
    assert!(rejected * 10 <= cases, "{}: {rejected} graphs rejected, {cases} checked", T::NAME);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// The tape's gradient of random DAGs over every probed op agrees with central differences
/// within the default f64 tolerance (`abs 1e-7 max(1, |f|) + rel 1e-6`); every op is in some
/// checked graph, and few graphs are rejected.
///
/// Why that tolerance holds: every op sees inputs inside the domain on which `registry.rs`
/// checks it alone, reached through a sigmoid (slope at most `(hi - lo) / 4`), and a node is
/// about as large as its op's values (weights `~1/size`), so values and derivatives stay
/// moderate along any chain; the largest error seen is a few percent of the tolerance, while a
/// wrong rule or a lost contribution moves a gradient by order 1.
#[test]
fn random_registry_graph_gradients_match_central_differences() {
    check_random_graphs::<f64>(CASES);
}

/// The same in f32, within its default tolerance (`abs 1e-3 max(1, |f|) + rel 1e-2`).
#[test]
fn random_registry_graph_gradients_match_central_differences_in_f32() {
    check_random_graphs::<f32>(F32_CASES);
}

/// The generator's ops are exactly the registry's probed ops, and its steps reach every one.
#[test]
fn graphs_draw_from_every_probed_op_of_the_registry() {
    let probed: BTreeSet<&str> =
        registry::all().filter(|spec| matches!(spec.check, Check::Probe(_))).map(|spec| spec.name).collect();
    let drawable: BTreeSet<&str> = OPS.iter().map(|op| op.name).collect();
    assert_eq!(drawable, probed);
    assert_eq!(OPS.len(), probed.len(), "an op is drawable twice");
    assert!(probed.len() >= 60, "only {} probed ops", probed.len());

    let mut runner = TestRunner::deterministic();
    let mut drawn = BTreeSet::new();
    for _ in 0..200 {
        let graph = graph().new_tree(&mut runner).expect("graphs are always generated").current();
        drawn.extend(graph.steps.iter().map(|step| OPS[step.op].name));
    }
    assert_eq!(drawn, probed);
}

/// Two inputs that must stay apart get complementary lower/upper patterns at every position
/// of their broadcast, for every pairing the graphs draw.
#[test]
fn apart_patterns_are_complementary_under_every_broadcast() {
    for (m, n) in [(1, 1), (1, 4), (3, 1), (2, 3), (4, 4)] {
        let full = Shape::matrix(m, n);
        for partner in broadcast_partners(full) {
            for shapes in [[full, partner], [partner, full]] {
                let [a, b] = upper_patterns(&shapes, 7);
                for (row, col) in (0..m).flat_map(|row| (0..n).map(move |col| (row, col))) {
                    let (x, y) = (a[broadcast_index(shapes[0], row, col)], b[broadcast_index(shapes[1], row, col)]);
                    assert_ne!(x, y, "{shapes:?} at ({row}, {col})");
                }
            }
        }
    }
}
